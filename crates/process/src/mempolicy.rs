//! `linux.memoryPolicy`: the NUMA memory policy (set_mempolicy(2)) of the
//! container's init, set right before exec; execve and fork keep it.

use crate::error::{Error, Result};
use husk_spec::{parse_id_list, MemoryPolicy, MAX_IDS};

pub fn apply(m: &MemoryPolicy) -> Result<()> {
    let mode = m.mode_value().ok_or_else(|| {
        Error::field(
            "linux.memoryPolicy.mode",
            format!("unknown mode {:?}", m.mode),
        )
    })?;
    let flags = m
        .flags_value()
        .ok_or_else(|| Error::field("linux.memoryPolicy.flags", "unknown flag"))?;
    let mut mask: Vec<libc::c_ulong> = Vec::new();
    if let Some(nodes) = m.nodes.as_deref().filter(|n| !n.trim().is_empty()) {
        let ids = parse_id_list(nodes, MAX_IDS)
            .map_err(|e| Error::field("linux.memoryPolicy.nodes", e))?;
        let bits = libc::c_ulong::BITS as usize;
        let top = ids.last().copied().unwrap_or(0) as usize;
        mask = vec![0; top / bits + 1];
        for id in ids {
            mask[id as usize / bits] |= 1 << (id as usize % bits);
        }
    }
    // The kernel reads maxnode - 1 bits.
    let maxnode = if mask.is_empty() {
        0
    } else {
        mask.len() * libc::c_ulong::BITS as usize + 1
    };
    let ptr = if mask.is_empty() {
        std::ptr::null()
    } else {
        mask.as_ptr()
    };
    // SAFETY: set_mempolicy reads (maxnode - 1) bits from `ptr`, which is
    // either null with maxnode 0 or `mask`, exactly that many bits long and
    // alive across the call.
    let r = unsafe { libc::syscall(libc::SYS_set_mempolicy, mode | flags, ptr, maxnode) };
    if r != 0 {
        let e = std::io::Error::last_os_error();
        return Err(Error::field(
            "linux.memoryPolicy",
            format!(
                "set_mempolicy({} {:?}): {e}",
                m.mode,
                m.nodes.as_deref().unwrap_or("")
            ),
        )
        .errno(e));
    }
    Ok(())
}
