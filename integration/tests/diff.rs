//! Differential testing against runc (issue 15): every config of
//! `integration/corpus/` (what podman, containerd and its CRI plugin sent
//! husk in `make e2e`, `husk spec`, the runtime-spec's example, and
//! hand-written variants) runs under husk and under runc on the same
//! prepared rootfs, and the two runs are compared:
//! - the outcome of create, state, start, kill and delete;
//! - what the container sees: `runtimetest --dump` replaces the config's
//!   program and reports mounts, ids, capabilities, rlimits, devices,
//!   interfaces, fds, env, sysctls, cgroup files … (runtimetest/README.md);
//! - what is left on the host after delete (mounts, state, cgroups,
//!   processes).
//!
//! Every difference must be fixed or listed, with its reason, in
//! `integration/corpus/ALLOWED`; a new one fails the test. `make diff`
//! runs this file alone and prints the whole report.
//!
//! Placeholders in the corpus (written by hack/e2e/capture.py, and by hand):
//! `<ID>` the container id (`<ID12>` its first 12 characters), `<NS>` a
//! namespace path (a holder process is made with those namespaces),
//! `<DIR>/name` and `<FILE>/name` bind sources (made empty in a scratch
//! directory), `<TMP>` the scratch directory itself.

use husk_integration::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

fn runc_bin() -> PathBuf {
    let p = std::env::var_os("RUNC_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/sbin/runc"));
    assert!(
        p.is_file(),
        "{} not found: the differential tests need runc (apt-get install runc, or RUNC_BIN=)",
        p.display()
    );
    p
}

/// What one runtime did with one config.
#[derive(Debug, Default)]
struct Run {
    /// One entry per step: "create: ok", "start: exit 1", "state: running" …
    steps: Vec<String>,
    /// runtimetest's report, normalised.
    dump: Vec<String>,
    /// What delete left behind.
    leftovers: Vec<String>,
    /// The runtime's error output of a failed step, for the report.
    errors: Vec<String>,
}

/// A process holding the namespaces a config joins by path.
struct Holder {
    child: Child,
    pid: i32,
}

impl Holder {
    fn new(types: &BTreeSet<String>) -> Holder {
        let mut cmd = Command::new("unshare");
        for t in types {
            cmd.arg(match t.as_str() {
                "network" => "--net",
                "ipc" => "--ipc",
                "uts" => "--uts",
                "mount" => "--mount",
                "cgroup" => "--cgroup",
                "time" => "--time",
                "pid" => "--pid",
                other => panic!("no holder for a {other} namespace"),
            });
        }
        if types.contains("pid") {
            cmd.arg("--fork");
        }
        cmd.args(["sleep", "600"]).stdin(Stdio::null());
        let child = cmd.spawn().expect("spawn unshare");
        let unshare_pid = child.id() as i32;
        let pid = if types.contains("pid") {
            // The sleep is unshare's child, the first process of the new
            // pid namespace.
            poll(|| {
                fs::read_to_string(format!("/proc/{unshare_pid}/task/{unshare_pid}/children"))
                    .ok()?
                    .split_whitespace()
                    .next()?
                    .parse()
                    .ok()
            })
            .expect("the holder's child")
        } else {
            // unshare execs sleep once the namespaces exist.
            let _ = poll(|| {
                let comm = fs::read_to_string(format!("/proc/{unshare_pid}/comm")).ok()?;
                (comm.trim() == "sleep").then_some(())
            });
            unshare_pid
        };
        Holder { child, pid }
    }

