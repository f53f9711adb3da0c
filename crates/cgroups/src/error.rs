use std::io;
use std::path::PathBuf;

/// Every variant displays as one line that names the file or config field
/// and the reason, because that line is what the user of `husk` sees.
///
/// The OS error is part of the message rather than a `source()`, so that
/// error reporters that print the chain do not repeat it.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("cannot read {path}: {}", reason(.err))]
    Read { path: PathBuf, err: io::Error },
    #[error("cannot write {value:?} to {path}: {}", reason(.err))]
    Write {
        path: PathBuf,
        value: String,
        err: io::Error,
    },
    #[error("cannot create {path}: {}", reason(.err))]
    Create { path: PathBuf, err: io::Error },
    #[error("cannot remove {path}: {}", reason(.err))]
    Remove { path: PathBuf, err: io::Error },
    /// `field` is the config field that asked for the controller.
    #[error("{field}: the {controller} controller is not available on this host")]
    ControllerMissing {
        field: &'static str,
        controller: &'static str,
    },
    /// cgroup v2 only: the host has the controller but it could not be
    /// enabled down to the container's cgroup (usually because an ancestor
    /// holds processes, or the subtree was not delegated).
    #[error("{field}: the {controller} controller is not enabled in {path} (it is missing from cgroup.controllers)")]
    ControllerNotEnabled {
        field: &'static str,
        controller: &'static str,
        path: PathBuf,
    },
    /// A config value that cannot be applied (`field` is its JSON path).
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    /// The host's cgroup layout or our place in it does not allow the request.
    #[error("{0}")]
    Host(String),
    #[error("{path}: line {line}: {reason}")]
    Parse {
        path: PathBuf,
        line: usize,
        reason: String,
    },
}

impl CgroupError {
    /// The kernel refused us a cgroup directory or file: what an
    /// unprivileged user meets outside a delegated subtree.
    pub fn is_permission_denied(&self) -> bool {
        match self {
            CgroupError::Create { err, .. } | CgroupError::Write { err, .. } => matches!(
                err.raw_os_error(),
                Some(libc::EACCES) | Some(libc::EPERM) | Some(libc::EROFS)
            ),
            _ => false,
        }
    }
}

/// `io::Error`'s own Display appends "(os error N)", which is noise here.
fn reason(err: &io::Error) -> String {
    match err.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_string(),
        None => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_error_is_one_line_with_file_value_and_reason() {
        let e = CgroupError::Write {
            path: "/sys/fs/cgroup/memory/husk/x/memory.limit_in_bytes".into(),
            value: "100".into(),
            err: io::Error::from_raw_os_error(libc::EBUSY),
        };
        assert_eq!(
            e.to_string(),
            "cannot write \"100\" to /sys/fs/cgroup/memory/husk/x/memory.limit_in_bytes: \
             Device or resource busy"
        );
    }
}
