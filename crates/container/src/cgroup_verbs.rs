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
    match &c.state.cgroup {
        Some(cg) => Ok(cg.pids()?),
        // Rootless without a cgroup: the container's own pid namespace
        // holds exactly its processes.
        None => crate::procs::own_pid_ns(c)
            .map(|ns| crate::procs::pids_in_pid_ns(&ns))
            .ok_or_else(|| {
                ContainerError::transition(
                    c.id(),
                    "ps: the container has neither a cgroup nor a pid namespace of its own",
                )
            }),
    }
}

/// Checks this call's resources merged into the container's current ones
/// (a swap limit given alone is checked against the memory limit it
/// already has; a quota against its period), applies them with the other
/// half of each such pair, and keeps the merged set for the next update.
pub fn update(c: &mut Container, resources: &husk_spec::Resources) -> Result<(), ContainerError> {
    if c.status() == Status::Stopped {
        return Err(ContainerError::transition(c.id(), "container not running"));
    }
    let merged = c
        .state
        .resources
        .as_ref()
        .map_or_else(|| resources.clone(), |r| r.merged_with(resources));
    let cg = cgroup(c, "update")?;
    cg.validate(&merged)?;
    let mut call = resources.clone();
    if let (Some(m), Some(all)) = (call.memory.as_mut(), merged.memory.as_ref()) {
        if m.swap.is_some_and(|s| s > 0) && m.limit.is_none() {
            m.limit = all.limit;
        }
    }
    if let (Some(cpu), Some(all)) = (call.cpu.as_mut(), merged.cpu.as_ref()) {
        if cpu.quota.is_some() != cpu.period.is_some() {
            cpu.quota = cpu.quota.or(all.quota);
            cpu.period = cpu.period.or(all.period);
        }
    }
    cg.update(&call)?;
    c.state.resources = Some(merged);
    c.save()
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
    let stats_line = |cg: &Cgroup| event_line("stats", id, Some(&cg.stats()));
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
            emit(&event_line::<()>("oom", id, None));
            ooms = now;
        }
        if !c.init_alive() {
            return Ok(());
        }
    }
}

/// One event as runc writes it, keys in runc's order (type, id, data):
/// tools match on the text.
fn event_line<T: serde::Serialize>(typ: &str, id: &str, data: Option<&T>) -> String {
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    match data.map(serde_json::to_string) {
        Some(Ok(d)) => format!("{{\"type\":{},\"id\":{},\"data\":{d}}}", q(typ), q(id)),
        _ => format!("{{\"type\":{},\"id\":{}}}", q(typ), q(id)),
    }
}

#[cfg(test)]
mod event_tests {
    #[test]
    fn runc_key_order() {
        assert_eq!(
            super::event_line("stats", "c\"1", Some(&serde_json::json!({"a": 1}))),
            r#"{"type":"stats","id":"c\"1","data":{"a":1}}"#
        );
        assert_eq!(
            super::event_line::<()>("oom", "c", None),
            r#"{"type":"oom","id":"c"}"#
        );
    }
}