    fn path(&self, t: &str) -> String {
        let name = if t == "network" { "net" } else { t };
        format!("/proc/{}/ns/{name}", self.pid)
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        // SAFETY: kill takes two integers and touches no memory of ours.
        unsafe { libc::kill(self.pid, libc::SIGKILL) };
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Replaces the corpus placeholders in every string of `v`.
fn substitute(v: &mut Value, f: &dyn Fn(&str) -> String) {
    match v {
        Value::String(s) => *s = f(s),
        Value::Array(a) => a.iter_mut().for_each(|x| substitute(x, f)),
        Value::Object(o) => o.values_mut().for_each(|x| substitute(x, f)),
        _ => {}
    }
}

/// Makes `<DIR>/name` and `<FILE>/name` bind sources in `scratch`.
fn make_sources(v: &Value, scratch: &Path) {
    for m in v["mounts"].as_array().into_iter().flatten() {
        let Some(src) = m["source"].as_str() else {
            continue;
        };
        if let Some(name) = src.strip_prefix("<DIR>/") {
            fs::create_dir_all(scratch.join(name)).unwrap();
        } else if let Some(name) = src.strip_prefix("<FILE>/") {
            fs::create_dir_all(scratch).unwrap();
            fs::write(scratch.join(name), "").unwrap();
        }
    }
}

/// The corpus config made runnable in `b`: our rootfs, runtimetest as the
/// program, placeholders filled in.
/// The placeholders of `v` filled in for bundle `b`.
fn fill(v: &mut Value, b: &Bundle) {
    let id = b.id().to_string();
    let scratch = b.dir().join("scratch");
    fs::create_dir_all(&scratch).unwrap();
    make_sources(v, &scratch);
    let scratch_s = scratch.to_string_lossy().into_owned();
    let id12: String = id.chars().take(12).collect();
    substitute(v, &|s: &str| {
        s.replace("<DIR>", &scratch_s)
            .replace("<FILE>", &scratch_s)
            .replace("<TMP>", &scratch_s)
            .replace("<ID12>", &id12)
            .replace("<ID>", &id)
    });
}

/// An `exec --process` file of the corpus made runnable: runtimetest
/// dumps what the exec'd process sees. Without a terminal: the replay
/// compares the process's setup, not the pty.
fn prepare_process(corpus: &Value, b: &Bundle) -> Value {
    let mut p = corpus.clone();
    fill(&mut p, b);
    p["args"] = json!(["/runtimetest", "--dump"]);
    p["terminal"] = json!(false);
    if let Some(o) = p.as_object_mut() {
        o.remove("commandLine");
        o.remove("consoleSize");
    }
    if let Some(cwd) = p["cwd"].as_str() {
        let _ = fs::create_dir_all(b.rootfs().join(cwd.trim_start_matches('/')));
    }
    p
}

fn prepare(corpus: &Value, b: &Bundle, holder: Option<&Holder>) -> Value {
    let mut c = corpus.clone();
    let id = b.id().to_string();
    fill(&mut c, b);
    for ns in c["linux"]["namespaces"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        if ns["path"] == "<NS>" {
            let t = ns["type"].as_str().unwrap_or_default().to_string();
            ns["path"] = json!(holder.expect("a holder for <NS>").path(&t));
        }
    }
    // As an engine prepares an image for a user namespace: the rootfs
    // belongs to the namespace's root.
    let host_of_root = |key: &str| {
        c["linux"][key].as_array().and_then(|maps| {
            maps.iter()
                .find(|m| m["containerID"] == 0)
                .and_then(|m| m["hostID"].as_u64())
        })
    };
    if let (Some(u), Some(g)) = (host_of_root("uidMappings"), host_of_root("gidMappings")) {
        let st = Command::new("chown")
            .args(["-R", "-h", &format!("{u}:{g}")])
            .arg(b.rootfs())
            .status()
            .expect("chown");
        assert!(st.success(), "chown the rootfs for the user namespace");
    }
    // An engine's own hook binary (dockerd's /proc/PID/exe libnetwork-setkey)
    // existed only for that run: a no-op hook keeps the hook's place.
    for hooks in c["hooks"]
        .as_object_mut()
        .into_iter()
        .flat_map(|h| h.values_mut())
    {
        for h in hooks.as_array_mut().into_iter().flatten() {
            if h["path"].as_str().is_some_and(|p| p.contains("<PID>")) {
                *h = json!({ "path": "/bin/true", "args": ["true"] });
            }
        }
    }
    let readonly = c["root"]["readonly"].as_bool().unwrap_or(false);
    c["root"] = json!({ "path": b.rootfs(), "readonly": readonly });
    let sysctls: Vec<String> = c["linux"]["sysctl"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    let mut args = vec!["/runtimetest".to_string(), "--dump".into(), "--hold".into()];
    args.extend(sysctls);
    if c["process"].is_null() {
        c["process"] = json!({ "cwd": "/" });
    }
    c["process"]["args"] = json!(args);
    c["process"].as_object_mut().unwrap().remove("commandLine");
    // The images the engines ran had these; ours is busybox only.
    if let Some(cwd) = c["process"]["cwd"].as_str() {
        let _ = fs::create_dir_all(b.rootfs().join(cwd.trim_start_matches('/')));
    }
    // Under the suite's own cgroup parent, so a test run never collides
    // with an engine's; a systemd-style path is kept (both runtimes get
    // the same).
    if let Some(p) = c["linux"]["cgroupsPath"].as_str() {
        if !p.contains(':') {
            c["linux"]["cgroupsPath"] = json!(format!("/{CGROUP_PARENT}/{id}"));
        }
    }
    c
}

/// Runs `cmd` with stdout and stderr to the given files; the exit code
/// (or -1 when it had to be killed after a minute).
fn run_with(mut cmd: Command, out: &Path, err: &Path) -> i32 {
    cmd.stdin(Stdio::null())
        .stdout(File::create(out).unwrap())
        .stderr(File::create(err).unwrap());
    let mut child = cmd.spawn().expect("spawn the runtime");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match child.try_wait() {
            Ok(Some(st)) => return st.code().unwrap_or(-1),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return -1;
            }
        }
    }
}

fn first_line(p: &Path) -> String {
    fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .to_string()
}

/// Reads the pty master until runtimetest's `end` line (10 s at most).
fn read_terminal(master: OwnedFd) -> String {
    // SAFETY: fcntl on a descriptor this function owns; F_GETFL/F_SETFL
    // touch no memory of ours.
    unsafe {
        let fl = libc::fcntl(master.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(master.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
    let mut f = File::from(master);
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        while let Ok(n @ 1..) = f.read(&mut buf) {
            out.extend_from_slice(&buf[..n]);
        }
        if String::from_utf8_lossy(&out).contains("\nend") {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    String::from_utf8_lossy(&out).replace('\r', "")
}

/// The namespaces of this test process: a container's equal one is "host".
fn namespaces_of(proc_dir: &str) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for t in [
        "cgroup",
        "ipc",
        "mnt",
        "net",
        "pid",
        "pid_for_children",
        "time",
        "user",
        "uts",
    ] {
        if let Ok(l) = fs::read_link(format!("{proc_dir}/ns/{t}")) {
            let l = l.to_string_lossy().into_owned();
            if let Some((_, n)) = l.split_once('[') {
                m.insert(t.to_string(), n.trim_end_matches(']').to_string());
            }
        }
    }
    m
}

/// runtimetest's report with what differs by run replaced: the id, the
/// scratch paths, namespace numbers (host, holder, new).
fn normalise(dump: &str, b: &Bundle, holder: Option<&Holder>) -> Vec<String> {
    let host = namespaces_of("/proc/self");
    let held = holder
        .map(|h| namespaces_of(&format!("/proc/{}", h.pid)))
        .unwrap_or_default();
    let id = b.id();
    let id12: String = id.chars().take(12).collect();
    let dir = b.dir().to_string_lossy().into_owned();
    let mut out = Vec::new();
    for line in dump.lines() {
        let mut l = line
            .replace(&dir, "<DIR>")
            .replace(id, "<ID>")
            .replace(&id12, "<ID12>");
        if let Some(rest) = l.strip_prefix("ns ") {
            if let Some((t, n)) = rest.split_once(' ') {
                let base = t.trim_end_matches("_for_children");
                let what = if host.get(t) == Some(&n.to_string()) {
                    "host"
                } else if held.get(base) == Some(&n.to_string()) {
                    "holder"
                } else if n == "absent" {
                    "absent"
                } else {
                    "new"
                };
                l = format!("ns {t} {what}");
            }
        }
        out.push(l);
    }
    out
}

/// create, state, start, (dump), state, kill, state, delete, leftovers.
fn run_one(
    name: &str,
    corpus: &Value,
    processes: &[(String, Value)],
    bin: PathBuf,
    runtimetest: &Path,
) -> Run {
    let mut run = Run::default();
    let joins: BTreeSet<String> = corpus["linux"]["namespaces"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| n["path"] == "<NS>")
        .filter_map(|n| n["type"].as_str().map(String::from))
        .collect();
    let holder = (!joins.is_empty()).then(|| Holder::new(&joins));
    let mut b = Bundle::with_runtime_bin(
        &format!("diff-{}", &name[..name.len().min(20)]),
        &["true"],
        bin,
    );
    let dest = b.rootfs().join("runtimetest");
    fs::copy(runtimetest, &dest).expect("copy runtimetest");
    let config = prepare(corpus, &b, holder.as_ref());
    b.set_config(config.clone());
    b.save();
    let id = b.id().to_string();
    let rt = b.runtime();
    let io = b.dir().join("diff-io");
    fs::create_dir_all(&io).unwrap();
    let terminal = config["process"]["terminal"].as_bool().unwrap_or(false);

    let step = |run: &mut Run, what: &str, args: &[&str]| -> i32 {
        let out = io.join(format!("{what}.out"));
        let err = io.join(format!("{what}.err"));
        let code = run_with(rt.command(args), &out, &err);
        if code == 0 {
            run.steps.push(format!("{what}: ok"));
        } else {
            run.steps.push(format!("{what}: exit {code}"));
            run.errors.push(format!("{what}: {}", first_line(&err)));
        }
        code
    };
    let state = |run: &mut Run| {
        let out = rt.exec(&["state", &id]);
        let s = serde_json::from_str::<Value>(&out.stdout)
            .ok()
            .and_then(|v| v["status"].as_str().map(String::from))
            .unwrap_or_else(|| "none".into());
        run.steps.push(format!("state: {s}"));
        s
    };

    let dump_file = io.join("dump.out");
    let bundle = b.path_str().to_string();
    let console = b.dir().join("console.sock");
    let receiver = terminal.then(|| console_receiver(&console));
    let console_s = console.to_string_lossy().into_owned();
    let mut create_args = vec!["create", "--bundle", bundle.as_str()];
    if terminal {
        create_args.extend(["--console-socket", console_s.as_str()]);
    }
    create_args.push(&id);
    // Not `step`: the container's stdout is this file.
    let code = run_with(rt.command(&create_args), &dump_file, &io.join("create.err"));
    if code == 0 {
        run.steps.push("create: ok".into());
    } else {
        run.steps.push(format!("create: exit {code}"));
        run.errors
            .push(format!("create: {}", first_line(&io.join("create.err"))));
    }
    if code == 0 {
        let master = receiver.map(|r| r.join().unwrap());
        state(&mut run);
        step(&mut run, "start", &["start", &id]);
        let text = match master {
            Some(Ok(m)) => read_terminal(m),
            Some(Err(e)) => format!("console: {e}"),
            None => {
                let _ = poll(|| {
                    fs::read_to_string(&dump_file)
                        .ok()?
                        .contains("\nend")
                        .then_some(())
                });
                fs::read_to_string(&dump_file).unwrap_or_default()
            }
        };
        run.dump = normalise(&text, &b, holder.as_ref());
        if !run.dump.iter().any(|l| l == "end") {
            run.steps.push("dump: incomplete".into());
        }
        state(&mut run);
        for (k, (pname, proc_corpus)) in processes.iter().enumerate() {
            let file = io.join(format!("exec-{k}.json"));
            fs::write(&file, prepare_process(proc_corpus, &b).to_string()).unwrap();
            let out = io.join(format!("exec-{k}.out"));
            let err = io.join(format!("exec-{k}.err"));
            let file_s = file.to_string_lossy().into_owned();
            // Detached, as the engines' shims call it: the process gets the
            // caller's descriptors under both runtimes (a foreground runc
            // exec relays stdio through pipes of its own).
            let code = run_with(
                rt.command(&["exec", "--detach", "--process", &file_s, &id]),
                &out,
                &err,
            );
            run.steps.push(format!("exec {pname}: exit {code}"));
            if code != 0 {
                run.errors
                    .push(format!("exec {pname}: {}", first_line(&err)));
            }
            let _ = poll(|| {
                fs::read_to_string(&out)
                    .ok()?
                    .contains("\nend")
                    .then_some(())
            });
            let text = fs::read_to_string(&out).unwrap_or_default();
            run.dump.extend(
                normalise(&text, &b, holder.as_ref())
                    .into_iter()
                    .map(|l| format!("exec {pname}: {l}")),
            );
        }
        step(&mut run, "kill", &["kill", &id, "TERM"]);
        let stopped = poll(|| {
            let v: Value = serde_json::from_str(&rt.exec(&["state", &id]).stdout).ok()?;
            (v["status"] == "stopped").then_some(())
        });
        if stopped.is_none() {
            run.steps.push("TERM did not stop it".into());
            let _ = rt.exec(&["kill", &id, "KILL"]);
            let _ = rt.wait_for_status(&id, "stopped");
        }
        state(&mut run);
        step(&mut run, "delete", &["delete", &id]);
    }
    // With the cgroupsPath the bundle really got (a default under the
    // suite's parent when the corpus has none).
    run.leftovers = leftovers(&b, &id, &b.config_for(&id));
    drop(holder);
    run
}

fn leftovers(b: &Bundle, id: &str, config: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let mounts = mounts_under(b.dir());
    if !mounts.is_empty() {
        found.push(format!("mounts under the bundle: {}", mounts.len()));
    }
    if b.runtime().root().join(id).exists() {
        found.push("state directory".into());
    }
    if let Some(p) = config["linux"]["cgroupsPath"].as_str() {
        for mp in cgroup_mountpoints() {
            let d = mp.join(p.trim_start_matches('/'));
            if !p.contains(':') && d.exists() {
                found.push(format!("cgroup {}", d.display()));
            }
        }
    }
    let procs = poll(|| b.processes_in_rootfs().is_empty().then_some(()));
    if procs.is_none() {
        found.push("processes in the rootfs".into());
    }
    found
}

/// The differences between runc's run (`-`) and husk's (`+`).
fn compare(r: &Run, h: &Run) -> Vec<String> {
    let mut d = Vec::new();
    if r.steps != h.steps {
        d.push(format!(
            "steps: runc [{}] husk [{}]",
            r.steps.join(", "),
            h.steps.join(", ")
        ));
    }
    // What runc could not run at all: husk's run is checked for being whole
    // (the steps line above names both), not listed line by line.
    if r.dump.is_empty() && !h.dump.is_empty() {
        if !h.dump.iter().any(|l| l == "end") {
            d.push("husk's dump is incomplete".into());
        }
        for l in &h.leftovers {
            d.push(format!("husk left: {l}"));
        }
        return d;
    }
    let count = |v: &[String]| {
        let mut m: BTreeMap<String, usize> = BTreeMap::new();
        for l in v {
            *m.entry(l.clone()).or_default() += 1;
        }
        m
    };
    let (rc, hc) = (count(&r.dump), count(&h.dump));
    for (l, n) in &rc {
        if hc.get(l).copied().unwrap_or(0) < *n {
            d.push(format!("-{l}"));
        }
    }
    for (l, n) in &hc {
        if rc.get(l).copied().unwrap_or(0) < *n {
            d.push(format!("+{l}"));
        }
    }
    if d.is_empty() {
        let order = |v: &[String]| -> Vec<String> {
            v.iter()
                .filter(|l| l.starts_with("mount "))
                .cloned()
                .collect()
        };
        if order(&r.dump) != order(&h.dump) {
            d.push("mount order differs".into());
        }
    }
    for l in &h.leftovers {
        d.push(format!("husk left: {l}"));
    }
    for l in &r.leftovers {
        d.push(format!("runc left: {l}"));
    }
    d
}

/// One entry of ALLOWED: `CONFIG-GLOB | TEXT | REASON`: a difference of a
/// config whose name matches the glob (`*` at either end) and that
/// contains TEXT is known and explained.
struct Allowed {
    glob: String,
    text: String,
    reason: String,
    used: std::cell::Cell<bool>,
}

fn load_allowed() -> Vec<Allowed> {
    let text = fs::read_to_string(corpus_dir().join("ALLOWED")).unwrap_or_default();
    let mut v = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = line.splitn(3, " | ").collect();
        assert!(
            parts.len() == 3 && !parts[2].trim().is_empty(),
            "ALLOWED line {}: want `CONFIG-GLOB | TEXT | REASON`: {line}",
            n + 1
        );
        v.push(Allowed {
            glob: parts[0].trim().to_string(),
            text: parts[1].trim().to_string(),
            reason: parts[2].trim().to_string(),
            used: Default::default(),
        });
    }
    v
}

/// `text` occurs in `line` and ends where a field ends (a space, a comma,
/// a colon or the end), so `mount /` is the root's line, not every mount's.
fn contains_token(line: &str, text: &str) -> bool {
    line.match_indices(text).any(|(at, _)| {
        matches!(
            line[at + text.len()..].chars().next(),
            None | Some(' ' | ',' | ':')
        )
    })
}

fn glob_matches(glob: &str, name: &str) -> bool {
    match (glob.strip_prefix('*'), glob.strip_suffix('*')) {
        _ if glob == "*" => true,
        (Some(rest), _) if rest.ends_with('*') => name.contains(rest.trim_end_matches('*')),
        (Some(rest), _) => name.ends_with(rest),
        (None, Some(rest)) => name.starts_with(rest),
        (None, None) => name == glob,
    }
}

/// The `exec --process` files captured in the same scenario as config
/// `name` (`S.process.json`, `S-2.process.json` …), replayed in the first
/// config of that scenario only.
fn process_files(name: &str, all: &[(String, Value)]) -> Vec<(String, Value)> {
    let is_numbered = |n: &str| {
        n.rsplit_once('-')
            .is_some_and(|(_, k)| !k.is_empty() && k.bytes().all(|c| c.is_ascii_digit()))
    };
    if is_numbered(name) {
        return Vec::new();
    }
    all.iter()
        .filter(|(p, _)| {
            let stem = p.trim_end_matches(".process");
            stem == name
                || stem
                    .strip_prefix(name)
                    .and_then(|r| r.strip_prefix('-'))
                    .is_some_and(|k| k.bytes().all(|c| c.is_ascii_digit()))
        })
        .cloned()
        .collect()
}

/// The corpus's JSON files, sorted, by name without `.json`: the
/// `exec --process` files (`*.process.json`) or the configs.
fn read_corpus(processes: bool) -> Vec<(String, Value)> {
    let mut files: Vec<PathBuf> = fs::read_dir(corpus_dir())
        .expect("integration/corpus")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && p.to_string_lossy().ends_with(".process.json") == processes
        })
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            let v = serde_json::from_str(&fs::read_to_string(&p).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (name, v)
        })
        .collect()
}

