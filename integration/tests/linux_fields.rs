//! process.scheduler, process.ioPriority, process.execCPUAffinity,
//! linux.personality, linux.memoryPolicy, linux.netDevices, linux.intelRdt
//! and the LSM labels: each set in a real container, checked with busybox
//! where it can see it, then by runtimetest from inside; plus the errors.
//!
//! runc 1.1.5 knows none of these fields but intelRdt, apparmorProfile and
//! selinuxLabel (it ignores the others), so the tests of the others are
//! husk-only.

use husk_integration::*;
use serde_json::{json, Value};
use std::process::Command;

const RUNC_LACKS: &str = "runc 1.1.5 does not implement this runtime-spec 1.2/1.3 field";

#[track_caller]
fn assert_create_error(b: &Bundle, mention: &[&str]) {
    let out = b.create();
    out.failed_with_one_line().stderr_mentions_any(mention);
    b.runtime().assert_gone(b.id());
    assert_no_leftovers(b, b.id());
    b.assert_check_agrees(mention);
}

/// Runs `sh -c script` in a container with the config edited by `edit`,
/// returns stdout, then has runtimetest check the same config.
fn run_and_check(name: &str, script: &str, edit: impl Fn(&mut Value)) -> String {
    let mut b = Bundle::new(name, &["sh", "-c", script]);
    edit(b.config_mut());
    let out = b.run_ok();
    check_with_runtimetest(&mut b);
    assert_no_leftovers(&b, b.id());
    out
}

fn sched_field(out: &str, key: &str) -> Option<String> {
    out.lines()
        .find(|l| l.split(':').next().map(str::trim) == Some(key))
        .and_then(|l| l.split(':').nth(1))
        .map(|v| v.trim().to_string())
}

#[test]
fn scheduler_batch_with_nice() {
    if skip_under_runc("scheduler_batch_with_nice", RUNC_LACKS) {
        return;
    }
    let out = run_and_check("sched-batch", "cat /proc/self/sched", |c| {
        c["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 7});
    });
    assert_eq!(sched_field(&out, "policy").as_deref(), Some("3"), "{out}");
    // prio = 120 + nice
    assert_eq!(sched_field(&out, "prio").as_deref(), Some("127"), "{out}");
}

/// Reset-on-fork: the kernel gives a child a negative nice back as 0 (and
/// would reset a real-time policy); SCHED_IDLE has no nice to check.
#[test]
fn scheduler_reset_on_fork() {
    if skip_under_runc("scheduler_reset_on_fork", RUNC_LACKS) {
        return;
    }
    // The shell (nice -5) forks both greps (`; true`: the last command is
    // not exec'd in place); each is reset to nice 0.
    let out = run_and_check(
        "sched-reset",
        "grep -E '^(policy|prio) ' /proc/$$/sched; grep -E '^(policy|prio) ' /proc/self/sched; true",
        |c| {
            c["process"]["scheduler"] =
                json!({"policy": "SCHED_BATCH", "nice": -5, "flags": ["SCHED_FLAG_RESET_ON_FORK"]});
        },
    );
    let values: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split(':').nth(1).map(str::trim))
        .collect();
    assert_eq!(
        values,
        ["3", "115", "3", "120"],
        "shell then its child:\n{out}"
    );
    let out = run_and_check("sched-idle", "cat /proc/self/sched", |c| {
        c["process"]["scheduler"] = json!({"policy": "SCHED_IDLE"});
    });
    assert_eq!(sched_field(&out, "policy").as_deref(), Some("5"), "{out}");
}

/// SCHED_DEADLINE cannot fork without reset-on-fork: runtimetest alone.
#[test]
fn scheduler_deadline() {
    if skip_under_runc("scheduler_deadline", RUNC_LACKS) {
        return;
    }
    let mut b = Bundle::new("sched-dl", &["true"]);
    b.config_mut()["process"]["scheduler"] = json!({
        "policy": "SCHED_DEADLINE", "runtime": 1_000_000, "deadline": 10_000_000, "period": 20_000_000
    });
    check_with_runtimetest(&mut b);
    assert_no_leftovers(&b, b.id());
}

