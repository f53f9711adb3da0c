//! The checks themselves: each reads what the config states and compares it
//! with what the container process can observe about itself. Nothing is
//! asserted for fields the config leaves out, nor for things that cannot be
//! known from inside (another namespace's identity, the pre-exec state).

use crate::caps::{self, CapSets};
use crate::mounts;
use crate::procfs::{self, MountInfo};
use crate::sys;
use serde_json::Value;
use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt::{Debug, Display};
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Counts results and prints them: failures always (stderr), passes and
/// skips only when verbose (stdout).
pub struct Checker {
    verbose: bool,
    pub passed: usize,
    pub failed: usize,
}

impl Checker {
    pub fn new(verbose: bool) -> Self {
        Checker {
            verbose,
            passed: 0,
            failed: 0,
        }
    }

    pub fn ok(&mut self, name: &str) {
        self.passed += 1;
        if self.verbose {
            println!("runtimetest: ok: {name}");
        }
    }

    pub fn fail(&mut self, name: &str, msg: impl Display) {
        self.failed += 1;
        eprintln!("runtimetest: {name}: {msg}");
    }

    pub fn skip(&self, name: &str, why: impl Display) {
        if self.verbose {
            println!("runtimetest: skip: {name}: {why}");
        }
    }

    pub fn expect<T: PartialEq + Debug>(&mut self, name: &str, want: T, got: T) {
        if want == got {
            self.ok(name);
        } else {
            self.fail(name, format!("want {want:?}, got {got:?}"));
        }
    }

    /// Pass if `errors` is empty, else report each as its own line.
    fn all(&mut self, name: &str, errors: Vec<String>) {
        if errors.is_empty() {
            self.ok(name);
        }
        for e in errors {
            self.fail(name, e);
        }
    }
}

/// What every check may need, read once.
pub struct Ctx<'a> {
    pub cfg: &'a Value,
    /// Running as a process exec'd into a container, not as its init.
    pub exec: bool,
    pub status: Result<String, String>,
    pub mounts: Result<Vec<MountInfo>, String>,
}

impl<'a> Ctx<'a> {
    pub fn read(cfg: &'a Value, exec: bool) -> Self {
        let status = fs::read_to_string("/proc/self/status")
            .map_err(|e| format!("cannot read /proc/self/status: {e}"));
        let mounts = fs::read_to_string("/proc/self/mountinfo")
            .map(|t| procfs::parse_mountinfo(&t))
            .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"));
        Ctx {
            cfg,
            exec,
            status,
            mounts,
        }
    }

    /// A `/proc/self/status` field, or the reason it is not there.
    fn status_field(&self, key: &str) -> Result<&str, String> {
        let status = self.status.as_deref().map_err(Clone::clone)?;
        procfs::status_field(status, key)
            .ok_or_else(|| format!("no {key:?} field in /proc/self/status"))
    }

    /// The topmost mount at `path` (or at where `path` resolves to).
    fn mount_at(&self, path: &str) -> Result<Option<&MountInfo>, String> {
        let mounts = self.mounts.as_deref().map_err(Clone::clone)?;
        Ok(mount_points(path)
            .iter()
            .find_map(|p| procfs::mount_at(mounts, p)))
    }
}

/// Non-null value at a JSON pointer.
fn ptr<'a>(v: &'a Value, pointer: &str) -> Option<&'a Value> {
    v.pointer(pointer).filter(|x| !x.is_null())
}

/// A config value that must be an array of strings; a wrong type is
/// reported (as a failure of the config, not of the runtime).
fn strings(c: &mut Checker, what: &str, v: &Value) -> Option<Vec<String>> {
    let list = v.as_array().and_then(|a| {
        a.iter()
            .map(|x| x.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
    });
    if list.is_none() {
        c.fail("config", format!("{what}: want an array of strings"));
    }
    list
}

fn array<'a>(c: &mut Checker, what: &str, v: &'a Value) -> Option<&'a Vec<Value>> {
    let a = v.as_array();
    if a.is_none() {
        c.fail("config", format!("{what}: want an array"));
    }
    a
}

/// An optional unsigned field of an object; a wrong type is reported.
fn opt_u64(c: &mut Checker, what: &str, obj: &Value, key: &str) -> Option<u64> {
    let v = obj.get(key).filter(|x| !x.is_null())?;
    let n = v.as_u64();
    if n.is_none() {
        c.fail("config", format!("{what}.{key}: want an unsigned integer"));
    }
    n
}

