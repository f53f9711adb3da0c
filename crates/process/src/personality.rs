//! `linux.personality`: the execution domain (personality(2)), set in the
//! container's init right before exec; execve keeps it.

use husk_spec::Personality;

pub fn apply(p: &Personality) -> Result<(), String> {
    let domain = p
        .domain_value()
        .ok_or_else(|| format!("linux.personality.domain: unknown domain {:?}", p.domain))?;
    // SAFETY: personality takes one integer and touches no memory of ours.
    let r = unsafe { libc::personality(domain as libc::c_ulong) };
    if r == -1 {
        return Err(format!(
            "linux.personality: personality({}): {}",
            p.domain,
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}
