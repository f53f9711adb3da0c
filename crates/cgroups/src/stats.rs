//! Resource usage for `husk events`, in runc's JSON shape (runc's
//! types/events.go) so that tools reading runc's events read ours.

use crate::resolve::Hierarchy;
use crate::{Cgroup, Driver};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Default, Serialize)]
pub struct Stats {
    pub cpu: Cpu,
    pub memory: Memory,
    pub pids: Pids,
    pub blkio: Blkio,
    pub hugetlb: BTreeMap<String, Hugetlb>,
}

#[derive(Debug, Default, Serialize)]
pub struct Cpu {
    pub usage: CpuUsage,
    pub throttling: Throttling,
}

#[derive(Debug, Default, Serialize)]
pub struct CpuUsage {
    /// Nanoseconds.
    pub total: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Throttling {
    pub periods: u64,
    pub throttled_periods: u64,
    /// Nanoseconds.
    pub throttled_time: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct MemoryEntry {
    pub limit: u64,
    pub usage: u64,
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct Memory {
    pub cache: u64,
    pub usage: MemoryEntry,
    pub swap: MemoryEntry,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

#[derive(Debug, Default, Serialize)]
pub struct Pids {
    pub current: u64,
    pub limit: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct BlkioEntry {
    pub major: u64,
    pub minor: u64,
    pub op: String,
    pub value: u64,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Blkio {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
}

#[derive(Debug, Default, Serialize)]
pub struct Hugetlb {
    pub usage: u64,
    pub max: u64,
    pub failcnt: u64,
}

/// USER_HZ on Linux: cpuacct.stat counts in these ticks.
const TICKS_PER_SEC: u64 = 100;

fn read(dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(file)).ok()
}

fn num(dir: &Path, file: &str) -> u64 {
    read(dir, file)
        .and_then(|s| parse_num(s.trim()))
        .unwrap_or(0)
}

/// "max" (v2's unlimited) reads as u64::MAX, as runc reports it.
fn parse_num(s: &str) -> Option<u64> {
    if s == "max" {
        Some(u64::MAX)
    } else {
        s.parse().ok()
    }
}

/// "key value" lines (memory.stat, cpu.stat, memory.events).
fn keyed(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

impl Cgroup {
    /// Reads what the container has used so far. Missing files count as 0
    /// (a controller the host lacks simply reports nothing).
    pub fn stats(&self) -> Stats {
        match self.driver {
            Driver::V1 => v1_stats(&self.hierarchies),
            Driver::V2 | Driver::Systemd(_) => self
                .hierarchies
                .first()
                .map(|h| v2_stats(&h.dir))
                .unwrap_or_default(),
        }
    }

    /// How many times the kernel's OOM killer acted in the container (v1:
    /// memory.oom_control's oom_kill; v2: memory.events' oom_kill).
    pub fn oom_kills(&self) -> u64 {
        let (dir, file) = match self.driver {
            Driver::V1 => match self.hierarchies.iter().find(|h| h.has("memory")) {
                Some(h) => (h.dir.clone(), "memory.oom_control"),
                None => return 0,
            },
            Driver::V2 | Driver::Systemd(_) => match self.hierarchies.first() {
                Some(h) => (h.dir.clone(), "memory.events"),
                None => return 0,
            },
        };
        read(&dir, file)
            .map(|t| keyed(&t).get("oom_kill").copied().unwrap_or(0))
            .unwrap_or(0)
    }
}

fn v1_stats(hs: &[Hierarchy]) -> Stats {
    let dir = |c: &str| hs.iter().find(|h| h.has(c)).map(|h| h.dir.as_path());
    let mut s = Stats::default();
    if let Some(d) = dir("cpuacct") {
        s.cpu.usage.total = num(d, "cpuacct.usage");
        s.cpu.usage.percpu = read(d, "cpuacct.usage_percpu")
            .map(|t| {
                t.split_whitespace()
                    .filter_map(|v| v.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        let st = read(d, "cpuacct.stat")
            .map(|t| keyed(&t))
            .unwrap_or_default();
        let ns = |ticks: u64| ticks.saturating_mul(1_000_000_000 / TICKS_PER_SEC);
        s.cpu.usage.user = ns(st.get("user").copied().unwrap_or(0));
        s.cpu.usage.kernel = ns(st.get("system").copied().unwrap_or(0));
    }
    if let Some(d) = dir("cpu") {
        let st = read(d, "cpu.stat").map(|t| keyed(&t)).unwrap_or_default();
        s.cpu.throttling = Throttling {
            periods: st.get("nr_periods").copied().unwrap_or(0),
            throttled_periods: st.get("nr_throttled").copied().unwrap_or(0),
            throttled_time: st.get("throttled_time").copied().unwrap_or(0),
        };
    }
    if let Some(d) = dir("memory") {
        let entry = |p: &str| MemoryEntry {
            limit: num(d, &format!("{p}limit_in_bytes")),
            usage: num(d, &format!("{p}usage_in_bytes")),
            max: num(d, &format!("{p}max_usage_in_bytes")),
            failcnt: num(d, &format!("{p}failcnt")),
        };
        s.memory.usage = entry("memory.");
        s.memory.swap = entry("memory.memsw.");
        s.memory.raw = read(d, "memory.stat")
            .map(|t| keyed(&t))
            .unwrap_or_default();
        s.memory.cache = s.memory.raw.get("cache").copied().unwrap_or(0);
    }
    if let Some(d) = dir("pids") {
        s.pids = Pids {
            current: num(d, "pids.current"),
            limit: read(d, "pids.max")
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0),
        };
    }
    if let Some(d) = dir("blkio") {
        s.blkio.io_service_bytes_recursive = read(d, "blkio.throttle.io_service_bytes_recursive")
            .map(|t| v1_blkio(&t))
            .unwrap_or_default();
        s.blkio.io_serviced_recursive = read(d, "blkio.throttle.io_serviced_recursive")
            .map(|t| v1_blkio(&t))
            .unwrap_or_default();
    }
    if let Some(d) = dir("hugetlb") {
        for size in hugepage_sizes() {
            let p = format!("hugetlb.{size}.");
            s.hugetlb.insert(
                size.clone(),
                Hugetlb {
                    usage: num(d, &format!("{p}usage_in_bytes")),
                    max: num(d, &format!("{p}max_usage_in_bytes")),
                    failcnt: num(d, &format!("{p}failcnt")),
                },
            );
        }
    }
    s
}

/// "8:0 Read 4096" lines; the "Total" line has no device.
fn v1_blkio(text: &str) -> Vec<BlkioEntry> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (maj, min) = f.next()?.split_once(':')?;
            Some(BlkioEntry {
                major: maj.parse().ok()?,
                minor: min.parse().ok()?,
                op: f.next()?.to_string(),
                value: f.next()?.parse().ok()?,
            })
        })
        .collect()
}

fn v2_stats(d: &Path) -> Stats {
    let mut s = Stats::default();
    let cpu = read(d, "cpu.stat").map(|t| keyed(&t)).unwrap_or_default();
    let us = |k: &str| cpu.get(k).copied().unwrap_or(0).saturating_mul(1000);
    s.cpu.usage.total = us("usage_usec");
    s.cpu.usage.user = us("user_usec");
    s.cpu.usage.kernel = us("system_usec");
    s.cpu.throttling = Throttling {
        periods: cpu.get("nr_periods").copied().unwrap_or(0),
        throttled_periods: cpu.get("nr_throttled").copied().unwrap_or(0),
        throttled_time: us("throttled_usec"),
    };
    let events = read(d, "memory.events")
        .map(|t| keyed(&t))
        .unwrap_or_default();
    s.memory.usage = MemoryEntry {
        limit: num(d, "memory.max"),
        usage: num(d, "memory.current"),
        max: num(d, "memory.peak"),
        failcnt: events.get("max").copied().unwrap_or(0),
    };
    s.memory.swap = MemoryEntry {
        limit: num(d, "memory.swap.max"),
        usage: num(d, "memory.swap.current"),
        max: num(d, "memory.swap.peak"),
        failcnt: 0,
    };
    s.memory.raw = read(d, "memory.stat")
        .map(|t| keyed(&t))
        .unwrap_or_default();
    s.memory.cache = s.memory.raw.get("file").copied().unwrap_or(0);
    s.pids = Pids {
        current: num(d, "pids.current"),
        limit: read(d, "pids.max")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0),
    };
    if let Some(t) = read(d, "io.stat") {
        for l in t.lines() {
            let mut f = l.split_whitespace();
            let Some((maj, min)) = f.next().and_then(|dev| dev.split_once(':')) else {
                continue;
            };
            let (Ok(major), Ok(minor)) = (maj.parse(), min.parse()) else {
                continue;
            };
            for kv in f {
                let Some((k, v)) = kv.split_once('=') else {
                    continue;
                };
                let Ok(value) = v.parse() else { continue };
                let (list, op) = match k {
                    "rbytes" => (&mut s.blkio.io_service_bytes_recursive, "Read"),
                    "wbytes" => (&mut s.blkio.io_service_bytes_recursive, "Write"),
                    "rios" => (&mut s.blkio.io_serviced_recursive, "Read"),
                    "wios" => (&mut s.blkio.io_serviced_recursive, "Write"),
                    _ => continue,
                };
                list.push(BlkioEntry {
                    major,
                    minor,
                    op: op.into(),
                    value,
                });
            }
        }
    }
    for size in hugepage_sizes() {
        let p = format!("hugetlb.{size}.");
        if d.join(format!("{p}current")).exists() {
            let ev = read(d, &format!("{p}events"))
                .map(|t| keyed(&t))
                .unwrap_or_default();
            s.hugetlb.insert(
                size.clone(),
                Hugetlb {
                    usage: num(d, &format!("{p}current")),
                    max: 0,
                    failcnt: ev.get("max").copied().unwrap_or(0),
                },
            );
        }
    }
    s
}

/// "2MB", "1GB" from /sys/kernel/mm/hugepages/hugepages-2048kB etc.
fn hugepage_sizes() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/sys/kernel/mm/hugepages") else {
        return vec![];
    };
    let mut out: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let kb: u64 = name
                .strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .parse()
                .ok()?;
            Some(page_size_name(kb))
        })
        .collect();
    out.sort();
    out
}