#[test]
fn corpus_runs_the_same_under_husk_and_runc() {
    if skip_under_runc(
        "corpus_runs_the_same_under_husk_and_runc",
        "it compares husk with runc",
    ) {
        return;
    }
    let Some(runtimetest) = runtimetest_bin() else {
        panic!("the differential tests need runtimetest (RUNTIMETEST_BIN; make runtimetest)");
    };
    let runc = runc_bin();
    let only = std::env::var("DIFF_ONLY").ok();
    let allowed = load_allowed();
    let mut report = String::new();
    let mut new = Vec::new();
    let files = read_corpus(false);
    let all_processes = read_corpus(true);
    assert!(!files.is_empty(), "the corpus is empty");
    for (name, cfg) in &files {
        if only.as_ref().is_some_and(|o| !name.contains(o.as_str())) {
            continue;
        }
        let procs = process_files(name, &all_processes);
        let r = run_one(name, cfg, &procs, runc.clone(), &runtimetest);
        let h = run_one(name, cfg, &procs, require_runtime_bin(), &runtimetest);
        let diffs = compare(&r, &h);
        report.push_str(&format!(
            "== {name}: {} difference(s); husk [{}]\n",
            diffs.len(),
            h.steps.join(", ")
        ));
        for e in r
            .errors
            .iter()
            .map(|e| format!("runc {e}"))
            .chain(h.errors.iter().map(|e| format!("husk {e}")))
        {
            report.push_str(&format!("   ! {e}\n"));
        }
        for d in diffs {
            // An exec'd process's line is allowed as the init's would be.
            let plain = match d.split_at_checked(1) {
                Some((sign @ ("+" | "-"), rest)) if rest.starts_with("exec ") => rest
                    .split_once(": ")
                    .map(|(_, l)| format!("{sign}{l}"))
                    .unwrap_or_else(|| d.clone()),
                _ => d.clone(),
            };
            let known = allowed.iter().find(|a| {
                glob_matches(&a.glob, name)
                    && (contains_token(&d, &a.text) || contains_token(&plain, &a.text))
            });
            match known {
                Some(a) => {
                    a.used.set(true);
                    report.push_str(&format!("   allowed {d}\n"));
                }
                None => {
                    report.push_str(&format!("   NEW     {d}\n"));
                    new.push(format!("{name}: {d}"));
                }
            }
        }
    }
    println!("{report}");
    if only.is_none() {
        for a in allowed.iter().filter(|a| !a.used.get()) {
            println!(
                "note: ALLOWED entry no longer needed: {} | {}",
                a.glob, a.text
            );
        }
    }
    assert!(
        new.is_empty(),
        "{} difference(s) from runc that ALLOWED does not list (fix them, or list them with a reason):\n{}",
        new.len(),
        new.join("\n")
    );
}

