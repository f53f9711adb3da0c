//! `exec`: another process in a running container, as containerd and
//! podman start them (`exec --process P.json --detach --pid-file F`,
//! `exec --tty --console-socket S`).

use husk_integration::*;
use serde_json::json;

fn running(name: &str) -> Bundle {
    let b = Bundle::new(name, &["sleep", "300"]);
    b.create_and_start();
    b
}

#[test]
fn exec_joins_the_container() {
    let b = running("exec-join");
    let rt = b.runtime();
    let init = rt.pid(b.id());
    let ns = |pid: &str, n: &str| std::fs::read_link(format!("/proc/{pid}/ns/{n}")).unwrap();
    let out = rt.exec(&[
        "exec",
        b.id(),
        "sh",
        "-c",
        "echo pid=$$; hostname; for n in net mnt ipc; do readlink /proc/self/ns/$n; done",
    ]);
    out.ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_ne!(
        lines[0], "pid=1",
        "exec must not be the init: {}",
        out.stdout
    );
    assert_eq!(
        lines[1], "husk-it",
        "hostname of the container: {}",
        out.stdout
    );
    let init = init.to_string();
    for (line, n) in lines[2..].iter().zip(["net", "mnt", "ipc"]) {
        assert_eq!(
            Some(*line),
            ns(&init, n).to_str(),
            "{n} namespace of exec vs init"
        );
    }
    b.delete_force().ok();
    assert_no_leftovers(&b, b.id());
}

#[test]
fn exec_exit_codes_and_errors() {
    let b = running("exec-codes");
    let rt = b.runtime();
    let out = rt.exec(&["exec", b.id(), "sh", "-c", "exit 7"]);
    assert_eq!(out.code(), Some(7), "{}", out.describe());
    rt.exec(&["exec", b.id(), "no-such-program"])
        .failed_with_message()
        .stderr_mentions_any(&["executable file not found in $PATH"]);
    rt.exec(&["exec", "no-such-container", "true"])
        .failed_with_message()
        .stderr_mentions_any(&["no-such-container"]);
    b.delete_force().ok();
    assert_no_leftovers(&b, b.id());
}

#[test]
fn exec_flags_set_the_process() {
    let b = running("exec-flags");
    let out = b.runtime().exec(&[
        "exec",
        "--user",
        "1000:1001",
        "--additional-gids",
        "7",
        "--env",
        "FOO=bar",
        "--cwd",
        "/tmp",
        b.id(),
        "sh",
        "-c",
        "id -u; id -g; id -G; echo $FOO; pwd",
    ]);
    out.ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(&lines[..2], &["1000", "1001"], "{}", out.stdout);
    assert!(
        lines[2].split(' ').any(|g| g == "7"),
        "groups: {}",
        out.stdout
    );
    assert_eq!(&lines[3..], &["bar", "/tmp"], "{}", out.stdout);
    b.delete_force().ok();
    assert_no_leftovers(&b, b.id());
}

/// containerd's way: a full process.json, detached, with a pid file; the
/// process is in the container's cgroup.
#[test]
fn exec_process_file_detached() {
    let b = running("exec-process");
    let p = b.host_dir().join("process.json");
    std::fs::write(
        &p,
        json!({"args": ["sleep", "200"], "cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}})
            .to_string(),
    )
    .unwrap();
    let pid_file = b.host_dir().join("exec.pid");
    let (ps, pf) = (p.to_str().unwrap(), pid_file.to_str().unwrap());
    b.runtime()
        .exec(&[
            "exec",
            "--process",
            ps,
            "--detach",
            "--pid-file",
            pf,
            b.id(),
        ])
        .ok();
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let out = b.runtime().exec(&["ps", "--format", "json", b.id()]);
    out.ok();
    let pids: Vec<i32> = serde_json::from_str(out.stdout.trim()).unwrap();
    assert!(
        pids.contains(&pid),
        "exec'd pid {pid} not in the container's cgroup {pids:?}"
    );
    std::fs::write(&p, r#"{"args": "sleep"}"#).unwrap();
    b.runtime()
        .exec(&["exec", "--process", ps, b.id()])
        .failed_with_message()
        .stderr_mentions_any(&["args"]);
    b.delete_force().ok();
    assert!(
        poll(|| (!std::path::Path::new(&format!("/proc/{pid}")).exists()).then_some(())).is_some(),
        "the exec'd process outlived delete --force"
    );
    assert_no_leftovers(&b, b.id());
}

#[test]
fn exec_with_terminal() {
    let b = running("exec-tty");
    let sock = b.host_dir().join("console.sock");
    let rx = console_receiver(&sock);
    let s = sock.to_str().unwrap();
    b.runtime()
        .exec(&[
            "exec",
            "--tty",
            "--console-socket",
            s,
            "--detach",
            b.id(),
            "sh",
            "-c",
            "tty; echo DONE",
        ])
        .ok();
    let master = rx.join().unwrap().expect("pty master");
    let text = read_until(master, "DONE");
    assert!(
        text.contains("/dev/pts/"),
        "exec's stdio should be a pty: {text:?}"
    );
    b.delete_force().ok();
    assert_no_leftovers(&b, b.id());
}

#[test]
fn exec_paused_and_stopped() {
    let b = running("exec-paused");
    let rt = b.runtime();
    rt.exec(&["pause", b.id()]).ok();
    rt.exec(&["exec", b.id(), "true"])
        .failed_with_message()
        .stderr_mentions_any(&["paused"]);
    rt.exec(&["resume", b.id()]).ok();
    rt.exec(&["kill", b.id(), "KILL"]).ok();
    rt.wait_for_status(b.id(), "stopped");
    rt.exec(&["exec", b.id(), "true"])
        .failed_with_message()
        .stderr_mentions_any(&["stopped"]);
    b.delete().ok();
    assert_no_leftovers(&b, b.id());
}

/// runc's exit codes: exec's own failures (a missing program, a paused
/// container, a bad --pid-file, no such container) exit 255, so that an
/// engine can tell them from the program exiting 1.
#[test]
fn exec_failures_of_the_runtime_exit_255() {
    let b = running("exec-255");
    let rt = b.runtime();
    let bad_pid_file = b.host_dir().join("no/such/dir/pid");
    let cases: Vec<Vec<String>> = vec![
        vec!["exec".into(), b.id().into(), "no-such-program".into()],
        vec!["exec".into(), "no-such-container".into(), "true".into()],
        vec![
            "exec".into(),
            "--pid-file".into(),
            bad_pid_file.display().to_string(),
            b.id().into(),
            "true".into(),
        ],
    ];
    for args in &cases {
        let out = rt.exec(args);
        assert_eq!(out.code(), Some(255), "{args:?}: {}", out.describe());
    }
    rt.exec(&["pause", b.id()]).ok();
    let out = rt.exec(&["exec", b.id(), "true"]);
    assert_eq!(out.code(), Some(255), "paused: {}", out.describe());
    rt.exec(&["resume", b.id()]).ok();
    let out = rt.exec(&["exec", b.id(), "sh", "-c", "exit 1"]);
    assert_eq!(
        out.code(),
        Some(1),
        "the program's own 1: {}",
        out.describe()
    );
    b.delete_force().ok();
    assert_no_leftovers(&b, b.id());
}
