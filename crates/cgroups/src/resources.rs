//! The subset of `linux.resources` husk applies so far, checked before any
//! directory is created so that a bad config leaves nothing behind.

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
    /// Zero or negative means "max".
    pub pids_limit: Option<i64>,
    pub cpu_shares: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<u64>,
    pub cpus: Option<String>,
    pub mems: Option<String>,
    /// v1 devices.allow / devices.deny writes, in order.
    pub devices: Vec<crate::devices::Rule>,
}

impl Limits {
    pub fn from_spec(res: &Resources, version: Version) -> Result<Self, CgroupError> {
        warn_ignored(res, version)?;
        let mut l = Limits::default();
        if let Some(m) = &res.memory {
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
        }
        if let Some(p) = &res.pids {
            l.pids_limit = Some(p.limit);
        }
        if let Some(c) = &res.cpu {
            l.cpu_shares = c.shares.filter(|s| *s != 0);
            l.cpu_quota = c.quota.filter(|q| *q != 0);
            if let Some(q) = l.cpu_quota.filter(|q| *q < -1) {
                return Err(invalid(
                    "linux.resources.cpu.quota",
                    format!("{q} is neither -1 (unlimited) nor a positive number of microseconds"),
                ));
            }
            l.cpu_period = c.period.filter(|p| *p != 0);
            l.cpus = c.cpus.clone().filter(|s| !s.is_empty());
            l.mems = c.mems.clone().filter(|s| !s.is_empty());
        }
        if version == Version::V1 && !res.devices.is_empty() {
            l.devices = crate::devices::v1_rules(&res.devices)?;
        }
        Ok(l)
    }

    /// The controllers these limits need, each with the first field that
    /// asks for it (for the error message when the host lacks it).
    pub fn needed(&self) -> Vec<(&'static str, &'static str)> {
        let mut out = Vec::new();
        if self.memory_limit.is_some()
            || self.memory_reservation.is_some()
            || self.memory_swap.is_some()
            || self.swappiness.is_some()
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
        ];
        if let Some((field, _)) = cpu_field.iter().find(|(_, set)| *set) {
            out.push((field, "cpu"));
        }
        if self.cpus.is_some() {
            out.push(("linux.resources.cpu.cpus", "cpuset"));
        } else if self.mems.is_some() {
            out.push(("linux.resources.cpu.mems", "cpuset"));
        }
        if !self.devices.is_empty() {
            out.push(("linux.resources.devices", "devices"));
        }
        out
    }
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

fn invalid(field: &str, reason: String) -> CgroupError {
    CgroupError::Invalid {
        field: field.to_string(),
        reason,
    }
}

fn ignored(field: &str, why: &str) {
    tracing::warn!("{field} is ignored: {why}");
}

/// Everything in `linux.resources` that husk does not apply yet is ignored
/// with a warning, except v2-only settings on a v1 host: those can never
/// work there, so silently running without them would mislead.
fn warn_ignored(res: &Resources, version: Version) -> Result<(), CgroupError> {
    const LATER: &str = "not supported by husk yet";
    if let Some(u) = res.unified.as_ref().filter(|u| !u.is_empty()) {
        match version {
            Version::V1 => {
                let keys: Vec<&str> = u.keys().map(String::as_str).collect();
                return Err(invalid(
                    "linux.resources.unified",
                    format!(
                        "cgroup v2 settings ({}) cannot be applied on a cgroup v1 host",
                        keys.join(", ")
                    ),
                ));
            }
            Version::V2 => ignored("linux.resources.unified", LATER),
        }
    }
    if version == Version::V2 && !res.devices.is_empty() {
        ignored(
            "linux.resources.devices",
            "cgroup v2 device rules (an eBPF program) are not implemented yet",
        );
    }
    let raw = [
        ("linux.resources.blockIO", res.block_io.is_some()),
        (
            "linux.resources.hugepageLimits",
            res.hugepage_limits.is_some(),
        ),
        ("linux.resources.network", res.network.is_some()),
        ("linux.resources.rdma", res.rdma.is_some()),
    ];
    if let Some(m) = &res.memory {
        let memory = [
            ("linux.resources.memory.kernel", m.kernel.is_some()),
            ("linux.resources.memory.kernelTCP", m.kernel_tcp.is_some()),
            (
                "linux.resources.memory.disableOOMKiller",
                m.disable_oom_killer == Some(true),
            ),
            (
                "linux.resources.memory.useHierarchy",
                m.use_hierarchy.is_some(),
            ),
            (
                "linux.resources.memory.checkBeforeUpdate",
                m.check_before_update == Some(true),
            ),
        ];
        warn_set(&memory, LATER);
    }
    if let Some(c) = &res.cpu {
        let cpu = [
            ("linux.resources.cpu.burst", c.burst.is_some()),
            (
                "linux.resources.cpu.realtimeRuntime",
                c.realtime_runtime.is_some(),
            ),
            (
                "linux.resources.cpu.realtimePeriod",
                c.realtime_period.is_some(),
            ),
            ("linux.resources.cpu.idle", c.idle.is_some()),
        ];
        warn_set(&cpu, LATER);
    }
    warn_set(&raw, LATER);
    Ok(())
}

fn warn_set(fields: &[(&str, bool)], why: &str) {
    for (field, _) in fields.iter().filter(|(_, set)| *set) {
        ignored(field, why);
    }
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
            pids: Some(Pids { limit: 0 }),
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
}
