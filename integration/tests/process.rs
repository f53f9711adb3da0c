//! The container process: env, cwd, user, rlimits, capabilities,
//! noNewPrivileges, oomScoreAdj, hostname/domainname, sysctl, inherited fds
//! and namespaces (time offsets included).
//!
//! Each config test first checks with busybox from inside the container,
//! then (when it has been built) runs runtimetest with the same config.

use husk_integration::*;
use serde_json::{json, Value};
use std::fs::{self, File};
use std::os::unix::io::AsRawFd;
use std::os::unix::process::CommandExt;

/// Runs the bundle's container in the foreground and returns its stdout,
/// asserting success.
#[test]
fn env_is_set() {
    let mut b = Bundle::new("env", &["env"]);
    b.config_mut()["process"]["env"] = json!([
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "FOO=bar baz",
        "EMPTY=",
        "HUSK_IT=1"
    ]);
    let out = b.run_ok();
    for want in [
        "FOO=bar baz",
        "EMPTY=",
        "HUSK_IT=1",
        "PATH=/usr/local/sbin:",
    ] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(want) && (want.ends_with(':') || l == want)),
            "expected {want:?} in the container's environment:\n{out}"
        );
    }
    check_with_runtimetest(&mut b);
    assert_no_leftovers(&b, b.id());
}

#[test]
fn cwd_is_set() {
    let mut b = Bundle::new("cwd", &["pwd"]);
    b.config_mut()["process"]["cwd"] = json!("/tmp");
    assert_eq!(b.run_ok(), "/tmp\n", "pwd in the container");
    check_with_runtimetest(&mut b);
    assert_no_leftovers(&b, b.id());
}

#[test]
fn user_ids_groups_and_umask() {
    let mut b = Bundle::new(
        "user",
        &[
            "sh",
            "-c",
            "grep -E '^(Uid|Gid|Groups):' /proc/self/status; umask",
        ],
    );
    b.config_mut()["process"]["user"] = json!({
        "uid": 1000, "gid": 1001, "additionalGids": [2000, 3000], "umask": 0o027
    });
    let out = b.run_ok();
    assert_eq!(
        status_field(&out, "Uid").map(squash_ws).as_deref(),
        Some("1000 1000 1000 1000"),
        "real/effective/saved/fs uid:\n{out}"
    );
    assert_eq!(
        status_field(&out, "Gid").map(squash_ws).as_deref(),
        Some("1001 1001 1001 1001"),
        "real/effective/saved/fs gid:\n{out}"
    );
    let mut groups: Vec<&str> = status_field(&out, "Groups")
        .unwrap_or("")
        .split_whitespace()
        .collect();
    groups.sort();
    assert_eq!(groups, ["2000", "3000"], "supplementary groups:\n{out}");
    assert_eq!(out.lines().last(), Some("0027"), "umask:\n{out}");
    check_with_runtimetest(&mut b);
    assert_no_leftovers(&b, b.id());
}

#[test]
fn rlimits_are_set() {
    let mut b = Bundle::new("rlimits", &["cat", "/proc/self/limits"]);
    b.config_mut()["process"]["rlimits"] = json!([
        { "type": "RLIMIT_NOFILE", "soft": 1000, "hard": 1024 },
        { "type": "RLIMIT_CORE", "soft": 4096, "hard": 8192 },
        { "type": "RLIMIT_NPROC", "soft": 500, "hard": 600 }
    ]);
    let out = squash_ws(&b.run_ok());
    for want in [
        "Max open files 1000 1024 files",
        "Max core file size 4096 8192 bytes",
        "Max processes 500 600 processes",
    ] {
        assert!(
            out.lines().any(|l| l == want),
            "expected limit line {want:?} in /proc/self/limits:\n{out}"
        );
    }
    check_with_runtimetest(&mut b);
    assert_no_leftovers(&b, b.id());
}

const CAPS_SCRIPT: &str = "grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs):' /proc/self/status";

fn cap_mask(out: &str, key: &str) -> u64 {
    let v = status_field(out, key).unwrap_or_else(|| panic!("no {key} in:\n{out}"));
    u64::from_str_radix(v, 16).unwrap_or_else(|e| panic!("{key} {v:?}: {e}"))
}

