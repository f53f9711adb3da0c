//! Checks that serde cannot express: version, required fields, values that
//! must be absolute, known names. Each error names the JSON path.

use crate::error::SpecError;
use crate::problems::Problems;
use crate::types::{NamespaceType, Spec};
use std::collections::BTreeSet;

/// The first error of [`check`]: what create refuses a config for.
pub fn validate(spec: &Spec) -> Result<(), SpecError> {
    let mut out = Problems::default();
    check(spec, &mut out);
    match out.first_error() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Every problem of the config alone (no host is looked at).
pub fn check(spec: &Spec, out: &mut Problems) {
    let before = out.0.len();
    rules(spec, out);
    // Silent about fields left out because they did not parse.
    let removed = std::mem::take(&mut out.1);
    let mut i = 0;
    out.0.retain(|p| {
        i += 1;
        i <= before || !crate::problems::follows_from_removed(&p.field, &removed)
    });
    out.1 = removed;
}

fn rules(spec: &Spec, out: &mut Problems) {
    out.take(validate_version(&spec.oci_version));
    match &spec.root {
        None => out.error("root", "is required on Linux"),
        Some(r) if r.path.as_os_str().is_empty() => out.error("root.path", "must not be empty"),
        Some(_) => {}
    }
    for (i, m) in spec.mounts.iter().enumerate() {
        if !m.destination.is_absolute() {
            out.error(
                format!("mounts[{i}].destination"),
                format!("{:?} is not an absolute path", m.destination),
            );
        }
    }
    if let Some(p) = &spec.process {
        if p.args.is_empty() && p.command_line.is_none() {
            out.error("process.args", "must not be empty");
        }
        if !p.cwd.is_absolute() {
            out.error(
                "process.cwd",
                format!("{:?} is not an absolute path", p.cwd),
            );
        }
        for (i, e) in p.env.iter().enumerate() {
            if !e.contains('=') {
                out.error(
                    format!("process.env[{i}]"),
                    format!("{e:?} is not of the form KEY=VALUE"),
                );
            }
        }
        crate::linux_fields::check_rlimits(p, out);
    }
    let hooks = spec.hooks.iter().flat_map(|h| {
        [
            ("prestart", &h.prestart),
            ("createRuntime", &h.create_runtime),
            ("createContainer", &h.create_container),
            ("startContainer", &h.start_container),
            ("poststart", &h.poststart),
            ("poststop", &h.poststop),
        ]
    });
    for (name, list) in hooks {
        for (i, h) in list.iter().enumerate() {
            if !h.path.is_absolute() {
                out.error(
                    format!("hooks.{name}[{i}].path"),
                    format!("{:?} is not an absolute path", h.path),
                );
            }
            if matches!(h.timeout, Some(t) if t <= 0) {
                out.error(
                    format!("hooks.{name}[{i}].timeout"),
                    "must be greater than zero",
                );
            }
        }
    }
    if let Some(linux) = &spec.linux {
        check_linux(linux, out);
    }
    // A joined uts namespace is the container's too (runtime-spec: the
    // hostname is set in the container's UTS namespace, whichever it is),
    // as with runc; only the runtime's own must never be renamed.
    if spec.hostname.as_deref().is_some_and(|h| !h.is_empty()) && !has_uts(spec) {
        out.error(
            "hostname",
            "a hostname needs a uts namespace in linux.namespaces (without one it would rename the host)",
        );
    }
    crate::linux_fields::check(spec, out);
}

fn check_linux(linux: &crate::types::Linux, out: &mut Problems) {
    let mut seen = BTreeSet::new();
    for (i, ns) in linux.namespaces.iter().enumerate() {
        if !seen.insert(ns.typ) {
            out.error(
                format!("linux.namespaces[{i}].type"),
                format!("{} is given more than once", ns.typ.spec_name()),
            );
        }
        if let Some(p) = &ns.path {
            if !p.is_absolute() {
                out.error(
                    format!("linux.namespaces[{i}].path"),
                    format!("{p:?} is not an absolute path"),
                );
            }
            if ns.typ == NamespaceType::Mount {
                // pivot_root there would move every process of that
                // namespace (husk's own limit; runc pivots into it).
                out.error(
                    format!("linux.namespaces[{i}].path"),
                    "joining a mount namespace by path is not supported; leave mount out \
                     (the runtime's namespace) or let husk make one",
                );
            }
        }
    }
    let has_user = seen.contains(&NamespaceType::User);
    if !has_user && (!linux.uid_mappings.is_empty() || !linux.gid_mappings.is_empty()) {
        out.error(
            "linux.uidMappings",
            "mappings are given without a user namespace",
        );
    }
    // Masks are mounts: without a mount namespace they would cover the
    // host's /proc (runc: "unable to restrict sys entries without a
    // private MNT namespace").
    if !seen.contains(&NamespaceType::Mount) {
        for (field, paths) in [
            ("linux.maskedPaths", &linux.masked_paths),
            ("linux.readonlyPaths", &linux.readonly_paths),
        ] {
            if !paths.is_empty() {
                out.error(
                    field,
                    "needs a mount namespace (linux.namespaces has no \"mount\"): \
                     without one the paths would be masked on the host",
                );
            }
        }
    }
    if let Some(offsets) = &linux.time_offsets {
        if !seen.contains(&NamespaceType::Time) {
            out.error(
                "linux.timeOffsets",
                "offsets are given without a time namespace",
            );
        }
        for clock in offsets.keys() {
            if clock != "monotonic" && clock != "boottime" {
                out.error(
                    format!("linux.timeOffsets.{clock}"),
                    "only monotonic and boottime can be offset",
                );
            }
        }
    }
    for (i, d) in linux.devices.iter().enumerate() {
        if !matches!(d.typ.as_str(), "c" | "b" | "u" | "p") {
            out.error(
                format!("linux.devices[{i}].type"),
                format!("{:?} is not one of c, b, u, p", d.typ),
            );
        }
        if !d.path.is_absolute() {
            out.error(
                format!("linux.devices[{i}].path"),
                format!("{:?} is not an absolute path", d.path),
            );
        }
    }
    if let Some(p) = &linux.rootfs_propagation {
        if !matches!(
            p.as_str(),
            "" | "private"
                | "rprivate"
                | "shared"
                | "rshared"
                | "slave"
                | "rslave"
                | "unbindable"
                | "runbindable"
        ) {
            out.error(
                "linux.rootfsPropagation",
                format!("{p:?} is not a propagation mode"),
            );
        }
    }
    for (key, _) in linux.sysctl.iter() {
        if key.is_empty() || key.contains("..") || key.starts_with('/') {
            out.error(format!("linux.sysctl.{key}"), "is not a valid sysctl name");
        }
    }
}

fn has_uts(spec: &Spec) -> bool {
    spec.linux
        .as_ref()
        .is_some_and(|l| l.namespaces.iter().any(|n| n.typ == NamespaceType::Uts))
}

/// Any 1.x release (with pre-release or build suffixes) is accepted.
fn validate_version(v: &str) -> Result<(), SpecError> {
    let mut parts = v.split(['-', '+']).next().unwrap_or("").split('.');
    let major = parts.next();
    let minor_ok = parts.next().is_some_and(|m| m.parse::<u32>().is_ok());
    if major == Some("1") && minor_ok {
        Ok(())
    } else {
        Err(SpecError::invalid(
            "ociVersion",
            format!("{v:?} is not a supported version (husk implements 1.x)"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_config;

    fn minimal() -> serde_json::Value {
        serde_json::json!({
            "ociVersion": "1.0.2",
            "root": {"path": "rootfs"},
            "process": {"args": ["sh"], "cwd": "/"},
            "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}
        })
    }

    fn check(v: serde_json::Value) -> Result<Spec, SpecError> {
        let spec = parse_config(v.to_string().as_bytes())?;
        validate(&spec)?;
        Ok(spec)
    }

    #[test]
    fn accepts_any_1x_version() {
        for v in ["1.0.0", "1.0.2-dev", "1.2.1", "1.3.0+dev", "1.10.0"] {
            let mut c = minimal();
            c["ociVersion"] = v.into();
            check(c).unwrap_or_else(|e| panic!("{v}: {e}"));
        }
        for v in ["2.0.0", "0.9", "", "1", "x.y"] {
            let mut c = minimal();
            c["ociVersion"] = v.into();
            let e = check(c).unwrap_err().to_string();
            assert!(e.contains("ociVersion"), "{v}: {e}");
        }
    }

    #[test]
    fn type_errors_name_the_json_path() {
        let mut c = minimal();
        c["process"]["user"] = serde_json::json!({"uid": "root"});
        let e = check(c).unwrap_err().to_string();
        assert!(
            e.starts_with("config.json: process.user.uid: invalid type"),
            "{e}"
        );
    }

    #[test]
    fn syntax_errors_say_where() {
        let e = parse_config(b"{\"ociVersion\": ").unwrap_err().to_string();
        assert!(e.contains("line 1"), "{e}");
    }

    #[test]
    fn relative_mount_destination_is_refused() {
        let mut c = minimal();
        c["mounts"] = serde_json::json!([{"destination": "proc", "type": "proc"}]);
        let e = check(c).unwrap_err().to_string();
        assert!(e.contains("mounts[0].destination"), "{e}");
    }

    #[test]
    fn joining_a_mount_namespace_by_path_is_refused() {
        let mut c = minimal();
        c["linux"]["namespaces"] =
            serde_json::json!([{"type": "pid"}, {"type": "mount", "path": "/proc/1/ns/mnt"}]);
        let e = check(c).unwrap_err().to_string();
        assert!(
            e.contains("linux.namespaces[1].path") && e.contains("mount namespace"),
            "{e}"
        );
    }

    #[test]
    fn duplicate_namespace_is_refused() {
        let mut c = minimal();
        c["linux"]["namespaces"] = serde_json::json!([{"type": "pid"}, {"type": "pid"}]);
        let e = check(c).unwrap_err().to_string();
        assert!(e.contains("linux.namespaces[1].type"), "{e}");
    }

    #[test]
    fn unknown_namespace_type_is_a_parse_error_with_path() {
        let mut c = minimal();
        c["linux"]["namespaces"] = serde_json::json!([{"type": "bogus"}]);
        let e = check(c).unwrap_err().to_string();
        assert!(e.contains("linux.namespaces[0].type"), "{e}");
    }

    #[test]
    fn masks_need_a_mount_namespace() {
        let mut c = minimal();
        c["linux"]["namespaces"] = serde_json::json!([{"type": "pid"}]);
        check(c.clone()).unwrap();
        c["linux"]["maskedPaths"] = serde_json::json!(["/proc/kcore"]);
        let e = check(c.clone()).unwrap_err().to_string();
        assert!(
            e.contains("linux.maskedPaths") && e.contains("mount namespace"),
            "{e}"
        );
        c["linux"]["maskedPaths"] = serde_json::json!([]);
        c["linux"]["readonlyPaths"] = serde_json::json!(["/proc/sys"]);
        let e = check(c).unwrap_err().to_string();
        assert!(e.contains("linux.readonlyPaths"), "{e}");
    }

    #[test]
    fn hostname_needs_uts_namespace() {
        let mut c = minimal();
        c["hostname"] = "box".into();
        assert!(check(c.clone())
            .unwrap_err()
            .to_string()
            .contains("hostname"));
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "uts"}));
        check(c.clone()).unwrap();
        // Joined: set there, as runc does.
        c["linux"]["namespaces"].as_array_mut().unwrap().pop();
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "uts", "path": "/proc/1/ns/uts"}));
        check(c).unwrap();
    }

    #[test]
    fn rlimits_checked() {
        let mut c = minimal();
        c["process"]["rlimits"] =
            serde_json::json!([{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 5}]);
        assert!(check(c)
            .unwrap_err()
            .to_string()
            .contains("process.rlimits[0]"));
    }

    #[test]
    fn missing_root_and_relative_cwd() {
        let mut c = minimal();
        c.as_object_mut().unwrap().remove("root");
        assert!(check(c).unwrap_err().to_string().contains("root"));
        let mut c = minimal();
        c["process"]["cwd"] = "tmp".into();
        assert!(check(c).unwrap_err().to_string().contains("process.cwd"));
    }
}