#[test]
fn scheduler_errors_name_the_field() {
    if skip_under_runc("scheduler_errors_name_the_field", RUNC_LACKS) {
        return;
    }
    for (sched, field) in [
        (json!({"policy": "SCHED_BOGUS"}), "process.scheduler.policy"),
        (
            json!({"policy": "SCHED_OTHER", "nice": 40}),
            "process.scheduler.nice",
        ),
        (
            json!({"policy": "SCHED_OTHER", "priority": 10}),
            "process.scheduler.priority",
        ),
        (
            json!({"policy": "SCHED_FIFO", "priority": 100}),
            "process.scheduler.priority",
        ),
    ] {
        let mut b = Bundle::new("sched-err", &["true"]);
        b.config_mut()["process"]["scheduler"] = sched;
        assert_create_error(&b, &[field]);
    }
}

#[test]
fn io_priority() {
    if skip_under_runc("io_priority", RUNC_LACKS) {
        return;
    }
    let out = run_and_check("ioprio", "ionice -p $$", |c| {
        c["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 6});
    });
    assert_eq!(out.trim(), "best-effort: prio 6", "{out}");
    let out = run_and_check("ioprio-idle", "ionice -p $$", |c| {
        c["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_IDLE", "priority": 0});
    });
    assert_eq!(out.trim(), "idle", "{out}");
    for (io, field) in [
        (
            json!({"class": "IOPRIO_CLASS_X", "priority": 1}),
            "process.ioPriority.class",
        ),
        (
            json!({"class": "IOPRIO_CLASS_BE", "priority": 8}),
            "process.ioPriority.priority",
        ),
    ] {
        let mut b = Bundle::new("ioprio-err", &["true"]);
        b.config_mut()["process"]["ioPriority"] = io;
        assert_create_error(&b, &[field]);
    }
}

#[test]
fn personality_linux32() {
    if skip_under_runc("personality_linux32", RUNC_LACKS) {
        return;
    }
    let out = run_and_check("persona", "uname -m", |c| {
        c["linux"]["personality"] = json!({"domain": "LINUX32"});
    });
    assert_eq!(out.trim(), "i686", "uname -m under LINUX32");
    let mut b = Bundle::new("persona-err", &["true"]);
    b.config_mut()["linux"]["personality"] = json!({"domain": "BSD"});
    assert_create_error(&b, &["linux.personality.domain"]);
}

