//! A descriptor of the caller's that no forked chain process may keep: the
//! flock'ed state directory. The chain runs in forks of husk, which share
//! the lock's open file description; if husk is SIGKILLed during create, an
//! init waiting for `start` would otherwise hold the lock forever and
//! `delete --force` would block on it. Each forked process closes it first
//! thing (closing a copy does not release husk's lock).

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, Ordering};

static FD: AtomicI32 = AtomicI32::new(-1);

/// Registers `fd` to be closed in every process the chain forks, until the
/// returned guard is dropped (so a later chain never closes an unrelated
/// descriptor that reused the number).
#[must_use = "the registration ends when the guard is dropped"]
pub fn close_in_chain(fd: RawFd) -> CloseInChain {
    FD.store(fd, Ordering::SeqCst);
    CloseInChain(())
}

/// Keeps a [`close_in_chain`] registration alive.
pub struct CloseInChain(());

impl Drop for CloseInChain {
    fn drop(&mut self) {
        FD.store(-1, Ordering::SeqCst);
    }
}

/// In a freshly forked chain process: closes the registered descriptor.
pub(crate) fn close_inherited() {
    let fd = FD.load(Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: closes this process's copy of a descriptor the caller
        // registered as its own and not used by the chain; no memory is
        // passed, and nothing in this process refers to it afterwards.
        unsafe { libc::close(fd) };
    }
}
