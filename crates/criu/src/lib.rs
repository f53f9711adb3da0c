//! husk-criu: CRIU driven over its RPC interface (`criu swrk`), as runc
//! does: one protobuf message per SOCK_SEQPACKET datagram, the request, then
//! notifications the caller answers, then the reply. Only `checkpoint` and
//! `restore` reach this crate.

pub mod rpc;

use nix::sys::socket::{
    recvmsg, sendmsg, shutdown, socketpair, AddressFamily, ControlMessageOwned, MsgFlags, Shutdown,
    SockFlag, SockType,
};
use prost::Message;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

pub use rpc::{CgMode, ReqType};

#[derive(Debug, thiserror::Error)]
pub enum CriuError {
    #[error("criu: not found in PATH (install it: apt-get install criu)")]
    NotFound,
    #[error("criu: {op}: {err}")]
    Io {
        op: &'static str,
        err: std::io::Error,
    },
    #[error("criu {version} is too old: {what} needs {need} or later")]
    TooOld {
        version: String,
        what: &'static str,
        need: &'static str,
    },
    #[error("criu {req} failed: {reason}")]
    Failed { req: &'static str, reason: String },
    #[error("{0}")]
    Notify(String),
}

impl CriuError {
    fn io(op: &'static str, err: impl Into<std::io::Error>) -> Self {
        CriuError::Io {
            op,
            err: err.into(),
        }
    }
}

/// The `criu` in PATH.
pub fn find() -> Result<PathBuf, CriuError> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join("criu"))
        .find(|p| is_executable(p))
        .ok_or(CriuError::NotFound)
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// CRIU's version as major*10000 + minor*100 + sublevel, and as text.
#[derive(Debug, Clone)]
pub struct Version {
    pub number: u32,
    pub text: String,
}

impl Version {
    pub fn require(
        &self,
        number: u32,
        need: &'static str,
        what: &'static str,
    ) -> Result<(), CriuError> {
        if self.number >= number {
            return Ok(());
        }
        Err(CriuError::TooOld {
            version: self.text.clone(),
            what,
            need,
        })
    }
}

/// Asks `criu swrk` for its version (CRIU >= 3.0 answers VERSION).
pub fn version(criu: &Path) -> Result<Version, CriuError> {
    let s = Session::start(criu, &[], true)?;
    let req = rpc::Req {
        r#type: ReqType::Version as i32,
        ..Default::default()
    };
    let resp = s.run("version", req, |_, _, _| Ok(()))?;
    let v = resp.version.ok_or_else(|| CriuError::Failed {
        req: "version",
        reason: "no version in the reply (criu older than 3.0?)".into(),
    })?;
    let sub = v.sublevel.unwrap_or(0).max(0) as u32;
    let (maj, min) = (v.major_number.max(0) as u32, v.minor_number.max(0) as u32);
    Ok(Version {
        number: maj * 10000 + min * 100 + sub,
        text: format!(
            "{maj}.{min}{}",
            if sub > 0 {
                format!(".{sub}")
            } else {
                String::new()
            }
        ),
    })
}

/// One `criu swrk` process and the caller's end of its socket. Dropped
/// unfinished (an error before the request), CRIU sees EOF and exits; it
/// is waited for.
pub struct Session {
    sock: OwnedFd,
    child: Child,
    waited: bool,
}

impl Drop for Session {
    fn drop(&mut self) {
        if !self.waited {
            let _ = shutdown(self.sock.as_raw_fd(), Shutdown::Both);
            let _ = self.child.wait();
        }
    }
}

