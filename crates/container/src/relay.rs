//! `run -t` / `exec -t` without --console-socket: husk holds the pty master
//! and copies between it and its own terminal (in raw mode), passes window
//! size changes on, forwards signals, and returns the exit code.

use crate::run::{forwardable_signals, reap};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};
use nix::unistd::Pid;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// Puts stdin back the way it was when dropped.
struct RawMode(Option<Termios>);

impl RawMode {
    fn enter() -> RawMode {
        let stdin = std::io::stdin();
        let Ok(saved) = tcgetattr(stdin.as_fd()) else {
            return RawMode(None); // not a terminal: plain copying
        };
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        let _ = tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw);
        RawMode(Some(saved))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = &self.0 {
            let _ = tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, t);
        }
    }
}

/// Copies our terminal's size to the container's.
pub(crate) fn copy_window_size(master: &impl AsRawFd) {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize into `ws`, which outlives the
    // call; on a non-terminal it fails and `ws` is left untouched.
    if unsafe { libc::ioctl(0, libc::TIOCGWINSZ, &mut ws) } == 0 {
        // SAFETY: TIOCSWINSZ reads one winsize from `ws`.
        unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    }
}

pub fn relay_and_wait(master: OwnedFd, pid: i32) -> i32 {
    let set = forwardable_signals();
    let _ = set.thread_block();
    let Ok(sfd) = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC) else {
        return crate::wait_and_forward(pid);
    };
    let _raw = RawMode::enter();
    copy_window_size(&master);
    let target = Pid::from_raw(pid);
    let mut master_file = std::fs::File::from(master);
    let mut stdin_open = true;
    let mut master_open = true;
    let mut buf = [0u8; 8192];
    let mut code = None;
    loop {
        if let Some(c) = code {
            // The process is gone: pass on what it still wrote, then stop.
            drain(&mut master_file, &mut buf);
            return c;
        }
        let stdin = std::io::stdin();
        // A closed side is polled with no events, which keeps the indices.
        let events = |open: bool| {
            if open {
                PollFlags::POLLIN
            } else {
                PollFlags::empty()
            }
        };
        let mut fds = vec![
            PollFd::new(master_file.as_fd(), events(master_open)),
            PollFd::new(sfd.as_fd(), PollFlags::POLLIN),
            PollFd::new(stdin.as_fd(), events(stdin_open)),
        ];
        if poll(&mut fds, PollTimeout::NONE).is_err() {
            continue;
        }
        let ready = |i: usize| {
            fds.get(i)
                .and_then(|f| f.revents())
                .unwrap_or(PollFlags::empty())
        };
        let (m, s, i) = (ready(0), ready(1), ready(2));
        drop(fds);
        if master_open && m.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR)
        {
            match master_file.read(&mut buf) {
                Ok(n) if n > 0 => {
                    let mut out = std::io::stdout().lock();
                    let _ = out.write_all(&buf[..n]);
                    let _ = out.flush();
                }
                // EIO: every slave is closed; the exit status follows
                // with SIGCHLD.
                _ => master_open = false,
            }
        }
        if stdin_open && i.intersects(PollFlags::POLLIN | PollFlags::POLLHUP) {
            match std::io::stdin().lock().read(&mut buf) {
                Ok(n) if n > 0 => {
                    let _ = master_file.write_all(&buf[..n]);
                }
                _ => stdin_open = false,
            }
        }
        if s.contains(PollFlags::POLLIN) {
            if let Ok(Some(info)) = sfd.read_signal() {
                match Signal::try_from(info.ssi_signo as i32) {
                    Ok(Signal::SIGCHLD) => code = reap(target),
                    Ok(Signal::SIGWINCH) => copy_window_size(&master_file),
                    Ok(Signal::SIGTSTP | Signal::SIGTTIN | Signal::SIGTTOU) => {}
                    Ok(sig) => {
                        let _ = kill(target, sig);
                    }
                    Err(_) => {}
                }
            }
        }
    }
}

fn drain(master: &mut std::fs::File, buf: &mut [u8]) {
    // SAFETY: F_GETFL/F_SETFL on a descriptor we own; no memory passed.
    unsafe {
        let fl = libc::fcntl(master.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(master.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
    let mut out = std::io::stdout().lock();
    while let Ok(n @ 1..) = master.read(buf) {
        let _ = out.write_all(&buf[..n]);
    }
    let _ = out.flush();
}
