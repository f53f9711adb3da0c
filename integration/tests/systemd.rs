//! The systemd cgroup driver (`--systemd-cgroup`) against a real systemd:
//! the scope unit, its cgroup, the limits, update, delete, and a failed
//! create. Every test prints SKIP and passes when systemd is not running
//! (no /run/systemd/private): `make test-systemd` runs them in a VM booted
//! with systemd as PID 1 (hack/vm/README.md).

use husk_integration::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;

fn no_systemd(test: &str) -> bool {
    if Path::new("/run/systemd/private").exists() {
        return false;
    }
    eprintln!("SKIP {test}: systemd is not running here (no /run/systemd/private)");
    true
}

/// `systemctl show -p PROP --value UNIT`.
fn show(unit: &str, prop: &str) -> String {
    let out = Command::new("systemctl")
        .args(["show", "-p", prop, "--value", unit])
        .output()
        .expect("run systemctl");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn scope_dir(unit: &str) -> PathBuf {
    Path::new("/sys/fs/cgroup/system.slice").join(unit)
}

#[track_caller]
fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("{}/{file}: {e}", dir.display()))
        .trim()
        .to_string()
}

/// A bundle whose cgroupsPath is `system.slice:husk:<id>`; returns the unit.
fn systemd_bundle(name: &str, args: &[&str]) -> (Bundle, String) {
    let mut b = Bundle::new(name, args);
    let id = b.id().to_string();
    b.config_mut()["linux"]["cgroupsPath"] = json!(format!("system.slice:husk:{id}"));
    b.save();
    (b, format!("husk-{id}.scope"))
}

fn sd(b: &Bundle, args: &[&str]) -> Output {
    let mut a = vec!["--systemd-cgroup"];
    a.extend_from_slice(args);
    b.runtime().exec(&a)
}

#[track_caller]
fn assert_unit_gone(unit: &str) {
    // Transient units are unloaded once stopped (and reset if failed).
    let state = poll(|| {
        let s = show(unit, "LoadState");
        (s == "not-found").then_some(s)
    });
    assert!(
        state.is_some(),
        "{unit} is still loaded: LoadState={} ActiveState={}",
        show(unit, "LoadState"),
        show(unit, "ActiveState")
    );
    assert!(
        !scope_dir(unit).exists(),
        "{} still exists",
        scope_dir(unit).display()
    );
}

#[test]
fn scope_holds_the_init_with_limits_update_and_delete() {
    if no_systemd("scope_holds_the_init_with_limits_update_and_delete") {
        return;
    }
    let (mut b, unit) = systemd_bundle("sd-scope", &["sleep", "300"]);
    b.config_mut()["linux"]["resources"] = json!({
        "memory": {"limit": 64 << 20},
        "pids": {"limit": 50},
        "cpu": {"shares": 512, "quota": 20000, "period": 100000}
    });
    b.set_namespace("cgroup", None);
    b.save();
    let bundle = b.path_str().to_string();
    sd(&b, &["create", "--bundle", &bundle, b.id()]).ok();
    let pid = b.runtime().pid(b.id());
    let dir = scope_dir(&unit);

    // The init is in the scope systemd made, and systemd says it is active.
    let procs = read(&dir, "cgroup.procs");
    assert!(
        procs.lines().any(|p| p == pid.to_string()),
        "init {pid} not in {}/cgroup.procs: {procs:?}",
        dir.display()
    );
    assert_eq!(show(&unit, "ActiveState"), "active");
    assert_eq!(show(&unit, "Slice"), "system.slice");
    assert_eq!(show(&unit, "Delegate"), "yes");
    assert_eq!(
        show(&unit, "Description"),
        format!("husk container {}", b.id())
    );
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert_eq!(cg.trim(), format!("0::/system.slice/{unit}"));

    // The limits, in the files and in systemd's own view of the unit.
    assert_eq!(read(&dir, "memory.max"), (64u64 << 20).to_string());
    assert_eq!(read(&dir, "pids.max"), "50");
    assert_eq!(read(&dir, "cpu.max"), "20000 100000");
    assert_eq!(read(&dir, "cpu.weight"), "20");
    assert_eq!(show(&unit, "MemoryMax"), (64u64 << 20).to_string());
    assert_eq!(show(&unit, "TasksMax"), "50");
    assert_eq!(show(&unit, "CPUQuotaPerSecUSec"), "200ms");
    assert_eq!(show(&unit, "CPUWeight"), "20");

    sd(&b, &["start", b.id()]).ok();
    assert_eq!(b.status(), "running");

    // update: the files and the unit's properties.
    sd(
        &b,
        &["update", "--memory", "100m", "--pids-limit", "30", b.id()],
    )
    .ok();
    assert_eq!(read(&dir, "memory.max"), (100u64 << 20).to_string());
    assert_eq!(read(&dir, "pids.max"), "30");
    assert_eq!(show(&unit, "MemoryMax"), (100u64 << 20).to_string());
    assert_eq!(show(&unit, "TasksMax"), "30");

    // A daemon-reload re-applies the unit's settings: the limits stay.
    let reload = Command::new("systemctl").arg("daemon-reload").status();
    assert!(reload.unwrap().success(), "systemctl daemon-reload");
    assert_eq!(read(&dir, "memory.max"), (100u64 << 20).to_string());
    assert_eq!(read(&dir, "pids.max"), "30");

    sd(&b, &["delete", "--force", b.id()]).ok();
    assert_unit_gone(&unit);
    b.runtime().assert_gone(b.id());
    assert_no_leftovers(&b, b.id());
}

