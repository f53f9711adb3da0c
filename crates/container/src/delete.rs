//! `delete`: kill what is left, remove the cgroup, run poststop hooks,
//! remove the state.

use crate::state::{lock_dir, STATE_FILE};
use crate::{Container, ContainerError, Status};
use husk_cgroups::Cgroup;
use husk_process::hooks;
use std::path::Path;

pub fn delete(root: &Path, id: &str, force: bool) -> Result<(), ContainerError> {
    crate::validate_id(id)?;
    let c = match crate::load(root, id) {
        Ok(c) => c,
        Err(ContainerError::NotFound(_)) => {
            // A create that died before writing its state leaves only the
            // directory; remove it. runc's --force succeeds on a missing id
            // (containerd relies on it).
            let dir = root.join(id);
            if dir.is_dir() && !dir.join(STATE_FILE).exists() {
                let _lock = lock_dir(&dir, id);
                let _ = std::fs::remove_dir_all(&dir);
                return Ok(());
            }
            if force {
                return Ok(());
            }
            return Err(ContainerError::NotFound(id.to_string()));
        }
        Err(e) => return Err(e),
    };
    let status = c.status();
    match status {
        Status::Stopped => {}
        // runc deletes a created container without --force: it never ran.
        Status::Created | Status::Creating => {}
        Status::Running | Status::Paused if force => {}
        s => {
            return Err(ContainerError::transition(
                id,
                format!(
                    "cannot delete a container that is not stopped: {}",
                    s.as_str()
                ),
            ))
        }
    }
    destroy(c, status)
}

pub(crate) fn destroy(c: Container, status: Status) -> Result<(), ContainerError> {
    if status != Status::Stopped {
        if status == Status::Paused {
            if let Some(cg) = &c.state.cgroup {
                let _ = cg.thaw();
            }
        }
        crate::kill::kill_and_wait(c.state.pid);
    }
    if let Some(cg) = &c.state.cgroup {
        kill_cgroup(cg);
        cg.destroy()?;
    }
    if let Some(h) = &c.state.hooks {
        if !h.poststop.is_empty() {
            let state = c.oci_state_json(Status::Stopped);
            hooks::run_all_warn("poststop", &h.poststop, state.as_bytes());
        }
    }
    std::fs::remove_dir_all(&c.dir).map_err(|e| ContainerError::io("remove", &c.dir, e))
}

/// SIGKILLs every process still in the cgroup (stragglers that left the
/// init's pid namespace, or a shared-pid setup) and waits for each.
pub(crate) fn kill_cgroup(cg: &Cgroup) {
    for pid in cg.pids().unwrap_or_default() {
        crate::kill::kill_and_wait(pid);
    }
}