impl Session {
    /// Starts `criu swrk 3` with its end of the socket at fd 3 and
    /// `extra[i]` at fd 4+i (namespace files CRIU inherits), stdio from the
    /// caller unless `null_stdio`. Every other descriptor of ours is
    /// close-on-exec.
    pub fn start(criu: &Path, extra: &[RawFd], null_stdio: bool) -> Result<Session, CriuError> {
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| CriuError::io("socketpair", e))?;
        // Moved above every target number first, so that placing one
        // cannot overwrite another still to be placed.
        let mut high = vec![dup_high(theirs.as_raw_fd())?];
        for fd in extra {
            high.push(dup_high(*fd)?);
        }
        drop(theirs);
        let raw: Vec<RawFd> = high.iter().map(|f| f.as_raw_fd()).collect();
        let mut cmd = Command::new(criu);
        cmd.arg("swrk").arg("3");
        if null_stdio {
            cmd.stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
        }
        // SAFETY: the closure runs in the forked child before exec and only
        // calls dup2, which is async-signal-safe; it allocates nothing
        // (`raw` was built before the fork).
        unsafe {
            cmd.pre_exec(move || {
                for (i, fd) in raw.iter().enumerate() {
                    if libc::dup2(*fd, 3 + i as RawFd) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(|e| CriuError::io("start criu swrk", e))?;
        // Our copies of its end go now: a CRIU that dies gives EOF, not a hang.
        drop(high);
        Ok(Session {
            sock: ours,
            child,
            waited: false,
        })
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends `req`, answers notifications with `notify(script, pid, fd)` (the
    /// pid CRIU gives with it or 0, the descriptor it carried: the pty master
    /// of `orphan-pts-master`) until the reply of
    /// `req`'s type comes, then waits for CRIU to exit. A notification the
    /// caller refuses (Err) is not answered: CRIU then aborts (and undoes
    /// what it did).
    pub fn run(
        mut self,
        what: &'static str,
        req: rpc::Req,
        mut notify: impl FnMut(&str, i32, Option<OwnedFd>) -> Result<(), String>,
    ) -> Result<rpc::Resp, CriuError> {
        let want = req.r#type;
        self.send(&req)?;
        let resp = loop {
            let (resp, fd) = self.recv()?;
            if !resp.success {
                let _ = self.finish(what, true);
                return Err(failure(what, &resp));
            }
            if resp.r#type == ReqType::Notify as i32 {
                let n = resp.notify.clone().unwrap_or_default();
                let script = n.script.unwrap_or_default();
                if let Err(e) = notify(&script, n.pid.unwrap_or(0), fd) {
                    let _ = self.finish(what, true);
                    return Err(CriuError::Notify(e));
                }
                self.send(&rpc::Req {
                    r#type: ReqType::Notify as i32,
                    notify_success: Some(true),
                    ..Default::default()
                })?;
                continue;
            }
            if resp.r#type != want {
                let _ = self.finish(what, true);
                return Err(CriuError::Failed {
                    req: what,
                    reason: format!("unexpected reply of type {}", resp.r#type),
                });
            }
            break resp;
        };
        // A pre-dump server waits for the next request: closing our side
        // ends it, with a non-zero status that means nothing (runc too).
        self.finish(what, want == ReqType::PreDump as i32)?;
        Ok(resp)
    }

    fn send(&self, req: &rpc::Req) -> Result<(), CriuError> {
        let buf = req.encode_to_vec();
        sendmsg::<()>(
            self.sock.as_raw_fd(),
            &[IoSlice::new(&buf)],
            &[],
            MsgFlags::empty(),
            None,
        )
        .map_err(|e| CriuError::io("send to criu", e))?;
        Ok(())
    }

    fn recv(&self) -> Result<(rpc::Resp, Option<OwnedFd>), CriuError> {
        let mut buf = vec![0u8; 40960];
        let mut cmsg = nix::cmsg_space!([RawFd; 4]);
        let (n, fds) = {
            let mut iov = [IoSliceMut::new(&mut buf)];
            let msg = recvmsg::<()>(
                self.sock.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_CMSG_CLOEXEC,
            )
            .map_err(|e| CriuError::io("receive from criu", e))?;
            let mut fds = Vec::new();
            for c in msg
                .cmsgs()
                .map_err(|e| CriuError::io("receive from criu", e))?
            {
                if let ControlMessageOwned::ScmRights(r) = c {
                    // SAFETY: SCM_RIGHTS gave us these descriptors; nothing
                    // else owns them.
                    fds.extend(r.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }));
                }
            }
            (msg.bytes, fds)
        };
        if n == 0 {
            return Err(CriuError::Failed {
                req: "rpc",
                reason: "criu closed the connection (see its log)".into(),
            });
        }
        if n == buf.len() {
            return Err(CriuError::Failed {
                req: "rpc",
                reason: "reply larger than the receive buffer".into(),
            });
        }
        let resp = rpc::Resp::decode(&buf[..n]).map_err(|e| CriuError::Failed {
            req: "rpc",
            reason: format!("cannot decode criu's reply: {e}"),
        })?;
        Ok((resp, fds.into_iter().next()))
    }

    fn finish(&mut self, what: &'static str, ignore_status: bool) -> Result<(), CriuError> {
        let _ = shutdown(self.sock.as_raw_fd(), Shutdown::Write);
        self.waited = true;
        let st = self
            .child
            .wait()
            .map_err(|e| CriuError::io("wait for criu", e))?;
        if st.success() || ignore_status {
            return Ok(());
        }
        Err(CriuError::Failed {
            req: what,
            reason: format!("criu exited with {st}"),
        })
    }
}

fn failure(what: &'static str, resp: &rpc::Resp) -> CriuError {
    let mut reason = String::new();
    if let Some(e) = resp.cr_errno.filter(|e| *e != 0) {
        reason = format!("{}", std::io::Error::from_raw_os_error(e));
    }
    if let Some(m) = resp.cr_errmsg.as_deref().filter(|m| !m.is_empty()) {
        if !reason.is_empty() {
            reason.push_str(": ");
        }
        reason.push_str(m.trim());
    }
    if reason.is_empty() {
        reason = "no reason given".into();
    }
    CriuError::Failed { req: what, reason }
}

fn dup_high(fd: RawFd) -> Result<OwnedFd, CriuError> {
    // SAFETY: F_DUPFD_CLOEXEC makes a new descriptor we then own alone.
    let n = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 64) };
    if n < 0 {
        return Err(CriuError::io("dup", std::io::Error::last_os_error()));
    }
    // SAFETY: `n` is a fresh descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(n) })
}

