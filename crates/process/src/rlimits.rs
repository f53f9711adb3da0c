use crate::error::{Error, Result};
use husk_spec::Rlimit;

fn resource(name: &str) -> Option<libc::__rlimit_resource_t> {
    Some(match name {
        "RLIMIT_AS" => libc::RLIMIT_AS,
        "RLIMIT_CORE" => libc::RLIMIT_CORE,
        "RLIMIT_CPU" => libc::RLIMIT_CPU,
        "RLIMIT_DATA" => libc::RLIMIT_DATA,
        "RLIMIT_FSIZE" => libc::RLIMIT_FSIZE,
        "RLIMIT_LOCKS" => libc::RLIMIT_LOCKS,
        "RLIMIT_MEMLOCK" => libc::RLIMIT_MEMLOCK,
        "RLIMIT_MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => libc::RLIMIT_NICE,
        "RLIMIT_NOFILE" => libc::RLIMIT_NOFILE,
        "RLIMIT_NPROC" => libc::RLIMIT_NPROC,
        "RLIMIT_RSS" => libc::RLIMIT_RSS,
        "RLIMIT_RTPRIO" => libc::RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => libc::RLIMIT_RTTIME,
        "RLIMIT_SIGPENDING" => libc::RLIMIT_SIGPENDING,
        "RLIMIT_STACK" => libc::RLIMIT_STACK,
        _ => return None,
    })
}

/// Sets every rlimit; raising a hard limit needs CAP_SYS_RESOURCE, so this
/// runs before capabilities are dropped.
pub fn apply(rlimits: &[Rlimit]) -> Result<()> {
    for (i, r) in rlimits.iter().enumerate() {
        // The names were checked before anything was made
        // (husk_spec::RLIMIT_NAMES); a table out of step is a husk bug.
        let res = resource(&r.typ).ok_or_else(|| {
            Error::field(
                &format!("process.rlimits[{i}].type"),
                format!("{:?}: no setrlimit resource for it", r.typ),
            )
        })?;
        let lim = libc::rlimit {
            rlim_cur: r.soft,
            rlim_max: r.hard,
        };
        // SAFETY: `lim` is a valid rlimit struct that lives across the call;
        // setrlimit only reads it.
        if unsafe { libc::setrlimit(res, &lim) } != 0 {
            let e = std::io::Error::last_os_error();
            return Err(Error::field(
                &format!("process.rlimits[{i}]"),
                format!("setrlimit {}: {e}", r.typ),
            )
            .errno(e));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// Every name the config check accepts has a resource here: the two
    /// tables cannot drift apart.
    #[test]
    fn every_checked_name_has_a_resource() {
        for n in husk_spec::RLIMIT_NAMES {
            assert!(super::resource(n).is_some(), "{n}");
        }
    }

    /// A limit the kernel refuses (soft above hard: EINVAL, nothing
    /// changed) names its entry and keeps the errno, with the line it had
    /// as text.
    #[test]
    fn a_refused_limit_names_its_entry_and_errno() {
        let r = husk_spec::Rlimit {
            typ: "RLIMIT_NOFILE".into(),
            soft: 10,
            hard: 5,
        };
        let e = super::apply(&[r]).unwrap_err();
        assert_eq!(e.kind, crate::error::ErrorKind::Config);
        assert_eq!(e.field.as_deref(), Some("process.rlimits[0]"));
        assert_eq!(e.errno, Some(libc::EINVAL));
        assert_eq!(
            e.to_string(),
            format!(
                "process.rlimits[0]: setrlimit RLIMIT_NOFILE: {}",
                std::io::Error::from_raw_os_error(libc::EINVAL)
            )
        );
    }
}
