//! linux.resources.devices on cgroup v1: the config's rules in order, then
//! runc's default allow list (measured from runc 1.1.5's devices.list).
//! cgroup v2 needs an eBPF program instead (the cgroup issue).

use husk_spec::DeviceCgroup;

use crate::default_devices::DEFAULT_ALLOW;

/// One write to devices.allow (true) or devices.deny (false).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rule {
    pub allow: bool,
    pub text: String,
}

pub(crate) fn v1_rules(rules: &[DeviceCgroup]) -> Result<Vec<Rule>, crate::CgroupError> {
    let mut out = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        let field = format!("linux.resources.devices[{i}]");
        let typ = r.typ.as_deref().unwrap_or("a");
        if !matches!(typ, "a" | "b" | "c") {
            return Err(crate::CgroupError::Invalid {
                field: format!("{field}.type"),
                reason: format!("{typ:?} is not one of a, b, c"),
            });
        }
        let access = r.access.as_deref().unwrap_or("rwm");
        if access.is_empty() || !access.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) {
            return Err(crate::CgroupError::Invalid {
                field: format!("{field}.access"),
                reason: format!("{access:?} is not a combination of r, w, m"),
            });
        }
        let num = |n: Option<i64>| {
            n.filter(|n| *n >= 0)
                .map_or("*".to_string(), |n| n.to_string())
        };
        out.push(Rule {
            allow: r.allow,
            text: format!("{typ} {}:{} {access}", num(r.major), num(r.minor)),
        });
    }
    out.extend(DEFAULT_ALLOW.iter().map(|t| Rule {
        allow: true,
        text: t.to_string(),
    }));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deny_all_then_defaults() {
        let deny_all = DeviceCgroup {
            allow: false,
            access: Some("rwm".into()),
            ..Default::default()
        };
        let fuse = DeviceCgroup {
            allow: true,
            typ: Some("c".into()),
            major: Some(10),
            minor: Some(229),
            access: Some("rw".into()),
        };
        let r = v1_rules(&[deny_all, fuse]).unwrap();
        assert_eq!(
            r[0],
            Rule {
                allow: false,
                text: "a *:* rwm".into()
            }
        );
        assert_eq!(
            r[1],
            Rule {
                allow: true,
                text: "c 10:229 rw".into()
            }
        );
        assert_eq!(r.len(), 2 + DEFAULT_ALLOW.len());
    }

    #[test]
    fn bad_rules_name_the_field() {
        let bad = DeviceCgroup {
            allow: true,
            typ: Some("x".into()),
            ..Default::default()
        };
        let e = v1_rules(&[bad]).unwrap_err().to_string();
        assert!(e.contains("linux.resources.devices[0].type"), "{e}");
    }
}
