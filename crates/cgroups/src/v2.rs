//! cgroup v2: a single directory; controllers must be enabled top-down.

use std::path::{Path, PathBuf};

use husk_spec::Resources;

use crate::fs::{mkdir_all, read_value, write, write_lines};
use crate::resolve::{first, Hierarchy, Version};
use crate::resources::{ignored, invalid, Limits, Mode, Throttle};
use crate::v1::{check_usage, hugetlb, pids_max, rdma, write_burst};
use crate::CgroupError;

/// `resources` checked for a v2 host. Whether the container's cgroup has
/// the controllers they need is checked in [`set`], once it exists.
pub(crate) fn limits(resources: &Resources) -> Result<Limits, CgroupError> {
    Limits::from_spec(resources, Version::V2)
}

/// [`crate::Cgroup::create`] on v2: the directory, the controllers enabled
/// down to it, then the limits; `made` gets what was made, for the caller
/// to clean up.
pub(crate) fn create(
    hs: &[Hierarchy],
    resources: &Resources,
    made: &mut Vec<PathBuf>,
) -> Result<(), CgroupError> {
    let limits = limits(resources)?;
    mkdir_all(hs, made)?;
    let h = first(hs)?;
    enable_controllers(h);
    set(h, &limits, Mode::Create)
}

pub(crate) fn update(hs: &[Hierarchy], resources: &Resources) -> Result<(), CgroupError> {
    let limits = limits(resources)?;
    set(first(hs)?, &limits, Mode::Update)
}

/// [`crate::Cgroup::validate`] on v2: at least the host must have each
/// controller (whether it can be enabled down to the container's cgroup
/// shows when it is made).
pub(crate) fn validate(hs: &[Hierarchy], resources: &Resources) -> Result<(), CgroupError> {
    let limits = limits(resources)?;
    match hs.first() {
        Some(h) => check_on_host(h, &limits),
        None => Ok(()),
    }
}

