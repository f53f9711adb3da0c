//! The caller ↔ container-side channel of the create and exec chains: a
//! SOCK_SEQPACKET pair, so each message arrives whole, carrying one small
//! message (encoded by crate::wire) and optionally one file descriptor.
//!
//! Each direction has its own message type, and each end is typed by what
//! it sends and what it receives, so a side can only say what that side
//! says. The caller drives the chain as a fixed sequence of [`Step`]s in the
//! order the container side takes them (launch.rs, exec_into.rs): anything
//! else arriving is a protocol error naming what was expected.

use crate::error::{Error, Result};
use crate::wire::{put_u32, Reader, Wire};
use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};
use std::io::{IoSlice, IoSliceMut};
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Container side (the intermediate, the init, exec's process) → caller.
#[derive(PartialEq)]
#[cfg_attr(test, derive(Debug))]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
#[derive(PartialEq)]
#[cfg_attr(test, derive(Debug))]
pub enum Reply {
    /// Go on past the step.
    Proceed,
    /// To the init once the caller has recorded it: the container's state
    /// (status `creating`), for the hooks it runs; also its go.
    State(husk_spec::State),
    /// The source of mount `n` (fd attached), from the caller's helper.
    MountSource(usize),
}

impl Step {
    /// For protocol errors.
    pub fn name(self) -> &'static str {
        match self {
            Step::MapIds => "MapIds",
            Step::MountSources => "MountSources",
            Step::CreateHooks => "CreateHooks",
            Step::Console => "Console",
            Step::SeccompListener => "SeccompListener",
            Step::Ready => "Ready",
        }
    }
}

impl Report {
    /// For protocol errors (no Debug in the binary: it only names).
    pub fn name(&self) -> &'static str {
        match self {
            Report::At(s) => s.name(),
            Report::Pid(_) => "the pid",
            Report::Failed(_) => "a failure",
        }
    }
}

impl Reply {
    pub fn name(&self) -> &'static str {
        match self {
            Reply::Proceed => "Proceed",
            Reply::State(_) => "the state",
            Reply::MountSource(_) => "a mount source",
        }
    }
}

const STEPS: [Step; 6] = [
    Step::MapIds,
    Step::MountSources,
    Step::CreateHooks,
    Step::Console,
    Step::SeccompListener,
    Step::Ready,
];

impl Wire for Report {
    fn put(&self, out: &mut Vec<u8>) {
        match self {
            Report::At(s) => {
                out.push(0);
                out.push(STEPS.iter().position(|x| x == s).unwrap_or(0) as u8);
            }
            Report::Pid(p) => {
                out.push(1);
                put_u32(out, *p as u32);
            }
            Report::Failed(e) => {
                out.push(2);
                e.put(out);
            }
        }
    }

    fn get(r: &mut Reader) -> Option<Self> {
        Some(match r.u8()? {
            0 => Report::At(*STEPS.get(r.u8()? as usize)?),
            1 => Report::Pid(r.u32()? as i32),
            2 => Report::Failed(Error::get(r)?),
            _ => return None,
        })
    }
}

impl Wire for Reply {
    fn put(&self, out: &mut Vec<u8>) {
        match self {
            Reply::Proceed => out.push(0),
            Reply::State(s) => {
                out.push(1);
                s.put(out);
            }
            Reply::MountSource(i) => {
                out.push(2);
                put_u32(out, *i as u32);
            }
        }
    }

    fn get(r: &mut Reader) -> Option<Self> {
        Some(match r.u8()? {
            0 => Reply::Proceed,
            1 => Reply::State(husk_spec::State::get(r)?),
            2 => Reply::MountSource(r.u32()? as usize),
            _ => return None,
        })
    }
}

/// The receive buffer of a chain message, unless the message is larger.
const SMALL_MSG: usize = 4096;

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

impl<S: Wire, R: Wire> Channel<S, R> {
    pub fn send(&self, msg: &S) -> std::io::Result<()> {
        self.send_with_fd(msg, None)
    }

