//! The error of loading a config: what create and exec stop at.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `field` is a JSON path such as `process.user.uid`, or "invalid JSON"
    /// when the document itself is broken.
    #[error("config.json: {field}: {reason}")]
    Parse { field: String, reason: String },
    #[error("config.json: {field}: {reason}")]
    Invalid { field: String, reason: String },
}

impl SpecError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        SpecError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
