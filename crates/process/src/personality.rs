//! `linux.personality`: the execution domain (personality(2)), set in the
//! container's init right before exec; execve keeps it.

use crate::error::{Error, Result};
use husk_spec::Personality;

pub fn apply(p: &Personality) -> Result<()> {
    let domain = p.domain_value().ok_or_else(|| {
        Error::field(
            "linux.personality.domain",
            format!("unknown domain {:?}", p.domain),
        )
    })?;
    // SAFETY: personality takes one integer and touches no memory of ours.
    let r = unsafe { libc::personality(domain as libc::c_ulong) };
    if r == -1 {
        let e = std::io::Error::last_os_error();
        return Err(Error::field(
            "linux.personality",
            format!("personality({}): {e}", p.domain),
        )
        .errno(e));
    }
    Ok(())
}
