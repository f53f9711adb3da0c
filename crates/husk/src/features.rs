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

/// The fixed part of the document, as text (parsed when asked for: far
/// less binary than `json!`); the lists taken from the code are filled in.
const FIXED: &str = r#"{
  "ociVersionMin": "1.0.0",
  "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
  "linux": {
    "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
    "cgroup": {"v1": true, "v2": true, "systemd": true, "systemdUser": false, "rdma": true},
    "apparmor": {"enabled": true},
    "selinux": {"enabled": true},
    "intelRdt": {"enabled": true, "schemata": true, "monitoring": true},
    "mountExtensions": {"idmap": {"enabled": true}},
    "netDevices": {"enabled": true},
    "memoryPolicy": {}
  },
  "annotations": {}
}"#;

pub fn features() -> Value {
    let caps: Vec<String> = caps::all()
        .into_iter()
        .map(|c| c.to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut v: Value = serde_json::from_str(FIXED).expect("a valid literal");
    v["ociVersionMax"] = Value::from(husk_spec::OCI_VERSION);
    v["mountOptions"] = Value::from(husk_rootfs::SUPPORTED_OPTIONS.to_vec());
    let linux = &mut v["linux"];
    linux["capabilities"] = Value::from(caps);
    linux["seccomp"] = seccomp();
    linux["memoryPolicy"]["modes"] = Value::from(names(&husk_spec::MPOL_MODES));
    linux["memoryPolicy"]["flags"] = Value::from(names(&husk_spec::MPOL_FLAGS));
    let a = &mut v["annotations"];
    let key = |k: &str| format!("org.opencontainers.runtime-spec.features.husk.{k}");
    a[key("version")] = Value::from(env!("CARGO_PKG_VERSION"));
    a[key("commit")] = Value::from(env!("HUSK_COMMIT"));
    a[key("checkpoint.enabled")] = Value::from(checkpoint_enabled());
    v
}
