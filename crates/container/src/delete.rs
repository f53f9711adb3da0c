//! `delete`: checks the container may be deleted, then tears it down
//! (crate::teardown, which a failed create or restore shares).

use crate::state::{lock_dir, STATE_FILE};
use crate::teardown::remove_state_dir;
use crate::{ContainerError, Status};
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
                let _ = remove_state_dir(&dir);
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
    crate::teardown::teardown(&c, status)
}
