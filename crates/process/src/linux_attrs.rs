//! Where the scheduler, I/O priority, CPU affinity, personality, memory
//! policy, LSM labels, network devices and Intel RDT are applied: one entry
//! point per step of the create and exec chains, so that the chain's own
//! files only call in.

use crate::{affinity, intelrdt, lsm, mempolicy, netdev, personality, sched};
use husk_spec::{Process, Spec};

/// Host side, before anything is made: what depends on the host (the LSMs
/// it runs).
pub fn check_host(p: &Process) -> Result<(), String> {
    lsm::check(p)
}

/// Host side, for `exec`, before anything is made: process.json's fields
/// (it is not validated with a config) and the host's LSMs.
pub fn check_exec(p: &Process) -> Result<(), String> {
    husk_spec::validate_process_fields(p).map_err(|e| match e {
        // The process may come from process.json, not config.json.
        husk_spec::SpecError::Invalid { field, reason } => format!("{field}: {reason}"),
        other => other.to_string(),
    })?;
    lsm::check(p)
}

/// Host side, in `create`, once the init exists and before it goes on:
/// network devices into its network namespace, the init into its resctrl
/// group.
pub fn after_init_exists(id: &str, pid: i32, spec: &Spec) -> Result<(), String> {
    let Some(linux) = &spec.linux else {
        return Ok(());
    };
    if let Some(devs) = &linux.net_devices {
        netdev::move_all(pid, devs)?;
    }
    if let Some(rdt) = &linux.intel_rdt {
        intelrdt::apply(id, pid, rdt)?;
    }
    Ok(())
}

/// In the container's init, in its cgroup, right before the privilege drop
/// and exec. execCPUAffinity is not for the init (the spec); its affinity is
/// reset to its cpuset's, as runc 1.2 does.
pub fn before_init_exec(spec: &Spec, p: &Process) -> Result<(), String> {
    if let Some(l) = &spec.linux {
        if let Some(per) = &l.personality {
            personality::apply(per)?;
        }
        if let Some(m) = &l.memory_policy {
            mempolicy::apply(m)?;
        }
    }
    affinity::set_final(None)?;
    process_attrs(p)
}

/// In an exec'd process, in the container's cgroup, right before the
/// privilege drop and exec.
pub fn before_exec(p: &Process) -> Result<(), String> {
    affinity::set_final(Some(p))?;
    process_attrs(p)
}

/// `exec`: execCPUAffinity.initial for the intermediate `pid`, before it is
/// put in the container's cgroup.
pub fn exec_started(pid: i32, p: &Process) -> Result<(), String> {
    affinity::set_initial(pid, p)
}

/// After the affinity: SCHED_DEADLINE wants the CPUs it was admitted on.
fn process_attrs(p: &Process) -> Result<(), String> {
    if let Some(s) = &p.scheduler {
        sched::set_scheduler(s)?;
    }
    if let Some(io) = &p.io_priority {
        sched::set_io_priority(io)?;
    }
    lsm::apply(p)
}
