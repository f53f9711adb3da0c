//! `linux.resources` normalised and checked before any directory is
//! created, so that a bad config leaves nothing behind.

use husk_spec::Resources;

use crate::resolve::Version;
use crate::CgroupError;

/// Resource settings normalised the way runc reads the spec: 0 (or "") means
/// "not set" and -1 means "unlimited".
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Limits {
    pub memory_limit: Option<i64>,
    pub memory_reservation: Option<i64>,
    /// Memory plus swap, as both the spec and cgroup v1 count it.
    pub memory_swap: Option<i64>,
    /// v1 only.
    pub swappiness: Option<u64>,
    /// v1 only (memory.oom_control).
    pub disable_oom_killer: Option<bool>,
    /// v1 only (memory.use_hierarchy).
    pub use_hierarchy: Option<bool>,
    /// Refuse a memory limit at or below the current usage.
    pub check_before_update: bool,
    /// Zero or negative means "max".
    pub pids_limit: Option<i64>,
    pub cpu_shares: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<u64>,
    /// Set even when 0 (the spec's pointer semantics, as in runc).
    pub cpu_burst: Option<u64>,
    /// v1 only.
    pub rt_runtime: Option<i64>,
    /// v1 only.
    pub rt_period: Option<u64>,
    pub cpu_idle: Option<i64>,
    pub cpus: Option<String>,
    pub mems: Option<String>,
    /// 10..=1000, as in v1 blkio.weight.
    pub blkio_weight: Option<u16>,
    pub blkio_leaf_weight: Option<u16>,
    pub weight_devices: Vec<WeightDevice>,
    pub throttles: Vec<Throttle>,
    pub hugepages: Vec<Hugepage>,
    /// v1 only (net_cls.classid).
    pub net_class_id: Option<u32>,
    /// v1 only (net_prio.ifpriomap): interface name and priority.
    pub net_priorities: Vec<(String, u32)>,
    /// Device name, hca_handle, hca_object.
    pub rdma: Vec<(String, Option<u32>, Option<u32>)>,
    /// v2 only: file name and value, in key order.
    pub unified: Vec<(String, String)>,
    /// v1 devices.allow / devices.deny writes, in order.
    pub devices: Vec<crate::devices::Rule>,
    /// v2: the rules for the eBPF device program.
    pub v2_devices: Option<Vec<husk_spec::DeviceCgroup>>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WeightDevice {
    /// Index in blockIO.weightDevice, for error messages.
    pub index: usize,
    pub major: i64,
    pub minor: i64,
    pub weight: Option<u16>,
    pub leaf_weight: Option<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ThrottleKind {
    ReadBps,
    WriteBps,
    ReadIops,
    WriteIops,
}

impl ThrottleKind {
    pub fn v1_file(self) -> &'static str {
        match self {
            ThrottleKind::ReadBps => "blkio.throttle.read_bps_device",
            ThrottleKind::WriteBps => "blkio.throttle.write_bps_device",
            ThrottleKind::ReadIops => "blkio.throttle.read_iops_device",
            ThrottleKind::WriteIops => "blkio.throttle.write_iops_device",
        }
    }

    /// The key in a v2 io.max line.
    pub fn v2_key(self) -> &'static str {
        match self {
            ThrottleKind::ReadBps => "rbps",
            ThrottleKind::WriteBps => "wbps",
            ThrottleKind::ReadIops => "riops",
            ThrottleKind::WriteIops => "wiops",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Throttle {
    pub kind: ThrottleKind,
    pub major: i64,
    pub minor: i64,
    /// 0 removes the limit.
    pub rate: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Hugepage {
    /// Index in hugepageLimits, for error messages.
    pub index: usize,
    pub size: String,
    pub limit: u64,
}

/// Whether limits go to a new cgroup or replace those of a running one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Create,
    Update,
}

impl Limits {
    pub fn from_spec(res: &Resources, version: Version) -> Result<Self, CgroupError> {
        let mut l = Limits::default();
        memory(res, version, &mut l)?;
        if let Some(p) = &res.pids {
            l.pids_limit = p.limit;
        }
        cpu(res, version, &mut l)?;
        block_io(res, &mut l)?;
        for (index, h) in res.hugepage_limits.iter().flatten().enumerate() {
            if !is_page_size(&h.page_size) {
                return Err(invalid(
                    &format!("linux.resources.hugepageLimits[{index}].pageSize"),
                    format!(
                        "{:?} is not a page size such as \"2MB\" or \"1GB\"",
                        h.page_size
                    ),
                ));
            }
            l.hugepages.push(Hugepage {
                index,
                size: h.page_size.clone(),
                limit: h.limit,
            });
        }
        if let Some(n) = &res.network {
            l.net_class_id = n.class_id.filter(|c| *c != 0);
            for (i, p) in n.priorities.iter().enumerate() {
                if p.name.is_empty() || p.name.contains(char::is_whitespace) {
                    return Err(invalid(
                        &format!("linux.resources.network.priorities[{i}].name"),
                        format!("{:?} is not an interface name", p.name),
                    ));
                }
                l.net_priorities.push((p.name.clone(), p.priority));
            }
            if version == Version::V2 && (l.net_class_id.is_some() || !l.net_priorities.is_empty())
            {
                return Err(invalid(
                    "linux.resources.network",
                    "net_cls and net_prio are not available on cgroup v2".into(),
                ));
            }
        }
        for (dev, r) in res.rdma.iter().flatten() {
            if dev.is_empty() || dev.contains(char::is_whitespace) {
                return Err(invalid(
                    "linux.resources.rdma",
                    format!("{dev:?} is not an RDMA device name"),
                ));
            }
            if r.hca_handles.is_some() || r.hca_objects.is_some() {
                l.rdma.push((dev.clone(), r.hca_handles, r.hca_objects));
            }
        }
        unified(res, version, &mut l)?;
        if !res.devices.is_empty() {
            match version {
                Version::V1 => l.devices = crate::devices::v1_rules(&res.devices)?,
                // Compiled now so that a bad rule fails before anything is
                // created; loaded into the cgroup by v2::apply.
                Version::V2 => {
                    crate::bpf::compile(&res.devices)?;
                    l.v2_devices = Some(res.devices.clone());
                }
            }
        }
        Ok(l)
    }

    /// The controllers these limits need (v1 names), each with the first
    /// field that asks for it (for the error message when the host lacks it).
    pub fn needed(&self) -> Vec<(&'static str, &'static str)> {
        let mut out = Vec::new();
        if self.memory_limit.is_some()
            || self.memory_reservation.is_some()
            || self.memory_swap.is_some()
            || self.swappiness.is_some()
            || self.disable_oom_killer == Some(true)
            || self.use_hierarchy.is_some()
        {
            out.push(("linux.resources.memory", "memory"));
        }
        if self.pids_limit.is_some() {
            out.push(("linux.resources.pids", "pids"));
        }
        let cpu_field = [
            ("linux.resources.cpu.shares", self.cpu_shares.is_some()),
            ("linux.resources.cpu.quota", self.cpu_quota.is_some()),
            ("linux.resources.cpu.period", self.cpu_period.is_some()),
            ("linux.resources.cpu.burst", self.cpu_burst.is_some()),
            (
                "linux.resources.cpu.realtimeRuntime",
                self.rt_runtime.is_some(),
            ),
            (
                "linux.resources.cpu.realtimePeriod",
                self.rt_period.is_some(),
            ),
            ("linux.resources.cpu.idle", self.cpu_idle.is_some()),
        ];
        if let Some((field, _)) = cpu_field.iter().find(|(_, set)| *set) {
            out.push((field, "cpu"));
        }
        if self.cpus.is_some() {
            out.push(("linux.resources.cpu.cpus", "cpuset"));
        } else if self.mems.is_some() {
            out.push(("linux.resources.cpu.mems", "cpuset"));
        }
        if self.blkio_weight.is_some()
            || self.blkio_leaf_weight.is_some()
            || !self.weight_devices.is_empty()
            || !self.throttles.is_empty()
        {
            out.push(("linux.resources.blockIO", "blkio"));
        }
        if !self.hugepages.is_empty() {
            out.push(("linux.resources.hugepageLimits", "hugetlb"));
        }
        if self.net_class_id.is_some() {
            out.push(("linux.resources.network.classID", "net_cls"));
        }
        if !self.net_priorities.is_empty() {
            out.push(("linux.resources.network.priorities", "net_prio"));
        }
        if !self.rdma.is_empty() {
            out.push(("linux.resources.rdma", "rdma"));
        }
        if !self.devices.is_empty() {
            out.push(("linux.resources.devices", "devices"));
        }
        out
    }
}

fn memory(res: &Resources, version: Version, l: &mut Limits) -> Result<(), CgroupError> {
    let Some(m) = &res.memory else {
        return Ok(());
    };
    l.memory_limit = bytes("linux.resources.memory.limit", m.limit)?;
    l.memory_reservation = bytes("linux.resources.memory.reservation", m.reservation)?;
    l.memory_swap = bytes("linux.resources.memory.swap", m.swap)?;
    if let Some(swap) = l.memory_swap.filter(|s| *s > 0) {
        match l.memory_limit {
            Some(limit) if limit > 0 => {
                if swap < limit {
                    return Err(invalid(
                        "linux.resources.memory.swap",
                        format!(
                            "{swap} counts memory plus swap, so it must not be below \
                             linux.resources.memory.limit ({limit})"
                        ),
                    ));
                }
            }
            _ => {
                return Err(invalid(
                    "linux.resources.memory.swap",
                    "a swap limit needs a positive linux.resources.memory.limit".into(),
                ))
            }
        }
    }
    match (version, m.swappiness) {
        (Version::V1, Some(s)) if s > 100 => {
            return Err(invalid(
                "linux.resources.memory.swappiness",
                format!("{s} is out of range 0-100"),
            ))
        }
        (Version::V1, s) => l.swappiness = s,
        (Version::V2, Some(_)) => ignored(
            "linux.resources.memory.swappiness",
            "cgroup v2 has no such setting",
        ),
        (Version::V2, None) => {}
    }
    match version {
        Version::V1 => {
            l.disable_oom_killer = m.disable_oom_killer;
            l.use_hierarchy = m.use_hierarchy;
        }
        Version::V2 => {
            if m.disable_oom_killer == Some(true) {
                ignored(
                    "linux.resources.memory.disableOOMKiller",
                    "cgroup v2 cannot disable the OOM killer",
                );
            }
            if m.use_hierarchy == Some(false) {
                ignored(
                    "linux.resources.memory.useHierarchy",
                    "cgroup v2 is always hierarchical",
                );
            }
        }
    }
    l.check_before_update = m.check_before_update == Some(true);
    // runc ignores kernel memory limits too: the kernel deprecated them.
    if m.kernel.is_some_and(|k| k != 0) {
        ignored(
            "linux.resources.memory.kernel",
            "kernel memory limits are deprecated by the kernel",
        );
    }
    if m.kernel_tcp.is_some_and(|k| k != 0) {
        ignored(
            "linux.resources.memory.kernelTCP",
            "kernel memory limits are deprecated by the kernel",
        );
    }
    Ok(())
}

fn cpu(res: &Resources, version: Version, l: &mut Limits) -> Result<(), CgroupError> {
    let Some(c) = &res.cpu else {
        return Ok(());
    };
    l.cpu_shares = c.shares.filter(|s| *s != 0);
    l.cpu_quota = c.quota.filter(|q| *q != 0);
    if let Some(q) = l.cpu_quota.filter(|q| *q < -1) {
        return Err(invalid(
            "linux.resources.cpu.quota",
            format!("{q} is neither -1 (unlimited) nor a positive number of microseconds"),
        ));
    }
    l.cpu_period = c.period.filter(|p| *p != 0);
    l.cpu_burst = c.burst;
    l.rt_runtime = c.realtime_runtime.filter(|r| *r != 0);
    if let Some(r) = l.rt_runtime.filter(|r| *r < -1) {
        return Err(invalid(
            "linux.resources.cpu.realtimeRuntime",
            format!("{r} is neither -1 (unlimited) nor a positive number of microseconds"),
        ));
    }
    l.rt_period = c.realtime_period.filter(|p| *p != 0);
    if version == Version::V2 {
        for (field, set) in [
            (
                "linux.resources.cpu.realtimeRuntime",
                l.rt_runtime.is_some(),
            ),
            ("linux.resources.cpu.realtimePeriod", l.rt_period.is_some()),
        ] {
            if set {
                return Err(invalid(field, "not supported on cgroup v2".into()));
            }
        }
    }
    l.cpu_idle = c.idle;
    if let Some(i) = l.cpu_idle.filter(|i| !matches!(i, 0 | 1)) {
        return Err(invalid(
            "linux.resources.cpu.idle",
            format!("{i} is neither 0 nor 1"),
        ));
    }
    l.cpus = c.cpus.clone().filter(|s| !s.is_empty());
    l.mems = c.mems.clone().filter(|s| !s.is_empty());
    Ok(())
}

fn block_io(res: &Resources, l: &mut Limits) -> Result<(), CgroupError> {
    let Some(b) = &res.block_io else {
        return Ok(());
    };
    l.blkio_weight = weight("linux.resources.blockIO.weight", b.weight)?;
    l.blkio_leaf_weight = weight("linux.resources.blockIO.leafWeight", b.leaf_weight)?;
    for (index, d) in b.weight_device.iter().enumerate() {
        let field = format!("linux.resources.blockIO.weightDevice[{index}]");
        device_numbers(&field, d.major, d.minor)?;
        let w = WeightDevice {
            index,
            major: d.major,
            minor: d.minor,
            weight: weight(&format!("{field}.weight"), d.weight)?,
            leaf_weight: weight(&format!("{field}.leafWeight"), d.leaf_weight)?,
        };
        if w.weight.is_some() || w.leaf_weight.is_some() {
            l.weight_devices.push(w);
        }
    }
    let lists = [
        (
            "throttleReadBpsDevice",
            ThrottleKind::ReadBps,
            &b.throttle_read_bps_device,
        ),
        (
            "throttleWriteBpsDevice",
            ThrottleKind::WriteBps,
            &b.throttle_write_bps_device,
        ),
        (
            "throttleReadIOPSDevice",
            ThrottleKind::ReadIops,
            &b.throttle_read_iops_device,
        ),
        (
            "throttleWriteIOPSDevice",
            ThrottleKind::WriteIops,
            &b.throttle_write_iops_device,
        ),
    ];
    for (name, kind, list) in lists {
        for (i, t) in list.iter().enumerate() {
            device_numbers(
                &format!("linux.resources.blockIO.{name}[{i}]"),
                t.major,
                t.minor,
            )?;
            l.throttles.push(Throttle {
                kind,
                major: t.major,
                minor: t.minor,
                rate: t.rate,
            });
        }
    }
    Ok(())
}

/// v1 blkio weights: 0 means "not set", otherwise 10..1000.
fn weight(field: &str, w: Option<u16>) -> Result<Option<u16>, CgroupError> {
    match w {
        None | Some(0) => Ok(None),
        Some(w @ 10..=1000) => Ok(Some(w)),
        Some(w) => Err(invalid(field, format!("{w} is outside 10..1000"))),
    }
}

fn device_numbers(field: &str, major: i64, minor: i64) -> Result<(), CgroupError> {
    if major < 0 || minor < 0 {
        return Err(invalid(
            field,
            format!(
                "{major}:{minor} is not a device number (major and minor must not be negative)"
            ),
        ));
    }
    Ok(())
}

/// "2MB", "1GB", "64KB": how the kernel names huge page sizes in hugetlb
/// file names.
fn is_page_size(s: &str) -> bool {
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &s[digits.len()..];
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
        && matches!(unit, "KB" | "MB" | "GB" | "TB")
}

fn unified(res: &Resources, version: Version, l: &mut Limits) -> Result<(), CgroupError> {
    let Some(u) = res.unified.as_ref().filter(|u| !u.is_empty()) else {
        return Ok(());
    };
    if version == Version::V1 {
        let keys: Vec<&str> = u.keys().map(String::as_str).collect();
        return Err(invalid(
            "linux.resources.unified",
            format!(
                "cgroup v2 settings ({}) cannot be applied on a cgroup v1 host",
                keys.join(", ")
            ),
        ));
    }
    for (key, value) in u {
        let field = format!("linux.resources.unified[{key:?}]");
        if key.contains('/') || key.contains("..") || key.contains('\0') {
            return Err(invalid(
                &field,
                "must be a file name in the container's cgroup (no \"/\" or \"..\")".into(),
            ));
        }
        match key.split_once('.') {
            Some((c, p)) if !c.is_empty() && !p.is_empty() => {}
            _ => {
                return Err(invalid(
                    &field,
                    "must have the form CONTROLLER.PARAMETER, e.g. \"memory.high\"".into(),
                ))
            }
        }
        l.unified.push((key.clone(), value.clone()));
    }
    Ok(())
}

fn bytes(field: &str, value: Option<i64>) -> Result<Option<i64>, CgroupError> {
    match value {
        None | Some(0) => Ok(None),
        Some(v) if v < -1 => Err(invalid(
            field,
            format!("{v} is neither -1 (unlimited) nor a positive number of bytes"),
        )),
        Some(v) => Ok(Some(v)),
    }
}

pub(crate) fn invalid(field: &str, reason: String) -> CgroupError {
    CgroupError::Invalid {
        field: field.to_string(),
        reason,
    }
}

pub(crate) fn ignored(field: &str, why: &str) {
    tracing::warn!("{field} is ignored: {why}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use husk_spec::{Cpu, Memory, Pids};

    fn memory(limit: Option<i64>, swap: Option<i64>) -> Resources {
        Resources {
            memory: Some(Memory {
                limit,
                swap,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn zero_means_unset_like_runc() {
        let res = Resources {
            memory: Some(Memory {
                limit: Some(0),
                reservation: Some(0),
                swap: Some(0),
                ..Default::default()
            }),
            cpu: Some(Cpu {
                shares: Some(0),
                quota: Some(0),
                period: Some(0),
                cpus: Some(String::new()),
                mems: Some(String::new()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let l = Limits::from_spec(&res, Version::V1).unwrap();
        assert_eq!(l, Limits::default());
        assert!(l.needed().is_empty());
    }

    #[test]
    fn needed_names_the_first_field_set_per_controller() {
        let res = Resources {
            memory: Some(Memory {
                reservation: Some(4096),
                ..Default::default()
            }),
            pids: Some(Pids { limit: Some(0) }),
            cpu: Some(Cpu {
                period: Some(100_000),
                mems: Some("0".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let l = Limits::from_spec(&res, Version::V2).unwrap();
        assert_eq!(
            l.needed(),
            vec![
                ("linux.resources.memory", "memory"),
                ("linux.resources.pids", "pids"),
                ("linux.resources.cpu.period", "cpu"),
                ("linux.resources.cpu.mems", "cpuset"),
            ]
        );
    }

    #[test]
    fn swap_must_cover_the_memory_limit() {
        let e = Limits::from_spec(&memory(Some(8192), Some(4096)), Version::V1).unwrap_err();
        assert_eq!(
            e.to_string(),
            "linux.resources.memory.swap: 4096 counts memory plus swap, so it must not be below \
             linux.resources.memory.limit (8192)"
        );
        let e = Limits::from_spec(&memory(None, Some(4096)), Version::V2).unwrap_err();
        assert!(
            e.to_string()
                .contains("needs a positive linux.resources.memory.limit"),
            "{e}"
        );
        let e = Limits::from_spec(&memory(Some(-1), Some(4096)), Version::V2).unwrap_err();
        assert!(
            e.to_string()
                .contains("needs a positive linux.resources.memory.limit"),
            "{e}"
        );
        assert!(Limits::from_spec(&memory(Some(4096), Some(-1)), Version::V1).is_ok());
        assert!(Limits::from_spec(&memory(Some(4096), Some(4096)), Version::V1).is_ok());
    }

    #[test]
    fn out_of_range_values_are_rejected_with_their_field() {
        let e = Limits::from_spec(&memory(Some(-2), None), Version::V1).unwrap_err();
        assert_eq!(
            e.to_string(),
            "linux.resources.memory.limit: -2 is neither -1 (unlimited) nor a positive number of bytes"
        );
        let res = Resources {
            memory: Some(Memory {
                swappiness: Some(101),
                ..Default::default()
            }),
            ..Default::default()
        };
        let e = Limits::from_spec(&res, Version::V1).unwrap_err();
        assert_eq!(
            e.to_string(),
            "linux.resources.memory.swappiness: 101 is out of range 0-100"
        );
        // v2 has no swappiness, so it is dropped (with a warning) rather than checked.
        assert_eq!(
            Limits::from_spec(&res, Version::V2).unwrap().swappiness,
            None
        );
    }

    #[test]
    fn unified_is_an_error_only_on_v1() {
        let res = Resources {
            unified: Some([("memory.high".to_string(), "1G".to_string())].into()),
            ..Default::default()
        };
        let e = Limits::from_spec(&res, Version::V1).unwrap_err();
        assert_eq!(
            e.to_string(),
            "linux.resources.unified: cgroup v2 settings (memory.high) cannot be applied on a \
             cgroup v1 host"
        );
        assert!(Limits::from_spec(&res, Version::V2).is_ok());
    }

    fn check(res: &Resources, version: Version) -> String {
        Limits::from_spec(res, version).unwrap_err().to_string()
    }

    fn block_io(b: husk_spec::BlockIo) -> Resources {
        Resources {
            block_io: Some(b),
            ..Default::default()
        }
    }

    #[test]
    fn block_io_weights_must_be_10_to_1000() {
        let res = block_io(husk_spec::BlockIo {
            weight: Some(5),
            ..Default::default()
        });
        assert_eq!(
            check(&res, Version::V1),
            "linux.resources.blockIO.weight: 5 is outside 10..1000"
        );
        let res = block_io(husk_spec::BlockIo {
            weight_device: vec![husk_spec::WeightDevice {
                major: 8,
                minor: 0,
                weight: Some(500),
                leaf_weight: Some(1001),
            }],
            ..Default::default()
        });
        assert_eq!(
            check(&res, Version::V2),
            "linux.resources.blockIO.weightDevice[0].leafWeight: 1001 is outside 10..1000"
        );
        let res = block_io(husk_spec::BlockIo {
            throttle_write_iops_device: vec![husk_spec::ThrottleDevice {
                major: -1,
                minor: 0,
                rate: 1,
            }],
            ..Default::default()
        });
        assert!(check(&res, Version::V1)
            .starts_with("linux.resources.blockIO.throttleWriteIOPSDevice[0]: -1:0 is not"));
        // 0 means "not set", as in runc.
        let res = block_io(husk_spec::BlockIo {
            weight: Some(0),
            ..Default::default()
        });
        let l = Limits::from_spec(&res, Version::V1).unwrap();
        assert_eq!(l.blkio_weight, None);
        assert!(l.needed().is_empty());
    }

    #[test]
    fn page_sizes_look_like_the_kernels_names() {
        for ok in ["2MB", "1GB", "64KB", "16GB"] {
            assert!(is_page_size(ok), "{ok}");
        }
        for bad in ["2M", "MB", "2mb", "02MB", "2 MB", "", "2MB/../x"] {
            assert!(!is_page_size(bad), "{bad}");
        }
        let res = Resources {
            hugepage_limits: Some(vec![
                husk_spec::HugepageLimit {
                    page_size: "2MB".into(),
                    limit: 1,
                },
                husk_spec::HugepageLimit {
                    page_size: "1G".into(),
                    limit: 1,
                },
            ]),
            ..Default::default()
        };
        assert_eq!(
            check(&res, Version::V1),
            "linux.resources.hugepageLimits[1].pageSize: \"1G\" is not a page size such as \
             \"2MB\" or \"1GB\""
        );
    }

    #[test]
    fn v1_only_settings_are_errors_on_v2() {
        let res = Resources {
            network: Some(husk_spec::Network {
                class_id: Some(0x10001),
                priorities: vec![],
            }),
            ..Default::default()
        };
        assert_eq!(
            check(&res, Version::V2),
            "linux.resources.network: net_cls and net_prio are not available on cgroup v2"
        );
        assert!(Limits::from_spec(&res, Version::V1).is_ok());
        let res = Resources {
            cpu: Some(Cpu {
                realtime_period: Some(1_000_000),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            check(&res, Version::V2),
            "linux.resources.cpu.realtimePeriod: not supported on cgroup v2"
        );
        // disableOOMKiller is only a warning there.
        let res = Resources {
            memory: Some(Memory {
                disable_oom_killer: Some(true),
                kernel: Some(1 << 20),
                kernel_tcp: Some(1 << 20),
                ..Default::default()
            }),
            ..Default::default()
        };
        let l = Limits::from_spec(&res, Version::V2).unwrap();
        assert_eq!(l.disable_oom_killer, None);
        assert!(l.needed().is_empty());
        let l = Limits::from_spec(&res, Version::V1).unwrap();
        assert_eq!(l.needed(), vec![("linux.resources.memory", "memory")]);
    }

    #[test]
    fn cpu_idle_and_realtime_values_are_checked() {
        let cpu = |c: Cpu| Resources {
            cpu: Some(c),
            ..Default::default()
        };
        assert_eq!(
            check(
                &cpu(Cpu {
                    idle: Some(2),
                    ..Default::default()
                }),
                Version::V1
            ),
            "linux.resources.cpu.idle: 2 is neither 0 nor 1"
        );
        assert!(check(
            &cpu(Cpu {
                realtime_runtime: Some(-5),
                ..Default::default()
            }),
            Version::V1
        )
        .starts_with("linux.resources.cpu.realtimeRuntime: -5 is neither"));
        let l = Limits::from_spec(
            &cpu(Cpu {
                burst: Some(0),
                ..Default::default()
            }),
            Version::V1,
        )
        .unwrap();
        assert_eq!(l.cpu_burst, Some(0));
        assert_eq!(l.needed(), vec![("linux.resources.cpu.burst", "cpu")]);
    }

    #[test]
    fn unified_keys_must_be_plain_controller_files() {
        for key in [
            "../memory.max",
            "a/memory.max",
            "..",
            "memory",
            ".max",
            "memory.",
        ] {
            let res = Resources {
                unified: Some([(key.to_string(), "1".to_string())].into()),
                ..Default::default()
            };
            let e = check(&res, Version::V2);
            assert!(
                e.starts_with(&format!("linux.resources.unified[{key:?}]: ")),
                "{key}: {e}"
            );
        }
    }

    #[test]
    fn needed_covers_every_controller() {
        let res = Resources {
            block_io: Some(husk_spec::BlockIo {
                throttle_read_bps_device: vec![husk_spec::ThrottleDevice {
                    major: 8,
                    minor: 0,
                    rate: 1,
                }],
                ..Default::default()
            }),
            hugepage_limits: Some(vec![husk_spec::HugepageLimit {
                page_size: "2MB".into(),
                limit: 1 << 21,
            }]),
            network: Some(husk_spec::Network {
                class_id: Some(1),
                priorities: vec![husk_spec::InterfacePriority {
                    name: "eth0".into(),
                    priority: 5,
                }],
            }),
            rdma: Some(
                [(
                    "mlx5_1".to_string(),
                    husk_spec::Rdma {
                        hca_handles: Some(3),
                        hca_objects: None,
                    },
                )]
                .into(),
            ),
            ..Default::default()
        };
        let l = Limits::from_spec(&res, Version::V1).unwrap();
        assert_eq!(
            l.needed(),
            vec![
                ("linux.resources.blockIO", "blkio"),
                ("linux.resources.hugepageLimits", "hugetlb"),
                ("linux.resources.network.classID", "net_cls"),
                ("linux.resources.network.priorities", "net_prio"),
                ("linux.resources.rdma", "rdma"),
            ]
        );
    }
}