const README_BEGIN: &str = "<!-- ALLOWED: generated from integration/corpus/ALLOWED -->";
const README_END: &str = "<!-- /ALLOWED -->";

/// The README's table of accepted differences, from ALLOWED.
fn readme_block(allowed: &[Allowed]) -> String {
    let mut b = format!("{README_BEGIN}\n| configs | difference | why |\n| --- | --- | --- |\n");
    for a in allowed {
        let cell = |t: &str| t.replace('|', "\\|");
        b.push_str(&format!(
            "| `{}` | `{}` | {} |\n",
            cell(&a.glob),
            cell(&a.text),
            cell(&a.reason)
        ));
    }
    b.push_str(README_END);
    b
}

/// The README's "Where husk differs from runc" section carries the
/// ALLOWED list as a table: they must not drift apart. DIFF_WRITE_README=1
/// rewrites the table.
#[test]
fn readme_lists_every_allowed_difference() {
    let readme_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let readme = fs::read_to_string(&readme_path).expect("README.md");
    let want = readme_block(&load_allowed());
    let (Some(start), Some(end)) = (readme.find(README_BEGIN), readme.find(README_END)) else {
        panic!("README.md has no {README_BEGIN} … {README_END} block");
    };
    let have = &readme[start..end + README_END.len()];
    if have == want {
        return;
    }
    if std::env::var_os("DIFF_WRITE_README").is_some() {
        let new = format!(
            "{}{want}{}",
            &readme[..start],
            &readme[end + README_END.len()..]
        );
        fs::write(&readme_path, new).unwrap();
        return;
    }
    panic!("README.md's table of differences from runc is not integration/corpus/ALLOWED's: run DIFF_WRITE_README=1 cargo test -p husk-integration --test diff readme");
}
