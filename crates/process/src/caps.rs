//! The five capability sets of process.capabilities.

use caps::{CapSet, Capability, CapsHashSet};
use husk_spec::Capabilities;
use std::str::FromStr;

fn parse_set(field: &str, names: &[String]) -> Result<CapsHashSet, String> {
    let mut set = CapsHashSet::new();
    for name in names {
        match Capability::from_str(name) {
            Ok(c) => {
                // A capability the running kernel lacks cannot be granted;
                // runc skips those with a warning, and so do we.
                if caps::all().contains(&c) && c.index() <= last_cap() {
                    set.insert(c);
                } else {
                    tracing::warn!("{field}: {name} is not supported by this kernel, ignored");
                }
            }
            Err(_) => {
                tracing::warn!("{field}: unknown capability {name:?}, ignored");
            }
        }
    }
    Ok(set)
}

fn last_cap() -> u8 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

/// Drops from the bounding set everything not listed (a missing list keeps
/// nothing, as with runc). Needs CAP_SETPCAP, so it runs while we are still
/// fully privileged.
pub fn drop_bounding(c: &Capabilities) -> Result<(), String> {
    let none = Vec::new();
    let keep = parse_set(
        "process.capabilities.bounding",
        c.bounding.as_ref().unwrap_or(&none),
    )?;
    for cap in caps::all() {
        if !keep.contains(&cap) && cap.index() <= last_cap() {
            caps::drop(None, CapSet::Bounding, cap)
                .map_err(|e| format!("process.capabilities.bounding: drop {cap}: {e}"))?;
        }
    }
    Ok(())
}

/// Sets effective, permitted, inheritable, then ambient (which the kernel
/// only accepts for capabilities already permitted and inheritable).
pub fn apply(c: &Capabilities) -> Result<(), String> {
    let empty = Vec::new();
    let get = |o: &Option<Vec<String>>| o.as_ref().unwrap_or(&empty).clone();
    let eff = parse_set("process.capabilities.effective", &get(&c.effective))?;
    let prm = parse_set("process.capabilities.permitted", &get(&c.permitted))?;
    let inh = parse_set("process.capabilities.inheritable", &get(&c.inheritable))?;
    let amb = parse_set("process.capabilities.ambient", &get(&c.ambient))?;
    // capset accepts a new permitted set only if effective stays inside it,
    // so narrow effective first, then permitted, then widen effective (which
    // fails, as it should, when effective asks for more than permitted).
    caps::set(None, CapSet::Inheritable, &inh)
        .map_err(|e| format!("process.capabilities.inheritable: {e}"))?;
    let eff_in_prm: CapsHashSet = eff.intersection(&prm).cloned().collect();
    caps::set(None, CapSet::Effective, &eff_in_prm)
        .map_err(|e| format!("process.capabilities.effective: {e}"))?;
    caps::set(None, CapSet::Permitted, &prm)
        .map_err(|e| format!("process.capabilities.permitted: {e}"))?;
    if eff_in_prm.len() != eff.len() {
        return Err(
            "process.capabilities.effective: holds capabilities that are not in permitted".into(),
        );
    }
    caps::clear(None, CapSet::Ambient).map_err(|e| format!("process.capabilities.ambient: {e}"))?;
    for cap in amb {
        // The kernel only raises an ambient capability that is permitted
        // and inheritable; runc's default spec lists ambient ones without
        // inheritable, and runc runs it, so these are skipped, not fatal.
        if !prm.contains(&cap) || !inh.contains(&cap) {
            tracing::debug!(
                "process.capabilities.ambient: {cap} is not both permitted and inheritable, not raised"
            );
            continue;
        }
        caps::raise(None, CapSet::Ambient, cap)
            .map_err(|e| format!("process.capabilities.ambient: raise {cap}: {e}"))?;
    }
    Ok(())
}
