//! Container lifecycle: create / start / state / kill / delete / run / list.

use husk_integration::*;
use serde_json::{json, Value};
use std::fs;
use std::path::Path;

/// A payload that exits on SIGTERM. A plain `sleep` would not do: PID 1 of
/// a pid namespace ignores every signal it has no handler for.
const TERM_PAYLOAD: &[&str] = &["sh", "-c", "trap 'exit 0' TERM; sleep 30 & wait"];

fn read_pid_file(p: &Path) -> i32 {
    let s = fs::read_to_string(p).unwrap_or_else(|e| panic!("read pid file {}: {e}", p.display()));
    s.trim()
        .parse()
        .unwrap_or_else(|e| panic!("pid file {} holds {s:?}, not a pid: {e}", p.display()))
}

fn process_exists(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Exists and is not a zombie.
fn process_alive(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| rest.to_string()))
        .is_some_and(|rest| !rest.starts_with('Z') && !rest.starts_with('X'))
}

#[test]
fn create_start_kill_delete() {
    let b = Bundle::new("lifecycle", TERM_PAYLOAD);
    let id = b.id();
    let pid_file = b.host_dir().join("container.pid");

    b.create_as(id, &["--pid-file", pid_file.to_str().unwrap()])
        .ok();
    let st = b.state();
    assert_eq!(st["status"], "created", "state after create: {st}");
    assert_eq!(st["id"], id, "state after create: {st}");
    assert_eq!(st["bundle"], b.path_str(), "state after create: {st}");
    assert!(
        st["ociVersion"].as_str().is_some_and(|v| !v.is_empty()),
        "state has no ociVersion: {st}"
    );
    assert!(
        st["created"].as_str().is_some_and(|v| v.contains('T')),
        "state has no RFC 3339 'created' time: {st}"
    );
    assert!(st["owner"].is_string(), "state has no owner string: {st}");
    let pid = st["pid"].as_i64().unwrap_or(0) as i32;
    assert!(pid > 0, "state after create has no pid > 0: {st}");
    assert_eq!(
        read_pid_file(&pid_file),
        pid,
        "pid file does not match the state's pid (state: {st})"
    );
    assert!(
        process_exists(pid),
        "created container's pid {pid} is not alive"
    );

    b.start().ok();
    assert_eq!(b.status(), "running", "status right after start");
    assert_eq!(b.pid(), pid, "pid changed between create and start");

    wait_for_signal_handler(pid, libc::SIGTERM);
    b.runtime().exec(&["kill", id]).ok(); // default signal: TERM
    let st = b.wait_for_status("stopped");
    assert_eq!(st["id"], id);

    b.delete().ok();
    b.runtime().assert_gone(id);
    assert_no_leftovers(&b, id);
}

#[test]
fn run_propagates_exit_code() {
    let b = Bundle::new("run-exit3", &["sh", "-c", "exit 3"]);
    let out = b.run(&[]);
    assert_eq!(
        out.code(),
        Some(3),
        "expected run to exit with the container's status 3\n{}",
        out.describe()
    );
    b.runtime().assert_gone(b.id());
    assert_no_leftovers(&b, b.id());
}

#[test]
fn run_detached() {
    let b = Bundle::new("run-detached", &["sleep", "30"]);
    let pid_file = b.host_dir().join("run.pid");
    b.run(&["-d", "--pid-file", pid_file.to_str().unwrap()])
        .ok();
    let st = b.state();
    assert_eq!(st["status"], "running", "state after run -d: {st}");
    let pid = st["pid"].as_i64().unwrap_or(0) as i32;
    assert!(pid > 0, "no pid in state: {st}");
    assert_eq!(read_pid_file(&pid_file), pid, "pid file vs state {st}");
    b.stop_and_delete();
    assert_no_leftovers(&b, b.id());
}

#[test]
fn run_keep_leaves_stopped_container() {
    let b = Bundle::new("run-keep", &["sh", "-c", "exit 0"]);
    b.run(&["--keep"]).ok();
    let st = b.state();
    assert_eq!(st["status"], "stopped", "state after run --keep: {st}");
    b.delete().ok();
    b.runtime().assert_gone(b.id());
    assert_no_leftovers(&b, b.id());
}

fn kill_with(name: &str, signal: &str) {
    let b = Bundle::new(name, &["sleep", "30"]);
    b.create_and_start();
    assert_eq!(b.status(), "running");
    b.kill(signal).ok();
    b.wait_for_status("stopped");
    b.delete().ok();
    assert_no_leftovers(&b, b.id());
}