/// Where a config path may show up as a mount point: its lexically cleaned
/// form and, when different, the form with symlinks resolved inside the
/// container (runtimes follow symlinks within the rootfs).
fn mount_points(path: &str) -> Vec<String> {
    let clean = procfs::clean_path(path);
    let mut out = vec![clean.clone()];
    if let Ok(real) = fs::canonicalize(&clean) {
        let real = real.to_string_lossy().into_owned();
        if real != clean {
            out.push(real);
        }
    }
    out
}

fn file_kind(m: &fs::Metadata) -> String {
    let t = m.file_type();
    let dev = || format!("{}:{}", sys::major(m.rdev()), sys::minor(m.rdev()));
    if t.is_char_device() {
        format!("char device {}", dev())
    } else if t.is_block_device() {
        format!("block device {}", dev())
    } else if t.is_dir() {
        "directory".to_string()
    } else if t.is_file() {
        "regular file".to_string()
    } else if t.is_fifo() {
        "fifo".to_string()
    } else if t.is_socket() {
        "socket".to_string()
    } else if t.is_symlink() {
        "symlink".to_string()
    } else {
        "unknown file type".to_string()
    }
}

fn fmt_rlim(v: u64) -> String {
    if v == u64::MAX {
        "unlimited".to_string()
    } else {
        v.to_string()
    }
}

pub fn run_all(c: &mut Checker, ctx: &Ctx) {
    check_namespaces(c, ctx);
    check_uts(c, ctx);
    check_process(c, ctx);
    check_root_readonly(c, ctx);
    check_mounts(c, ctx);
    check_default_devices(c);
    check_devices(c, ctx);
    check_masked_paths(c, ctx);
    check_readonly_paths(c, ctx);
    check_sysctl(c, ctx);
    check_seccomp(c, ctx);
}

/// linux.seccomp: a filter is loaded (mode 2) exactly when the config has
/// one; what it does to single calls is probed with `--syscall`.
fn check_seccomp(c: &mut Checker, ctx: &Ctx) {
    let want = if ptr(ctx.cfg, "/linux/seccomp").is_some() {
        "2"
    } else {
        "0"
    };
    match ctx.status_field("Seccomp") {
        Ok(got) => c.expect("seccomp mode", want, got),
        Err(e) => c.fail("seccomp mode", e),
    }
}

// ---------------------------------------------------------------- namespaces

fn check_namespaces(c: &mut Checker, ctx: &Ctx) {
    let Some(v) = ptr(ctx.cfg, "/linux/namespaces") else {
        return;
    };
    let Some(list) = array(c, "linux.namespaces", v) else {
        return;
    };
    for ns in list {
        let typ = ns.get("type").and_then(Value::as_str).unwrap_or("");
        let path = ns.get("path").and_then(Value::as_str).unwrap_or("");
        let name = format!("namespaces.{typ}");
        if !path.is_empty() {
            c.skip(
                &name,
                "joins an existing namespace; not observable from inside",
            );
            continue;
        }
        match typ {
            "pid" if ctx.exec => c.skip(&name, "--exec: not the container's init"),
            "pid" => c.expect("namespaces.pid: getpid()", 1, sys::getpid()),
            "uts" => c.skip(&name, "see the hostname and domainname checks"),
            "mount" => match ctx.mount_at("/") {
                Ok(Some(_)) => c.ok(&name),
                Ok(None) => c.fail(&name, "no mount at \"/\" in /proc/self/mountinfo"),
                Err(e) => c.fail(&name, e),
            },
            "user" => {
                check_id_map(c, ctx, "uid");
                check_id_map(c, ctx, "gid");
            }
            "cgroup" => check_cgroup_ns(c),
            "time" => check_time_offsets(c, ctx),
            "network" | "ipc" => c.skip(&name, "not observable from inside"),
            _ => c.fail("config", format!("linux.namespaces: unknown type {typ:?}")),
        }
    }
}

