//! Where the scheduler, I/O priority, CPU affinity, personality, memory
//! policy and LSM labels are applied: one entry point per step of the
//! create and exec chains, so that the chain's own files only call in.
//! (Network devices and Intel RDT are host-side steps: husk_host.)

use crate::error::{Error, ErrorKind, Result};
use crate::{affinity, lsm, mempolicy, personality, sched};
use husk_spec::{Process, Spec};

/// Host side, before anything is made: what depends on the host (the LSMs
/// it runs).
pub fn check_host(p: &Process) -> Result<()> {
    lsm::check(p)
}

/// Host side, for `exec`, before anything is made: process.json's fields
/// (it is not validated with a config) and the host's LSMs.
pub fn check_exec(p: &Process) -> Result<()> {
    husk_spec::validate_process_fields(p).map_err(|e| match e {
        // The process may come from process.json, not config.json: the
        // field alone, without config.json's name.
        husk_spec::SpecError::Invalid { field, reason } => {
            Error::new(ErrorKind::Config, Some(field), reason)
        }
        other => Error::system(other.to_string()),
    })?;
    lsm::check(p)
}

/// In the container's init, in its cgroup, right before the privilege drop
/// and exec. execCPUAffinity is not for the init (the spec); its affinity is
/// reset to its cpuset's, as runc 1.2 does.
pub fn before_init_exec(spec: &Spec, p: &Process) -> Result<()> {
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
pub fn before_exec(p: &Process) -> Result<()> {
    affinity::set_final(Some(p))?;
    process_attrs(p)
}

/// `exec`: execCPUAffinity.initial for the intermediate `pid`, before it is
/// put in the container's cgroup.
pub fn exec_started(pid: i32, p: &Process) -> Result<()> {
    affinity::set_initial(pid, p)
}

/// After the affinity: SCHED_DEADLINE wants the CPUs it was admitted on.
fn process_attrs(p: &Process) -> Result<()> {
    if let Some(s) = &p.scheduler {
        sched::set_scheduler(s)?;
    }
    if let Some(io) = &p.io_priority {
        sched::set_io_priority(io)?;
    }
    lsm::apply(p)
}
