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
