//! cgroup v1: one directory per hierarchy, one file set per controller.

use std::path::{Path, PathBuf};

use husk_spec::Resources;

use crate::fs::{errno, mkdir_all, read_u64, read_value, write};
use crate::resolve::{Hierarchy, Version};
use crate::resources::{ignored, invalid, Limits, Mode};
use crate::CgroupError;

const MEMORY_LIMIT: &str = "memory.limit_in_bytes";
const MEMSW_LIMIT: &str = "memory.memsw.limit_in_bytes";

fn find<'a>(hs: &'a [Hierarchy], controller: &str) -> Option<&'a Hierarchy> {
    hs.iter().find(|h| h.has(controller))
}

/// Run before anything is created: a v1 host's controllers are exactly its
/// mounted hierarchies.
fn check_available(hs: &[Hierarchy], limits: &Limits) -> Result<(), CgroupError> {
    match limits
        .needed()
        .into_iter()
        .find(|(_, c)| find(hs, c).is_none())
    {
        Some((field, controller)) => Err(CgroupError::ControllerMissing { field, controller }),
        None => Ok(()),
    }
}

/// `resources` checked for this host, before anything is created.
pub(crate) fn limits(hs: &[Hierarchy], resources: &Resources) -> Result<Limits, CgroupError> {
    let limits = Limits::from_spec(resources, Version::V1)?;
    check_available(hs, &limits)?;
    Ok(limits)
}

/// [`crate::Cgroup::create`] on v1: the directory in every hierarchy, then
/// the limits; `made` gets what was made, for the caller to clean up.
pub(crate) fn create(
    hs: &[Hierarchy],
    resources: &Resources,
    made: &mut Vec<PathBuf>,
) -> Result<(), CgroupError> {
    let limits = limits(hs, resources)?;
    mkdir_all(hs, made)?;
    if let Some(h) = find(hs, "cpuset") {
        init_cpuset(h)?;
    }
    apply(hs, &limits, Mode::Create)
}

pub(crate) fn update(hs: &[Hierarchy], resources: &Resources) -> Result<(), CgroupError> {
    apply(hs, &limits(hs, resources)?, Mode::Update)
}

/// [`crate::Cgroup::join_early`]: the first hierarchy whose controllers
/// only account for or weigh CPU time, if there is one.
pub(crate) fn join_early(hs: &[Hierarchy], pid: i32) -> Result<(), CgroupError> {
    const NEUTRAL: &[&str] = &["cpu", "cpuacct", "perf_event", "net_cls", "net_prio"];
    let neutral = hs.iter().find(|h| {
        !h.controllers.is_empty() && h.controllers.iter().all(|c| NEUTRAL.contains(&c.as_str()))
    });
    match neutral {
        Some(h) => write(&h.dir, "cgroup.procs", &pid.to_string()),
        None => Ok(()),
    }
}

