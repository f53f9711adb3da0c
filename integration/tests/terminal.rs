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
