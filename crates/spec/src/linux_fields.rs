//! The process and Linux fields of runtime-spec 1.2/1.3 beyond the basics:
//! `process.scheduler`, `process.ioPriority`, `process.execCPUAffinity`,
//! `linux.personality`, `linux.memoryPolicy`, `linux.netDevices` and
//! `linux.intelRdt`, with the kernel's numbers for their names (shared by
//! validation and by the code that applies them) and their checks.

use crate::error::SpecError;
use crate::problems::Problems;
use crate::types::{NamespaceType, Process, Spec};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// `process.scheduler`: sched_setattr(2).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Scheduler {
    pub policy: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nice: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<u64>,
}

/// The kernel's SCHED_* policy numbers (include/uapi/linux/sched.h).
pub const SCHED_POLICIES: [(&str, u32); 7] = [
    ("SCHED_OTHER", 0),
    ("SCHED_FIFO", 1),
    ("SCHED_RR", 2),
    ("SCHED_BATCH", 3),
    ("SCHED_ISO", 4),
    ("SCHED_IDLE", 5),
    ("SCHED_DEADLINE", 6),
];

/// The kernel's SCHED_FLAG_* bits (include/uapi/linux/sched.h).
pub const SCHED_FLAGS: [(&str, u64); 7] = [
    ("SCHED_FLAG_RESET_ON_FORK", 0x01),
    ("SCHED_FLAG_RECLAIM", 0x02),
    ("SCHED_FLAG_DL_OVERRUN", 0x04),
    ("SCHED_FLAG_KEEP_POLICY", 0x08),
    ("SCHED_FLAG_KEEP_PARAMS", 0x10),
    ("SCHED_FLAG_UTIL_CLAMP_MIN", 0x20),
    ("SCHED_FLAG_UTIL_CLAMP_MAX", 0x40),
];

fn lookup<T: Copy>(table: &[(&str, T)], name: &str) -> Option<T> {
    table.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

fn names<T>(table: &[(&'static str, T)]) -> Vec<&'static str> {
    table.iter().map(|(n, _)| *n).collect()
}

impl Scheduler {
    pub fn policy_value(&self) -> Option<u32> {
        lookup(&SCHED_POLICIES, &self.policy)
    }

    /// The OR of the flags; None if one is unknown.
    pub fn flags_value(&self) -> Option<u64> {
        self.flags
            .iter()
            .try_fold(0, |acc, f| Some(acc | lookup(&SCHED_FLAGS, f)?))
    }
}

/// `process.ioPriority`: ioprio_set(2).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct IoPriority {
    pub class: String,
    pub priority: i32,
}

/// The kernel's IOPRIO_CLASS_* numbers (include/uapi/linux/ioprio.h).
pub const IOPRIO_CLASSES: [(&str, u32); 3] = [
    ("IOPRIO_CLASS_RT", 1),
    ("IOPRIO_CLASS_BE", 2),
    ("IOPRIO_CLASS_IDLE", 3),
];

impl IoPriority {
    pub fn class_value(&self) -> Option<u32> {
        lookup(&IOPRIO_CLASSES, &self.class)
    }
}

/// `process.execCPUAffinity`: CPU lists ("0-3,7") for `exec`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ExecCpuAffinity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial: Option<String>,
    #[serde(default, rename = "final", skip_serializing_if = "Option::is_none")]
    pub final_: Option<String>,
}

/// `linux.personality`: personality(2).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Personality {
    pub domain: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
}

/// The execution domains the spec allows (PER_LINUX, PER_LINUX32).
pub const PERSONALITY_DOMAINS: [(&str, u64); 2] = [("LINUX", 0x0000), ("LINUX32", 0x0008)];

impl Personality {
    pub fn domain_value(&self) -> Option<u64> {
        lookup(&PERSONALITY_DOMAINS, &self.domain)
    }
}

/// `linux.memoryPolicy`: set_mempolicy(2).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct MemoryPolicy {
    pub mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
}