/// A new v1 cpuset cgroup starts with empty cpuset.cpus and cpuset.mems and
/// the kernel refuses tasks in it (ENOSPC) until both are set, so copy the
/// parent's values down into every empty level, top-down, as runc does.
fn init_cpuset(h: &Hierarchy) -> Result<(), CgroupError> {
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

fn apply(hs: &[Hierarchy], l: &Limits, mode: Mode) -> Result<(), CgroupError> {
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
    if let Some(h) = find(hs, "blkio") {
        blkio(&h.dir, l)?;
    }
    if let Some(h) = find(hs, "hugetlb") {
        hugetlb(&h.dir, l, false)?;
    }
    if let (Some(h), Some(id)) = (find(hs, "net_cls"), l.net_class_id) {
        write(&h.dir, "net_cls.classid", &id.to_string())?;
    }
    if let Some(h) = find(hs, "net_prio") {
        for (name, prio) in &l.net_priorities {
            write(&h.dir, "net_prio.ifpriomap", &format!("{name} {prio}"))?;
        }
    }
    if let Some(h) = find(hs, "rdma") {
        rdma(&h.dir, l)?;
    }
    if let Some(h) = find(hs, "devices") {
        devices(&h.dir, l, mode)?;
    }
    Ok(())
}

/// runtime-spec 1.3.0: a negative limit (-1) is "max"; 0 is a limit (runc
/// 1.1.5 leaves pids.max alone for 0).
pub(crate) fn pids_max(limit: i64) -> String {
    if limit < 0 {
        "max".to_string()
    } else {
        limit.to_string()
    }
}

/// On update a rule set that starts by denying everything first resets the
/// cgroup to "deny all, no exceptions" (as runc does), so that exceptions
/// the old rules granted do not survive; then the rules are replayed.
fn devices(dir: &Path, l: &Limits, mode: Mode) -> Result<(), CgroupError> {
    let deny_all = l
        .devices
        .first()
        .is_some_and(|r| !r.allow && r.text == "a *:* rwm");
    if mode == Mode::Update && deny_all {
        write(dir, "devices.deny", "a")?;
    }
    for r in &l.devices {
        let file = if r.allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        write(dir, file, &r.text)?;
    }
    Ok(())
}

/// checkBeforeUpdate: a limit at or below what the cgroup already uses
/// would make the kernel reclaim or OOM-kill; refuse it instead (runc).
pub(crate) fn check_usage(
    dir: &Path,
    field: &str,
    usage_file: &str,
    limit: i64,
) -> Result<(), CgroupError> {
    if limit <= 0 || !dir.join(usage_file).exists() {
        return Ok(());
    }
    let usage = read_u64(dir, usage_file)?;
    if usage >= limit.unsigned_abs() {
        return Err(invalid(
            field,
            format!(
                "{limit} is not above the current usage of {usage} bytes ({usage_file}), \
                 and checkBeforeUpdate is set"
            ),
        ));
    }
    Ok(())
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
                return Err(invalid(
                    "linux.resources.memory.swap",
                    format!(
                        "swap accounting is not enabled on this host ({} is missing)",
                        dir.join(MEMSW_LIMIT).display()
                    ),
                ))
            }
        }
    }
    if l.check_before_update {
        if let Some(limit) = l.memory_limit {
            check_usage(
                dir,
                "linux.resources.memory.limit",
                "memory.usage_in_bytes",
                limit,
            )?;
        }
        if let Some(swap) = swap {
            check_usage(
                dir,
                "linux.resources.memory.swap",
                "memory.memsw.usage_in_bytes",
                swap,
            )?;
        }
    }
    match (l.memory_limit, swap) {
        (Some(limit), Some(swap)) => {
            // The kernel keeps limit <= memsw at every step, so memsw goes
            // first when it has to grow past the current limit (runc's order).
            let current = read_u64(dir, MEMORY_LIMIT)?;
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
    match l.disable_oom_killer {
        Some(true) => write(dir, "memory.oom_control", "1")?,
        Some(false) if oom_kill_disabled(dir)? => write(dir, "memory.oom_control", "0")?,
        _ => {}
    }
    if let Some(want) = l.use_hierarchy {
        let want = if want { "1" } else { "0" };
        if read_value(dir, "memory.use_hierarchy")? != want {
            // Refused once the cgroup has children (EBUSY) and by kernels
            // where it is always 1 (EINVAL); runc carries on in both cases.
            match write(dir, "memory.use_hierarchy", want) {
                Err(e) if matches!(errno(&e), Some(libc::EBUSY | libc::EINVAL)) => {
                    tracing::warn!("linux.resources.memory.useHierarchy is not applied: {e}")
                }
                r => r?,
            }
        }
    }
    Ok(())
}

fn oom_kill_disabled(dir: &Path) -> Result<bool, CgroupError> {
    Ok(crate::fs::read(&dir.join("memory.oom_control"))?
        .lines()
        .any(|l| l.trim() == "oom_kill_disable 1"))
}

fn is_einval(e: &CgroupError) -> bool {
    errno(e) == Some(libc::EINVAL)
}

/// Writes a cpu burst to `file` (v1 cpu.cfs_burst_us, v2 cpu.max.burst),
/// skipped with a warning where the kernel lacks the file. A larger burst
/// can fail (EINVAL) against the old quota: when a quota write follows
/// (`quota_coming`), the burst is returned for a retry after it (runc).
pub(crate) fn write_burst(
    dir: &Path,
    file: &str,
    burst: Option<u64>,
    quota_coming: bool,
) -> Result<Option<u64>, CgroupError> {
    let Some(burst) = burst else {
        return Ok(None);
    };
    if !dir.join(file).exists() {
        ignored(
            "linux.resources.cpu.burst",
            &format!("this kernel has no {file}"),
        );
        return Ok(None);
    }
    match write(dir, file, &burst.to_string()) {
        Ok(()) => Ok(None),
        Err(e) if is_einval(&e) && quota_coming => Ok(Some(burst)),
        Err(e) => Err(e),
    }
}

fn cpu(dir: &Path, l: &Limits) -> Result<(), CgroupError> {
    // A group cannot take cpu.shares while it is idle: leaving idle goes
    // first, entering it last.
    if l.cpu_idle == Some(0) {
        idle(dir, 0)?;
    }
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
            return Err(invalid(
                "linux.resources.cpu.shares",
                format!("{shares} is out of range: the {bound} the kernel allows is {got}"),
            ));
        }
    }
    // A shorter period or a larger burst can fail (EINVAL) while the old
    // quota is in place; both go through once the new quota is (runc).
    let mut period_pending = None;
    if let Some(period) = l.cpu_period {
        if let Err(e) = write(dir, "cpu.cfs_period_us", &period.to_string()) {
            if !is_einval(&e) || l.cpu_quota.is_none() {
                return Err(e);
            }
            period_pending = Some(period);
        }
    }
    let burst_pending = write_burst(dir, "cpu.cfs_burst_us", l.cpu_burst, l.cpu_quota.is_some())?;
    if let Some(quota) = l.cpu_quota {
        write(dir, "cpu.cfs_quota_us", &quota.to_string())?;
        if let Some(period) = period_pending {
            write(dir, "cpu.cfs_period_us", &period.to_string())?;
        }
        if let Some(burst) = burst_pending {
            write(dir, "cpu.cfs_burst_us", &burst.to_string())?;
        }
    }
    if let Some(i) = l.cpu_idle.filter(|i| *i != 0) {
        idle(dir, i)?;
    }
    realtime(dir, l)
}

