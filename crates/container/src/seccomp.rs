//! linux.seccomp for create and exec: compiled here, before anything is
//! forked, and the profile kept in the state directory so that `exec`
//! applies the container's filter whatever happens to the bundle.

use crate::{Container, ContainerError};
use husk_seccomp::Program;
use husk_spec::Seccomp;
use std::os::fd::OwnedFd;
use std::path::Path;

const PROFILE_FILE: &str = "seccomp.json";

/// Compiles the profile; unknown syscall names are skipped with one
/// warning, as runc skips them.
pub(crate) fn compile(s: &Seccomp) -> Result<Program, ContainerError> {
    let (program, skipped) = husk_seccomp::compile(s)?;
    if !skipped.unknown_syscalls.is_empty() {
        tracing::warn!(
            "linux.seccomp: skipped syscalls this libseccomp does not know: {}",
            skipped.unknown_syscalls.join(", ")
        );
    }
    tracing::debug!(
        "linux.seccomp: {} BPF instructions, flags {:#x}",
        program.instructions(),
        program.flags
    );
    Ok(program)
}

pub(crate) fn save_profile(dir: &Path, s: &Seccomp) -> Result<(), ContainerError> {
    let path = dir.join(PROFILE_FILE);
    let text = serde_json::to_vec(s).map_err(|e| ContainerError::Other(e.to_string()))?;
    std::fs::write(&path, text).map_err(|e| ContainerError::io("write", path, e))
}

/// The profile saved at create, if the container has one.
pub(crate) fn load_profile(c: &Container) -> Result<Option<Seccomp>, ContainerError> {
    let path = c.dir.join(PROFILE_FILE);
    match std::fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| ContainerError::Other(format!("{}: {e}", path.display()))),
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