/// CAP_CHOWN (0) | CAP_KILL (5) | CAP_NET_BIND_SERVICE (10).
const REDUCED: u64 = 1 | 1 << 5 | 1 << 10;

#[test]
fn capabilities_reduced_set_for_root() {
    let mut b = Bundle::new("caps-root", &["sh", "-c", CAPS_SCRIPT]);
    let set = json!(["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    b.config_mut()["process"]["capabilities"] = json!({
        "bounding": set, "permitted": set, "effective": set,
        "inheritable": set, "ambient": set
    });
    let out = b.run_ok();
    for key in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(
            cap_mask(&out, key),
            REDUCED,
            "{key} should be exactly CHOWN|KILL|NET_BIND_SERVICE ({REDUCED:#x}):\n{out}"
        );
    }
    check_with_runtimetest(&mut b);
    assert_no_leftovers(&b, b.id());
}

/// For a non-root user the sets stay distinct across exec: permitted and
/// effective come from the ambient set only.
#[test]
fn capabilities_ambient_for_non_root() {
    let mut b = Bundle::new("caps-user", &["sh", "-c", CAPS_SCRIPT]);
    b.config_mut()["process"]["user"] = json!({ "uid": 1000, "gid": 1000 });
    b.config_mut()["process"]["capabilities"] = json!({
        "bounding": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "effective": ["CAP_NET_BIND_SERVICE"],
        "inheritable": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "ambient": ["CAP_NET_BIND_SERVICE"]
    });
    let out = b.run_ok();
    let kill_nbs = 1 << 5 | 1 << 10;
    let nbs = 1 << 10;
    for (key, want) in [
        ("CapBnd", kill_nbs),
        ("CapInh", kill_nbs),
        ("CapAmb", nbs),
        ("CapPrm", nbs),
        ("CapEff", nbs),
    ] {
        assert_eq!(cap_mask(&out, key), want, "{key} (want {want:#x}):\n{out}");
    }
    check_with_runtimetest(&mut b);
    assert_no_leftovers(&b, b.id());
}

#[test]
fn no_new_privileges() {
    let mut b = Bundle::new("nnp", &["sh", "-c", CAPS_SCRIPT]);
    b.config_mut()["process"]["noNewPrivileges"] = json!(true);
    let out = b.run_ok();
    assert_eq!(
        status_field(&out, "NoNewPrivs"),
        Some("1"),
        "with noNewPrivileges true:\n{out}"
    );

    b.config_mut()["process"]["noNewPrivileges"] = json!(false);
    let out = b.run_ok();
    assert_eq!(
        status_field(&out, "NoNewPrivs"),
        Some("0"),
        "with noNewPrivileges false:\n{out}"
    );

    b.config_mut()["process"]["noNewPrivileges"] = json!(true);
    check_with_runtimetest(&mut b);
    assert_no_leftovers(&b, b.id());
}

#[test]
fn oom_score_adj() {
    let mut b = Bundle::new("oom", &["cat", "/proc/self/oom_score_adj"]);
    b.config_mut()["process"]["oomScoreAdj"] = json!(123);
    assert_eq!(b.run_ok(), "123\n", "oom_score_adj in the container");
    check_with_runtimetest(&mut b);
    assert_no_leftovers(&b, b.id());
}

fn host_file(p: &str) -> String {
    fs::read_to_string(p).unwrap_or_else(|e| panic!("read {p}: {e}"))
}

#[test]
fn hostname_is_set_in_new_uts_namespace() {
    let host_before = host_file("/proc/sys/kernel/hostname");
    let mut b = Bundle::new(
        "hostname",
        &["sh", "-c", "hostname; cat /proc/sys/kernel/hostname"],
    );
    b.config_mut()["hostname"] = json!("husk-it-box");
    assert_eq!(
        b.run_ok(),
        "husk-it-box\nhusk-it-box\n",
        "hostname in the container"
    );
    assert_eq!(
        host_file("/proc/sys/kernel/hostname"),
        host_before,
        "the host's hostname changed"
    );
    check_with_runtimetest(&mut b);
    assert_no_leftovers(&b, b.id());
}

