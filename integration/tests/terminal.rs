//! `process.terminal` with `--console-socket`: the runtime sends the pty
//! master to the caller's unix socket (SCM_RIGHTS), as containerd's shim and
//! conmon receive it.

use husk_integration::*;
use serde_json::json;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::thread::JoinHandle;

/// Receives one message on `stream` and returns the descriptor it carries
/// in an SCM_RIGHTS control message.
fn recv_fd(stream: &UnixStream) -> std::io::Result<OwnedFd> {
    let mut data = [0u8; 256];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // Room for a few control messages, aligned as cmsghdr requires.
    let mut control = [0u64; 16];
    // SAFETY: msghdr is plain data for which all zeroes (null pointers,
    // zero lengths) is a valid value; the fields used are set below.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control);
    // SAFETY: `msg` points at `iov` and `control`, which live on this stack
    // frame for the whole call, with their true lengths; the kernel writes
    // only within them.
    let n = unsafe { libc::recvmsg(stream.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut fds = Vec::new();
    // SAFETY: the CMSG_* macros walk the control buffer the kernel filled in
    // (msg_controllen was updated to the length it wrote), never past it;
    // CMSG_DATA may be unaligned for an int, hence read_unaligned. Each
    // descriptor received is owned by this process from here on.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let len = (*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                let p = libc::CMSG_DATA(c).cast::<libc::c_int>();
                for i in 0..len / std::mem::size_of::<libc::c_int>() {
                    fds.push(OwnedFd::from_raw_fd(std::ptr::read_unaligned(p.add(i))));
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    if msg.msg_flags & libc::MSG_CTRUNC != 0 {
        return Err(std::io::Error::other("control message truncated"));
    }
    match fds.len() {
        1 => Ok(fds.pop().unwrap()),
        count => Err(std::io::Error::other(format!(
            "expected exactly one descriptor, got {count} (with data {:?})",
            String::from_utf8_lossy(&data[..(n as usize).min(data.len())])
        ))),
    }
}

/// Listens on `sock` and, in a thread, accepts one connection (waiting at
/// most [`POLL_BOUND`]) and receives the descriptor sent on it.
fn console_receiver(sock: &Path) -> JoinHandle<Result<OwnedFd, String>> {
    let listener =
        UnixListener::bind(sock).unwrap_or_else(|e| panic!("bind {}: {e}", sock.display()));
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let mut last_err = String::new();
        let stream = poll(|| match listener.accept() {
            Ok((s, _)) => Some(s),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
            Err(e) => {
                last_err = e.to_string();
                None
            }
        })
        .ok_or_else(|| {
            format!(
                "no connection on the console socket within {}s {last_err}",
                POLL_BOUND.as_secs()
            )
        })?;
        stream.set_nonblocking(false).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(POLL_BOUND))
            .map_err(|e| e.to_string())?;
        recv_fd(&stream).map_err(|e| format!("receiving the pty master: {e}"))
    })
}

/// Reads from the pty master until the output contains `marker` (for at
/// most [`POLL_BOUND`]); returns everything read.
fn read_until(master: OwnedFd, marker: &str) -> String {
    // SAFETY: fcntl on a descriptor this function owns; F_GETFL/F_SETFL
    // touch no memory of ours.
    let r = unsafe {
        let fl = libc::fcntl(master.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(master.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK)
    };
    assert!(
        r >= 0,
        "set O_NONBLOCK on the pty master: {}",
        std::io::Error::last_os_error()
    );
    let mut f = File::from(master);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let found = poll(|| {
        // EAGAIN: nothing yet; EIO: the container side is closed. Either
        // way, look at what has arrived so far.
        while let Ok(n @ 1..) = f.read(&mut buf) {
            out.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&out).contains(marker).then_some(())
    });
    let text = String::from_utf8_lossy(&out).into_owned();
    assert!(
        found.is_some(),
        "no {marker:?} from the container's terminal within {}s; read so far: {text:?}",
        POLL_BOUND.as_secs()
    );
    text
}

#[test]
fn console_socket_receives_the_pty_master() {
    let mut b = Bundle::new(
        "console-socket",
        &[
            "sh",
            "-c",
            "tty; test -c /dev/console && echo console-ok; echo DONE",
        ],
    );
    b.config_mut()["process"]["terminal"] = json!(true);
    let sock = b.host_dir().join("console.sock");
    let receiver = console_receiver(&sock);
    b.create_as(b.id(), &["--console-socket", sock.to_str().unwrap()])
        .ok();
    let master = receiver
        .join()
        .expect("console receiver thread panicked")
        .unwrap_or_else(|e| panic!("create succeeded but {e}"));
    assert_eq!(b.status(), "created", "status after create");
    b.start().ok();
    let text = read_until(master, "DONE");
    assert!(
        text.contains("/dev/pts/0"),
        "`tty` should name /dev/pts/0 (the container's own devpts): {text:?}"
    );
    assert!(
        text.contains("console-ok"),
        "/dev/console should be a character device: {text:?}"
    );
    b.wait_for_status("stopped");
    b.delete().ok();
    b.runtime().assert_gone(b.id());
    assert_no_leftovers(&b, b.id());
}

#[test]
fn terminal_without_console_socket_fails() {
    let mut b = Bundle::new("terminal-no-socket", &["true"]);
    b.config_mut()["process"]["terminal"] = json!(true);
    b.create()
        .failed_with_one_line()
        .stderr_mentions_any(&["console-socket", "console socket"]);
    b.runtime().assert_gone(b.id());
    assert_no_leftovers(&b, b.id());
}
