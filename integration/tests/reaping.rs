//! The caller can reap the container init, as containerd-shim and conmon
//! do: they make themselves child subreapers, run `create` and `start`, and
//! collect the init's exit status with waitpid.
//!
//! In a file of its own: the whole test process becomes a subreaper.

use husk_integration::*;
use std::fs;

/// Makes this process a child subreaper: orphaned descendants (the
/// container init, once `create`'s intermediate process has exited) are
/// reparented to it rather than to the system's init.
fn become_subreaper() {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes an integer flag and touches no
    // memory of ours.
    let r = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    assert_eq!(
        r,
        0,
        "prctl(PR_SET_CHILD_SUBREAPER): {}",
        std::io::Error::last_os_error()
    );
}

/// waitpid(pid, WNOHANG) until it reports the process's end (at most
/// [`POLL_BOUND`]); the raw wait status.
#[track_caller]
fn wait_for_exit(pid: i32) -> i32 {
    let mut err = None;
    let status = poll(|| {
        let mut status = 0;
        // SAFETY: waitpid writes only to `status`, which outlives the call.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        match r {
            0 => None,
            r if r == pid => Some(status),
            _ => {
                err = Some(std::io::Error::last_os_error());
                Some(0)
            }
        }
    });
    if let Some(e) = err {
        let ppid = fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| status_field(&s, "PPid").map(str::to_string));
        panic!(
            "waitpid({pid}) failed: {e}; the init should be our child (we are pid {}, \
             its parent is {ppid:?})",
            std::process::id()
        );
    }
    status.unwrap_or_else(|| {
        panic!(
            "the container init {pid} did not exit within {}s",
            POLL_BOUND.as_secs()
        )
    })
}

#[test]
fn subreaper_caller_reaps_the_init() {
    become_subreaper();
    let b = Bundle::new("reap", &["sh", "-c", "exit 7"]);
    let pid_file = b.host_dir().join("init.pid");
    b.create_as(b.id(), &["--pid-file", pid_file.to_str().unwrap()])
        .ok();
    let text = fs::read_to_string(&pid_file)
        .unwrap_or_else(|e| panic!("read pid file {}: {e}", pid_file.display()));
    let pid: i32 = text
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("pid file holds {text:?}, not a pid: {e}"));
    assert_eq!(b.pid(), pid, "pid file vs state");
    b.start().ok();

    let status = wait_for_exit(pid);
    assert!(
        libc::WIFEXITED(status),
        "the init should have exited normally, wait status {status:#x}"
    );
    assert_eq!(
        libc::WEXITSTATUS(status),
        7,
        "the init's exit code (payload `exit 7`)"
    );

    let st = b.state();
    assert_eq!(
        st["status"], "stopped",
        "state after the init was reaped: {st}"
    );
    b.delete().ok();
    b.runtime().assert_gone(b.id());
    assert_no_leftovers(&b, b.id());
}
