//! linux.seccomp: the real default profile podman uses, targeted profiles
//! (errno, argument filters, kill), the load order relative to the
//! capability drop, exec, SCMP_ACT_NOTIFY with a listener that answers, and
//! bad profiles. Syscalls are probed from inside the container with
//! `runtimetest --syscall`.

use husk_integration::*;
use serde_json::{json, Value};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;

const CONTAINERS_PROFILE: &str = "/usr/share/containers/seccomp.json";

/// A profile allowing everything but `rules`.
fn allow_but(rules: Value) -> Value {
    json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules})
}

/// Parses runtimetest's `ret=R errno=E`.
fn parse_probe(out: &str) -> (i64, i32) {
    let line = out
        .lines()
        .find(|l| l.starts_with("ret="))
        .unwrap_or_else(|| {
            panic!("no probe result in {out:?}");
        });
    let mut it = line.split_whitespace();
    let ret = it.next().unwrap()["ret=".len()..].parse().unwrap();
    let errno = it.next().unwrap()["errno=".len()..].parse().unwrap();
    (ret, errno)
}

/// Runs the container as `runtimetest --syscall CALL...` and returns what
/// the call gave; None (skip) when runtimetest is not built.
#[track_caller]
fn probe(b: &mut Bundle, call: &[&str]) -> Option<(i64, i32)> {
    if !b.use_runtimetest() {
        return None;
    }
    let mut args = vec!["/bin/runtimetest", "--syscall"];
    args.extend_from_slice(call);
    b.set_args(&args);
    Some(parse_probe(&b.run_ok()))
}

/// The native architecture: seccomp's name, and Go's (which the profile's
/// includes.arches use).
fn native_arch() -> (&'static str, &'static str) {
    match std::env::consts::ARCH {
        "x86_64" => ("SCMP_ARCH_X86_64", "amd64"),
        "aarch64" => ("SCMP_ARCH_AARCH64", "arm64"),
        other => panic!("no seccomp arch name for {other}"),
    }
}

