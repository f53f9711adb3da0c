//! The container's processes as the host sees them: its pid namespace, the
//! processes in it, and SIGKILL-and-wait. Shared by kill, delete and the
//! cgroup verbs, which otherwise would reach into each other.

use crate::{Container, Status};
use nix::sys::signal::Signal;

/// `pid:[inode]` of a process's pid namespace.
pub(crate) fn pid_ns_of(pid: i32) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/ns/pid"))
        .ok()
        .and_then(|p| p.into_os_string().into_string().ok())
}

/// The container's own pid namespace: recorded at create, or (rootless,
/// where the init could not be inspected then) read from the running init.
pub(crate) fn own_pid_ns(c: &Container) -> Option<String> {
    c.state.pid_ns.clone().or_else(|| {
        // Only a live init (its start time checked) is ours to inspect: a
        // stopped container's pid may belong to anyone by now.
        if c.status() == Status::Stopped {
            return None;
        }
        let ns = pid_ns_of(c.state.pid)?;
        (pid_ns_of(std::process::id() as i32).as_ref() != Some(&ns)).then_some(ns)
    })
}

/// Host pids of the processes whose pid namespace is `ns` (the
/// `pid:[inode]` link text), in ascending order.
pub(crate) fn pids_in_pid_ns(ns: &str) -> Vec<i32> {
    let mut out: Vec<i32> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/ns/pid"))
                .is_ok_and(|l| l.as_os_str() == std::ffi::OsStr::new(ns))
        })
        .collect();
    out.sort_unstable();
    out
}

/// Ok(false): the process is gone (ESRCH).
pub(crate) fn pidfd_send_signal(
    fd: &std::os::fd::OwnedFd,
    sig: Option<Signal>,
) -> std::io::Result<bool> {
    use std::os::fd::AsRawFd;
    // SAFETY: pidfd_send_signal takes a pidfd, a signal number, a null
    // siginfo and flags 0; no memory of ours is read or written.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            sig.map_or(0, |s| s as i32),
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    match r {
        0 => Ok(true),
        _ => {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ESRCH) {
                Ok(false)
            } else {
                Err(e)
            }
        }
    }
}

/// SIGKILL and wait (bounded) until the process has exited.
pub(crate) fn kill_and_wait(pid: i32) {
    let Ok(fd) = husk_process::pidfd_open(pid) else {
        return;
    };
    let _ = pidfd_send_signal(&fd, Some(Signal::SIGKILL));
    if !husk_process::wait_pidfd(&fd, 10_000) {
        tracing::warn!("process {pid} did not exit within 10s of SIGKILL");
    }
}
