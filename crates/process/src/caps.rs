//! The five capability sets of process.capabilities.

use crate::error::{Error, Result};
use caps::{CapSet, Capability, CapsHashSet};
use husk_spec::Capabilities;
use std::str::FromStr;

/// Never fails: a name the kernel or the caps crate does not know is
/// skipped with a warning, as runc does.
fn parse_set(field: &str, names: &[String]) -> CapsHashSet {
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
    set
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
pub fn drop_bounding(c: &Capabilities) -> Result<()> {
    const FIELD: &str = "process.capabilities.bounding";
    let none = Vec::new();
    let keep = parse_set(FIELD, c.bounding.as_ref().unwrap_or(&none));
    for cap in caps::all() {
        if !keep.contains(&cap) && cap.index() <= last_cap() {
            caps::drop(None, CapSet::Bounding, cap)
                .map_err(|e| Error::field(FIELD, format!("drop {cap}: {e}")))?;
        }
    }
    Ok(())
}

/// Sets effective, permitted, inheritable, then ambient (which the kernel
/// only accepts for capabilities already permitted and inheritable).
pub fn apply(c: &Capabilities) -> Result<()> {
    const EFF: &str = "process.capabilities.effective";
    const PRM: &str = "process.capabilities.permitted";
    const INH: &str = "process.capabilities.inheritable";
    const AMB: &str = "process.capabilities.ambient";
    let empty = Vec::new();
    let get = |o: &Option<Vec<String>>| o.as_ref().unwrap_or(&empty).clone();
    let eff = parse_set(EFF, &get(&c.effective));
    let prm = parse_set(PRM, &get(&c.permitted));
    let inh = parse_set(INH, &get(&c.inheritable));
    let amb = parse_set(AMB, &get(&c.ambient));
    // The caps crate's error is text only: there is no errno to keep.
    let set = |field: &'static str, set: CapSet, caps: &CapsHashSet| {
        caps::set(None, set, caps).map_err(|e| Error::field(field, e.to_string()))
    };
    // capset accepts a new permitted set only if effective stays inside it,
    // so narrow effective first, then permitted, then widen effective (which
    // fails, as it should, when effective asks for more than permitted).
    set(INH, CapSet::Inheritable, &inh)?;
    let eff_in_prm: CapsHashSet = eff.intersection(&prm).cloned().collect();
    set(EFF, CapSet::Effective, &eff_in_prm)?;
    set(PRM, CapSet::Permitted, &prm)?;
    if eff_in_prm.len() != eff.len() {
        return Err(Error::field(
            EFF,
            "holds capabilities that are not in permitted",
        ));
    }
    caps::clear(None, CapSet::Ambient).map_err(|e| Error::field(AMB, e.to_string()))?;
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
            .map_err(|e| Error::field(AMB, format!("raise {cap}: {e}")))?;
    }
    Ok(())
}