fn check_id_map(c: &mut Checker, ctx: &Ctx, kind: &str) {
    let key = format!("{kind}Mappings");
    let Some(v) = ptr(ctx.cfg, &format!("/linux/{key}")) else {
        return;
    };
    let name = format!("linux.{key}");
    let Some(list) = array(c, &name, v) else {
        return;
    };
    let mut want = Vec::new();
    for m in list {
        let (Some(inside), Some(outside), Some(size)) = (
            opt_u64(c, &name, m, "containerID"),
            opt_u64(c, &name, m, "hostID"),
            opt_u64(c, &name, m, "size"),
        ) else {
            c.fail(
                "config",
                format!("{name}: entries need containerID, hostID and size"),
            );
            return;
        };
        want.push((inside, outside, size));
    }
    want.sort_unstable();
    let file = format!("/proc/self/{kind}_map");
    match fs::read_to_string(&file) {
        Ok(text) => c.expect(&name, want, procfs::parse_id_map(&text)),
        Err(e) => c.fail(&name, format!("cannot read {file}: {e}")),
    }
}

/// In a cgroup namespace made for the container, the process's cgroups are
/// the namespace's roots, so every hierarchy shows "/".
fn check_cgroup_ns(c: &mut Checker) {
    let name = "namespaces.cgroup";
    match fs::read_to_string("/proc/self/cgroup") {
        Ok(text) => {
            let errors = procfs::cgroup_paths(&text)
                .into_iter()
                .filter(|(_, path)| path != "/")
                .map(|(h, path)| {
                    format!("want cgroup path \"/\" for hierarchy {h:?}, got {path:?}")
                })
                .collect();
            c.all(name, errors);
        }
        Err(e) => c.fail(name, format!("cannot read /proc/self/cgroup: {e}")),
    }
}

fn check_time_offsets(c: &mut Checker, ctx: &Ctx) {
    let Some(offsets) = ptr(ctx.cfg, "/linux/timeOffsets") else {
        return;
    };
    let Some(obj) = offsets.as_object() else {
        c.fail("config", "linux.timeOffsets: want an object");
        return;
    };
    let name = "linux.timeOffsets";
    let text = match fs::read_to_string("/proc/self/timens_offsets") {
        Ok(t) => t,
        Err(e) => {
            c.fail(name, format!("cannot read /proc/self/timens_offsets: {e}"));
            return;
        }
    };
    let got = procfs::parse_timens_offsets(&text);
    for (clock, off) in obj {
        let secs = off.get("secs").and_then(Value::as_i64).unwrap_or(0);
        let nsecs = off.get("nanosecs").and_then(Value::as_i64).unwrap_or(0);
        let have = got
            .iter()
            .find(|(n, _, _)| n == clock)
            .map(|&(_, s, ns)| (s, ns));
        c.expect(&format!("{name}.{clock}"), Some((secs, nsecs)), have);
    }
}

fn check_uts(c: &mut Checker, ctx: &Ctx) {
    let want_host = ptr(ctx.cfg, "/hostname").and_then(Value::as_str);
    let want_domain = ptr(ctx.cfg, "/domainname").and_then(Value::as_str);
    if want_host.is_none() && want_domain.is_none() {
        return;
    }
    match sys::uname() {
        Ok((host, domain)) => {
            if let Some(w) = want_host {
                c.expect("hostname", w, host.as_str());
            }
            if let Some(w) = want_domain {
                c.expect("domainname", w, domain.as_str());
            }
        }
        Err(e) => c.fail("hostname", format!("uname: {e}")),
    }
}

// ------------------------------------------------------------------- process

