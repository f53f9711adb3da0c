//! The caller ↔ container-side channel of the create and exec chains: a
//! SOCK_SEQPACKET pair, so each message arrives whole, carrying a small
//! JSON message and optionally one file descriptor.
//!
//! Each direction has its own message type, and each end is typed by what
//! it sends and what it receives, so a side can only say what that side
//! says. The caller drives the chain as a fixed sequence of [`Step`]s in the
//! order the container side takes them (launch.rs, exec_into.rs): anything
//! else arriving is a protocol error naming what was expected.

use crate::error::{Error, Result};
use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::io::{IoSlice, IoSliceMut};
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Container side (the intermediate, the init, exec's process) → caller.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub enum Report {
    /// A step reached, waiting for the caller (see [`Step`]).
    At(Step),
    /// The host pid of the process the intermediate forked.
    Pid(i32),
    /// Failed; the chain is over.
    Failed(Error),
}

/// The points where the container side waits for the caller, in the order
/// they come.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum Step {
    /// Intermediate, in its new user namespace: write my uid/gid maps.
    MapIds,
    /// Intermediate, in its new mount namespace: open the bind sources.
    MountSources,
    /// Init: mounts are done; run prestart and createRuntime hooks.
    CreateHooks,
    /// Init or exec's process: here is the pty master (fd attached).
    Console,
    /// Init or exec's process: the seccomp NOTIFY listener (fd attached).
    SeccompListener,
    /// Init: set up, waiting for `start`. Nothing is answered.
    Ready,
}

/// Caller (or its bind-source helper) → container side.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub enum Reply {
    /// Go on past the step.
    Proceed,
    /// To the init once it is in its cgroup: the container state for the
    /// hooks it runs (status `creating`); also its go.
    State(husk_spec::State),
    /// The source of mount `n` (fd attached), from the caller's helper.
    MountSource(usize),
}

const MAX_MSG: usize = 64 * 1024;

/// One end of the pair: sends `S`, receives `R`.
pub struct Channel<S, R> {
    fd: OwnedFd,
    _types: PhantomData<fn(S) -> R>,
}

/// The caller's end.
pub type CallerEnd = Channel<Reply, Report>;
/// The container side's end.
pub type ChildEnd = Channel<Report, Reply>;

pub fn pair() -> std::io::Result<(CallerEnd, ChildEnd)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    Ok((
        Channel {
            fd: a,
            _types: PhantomData,
        },
        Channel {
            fd: b,
            _types: PhantomData,
        },
    ))
}

impl<S: Serialize, R: DeserializeOwned> Channel<S, R> {
    pub fn send(&self, msg: &S) -> std::io::Result<()> {
        self.send_with_fd(msg, None)
    }

    pub fn send_with_fd(&self, msg: &S, fd: Option<RawFd>) -> std::io::Result<()> {
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
    pub fn recv(&self) -> std::io::Result<(R, Option<OwnedFd>)> {
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
}

impl ChildEnd {
    /// Reports reaching `step` and waits for the caller's go.
    pub fn wait_at(&self, step: Step) -> Result<()> {
        self.report_at(step, None)?;
        self.expect_proceed()
    }

    /// The same, handing over `fd` with the step.
    pub fn wait_at_with_fd(&self, step: Step, fd: RawFd) -> Result<()> {
        self.report_at(step, Some(fd))?;
        self.expect_proceed()
    }

    /// Reports reaching `step` without waiting.
    pub fn report_at(&self, step: Step, fd: Option<RawFd>) -> Result<()> {
        self.send_with_fd(&Report::At(step), fd)
            .map_err(|e| Error::exited(format!("report {step:?} to the caller: {e}")).errno(e))
    }

    /// Waits for `Proceed`.
    pub fn expect_proceed(&self) -> Result<()> {
        match self.recv_reply()? {
            (Reply::Proceed, _) => Ok(()),
            (m, _) => Err(Error::protocol(format!(
                "protocol error: expected Proceed, got {m:?}"
            ))),
        }
    }

    pub fn recv_reply(&self) -> Result<(Reply, Option<OwnedFd>)> {
        self.recv()
            .map_err(|e| Error::exited(format!("the caller: {e}")).errno(e))
    }
}

impl CallerEnd {
    /// Waits for the container side to reach `step`; its failure is the
    /// error, as is anything else arriving.
    pub fn expect(&self, step: Step) -> Result<Option<OwnedFd>> {
        match self.next()? {
            (Report::At(s), fd) if s == step => Ok(fd),
            (other, _) => Err(Error::protocol(format!(
                "protocol error: expected {step:?}, got {other:?}"
            ))),
        }
    }

    /// The same for a step that hands over a descriptor.
    pub fn expect_fd(&self, step: Step) -> Result<OwnedFd> {
        self.expect(step)?.ok_or_else(|| {
            Error::protocol(format!("protocol error: {step:?} without a descriptor"))
        })
    }

    /// Waits for the pid of the process the intermediate forked.
    pub fn expect_pid(&self) -> Result<i32> {
        match self.next()? {
            (Report::Pid(p), _) => Ok(p),
            (other, _) => Err(Error::protocol(format!(
                "protocol error: expected the pid, got {other:?}"
            ))),
        }
    }

    /// The next report; `Failed` becomes the error it carries.
    pub fn next(&self) -> Result<(Report, Option<OwnedFd>)> {
        match self.recv() {
            Ok((Report::Failed(e), _)) => Err(e),
            Ok(m) => Ok(m),
            Err(e) => Err(Error::exited(e.to_string()).errno(e)),
        }
    }

    pub fn proceed(&self) -> Result<()> {
        self.reply(&Reply::Proceed)
    }

    pub fn reply(&self, m: &Reply) -> Result<()> {
        self.send(m)
            .map_err(|e| Error::exited(format!("exited: {e}")).errno(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_fds_cross() {
        let (caller, child) = pair().unwrap();
        child.send(&Report::Pid(42)).unwrap();
        assert_eq!(caller.expect_pid().unwrap(), 42);
        let f = std::fs::File::open("/dev/null").unwrap();
        child.report_at(Step::Console, Some(f.as_raw_fd())).unwrap();
        assert!(caller.expect(Step::Console).unwrap().is_some());
        drop(child);
        assert_eq!(
            caller.next().unwrap_err().kind,
            crate::error::ErrorKind::Exited
        );
    }

    #[test]
    fn a_step_out_of_order_is_a_protocol_error() {
        let (caller, child) = pair().unwrap();
        child.report_at(Step::Ready, None).unwrap();
        let e = caller.expect(Step::CreateHooks).unwrap_err();
        assert_eq!(e.kind, crate::error::ErrorKind::Protocol);
        assert!(e.to_string().contains("expected CreateHooks"), "{e}");
    }

    #[test]
    fn a_failure_arrives_typed() {
        let (caller, child) = pair().unwrap();
        let sent =
            Error::field("process.cwd", "chdir to /x: ENOENT").errno(nix::errno::Errno::ENOENT);
        child.send(&Report::Failed(sent.clone())).unwrap();
        assert_eq!(caller.expect(Step::Ready).unwrap_err(), sent);
    }
}
