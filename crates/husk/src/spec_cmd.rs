//! `husk spec`: the same starting config.json that `runc spec` writes.

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::path::Path;

/// runc's `spec`, as text: parsed when asked for, which costs far less
/// binary than building it with `json!` (serde_json's maps sort the keys
/// either way, so the output is the same).
const DEFAULT: &str = r#"{
  "ociVersion": "",
  "process": {
    "terminal": true,
    "user": {"uid": 0, "gid": 0},
    "args": ["sh"],
    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
    "cwd": "/",
    "capabilities": {
      "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "ambient": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    },
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
    "noNewPrivileges": true
  },
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "husk",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
     "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
     "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs",
     "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
     "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
  ],
  "linux": {
    "resources": {"devices": [{"allow": false, "access": "rwm"}]},
    "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
    "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
    "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
  }
}"#;

/// What `--rootless` changes, runc's rootless shape: an unprivileged user
/// cannot mount sysfs without a network namespace of its own, nor pick a
/// devpts gid; the ids are mapped to the caller's.
const ROOTLESS: &str = r#"{
  "devpts": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"],
  "sys": {"destination": "/sys", "type": "none", "source": "/sys",
          "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]},
  "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "user"}]
}"#;

pub fn default_spec(rootless: bool) -> Value {
    let mut spec: Value = serde_json::from_str(DEFAULT).expect("a valid literal");
    spec["ociVersion"] = Value::from(husk_spec::OCI_VERSION);
    if rootless {
        let mut r: Value = serde_json::from_str(ROOTLESS).expect("a valid literal");
        spec["mounts"][2]["options"] = r["devpts"].take();
        spec["mounts"][5] = r["sys"].take();
        let linux = &mut spec["linux"];
        if let Some(l) = linux.as_object_mut() {
            l.remove("resources");
        }
        linux["namespaces"] = r["namespaces"].take();
        let map = |id: u32| json!([{"containerID": 0, "hostID": id, "size": 1}]);
        linux["uidMappings"] = map(nix::unistd::getuid().as_raw());
        linux["gidMappings"] = map(nix::unistd::getgid().as_raw());
    }
    spec
}

pub fn write_spec(bundle: &Path, rootless: bool) -> Result<()> {
    let path = bundle.join(husk_spec::CONFIG_FILE);
    if path.exists() {
        bail!("{} exists; remove it first", path.display());
    }
    let text = serde_json::to_string_pretty(&default_spec(rootless))?;
    std::fs::write(&path, text + "\n").with_context(|| format!("write {}", path.display()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn default_specs_load_and_validate() {
        for rootless in [false, true] {
            let text = super::default_spec(rootless).to_string();
            let spec = husk_spec::parse_config(text.as_bytes()).unwrap();
            husk_spec::validate(&spec).unwrap();
        }
    }
}