fn idle(dir: &Path, value: i64) -> Result<(), CgroupError> {
    if dir.join("cpu.idle").exists() {
        write(dir, "cpu.idle", &value.to_string())
    } else {
        ignored("linux.resources.cpu.idle", "this kernel has no cpu.idle");
        Ok(())
    }
}

/// Real-time bandwidth: the period first, then the runtime; a period the
/// kernel refuses with the old runtime is retried after the new runtime.
fn realtime(dir: &Path, l: &Limits) -> Result<(), CgroupError> {
    if l.rt_period.is_none() && l.rt_runtime.is_none() {
        return Ok(());
    }
    if !dir.join("cpu.rt_runtime_us").exists() {
        let field = if l.rt_runtime.is_some() {
            "linux.resources.cpu.realtimeRuntime"
        } else {
            "linux.resources.cpu.realtimePeriod"
        };
        return Err(invalid(
            field,
            "this kernel has no real-time group scheduling (cpu.rt_runtime_us is missing)".into(),
        ));
    }
    let mut period_pending = None;
    if let Some(period) = l.rt_period {
        if let Err(e) = write(dir, "cpu.rt_period_us", &period.to_string()) {
            if !is_einval(&e) || l.rt_runtime.is_none() {
                return Err(e);
            }
            period_pending = Some(period);
        }
    }
    if let Some(runtime) = l.rt_runtime {
        write(dir, "cpu.rt_runtime_us", &runtime.to_string())?;
        if let Some(period) = period_pending {
            write(dir, "cpu.rt_period_us", &period.to_string())?;
        }
    }
    Ok(())
}

