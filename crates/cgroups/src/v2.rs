//! cgroup v2: a single directory; controllers must be enabled top-down.

use std::path::Path;

use crate::fs::{read_value, write};
use crate::resolve::Hierarchy;
use crate::resources::Limits;
use crate::v1::pids_max;
use crate::CgroupError;

/// runc's conversion of v1 cpu.shares [2, 262144] to v2 cpu.weight
/// [1, 10000]. Out-of-range shares are clamped first (v1 would clamp them
/// too), where runc's unsigned arithmetic would wrap for shares < 2.
pub(crate) fn shares_to_weight(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

/// Enables every available controller in each ancestor of the container's
/// cgroup, from the mount point down, as runc does. Failures are ignored
/// here (an ancestor holding processes cannot enable domain controllers);
/// [`check_available`] reports the ones the config actually needs.
pub(crate) fn enable_controllers(h: &Hierarchy) {
    let Ok(rel) = h.dir.strip_prefix(&h.mount_point) else {
        return;
    };
    let mut ancestor = h.mount_point.clone();
    let mut levels = vec![ancestor.clone()];
    let components: Vec<_> = rel.components().collect();
    for c in components.iter().take(components.len().saturating_sub(1)) {
        ancestor.push(c);
        levels.push(ancestor.clone());
    }
    for dir in levels {
        let (Ok(available), Ok(enabled)) = (
            read_value(&dir, "cgroup.controllers"),
            read_value(&dir, "cgroup.subtree_control"),
        ) else {
            continue;
        };
        let enabled: Vec<&str> = enabled.split_whitespace().collect();
        for c in available
            .split_whitespace()
            .filter(|c| !enabled.contains(c))
        {
            if let Err(e) = write(&dir, "cgroup.subtree_control", &format!("+{c}")) {
                tracing::debug!("{e}");
            }
        }
    }
}

pub(crate) fn check_available(h: &Hierarchy, limits: &Limits) -> Result<(), CgroupError> {
    let here = read_value(&h.dir, "cgroup.controllers")?;
    let here: Vec<&str> = here.split_whitespace().collect();
    let Some((field, controller)) = limits.needed().into_iter().find(|(_, c)| !here.contains(c))
    else {
        return Ok(());
    };
    let on_host = read_value(&h.mount_point, "cgroup.controllers")?;
    if on_host.split_whitespace().any(|c| c == controller) {
        Err(CgroupError::ControllerNotEnabled {
            field,
            controller,
            path: h.dir.clone(),
        })
    } else {
        Err(CgroupError::ControllerMissing { field, controller })
    }
}

fn max_or(value: i64) -> String {
    if value == -1 {
        "max".to_string()
    } else {
        value.to_string()
    }
}

/// memory.swap.max counts swap alone, the spec counts memory plus swap;
/// this is runc's ConvertMemorySwapToCgroupV2Value on values that
/// [`Limits::from_spec`] already checked.
pub(crate) fn swap_max(swap: Option<i64>, limit: Option<i64>) -> Option<i64> {
    match (swap, limit) {
        (None, Some(-1)) | (Some(-1), _) => Some(-1),
        (Some(swap), Some(limit)) if limit > 0 => Some(swap - limit),
        _ => None,
    }
}

pub(crate) fn apply(dir: &Path, l: &Limits) -> Result<(), CgroupError> {
    if let Some(swap) = swap_max(l.memory_swap, l.memory_limit) {
        if dir.join("memory.swap.max").exists() {
            write(dir, "memory.swap.max", &max_or(swap))?;
        } else if l.memory_swap.is_some_and(|s| s != -1) {
            tracing::warn!(
                "linux.resources.memory.swap is ignored: swap accounting is not enabled on this host"
            );
        }
    }
    if let Some(limit) = l.memory_limit {
        write(dir, "memory.max", &max_or(limit))?;
    }
    if let Some(r) = l.memory_reservation {
        write(dir, "memory.low", &max_or(r))?;
    }
    if let Some(limit) = l.pids_limit {
        write(dir, "pids.max", &pids_max(limit))?;
    }
    if let Some(shares) = l.cpu_shares {
        write(dir, "cpu.weight", &shares_to_weight(shares).to_string())?;
    }
    if l.cpu_quota.is_some() || l.cpu_period.is_some() {
        let mut max = match l.cpu_quota {
            Some(q) if q > 0 => q.to_string(),
            _ => "max".to_string(),
        };
        if let Some(p) = l.cpu_period {
            max.push_str(&format!(" {p}"));
        }
        write(dir, "cpu.max", &max)?;
    }
    if let Some(cpus) = &l.cpus {
        write(dir, "cpuset.cpus", cpus)?;
    }
    if let Some(mems) = &l.mems {
        write(dir, "cpuset.mems", mems)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_to_weight_matches_runc() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(512), 20);
        assert_eq!(shares_to_weight(262_144), 10_000);
        // Clamped instead of wrapping or exceeding cpu.weight's range.
        assert_eq!(shares_to_weight(1), 1);
        assert_eq!(shares_to_weight(1_000_000), 10_000);
    }

    #[test]
    fn swap_is_converted_to_swap_alone() {
        assert_eq!(swap_max(Some(3 << 20), Some(1 << 20)), Some(2 << 20));
        assert_eq!(swap_max(Some(1 << 20), Some(1 << 20)), Some(0));
        assert_eq!(swap_max(Some(-1), Some(1 << 20)), Some(-1));
        assert_eq!(swap_max(None, Some(-1)), Some(-1));
        assert_eq!(swap_max(None, Some(1 << 20)), None);
        assert_eq!(swap_max(None, None), None);
    }
}
