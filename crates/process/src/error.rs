//! The one error type of the create and exec chains. A step in a forked
//! process fails with it, it crosses the sync channel as it is (wire.rs), and
//! the caller gets the same value back: the config field, the failed
//! operation's errno and the kind survive, so the CLI's one line still names
//! the field and the syscall, and tests match on `kind`/`field`/`errno`.

/// What went wrong, coarsely: what a caller (or a test) decides on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// A failed step: `field: detail` or just `detail`, as one line. Boxed, so
/// that every `Result` of the chain stays one word wide: the error path is
/// rare, and a wide error makes every `?` on the way larger code.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.0.line())]
pub struct Error(Box<ErrorData>);

/// What an [`Error`] carries (reached through it: `e.kind`, `e.field`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorData {
    pub kind: ErrorKind,
    /// The config field the step applies (a JSON path such as
    /// `process.cwd` or `linux.sysctl`), if one.
    pub field: Option<String>,
    /// The rest of the line: the operation and the system's reason.
    pub detail: String,
    /// The errno of the failed system call, if one.
    pub errno: Option<i32>,
}

impl std::ops::Deref for Error {
    type Target = ErrorData;
    fn deref(&self) -> &ErrorData {
        &self.0
    }
}

impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Out of line and cold: the constructors below are called at every
    /// error site of the chain.
    #[cold]
    #[inline(never)]
    pub fn new(kind: ErrorKind, field: Option<String>, detail: String) -> Self {
        Error(Box::new(ErrorData {
            kind,
            field,
            detail,
            errno: None,
        }))
    }

    /// A config field that could not be applied.
    pub fn field(field: &str, detail: impl Into<String>) -> Self {
        Self::config(field, detail.into())
    }

    #[cold]
    #[inline(never)]
    fn config(field: &str, detail: String) -> Self {
        Self::new(ErrorKind::Config, Some(field.to_string()), detail)
    }

    /// A step of the runtime's own, not tied to a field.
    pub fn system(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::System, None, detail.into())
    }

    pub fn exited(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Exited, None, detail.into())
    }

    pub fn protocol(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Protocol, None, detail.into())
    }

    /// Records the errno of `e` (an `Errno` or an `io::Error`).
    pub fn errno(self, e: impl ErrnoOf) -> Self {
        self.with_errno(e.errno_of())
    }

    pub fn with_errno(mut self, errno: Option<i32>) -> Self {
        self.0.errno = errno;
        self
    }

    /// The same error as config field `field`'s, its whole line the
    /// detail: "process.terminal: <the line>".
    pub fn in_field(mut self, field: &str) -> Self {
        let line = self.0.line();
        self.0.kind = ErrorKind::Config;
        self.0.field = Some(field.to_string());
        self.0.detail = line;
        self
    }

    /// The same error in the context of `what`: "what: <detail>".
    pub fn context(mut self, what: &str) -> Self {
        self.0.detail = format!("{what}: {}", self.0.detail);
        self
    }
}

impl ErrorData {
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
        // Every ProcfsError's line is "<field>: <detail>".
        let (field, errno) = e.field_and_errno();
        let mut detail = e.to_string();
        detail.drain(..(field.len() + 2).min(detail.len()));
        Error::new(ErrorKind::Config, Some(field), detail).with_errno(errno)
    }
}

impl From<husk_rootfs::RootfsError> for Error {
    fn from(e: husk_rootfs::RootfsError) -> Self {
        match e {
            husk_rootfs::RootfsError::Field { field, reason } => {
                Error::new(ErrorKind::Config, Some(field), reason)
            }
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
        Error::new(ErrorKind::Hook, Some(field), detail).with_errno(e.reason.errno())
    }
}

impl From<husk_host::netdev::NetdevError> for Error {
    fn from(e: husk_host::netdev::NetdevError) -> Self {
        let errno = e.errno();
        Error::field(&e.field, e.what.to_string()).with_errno(errno)
    }
}

impl From<husk_host::intelrdt::IntelRdtError> for Error {
    fn from(e: husk_host::intelrdt::IntelRdtError) -> Self {
        let errno = e.errno();
        Error::field(e.field, e.what.to_string()).with_errno(errno)
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
        let back = crate::wire::Wire::decode(&crate::wire::Wire::encode(&e));
        assert_eq!(back, Some(e));
    }
}

/// How a chain failed: on the container side (its config or the kernel
/// refused something there) or on the caller's.
#[derive(thiserror::Error)]
pub enum LaunchError {
    #[error("{0}")]
    Container(Error),
    #[error("{0}")]
    Runtime(Error),
}

impl std::fmt::Debug for LaunchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let side = match self {
            LaunchError::Container(_) => "Container",
            LaunchError::Runtime(_) => "Runtime",
        };
        write!(f, "{side}({:?})", self.error())
    }
}

impl LaunchError {
    /// The typed error, whichever side it came from.
    pub fn error(&self) -> &Error {
        match self {
            LaunchError::Container(e) | LaunchError::Runtime(e) => e,
        }
    }
}