fn page_size_name(kb: u64) -> String {
    if kb >= 1 << 20 && kb.is_multiple_of(1 << 20) {
        format!("{}GB", kb >> 20)
    } else if kb >= 1 << 10 && kb.is_multiple_of(1 << 10) {
        format!("{}MB", kb >> 10)
    } else {
        format!("{kb}KB")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_are_named_like_the_kernel_files() {
        assert_eq!(page_size_name(2048), "2MB");
        assert_eq!(page_size_name(1 << 20), "1GB");
        assert_eq!(page_size_name(64), "64KB");
    }

    #[test]
    fn blkio_lines() {
        let e = v1_blkio("8:0 Read 4096\n8:0 Write 512\nTotal 4608\n");
        assert_eq!(e.len(), 2);
        assert_eq!(
            (e[1].major, e[1].minor, e[1].op.as_str(), e[1].value),
            (8, 0, "Write", 512)
        );
    }

    #[test]
    fn v2_files_are_read() {
        let d = std::env::temp_dir().join(format!("husk-stats-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let w = |f: &str, t: &str| std::fs::write(d.join(f), t).unwrap();
        w("cpu.stat", "usage_usec 10\nuser_usec 6\nsystem_usec 4\nnr_periods 3\nnr_throttled 1\nthrottled_usec 2\n");
        w("memory.current", "4096\n");
        w("memory.max", "max\n");
        w("memory.events", "low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\n");
        w("pids.current", "2\n");
        w("pids.max", "max\n");
        w(
            "io.stat",
            "254:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n",
        );
        let s = v2_stats(&d);
        std::fs::remove_dir_all(&d).unwrap();
        assert_eq!(s.cpu.usage.total, 10_000);
        assert_eq!(s.cpu.throttling.throttled_time, 2_000);
        assert_eq!(s.memory.usage.usage, 4096);
        assert_eq!(s.memory.usage.limit, u64::MAX);
        assert_eq!(s.memory.usage.failcnt, 5);
        assert_eq!((s.pids.current, s.pids.limit), (2, 0));
        assert_eq!(s.blkio.io_service_bytes_recursive.len(), 2);
        assert_eq!(s.blkio.io_serviced_recursive[1].value, 2);
    }
}
