//! Descriptor hygiene before an exec: shared by the hooks (which run on
//! the host or in the container) and husk-process's exec of the user's
//! program, so that neither leaks husk's descriptors into what it runs.

/// Why [`cloexec_from`] failed, with the errno of the failed call.
#[derive(Debug, thiserror::Error)]
pub enum CloexecError {
    #[error("close_range: {0}")]
    CloseRange(std::io::Error),
    #[error("close_range: {close_range}; list /proc/self/fd: {list}")]
    List {
        close_range: std::io::Error,
        list: std::io::Error,
    },
}

impl CloexecError {
    /// The errno of the call that decided the failure (the listing's, when
    /// close_range was only unavailable).
    pub fn errno(&self) -> Option<i32> {
        match self {
            CloexecError::CloseRange(e) | CloexecError::List { list: e, .. } => e.raw_os_error(),
        }
    }
}

/// Marks every fd from `first` on close-on-exec. close_range (Linux 5.11)
/// first; where a seccomp profile that predates it denies it (EPERM), or
/// the kernel lacks it (ENOSYS, EINVAL), each open descriptor listed in
/// /proc/self/fd gets FD_CLOEXEC, as runc does.
pub fn cloexec_from(first: u32) -> Result<(), CloexecError> {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets flags on our
    // own descriptor table; no memory is passed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if r == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    if !matches!(
        e.raw_os_error(),
        Some(libc::EPERM | libc::ENOSYS | libc::EINVAL)
    ) {
        return Err(CloexecError::CloseRange(e));
    }
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map_err(|list| CloexecError::List {
            close_range: e,
            list,
        })?
        .flatten()
        .filter_map(|d| d.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd >= first as i32)
        .collect();
    for fd in fds {
        // The directory's own descriptor is listed but already closed.
        let _ = nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        );
    }
    Ok(())
}