    pub fn send_with_fd(&self, msg: &S, fd: Option<RawFd>) -> std::io::Result<()> {
        send_bytes(&self.fd, &msg.encode(), fd)
    }

    /// Receives one message; a closed peer is `UnexpectedEof`.
    pub fn recv(&self) -> std::io::Result<(R, Option<OwnedFd>)> {
        let (data, fd) = recv_bytes(&self.fd)?;
        let msg = R::decode(&data).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "malformed chain message")
        })?;
        Ok((msg, fd))
    }
}

// The socket work is the same for both ends: not generic, so it exists once.
fn send_bytes(sock: &OwnedFd, data: &[u8], fd: Option<RawFd>) -> std::io::Result<()> {
    {
        let iov = [IoSlice::new(data)];
        let fds;
        let cmsg: Vec<ControlMessage> = match fd {
            Some(f) => {
                fds = [f];
                vec![ControlMessage::ScmRights(&fds)]
            }
            None => vec![],
        };
        sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), None)?;
        Ok(())
    }
}

fn recv_bytes(sock: &OwnedFd) -> std::io::Result<(Vec<u8>, Option<OwnedFd>)> {
    {
        // Most messages are a few bytes; the state (its annotations) can be
        // far larger: a peek with MSG_TRUNC says how large this one is.
        let mut buf = vec![0u8; SMALL_MSG];
        let whole = loop {
            match nix::sys::socket::recv(
                sock.as_raw_fd(),
                &mut buf,
                MsgFlags::MSG_PEEK | MsgFlags::MSG_TRUNC,
            ) {
                Err(nix::errno::Errno::EINTR) => continue,
                other => break other?,
            }
        };
        if whole > buf.len() {
            buf.resize(whole, 0);
        }
        let mut cmsg_space = nix::cmsg_space!([RawFd; 1]);
        let (n, fd) = {
            let mut iov = [IoSliceMut::new(&mut buf)];
            let r = loop {
                match recvmsg::<()>(
                    sock.as_raw_fd(),
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
        buf.truncate(n);
        Ok((buf, fd))
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
        self.send_with_fd(&Report::At(step), fd).map_err(|e| {
            Error::exited(format!("report {} to the caller: {e}", step.name())).errno(e)
        })
    }

    /// Waits for `Proceed`.
    pub fn expect_proceed(&self) -> Result<()> {
        match self.recv_reply()? {
            (Reply::Proceed, _) => Ok(()),
            (m, _) => Err(Error::protocol(format!(
                "protocol error: expected Proceed, got {}",
                m.name()
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
                "protocol error: expected {}, got {}",
                step.name(),
                other.name()
            ))),
        }
    }

    /// The same for a step that hands over a descriptor.
    pub fn expect_fd(&self, step: Step) -> Result<OwnedFd> {
        self.expect(step)?.ok_or_else(|| {
            Error::protocol(format!(
                "protocol error: {} without a descriptor",
                step.name()
            ))
        })
    }

    /// Waits for the pid of the process the intermediate forked.
    pub fn expect_pid(&self) -> Result<i32> {
        match self.next()? {
            (Report::Pid(p), _) => Ok(p),
            (other, _) => Err(Error::protocol(format!(
                "protocol error: expected the pid, got {}",
                other.name()
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
    fn a_large_state_crosses_whole() {
        let (caller, child) = pair().unwrap();
        let state = husk_spec::State {
            oci_version: "1.3.0".into(),
            id: "big".into(),
            pid: 1,
            status: husk_spec::Status::Creating,
            bundle: "/b".into(),
            rootfs: "/b/r".into(),
            created: String::new(),
            owner: String::new(),
            annotations: [("k".to_string(), "x".repeat(150 * 1024))].into(),
        };
        caller.reply(&Reply::State(state.clone())).unwrap();
        match child.recv_reply().unwrap() {
            (Reply::State(got), _) => assert_eq!(got, state),
            (m, _) => panic!("got {}", m.name()),
        }
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