#[test]
fn kill_by_full_signal_name() {
    kill_with("kill-sigkill", "SIGKILL");
}

#[test]
fn kill_by_short_signal_name() {
    kill_with("kill-kill", "KILL");
}

#[test]
fn kill_by_signal_number() {
    kill_with("kill-9", "9");
}

#[test]
fn kill_unknown_signal_fails() {
    let b = Bundle::new("kill-bogus", &["sleep", "30"]);
    b.create_and_start();
    b.kill("SIGBOGUS").failed_with_message();
    assert_eq!(
        b.status(),
        "running",
        "container should be unaffected by a rejected kill"
    );
    b.stop_and_delete();
    assert_no_leftovers(&b, b.id());
}

/// Without a pid namespace, killing the init leaves its children running:
/// only `kill --all` reaches every process of the container.
#[test]
fn kill_all_reaches_every_process() {
    let mut b = Bundle::new(
        "kill-all",
        &["sh", "-c", "sleep 100 & sleep 100 & sleep 100 & wait"],
    );
    b.remove_namespace("pid");
    b.create_and_start();
    let mut seen = Vec::new();
    let ready = poll(|| {
        seen = b.processes_in_rootfs();
        (seen.len() >= 4).then_some(())
    });
    assert!(
        ready.is_some(),
        "expected sh and 3 sleeps in the container, saw {seen:?}"
    );
    b.runtime().exec(&["kill", "--all", b.id(), "KILL"]).ok();
    b.wait_for_status("stopped");
    let gone = poll(|| b.processes_in_rootfs().is_empty().then_some(()));
    assert!(
        gone.is_some(),
        "processes survived kill --all: {:?}",
        b.processes_in_rootfs()
    );
    b.delete().ok();
    assert_no_leftovers(&b, b.id());
}

#[test]
fn delete_force_removes_running_container() {
    let b = Bundle::new("delete-force", &["sleep", "30"]);
    b.create_and_start();
    assert_eq!(b.status(), "running");
    b.delete_force().ok();
    b.runtime().assert_gone(b.id());
    assert_no_leftovers(&b, b.id());
}

/// runc accepts `delete --force` of a container that does not exist
/// (idempotent cleanup for callers such as containerd).
#[test]
fn delete_force_unknown_id_succeeds() {
    let b = Bundle::new("delete-force-unknown", &["true"]);
    b.delete_force().ok();
    assert_no_leftovers(&b, b.id());
}

/// A created container does not run its process until `start`, however
/// long it waits.
#[test]
fn created_container_waits_for_start() {
    let mut b = Bundle::new("created-waits", &["sh", "-c", "touch /out/ran"]);
    let out_dir = b.host_dir().join("out");
    fs::create_dir_all(&out_dir).unwrap();
    b.add_mount(bind_mount(&out_dir, "/out", &["rbind", "rw"]));
    b.create().ok();
    // Give a wrongly started payload ample time to run: nothing may happen.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let st = b.state();
    assert_eq!(st["status"], "created", "state long after create: {st}");
    let pid = st["pid"].as_i64().unwrap_or(0) as i32;
    assert!(
        pid > 0 && process_exists(pid),
        "created container's process is gone: {st}"
    );
    assert!(
        !out_dir.join("ran").exists(),
        "the payload ran before start"
    );
    b.start().ok();
    b.wait_for_status("stopped");
    assert!(
        out_dir.join("ran").exists(),
        "the payload did not run after start"
    );
    b.delete().ok();
    assert_no_leftovers(&b, b.id());
}

#[test]
fn process_exiting_on_its_own_shows_stopped() {
    let b = Bundle::new("exits", &["true"]);
    b.create_and_start();
    let st = b.wait_for_status("stopped");
    assert_eq!(st["id"], b.id());
    b.delete().ok();
    b.runtime().assert_gone(b.id());
    assert_no_leftovers(&b, b.id());
}

#[test]
fn state_reports_annotations() {
    let mut b = Bundle::new("annotations", &["sleep", "30"]);
    b.config_mut()["annotations"] = json!({ "org.example.key": "some value" });
    b.create().ok();
    let st = b.state();
    assert_eq!(
        st["annotations"]["org.example.key"], "some value",
        "state should carry config annotations: {st}"
    );
    b.delete_force().ok();
    assert_no_leftovers(&b, b.id());
}