/// The kernel's MPOL_* modes (include/uapi/linux/mempolicy.h).
pub const MPOL_MODES: [(&str, i32); 7] = [
    ("MPOL_DEFAULT", 0),
    ("MPOL_PREFERRED", 1),
    ("MPOL_BIND", 2),
    ("MPOL_INTERLEAVE", 3),
    ("MPOL_LOCAL", 4),
    ("MPOL_PREFERRED_MANY", 5),
    ("MPOL_WEIGHTED_INTERLEAVE", 6),
];

/// The kernel's MPOL_F_* mode flags.
pub const MPOL_FLAGS: [(&str, i32); 3] = [
    ("MPOL_F_NUMA_BALANCING", 1 << 13),
    ("MPOL_F_RELATIVE_NODES", 1 << 14),
    ("MPOL_F_STATIC_NODES", 1 << 15),
];

impl MemoryPolicy {
    pub fn mode_value(&self) -> Option<i32> {
        lookup(&MPOL_MODES, &self.mode)
    }

    pub fn flags_value(&self) -> Option<i32> {
        self.flags
            .iter()
            .try_fold(0, |acc, f| Some(acc | lookup(&MPOL_FLAGS, f)?))
    }
}

/// One entry of `linux.netDevices`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct NetDevice {
    /// The name inside the container; the host name when absent or empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `linux.intelRdt`: a resctrl group for the container.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct IntelRdt {
    #[serde(default, rename = "closID", skip_serializing_if = "Option::is_none")]
    pub clos_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l3_cache_schema: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem_bw_schema: Option<String>,
    /// runtime-spec 1.3: lines written to `schemata` last (a list, or one
    /// string of lines, as drafts of the spec had it).
    #[serde(
        default,
        deserialize_with = "lines",
        skip_serializing_if = "Option::is_none"
    )]
    pub schemata: Option<Vec<String>>,
    /// runtime-spec 1.3.0: a MON group named after the container.
    #[serde(
        default,
        rename = "enableMonitoring",
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_monitoring: Option<bool>,
    /// 1.1-1.2.1's enableCMT and enableMBM, read as enableMonitoring.
    #[serde(default, rename = "enableCMT", skip_serializing_if = "Option::is_none")]
    pub enable_cmt: Option<bool>,
    #[serde(default, rename = "enableMBM", skip_serializing_if = "Option::is_none")]
    pub enable_mbm: Option<bool>,
}

fn lines<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Lines {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<Lines>::deserialize(d)? {
        None => None,
        Some(Lines::One(s)) => Some(s.lines().map(str::to_string).collect()),
        Some(Lines::Many(v)) => Some(v),
    })
}

/// Parses a kernel CPU or node list ("0-3,7") into its members, sorted.
/// At most `limit` (exclusive) for each member.
pub fn parse_id_list(s: &str, limit: u32) -> Result<BTreeSet<u32>, String> {
    let mut out = BTreeSet::new();
    if s.trim().is_empty() {
        return Err("is empty".into());
    }
    for part in s.split(',') {
        let part = part.trim();
        let num = |t: &str| -> Result<u32, String> {
            let n: u32 = t
                .trim()
                .parse()
                .map_err(|_| format!("{s:?} is not a list like \"0-3,7\""))?;
            if n >= limit {
                return Err(format!("{n} in {s:?} is too large (limit {limit})"));
            }
            Ok(n)
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    return Err(format!("range {part:?} in {s:?} is reversed"));
                }
                out.extend(a..=b);
            }
            None => {
                out.insert(num(part)?);
            }
        }
    }
    Ok(out)
}

/// The largest CPU or NUMA node number a list may name (the kernel's
/// CONFIG_NR_CPUS and MAX_NUMNODES are at most this).
pub const MAX_IDS: u32 = 8192;

/// A valid Linux interface name: 1 to 15 bytes, no '/', ':' or whitespace,
/// not "." or "..".
pub fn valid_ifname(n: &str) -> bool {
    !n.is_empty()
        && n.len() < 16
        && n != "."
        && n != ".."
        && !n.chars().any(|c| c == '/' || c == ':' || c.is_whitespace())
}

