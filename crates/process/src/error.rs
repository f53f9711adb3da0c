//! The one error type of the create and exec chains. A step in a forked
//! process fails with it, it crosses the sync channel as it is (serde), and
//! the caller gets the same value back: the config field, the failed
//! operation's errno and the kind survive, so the CLI's one line still names
//! the field and the syscall, and tests match on `kind`/`field`/`errno`.

use serde::{Deserialize, Serialize};

/// What went wrong, coarsely: what a caller (or a test) decides on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorKind {
    /// A config field could not be applied: the config or the kernel
    /// refused it (`field` says which).
    Config,
    /// A step of the runtime's own failed (fork, socketpair, setns of a
    /// namespace not named by the config, …).
    System,
    /// A hook failed (`field` is `hooks.<kind>[i]`).
    Hook,
    /// The other side of the chain exited or closed its end.
    Exited,
    /// The other side sent something out of order: a husk bug.
    Protocol,
}

/// A failed step: `field: detail` or just `detail`, as one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{}", self.line())]
pub struct Error {
    pub kind: ErrorKind,
    /// The config field the step applies (a JSON path such as
    /// `process.cwd` or `linux.sysctl`), if one.
    pub field: Option<String>,
    /// The rest of the line: the operation and the system's reason.
    pub detail: String,
    /// The errno of the failed system call, if one.
    pub errno: Option<i32>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A config field that could not be applied.
    pub fn field(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::Config,
            field: Some(field.into()),
            detail: detail.into(),
            errno: None,
        }
    }

    /// A step of the runtime's own, not tied to a field.
    pub fn system(detail: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::System,
            field: None,
            detail: detail.into(),
            errno: None,
        }
    }

    pub fn exited(detail: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::Exited,
            field: None,
            detail: detail.into(),
            errno: None,
        }
    }

    pub fn protocol(detail: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::Protocol,
            field: None,
            detail: detail.into(),
            errno: None,
        }
    }

    /// Records the errno of `e` (an `Errno` or an `io::Error`).
    pub fn errno(mut self, e: impl ErrnoOf) -> Self {
        self.errno = e.errno_of();
        self
    }

    /// The same error, said as the exec'd process's context: "exec: …".
    pub fn context(mut self, what: &str) -> Self {
        self.detail = format!("{what}: {}", self.detail);
        self
    }

    fn line(&self) -> String {
        match (&self.field, self.kind) {
            // HookError's own form: "hooks.prestart[0] (/bin/hook): reason".
            (Some(f), ErrorKind::Hook) => format!("{f} {}", self.detail),
            (Some(f), _) => format!("{f}: {}", self.detail),
            (None, _) => self.detail.clone(),
        }
    }
}

/// Errors that carry an errno.
pub trait ErrnoOf {
    fn errno_of(&self) -> Option<i32>;
}

impl ErrnoOf for nix::errno::Errno {
    fn errno_of(&self) -> Option<i32> {
        Some(*self as i32)
    }
}

impl ErrnoOf for std::io::Error {
    fn errno_of(&self) -> Option<i32> {
        self.raw_os_error()
    }
}

impl ErrnoOf for &std::io::Error {
    fn errno_of(&self) -> Option<i32> {
        self.raw_os_error()
    }
}

impl From<crate::procfs::ProcfsError> for Error {
    fn from(e: crate::procfs::ProcfsError) -> Self {
        let (field, errno) = e.field_and_errno();
        Error {
            kind: ErrorKind::Config,
            detail: e
                .to_string()
                .strip_prefix(&format!("{field}: "))
                .map(str::to_string)
                .unwrap_or_else(|| e.to_string()),
            field: Some(field),
            errno,
        }
    }
}

impl From<husk_rootfs::RootfsError> for Error {
    fn from(e: husk_rootfs::RootfsError) -> Self {
        match e {
            husk_rootfs::RootfsError::Field { field, reason } => Error::field(field, reason),
            husk_rootfs::RootfsError::Sys { op, path, source } => {
                Error::system(format!("{op} {}: {source}", path.display())).errno(source)
            }
        }
    }
}

impl From<husk_seccomp::SeccompError> for Error {
    fn from(e: husk_seccomp::SeccompError) -> Self {
        Error::seccomp_line(e.to_string())
    }
}

impl Error {
    /// A line of husk-seccomp's (a SeccompError's, or the text
    /// husk_seccomp::load returns): it starts with the field it names
    /// (linux.seccomp...).
    pub(crate) fn seccomp_line(line: String) -> Self {
        match line.split_once(": ") {
            Some((f, d)) if f.starts_with("linux.seccomp") => Error::field(f, d),
            _ => Error::field("linux.seccomp", line),
        }
    }
}

impl From<husk_host::hooks::HookError> for Error {
    fn from(e: husk_host::hooks::HookError) -> Self {
        let field = format!("hooks.{}[{}]", e.kind, e.index);
        let detail = format!("({}): {}", e.path, e.reason);
        Error {
            kind: ErrorKind::Hook,
            field: Some(field),
            detail,
            errno: e.reason.errno(),
        }
    }
}

impl From<husk_host::netdev::NetdevError> for Error {
    fn from(e: husk_host::netdev::NetdevError) -> Self {
        Error {
            errno: e.errno(),
            ..Error::field(e.field, e.what.to_string())
        }
    }
}

impl From<husk_host::intelrdt::IntelRdtError> for Error {
    fn from(e: husk_host::intelrdt::IntelRdtError) -> Self {
        Error {
            errno: e.errno(),
            ..Error::field(e.field, e.what.to_string())
        }
    }
}

impl From<husk_host::Error> for Error {
    fn from(e: husk_host::Error) -> Self {
        match e {
            husk_host::Error::NetDevice(e) => e.into(),
            husk_host::Error::IntelRdt(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_names_the_field() {
        let e = Error::field("process.cwd", "chdir to /x: ENOENT").errno(nix::errno::Errno::ENOENT);
        assert_eq!(e.to_string(), "process.cwd: chdir to /x: ENOENT");
        assert_eq!(e.errno, Some(libc::ENOENT));
        assert_eq!(Error::system("fork: EAGAIN").to_string(), "fork: EAGAIN");
    }

    /// husk-host's errors keep their line, their field and their errno.
    #[test]
    fn host_errors_keep_the_field() {
        let h = husk_host::hooks::run_all(
            "createContainer",
            &[husk_spec::Hook {
                path: "/nonexistent/hook".into(),
                ..husk_spec::Hook::default()
            }],
            b"{}",
        )
        .unwrap_err();
        let line = h.to_string();
        let e = Error::from(h);
        assert_eq!(e.to_string(), line);
        assert_eq!(e.field.as_deref(), Some("hooks.createContainer[0]"));
        assert_eq!(e.kind, ErrorKind::Hook);
        assert_eq!(e.errno, Some(libc::ENOENT));
    }

    #[test]
    fn crosses_the_channel_whole() {
        let e = Error::field("linux.sysctl", "write: EPERM").errno(nix::errno::Errno::EPERM);
        let back: Error = serde_json::from_slice(&serde_json::to_vec(&e).unwrap()).unwrap();
        assert_eq!(back, e);
    }
}

/// How a chain failed: on the container side (its config or the kernel
/// refused something there) or on the caller's.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("{0}")]
    Container(Error),
    #[error("{0}")]
    Runtime(Error),
}

impl LaunchError {
    /// The typed error, whichever side it came from.
    pub fn error(&self) -> &Error {
        match self {
            LaunchError::Container(e) | LaunchError::Runtime(e) => e,
        }
    }
}
