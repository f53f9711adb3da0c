//! Handing a SCMP_ACT_NOTIFY listener to the agent at listenerPath, in
//! runc's format: the container process state as JSON with the fd in
//! SCM_RIGHTS.

use crate::SeccompError;
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// The ContainerProcessState document (runtime-spec state.go) for `pid`,
/// around the container's state JSON.
pub fn process_state(version: &str, pid: i32, metadata: Option<&str>, state_json: &str) -> String {
    let mut out = format!(
        "{{\"ociVersion\":{},\"fds\":[\"seccompFd\"],\"pid\":{pid}",
        json_string(version)
    );
    if let Some(m) = metadata.filter(|m| !m.is_empty()) {
        out.push_str(&format!(",\"metadata\":{}", json_string(m)));
    }
    out.push_str(&format!(",\"state\":{state_json}}}"));
    out
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Connects to `path` and sends `doc` with `listener` attached.
pub fn send_listener(path: &Path, doc: &str, listener: &OwnedFd) -> Result<(), SeccompError> {
    let err = |what: &str, e: &dyn std::fmt::Display| SeccompError::Field {
        field: "linux.seccomp.listenerPath".into(),
        reason: format!("{what} {}: {e}", path.display()),
    };
    let sock = UnixStream::connect(path).map_err(|e| err("connect to", &e))?;
    let fds = [listener.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(doc.as_bytes())];
    let n = sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), None)
        .map_err(|e| err("send the listener to", &e))?;
    if n != doc.len() {
        return Err(err("send the listener to", &"short write"));
    }
    Ok(())
}
