use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    /// A problem with one config field (JSON path) and why.
    #[error("{field}: {reason}")]
    Field { field: String, reason: String },
    #[error("{op} {path}: {source}")]
    Sys {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: nix::errno::Errno,
    },
}

impl RootfsError {
    pub fn field(field: impl Into<String>, reason: impl Into<String>) -> Self {
        RootfsError::Field {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn sys(op: &'static str, path: impl Into<PathBuf>, source: nix::errno::Errno) -> Self {
        RootfsError::Sys {
            op,
            path: path.into(),
            source,
        }
    }
}
