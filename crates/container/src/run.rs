//! The foreground part of `run`: reap the init and pass signals on to it.

use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// Orphans of the create chain (the init) are reparented to us, so that
/// `run` can wait for its container like a shell waits for a child.
pub fn become_subreaper() -> Result<(), String> {
    nix::sys::prctl::set_child_subreaper(true)
        .map_err(|e| format!("prctl(PR_SET_CHILD_SUBREAPER): {e}"))
}

/// Blocks the signals `run` and `exec` forward, from before the process
/// starts: one arriving between start and the wait must be queued for
/// forwarding, not kill husk with the default action and orphan the
/// container. Children reset their mask before exec.
pub fn block_forwarded_signals() {
    let _ = forwardable_signals().thread_block();
}

/// Blocks forwardable signals, relays each to `pid`, and returns the exit
/// code once it exits (128+N for a signal, as a shell reports it).
pub fn wait_and_forward(pid: i32) -> i32 {
    let set = forwardable_signals();
    let _ = set.thread_block();
    let target = Pid::from_raw(pid);
    loop {
        if let Some(code) = reap(target) {
            return code;
        }
        match set.wait() {
            Ok(Signal::SIGCHLD) => continue,
            // Ours to handle, not to forward: stop/continue come from the
            // terminal, and the container has its own tty if it wants one.
            Ok(Signal::SIGTSTP | Signal::SIGTTIN | Signal::SIGTTOU) => continue,
            Ok(sig) => {
                let _ = kill(target, sig);
            }
            Err(_) => continue,
        }
    }
}

/// Every signal but the two that cannot be caught.
pub(crate) fn forwardable_signals() -> SigSet {
    let mut set = SigSet::all();
    for s in [Signal::SIGKILL, Signal::SIGSTOP] {
        set.remove(s);
    }
    set
}

pub(crate) fn reap(target: Pid) -> Option<i32> {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(p, code)) if p == target => return Some(code),
            Ok(WaitStatus::Signaled(p, sig, _)) if p == target => return Some(128 + sig as i32),
            Ok(WaitStatus::StillAlive) => return None,
            Ok(_) => continue,
            // No children left at all: the init is gone without us seeing it.
            Err(nix::errno::Errno::ECHILD) => return Some(255),
            Err(_) => return None,
        }
    }
}