/// The host has NUMA node 0 (every Linux machine does).
#[test]
fn memory_policy() {
    if skip_under_runc("memory_policy", RUNC_LACKS) {
        return;
    }
    let out = run_and_check("mempol", "head -1 /proc/self/numa_maps", |c| {
        c["linux"]["memoryPolicy"] =
            json!({"mode": "MPOL_INTERLEAVE", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]});
    });
    assert!(out.contains(" interleave=static:0 "), "{out}");
    let out = run_and_check("mempol-bind", "head -1 /proc/self/numa_maps", |c| {
        c["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "0"});
    });
    assert!(out.contains(" bind:0 "), "{out}");
    for (m, field) in [
        (json!({"mode": "MPOL_BOGUS"}), "linux.memoryPolicy.mode"),
        (json!({"mode": "MPOL_BIND"}), "linux.memoryPolicy.nodes"),
    ] {
        let mut b = Bundle::new("mempol-err", &["true"]);
        b.config_mut()["linux"]["memoryPolicy"] = m;
        assert_create_error(&b, &[field]);
    }
    // A node the host lacks: the kernel refuses, the error names the field.
    let mut b = Bundle::new("mempol-node", &["true"]);
    b.config_mut()["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "1000"});
    // Applied before create returns (with the rest of the process's
    // attributes), so create is what fails.
    b.create()
        .failed_with_one_line()
        .stderr_mentions_any(&["linux.memoryPolicy"]);
    b.runtime().assert_gone(b.id());
    assert_no_leftovers(&b, b.id());
}

/// `exec --process` with execCPUAffinity: `final` is the affinity the
/// program runs with; `initial` alone is reset (runc 1.2's semantics).
#[test]
fn exec_cpu_affinity() {
    if skip_under_runc("exec_cpu_affinity", RUNC_LACKS) {
        return;
    }
    let b = Bundle::new("affinity", &["sleep", "300"]);
    b.create_and_start();
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap();
    let last = online.trim().rsplit(['-', ',']).next().unwrap().to_string();
    let p = b.host_dir().join("process.json");
    let grep = ["grep", "Cpus_allowed_list", "/proc/self/status"];
    for (aff, want) in [
        (json!({"initial": "0", "final": last}), last.clone()),
        (json!({"initial": last}), online.trim().to_string()),
        (json!({"final": "0"}), "0".to_string()),
    ] {
        std::fs::write(
            &p,
            json!({"args": grep, "cwd": "/", "env": ["PATH=/bin"], "execCPUAffinity": aff})
                .to_string(),
        )
        .unwrap();
        let out = b
            .runtime()
            .exec(&["exec", "--process", p.to_str().unwrap(), b.id()]);
        out.ok();
        assert_eq!(
            out.stdout.split(':').nth(1).map(str::trim),
            Some(want.as_str()),
            "execCPUAffinity {aff}: {}",
            out.stdout
        );
    }
    // runtimetest as the exec'd process checks `final` from inside.
    match runtimetest_bin() {
        Some(bin) => {
            let cfg = json!({"process": {"execCPUAffinity": {"final": "0"}}});
            std::fs::write(b.rootfs().join("affinity.json"), cfg.to_string()).unwrap();
            std::fs::copy(bin, b.rootfs().join("bin/runtimetest")).unwrap();
            std::fs::write(
                &p,
                json!({"args": ["/bin/runtimetest", "--exec", "/affinity.json"], "cwd": "/",
                       "execCPUAffinity": {"initial": last, "final": "0"}})
                .to_string(),
            )
            .unwrap();
            b.runtime()
                .exec(&["exec", "--process", p.to_str().unwrap(), b.id()])
                .ok();
        }
        None => eprintln!("SKIP runtimetest check: binary not built"),
    }
    std::fs::write(
        &p,
        json!({"args": ["true"], "cwd": "/", "execCPUAffinity": {"final": "0-"}}).to_string(),
    )
    .unwrap();
    b.runtime()
        .exec(&["exec", "--process", p.to_str().unwrap(), b.id()])
        .failed_with_one_line()
        .stderr_mentions_any(&["process.execCPUAffinity.final"]);
    b.delete_force().ok();
    assert_no_leftovers(&b, b.id());
}

/// A host link for netDevices: a dummy where the kernel has it, else one
/// end of a veth pair. Deleted (with its peer) on drop if still there.
struct HostLink {
    name: String,
    peer: Option<String>,
}

impl HostLink {
    fn new(tag: &str) -> HostLink {
        let n = std::process::id() % 100_000;
        let name = format!("hk{tag}{n}");
        let ip = |args: &[&str]| Command::new("ip").args(args).status().unwrap().success();
        if ip(&["link", "add", &name, "type", "dummy"]) {
            return HostLink { name, peer: None };
        }
        let peer = format!("hp{tag}{n}");
        assert!(
            ip(&["link", "add", &name, "type", "veth", "peer", "name", &peer]),
            "cannot make a dummy or veth link for the test"
        );
        HostLink {
            name,
            peer: Some(peer),
        }
    }

    fn exists(name: &str) -> bool {
        std::path::Path::new("/sys/class/net").join(name).exists()
    }
}

impl Drop for HostLink {
    fn drop(&mut self) {
        for n in std::iter::once(&self.name).chain(self.peer.as_ref()) {
            if HostLink::exists(n) {
                let _ = Command::new("ip").args(["link", "del", n]).status();
            }
        }
    }
}

#[test]
fn net_device_moved_and_renamed() {
    if skip_under_runc("net_device_moved_and_renamed", RUNC_LACKS) {
        return;
    }
    let link = HostLink::new("a");
    let mut b = Bundle::new("netdev", &["sleep", "300"]);
    b.config_mut()["linux"]["netDevices"] = json!({ &link.name: {"name": "ctr0"} });
    b.create_and_start();
    assert!(
        !HostLink::exists(&link.name),
        "{} is still on the host",
        link.name
    );
    let out = b.runtime().exec(&["exec", b.id(), "cat", "/proc/net/dev"]);
    out.ok();
    assert!(out.stdout.contains("ctr0:"), "{}", out.stdout);
    assert!(!out.stdout.contains(&link.name), "{}", out.stdout);
    // runtime-spec 1.3.0: the runtime sets a moved device up.
    let out = b
        .runtime()
        .exec(&["exec", b.id(), "cat", "/sys/class/net/ctr0/flags"]);
    let flags = u32::from_str_radix(out.stdout.trim().trim_start_matches("0x"), 16).unwrap_or(0);
    assert!(
        flags & 1 == 1,
        "ctr0 is not up: flags {}",
        out.stdout.trim()
    );
    b.delete_force().ok();
    assert_no_leftovers(&b, b.id());
    // The container's namespace is gone: a virtual link went with it, as
    // with runc (which does not move it back either).
    assert!(
        !HostLink::exists(&link.name),
        "{} came back to the host",
        link.name
    );
    drop(link);

    // Same name inside, checked by runtimetest.
    let link = HostLink::new("b");
    b.config_mut()["linux"]["netDevices"] = json!({ &link.name: {} });
    check_with_runtimetest(&mut b);
    assert_no_leftovers(&b, b.id());
}

/// runtime-spec 1.3.0: the move keeps the device's permanent addresses of
/// global scope (the kernel drops every address on a move), and only
/// those: not one with a lifetime, nor one of link scope.
#[test]
fn net_device_keeps_its_permanent_global_addresses() {
    if skip_under_runc(
        "net_device_keeps_its_permanent_global_addresses",
        RUNC_LACKS,
    ) {
        return;
    }
    let link = HostLink::new("c");
    let ip = |args: &[&str]| {
        let out = Command::new("ip").args(args).output().unwrap();
        assert!(out.status.success(), "ip {args:?}: {out:?}");
    };
    let dev = link.name.as_str();
    ip(&["link", "set", dev, "up"]);
    ip(&["addr", "add", "192.0.2.10/24", "dev", dev]);
    ip(&["-6", "addr", "add", "2001:db8::10/64", "dev", dev, "nodad"]);
    ip(&[
        "addr",
        "add",
        "198.51.100.7/24",
        "dev",
        dev,
        "valid_lft",
        "300",
        "preferred_lft",
        "300",
    ]);
    ip(&["addr", "add", "10.99.0.1/32", "dev", dev, "scope", "link"]);
    let mut b = Bundle::new(
        "netdev-addr",
        &["sh", "-c", "ip addr show dev ctr1; cat /proc/net/if_inet6"],
    );
    b.config_mut()["linux"]["netDevices"] = json!({ dev: {"name": "ctr1"} });
    let out = b.run_ok();
    assert!(out.contains("inet 192.0.2.10/24"), "{out}");
    assert!(out.contains("20010db8000000000000000000000010"), "{out}");
    assert!(
        !out.contains("198.51.100.7"),
        "an address with a lifetime moved too:\n{out}"
    );
    assert!(
        !out.contains("10.99.0.1"),
        "a link-scope address moved too:\n{out}"
    );
    assert_no_leftovers(&b, b.id());
}

#[test]
fn net_device_errors() {
    if skip_under_runc("net_device_errors", RUNC_LACKS) {
        return;
    }
    let mut b = Bundle::new("netdev-err", &["true"]);
    b.config_mut()["linux"]["netDevices"] = json!({"hk-missing0": {"name": "ctr0"}});
    assert_create_error(&b, &["linux.netDevices.hk-missing0"]);
    b.remove_namespace("network");
    assert_create_error(&b, &["linux.netDevices"]);
    b.set_namespace("network", None);
    b.config_mut()["linux"]["netDevices"] = json!({"eth0": {"name": "a/b"}});
    assert_create_error(&b, &["linux.netDevices.eth0.name"]);
}

/// This host has no resctrl: intelRdt is a clear error (the spec's MUST).
/// runc 1.1.5 errors only when a schema is given, so that is what runs
/// under runc.
#[test]
fn intel_rdt_without_resctrl() {
    let mounted = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .contains(" - resctrl ");
    if mounted {
        eprintln!("SKIP intel_rdt_without_resctrl: this host has resctrl mounted");
        return;
    }
    let mut b = Bundle::new("rdt", &["true"]);
    b.config_mut()["linux"]["intelRdt"] = json!({"closID": "husk-it", "l3CacheSchema": "L3:0=f"});
    assert_create_error(&b, &["intelRdt", "Intel RDT"]);
    if !is_runc() {
        b.config_mut()["linux"]["intelRdt"] = json!({"closID": "husk-it"});
        assert_create_error(&b, &["linux.intelRdt: no resctrl filesystem"]);
        b.config_mut()["linux"]["intelRdt"] = json!({"memBwSchema": "L3:0=f"});
        assert_create_error(&b, &["linux.intelRdt.memBwSchema"]);
    }
}

/// No AppArmor here: the profile is ignored, as runc 1.2 does (runc 1.1.5
/// fails writing /proc/self/attr/exec).
#[test]
fn apparmor_profile_ignored_without_apparmor() {
    if skip_under_runc(
        "apparmor_profile_ignored_without_apparmor",
        "runc 1.1.5 fails on a profile when AppArmor is off",
    ) {
        return;
    }
    let enabled = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.starts_with('Y'));
    if enabled {
        eprintln!("SKIP apparmor_profile_ignored_without_apparmor: AppArmor is enabled here");
        return;
    }
    run_and_check("apparmor", "true", |c| {
        c["process"]["apparmorProfile"] = json!("husk-test-profile");
    });
}

