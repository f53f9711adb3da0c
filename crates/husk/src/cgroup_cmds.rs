//! CLI glue for the cgroup verbs: ps output, update flags, events timing.

use anyhow::{bail, Context, Result};
use husk_container as container;
use husk_spec::Resources;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

#[derive(clap::Args, Default)]
pub struct UpdateArgs {
    /// A linux.resources JSON document, or - for standard input.
    #[arg(short = 'r', long)]
    pub resources: Option<String>,
    #[arg(long = "memory")]
    pub memory: Option<String>,
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    /// Memory plus swap; -1 for unlimited.
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    #[arg(long = "kernel-memory")]
    pub kernel_memory: Option<String>,
    #[arg(long = "kernel-memory-tcp")]
    pub kernel_memory_tcp: Option<String>,
    #[arg(long = "cpu-shares", alias = "cpu-share")]
    pub cpu_shares: Option<u64>,
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    #[arg(long = "cpu-rt-runtime")]
    pub cpu_rt_runtime: Option<i64>,
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    #[arg(long = "cpu-idle")]
    pub cpu_idle: Option<i64>,
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    pub id: String,
}

/// 1024, 512k, 100m, 1g (binary multiples, an optional trailing b), or -1.
pub fn parse_bytes(flag: &str, s: &str) -> Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: f64 = num
        .parse()
        .with_context(|| format!("--{flag}: {s:?} is not a size (like 1024, 512k, 100m, 1g)"))?;
    if n < 0.0 {
        bail!("--{flag}: {s:?} must not be negative (only -1 means unlimited)");
    }
    Ok((n * mult as f64) as i64)
}

/// The resources to apply: the --resources document, then the flags on
/// top of it (runc's order).
pub fn update_resources(a: &UpdateArgs) -> Result<Resources> {
    let mut r: Resources = match a.resources.as_deref() {
        Some("-") => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("--resources -: read stdin")?;
            parse_resources("standard input", &s)?
        }
        Some(path) => {
            let s = std::fs::read_to_string(path).with_context(|| format!("--resources {path}"))?;
            parse_resources(path, &s)?
        }
        None => Resources::default(),
    };
    let mem = r.memory.get_or_insert_with(Default::default);
    if let Some(v) = &a.memory {
        mem.limit = Some(parse_bytes("memory", v)?);
    }
    if let Some(v) = &a.memory_reservation {
        mem.reservation = Some(parse_bytes("memory-reservation", v)?);
    }
    if let Some(v) = &a.memory_swap {
        mem.swap = Some(parse_bytes("memory-swap", v)?);
    }
    if let Some(v) = &a.kernel_memory {
        mem.kernel = Some(parse_bytes("kernel-memory", v)?);
    }
    if let Some(v) = &a.kernel_memory_tcp {
        mem.kernel_tcp = Some(parse_bytes("kernel-memory-tcp", v)?);
    }
    if r.memory.as_ref().is_some_and(|m| m == &Default::default()) {
        r.memory = None;
    }
    let cpu = r.cpu.get_or_insert_with(Default::default);
    cpu.shares = a.cpu_shares.or(cpu.shares);
    cpu.quota = a.cpu_quota.or(cpu.quota);
    cpu.period = a.cpu_period.or(cpu.period);
    cpu.realtime_runtime = a.cpu_rt_runtime.or(cpu.realtime_runtime);
    cpu.realtime_period = a.cpu_rt_period.or(cpu.realtime_period);
    cpu.idle = a.cpu_idle.or(cpu.idle);
    cpu.cpus = a.cpuset_cpus.clone().or(cpu.cpus.take());
    cpu.mems = a.cpuset_mems.clone().or(cpu.mems.take());
    if r.cpu.as_ref().is_some_and(|c| c == &Default::default()) {
        r.cpu = None;
    }
    if let Some(l) = a.pids_limit {
        r.pids = Some(husk_spec::Pids { limit: Some(l) });
    }
    if let Some(w) = a.blkio_weight {
        let mut b = r.block_io.take().unwrap_or_default();
        b.weight = Some(w);
        r.block_io = Some(b);
    }
    Ok(r)
}