#[test]
fn domainname_is_set_in_new_uts_namespace() {
    let host_before = host_file("/proc/sys/kernel/domainname");
    let mut b = Bundle::new("domainname", &["cat", "/proc/sys/kernel/domainname"]);
    b.config_mut()["domainname"] = json!("example.org");
    assert_eq!(b.run_ok(), "example.org\n", "domainname in the container");
    assert_eq!(
        host_file("/proc/sys/kernel/domainname"),
        host_before,
        "the host's domainname changed"
    );
    check_with_runtimetest(&mut b);
    assert_no_leftovers(&b, b.id());
}

#[test]
fn sysctl_in_new_network_namespace() {
    let host_before = host_file("/proc/sys/net/ipv4/ip_forward");
    let mut b = Bundle::new("sysctl", &["cat", "/proc/sys/net/ipv4/ip_forward"]);
    b.config_mut()["linux"]["sysctl"] = json!({ "net.ipv4.ip_forward": "1" });
    assert_eq!(b.run_ok(), "1\n", "net.ipv4.ip_forward in the container");
    assert_eq!(
        host_file("/proc/sys/net/ipv4/ip_forward"),
        host_before,
        "the host's net.ipv4.ip_forward changed"
    );
    check_with_runtimetest(&mut b);
    assert_no_leftovers(&b, b.id());
}

#[test]
fn pid_namespace_makes_process_pid_1() {
    let b = Bundle::new("pidns", &["sh", "-c", "echo $$"]);
    assert_eq!(b.run_ok(), "1\n", "$$ in the container");
    assert_no_leftovers(&b, b.id());
}

// --- inherited file descriptors ---------------------------------------