/// No SELinux here: a label is refused before anything is made, with the
/// same reason runc 1.1.5 gives.
#[test]
fn selinux_label_refused_without_selinux() {
    if std::path::Path::new("/sys/fs/selinux/enforce").exists() {
        eprintln!("SKIP selinux_label_refused_without_selinux: SELinux is enabled here");
        return;
    }
    let mut b = Bundle::new("selinux", &["true"]);
    b.config_mut()["process"]["selinuxLabel"] = json!("system_u:system_r:container_t:s0");
    assert_create_error(&b, &["selinux"]);
    if !is_runc() {
        assert_create_error(&b, &["process.selinuxLabel"]);
        // exec's process.json is refused too.
        let r = Bundle::new("selinux-exec", &["sleep", "300"]);
        r.create_and_start();
        let p = r.host_dir().join("process.json");
        std::fs::write(
            &p,
            json!({"args": ["true"], "cwd": "/", "selinuxLabel": "system_u:system_r:container_t:s0"})
                .to_string(),
        )
        .unwrap();
        r.runtime()
            .exec(&["exec", "--process", p.to_str().unwrap(), r.id()])
            .failed_with_one_line()
            .stderr_mentions_any(&["process.selinuxLabel"]);
        r.delete_force().ok();
        assert_no_leftovers(&r, r.id());
    }
}

