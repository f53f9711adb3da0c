//! The runtime spec's state document: what `state` prints and what every
//! hook reads on its stdin, with runc's extras (rootfs, created, owner) in
//! runc's key order. Typed on both sides of the create chain: the init
//! takes it from the caller and sets the status itself for its hooks.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A container's status, as the spec names it (plus runc's `paused`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: Status,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl State {
    /// Compact JSON, as hooks receive it.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The same document with another status.
    pub fn with_status(&self, status: Status) -> State {
        State {
            status,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_in_runcs_order_and_status_in_lowercase() {
        let s = State {
            oci_version: "1.3.0".into(),
            id: "a".into(),
            pid: 7,
            status: Status::Creating,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "t".into(),
            owner: String::new(),
            annotations: BTreeMap::new(),
        };
        assert_eq!(
            s.to_json(),
            r#"{"ociVersion":"1.3.0","id":"a","pid":7,"status":"creating","bundle":"/b","rootfs":"/b/rootfs","created":"t","owner":""}"#
        );
        assert!(s
            .with_status(Status::Created)
            .to_json()
            .contains(r#""status":"created""#));
    }
}