/// Large annotations (Kubernetes allows 256 KiB in all) cross the create
/// chain whole: the state sent to the init carries them, and a
/// createContainer hook reads them from it.
#[test]
fn large_annotations_reach_the_init_s_hooks() {
    let big = "x".repeat(150 * 1024);
    let mut b = Bundle::new("annotations-big", &["true"]);
    b.config_mut()["annotations"] = json!({ "org.example.big": big });
    b.config_mut()["hooks"] = json!({"createContainer": [{
        "path": "/bin/sh",
        "args": ["sh", "-c", "wc -c > big-state"]
    }]});
    b.create().ok();
    let seen = std::fs::read_to_string(b.rootfs().join("big-state")).unwrap_or_default();
    let n: usize = seen.trim().parse().unwrap_or(0);
    assert!(
        n > 150 * 1024,
        "the createContainer hook read {n} bytes of state"
    );
    b.delete_force().ok();
    let _ = std::fs::remove_file(b.rootfs().join("big-state"));
    assert_no_leftovers(&b, b.id());
}

#[test]
fn list_shows_containers() {
    let b = Bundle::new("list", &["sleep", "30"]);
    let created = format!("{}-a", b.id());
    let running = format!("{}-b", b.id());
    b.create_as(&created, &[]).ok();
    b.run_as(&running, &["-d"], None).ok();
    let rt = b.runtime();

    let table = rt.exec(&["list"]);
    table.ok();
    let rows: Vec<Vec<&str>> = table
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(
        rows.first().is_some_and(|h| h.first() == Some(&"ID")),
        "list table should start with an ID header\n{}",
        table.describe()
    );
    for (id, status) in [(&created, "created"), (&running, "running")] {
        assert!(
            rows.iter()
                .any(|r| r.first() == Some(&id.as_str()) && r.contains(&status)),
            "list table should have a row for {id} with status {status}\n{}",
            table.describe()
        );
    }

    let js = rt.exec(&["list", "--format", "json"]);
    js.ok();
    let v: Value = serde_json::from_str(&js.stdout)
        .unwrap_or_else(|e| panic!("list --format json is not JSON: {e}\n{}", js.describe()));
    let arr = v.as_array().unwrap_or_else(|| panic!("not an array: {v}"));
    assert_eq!(arr.len(), 2, "expected 2 containers in {v}");
    for (id, status) in [(&created, "created"), (&running, "running")] {
        assert!(
            arr.iter()
                .any(|c| c["id"] == id.as_str() && c["status"] == status),
            "list json should have {id} with status {status}: {v}"
        );
    }

    let q = rt.exec(&["list", "-q"]);
    q.ok();
    let mut ids: Vec<&str> = q.stdout.lines().collect();
    ids.sort();
    let mut want = vec![created.as_str(), running.as_str()];
    want.sort();
    assert_eq!(
        ids,
        want,
        "list -q should print exactly the ids\n{}",
        q.describe()
    );

    rt.exec(&["delete", "--force", &created]).ok();
    rt.exec(&["delete", "--force", &running]).ok();
    assert_no_leftovers(&b, &created);
    assert_no_leftovers(&b, &running);
}

#[test]
fn run_captures_stdout_exactly() {
    let b = Bundle::new("stdout", &["echo", "hello"]);
    b.run(&[]).ok().stdout_is("hello\n");
    assert_no_leftovers(&b, b.id());
}

#[test]
fn run_passes_stdin_through() {
    let b = Bundle::new("stdin", &["cat"]);
    let input = "first line\nsecond line\n";
    let out = b.run_as(b.id(), &[], Some(input.as_bytes()));
    out.ok().stdout_is(input);
    assert_no_leftovers(&b, b.id());
}

/// A pid whose start time is not the recorded one belongs to another
/// process (the init died and the pid was reused): the container is
/// stopped, and `kill` must not reach that process. Simulated by editing
/// `pid_start` in husk's state.json.
#[test]
fn reused_pid_does_not_look_alive() {
    if skip_under_runc("reused_pid_does_not_look_alive", "edits husk's state.json") {
        return;
    }
    let b = Bundle::new("pid-reuse", &["sleep", "30"]);
    b.create_and_start();
    let pid = b.pid();
    let path = b.runtime().root().join(b.id()).join("state.json");
    let original =
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let mut state: Value = serde_json::from_str(&original)
        .unwrap_or_else(|e| panic!("{} is not JSON ({e}): {original}", path.display()));
    let start = state["pid_start"]
        .as_u64()
        .unwrap_or_else(|| panic!("no numeric pid_start in {}: {original}", path.display()));
    state["pid_start"] = json!(start + 12345);
    fs::write(&path, state.to_string()).unwrap();

    let st = b.state();
    assert_eq!(
        st["status"], "stopped",
        "with another start time recorded the pid is someone else's: {st}"
    );
    assert_eq!(st["pid"], 0, "a stopped container reports pid 0: {st}");
    b.kill("KILL").failed_with_message();
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(
        process_alive(pid),
        "kill signalled pid {pid}, which no longer counts as the container's"
    );

    fs::write(&path, &original).unwrap();
    assert_eq!(b.status(), "running", "after restoring pid_start");
    b.delete_force().ok();
    b.runtime().assert_gone(b.id());
    assert_no_leftovers(&b, b.id());
}