/// containers-common's profile (Docker's format) as podman turns it into
/// linux.seccomp for a container with capabilities `caps`: the native
/// architecture with its sub-architectures, and each rule kept or dropped
/// by its includes/excludes.
fn containers_default_profile(caps: &[String]) -> Option<Value> {
    let text = std::fs::read_to_string(CONTAINERS_PROFILE).ok()?;
    let p: Value = serde_json::from_str(&text).expect("containers-common profile parses");
    let (arch, go_arch) = native_arch();
    let mut arches = vec![json!(arch)];
    for m in p["archMap"].as_array().into_iter().flatten() {
        if m["architecture"] == arch {
            arches.extend(
                m["subArchitectures"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
            );
        }
    }
    let has = |list: &Value, f: &dyn Fn(&str) -> bool| {
        list.as_array()
            .is_some_and(|l| l.iter().any(|v| v.as_str().is_some_and(f)))
    };
    let all_caps = |list: &Value| {
        list.as_array().is_none_or(|l| {
            l.iter()
                .all(|c| caps.iter().any(|have| Some(have.as_str()) == c.as_str()))
        })
    };
    let mut rules = Vec::new();
    for s in p["syscalls"].as_array().expect("syscalls") {
        let inc = &s["includes"];
        let exc = &s["excludes"];
        if inc["arches"].as_array().is_some_and(|a| !a.is_empty())
            && !has(&inc["arches"], &|a| a == go_arch)
        {
            continue;
        }
        if !all_caps(&inc["caps"]) {
            continue;
        }
        if has(&exc["caps"], &|c| caps.iter().any(|have| have == c)) {
            continue;
        }
        let mut r = json!({"names": s["names"], "action": s["action"]});
        for k in ["args", "errnoRet"] {
            if !s[k].is_null() {
                r[k] = s[k].clone();
            }
        }
        rules.push(r);
    }
    Some(json!({
        "defaultAction": p["defaultAction"],
        "defaultErrnoRet": p["defaultErrnoRet"],
        "architectures": arches,
        "syscalls": rules,
    }))
}

fn bounding_caps(b: &Bundle) -> Vec<String> {
    b.config()["process"]["capabilities"]["bounding"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|c| c.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn containers_common_default_profile() {
    let mut b = Bundle::new("seccomp-default", &["true"]);
    let Some(profile) = containers_default_profile(&bounding_caps(&b)) else {
        eprintln!("SKIP: {CONTAINERS_PROFILE} not installed (apt-get install golang-github-containers-common)");
        return;
    };
    b.config_mut()["linux"]["seccomp"] = profile;
    // The whole config applies under the filter, and the filter is there.
    check_with_runtimetest(&mut b);
    // personality is allowed for five values only (an argument filter of
    // the real profile); anything else gets the default ENOSYS.
    if let Some((ret, errno)) = probe(&mut b, &["personality", "0xffffffff"]) {
        assert_eq!((ret >= 0, errno), (true, 0), "personality(0xffffffff)");
        let (_, errno) = probe(&mut b, &["personality", "0x1234"]).unwrap();
        assert_eq!(
            errno,
            libc::ENOSYS,
            "personality(0x1234): the default action"
        );
    }
    assert_no_leftovers(&b, b.id());
}

#[test]
fn errno_action_returns_errno_ret_and_other_calls_work() {
    let mut b = Bundle::new("seccomp-errno", &["true"]);
    b.config_mut()["linux"]["seccomp"] = allow_but(json!([
        {"names": ["getpgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42},
        {"names": ["getpriority"], "action": "SCMP_ACT_ERRNO"},
    ]));
    if let Some(r) = probe(&mut b, &["getpgid", "0"]) {
        assert_eq!(r, (-1, 42), "getpgid denied with errnoRet");
        // No errnoRet: EPERM, as runc.
        assert_eq!(
            probe(&mut b, &["getpriority", "0", "0"]).unwrap(),
            (-1, libc::EPERM)
        );
        let (ret, errno) = probe(&mut b, &["umask", "022"]).unwrap();
        assert_eq!((ret >= 0, errno), (true, 0), "umask is allowed");
    }
    assert_no_leftovers(&b, b.id());
}

#[test]
fn argument_filter_matches_only_its_values() {
    let mut b = Bundle::new("seccomp-args", &["true"]);
    b.config_mut()["linux"]["seccomp"] = allow_but(json!([
        {"names": ["getpgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 43,
         "args": [{"index": 0, "value": 4242, "op": "SCMP_CMP_EQ"}]},
        {"names": ["getpriority"], "action": "SCMP_ACT_ERRNO", "errnoRet": 44,
         "args": [{"index": 1, "value": 65280, "valueTwo": 4608, "op": "SCMP_CMP_MASKED_EQ"}]},
    ]));
    if let Some(r) = probe(&mut b, &["getpgid", "4242"]) {
        assert_eq!(r, (-1, 43), "getpgid(4242) matches");
        assert_eq!(
            probe(&mut b, &["getpgid", "0"]).unwrap().1,
            0,
            "getpgid(0) does not"
        );
        assert_eq!(
            probe(&mut b, &["getpriority", "0", "0x1234"]).unwrap(),
            (-1, 44),
            "0x1234 & 0xff00 == 0x1200"
        );
        assert_ne!(probe(&mut b, &["getpriority", "0", "0"]).unwrap().1, 44);
    }
    assert_no_leftovers(&b, b.id());
}

#[test]
fn kill_process_action_kills_the_process() {
    let mut b = Bundle::new("seccomp-kill", &["true"]);
    b.config_mut()["linux"]["seccomp"] = allow_but(json!([
        {"names": ["getpgid"], "action": "SCMP_ACT_KILL_PROCESS"},
    ]));
    if !b.use_runtimetest() {
        return;
    }
    b.set_args(&["/bin/runtimetest", "--syscall", "getpgid", "0"]);
    let out = b.run(&[]);
    assert_eq!(out.code(), Some(128 + libc::SIGSYS), "{}", out.describe());
    assert!(!out.stdout.contains("ret="), "the call must not return");
    b.runtime().assert_gone(b.id());
    assert_no_leftovers(&b, b.id());
}

/// Without noNewPrivileges loading needs CAP_SYS_ADMIN, so the filter must
/// go in before the capabilities are dropped; with it, after.
#[test]
fn loads_for_an_unprivileged_user_with_and_without_no_new_privileges() {
    for nnp in [false, true] {
        let mut b = Bundle::new("seccomp-user", &["true"]);
        b.config_mut()["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        b.config_mut()["process"]["capabilities"] = json!({});
        b.config_mut()["process"]["noNewPrivileges"] = json!(nnp);
        b.config_mut()["linux"]["seccomp"] = allow_but(json!([
            {"names": ["getpgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42},
        ]));
        if let Some(r) = probe(&mut b, &["getpgid", "0"]) {
            assert_eq!(r, (-1, 42), "noNewPrivileges={nnp}");
        }
        check_with_runtimetest(&mut b);
        assert_no_leftovers(&b, b.id());
    }
}

#[test]
fn exec_gets_the_containers_filter() {
    let mut b = Bundle::new("seccomp-exec", &["sleep", "100"]);
    b.config_mut()["linux"]["seccomp"] = allow_but(json!([
        {"names": ["getpgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42},
    ]));
    if !b.use_runtimetest() {
        return;
    }
    b.set_args(&["sleep", "100"]);
    b.create_and_start();
    let out = b.runtime().exec(&[
        "exec",
        b.id(),
        "/bin/runtimetest",
        "--syscall",
        "getpgid",
        "0",
    ]);
    out.ok();
    assert_eq!(parse_probe(&out.stdout), (-1, 42));
    let out = b
        .runtime()
        .exec(&["exec", b.id(), "grep", "Seccomp:", "/proc/self/status"]);
    out.ok();
    assert_eq!(squash_ws(&out.stdout), "Seccomp: 2");
    b.stop_and_delete();
    assert_no_leftovers(&b, b.id());
}

#[test]
fn unknown_syscall_names_are_skipped() {
    let mut b = Bundle::new("seccomp-unknown", &["true"]);
    b.config_mut()["linux"]["seccomp"] = allow_but(json!([
        {"names": ["husk_no_such_syscall", "getpgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42},
    ]));
    if let Some(r) = probe(&mut b, &["getpgid", "0"]) {
        assert_eq!(r, (-1, 42), "the known name still applies");
    }
    if !is_runc() {
        // runc logs this at debug level; husk says it once.
        let out = b.run(&[]);
        out.ok().stderr_mentions_any(&["husk_no_such_syscall"]);
    }
    assert_no_leftovers(&b, b.id());
}

#[test]
fn bad_profiles_fail_with_the_field_and_leave_nothing() {
    let cases = [
        (json!({"defaultAction": "SCMP_ACT_BOGUS"}), "SCMP_ACT_BOGUS"),
        (
            allow_but(json!([{"names": ["getpgid"], "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ALMOST"}]}])),
            "SCMP_CMP_ALMOST",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"]}),
            "SCMP_ARCH_Z80",
        ),
        (
            allow_but(json!([{"names": ["getpgid"], "action": "SCMP_ACT_NOTIFY"}])),
            "listenerPath",
        ),
    ];
    for (profile, mention) in cases {
        let mut b = Bundle::new("seccomp-bad", &["true"]);
        b.config_mut()["linux"]["seccomp"] = profile;
        let out = b.create();
        out.failed_with_one_line();
        if !is_runc() {
            out.stderr_mentions_any(&["linux.seccomp"]);
        }
        out.stderr_mentions_any(&[mention, "listener", "notify"]);
        b.runtime().assert_gone(b.id());
        assert_no_leftovers(&b, b.id());
    }
}

// --- SCMP_ACT_NOTIFY ------------------------------------------------------

#[repr(C)]
#[derive(Default)]
struct SeccompData {
    nr: i32,
    arch: u32,
    ip: u64,
    args: [u64; 6],
}

#[repr(C)]
#[derive(Default)]
struct SeccompNotif {
    id: u64,
    pid: u32,
    flags: u32,
    data: SeccompData,
}

#[repr(C)]
#[derive(Default)]
struct SeccompNotifResp {
    id: u64,
    val: i64,
    error: i32,
    flags: u32,
}

// _IOWR('!', 0, struct seccomp_notif) and _IOWR('!', 1, struct seccomp_notif_resp).
const NOTIF_RECV: libc::c_ulong = 0xc050_2100;
const NOTIF_SEND: libc::c_ulong = 0xc018_2101;

#[test]
fn notify_hands_the_listener_to_an_agent_that_answers() {
    let mut b = Bundle::new("seccomp-notify", &["true"]);
    if !b.use_runtimetest() {
        return;
    }
    let sock = b.host_dir().join("agent.sock");
    let _ = std::fs::remove_file(&sock);
    b.config_mut()["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": sock,
        "listenerMetadata": "husk-test-metadata",
        "syscalls": [{"names": ["getpgid"], "action": "SCMP_ACT_NOTIFY"}],
    });
    b.set_args(&["/bin/runtimetest", "--syscall", "getpgid", "0"]);
    let listener = UnixListener::bind(&sock).expect("bind agent socket");
    let handle = agent(listener, 4242);
    let out = b.run(&[]);
    let answered = handle.join().expect("agent thread");
    out.ok();
    let (doc, call) = answered.unwrap_or_else(|e| panic!("agent: {e}\n{}", out.describe()));
    assert_eq!(parse_probe(&out.stdout), (4242, 0), "the agent's answer");
    assert_eq!(call["nr"], json!(libc::SYS_getpgid));
    assert_eq!(doc["fds"], json!(["seccompFd"]));
    assert_eq!(doc["metadata"], json!("husk-test-metadata"));
    assert_eq!(doc["state"]["id"], json!(b.id()));
    assert_eq!(doc["state"]["status"], json!("creating"));
    assert_eq!(doc["pid"], doc["state"]["pid"]);
    assert!(doc["ociVersion"]
        .as_str()
        .is_some_and(|v| v.starts_with("1.")));
    b.runtime().assert_gone(b.id());
    assert_no_leftovers(&b, b.id());
}

/// One thread: accept, read the JSON document with its fd, answer one
/// notification with `val`.
fn agent(
    listener: UnixListener,
    val: i64,
) -> std::thread::JoinHandle<Result<(Value, Value), String>> {
    std::thread::spawn(move || {
        let (conn, _) = listener.accept().map_err(|e| e.to_string())?;
        let (text, fd) = recv_doc_and_fd(&conn)?;
        let doc: Value =
            serde_json::from_str(&text).map_err(|e| format!("document {text:?}: {e}"))?;
        let call = answer_one(&fd, val)?;
        Ok((doc, call))
    })
}

fn recv_doc_and_fd(conn: &std::os::unix::net::UnixStream) -> Result<(String, OwnedFd), String> {
    let mut data = vec![0u8; 64 * 1024];
    let (n, fd) = recv_with_fd(conn, &mut data).map_err(|e| format!("recvmsg: {e}"))?;
    Ok((String::from_utf8_lossy(&data[..n]).into_owned(), fd))
}

fn answer_one(fd: &OwnedFd, val: i64) -> Result<Value, String> {
    let mut req = SeccompNotif::default();
    // SAFETY: NOTIF_RECV writes one seccomp_notif into `req`, a repr(C)
    // struct of exactly that layout and size (80 bytes).
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), NOTIF_RECV, &mut req) };
    if rc != 0 {
        return Err(format!("NOTIF_RECV: {}", std::io::Error::last_os_error()));
    }
    let resp = SeccompNotifResp {
        id: req.id,
        val,
        error: 0,
        flags: 0,
    };
    // SAFETY: NOTIF_SEND reads one seccomp_notif_resp (24 bytes) from
    // `resp`, a repr(C) struct of that layout.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), NOTIF_SEND, &resp) };
    if rc != 0 {
        return Err(format!("NOTIF_SEND: {}", std::io::Error::last_os_error()));
    }
    Ok(json!({"nr": req.data.nr, "pid": req.pid}))
}

/// Compiled filters are cached under --root; an entry is used only for
/// the very profile it was compiled from: a foreign or damaged entry in
/// its place is a miss, never the wrong filter.
#[test]
fn the_filter_cache_never_serves_another_profile() {
    if skip_under_runc(
        "the_filter_cache_never_serves_another_profile",
        "husk's cache",
    ) {
        return;
    }
    let mut b = Bundle::new("seccomp-cache", &["true"]);
    let cache = b.runtime().root().join(".cache:seccomp");
    let profile_a = allow_but(json!([
        {"names": ["getpgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42},
    ]));
    let profile_b = allow_but(json!([
        {"names": ["getpgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 43},
    ]));
    let entries = || -> Vec<std::path::PathBuf> {
        let mut v: Vec<_> = std::fs::read_dir(&cache)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        v.sort();
        v
    };
    b.config_mut()["linux"]["seccomp"] = profile_a;
    let Some(r) = probe(&mut b, &["getpgid", "0"]) else {
        return;
    };
    assert_eq!(r, (-1, 42));
    let after_a = entries();
    assert_eq!(after_a.len(), 1, "one cached program: {after_a:?}");
    // A hit gives the same result.
    assert_eq!(probe(&mut b, &["getpgid", "0"]).unwrap(), (-1, 42));

    b.config_mut()["linux"]["seccomp"] = profile_b;
    assert_eq!(probe(&mut b, &["getpgid", "0"]).unwrap(), (-1, 43));
    let after_b = entries();
    assert_eq!(after_b.len(), 2, "{after_b:?}");
    let b_entry = after_b
        .iter()
        .find(|p| !after_a.contains(p))
        .unwrap()
        .clone();
    // A's program under B's name: B still gets its own filter.
    std::fs::copy(&after_a[0], &b_entry).unwrap();
    assert_eq!(probe(&mut b, &["getpgid", "0"]).unwrap(), (-1, 43));
    // Garbage under B's name: recompiled, still B's filter.
    std::fs::write(&b_entry, b"huskbpf1\xff\xff\xff\xffjunk").unwrap();
    assert_eq!(probe(&mut b, &["getpgid", "0"]).unwrap(), (-1, 43));
    assert_no_leftovers(&b, b.id());
}

/// Syscalls that profiles written before 2019-2021 do not know: Docker's
/// default before 20.10, the runtime-tools generator's, many hardened ones.
const NEWER_SYSCALLS: &[&str] = &[
    "close_range",
    "openat2",
    "faccessat2",
    "clone3",
    "pidfd_open",
    "pidfd_getfd",
    "pidfd_send_signal",
    "epoll_pwait2",
    "process_madvise",
    "mount_setattr",
    "landlock_create_ruleset",
    "landlock_add_rule",
    "landlock_restrict_self",
    "memfd_secret",
    "futex_waitv",
    "set_mempolicy_home_node",
    "cachestat",
    "fchmodat2",
    "map_shadow_stack",
];

/// containers-common's default with every syscall since 2019 removed, and
/// its default errno as given (ENOSYS) or left out (EPERM, as in Docker's
/// older profiles), with and without noNewPrivileges: the container runs,
/// with a startContainer hook, and `exec` into it works.
#[test]
fn profiles_without_newer_syscalls_run_containers() {
    for errno in ["ENOSYS", "EPERM"] {
        for nnp in [true, false] {
            let mut b = Bundle::new("seccomp-old-profile", &["sleep", "30"]);
            let Some(mut profile) = containers_default_profile(&bounding_caps(&b)) else {
                eprintln!("SKIP: {CONTAINERS_PROFILE} not installed");
                return;
            };
            for rule in profile["syscalls"].as_array_mut().unwrap() {
                if let Some(names) = rule["names"].as_array_mut() {
                    names.retain(|n| !NEWER_SYSCALLS.contains(&n.as_str().unwrap_or("")));
                }
            }
            if errno == "EPERM" {
                profile.as_object_mut().unwrap().remove("defaultErrnoRet");
            }
            b.config_mut()["linux"]["seccomp"] = profile;
            b.config_mut()["process"]["noNewPrivileges"] = json!(nnp);
            b.add_hook("startContainer", sh_hook("true", None));
            b.save();
            let what = format!("default errno {errno}, noNewPrivileges {nnp}");
            b.create().ok();
            let out = b.start();
            assert!(out.success(), "{what}: start: {}", out.describe());
            let out = b.runtime().exec(&["exec", b.id(), "echo", "exec-ok"]);
            assert_eq!(out.stdout, "exec-ok\n", "{what}: exec: {}", out.describe());
            b.stop_and_delete();
            assert_no_leftovers(&b, b.id());
        }
    }
}

/// A default-deny profile that allows only what busybox `true` makes and
/// what a runtime needs between loading the filter and exec (runc 1.1.5
/// runs under it): husk must make no call outside it. The calls husk makes
/// after the filter is in are listed in the README.
#[test]
fn a_default_deny_profile_with_only_what_runc_needs_runs_true() {
    const ALLOWED: &[&str] = &[
        // busybox true
        "execve",
        "brk",
        "mprotect",
        "readlink",
        "getuid",
        "prctl",
        "arch_prctl",
        "set_tid_address",
        "set_robust_list",
        "prlimit64",
        "getrandom",
        "rseq",
        "exit_group",
        // the runtime's last steps
        "read",
        "write",
        "close",
        "openat",
        "fcntl",
        "fstat",
        "newfstatat",
        "getdents64",
        "futex",
        "rt_sigaction",
        "rt_sigprocmask",
        "rt_sigreturn",
        "sigaltstack",
        "mmap",
        "munmap",
        "madvise",
        "exit",
        "capget",
        "capset",
        "setgroups",
        "setresuid",
        "setresgid",
        "setuid",
        "setgid",
        "sendmsg",
        "recvmsg",
        "sendto",
        "recvfrom",
        "accept4",
        "poll",
        "ppoll",
        "epoll_create1",
        "epoll_ctl",
        "epoll_pwait",
        "nanosleep",
        "clock_gettime",
        "getpid",
        "gettid",
        "tgkill",
        "sched_yield",
        "sched_getaffinity",
        "fchdir",
        "chdir",
        "getppid",
        "pipe2",
        "clone",
        "wait4",
        "dup3",
        "kill",
        "fstatfs",
        "statfs",
        "getcwd",
        "fchown",
        "access",
        "faccessat",
        "stat",
        "lstat",
        "readlinkat",
        "uname",
        "getgid",
        "geteuid",
        "getegid",
    ];
    for nnp in [true, false] {
        let mut b = Bundle::new("seccomp-minimal", &["true"]);
        let (arch, _) = native_arch();
        b.config_mut()["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "architectures": [arch],
            "syscalls": [{"names": ALLOWED, "action": "SCMP_ACT_ALLOW"}],
        });
        b.config_mut()["process"]["noNewPrivileges"] = json!(nnp);
        b.save();
        let out = b.run(&[]);
        assert!(out.success(), "noNewPrivileges {nnp}: {}", out.describe());
        assert_no_leftovers(&b, b.id());
    }
}