fn check_process(c: &mut Checker, ctx: &Ctx) {
    let Some(p) = ptr(ctx.cfg, "/process") else {
        return;
    };
    if let Some(v) = ptr(p, "/args") {
        if let Some(want) = strings(c, "process.args", v) {
            let got: Vec<String> = std::env::args_os()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            c.expect("process.args", want, got);
        }
    }
    if let Some(v) = ptr(p, "/env") {
        if let Some(env) = strings(c, "process.env", v) {
            check_env(c, &env);
        }
    }
    if let Some(cwd) = ptr(p, "/cwd").and_then(Value::as_str) {
        check_cwd(c, cwd);
    }
    if let Some(user) = ptr(p, "/user") {
        check_user(c, ctx, user);
    }
    if let Some(v) = ptr(p, "/rlimits") {
        if let Some(list) = array(c, "process.rlimits", v) {
            check_rlimits(c, list);
        }
    }
    if let Some(v) = ptr(p, "/capabilities") {
        check_capabilities(c, ctx, v);
    }
    if ptr(p, "/noNewPrivileges").and_then(Value::as_bool) == Some(true) {
        // Only "set" is asserted: a runtime started with no_new_privs passes
        // it on to the container whatever the config says.
        match ctx.status_field("NoNewPrivs") {
            Ok(v) => c.expect("process.noNewPrivileges (NoNewPrivs)", "1", v),
            Err(e) => c.fail("process.noNewPrivileges", e),
        }
    }
    if let Some(v) = ptr(p, "/oomScoreAdj") {
        match v.as_i64() {
            Some(want) => {
                let got = fs::read_to_string("/proc/self/oom_score_adj")
                    .map_err(|e| e.to_string())
                    .and_then(|s| s.trim().parse::<i64>().map_err(|e| e.to_string()));
                match got {
                    Ok(got) => c.expect("process.oomScoreAdj", want, got),
                    Err(e) => c.fail(
                        "process.oomScoreAdj",
                        format!("cannot read /proc/self/oom_score_adj: {e}"),
                    ),
                }
            }
            None => c.fail("config", "process.oomScoreAdj: want an integer"),
        }
    }
    if ptr(p, "/terminal").and_then(Value::as_bool) == Some(true) {
        for fd in 0..3 {
            let name = format!("process.terminal: isatty({fd})");
            if sys::isatty(fd) {
                c.ok(&name);
            } else {
                c.fail(&name, "want a terminal, got none");
            }
        }
        match fs::metadata("/dev/console") {
            Ok(m) if m.file_type().is_char_device() => c.ok("process.terminal: /dev/console"),
            Ok(m) => c.fail(
                "process.terminal: /dev/console",
                format!("want a char device, got {}", file_kind(&m)),
            ),
            Err(e) => c.fail("process.terminal: /dev/console", e),
        }
    }
}

fn check_env(c: &mut Checker, env: &[String]) {
    // Later entries win, as in execve's environment handling by runtimes.
    let mut want: Vec<(&str, &str)> = Vec::new();
    for e in env {
        match e.split_once('=') {
            Some((k, v)) => {
                want.retain(|(wk, _)| *wk != k);
                want.push((k, v));
            }
            None => c.skip(&format!("process.env {e:?}"), "not KEY=VALUE"),
        }
    }
    let have: HashMap<OsString, OsString> = std::env::vars_os().collect();
    for (k, v) in want {
        let name = format!("process.env {k}");
        match have.get(&OsString::from(k)) {
            Some(got) if got == v => c.ok(&name),
            Some(got) => c.fail(&name, format!("want {v:?}, got {got:?}")),
            None => c.fail(&name, format!("want {v:?}, got unset")),
        }
    }
}

fn check_cwd(c: &mut Checker, cwd: &str) {
    match std::env::current_dir() {
        Ok(got) => {
            let fits = mount_points(cwd).iter().any(|p| Path::new(p) == got);
            if fits {
                c.ok("process.cwd");
            } else {
                c.fail("process.cwd", format!("want {cwd:?}, got {got:?}"));
            }
        }
        Err(e) => c.fail("process.cwd", format!("getcwd: {e}")),
    }
}

fn check_user(c: &mut Checker, ctx: &Ctx, user: &Value) {
    let ids = sys::ids();
    if let Some(uid) = opt_u64(c, "process.user", user, "uid") {
        c.expect("process.user.uid (getuid)", uid, u64::from(ids.uid));
        c.expect("process.user.uid (geteuid)", uid, u64::from(ids.euid));
    }
    if let Some(gid) = opt_u64(c, "process.user", user, "gid") {
        c.expect("process.user.gid (getgid)", gid, u64::from(ids.gid));
        c.expect("process.user.gid (getegid)", gid, u64::from(ids.egid));
    }
    if let Some(v) = ptr(user, "/additionalGids") {
        let want = v.as_array().and_then(|a| {
            a.iter()
                .map(|g| g.as_u64().and_then(|g| u32::try_from(g).ok()))
                .collect::<Option<Vec<u32>>>()
        });
        match (want, sys::getgroups()) {
            (None, _) => c.fail(
                "config",
                "process.user.additionalGids: want an array of gids",
            ),
            (Some(_), Err(e)) => c.fail("process.user.additionalGids", format!("getgroups: {e}")),
            (Some(want), Ok(groups)) => {
                let errors = want
                    .iter()
                    .filter(|g| !groups.contains(g))
                    .map(|g| format!("want {g} in getgroups(), got {groups:?}"))
                    .collect();
                c.all("process.user.additionalGids", errors);
            }
        }
    }
    if let Some(v) = ptr(user, "/umask") {
        let Some(want) = v.as_u64() else {
            c.fail("config", "process.user.umask: want an unsigned integer");
            return;
        };
        match ctx.status_field("Umask").map(procfs::parse_octal) {
            Ok(Some(got)) => c.expect(
                "process.user.umask",
                format!("{want:04o}"),
                format!("{got:04o}"),
            ),
            Ok(None) => c.fail(
                "process.user.umask",
                "unparsable Umask in /proc/self/status",
            ),
            Err(e) => c.fail("process.user.umask", e),
        }
    }
}

