//! linux.seccomp for create and exec: compiled here, before anything is
//! forked, and the profile kept in the state directory so that `exec`
//! applies the container's filter whatever happens to the bundle.

use crate::{Container, ContainerError};
use husk_seccomp::Program;
pub use husk_seccomp::{binary_identity, set_binary_identity};
use husk_spec::Seccomp;
use std::os::fd::OwnedFd;
use std::path::Path;

const PROFILE_FILE: &str = "seccomp.json";

/// A profile as JSON: what `create` saves for `exec`, and (with the husk
/// binary's identity) the cache key. Made once per command.
pub(crate) fn profile_json(s: &Seccomp) -> Vec<u8> {
    serde_json::to_vec(s).unwrap_or_default()
}

/// Compiles the profile (`json`, from [`profile_json`] or the state
/// directory), or takes it from husk-seccomp's cache under `root`, where a
/// hit needs no parsing at all.
pub(crate) fn compile(root: &Path, json: &[u8]) -> Result<Program, ContainerError> {
    husk_seccomp::compile_cached(root, json, || Ok(husk_seccomp::compile(&parse(json)?)?))
}

pub(crate) fn parse(json: &[u8]) -> Result<Seccomp, ContainerError> {
    serde_json::from_slice(json).map_err(ContainerError::SavedProfile)
}

pub(crate) fn save_profile(dir: &Path, json: &[u8]) -> Result<(), ContainerError> {
    let path = dir.join(PROFILE_FILE);
    std::fs::write(&path, json).map_err(|e| ContainerError::io("write", path, e))
}

/// The profile JSON saved at create, if the container has one.
pub(crate) fn load_profile(c: &Container) -> Result<Option<Vec<u8>>, ContainerError> {
    let path = c.dir.join(PROFILE_FILE);
    match std::fs::read(&path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ContainerError::io("read", path, e)),
    }
}

/// Hands a NOTIFY listener of process `pid` to listenerPath, with the
/// container's state, in runc's format.
pub(crate) fn forward_listener(
    s: &Seccomp,
    pid: i32,
    state_json: &str,
    listener: OwnedFd,
) -> Result<(), String> {
    let Some(path) = s.listener_path.as_deref() else {
        return Err("linux.seccomp.listenerPath: not set".into());
    };
    let doc = husk_seccomp::process_state(
        husk_spec::OCI_VERSION,
        pid,
        s.listener_metadata.as_deref(),
        state_json,
    );
    husk_seccomp::send_listener(path, &doc, &listener).map_err(|e| e.to_string())
}