fn parse_resources(what: &str, s: &str) -> Result<Resources> {
    let mut de = serde_json::Deserializer::from_str(s);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        anyhow::anyhow!("--resources {what}: {path}: {}", e.into_inner())
    })
}

/// `ps`: with json, the pids; with table, `ps ARGS` (default -ef) filtered
/// to the container's processes, as runc prints it.
pub fn ps(root: &Path, id: &str, format: &str, ps_args: &[String]) -> Result<()> {
    let c = container::load_for_read(root, id)?;
    let pids = container::pids(&c)?;
    match format {
        "json" => outln!("{}", serde_json::to_string(&pids)?),
        "table" => {
            let args: Vec<String> = if ps_args.is_empty() {
                vec!["-ef".into()]
            } else {
                ps_args.to_vec()
            };
            let out = std::process::Command::new("ps")
                .args(&args)
                .output()
                .context("run ps")?;
            if !out.status.success() {
                bail!(
                    "ps {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            let text = String::from_utf8_lossy(&out.stdout);
            let mut lines = text.lines();
            let header = lines.next().unwrap_or_default();
            let col = header
                .split_whitespace()
                .position(|h| h == "PID")
                .context("ps output has no PID column")?;
            outln!("{header}");
            for l in lines {
                let pid = l
                    .split_whitespace()
                    .nth(col)
                    .and_then(|p| p.parse::<i32>().ok());
                if pid.is_some_and(|p| pids.contains(&p)) {
                    outln!("{l}");
                }
            }
        }
        other => bail!("invalid --format {other:?}: use table or json"),
    }
    Ok(())
}

/// Go-style durations as runc takes them: 5s, 100ms, 1m, 1h30m.
pub fn parse_duration(s: &str) -> Result<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = s.trim();
    if rest.is_empty() {
        bail!("--interval: empty duration");
    }
    while !rest.is_empty() {
        let n_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .with_context(|| format!("--interval {s:?}: missing unit (ms, s, m, h)"))?;
        let n: f64 = rest[..n_end]
            .parse()
            .with_context(|| format!("--interval {s:?}: bad number"))?;
        rest = &rest[n_end..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let secs = match &rest[..unit_len] {
            "ns" => n / 1e9,
            "us" | "µs" => n / 1e6,
            "ms" => n / 1e3,
            "s" => n,
            "m" => n * 60.0,
            "h" => n * 3600.0,
            u => bail!("--interval {s:?}: unknown unit {u:?}"),
        };
        total += Duration::from_secs_f64(secs);
        rest = &rest[unit_len..];
    }
    if total.is_zero() {
        bail!("--interval {s:?}: must be greater than zero");
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("memory", "1024").unwrap(), 1024);
        assert_eq!(parse_bytes("memory", "512k").unwrap(), 512 << 10);
        assert_eq!(parse_bytes("memory", "100M").unwrap(), 100 << 20);
        assert_eq!(parse_bytes("memory", "1gb").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("memory-swap", "-1").unwrap(), -1);
        assert!(parse_bytes("memory", "lots")
            .unwrap_err()
            .to_string()
            .contains("--memory"));
        assert!(parse_bytes("memory", "-5").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("100ms").unwrap(), Duration::from_millis(100));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("0s").is_err());
    }

    #[test]
    fn flags_override_the_document() {
        let dir = std::env::temp_dir().join(format!("husk-upd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("r.json");
        std::fs::write(&f, r#"{"memory":{"limit":1000000},"pids":{"limit":10}}"#).unwrap();
        let a = UpdateArgs {
            resources: Some(f.to_string_lossy().into()),
            pids_limit: Some(20),
            cpu_quota: Some(5000),
            id: "x".into(),
            ..Default::default()
        };
        let r = update_resources(&a).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(r.memory.unwrap().limit, Some(1_000_000));
        assert_eq!(r.pids.unwrap().limit, Some(20));
        assert_eq!(r.cpu.unwrap().quota, Some(5000));
    }
}
