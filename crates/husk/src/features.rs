//! `husk features`: the runtime-spec features document, listing only what
//! husk implements today. apparmor, selinux and intelRdt say what husk
//! implements, not what this host has (features-linux.md).

use serde_json::{json, Value};

fn sorted(v: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

fn seccomp() -> Value {
    let known: Vec<&str> = husk_seccomp::KNOWN_FLAGS.iter().map(|(n, _)| *n).collect();
    json!({
        "enabled": true,
        "actions": sorted(&husk_seccomp::KNOWN_ACTIONS),
        "operators": sorted(&husk_seccomp::KNOWN_OPERATORS),
        "archs": sorted(&husk_seccomp::KNOWN_ARCHES),
        "knownFlags": known,
        "supportedFlags": husk_seccomp::supported_flags(),
    })
}

fn names<T>(table: &[(&'static str, T)]) -> Vec<&'static str> {
    table.iter().map(|(n, _)| *n).collect()
}

/// "true" only where checkpoint/restore can work: a `criu` in PATH whose
/// `criu check` passes on this kernel (CRIU 3.17 fails it on some newer
/// kernels; runc reports "true" whenever it was built with CRIU support).
fn checkpoint_enabled() -> &'static str {
    let ok = husk_container::criu_path().is_some_and(|criu| {
        std::process::Command::new(criu)
            .arg("check")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if ok {
        "true"
    } else {
        "false"
    }
}

pub fn features() -> Value {
    let caps: Vec<String> = caps::all()
        .into_iter()
        .map(|c| c.to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": husk_spec::OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": husk_rootfs::SUPPORTED_OPTIONS,
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": caps,
            "cgroup": {"v1": true, "v2": true, "systemd": true, "systemdUser": false, "rdma": true},
            "seccomp": seccomp(),
            "apparmor": {"enabled": true},
            "selinux": {"enabled": true},
            "intelRdt": {"enabled": true, "schemata": true, "monitoring": true},
            "mountExtensions": {"idmap": {"enabled": true}},
            "netDevices": {"enabled": true},
            "memoryPolicy": {"modes": names(&husk_spec::MPOL_MODES), "flags": names(&husk_spec::MPOL_FLAGS)}
        },
        "annotations": {
            "org.opencontainers.runtime-spec.features.husk.version": env!("CARGO_PKG_VERSION"),
            "org.opencontainers.runtime-spec.features.husk.commit": env!("HUSK_COMMIT"),
            "org.opencontainers.runtime-spec.features.husk.checkpoint.enabled": checkpoint_enabled()
        }
    })
}
