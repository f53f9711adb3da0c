//! --console-socket: the pty master goes to the caller's unix socket with
//! SCM_RIGHTS, as runc sends it (containerd and conmon receive it).

use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

pub fn send_master(socket: &Path, master: &OwnedFd) -> Result<(), String> {
    let s = UnixStream::connect(socket)
        .map_err(|e| format!("--console-socket {}: connect: {e}", socket.display()))?;
    let name = b"/dev/ptmx";
    let iov = [IoSlice::new(name)];
    let fds = [master.as_raw_fd()];
    sendmsg::<()>(
        s.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| format!("--console-socket {}: send: {e}", socket.display()))?;
    Ok(())
}

/// Where a pty master goes, for create and exec alike: to --console-socket,
/// or kept for husk to relay itself (`run` in the foreground).
pub(crate) struct Target<'a> {
    socket: Option<&'a Path>,
    /// The master, when husk relays.
    pub relayed: Option<OwnedFd>,
}

impl<'a> Target<'a> {
    pub fn new(socket: Option<&'a Path>) -> Self {
        Target {
            socket,
            relayed: None,
        }
    }

    pub fn take(&mut self, master: OwnedFd) -> Result<(), husk_process::Error> {
        match self.socket {
            Some(s) => send_master(s, &master).map_err(husk_process::Error::system),
            None => {
                // The process may read its terminal size at once: set it
                // before the process goes on, not when relaying starts.
                crate::relay::copy_window_size(&master);
                self.relayed = Some(master);
                Ok(())
            }
        }
    }
}
