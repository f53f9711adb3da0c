//! `start`: releases the init waiting on the start socket and learns from
//! it whether the exec worked.

use crate::state::START_SOCKET;
use crate::{Container, ContainerError, Status};
use husk_host::hooks;
use std::io::Read;
use std::os::unix::net::UnixStream;

pub fn start(c: &mut Container) -> Result<(), ContainerError> {
    match c.status() {
        Status::Created => {}
        Status::Stopped => {
            return Err(ContainerError::transition(
                c.id(),
                "cannot start a container that has stopped",
            ))
        }
        Status::Creating => {
            return Err(ContainerError::transition(
                c.id(),
                "cannot start a container that is still being created",
            ))
        }
        _ => {
            return Err(ContainerError::transition(
                c.id(),
                "cannot start an already running container",
            ))
        }
    }
    let notify = crate::notify::listen(c)?;
    let sock = c.short_path(START_SOCKET);
    let mut conn = UnixStream::connect(&sock)
        .map_err(|e| ContainerError::io("connect", c.dir.join(START_SOCKET), e))?;
    // Once connected the container counts as started, whatever follows.
    std::fs::remove_file(c.dir.join(START_SOCKET))
        .map_err(|e| ContainerError::io("remove", c.dir.join(START_SOCKET), e))?;
    // The init closes the connection by exec (close-on-exec), or writes why
    // it could not get there.
    let mut reply = Vec::new();
    conn.read_to_end(&mut reply)
        .map_err(|e| ContainerError::io("read start reply", c.dir.join(START_SOCKET), e))?;
    if !reply.is_empty() {
        // The init's typed error (husk_process::Error, encoded by Wire).
        let error =
            <husk_process::Error as husk_process::Wire>::decode(&reply).unwrap_or_else(|| {
                husk_process::Error::system(String::from_utf8_lossy(&reply).into_owned())
            });
        return Err(ContainerError::StartFailed {
            id: c.id().to_string(),
            error,
        });
    }
    if let Some(n) = notify {
        crate::notify::forward_ready(c, n)?;
    }
    if let Some(h) = &c.state.hooks {
        if !h.poststart.is_empty() {
            let state = c.oci_state_json(Status::Running);
            // runtime-spec 1.3.0: a failing poststart hook is an error of
            // start, the container is stopped, and the lifecycle goes on at
            // its destruction: the `delete` that follows undoes create and
            // runs poststop, as after a failed startContainer hook.
            if let Err(e) = hooks::run_all("poststart", &h.poststart, state.as_bytes()) {
                crate::procs::kill_and_wait(c.state.pid);
                return Err(ContainerError::Poststart {
                    id: c.id().to_string(),
                    source: e.into(),
                });
            }
        }
    }
    Ok(())
}
