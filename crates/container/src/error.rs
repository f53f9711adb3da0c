use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
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
    Hook(#[from] husk_process::hooks::HookError),
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

impl ContainerError {
    pub fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ContainerError::Io {
            what,
            path: path.into(),
            source,
        }
    }

    pub fn transition(id: &str, reason: impl Into<String>) -> Self {
        ContainerError::Transition {
            id: id.to_string(),
            reason: reason.into(),
        }
    }
}
