use std::path::PathBuf;

#[derive(thiserror::Error)]
pub enum ContainerError {
    #[error(transparent)]
    Spec(#[from] husk_spec::SpecError),
    #[error("invalid container id {id:?}: {reason}")]
    InvalidId { id: String, reason: &'static str },
    #[error("container {0:?} does not exist")]
    NotFound(String),
    #[error("container {0:?} already exists")]
    Exists(String),
    /// A verb that the container's status does not allow.
    #[error("container {id:?}: {reason}")]
    Transition { id: String, reason: String },
    #[error(transparent)]
    Cgroup(#[from] husk_cgroups::CgroupError),
    #[error("config.json: {0}")]
    Seccomp(#[from] husk_seccomp::SeccompError),
    #[error("{0}")]
    Launch(#[from] husk_process::LaunchError),
    #[error(transparent)]
    Hook(#[from] husk_host::hooks::HookError),
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A config.json field that cannot be used as given (checked before
    /// anything is made).
    #[error("config.json: {field}: {reason}")]
    Config { field: String, reason: String },
    /// Command-line flags that do not fit together or with the config.
    #[error("{0}")]
    Usage(String),
    /// runtime-spec 1.3.0: a cgroup not fit for the container is an error.
    #[error("linux.cgroupsPath: the container's cgroup {dir} is frozen; thaw it or choose another cgroupsPath")]
    CgroupFrozen { dir: String },
    /// The container's setup was OOM-killed: its memory limit is the cause.
    #[error("the OOM killer ended the container's setup: linux.resources.memory.limit ({limit}) is too low ({source})")]
    SetupOom {
        limit: String,
        source: husk_process::LaunchError,
    },
    /// CRIU failed (checkpoint, restore), with what its log says.
    #[error("{0}")]
    Criu(String),
    /// The init could not run the container's program (or its
    /// startContainer hooks) at `start`: the error it sent back.
    #[error("container {id:?} failed to start: {error}")]
    StartFailed {
        id: String,
        error: husk_process::Error,
    },
    /// A poststart hook failed; the container was stopped (runtime-spec
    /// 1.3.0).
    #[error("container {id:?}: {source}; the container was stopped")]
    Poststart {
        id: String,
        source: husk_process::Error,
    },
    #[error("container {id:?}: signal {signal}: {source}")]
    Signal {
        id: String,
        signal: &'static str,
        source: std::io::Error,
    },
    /// A container's state.json that cannot be read or written.
    #[error("container {id:?}: corrupt {what}: {reason}")]
    CorruptState {
        id: String,
        what: String,
        reason: String,
    },
    /// A config field the rootfs code refused (idmapped mounts, mount
    /// points for restore).
    #[error("config.json: {0}")]
    Rootfs(#[from] husk_rootfs::RootfsError),
    /// The profile create saved for exec does not parse.
    #[error("linux.seccomp (as saved by create): {0}")]
    SavedProfile(serde_json::Error),
    /// A file of the bundle that cannot be read.
    #[error("{}: {reason}", path.display())]
    Unreadable { path: PathBuf, reason: String },
    /// A mount below a state directory that could not be detached: the
    /// directory is kept rather than emptying what is mounted there.
    #[error("{}: a mount below it could not be detached; not removing it", dir.display())]
    MountBelow { dir: PathBuf },
}

/// An I/O error as a short lower-case reason ("no such file or directory"),
/// for messages that name the path themselves.
pub(crate) fn io_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    s.split(" (os error").next().unwrap_or(&s).to_lowercase()
}

/// Its line: a derived Debug (every variant's fields, their types' Debug)
/// costs binary size for output nobody reads; anyhow prints Display.
impl std::fmt::Debug for ContainerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ContainerError({self})")
    }
}

impl ContainerError {
    pub fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ContainerError::Io {
            what,
            path: path.into(),
            source,
        }
    }

    pub fn config(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ContainerError::Config {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn transition(id: &str, reason: impl Into<String>) -> Self {
        ContainerError::Transition {
            id: id.to_string(),
            reason: reason.into(),
        }
    }
}

/// A step the caller runs for the chain (crate::create's and crate::exec's
/// `Parent`) fails with the chain's error type, keeping the one line.
impl From<ContainerError> for husk_process::Error {
    fn from(e: ContainerError) -> Self {
        match e {
            ContainerError::Config { field, reason } => husk_process::Error::field(&field, reason),
            other => {
                let errno = match &other {
                    ContainerError::Io { source, .. } => source.raw_os_error(),
                    _ => None,
                };
                husk_process::Error::system(other.to_string()).with_errno(errno)
            }
        }
    }
}
