//! Verbs that work on a container's cgroup: pause, resume, ps, update,
//! events.

use crate::{Container, ContainerError, Status};
use husk_cgroups::Cgroup;
use std::time::Duration;

fn cgroup<'a>(c: &'a Container, verb: &str) -> Result<&'a Cgroup, ContainerError> {
    c.state.cgroup.as_ref().ok_or_else(|| {
        ContainerError::transition(c.id(), format!("{verb}: the container has no cgroup"))
    })
}

pub fn pause(c: &Container) -> Result<(), ContainerError> {
    match c.status() {
        Status::Running | Status::Created => {}
        Status::Paused => {
            return Err(ContainerError::transition(
                c.id(),
                "container is already paused",
            ))
        }
        _ => return Err(ContainerError::transition(c.id(), "container not running")),
    }
    cgroup(c, "pause")?.freeze()?;
    Ok(())
}

pub fn resume(c: &Container) -> Result<(), ContainerError> {
    if c.status() != Status::Paused {
        return Err(ContainerError::transition(c.id(), "container not paused"));
    }
    cgroup(c, "resume")?.thaw()?;
    Ok(())
}

/// Host pids of every process in the container's cgroup.
pub fn pids(c: &Container) -> Result<Vec<i32>, ContainerError> {
    if c.status() == Status::Stopped {
        return Ok(vec![]);
    }
    Ok(cgroup(c, "ps")?.pids()?)
}

pub fn update(c: &Container, resources: &husk_spec::Resources) -> Result<(), ContainerError> {
    if c.status() == Status::Stopped {
        return Err(ContainerError::transition(c.id(), "container not running"));
    }
    cgroup(c, "update")?.update(resources)?;
    Ok(())
}

/// runc's event stream: `{"type":"stats",...}` every `interval` (or once
/// with `once`), `{"type":"oom",...}` when the OOM killer acts; ends when
/// the container stops.
pub fn events(
    root: &std::path::Path,
    id: &str,
    interval: Duration,
    once: bool,
    emit: &mut dyn FnMut(&str),
) -> Result<(), ContainerError> {
    let c = crate::load_for_read(root, id)?;
    if c.status() == Status::Stopped {
        return Err(ContainerError::transition(id, "container not running"));
    }
    let cg = cgroup(&c, "events")?.clone();
    let stats_line = |cg: &Cgroup| {
        serde_json::json!({"type": "stats", "id": id, "data": cg.stats()}).to_string()
    };
    if once {
        emit(&stats_line(&cg));
        return Ok(());
    }
    // OOM kills are counted by the kernel; polling the counter a few times
    // a second reports each one without an eventfd per cgroup version.
    let tick = Duration::from_millis(100).min(interval);
    let mut ooms = cg.oom_kills();
    let mut since_stats = interval;
    loop {
        if since_stats >= interval {
            emit(&stats_line(&cg));
            since_stats = Duration::ZERO;
        }
        std::thread::sleep(tick);
        since_stats += tick;
        let now = cg.oom_kills();
        if now > ooms {
            emit(&serde_json::json!({"type": "oom", "id": id}).to_string());
            ooms = now;
        }
        if !c.init_alive() {
            return Ok(());
        }
    }
}
