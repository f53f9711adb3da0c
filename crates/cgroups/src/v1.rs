//! cgroup v1: one directory per hierarchy, one file set per controller.

use std::path::Path;

use crate::fs::{read_value, write};
use crate::resolve::Hierarchy;
use crate::resources::Limits;
use crate::CgroupError;

const MEMORY_LIMIT: &str = "memory.limit_in_bytes";
const MEMSW_LIMIT: &str = "memory.memsw.limit_in_bytes";

pub(crate) fn find<'a>(hs: &'a [Hierarchy], controller: &str) -> Option<&'a Hierarchy> {
    hs.iter().find(|h| h.has(controller))
}

/// Run before anything is created: a v1 host's controllers are exactly its
/// mounted hierarchies.
pub(crate) fn check_available(hs: &[Hierarchy], limits: &Limits) -> Result<(), CgroupError> {
    match limits
        .needed()
        .into_iter()
        .find(|(_, c)| find(hs, c).is_none())
    {
        Some((field, controller)) => Err(CgroupError::ControllerMissing { field, controller }),
        None => Ok(()),
    }
}

/// A new v1 cpuset cgroup starts with empty cpuset.cpus and cpuset.mems and
/// the kernel refuses tasks in it (ENOSPC) until both are set, so copy the
/// parent's values down into every empty level, top-down, as runc does.
pub(crate) fn init_cpuset(h: &Hierarchy) -> Result<(), CgroupError> {
    let mut empty_levels = Vec::new();
    let mut d = h.dir.as_path();
    while d != h.mount_point && d.starts_with(&h.mount_point) {
        if !read_value(d, "cpuset.cpus")?.is_empty() && !read_value(d, "cpuset.mems")?.is_empty() {
            break;
        }
        empty_levels.push(d);
        match d.parent() {
            Some(p) => d = p,
            None => break,
        }
    }
    for d in empty_levels.into_iter().rev() {
        let Some(parent) = d.parent() else { continue };
        for file in ["cpuset.cpus", "cpuset.mems"] {
            if read_value(d, file)?.is_empty() {
                let value = read_value(parent, file)?;
                if !value.is_empty() {
                    write(d, file, &value)?;
                }
            }
        }
    }
    Ok(())
}

pub(crate) fn apply(hs: &[Hierarchy], l: &Limits) -> Result<(), CgroupError> {
    if let Some(h) = find(hs, "memory") {
        memory(&h.dir, l)?;
    }
    if let Some(h) = find(hs, "cpu") {
        cpu(&h.dir, l)?;
    }
    if let Some(h) = find(hs, "cpuset") {
        if let Some(cpus) = &l.cpus {
            write(&h.dir, "cpuset.cpus", cpus)?;
        }
        if let Some(mems) = &l.mems {
            write(&h.dir, "cpuset.mems", mems)?;
        }
    }
    if let (Some(h), Some(limit)) = (find(hs, "pids"), l.pids_limit) {
        write(&h.dir, "pids.max", &pids_max(limit))?;
    }
    if let Some(h) = find(hs, "devices") {
        for r in &l.devices {
            let file = if r.allow {
                "devices.allow"
            } else {
                "devices.deny"
            };
            write(&h.dir, file, &r.text)?;
        }
    }
    Ok(())
}

pub(crate) fn pids_max(limit: i64) -> String {
    if limit <= 0 {
        "max".to_string()
    } else {
        limit.to_string()
    }
}

fn memory(dir: &Path, l: &Limits) -> Result<(), CgroupError> {
    let memsw_exists = dir.join(MEMSW_LIMIT).exists();
    let mut swap = l.memory_swap;
    // runc: an unlimited memory limit with no swap setting lifts both.
    if l.memory_limit == Some(-1) && swap.is_none() && memsw_exists {
        swap = Some(-1);
    }
    if !memsw_exists {
        match swap {
            None | Some(-1) => swap = None,
            Some(_) => {
                return Err(CgroupError::Invalid {
                    field: "linux.resources.memory.swap".into(),
                    reason: format!(
                        "swap accounting is not enabled on this host ({} is missing)",
                        dir.join(MEMSW_LIMIT).display()
                    ),
                })
            }
        }
    }
    match (l.memory_limit, swap) {
        (Some(limit), Some(swap)) => {
            // The kernel keeps limit <= memsw at every step, so memsw goes
            // first when it has to grow past the current limit (runc's order).
            let current = read_value(dir, MEMORY_LIMIT)?;
            let current: u64 = current.parse().map_err(|_| CgroupError::Parse {
                path: dir.join(MEMORY_LIMIT),
                line: 1,
                reason: format!("{current:?} is not a number"),
            })?;
            if swap == -1 || current < swap.unsigned_abs() {
                write(dir, MEMSW_LIMIT, &swap.to_string())?;
                write(dir, MEMORY_LIMIT, &limit.to_string())?;
            } else {
                write(dir, MEMORY_LIMIT, &limit.to_string())?;
                write(dir, MEMSW_LIMIT, &swap.to_string())?;
            }
        }
        (limit, swap) => {
            if let Some(limit) = limit {
                write(dir, MEMORY_LIMIT, &limit.to_string())?;
            }
            if let Some(swap) = swap {
                write(dir, MEMSW_LIMIT, &swap.to_string())?;
            }
        }
    }
    if let Some(r) = l.memory_reservation {
        write(dir, "memory.soft_limit_in_bytes", &r.to_string())?;
    }
    if let Some(s) = l.swappiness {
        write(dir, "memory.swappiness", &s.to_string())?;
    }
    Ok(())
}

fn cpu(dir: &Path, l: &Limits) -> Result<(), CgroupError> {
    if let Some(shares) = l.cpu_shares {
        write(dir, "cpu.shares", &shares.to_string())?;
        // The kernel clamps cpu.shares silently; say so instead of running
        // with a value the user did not ask for.
        let got = read_value(dir, "cpu.shares")?;
        if got != shares.to_string() {
            let bound = if got.parse::<u64>().is_ok_and(|g| g < shares) {
                "maximum"
            } else {
                "minimum"
            };
            return Err(CgroupError::Invalid {
                field: "linux.resources.cpu.shares".into(),
                reason: format!("{shares} is out of range: the {bound} the kernel allows is {got}"),
            });
        }
    }
    let mut period_pending = None;
    if let Some(period) = l.cpu_period {
        if let Err(e) = write(dir, "cpu.cfs_period_us", &period.to_string()) {
            // A shorter period can fail (EINVAL) while the old quota would
            // exceed the parent's limit per period; it goes through once the
            // new quota is in place.
            let einval = matches!(&e, CgroupError::Write { err, .. } if err.raw_os_error() == Some(libc::EINVAL));
            if !einval || l.cpu_quota.is_none() {
                return Err(e);
            }
            period_pending = Some(period);
        }
    }
    if let Some(quota) = l.cpu_quota {
        write(dir, "cpu.cfs_quota_us", &quota.to_string())?;
        if let Some(period) = period_pending {
            write(dir, "cpu.cfs_period_us", &period.to_string())?;
        }
    }
    Ok(())
}