fn check_rlimits(c: &mut Checker, list: &[Value]) {
    for r in list {
        let typ = r.get("type").and_then(Value::as_str).unwrap_or("");
        let name = format!("process.rlimits {typ}");
        let (Some(soft), Some(hard)) = (opt_u64(c, &name, r, "soft"), opt_u64(c, &name, r, "hard"))
        else {
            c.fail("config", format!("{name}: want soft and hard"));
            continue;
        };
        let Some(res) = sys::rlimit_resource(typ) else {
            c.fail("config", format!("process.rlimits: unknown type {typ:?}"));
            continue;
        };
        match sys::getrlimit(res) {
            Ok((s, h)) if (s, h) == (soft, hard) => c.ok(&name),
            Ok((s, h)) => c.fail(
                &name,
                format!(
                    "want soft {} hard {}, got soft {} hard {}",
                    fmt_rlim(soft),
                    fmt_rlim(hard),
                    fmt_rlim(s),
                    fmt_rlim(h)
                ),
            ),
            Err(e) => c.fail(&name, format!("getrlimit: {e}")),
        }
    }
}

const CAP_SETS: [(&str, &str); 5] = [
    ("bounding", "CapBnd"),
    ("effective", "CapEff"),
    ("inheritable", "CapInh"),
    ("permitted", "CapPrm"),
    ("ambient", "CapAmb"),
];

fn check_capabilities(c: &mut Checker, ctx: &Ctx, v: &Value) {
    if !v.is_object() {
        c.fail("config", "process.capabilities: want an object");
        return;
    }
    let last_cap = fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(40);
    let supported = caps::supported_mask(last_cap);
    // A set the config leaves out is empty, as runtimes apply it.
    let mut masks = [0u64; 5];
    for (i, (key, _)) in CAP_SETS.iter().enumerate() {
        let Some(list) = ptr(v, &format!("/{key}")) else {
            continue;
        };
        let what = format!("process.capabilities.{key}");
        let Some(names) = strings(c, &what, list) else {
            continue;
        };
        masks[i] = match caps::mask_of(&names) {
            Ok(m) => m,
            Err(unknown) => {
                c.fail(
                    "config",
                    format!("{what}: unknown capabilities {unknown:?}"),
                );
                caps::mask_of(
                    &names
                        .iter()
                        .filter(|n| !unknown.contains(n))
                        .collect::<Vec<_>>(),
                )
                .unwrap_or(0)
            }
        } & supported;
    }
    let configured = CapSets {
        bounding: masks[0],
        effective: masks[1],
        inheritable: masks[2],
        permitted: masks[3],
        ambient: masks[4],
    };
    let ids = sys::ids();
    let nnp = ctx.status_field("NoNewPrivs") == Ok("1");
    let want = caps::after_exec(configured, ids.uid == 0, ids.euid == 0, nnp);
    let want_masks = [
        want.bounding,
        want.effective,
        want.inheritable,
        want.permitted,
        want.ambient,
    ];
    for (i, (key, field)) in CAP_SETS.iter().enumerate() {
        let name = format!("process.capabilities.{key}");
        let got = match ctx.status_field(field) {
            Ok(s) => match procfs::parse_hex_mask(s) {
                Some(m) => m,
                None => {
                    c.fail(
                        &name,
                        format!("unparsable {field} {s:?} in /proc/self/status"),
                    );
                    continue;
                }
            },
            Err(e) => {
                c.fail(&name, e);
                continue;
            }
        };
        match caps::describe_diff(want_masks[i], got) {
            None => c.ok(&name),
            Some(d) => {
                let note = if want_masks[i] != masks[i] {
                    format!(
                        " [configured {:016x}, which execve turns into the wanted set for uid {}]",
                        masks[i], ids.euid
                    )
                } else {
                    String::new()
                };
                c.fail(&name, format!("{field}: {d}{note}"));
            }
        }
    }
}

// --------------------------------------------------------------- filesystem

