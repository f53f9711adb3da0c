//! Loading a compiled program into the calling thread (the container side,
//! right before exec).

use crate::abi::{
    SECCOMP_FILTER_FLAG_NEW_LISTENER, SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
    SECCOMP_SET_MODE_FILTER,
};
use crate::Program;
use std::os::fd::{FromRawFd, OwnedFd};

/// Loads `p`; with a NOTIFY rule, returns the listener fd. Errors are one
/// line for the user ("linux.seccomp: load the filter: ...").
pub fn load(p: &Program) -> Result<Option<OwnedFd>, String> {
    let prog = libc::sock_fprog {
        len: p.instructions() as u16,
        filter: p.bpf.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `prog` points to p.instructions() complete 8-byte sock_filter
    // records in `p.bpf`, which outlives the call; the kernel copies them.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            p.flags as libc::c_ulong,
            &prog as *const libc::sock_fprog,
        )
    };
    if rc < 0 {
        let e = std::io::Error::last_os_error();
        let hint = match e.raw_os_error() {
            Some(libc::EACCES) => " (without noNewPrivileges it needs CAP_SYS_ADMIN)",
            Some(libc::EINVAL) => " (a flag this kernel does not support?)",
            _ => "",
        };
        return Err(format!("linux.seccomp: load the filter: {e}{hint}"));
    }
    if p.notifies() {
        // SAFETY: with SECCOMP_FILTER_FLAG_NEW_LISTENER the kernel returns a
        // new fd that nothing else owns.
        Ok(Some(unsafe { OwnedFd::from_raw_fd(rc as i32) }))
    } else {
        Ok(None)
    }
}

/// The filter flags this kernel accepts: asking it to load a filter from a
/// NULL program fails with EFAULT once the flags have passed its check.
pub fn supported_flags() -> Vec<&'static str> {
    crate::KNOWN_FLAGS
        .iter()
        .filter(|(_, bit)| {
            // SAFETY: a NULL program is never read; the kernel checks the
            // flags first and fails with EFAULT or EINVAL.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_seccomp,
                    SECCOMP_SET_MODE_FILTER,
                    probe_flags(*bit) as libc::c_ulong,
                    std::ptr::null::<libc::sock_fprog>(),
                )
            };
            rc < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EFAULT)
        })
        .map(|(name, _)| *name)
        .collect()
}

/// WAIT_KILLABLE_RECV is only accepted with a listener.
fn probe_flags(bit: u32) -> u32 {
    if bit == SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV {
        bit | SECCOMP_FILTER_FLAG_NEW_LISTENER
    } else {
        bit
    }
}