/// A container that exits: its scope goes with it; delete is still fine.
#[test]
fn run_to_completion_and_delete() {
    if no_systemd("run_to_completion_and_delete") {
        return;
    }
    let (b, unit) = systemd_bundle("sd-run", &["sh", "-c", "cat /proc/self/cgroup"]);
    let bundle = b.path_str().to_string();
    let out = sd(&b, &["run", "--bundle", &bundle, b.id()]);
    out.ok();
    assert_eq!(out.stdout.trim(), format!("0::/system.slice/{unit}"));
    assert_unit_gone(&unit);
    b.runtime().assert_gone(b.id());
}

/// Without cgroupsPath the unit is husk-<id>.scope in system.slice.
#[test]
fn default_cgroups_path() {
    if no_systemd("default_cgroups_path") {
        return;
    }
    let mut b = Bundle::new("sd-default", &["sleep", "300"]);
    b.edit(|c| c["linux"]["cgroupsPath"] = json!(""));
    b.save();
    let unit = format!("husk-{}.scope", b.id());
    let bundle = b.path_str().to_string();
    sd(&b, &["create", "--bundle", &bundle, b.id()]).ok();
    assert_eq!(show(&unit, "ActiveState"), "active");
    assert!(scope_dir(&unit).is_dir());
    sd(&b, &["delete", "--force", b.id()]).ok();
    assert_unit_gone(&unit);
}

/// A create that fails after systemd started the scope (a failing
/// createRuntime hook) leaves no unit, no cgroup and no state.
#[test]
fn failed_create_leaves_no_unit() {
    if no_systemd("failed_create_leaves_no_unit") {
        return;
    }
    let (mut b, unit) = systemd_bundle("sd-fail", &["sleep", "300"]);
    // With a cgroup namespace the scope is started when the init exists,
    // before the mounts and the hooks.
    b.set_namespace("cgroup", None);
    b.add_hook("createRuntime", json!({"path": "/bin/false"}));
    b.save();
    let bundle = b.path_str().to_string();
    sd(&b, &["create", "--bundle", &bundle, b.id()]).failed_with_message();
    assert_unit_gone(&unit);
    b.runtime().assert_gone(b.id());
    assert_no_leftovers(&b, b.id());

    // A cgroupsPath not in the slice:prefix:name form is refused up front.
    let (mut b, unit) = systemd_bundle("sd-badpath", &["sleep", "300"]);
    b.edit(|c| c["linux"]["cgroupsPath"] = json!("/husk-it/x"));
    b.save();
    let out = sd(&b, &["create", "--bundle", &bundle_of(&b), b.id()]);
    out.failed_with_one_line()
        .stderr_mentions_any(&["linux.cgroupsPath"]);
    assert_unit_gone(&unit);
    b.runtime().assert_gone(b.id());
}

fn bundle_of(b: &Bundle) -> String {
    b.path_str().to_string()
}