fn check_root_readonly(c: &mut Checker, ctx: &Ctx) {
    if ptr(ctx.cfg, "/root/readonly").and_then(Value::as_bool) != Some(true) {
        return;
    }
    let probe = format!("/.runtimetest-probe-{}", std::process::id());
    let name = "root.readonly";
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = fs::remove_file(&probe);
            c.fail(
                name,
                format!("want EROFS creating {probe}, but it was created"),
            );
        }
        Err(e) if e.raw_os_error() == Some(libc::EROFS) => c.ok(name),
        Err(e) => c.fail(name, format!("want EROFS creating {probe}, got {e}")),
    }
}

fn check_mounts(c: &mut Checker, ctx: &Ctx) {
    let Some(v) = ptr(ctx.cfg, "/mounts") else {
        return;
    };
    let Some(list) = array(c, "mounts", v) else {
        return;
    };
    if let Err(e) = &ctx.mounts {
        c.fail("mounts", e);
        return;
    }
    let dests: Vec<String> = list
        .iter()
        .map(|m| procfs::clean_path(m.get("destination").and_then(Value::as_str).unwrap_or("")))
        .collect();
    for (i, m) in list.iter().enumerate() {
        let Some(dest) = m.get("destination").and_then(Value::as_str) else {
            c.fail("config", format!("mounts[{i}]: no destination"));
            continue;
        };
        let name = format!("mount {dest}");
        let options = match ptr(m, "/options") {
            Some(o) => match strings(c, &format!("{name}: options"), o) {
                Some(o) => o,
                None => continue,
            },
            None => Vec::new(),
        };
        let typ = m
            .get("type")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty());
        let mi = match ctx.mount_at(dest) {
            Ok(Some(mi)) => mi,
            Ok(None) => {
                c.fail(
                    &name,
                    "want a mount there, got none in /proc/self/mountinfo",
                );
                continue;
            }
            Err(e) => {
                c.fail(&name, e);
                continue;
            }
        };
        // A later config mount at the same place covers this one; only its
        // existence can be told.
        if dests[i + 1..].contains(&dests[i]) {
            c.ok(&name);
            continue;
        }
        let mut errors = Vec::new();
        if let Some(t) = typ {
            if !mounts::is_bind(typ, &options) && !mounts::fstype_matches(t, &mi.fs_type) {
                errors.push(format!("want type {t:?}, got {:?}", mi.fs_type));
            }
        }
        let want = mounts::expected_flags(&options);
        // On a cgroup v1 host a "cgroup" mount is a tmpfs holding one cgroup
        // mount per hierarchy; the options are about those (runc leaves the
        // tmpfs itself writable).
        let targets: Vec<&MountInfo> = if typ == Some("cgroup") && mi.fs_type == "tmpfs" {
            let prefix = format!("{}/", mi.mount_point.trim_end_matches('/'));
            let subs: Vec<&MountInfo> = ctx
                .mounts
                .as_deref()
                .unwrap_or_default()
                .iter()
                // Children of this tmpfs only: hierarchies of a tmpfs it
                // covers (a /sys rbind brings the host's) are not visible.
                .filter(|m| {
                    m.fs_type == "cgroup"
                        && m.parent_id == mi.mount_id
                        && m.mount_point.starts_with(&prefix)
                })
                .collect();
            if subs.is_empty() {
                errors.push(
                    "want cgroup v1 hierarchies mounted under the tmpfs, got none".to_string(),
                );
            }
            subs
        } else {
            vec![mi]
        };
        for t in targets {
            let which = if t.mount_point == mi.mount_point {
                String::new()
            } else {
                format!("{}: ", t.mount_point)
            };
            for flag in mounts::flag_mismatches(&want, &t.mount_options) {
                errors.push(format!(
                    "{which}want {flag}, got {:?}",
                    t.mount_options.join(",")
                ));
            }
        }
        c.all(&name, errors);
    }
}

