//! CPU affinity, as runc 1.2 handles it: `process.execCPUAffinity.initial`
//! is set on exec's intermediate process before it joins the container's
//! cgroup; right before exec the process gets `final`, or else is reset to
//! every CPU its cpuset allows, so that an affinity husk itself ran with
//! (`taskset husk ...`) or `initial` does not leak into the container.

use crate::error::{Error, Result};
use husk_spec::{parse_id_list, Process, MAX_IDS};
use std::collections::BTreeSet;

fn set(pid: i32, cpus: &BTreeSet<u32>) -> std::io::Result<()> {
    // SAFETY: cpu_set_t is a plain bit array; all zeroes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let max = 8 * std::mem::size_of::<libc::cpu_set_t>();
    for &c in cpus.iter().filter(|c| (**c as usize) < max) {
        // SAFETY: CPU_SET writes one bit of `set`; `c` is below the set's
        // size in bits (filtered above).
        unsafe { libc::CPU_SET(c as usize, &mut set) };
    }
    // SAFETY: the kernel reads size_of::<cpu_set_t>() bytes from `set`,
    // which is that large and lives across the call.
    let r = unsafe { libc::sched_setaffinity(pid, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn list(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

/// `execCPUAffinity.initial` for the process `pid` (exec's intermediate),
/// before it is moved into the container's cgroup.
pub fn set_initial(pid: i32, p: &Process) -> Result<()> {
    let Some(cpus) = p.exec_cpu_affinity.as_ref().and_then(|a| list(&a.initial)) else {
        return Ok(());
    };
    set_list(pid, cpus, "process.execCPUAffinity.initial")
}

/// The CPU list `cpus` of config field `field` as `pid`'s affinity.
fn set_list(pid: i32, cpus: &str, field: &str) -> Result<()> {
    let set_ = parse_id_list(cpus, MAX_IDS).map_err(|e| Error::field(field, e))?;
    set(pid, &set_)
        .map_err(|x| Error::field(field, format!("sched_setaffinity({cpus}): {x}")).errno(x))
}

/// Right before exec, in the container's cgroup: `final` when `exec` has
/// one, else every CPU (the kernel narrows it to the cpuset's).
pub fn set_final(p: Option<&Process>) -> Result<()> {
    let fin = p
        .and_then(|p| p.exec_cpu_affinity.as_ref())
        .and_then(|a| list(&a.final_));
    match fin {
        Some(cpus) => set_list(0, cpus, "process.execCPUAffinity.final"),
        None => {
            let max = 8 * std::mem::size_of::<libc::cpu_set_t>() as u32;
            // Best effort, as runc: a failure leaves the inherited mask.
            if let Err(e) = set(0, &(0..max).collect()) {
                tracing::debug!("resetting the CPU affinity: {e}");
            }
            Ok(())
        }
    }
}