/// Writes `limits` to the container's directory, which must have every
/// controller they need.
pub(crate) fn set(h: &Hierarchy, limits: &Limits, mode: Mode) -> Result<(), CgroupError> {
    check_available(h, limits)?;
    apply(&h.dir, limits, mode)
}

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
fn enable_controllers(h: &Hierarchy) {
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
        // A non-root cgroup that holds processes must not get controllers
        // for its children: the domain ones are refused (EBUSY), but cpu,
        // cpuset and pids would be accepted and turn it "domain threaded",
        // its new children "domain invalid", and every later move into
        // them would fail with EOPNOTSUPP.
        if dir != h.mount_point
            && read_value(&dir, "cgroup.procs").is_ok_and(|p| !p.trim().is_empty())
        {
            continue;
        }
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

/// The v2 name of a controller [`Limits::needed`] names the v1 way.
fn v2_name(controller: &'static str) -> &'static str {
    match controller {
        "blkio" => "io",
        c => c,
    }
}

/// The controllers `limits` needs that the host's cgroup2 lacks altogether.
fn check_on_host(h: &Hierarchy, limits: &Limits) -> Result<(), CgroupError> {
    let on_host = read_value(&h.mount_point, "cgroup.controllers")?;
    let on_host: Vec<&str> = on_host.split_whitespace().collect();
    match limits
        .needed()
        .into_iter()
        .map(|(f, c)| (f, v2_name(c)))
        .find(|(_, c)| !on_host.contains(c))
    {
        Some((field, controller)) => Err(CgroupError::ControllerMissing { field, controller }),
        None => Ok(()),
    }
}

fn check_available(h: &Hierarchy, limits: &Limits) -> Result<(), CgroupError> {
    let here = read_value(&h.dir, "cgroup.controllers")?;
    let here: Vec<&str> = here.split_whitespace().collect();
    // unified keys name their controller: "memory.high" needs memory.
    for (key, _) in &limits.unified {
        let controller = key.split('.').next().unwrap_or_default();
        if controller != "cgroup" && !here.contains(&controller) {
            return Err(invalid(
                &format!("linux.resources.unified[{key:?}]"),
                format!(
                    "the {controller} controller is not enabled in {} (it is missing from \
                     cgroup.controllers)",
                    h.dir.display()
                ),
            ));
        }
    }
    let Some((field, controller)) = limits
        .needed()
        .into_iter()
        .map(|(f, c)| (f, v2_name(c)))
        .find(|(_, c)| !here.contains(c))
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

/// runc's ConvertBlkIOToIOWeightValue: v1 blkio weight [10, 1000] to v2
/// io.weight [1, 10000]; 0 stays "not set".
pub(crate) fn blkio_weight_to_io_weight(weight: u16) -> u64 {
    if weight == 0 {
        return 0;
    }
    1 + (u64::from(weight).saturating_sub(10)) * 9999 / 990
}

/// io.max lines, one per device in the order the devices first appear,
/// each with the keys the config sets: "8:0 rbps=1048576 wiops=100".
/// A rate of 0 (no limit in v1) is "max".
pub(crate) fn io_max_lines(throttles: &[Throttle]) -> Vec<String> {
    let mut lines: Vec<((i64, i64), String)> = Vec::new();
    for t in throttles {
        let rate = if t.rate == 0 {
            "max".to_string()
        } else {
            t.rate.to_string()
        };
        let entry = format!(" {}={rate}", t.kind.v2_key());
        match lines.iter_mut().find(|(dev, _)| *dev == (t.major, t.minor)) {
            Some((_, line)) => line.push_str(&entry),
            None => lines.push((
                (t.major, t.minor),
                format!("{}:{}{entry}", t.major, t.minor),
            )),
        }
    }
    lines.into_iter().map(|(_, l)| l).collect()
}

fn apply(dir: &Path, l: &Limits, _mode: Mode) -> Result<(), CgroupError> {
    memory(dir, l)?;
    if let Some(limit) = l.pids_limit {
        write(dir, "pids.max", &pids_max(limit))?;
    }
    cpu(dir, l)?;
    if let Some(cpus) = &l.cpus {
        write(dir, "cpuset.cpus", cpus)?;
    }
    if let Some(mems) = &l.mems {
        write(dir, "cpuset.mems", mems)?;
    }
    io(dir, l)?;
    hugetlb(dir, l, true)?;
    rdma(dir, l)?;
    // Device rules on v2 are an eBPF program attached to the cgroup,
    // replaced atomically on update.
    if let Some(rules) = &l.v2_devices {
        crate::bpf::apply_device_rules(dir, rules)?;
    }
    // unified goes last so that it can override anything above (runc).
    for (key, value) in &l.unified {
        write_lines(dir, key, value)?;
    }
    Ok(())
}

fn memory(dir: &Path, l: &Limits) -> Result<(), CgroupError> {
    let swap = swap_max(l.memory_swap, l.memory_limit);
    if l.check_before_update {
        if let Some(limit) = l.memory_limit {
            check_usage(dir, "linux.resources.memory.limit", "memory.current", limit)?;
        }
        if let Some(s) = swap.filter(|s| *s > 0) {
            check_usage(dir, "linux.resources.memory.swap", "memory.swap.current", s)?;
        }
    }
    if let Some(swap) = swap {
        if dir.join("memory.swap.max").exists() {
            write(dir, "memory.swap.max", &max_or(swap))?;
        } else if l.memory_swap.is_some_and(|s| s != -1) {
            ignored(
                "linux.resources.memory.swap",
                "swap accounting is not enabled on this host",
            );
        }
    }
    if let Some(limit) = l.memory_limit {
        write(dir, "memory.max", &max_or(limit))?;
    }
    if let Some(r) = l.memory_reservation {
        write(dir, "memory.low", &max_or(r))?;
    }
    Ok(())
}

fn cpu(dir: &Path, l: &Limits) -> Result<(), CgroupError> {
    // An idle group refuses cpu.weight: leaving idle goes first.
    if l.cpu_idle == Some(0) {
        write(dir, "cpu.idle", "0")?;
    }
    if let Some(shares) = l.cpu_shares {
        if l.cpu_idle == Some(1) {
            ignored(
                "linux.resources.cpu.shares",
                "an idle cgroup (linux.resources.cpu.idle = 1) has no weight",
            );
        } else {
            write(dir, "cpu.weight", &shares_to_weight(shares).to_string())?;
        }
    }
    // A larger burst can fail (EINVAL) against the old quota; it is retried
    // once cpu.max is written (runc).
    let quota_coming = l.cpu_quota.is_some() || l.cpu_period.is_some();
    let burst_pending = write_burst(dir, "cpu.max.burst", l.cpu_burst, quota_coming)?;
    if let Some(max) = cpu_max(l.cpu_quota, l.cpu_period) {
        write(dir, "cpu.max", &max)?;
        if let Some(burst) = burst_pending {
            write(dir, "cpu.max.burst", &burst.to_string())?;
        }
    }
    if l.cpu_idle == Some(1) {
        write(dir, "cpu.idle", "1")?;
    }
    Ok(())
}

/// cpu.max: "QUOTA PERIOD", "max PERIOD", or the quota alone.
pub(crate) fn cpu_max(quota: Option<i64>, period: Option<u64>) -> Option<String> {
    if quota.is_none() && period.is_none() {
        return None;
    }
    let mut max = match quota {
        Some(q) if q > 0 => q.to_string(),
        _ => "max".to_string(),
    };
    if let Some(p) = period {
        max.push_str(&format!(" {p}"));
    }
    Some(max)
}

/// io.bfq.weight takes v1 weights as they are; io.weight (io cost) takes
/// the converted value. Per-device weights go to the same file.
fn io(dir: &Path, l: &Limits) -> Result<(), CgroupError> {
    let bfq = dir.join("io.bfq.weight").exists();
    let target = |w: u16| -> Option<(&'static str, u64)> {
        if bfq {
            Some(("io.bfq.weight", u64::from(w)))
        } else if dir.join("io.weight").exists() {
            Some(("io.weight", blkio_weight_to_io_weight(w)))
        } else {
            None
        }
    };
    let no_weight = |field: &str| {
        invalid(
            field,
            format!(
                "{} has neither io.bfq.weight nor io.weight (weights need the BFQ I/O \
                 scheduler or io cost)",
                dir.display()
            ),
        )
    };
    if let Some(w) = l.blkio_weight {
        let (file, value) = target(w).ok_or_else(|| no_weight("linux.resources.blockIO.weight"))?;
        write(dir, file, &value.to_string())?;
    }
    if l.blkio_leaf_weight.is_some() || l.weight_devices.iter().any(|d| d.leaf_weight.is_some()) {
        ignored(
            "linux.resources.blockIO leaf weights",
            "cgroup v2 has no leaf weights",
        );
    }
    for d in &l.weight_devices {
        if let Some(w) = d.weight {
            let field = format!("linux.resources.blockIO.weightDevice[{}].weight", d.index);
            let (file, value) = target(w).ok_or_else(|| no_weight(&field))?;
            write(dir, file, &format!("{}:{} {value}", d.major, d.minor))?;
        }
    }
    for line in io_max_lines(&l.throttles) {
        write(dir, "io.max", &line)?;
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

    #[test]
    fn blkio_weight_conversion_matches_runc() {
        assert_eq!(blkio_weight_to_io_weight(0), 0);
        assert_eq!(blkio_weight_to_io_weight(10), 1);
        assert_eq!(blkio_weight_to_io_weight(100), 910);
        assert_eq!(blkio_weight_to_io_weight(500), 4950);
        assert_eq!(blkio_weight_to_io_weight(1000), 10_000);
    }

    #[test]
    fn io_max_has_one_line_per_device() {
        use crate::resources::ThrottleKind::*;
        let t = |kind, major, minor, rate| Throttle {
            kind,
            major,
            minor,
            rate,
        };
        let lines = io_max_lines(&[
            t(ReadBps, 8, 0, 1 << 20),
            t(WriteBps, 8, 16, 2 << 20),
            t(ReadIops, 8, 0, 100),
            t(WriteIops, 8, 0, 0),
        ]);
        assert_eq!(
            lines,
            vec![
                "8:0 rbps=1048576 riops=100 wiops=max".to_string(),
                "8:16 wbps=2097152".to_string(),
            ]
        );
        assert!(io_max_lines(&[]).is_empty());
    }

    #[test]
    fn cpu_max_formats() {
        assert_eq!(cpu_max(None, None), None);
        assert_eq!(
            cpu_max(Some(50_000), Some(100_000)).unwrap(),
            "50000 100000"
        );
        assert_eq!(cpu_max(Some(-1), Some(100_000)).unwrap(), "max 100000");
        assert_eq!(cpu_max(None, Some(200_000)).unwrap(), "max 200000");
        assert_eq!(cpu_max(Some(20_000), None).unwrap(), "20000");
    }

    #[test]
    fn rdma_lines() {
        assert_eq!(
            crate::v1::rdma_line("mlx5_1", Some(3), Some(10_000)),
            "mlx5_1 hca_handle=3 hca_object=10000"
        );
        assert_eq!(
            crate::v1::rdma_line("mlx4_0", None, Some(7)),
            "mlx4_0 hca_object=7"
        );
    }
}
