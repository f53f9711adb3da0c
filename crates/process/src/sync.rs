//! The parent ↔ child channel of the create chain: a SOCK_SEQPACKET pair, so
//! each message arrives whole, carrying a small JSON message and optionally
//! one file descriptor (the pty master).

use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};
use serde::{Deserialize, Serialize};
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub enum Msg {
    /// Intermediate → parent: write my uid/gid maps now.
    MapIds,
    /// Parent → child: go on.
    Proceed,
    /// Intermediate → parent: the container init's pid (host view).
    InitPid(i32),
    /// Parent → init: the container state (JSON) for hooks; also the go.
    State(String),
    /// Intermediate → parent: open the bind sources in my mount namespace.
    MountSources,
    /// Parent's helper → intermediate: the source of mount `n` (fd attached).
    MountSource(usize),
    /// Init → parent: mounts are done, run prestart/createRuntime hooks.
    RunCreateHooks,
    /// Init → parent: here is the pty master (fd attached).
    Console,
    /// Container side → parent: the seccomp NOTIFY listener (fd attached),
    /// for listenerPath.
    SeccompListener,
    /// Init → parent: everything is set up; waiting for `start`.
    Ready,
    /// Any → other side: failed; the text is the one-line reason.
    Error(String),
}

const MAX_MSG: usize = 64 * 1024;

pub struct Channel {
    fd: OwnedFd,
}

pub fn pair() -> std::io::Result<(Channel, Channel)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

impl Channel {
    pub fn send(&self, msg: &Msg) -> std::io::Result<()> {
        self.send_with_fd(msg, None)
    }

    pub fn send_with_fd(&self, msg: &Msg, fd: Option<RawFd>) -> std::io::Result<()> {
        let data = serde_json::to_vec(msg).map_err(std::io::Error::other)?;
        let iov = [IoSlice::new(&data)];
        let fds;
        let cmsg: Vec<ControlMessage> = match fd {
            Some(f) => {
                fds = [f];
                vec![ControlMessage::ScmRights(&fds)]
            }
            None => vec![],
        };
        sendmsg::<()>(self.fd.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), None)?;
        Ok(())
    }

    /// Receives one message; a closed peer is `UnexpectedEof`.
    pub fn recv(&self) -> std::io::Result<(Msg, Option<OwnedFd>)> {
        let mut buf = vec![0u8; MAX_MSG];
        let mut cmsg_space = nix::cmsg_space!([RawFd; 1]);
        let (n, fd) = {
            let mut iov = [IoSliceMut::new(&mut buf)];
            let r = loop {
                match recvmsg::<()>(
                    self.fd.as_raw_fd(),
                    &mut iov,
                    Some(&mut cmsg_space),
                    MsgFlags::MSG_CMSG_CLOEXEC,
                ) {
                    Err(nix::errno::Errno::EINTR) => continue,
                    other => break other?,
                }
            };
            let mut fd = None;
            for c in r.cmsgs()? {
                if let ControlMessageOwned::ScmRights(fds) = c {
                    for f in fds {
                        // SAFETY: the kernel just installed `f` in our table
                        // for this message; nothing else owns it.
                        let owned = unsafe { OwnedFd::from_raw_fd(f) };
                        fd.get_or_insert(owned);
                    }
                }
            }
            (r.bytes, fd)
        };
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the other side of the create chain exited",
            ));
        }
        let msg = serde_json::from_slice(&buf[..n]).map_err(std::io::Error::other)?;
        Ok((msg, fd))
    }

    /// Waits for `Proceed`; an `Error` from the other side becomes the error.
    pub fn expect_proceed(&self) -> Result<(), String> {
        match self.recv() {
            Ok((Msg::Proceed, _)) => Ok(()),
            Ok((Msg::Error(e), _)) => Err(e),
            Ok((m, _)) => Err(format!("protocol error: unexpected {m:?}")),
            Err(e) => Err(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_fds_cross() {
        let (a, b) = pair().unwrap();
        a.send(&Msg::InitPid(42)).unwrap();
        assert_eq!(b.recv().unwrap().0, Msg::InitPid(42));
        let f = std::fs::File::open("/dev/null").unwrap();
        a.send_with_fd(&Msg::Console, Some(f.as_raw_fd())).unwrap();
        let (m, fd) = b.recv().unwrap();
        assert_eq!(m, Msg::Console);
        assert!(fd.is_some());
        drop(a);
        assert_eq!(
            b.recv().unwrap_err().kind(),
            std::io::ErrorKind::UnexpectedEof
        );
    }
}