fn check_default_devices(c: &mut Checker) {
    for (path, maj, min) in [
        ("/dev/null", 1, 3),
        ("/dev/zero", 1, 5),
        ("/dev/full", 1, 7),
        ("/dev/random", 1, 8),
        ("/dev/urandom", 1, 9),
        ("/dev/tty", 5, 0),
    ] {
        let name = format!("default device {path}");
        match fs::metadata(path) {
            Ok(m)
                if m.file_type().is_char_device()
                    && (sys::major(m.rdev()), sys::minor(m.rdev())) == (maj, min) =>
            {
                c.ok(&name)
            }
            Ok(m) => c.fail(
                &name,
                format!("want char device {maj}:{min}, got {}", file_kind(&m)),
            ),
            Err(e) => c.fail(&name, format!("want char device {maj}:{min}, got {e}")),
        }
    }
    match fs::symlink_metadata("/dev/ptmx") {
        Ok(_) => c.ok("default device /dev/ptmx"),
        Err(e) => c.fail("default device /dev/ptmx", e),
    }
    for (link, target) in [
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
    ] {
        check_symlink(c, link, target);
    }
    // Runtimes create /dev/core only when the host has /proc/kcore.
    if fs::symlink_metadata("/dev/core").is_ok() {
        check_symlink(c, "/dev/core", "/proc/kcore");
    } else {
        c.skip("default device /dev/core", "absent (optional)");
    }
}

fn check_symlink(c: &mut Checker, link: &str, target: &str) {
    let name = format!("default device {link}");
    match fs::read_link(link) {
        Ok(t) if t == Path::new(target) => c.ok(&name),
        Ok(t) => c.fail(&name, format!("want symlink to {target:?}, got {t:?}")),
        Err(e) => c.fail(&name, format!("want symlink to {target:?}, got {e}")),
    }
}

fn check_devices(c: &mut Checker, ctx: &Ctx) {
    let Some(v) = ptr(ctx.cfg, "/linux/devices") else {
        return;
    };
    let Some(list) = array(c, "linux.devices", v) else {
        return;
    };
    for d in list {
        let Some(path) = d.get("path").and_then(Value::as_str) else {
            c.fail("config", "linux.devices: entry without path");
            continue;
        };
        let name = format!("device {path}");
        let typ = d.get("type").and_then(Value::as_str).unwrap_or("");
        let m = match fs::metadata(path) {
            Ok(m) => m,
            Err(e) => {
                c.fail(&name, format!("want a {typ:?} device, got {e}"));
                continue;
            }
        };
        let ft = m.file_type();
        let mut errors = Vec::new();
        let type_ok = match typ {
            "c" | "u" => ft.is_char_device(),
            "b" => ft.is_block_device(),
            "p" => ft.is_fifo(),
            _ => {
                c.fail("config", format!("{name}: unknown type {typ:?}"));
                continue;
            }
        };
        if !type_ok {
            errors.push(format!("want type {typ:?}, got {}", file_kind(&m)));
        }
        if typ != "p" {
            let (maj, min) = (sys::major(m.rdev()), sys::minor(m.rdev()));
            if let Some(want) = opt_u64(c, &name, d, "major") {
                if want != maj {
                    errors.push(format!("want major {want}, got {maj}"));
                }
            }
            if let Some(want) = opt_u64(c, &name, d, "minor") {
                if want != min {
                    errors.push(format!("want minor {want}, got {min}"));
                }
            }
        }
        // A device bind-mounted from the host (as in user namespaces) keeps
        // the host's mode and owner.
        let bound = matches!(ctx.mount_at(path), Ok(Some(_)));
        let mode = opt_u64(c, &name, d, "fileMode");
        let uid = opt_u64(c, &name, d, "uid");
        let gid = opt_u64(c, &name, d, "gid");
        if bound {
            if mode.is_some() || uid.is_some() || gid.is_some() {
                c.skip(&name, "bind-mounted; fileMode/uid/gid are the host's");
            }
        } else {
            if let Some(want) = mode {
                let got = m.permissions().mode() & 0o7777;
                if want & 0o7777 != u64::from(got) {
                    errors.push(format!(
                        "want fileMode {:04o}, got {got:04o}",
                        want & 0o7777
                    ));
                }
            }
            if let Some(want) = uid {
                if want != u64::from(m.uid()) {
                    errors.push(format!("want uid {want}, got {}", m.uid()));
                }
            }
            if let Some(want) = gid {
                if want != u64::from(m.gid()) {
                    errors.push(format!("want gid {want}, got {}", m.gid()));
                }
            }
        }
        c.all(&name, errors);
    }
}