/// Opens `path` and makes it fd 3 (without close-on-exec) in `cmd`'s child.
fn give_fd3(cmd: &mut std::process::Command, file: &File) {
    let fd = file.as_raw_fd();
    // SAFETY: the closure runs between fork and exec and only calls the
    // async-signal-safe fcntl and dup2 on descriptors the child inherited;
    // `file` outlives the spawn that runs it.
    unsafe {
        cmd.pre_exec(move || {
            if fd == 3 {
                if libc::fcntl(3, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

const FD3_SCRIPT: &str = "cat <&3 && echo fd3-read; env | grep '^LISTEN_' | sort; true";

fn fd3_bundle(name: &str) -> (Bundle, File) {
    let b = Bundle::new(name, &["sh", "-c", FD3_SCRIPT]);
    let p = write_file(&b.host_dir().join("fd3.txt"), "fd3-token\n");
    let f = File::open(p).unwrap();
    b.save();
    (b, f)
}

#[test]
fn preserve_fds_passes_fd_3() {
    let (b, f) = fd3_bundle("preserve-fds");
    let mut cmd = b.runtime().command(&[
        "run",
        "--preserve-fds",
        "1",
        "--bundle",
        b.path_str(),
        b.id(),
    ]);
    give_fd3(&mut cmd, &f);
    let out = b.runtime().spawn(cmd, None);
    out.ok();
    assert_eq!(
        out.stdout,
        "fd3-token\nfd3-read\n",
        "the container should read fd 3 and see no LISTEN_* variables\n{}",
        out.describe()
    );
    assert_no_leftovers(&b, b.id());
}

#[test]
fn fds_are_not_leaked_without_preserve_fds() {
    let (b, f) = fd3_bundle("no-fd-leak");
    let mut cmd = b
        .runtime()
        .command(&["run", "--bundle", b.path_str(), b.id()]);
    give_fd3(&mut cmd, &f);
    let out = b.runtime().spawn(cmd, None);
    out.ok();
    assert!(
        !out.stdout.contains("fd3-token"),
        "fd 3 leaked into the container without --preserve-fds\n{}",
        out.describe()
    );
    assert_no_leftovers(&b, b.id());
}

/// Socket activation: when the runtime itself was started with LISTEN_FDS
/// and LISTEN_PID equal to its own pid, it passes those fds on and sets
/// LISTEN_FDS=N, LISTEN_PID=1 in the container (as runc does). The runtime
/// is started through `sh -c 'LISTEN_PID=$$ exec ...'` so LISTEN_PID is
/// its pid.
#[test]
fn listen_fds_are_passed_on() {
    let (b, f) = fd3_bundle("listen-fds");
    let argv = b.runtime().argv(&["run", "--bundle", b.path_str(), b.id()]);
    let mut cmd = std::process::Command::new("/bin/sh");
    cmd.arg("-c")
        .arg("LISTEN_FDS=1 LISTEN_PID=$$ exec \"$@\"")
        .arg("sh")
        .args(&argv)
        .env_remove("LISTEN_FDS")
        .env_remove("LISTEN_PID")
        .env_remove("NOTIFY_SOCKET");
    give_fd3(&mut cmd, &f);
    let out = b.runtime().spawn(cmd, None);
    out.ok();
    assert_eq!(
        out.stdout,
        "fd3-token\nfd3-read\nLISTEN_FDS=1\nLISTEN_PID=1\n",
        "the container should get fd 3 with LISTEN_FDS=1 and LISTEN_PID=1\n{}",
        out.describe()
    );
    assert_no_leftovers(&b, b.id());
}

// --- namespaces -------------------------------------------------------

/// B joins A's network and IPC namespaces by path: same namespace inodes,
/// and B sees the change A made to its loopback interface.
#[test]
fn join_existing_network_and_ipc_namespaces() {
    let mut a = Bundle::new(
        "ns-join-a",
        &["sh", "-c", "ip link set lo mtu 1234 && exec sleep 30"],
    );
    let caps = json!(["CAP_NET_ADMIN", "CAP_KILL"]);
    a.config_mut()["process"]["capabilities"] = json!({
        "bounding": caps, "permitted": caps, "effective": caps
    });
    a.create_and_start();
    let pid_a = a.pid();
    let net_a = ns_link(pid_a, "net");
    let ipc_a = ns_link(pid_a, "ipc");
    let me = std::process::id() as i32;
    assert_ne!(
        net_a,
        ns_link(me, "net"),
        "A should have its own network namespace"
    );
    assert_ne!(
        ipc_a,
        ns_link(me, "ipc"),
        "A should have its own IPC namespace"
    );

    let script = "readlink /proc/self/ns/net; readlink /proc/self/ns/ipc; i=0; \
                  until ip link show lo | grep -q 'mtu 1234'; do \
                  i=$((i+1)); [ $i -gt 400 ] && { ip link show lo; exit 9; }; sleep 0.025; done; \
                  echo mtu-seen";
    let mut b = Bundle::new("ns-join-b", &["sh", "-c", script]);
    b.set_namespace("network", Some(&format!("/proc/{pid_a}/ns/net")));
    b.set_namespace("ipc", Some(&format!("/proc/{pid_a}/ns/ipc")));
    let out = b.run(&[]);
    out.ok();
    assert_eq!(
        out.stdout,
        format!("{net_a}\n{ipc_a}\nmtu-seen\n"),
        "B should be in A's network and IPC namespaces\n{}",
        out.describe()
    );
    assert_no_leftovers(&b, b.id());
    a.stop_and_delete();
    assert_no_leftovers(&a, a.id());
}

fn with_user_namespace(b: &mut Bundle) {
    b.set_namespace("user", None);
    let map = json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
    b.config_mut()["linux"]["uidMappings"] = map.clone();
    b.config_mut()["linux"]["gidMappings"] = map;
}

#[test]
fn user_namespace_mappings() {
    let mut b = Bundle::new(
        "userns",
        &[
            "sh",
            "-c",
            "cat /proc/self/uid_map /proc/self/gid_map; id -u",
        ],
    );
    with_user_namespace(&mut b);
    let out = squash_ws(&b.run_ok());
    assert_eq!(
        out, "0 100000 65536\n0 100000 65536\n0",
        "uid_map, gid_map and uid inside the container"
    );

    // Seen from the host, the container's root is uid 100000.
    b.set_args(&["sleep", "30"]);
    b.create_and_start();
    let pid = b.pid();
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert_eq!(
        status_field(&status, "Uid").map(squash_ws).as_deref(),
        Some("100000 100000 100000 100000"),
        "host view of the container process's uids:\n{status}"
    );
    b.stop_and_delete();

    b.set_args(&["true"]);
    check_with_runtimetest(&mut b);
    assert_no_leftovers(&b, b.id());
}

/// runc 1.1 opens bind sources on the host side and hands them to the
/// init as descriptors: the container's root (uid 100000 on the host) could
/// not reach a source below a directory only the host's root may enter.
/// Two mounts (runc once had a bug with more than one), a file, a relative
/// source, and `exec` afterwards.
#[test]
fn user_namespace_binds_sources_it_cannot_reach() {
    use std::os::unix::fs::PermissionsExt;
    let mut b = Bundle::new(
        "userns-private-src",
        &["sh", "-c", "cat /m1/foo /m2/foo /f; ls /m3"],
    );
    with_user_namespace(&mut b);
    // The rootfs belongs to the host's root, so the container's root cannot
    // make mount points in it (runc fails on that too): they exist already.
    for d in ["m1", "m2", "m3"] {
        fs::create_dir_all(b.rootfs().join(d)).unwrap();
    }
    write_file(&b.rootfs().join("f"), "");
    let private = |dir: &std::path::Path| {
        fs::create_dir_all(dir).unwrap();
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).unwrap();
    };
    for n in 1..=2 {
        let d = b.host_dir().join(format!("private-{n}"));
        private(&d);
        write_file(&d.join("dir/foo"), &format!("in {n}\n"));
        b.add_mount(bind_mount(&d.join("dir"), &format!("/m{n}"), &["bind"]));
    }
    let d = b.host_dir().join("private-file");
    private(&d);
    write_file(&d.join("f"), "a file\n");
    b.add_mount(bind_mount(&d.join("f"), "/f", &["bind", "ro"]));
    // Relative to the bundle, as runc resolves it.
    let rel = b.path().join("private-rel");
    private(&rel);
    write_file(&rel.join("dir/bar"), "");
    b.add_mount(json!({
        "destination": "/m3", "type": "bind",
        "source": "private-rel/dir", "options": ["rbind"]
    }));
    let out = b.run(&[]);
    out.ok();
    assert_eq!(
        out.stdout,
        "in 1\nin 2\na file\nbar\n",
        "{}",
        out.describe()
    );

    b.set_args(&["sleep", "30"]);
    b.create().ok();
    // Created, waiting for start: the init holds no descriptor of a host
    // source any more (they are closed once bound, not only at exec).
    let pid = b.pid();
    let held: Vec<String> = fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|e| fs::read_link(e.path()).ok())
        .map(|l| l.to_string_lossy().into_owned())
        .filter(|l| l.contains("private-"))
        .collect();
    assert!(
        held.is_empty(),
        "the waiting init holds host sources: {held:?}"
    );
    b.start().ok();
    let out = b
        .runtime()
        .exec(&["exec", b.id(), "cat", "/m2/foo", "/m1/foo"]);
    out.ok();
    assert_eq!(out.stdout, "in 2\nin 1\n", "{}", out.describe());
    b.stop_and_delete();
    assert_no_leftovers(&b, b.id());
}

#[test]
fn cgroup_namespace_hides_cgroup_path() {
    let mut b = Bundle::new("cgroupns", &["cat", "/proc/self/cgroup"]);
    b.set_namespace("cgroup", None);
    let out = b.run_ok();
    assert!(!out.trim().is_empty(), "empty /proc/self/cgroup");
    for line in out.lines() {
        assert!(
            line.ends_with(":/"),
            "with a cgroup namespace every /proc/self/cgroup path should be \"/\", got {line:?} in:\n{out}"
        );
    }
    check_with_runtimetest(&mut b);
    assert_no_leftovers(&b, b.id());
}

fn uptime_secs(text: &str) -> f64 {
    text.split_whitespace()
        .next()
        .and_then(|f| f.parse().ok())
        .unwrap_or_else(|| panic!("not /proc/uptime contents: {text:?}"))
}

/// A time namespace with a one-day boottime offset: the container's uptime
/// is at least a day more than the host's just before (an offset check, not
/// a timing one: later is fine).
#[test]
fn time_namespace_boottime_offset() {
    const DAY: f64 = 86400.0;
    let mut b = Bundle::new("timens", &["cat", "/proc/uptime"]);
    b.set_namespace("time", None);
    b.config_mut()["linux"]["timeOffsets"] = json!({
        "boottime": { "secs": 86400, "nanosecs": 0 }
    });
    let host_before = uptime_secs(&host_file("/proc/uptime"));
    let out = b.run_ok();
    let inside = uptime_secs(&out);
    assert!(
        inside >= host_before + DAY,
        "uptime in the container ({inside}) should be at least the host's ({host_before}) \
         plus the 86400 s boottime offset"
    );
    let host_after = uptime_secs(&host_file("/proc/uptime"));
    assert!(
        host_after < host_before + DAY,
        "the host's uptime moved by the offset: {host_before} then {host_after}"
    );
    check_with_runtimetest(&mut b);
    assert_no_leftovers(&b, b.id());
}

/// Each container gets a session keyring of its own (`_ses.<id>`), unless
/// --no-new-keyring keeps the caller's.
#[test]
fn session_keyring_per_container() {
    if is_runc() {
        skip_under_runc(
            "session_keyring_per_container",
            "runc names its keyrings by id too, but this test checks husk's",
        );
        return;
    }
    for (flag, want) in [(None, "1"), (Some("--no-new-keyring"), "0")] {
        let name = if flag.is_some() {
            "keyring-none"
        } else {
            "keyring-own"
        };
        let mut b = Bundle::new(name, &["true"]);
        let probe = format!("grep -c _ses.{} /proc/keys || true", b.id());
        b.set_args(&["sh", "-c", probe.as_str()]);
        b.config_mut()["linux"]["maskedPaths"] = json!([]);
        let out = b.run(flag.as_slice());
        out.ok();
        assert_eq!(
            out.stdout.trim(),
            want,
            "session keyring lines for {flag:?}: {}",
            out.describe()
        );
        assert_no_leftovers(&b, b.id());
    }
}

/// No capabilities object, a null one, or one with every list left out
/// (podman's --cap-drop ALL) all mean no capabilities, bounding set
/// included, as with runc.
#[test]
fn missing_capabilities_mean_none() {
    for (name, caps) in [
        ("caps-empty", Some(json!({}))),
        ("caps-null", Some(Value::Null)),
        ("caps-absent", None),
    ] {
        let mut b = Bundle::new(name, &["grep", "^Cap", "/proc/self/status"]);
        match caps {
            Some(c) => b.config_mut()["process"]["capabilities"] = c,
            None => {
                b.config_mut()["process"]
                    .as_object_mut()
                    .unwrap()
                    .remove("capabilities");
            }
        }
        let out = b.run_ok();
        for line in out.lines() {
            assert!(
                line.ends_with("0000000000000000"),
                "{name}: {line} should be empty:\n{out}"
            );
        }
        assert_eq!(out.lines().count(), 5, "{name}: {out}");
        assert_no_leftovers(&b, b.id());
    }
}

/// An engine hands the runtime the host's /dev/null as stdin (conmon, the
/// shims): the container must get its own /dev/null in its place, as runc
/// does (reOpenDevNull), not keep a descriptor of a host mount. CRIU
/// cannot dump a process that holds one (podman container checkpoint
/// failed on exactly that), and it is a host file the container holds.
#[test]
fn host_dev_null_stdin_becomes_the_containers_own() {
    let mut b = Bundle::new(
        "own-dev-null",
        &[
            "sh",
            "-c",
            "[ \"$(stat -L -c %d /proc/self/fd/0)\" = \"$(stat -c %d /dev/null)\" ] \
             && echo own >/result || echo host >/result",
        ],
    );
    b.edit(|c| c["root"]["readonly"] = serde_json::json!(false));
    b.save();
    // create is given the host's /dev/null on stdin (as conmon does), and
    // a detached container inherits it.
    b.create_and_start();
    b.wait_for_status("stopped");
    let got = std::fs::read_to_string(b.rootfs().join("result")).unwrap_or_default();
    b.delete().ok();
    assert_eq!(
        got.trim(),
        "own",
        "the container's stdin is still the host's /dev/null"
    );
}
