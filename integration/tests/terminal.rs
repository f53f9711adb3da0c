//! `process.terminal` with `--console-socket`: the runtime sends the pty
//! master to the caller's unix socket (SCM_RIGHTS), as containerd's shim and
//! conmon receive it.

use husk_integration::*;
use serde_json::json;

#[test]
fn console_socket_receives_the_pty_master() {
    let mut b = Bundle::new(
        "console-socket",
        &[
            "sh",
            "-c",
            "tty; test -c /dev/console && echo console-ok; echo DONE",
        ],
    );
    b.config_mut()["process"]["terminal"] = json!(true);
    let sock = b.host_dir().join("console.sock");
    let receiver = console_receiver(&sock);
    b.create_as(b.id(), &["--console-socket", sock.to_str().unwrap()])
        .ok();
    let master = receiver
        .join()
        .expect("console receiver thread panicked")
        .unwrap_or_else(|e| panic!("create succeeded but {e}"));
    assert_eq!(b.status(), "created", "status after create");
    b.start().ok();
    let text = read_until(master, "DONE");
    assert!(
        text.contains("/dev/pts/0"),
        "`tty` should name /dev/pts/0 (the container's own devpts): {text:?}"
    );
    assert!(
        text.contains("console-ok"),
        "/dev/console should be a character device: {text:?}"
    );
    b.wait_for_status("stopped");
    b.delete().ok();
    b.runtime().assert_gone(b.id());
    assert_no_leftovers(&b, b.id());
}

#[test]
fn terminal_without_console_socket_fails() {
    let mut b = Bundle::new("terminal-no-socket", &["true"]);
    b.config_mut()["process"]["terminal"] = json!(true);
    b.create()
        .failed_with_one_line()
        .stderr_mentions_any(&["console-socket", "console socket"]);
    b.runtime().assert_gone(b.id());
    assert_no_leftovers(&b, b.id());
}

/// `run` with a terminal and no --console-socket: husk relays the pty
/// itself. Driven from a real terminal made by `script`.
#[test]
fn run_relays_the_terminal_itself() {
    if is_runc() {
        skip_under_runc(
            "run_relays_the_terminal_itself",
            "runc also relays, but its output differs",
        );
        return;
    }
    let mut b = Bundle::new(
        "tty-relay",
        &[
            "sh",
            "-c",
            "tty; stty size; read line; echo got:$line; exit 4",
        ],
    );
    b.config_mut()["process"]["terminal"] = json!(true);
    b.save();
    let cmd = format!(
        "stty cols 100 rows 30; {} --root {} run --bundle {} {}",
        husk_bin().display(),
        b.runtime().root().display(),
        b.path_str(),
        b.id()
    );
    let mut child = std::process::Command::new("script")
        .args(["-qfec", &cmd, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("script (bsdutils) runs");
    // The line is buffered by the pty until the shell reads it, so it may be
    // written at once.
    use std::io::Write as _;
    child.stdin.as_mut().unwrap().write_all(b"hello\n").unwrap();
    let out = child.wait_with_output().expect("wait for script");
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    assert!(
        text.contains("/dev/pts/0"),
        "the process should be on a pty: {text:?}"
    );
    assert!(
        text.contains("30 100"),
        "the window size should be passed on: {text:?}"
    );
    assert!(
        text.contains("got:hello"),
        "stdin should reach the container: {text:?}"
    );
    assert_eq!(
        out.status.code(),
        Some(4),
        "exit status through the relay: {text:?}"
    );
    assert_no_leftovers(&b, b.id());
}

/// The pty slave belongs to the process's user (the group stays tty's), as
/// runc gives it, for the init and for `exec -t`: a non-root program can
/// then change its own terminal's settings.
#[test]
fn the_terminal_belongs_to_the_process_user() {
    let mut b = Bundle::new(
        "tty-owner",
        &["sh", "-c", "stat -c owner=%u:%g $(tty); sleep 30"],
    );
    b.config_mut()["process"]["terminal"] = json!(true);
    b.config_mut()["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    let sock = b.host_dir().join("console.sock");
    let receiver = console_receiver(&sock);
    b.create_as(b.id(), &["--console-socket", sock.to_str().unwrap()])
        .ok();
    let master = receiver.join().unwrap().expect("pty master");
    b.start().ok();
    let text = read_until(master, "owner=");
    let text = read_owner(text);
    assert_eq!(text, "1000:5", "init's terminal owner");
    let sock2 = b.host_dir().join("exec.sock");
    let receiver = console_receiver(&sock2);
    let rt = b.runtime();
    rt.exec(&[
        "exec",
        "-t",
        "--detach",
        "--console-socket",
        sock2.to_str().unwrap(),
        "--user",
        "1234:1234",
        b.id(),
        "sh",
        "-c",
        "stat -c owner=%u:%g $(tty); sleep 1",
    ])
    .ok();
    let master = receiver.join().unwrap().expect("exec pty master");
    let text = read_owner(read_until(master, "owner="));
    assert_eq!(text, "1234:5", "exec -t terminal owner");
    b.delete_force().ok();
    assert_no_leftovers(&b, b.id());
}

/// "owner=U:G" out of a terminal's text (which may still be arriving).
fn read_owner(text: String) -> String {
    text.split("owner=")
        .nth(1)
        .map(|r| r.split_whitespace().next().unwrap_or("").to_string())
        .unwrap_or_default()
}