/// The first lines of a CRIU log that say "Error", for a one-line message
/// that says more than "criu failed".
pub fn log_errors(log: &Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("Error") || l.contains("error"))
        .map(|l| l.trim())
        .take(3)
        .collect();
    (!lines.is_empty()).then(|| lines.join(" | "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_encodes_required_fields() {
        let req = rpc::Req {
            r#type: ReqType::Dump as i32,
            opts: Some(rpc::Opts {
                images_dir_fd: 5,
                pid: Some(42),
                ext_mnt: vec![rpc::ExtMountMap {
                    key: "/a".into(),
                    val: "/a".into(),
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        let b = req.encode_to_vec();
        // type = 1 (field 1, varint), then opts (field 2, length-delimited)
        assert_eq!(&b[..2], &[0x08, 0x01]);
        assert_eq!(b[2], 0x12);
        let back = rpc::Req::decode(&b[..]).unwrap();
        assert_eq!(back, req);
    }

    #[test]
    fn images_dir_fd_defaults_to_minus_one() {
        assert_eq!(rpc::Opts::default().images_dir_fd, -1);
    }

    #[test]
    fn reply_with_unknown_fields_decodes() {
        // type NOTIFY, success true, notify{script "post-dump", pid 7}, and
        // an unknown field 99 (varint 1): skipped.
        let mut b = vec![0x08, 0x06, 0x10, 0x01, 0x2a];
        let n = rpc::Notify {
            script: Some("post-dump".into()),
            pid: Some(7),
        }
        .encode_to_vec();
        b.push(n.len() as u8);
        b.extend(n);
        b.extend([0x98, 0x06, 0x01]);
        let r = rpc::Resp::decode(&b[..]).unwrap();
        assert!(r.success);
        assert_eq!(r.notify.unwrap().script.as_deref(), Some("post-dump"));
    }

    #[test]
    fn version_numbers() {
        let v = Version {
            number: 31701,
            text: "3.17.1".into(),
        };
        assert!(v.require(30000, "3.0", "checkpoint").is_ok());
        assert!(v.require(31800, "3.18", "x").is_err());
    }
}
