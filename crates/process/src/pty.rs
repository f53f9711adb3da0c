//! A pseudo-terminal made inside the container (its own devpts instance).
//! The slave is reached from the master with TIOCGPTPEER, never by path, so
//! nothing planted in the rootfs can stand in for it (the CVE-2025-52565
//! class).

use crate::error::{Error, Result};
use nix::fcntl::OFlag;
use nix::pty::{grantpt, posix_openpt, unlockpt, PtyMaster};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::path::PathBuf;

pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
}

impl Pty {
    /// /proc/self/fd/N of the slave, for bind mounting it onto /dev/console.
    pub fn slave_proc_path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.slave.as_raw_fd()))
    }
}

/// A new pty whose slave belongs to `uid` (the process's user, as runc
/// gives it; the group stays devpts's tty group), so that a non-root
/// program can change its own terminal's settings.
pub fn open_pty(uid: u32) -> Result<Pty> {
    let m: PtyMaster = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .map_err(|e| terminal("open /dev/ptmx", e))?;
    grantpt(&m).map_err(|e| terminal("grantpt", e))?;
    unlockpt(&m).map_err(|e| terminal("unlockpt", e))?;
    // SAFETY: into_raw_fd hands us the master's descriptor; we are now its
    // only owner.
    let master = unsafe { OwnedFd::from_raw_fd(m.into_raw_fd()) };
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: TIOCGPTPEER takes the open flags as its integer argument and
    // returns a new descriptor for the slave, or -1.
    let fd = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, flags) };
    if fd < 0 {
        return Err(terminal(
            "open the pty slave (TIOCGPTPEER)",
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: the kernel just returned this descriptor; nothing else owns it.
    let slave = unsafe { OwnedFd::from_raw_fd(fd) };
    nix::unistd::fchown(
        slave.as_raw_fd(),
        Some(nix::unistd::Uid::from_raw(uid)),
        None,
    )
    .map_err(|e| terminal(&format!("give the pty to uid {uid}"), e))?;
    Ok(Pty { master, slave })
}

/// A failed step of process.terminal: "what: the system's reason".
fn terminal<E: std::fmt::Display + crate::error::ErrnoOf>(what: &str, e: E) -> Error {
    Error::field("process.terminal", format!("{what}: {e}")).errno(e)
}

/// Makes the slave our controlling terminal and stdio.
pub fn attach_slave(slave: &OwnedFd, size: Option<husk_spec::ConsoleSize>) -> Result<()> {
    let fd = slave.as_raw_fd();
    // SAFETY: TIOCSCTTY takes an int argument; fd is an open tty we own.
    if unsafe { libc::ioctl(fd, libc::TIOCSCTTY, 0) } < 0 {
        return Err(terminal("TIOCSCTTY", std::io::Error::last_os_error()));
    }
    if let Some(s) = size {
        let ws = libc::winsize {
            ws_row: s.height,
            ws_col: s.width,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads one winsize struct that outlives the call.
        unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) };
    }
    for target in 0..3 {
        nix::unistd::dup2(fd, target).map_err(|e| terminal("dup2", e))?;
    }
    Ok(())
}