/// blkio.weight (CFQ) if the kernel has it, else blkio.bfq.weight (BFQ):
/// runc's choice on v1.
fn blkio(dir: &Path, l: &Limits) -> Result<(), CgroupError> {
    let files = if dir.join("blkio.weight").exists() {
        Some(("blkio.weight", "blkio.weight_device"))
    } else if dir.join("blkio.bfq.weight").exists() {
        Some(("blkio.bfq.weight", "blkio.bfq.weight_device"))
    } else {
        None
    };
    let no_weight = |field: &str| {
        invalid(
            field,
            format!(
                "{} has neither blkio.weight nor blkio.bfq.weight (weights need the CFQ or \
                 BFQ I/O scheduler)",
                dir.display()
            ),
        )
    };
    if let Some(w) = l.blkio_weight {
        let Some((file, _)) = files else {
            return Err(no_weight("linux.resources.blockIO.weight"));
        };
        write(dir, file, &w.to_string())?;
    }
    let no_leaf = |field: &str| {
        invalid(
            field,
            format!(
                "{} has no blkio.leaf_weight (leaf weights need the CFQ I/O scheduler)",
                dir.display()
            ),
        )
    };
    if let Some(w) = l.blkio_leaf_weight {
        if !dir.join("blkio.leaf_weight").exists() {
            return Err(no_leaf("linux.resources.blockIO.leafWeight"));
        }
        write(dir, "blkio.leaf_weight", &w.to_string())?;
    }
    for d in &l.weight_devices {
        let field = format!("linux.resources.blockIO.weightDevice[{}]", d.index);
        if let Some(w) = d.weight {
            let Some((_, file)) = files else {
                return Err(no_weight(&format!("{field}.weight")));
            };
            write(dir, file, &format!("{}:{} {w}", d.major, d.minor))?;
        }
        if let Some(w) = d.leaf_weight {
            if !dir.join("blkio.leaf_weight_device").exists() {
                return Err(no_leaf(&format!("{field}.leafWeight")));
            }
            write(
                dir,
                "blkio.leaf_weight_device",
                &format!("{}:{} {w}", d.major, d.minor),
            )?;
        }
    }
    for t in &l.throttles {
        write(
            dir,
            t.kind.v1_file(),
            &format!("{}:{} {}", t.major, t.minor, t.rate),
        )?;
    }
    Ok(())
}

/// hugetlb.<size>.limit_in_bytes (v1) or hugetlb.<size>.max (v2), and the
/// reservation variant too where the kernel has it, as runc does.
pub(crate) fn hugetlb(dir: &Path, l: &Limits, v2: bool) -> Result<(), CgroupError> {
    let (limit_suffix, rsvd_suffix) = if v2 {
        ("max", "rsvd.max")
    } else {
        ("limit_in_bytes", "rsvd.limit_in_bytes")
    };
    for h in &l.hugepages {
        let file = format!("hugetlb.{}.{limit_suffix}", h.size);
        if !dir.join(&file).exists() {
            return Err(invalid(
                &format!("linux.resources.hugepageLimits[{}].pageSize", h.index),
                format!(
                    "{:?} is not a huge page size this host supports ({} is missing)",
                    h.size,
                    dir.join(&file).display()
                ),
            ));
        }
        let value = h.limit.to_string();
        write(dir, &file, &value)?;
        let rsvd = format!("hugetlb.{}.{rsvd_suffix}", h.size);
        if dir.join(&rsvd).exists() {
            write(dir, &rsvd, &value)?;
        }
    }
    Ok(())
}

/// rdma.max, one device per write: "mlx5_1 hca_handle=N hca_object=M"
/// (the same format on v1 and v2).
pub(crate) fn rdma(dir: &Path, l: &Limits) -> Result<(), CgroupError> {
    for (dev, handles, objects) in &l.rdma {
        write(dir, "rdma.max", &rdma_line(dev, *handles, *objects))?;
    }
    Ok(())
}

pub(crate) fn rdma_line(dev: &str, handles: Option<u32>, objects: Option<u32>) -> String {
    let mut line = dev.to_string();
    if let Some(h) = handles {
        line.push_str(&format!(" hca_handle={h}"));
    }
    if let Some(o) = objects {
        line.push_str(&format!(" hca_object={o}"));
    }
    line
}

#[cfg(test)]
mod pids_tests {
    #[test]
    fn pids_limit_as_runtime_spec_1_3() {
        assert_eq!(super::pids_max(-1), "max");
        assert_eq!(super::pids_max(0), "0");
        assert_eq!(super::pids_max(12), "12");
    }
}