#[test]
fn features_report_linux_fields() {
    if skip_under_runc("features_report_linux_fields", RUNC_LACKS) {
        return;
    }
    let b = Bundle::new("features-linux", &["true"]);
    let out = b.runtime().exec(&["features"]);
    out.ok();
    let f: Value = serde_json::from_str(&out.stdout).unwrap();
    let l = &f["linux"];
    for key in ["apparmor", "selinux", "intelRdt", "netDevices"] {
        assert_eq!(l[key]["enabled"], json!(true), "linux.{key}: {f}");
    }
    assert_eq!(l["intelRdt"]["schemata"], json!(true), "{f}");
    let modes = l["memoryPolicy"]["modes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for m in [
        "MPOL_DEFAULT",
        "MPOL_BIND",
        "MPOL_INTERLEAVE",
        "MPOL_PREFERRED",
        "MPOL_LOCAL",
    ] {
        assert!(
            modes.contains(&json!(m)),
            "memoryPolicy.modes lacks {m}: {f}"
        );
    }
    let flags = l["memoryPolicy"]["flags"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(flags.contains(&json!("MPOL_F_STATIC_NODES")), "{f}");
    assert_eq!(l["mountExtensions"]["idmap"]["enabled"], json!(true), "{f}");
    assert_eq!(l["seccomp"]["enabled"], json!(true), "{f}");
}