/// The rlimits Linux knows (what setrlimit takes).
pub const RLIMIT_NAMES: [&str; 16] = [
    "RLIMIT_AS",
    "RLIMIT_CORE",
    "RLIMIT_CPU",
    "RLIMIT_DATA",
    "RLIMIT_FSIZE",
    "RLIMIT_LOCKS",
    "RLIMIT_MEMLOCK",
    "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",
    "RLIMIT_NOFILE",
    "RLIMIT_NPROC",
    "RLIMIT_RSS",
    "RLIMIT_RTPRIO",
    "RLIMIT_RTTIME",
    "RLIMIT_SIGPENDING",
    "RLIMIT_STACK",
];

/// The checks of a process's own fields (`process.rlimits`,
/// `process.scheduler`, `process.ioPriority`, `process.execCPUAffinity`),
/// also for `exec`'s process.json: the first error.
pub fn validate_process_fields(p: &Process) -> Result<(), SpecError> {
    let mut out = Problems::default();
    check_process_fields(p, &mut out);
    match out.first_error() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Every problem of a process's own fields.
pub fn check_process_fields(p: &Process, out: &mut Problems) {
    check_rlimits(p, out);
    check_process_attrs(p, out);
}

/// `process.rlimits`: known names, soft <= hard, each once.
pub(crate) fn check_rlimits(p: &Process, out: &mut Problems) {
    let mut seen = BTreeSet::new();
    for (i, r) in p.rlimits.iter().enumerate() {
        if !RLIMIT_NAMES.contains(&r.typ.as_str()) {
            out.error(
                format!("process.rlimits[{i}].type"),
                format!(
                    "{:?} is not a known rlimit (RLIMIT_NOFILE, RLIMIT_NPROC, …)",
                    r.typ
                ),
            );
        }
        if r.soft > r.hard {
            out.error(
                format!("process.rlimits[{i}]"),
                "soft limit is greater than hard limit",
            );
        }
        if !seen.insert(&r.typ) {
            out.error(
                format!("process.rlimits[{i}].type"),
                format!("{} is given more than once", r.typ),
            );
        }
    }
}

/// `process.scheduler`, `process.ioPriority`, `process.execCPUAffinity`.
fn check_process_attrs(p: &Process, out: &mut Problems) {
    if let Some(s) = &p.scheduler {
        out.take(validate_scheduler(s));
    }
    if let Some(io) = &p.io_priority {
        out.take(validate_io_priority(io));
    }
    if let Some(a) = &p.exec_cpu_affinity {
        out.take(validate_affinity(a, "process.execCPUAffinity"));
    }
}

pub(crate) fn check(spec: &Spec, out: &mut Problems) {
    if let Some(p) = &spec.process {
        // (rlimits come earlier, with the process's basic fields)
        check_process_attrs(p, out);
    }
    let Some(linux) = &spec.linux else {
        return;
    };
    out.take(check_linux(linux));
}

fn check_linux(linux: &crate::types::Linux) -> Result<(), SpecError> {
    if let Some(per) = &linux.personality {
        if per.domain_value().is_none() {
            return Err(SpecError::invalid(
                "linux.personality.domain",
                format!(
                    "{:?} is not one of {}",
                    per.domain,
                    names(&PERSONALITY_DOMAINS).join(", ")
                ),
            ));
        }
        if let Some(f) = per.flags.first() {
            return Err(SpecError::invalid(
                "linux.personality.flags",
                format!("{f:?} is not supported (the spec defines no flags)"),
            ));
        }
    }
    if let Some(m) = &linux.memory_policy {
        validate_memory_policy(m)?;
    }
    if let Some(devs) = &linux.net_devices {
        if !devs.is_empty()
            && !linux
                .namespaces
                .iter()
                .any(|n| n.typ == NamespaceType::Network)
        {
            return Err(SpecError::invalid(
                "linux.netDevices",
                "devices can only be moved into a network namespace of the container's own (none is configured)",
            ));
        }
        let mut inside = BTreeSet::new();
        for (host, d) in devs {
            if !valid_ifname(host) {
                return Err(SpecError::invalid(
                    format!("linux.netDevices.{host}"),
                    "is not a valid interface name",
                ));
            }
            let name = d.name.as_deref().filter(|n| !n.is_empty()).unwrap_or(host);
            if !valid_ifname(name) {
                return Err(SpecError::invalid(
                    format!("linux.netDevices.{host}.name"),
                    format!("{name:?} is not a valid interface name"),
                ));
            }
            if !inside.insert(name) {
                return Err(SpecError::invalid(
                    format!("linux.netDevices.{host}.name"),
                    format!("{name:?} is given to more than one device"),
                ));
            }
        }
    }
    if let Some(rdt) = &linux.intel_rdt {
        validate_intel_rdt(rdt)?;
    }
    Ok(())
}

fn validate_scheduler(s: &Scheduler) -> Result<(), SpecError> {
    let f = |field: &str| format!("process.scheduler.{field}");
    let Some(policy) = s.policy_value() else {
        return Err(SpecError::invalid(
            f("policy"),
            format!(
                "{:?} is not one of {}",
                s.policy,
                names(&SCHED_POLICIES).join(", ")
            ),
        ));
    };
    if let Some(n) = s.nice {
        if !(-20..=19).contains(&n) {
            return Err(SpecError::invalid(
                f("nice"),
                format!("{n} is out of range (-20 to 19)"),
            ));
        }
    }
    let realtime = s.policy == "SCHED_FIFO" || s.policy == "SCHED_RR";
    match s.priority.unwrap_or(0) {
        p if realtime && !(1..=99).contains(&p) => {
            return Err(SpecError::invalid(
                f("priority"),
                format!("{p} is out of range for {} (1 to 99)", s.policy),
            ))
        }
        p if !realtime && p != 0 => {
            return Err(SpecError::invalid(
                f("priority"),
                format!(
                    "{p}: only SCHED_FIFO and SCHED_RR take a priority, not {}",
                    s.policy
                ),
            ))
        }
        _ => {}
    }
    if let Some(bad) = s.flags.iter().find(|x| lookup(&SCHED_FLAGS, x).is_none()) {
        return Err(SpecError::invalid(
            f("flags"),
            format!("{bad:?} is not one of {}", names(&SCHED_FLAGS).join(", ")),
        ));
    }
    let deadline = policy == 6;
    let dl_fields = [
        ("runtime", s.runtime),
        ("deadline", s.deadline),
        ("period", s.period),
    ];
    if !deadline {
        if let Some((name, _)) = dl_fields.iter().find(|(_, v)| v.unwrap_or(0) != 0) {
            return Err(SpecError::invalid(
                f(name),
                format!("only SCHED_DEADLINE takes a {name}, not {}", s.policy),
            ));
        }
    } else {
        let runtime = s.runtime.unwrap_or(0);
        let deadline = s.deadline.unwrap_or(0);
        // The kernel takes period 0 to mean "the deadline".
        let period = s.period.filter(|p| *p != 0).unwrap_or(deadline);
        if runtime == 0 || runtime > deadline || deadline > period {
            return Err(SpecError::invalid(
                f("runtime"),
                format!(
                    "SCHED_DEADLINE needs 0 < runtime <= deadline <= period (got {runtime}, {deadline}, {period})"
                ),
            ));
        }
    }
    Ok(())
}

fn validate_io_priority(io: &IoPriority) -> Result<(), SpecError> {
    if io.class_value().is_none() {
        return Err(SpecError::invalid(
            "process.ioPriority.class",
            format!(
                "{:?} is not one of {}",
                io.class,
                names(&IOPRIO_CLASSES).join(", ")
            ),
        ));
    }
    if !(0..=7).contains(&io.priority) {
        return Err(SpecError::invalid(
            "process.ioPriority.priority",
            format!("{} is out of range (0 to 7)", io.priority),
        ));
    }
    Ok(())
}

fn validate_affinity(a: &ExecCpuAffinity, path: &str) -> Result<(), SpecError> {
    for (name, v) in [("initial", &a.initial), ("final", &a.final_)] {
        if let Some(list) = v.as_deref().filter(|l| !l.is_empty()) {
            parse_id_list(list, MAX_IDS)
                .map_err(|e| SpecError::invalid(format!("{path}.{name}"), e))?;
        }
    }
    Ok(())
}

fn validate_memory_policy(m: &MemoryPolicy) -> Result<(), SpecError> {
    if m.mode_value().is_none() {
        return Err(SpecError::invalid(
            "linux.memoryPolicy.mode",
            format!(
                "{:?} is not one of {}",
                m.mode,
                names(&MPOL_MODES).join(", ")
            ),
        ));
    }
    if let Some(bad) = m.flags.iter().find(|x| lookup(&MPOL_FLAGS, x).is_none()) {
        return Err(SpecError::invalid(
            "linux.memoryPolicy.flags",
            format!("{bad:?} is not one of {}", names(&MPOL_FLAGS).join(", ")),
        ));
    }
    let has = |f: &str| m.flags.iter().any(|x| x == f);
    if has("MPOL_F_STATIC_NODES") && has("MPOL_F_RELATIVE_NODES") {
        return Err(SpecError::invalid(
            "linux.memoryPolicy.flags",
            "MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other",
        ));
    }
    let nodes = m.nodes.as_deref().filter(|n| !n.trim().is_empty());
    if let Some(n) = nodes {
        parse_id_list(n, MAX_IDS).map_err(|e| SpecError::invalid("linux.memoryPolicy.nodes", e))?;
    }
    match (m.mode.as_str(), nodes) {
        ("MPOL_DEFAULT" | "MPOL_LOCAL", Some(n)) => Err(SpecError::invalid(
            "linux.memoryPolicy.nodes",
            format!("{} takes no nodes (got {n:?})", m.mode),
        )),
        (
            "MPOL_BIND" | "MPOL_INTERLEAVE" | "MPOL_PREFERRED_MANY" | "MPOL_WEIGHTED_INTERLEAVE",
            None,
        ) => Err(SpecError::invalid(
            "linux.memoryPolicy.nodes",
            format!("{} needs at least one node", m.mode),
        )),
        _ => Ok(()),
    }
}

fn validate_intel_rdt(rdt: &IntelRdt) -> Result<(), SpecError> {
    if let Some(c) = &rdt.clos_id {
        if c.is_empty() || c == "." || c == ".." || c.contains('/') || c.contains('\n') {
            return Err(SpecError::invalid(
                "linux.intelRdt.closID",
                format!("{c:?} is not a valid resctrl group name"),
            ));
        }
    }
    if let Some(l3) = &rdt.l3_cache_schema {
        if l3.contains('\n') {
            return Err(SpecError::invalid(
                "linux.intelRdt.l3CacheSchema",
                "must not contain newlines",
            ));
        }
    }
    if let Some(mb) = &rdt.mem_bw_schema {
        if !mb.starts_with("MB:") || mb.contains('\n') {
            return Err(SpecError::invalid(
                "linux.intelRdt.memBwSchema",
                format!("{mb:?} must start with \"MB:\" and be one line"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::{parse_config, validate, SpecError};
    use serde_json::json;

    fn check(edit: impl FnOnce(&mut serde_json::Value)) -> Result<crate::Spec, SpecError> {
        let mut v = json!({
            "ociVersion": "1.2.0",
            "root": {"path": "rootfs"},
            "process": {"args": ["sh"], "cwd": "/"},
            "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "network"}]}
        });
        edit(&mut v);
        let spec = parse_config(v.to_string().as_bytes())?;
        validate(&spec)?;
        Ok(spec)
    }

    fn err(edit: impl FnOnce(&mut serde_json::Value)) -> String {
        check(edit).unwrap_err().to_string()
    }

    #[test]
    fn all_fields_parse_with_their_json_names() {
        let spec = check(|v| {
            v["process"]["scheduler"] = json!({"policy": "SCHED_DEADLINE", "runtime": 100, "deadline": 200, "period": 300, "flags": ["SCHED_FLAG_RESET_ON_FORK"]});
            v["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 4});
            v["process"]["execCPUAffinity"] = json!({"initial": "0", "final": "0-1"});
            v["linux"]["personality"] = json!({"domain": "LINUX32"});
            v["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]});
            v["linux"]["netDevices"] = json!({"eth1": {"name": "ctr0"}, "eth2": {}});
            v["linux"]["intelRdt"] = json!({"closID": "g", "l3CacheSchema": "L3:0=f", "memBwSchema": "MB:0=20", "enableCMT": true, "enableMBM": false, "schemata": ["L2:0=f"]});
        })
        .unwrap();
        let p = spec.process.as_ref().unwrap();
        let s = p.scheduler.as_ref().unwrap();
        assert_eq!((s.policy_value(), s.flags_value()), (Some(6), Some(1)));
        assert_eq!(p.io_priority.as_ref().unwrap().class_value(), Some(2));
        assert_eq!(
            p.exec_cpu_affinity.as_ref().unwrap().final_.as_deref(),
            Some("0-1")
        );
        let l = spec.linux.as_ref().unwrap();
        assert_eq!(l.personality.as_ref().unwrap().domain_value(), Some(8));
        let m = l.memory_policy.as_ref().unwrap();
        assert_eq!((m.mode_value(), m.flags_value()), (Some(2), Some(1 << 15)));
        assert_eq!(
            l.net_devices.as_ref().unwrap()["eth1"].name.as_deref(),
            Some("ctr0")
        );
        let rdt = l.intel_rdt.as_ref().unwrap();
        assert_eq!(
            (rdt.clos_id.as_deref(), rdt.enable_cmt),
            (Some("g"), Some(true))
        );
        // And back to the same JSON names.
        let back = serde_json::to_value(&spec).unwrap();
        assert_eq!(back["process"]["execCPUAffinity"]["final"], "0-1");
        assert_eq!(back["linux"]["intelRdt"]["closID"], "g");
        assert_eq!(back["linux"]["intelRdt"]["enableCMT"], true);
        assert_eq!(back["process"]["ioPriority"]["priority"], 4);
    }

    #[test]
    fn scheduler_checks() {
        let e = err(|v| v["process"]["scheduler"] = json!({"policy": "SCHED_FOO"}));
        assert!(
            e.contains("process.scheduler.policy: \"SCHED_FOO\" is not one of"),
            "{e}"
        );
        let e = err(|v| v["process"]["scheduler"] = json!({"policy": "SCHED_OTHER", "nice": 20}));
        assert!(
            e.contains("process.scheduler.nice: 20 is out of range"),
            "{e}"
        );
        let e =
            err(|v| v["process"]["scheduler"] = json!({"policy": "SCHED_OTHER", "priority": 5}));
        assert!(e.contains("process.scheduler.priority"), "{e}");
        let e = err(|v| v["process"]["scheduler"] = json!({"policy": "SCHED_FIFO"}));
        assert!(
            e.contains("process.scheduler.priority: 0 is out of range"),
            "{e}"
        );
        let e = err(|v| v["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "runtime": 5}));
        assert!(e.contains("process.scheduler.runtime"), "{e}");
        let e = err(|v| {
            v["process"]["scheduler"] =
                json!({"policy": "SCHED_DEADLINE", "runtime": 5, "deadline": 4})
        });
        assert!(
            e.contains("process.scheduler.runtime: SCHED_DEADLINE needs"),
            "{e}"
        );
        let e =
            err(|v| v["process"]["scheduler"] = json!({"policy": "SCHED_IDLE", "flags": ["X"]}));
        assert!(e.contains("process.scheduler.flags: \"X\""), "{e}");
        let e = err(|v| v["process"]["scheduler"] = json!({"nice": 1}));
        assert!(e.contains("process.scheduler"), "{e}");
        check(|v| v["process"]["scheduler"] = json!({"policy": "SCHED_RR", "priority": 99}))
            .unwrap();
        check(|v| v["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": -20}))
            .unwrap();
    }

    #[test]
    fn io_priority_and_affinity_checks() {
        let e =
            err(|v| v["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_X", "priority": 1}));
        assert!(e.contains("process.ioPriority.class"), "{e}");
        let e = err(|v| {
            v["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 8})
        });
        assert!(
            e.contains("process.ioPriority.priority: 8 is out of range"),
            "{e}"
        );
        let e = err(|v| v["process"]["execCPUAffinity"] = json!({"initial": "1-0"}));
        assert!(e.contains("process.execCPUAffinity.initial: range"), "{e}");
        let e = err(|v| v["process"]["execCPUAffinity"] = json!({"final": "a"}));
        assert!(e.contains("process.execCPUAffinity.final"), "{e}");
        check(|v| v["process"]["execCPUAffinity"] = json!({"initial": "", "final": "0,1-3"}))
            .unwrap();
    }

    #[test]
    fn personality_and_memory_policy_checks() {
        let e = err(|v| v["linux"]["personality"] = json!({"domain": "BSD"}));
        assert!(
            e.contains("linux.personality.domain: \"BSD\" is not one of LINUX, LINUX32"),
            "{e}"
        );
        let e = err(|v| {
            v["linux"]["personality"] = json!({"domain": "LINUX", "flags": ["ADDR_NO_RANDOMIZE"]})
        });
        assert!(e.contains("linux.personality.flags"), "{e}");
        let e = err(|v| v["linux"]["memoryPolicy"] = json!({"mode": "MPOL_X"}));
        assert!(e.contains("linux.memoryPolicy.mode"), "{e}");
        let e = err(|v| v["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND"}));
        assert!(
            e.contains("linux.memoryPolicy.nodes: MPOL_BIND needs"),
            "{e}"
        );
        let e = err(|v| v["linux"]["memoryPolicy"] = json!({"mode": "MPOL_LOCAL", "nodes": "0"}));
        assert!(
            e.contains("linux.memoryPolicy.nodes: MPOL_LOCAL takes no nodes"),
            "{e}"
        );
        let e = err(
            |v| v["linux"]["memoryPolicy"] = json!({"mode": "MPOL_PREFERRED", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"]}),
        );
        assert!(e.contains("linux.memoryPolicy.flags"), "{e}");
        check(|v| v["linux"]["memoryPolicy"] = json!({"mode": "MPOL_PREFERRED"})).unwrap();
    }

    #[test]
    fn net_devices_and_intel_rdt_checks() {
        let e = err(|v| {
            v["linux"]["namespaces"] = json!([{"type": "pid"}, {"type": "mount"}]);
            v["linux"]["netDevices"] = json!({"eth1": {}});
        });
        assert!(
            e.contains("linux.netDevices: devices can only be moved"),
            "{e}"
        );
        let e = err(|v| v["linux"]["netDevices"] = json!({"eth1": {"name": "a/b"}}));
        assert!(e.contains("linux.netDevices.eth1.name"), "{e}");
        let e = err(|v| v["linux"]["netDevices"] = json!({"this-name-is-too-long": {}}));
        assert!(e.contains("linux.netDevices.this-name-is-too-long"), "{e}");
        let e = err(|v| v["linux"]["netDevices"] = json!({"a": {"name": "x"}, "b": {"name": "x"}}));
        assert!(e.contains("is given to more than one device"), "{e}");
        let e = err(|v| v["linux"]["intelRdt"] = json!({"memBwSchema": "L3:0=f"}));
        assert!(e.contains("linux.intelRdt.memBwSchema"), "{e}");
        let e = err(|v| v["linux"]["intelRdt"] = json!({"closID": "../x"}));
        assert!(e.contains("linux.intelRdt.closID"), "{e}");
    }

    #[test]
    fn id_lists() {
        let l = super::parse_id_list("0-2, 5,7-7", 64).unwrap();
        assert_eq!(l.into_iter().collect::<Vec<_>>(), [0, 1, 2, 5, 7]);
        assert!(super::parse_id_list("", 64).is_err());
        assert!(super::parse_id_list("64", 64).is_err());
        assert!(super::parse_id_list("3-1", 64).is_err());
        assert!(super::parse_id_list("0,,1", 64).is_err());
    }
}
