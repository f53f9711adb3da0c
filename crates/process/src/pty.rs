//! A pseudo-terminal made inside the container (its own devpts instance), so
//! the slave is the container's /dev/pts/N.

use nix::fcntl::OFlag;
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt, PtyMaster};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::path::PathBuf;

pub struct Pty {
    pub master: OwnedFd,
    pub slave_path: PathBuf,
}

pub fn open_pty() -> Result<Pty, String> {
    let m: PtyMaster = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .map_err(|e| format!("process.terminal: open /dev/ptmx: {e}"))?;
    grantpt(&m).map_err(|e| format!("process.terminal: grantpt: {e}"))?;
    unlockpt(&m).map_err(|e| format!("process.terminal: unlockpt: {e}"))?;
    let name = ptsname_r(&m).map_err(|e| format!("process.terminal: ptsname: {e}"))?;
    // SAFETY: into_raw_fd hands us the master's descriptor; we are now its
    // only owner.
    let master = unsafe { OwnedFd::from_raw_fd(m.into_raw_fd()) };
    Ok(Pty {
        master,
        slave_path: PathBuf::from(name),
    })
}

/// Makes the slave our controlling terminal and stdio.
pub fn attach_slave(
    slave_path: &std::path::Path,
    size: Option<husk_spec::ConsoleSize>,
) -> Result<(), String> {
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(slave_path)
        .map_err(|e| format!("process.terminal: open {}: {e}", slave_path.display()))?;
    let fd = slave.as_raw_fd();
    // SAFETY: TIOCSCTTY takes an int argument; fd is an open tty we own.
    if unsafe { libc::ioctl(fd, libc::TIOCSCTTY, 0) } < 0 {
        return Err(format!(
            "process.terminal: TIOCSCTTY: {}",
            std::io::Error::last_os_error()
        ));
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
        nix::unistd::dup2(fd, target).map_err(|e| format!("process.terminal: dup2: {e}"))?;
    }
    Ok(())
}