fn check_masked_paths(c: &mut Checker, ctx: &Ctx) {
    let Some(v) = ptr(ctx.cfg, "/linux/maskedPaths") else {
        return;
    };
    let Some(paths) = strings(c, "linux.maskedPaths", v) else {
        return;
    };
    for p in paths {
        let name = format!("maskedPaths {p}");
        match fs::metadata(&p) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => c.ok(&name),
            Err(e) => c.fail(&name, format!("cannot stat: {e}")),
            Ok(m) if m.is_dir() => match fs::read_dir(&p) {
                Ok(entries) => {
                    let names: Vec<String> = entries
                        .filter_map(Result::ok)
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect();
                    if names.is_empty() {
                        c.ok(&name);
                    } else {
                        c.fail(
                            &name,
                            format!(
                                "want an empty directory, got {} entries (first {:?})",
                                names.len(),
                                names[0]
                            ),
                        );
                    }
                }
                // A directory that cannot be listed cannot be read either.
                Err(e) if e.kind() == io::ErrorKind::PermissionDenied => c.ok(&name),
                Err(e) => c.fail(&name, format!("cannot list: {e}")),
            },
            Ok(m) => {
                let dev = (sys::major(m.rdev()), sys::minor(m.rdev()));
                if !m.file_type().is_char_device() || dev != (1, 3) {
                    c.fail(
                        &name,
                        format!(
                            "want /dev/null bound over it (char device 1:3), got {}",
                            file_kind(&m)
                        ),
                    );
                    continue;
                }
                let mut buf = [0u8; 64];
                match fs::File::open(&p).and_then(|mut f| f.read(&mut buf)) {
                    Ok(0) => c.ok(&name),
                    Ok(n) => c.fail(&name, format!("want 0 bytes read, got {n}")),
                    Err(e) => c.fail(&name, format!("cannot read: {e}")),
                }
            }
        }
    }
}

fn check_readonly_paths(c: &mut Checker, ctx: &Ctx) {
    let Some(v) = ptr(ctx.cfg, "/linux/readonlyPaths") else {
        return;
    };
    let Some(paths) = strings(c, "linux.readonlyPaths", v) else {
        return;
    };
    for p in paths {
        let name = format!("readonlyPaths {p}");
        if let Err(e) = fs::symlink_metadata(&p) {
            if e.kind() == io::ErrorKind::NotFound {
                c.skip(&name, "does not exist");
            } else {
                c.fail(&name, format!("cannot stat: {e}"));
            }
            continue;
        }
        match ctx.mount_at(&p) {
            Ok(Some(mi)) if mi.has_option("ro") => c.ok(&name),
            Ok(Some(mi)) => c.fail(
                &name,
                format!("want ro, got {:?}", mi.mount_options.join(",")),
            ),
            Ok(None) => c.fail(
                &name,
                "want a read-only mount there, got none in /proc/self/mountinfo",
            ),
            Err(e) => c.fail(&name, e),
        }
    }
}

/// `/proc/sys` file of a sysctl key: dots separate levels unless the key
/// already uses slashes (then dots are literal, as in interface names).
pub fn sysctl_path(key: &str) -> PathBuf {
    let rel = if key.contains('/') {
        key.trim_start_matches('/').to_string()
    } else {
        key.replace('.', "/")
    };
    Path::new("/proc/sys").join(rel)
}

fn check_sysctl(c: &mut Checker, ctx: &Ctx) {
    let Some(v) = ptr(ctx.cfg, "/linux/sysctl") else {
        return;
    };
    let Some(obj) = v.as_object() else {
        c.fail("config", "linux.sysctl: want an object");
        return;
    };
    for (key, want) in obj {
        let name = format!("sysctl {key}");
        let Some(want) = want.as_str() else {
            c.fail("config", format!("{name}: want a string value"));
            continue;
        };
        let path = sysctl_path(key);
        match fs::read_to_string(&path) {
            Ok(got) => {
                // Multi-value sysctls read back tab-separated.
                let w: Vec<&str> = want.split_whitespace().collect();
                let g: Vec<&str> = got.split_whitespace().collect();
                if w == g {
                    c.ok(&name);
                } else {
                    c.fail(&name, format!("want {want:?}, got {:?}", got.trim()));
                }
            }
            Err(e) => c.fail(&name, format!("cannot read {}: {e}", path.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysctl_paths() {
        assert_eq!(
            sysctl_path("net.ipv4.ip_forward"),
            Path::new("/proc/sys/net/ipv4/ip_forward")
        );
        assert_eq!(
            sysctl_path("net/ipv4/conf/eth0.100/forwarding"),
            Path::new("/proc/sys/net/ipv4/conf/eth0.100/forwarding")
        );
    }

    #[test]
    fn rlimit_text() {
        assert_eq!(fmt_rlim(u64::MAX), "unlimited");
        assert_eq!(fmt_rlim(1024), "1024");
    }
}