/// containerd runs `kill --all ID KILL` on containers that may already
/// have stopped: that succeeds. A plain `kill` of a stopped container
/// fails with a message.
#[test]
fn kill_of_stopped_container() {
    let b = Bundle::new("kill-stopped", &["true"]);
    b.create_and_start();
    b.wait_for_status("stopped");
    b.runtime().exec(&["kill", "--all", b.id(), "KILL"]).ok();
    b.kill("KILL").failed_with_message();
    assert_eq!(b.status(), "stopped", "after the kills");
    b.delete().ok();
    b.runtime().assert_gone(b.id());
    assert_no_leftovers(&b, b.id());
}

/// `run` in the foreground passes signals on to the container's init.
#[test]
fn run_forwards_signals() {
    let mut b = Bundle::new(
        "run-signal",
        &[
            "sh",
            "-c",
            "trap 'echo got-term; exit 42' TERM; touch /tmp/ready; while true; do sleep 0.05; done",
        ],
    );
    b.config_mut()["root"]["readonly"] = serde_json::json!(false);
    b.save();
    let mut cmd = b
        .runtime()
        .command(&["run", "--bundle", b.path_str(), b.id()]);
    cmd.stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn run");
    let ready = b.rootfs().join("tmp/ready");
    assert!(
        poll(|| ready.exists().then_some(())).is_some(),
        "the container never became ready"
    );
    // SAFETY: kill takes two integers and touches no memory of ours.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().expect("wait for run");
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    assert_eq!(
        status.code(),
        Some(42),
        "run should exit with the trap's status; stdout: {out}"
    );
    assert!(
        out.contains("got-term"),
        "the container did not see SIGTERM: {out}"
    );
    assert_no_leftovers(&b, b.id());
}

/// NOTIFY_SOCKET passthrough (podman --sdnotify=container): the container
/// notifies /run/notify/notify.sock; `start` passes READY=1 on to the
/// caller's socket with the container's MAINPID.
#[test]
fn notify_socket_passes_ready_on() {
    let mut b = Bundle::new("notify", &["true"]);
    if !b.use_runtimetest() {
        return;
    }
    b.set_args(&["sh", "-c", "/bin/runtimetest --notify READY=1; sleep 300"]);
    let host = b.host_dir().join("notify.sock");
    let listener = std::os::unix::net::UnixDatagram::bind(&host).expect("bind host notify socket");
    listener
        .set_read_timeout(Some(POLL_BOUND))
        .expect("set timeout");
    b.save();
    let rt = b.runtime();
    for verb in ["create", "start"] {
        let mut cmd = if verb == "create" {
            rt.command(&["create", "--bundle", b.path_str(), b.id()])
        } else {
            rt.command(&["start", b.id()])
        };
        cmd.env("NOTIFY_SOCKET", &host);
        rt.spawn(cmd, None).ok();
    }
    let mut buf = [0u8; 512];
    let n = listener
        .recv(&mut buf)
        .expect("a notification within the bound");
    let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
    let pid = rt.pid(b.id());
    assert!(msg.lines().any(|l| l == "READY=1"), "{msg:?}");
    assert!(
        msg.lines().any(|l| l == format!("MAINPID={pid}")),
        "{msg:?} (init pid {pid})"
    );
    b.delete_force().ok();
    assert_no_leftovers(&b, b.id());
}

/// `kill ID 0` is the existence probe (kill(2)'s signal 0, as runc takes
/// it): it succeeds on a live container, signals nothing, and fails on a
/// stopped one.
#[test]
fn kill_zero_probes_the_container() {
    let b = Bundle::new("kill-0", &["sleep", "30"]);
    b.create().ok();
    b.kill("0").ok();
    assert_eq!(b.status(), "created");
    b.start().ok();
    b.kill("0").ok();
    assert_eq!(b.status(), "running", "signal 0 must not stop it");
    b.kill("KILL").ok();
    b.wait_for_status("stopped");
    b.kill("0").failed_with_message();
    b.delete().ok();
    assert_no_leftovers(&b, b.id());
}
