//! The few raw syscalls the chain needs that nix does not wrap, each in the
//! smallest safe function.

use crate::error::{Error, Result};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Ends a forked child at once: no destructors, no atexit handlers, no
/// flushing of buffers that belong to the parent.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no memory of ours.
    unsafe { libc::_exit(code) }
}

pub fn set_dumpable(on: bool) -> Result<()> {
    nix::sys::prctl::set_dumpable(on)
        .map_err(|e| Error::system(format!("prctl(PR_SET_DUMPABLE): {e}")).errno(e))
}

pub fn set_keepcaps(on: bool) -> Result<()> {
    nix::sys::prctl::set_keepcaps(on)
        .map_err(|e| Error::system(format!("prctl(PR_SET_KEEPCAPS): {e}")).errno(e))
}

pub fn set_no_new_privs() -> Result<()> {
    nix::sys::prctl::set_no_new_privs()
        .map_err(|e| Error::field("process.noNewPrivileges", e.to_string()).errno(e))
}

/// Joins a new session keyring named for the container, so containers do
/// not share the host's keys.
pub fn join_session_keyring(name: &str) -> Result<()> {
    let c =
        std::ffi::CString::new(name).map_err(|_| Error::system("keyring name has a NUL byte"))?;
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: keyctl(JOIN_SESSION_KEYRING) reads the NUL-terminated name,
    // which outlives the call.
    let r = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, c.as_ptr()) };
    if r < 0 {
        let e = std::io::Error::last_os_error();
        // Kernels without keyrings, or a seccomp'd parent: nothing to isolate.
        if matches!(
            e.raw_os_error(),
            Some(libc::ENOSYS) | Some(libc::EACCES) | Some(libc::EPERM)
        ) {
            return Ok(());
        }
        return Err(Error::system(format!("join session keyring: {e}")).errno(e));
    }
    Ok(())
}

/// Marks every fd from `first` on close-on-exec (husk_host::fds: the
/// hooks runner needs the same before its exec).
pub fn cloexec_from(first: u32) -> Result<()> {
    husk_host::fds::cloexec_from(first)
        .map_err(|e| Error::system(e.to_string()).with_errno(e.errno()))
}

/// Restores default dispositions and an empty mask: ignored signals (Rust
/// ignores SIGPIPE) would otherwise survive exec into the user's program.
pub fn reset_signals() {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let dfl = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    for sig in Signal::iterator() {
        if sig != Signal::SIGKILL && sig != Signal::SIGSTOP {
            // SAFETY: installing SIG_DFL runs no code of ours in a handler.
            let _ = unsafe { sigaction(sig, &dfl) };
        }
    }
    let _ = SigSet::empty().thread_set_mask();
}

/// A pidfd for `pid`: later signals and waits address this process even if
/// the number is reused.
pub fn pidfd_open(pid: i32) -> std::io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes two integers and returns a new fd or -1.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel returned a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(r as i32) })
}

/// Waits until the process behind `fd` exits (true) or `timeout_ms` passes.
pub fn wait_pidfd(fd: &OwnedFd, timeout_ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `p` is one valid pollfd that lives across the call.
    let r = unsafe { libc::poll(&mut p, 1, timeout_ms) };
    r > 0
}

/// Field 22 of /proc/PID/stat: when the process started, in clock ticks
/// since boot. With the pid it identifies a process across pid reuse.
/// Also returns the state letter (field 3).
pub fn process_start_time(pid: i32) -> Option<(u64, char)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // comm (field 2) may contain spaces and parens: split after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut f = rest.split_whitespace();
    let state = f.next()?.chars().next()?;
    let start = f.nth(18)?.parse().ok()?;
    Some((start, state))
}

#[cfg(test)]
mod tests {
    #[test]
    fn start_time_of_self_is_stable() {
        let me = std::process::id() as i32;
        let a = super::process_start_time(me).unwrap();
        let b = super::process_start_time(me).unwrap();
        // The state letter may change between reads (the test harness's
        // other threads run); the start time may not.
        assert_eq!(a.0, b.0);
        assert!(a.0 > 0);
        assert!(super::process_start_time(i32::MAX).is_none());
    }
}

/// True in a user namespace other than the kernel's initial one, whose
/// uid_map alone maps every id to itself (runc's RunningInUserNS): where
/// rootless podman runs its runtime, with no user namespace in the config.
pub fn in_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map").is_ok_and(|m| !is_initial_uid_map(&m))
}

fn is_initial_uid_map(m: &str) -> bool {
    m.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"]
}

#[cfg(test)]
mod userns_tests {
    #[test]
    fn the_initial_uid_map() {
        assert!(super::is_initial_uid_map(
            "         0          0 4294967295\n"
        ));
        assert!(!super::is_initial_uid_map("0 1000 1\n1 100000 65536\n"));
    }
}
