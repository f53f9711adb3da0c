//! Resources and the cgroup verbs through the CLI: limits read back from
//! the host's cgroup files, pause/resume, ps, update, events, the smallest
//! memory limit a container starts with. Runs on v1 (this host) and v2 (the
//! VM), reading whichever files the host has.

use husk_integration::*;
use serde_json::{json, Value};

/// The value of `file` in the container's cgroup, from whichever
/// hierarchy has it.
fn cg_read(id: &str, file: &str) -> Option<String> {
    cgroup_dirs(id)
        .into_iter()
        .find_map(|d| std::fs::read_to_string(d.join(file)).ok())
        .map(|s| s.trim().to_string())
}

fn is_v2(id: &str) -> bool {
    cg_read(id, "cgroup.controllers").is_some() && cg_read(id, "memory.limit_in_bytes").is_none()
}

#[track_caller]
fn expect(id: &str, file: &str, want: &str) {
    let got = cg_read(id, file);
    assert_eq!(got.as_deref(), Some(want), "{file} of container {id}");
}

fn sleeper(name: &str) -> Bundle {
    let b = Bundle::new(name, &["sleep", "300"]);
    b.create_and_start();
    b
}

#[test]
fn resources_are_applied() {
    let mut b = Bundle::new("resources", &["sleep", "300"]);
    b.config_mut()["linux"]["resources"] = json!({
        "memory": {"limit": 64 << 20},
        "pids": {"limit": 50},
        "cpu": {"shares": 512, "quota": 20000, "period": 100000, "cpus": "0"}
    });
    b.create().ok();
    let id = b.id();
    if is_v2(id) {
        expect(id, "memory.max", &(64u64 << 20).to_string());
        expect(id, "pids.max", "50");
        expect(id, "cpu.weight", "20");
        expect(id, "cpu.max", "20000 100000");
    } else {
        expect(id, "memory.limit_in_bytes", &(64u64 << 20).to_string());
        expect(id, "pids.max", "50");
        expect(id, "cpu.shares", "512");
        expect(id, "cpu.cfs_quota_us", "20000");
        expect(id, "cpu.cfs_period_us", "100000");
    }
    expect(id, "cpuset.cpus", "0");
    b.delete_force().ok();
    assert_no_leftovers(&b, b.id());
}

#[test]
fn pause_and_resume() {
    let b = sleeper("pause");
    let rt = b.runtime();
    rt.exec(&["pause", b.id()]).ok();
    assert_eq!(rt.status(b.id()), "paused");
    let frozen = if is_v2(b.id()) {
        cg_read(b.id(), "cgroup.events").is_some_and(|e| e.contains("frozen 1"))
    } else {
        cg_read(b.id(), "freezer.state").as_deref() == Some("FROZEN")
    };
    assert!(frozen, "pause returned before the cgroup was frozen");
    rt.exec(&["pause", b.id()]).failed_with_message();
    rt.exec(&["resume", b.id()]).ok();
    assert_eq!(rt.status(b.id()), "running");
    rt.exec(&["resume", b.id()]).failed_with_message();
    // A paused container can still be force-deleted.
    rt.exec(&["pause", b.id()]).ok();
    b.delete_force().ok();
    assert_no_leftovers(&b, b.id());
}

#[test]
fn ps_lists_the_container_processes() {
    let b = Bundle::new("ps", &["sh", "-c", "sleep 301 & sleep 302 & wait"]);
    b.create_and_start();
    let rt = b.runtime();
    let init = rt.pid(b.id());
    let pids: Vec<i32> = poll(|| {
        let out = rt.exec(&["ps", "--format", "json", b.id()]);
        out.ok();
        let v: Vec<i32> =
            serde_json::from_str(out.stdout.trim()).expect("ps json is an array of pids");
        (v.len() == 3).then_some(v)
    })
    .expect("ps --format json never listed the 3 processes");
    assert!(pids.contains(&init), "init {init} missing from {pids:?}");
    let out = rt.exec(&["ps", b.id()]);
    out.ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].contains("PID"), "no header: {}", out.stdout);
    assert_eq!(lines.len(), 4, "header + 3 processes:\n{}", out.stdout);
    assert!(
        out.stdout.contains("sleep 301") && out.stdout.contains("sleep 302"),
        "{}",
        out.stdout
    );
    let out = rt.exec(&["ps", b.id(), "--", "-o", "pid,comm"]);
    out.ok();
    assert!(
        out.stdout.lines().count() == 4,
        "ps args passed on:\n{}",
        out.stdout
    );
    // runc passes everything after the id to ps, without `--` too.
    let out = rt.exec(&["ps", b.id(), "-o", "pid,comm"]);
    out.ok();
    assert!(
        out.stdout.lines().count() == 4 && !out.stdout.contains("sleep 301"),
        "ps args after the id passed on:\n{}",
        out.stdout
    );
    b.delete_force().ok();
    assert_no_leftovers(&b, b.id());
}

#[test]
fn update_changes_limits() {
    let mut b = Bundle::new("update", &["sleep", "300"]);
    b.config_mut()["linux"]["resources"] =
        json!({"memory": {"limit": 64 << 20}, "pids": {"limit": 50}});
    b.create_and_start();
    let rt = b.runtime();
    let id = b.id();
    rt.exec(&["update", "--memory", "100m", "--pids-limit", "30", id])
        .ok();
    let mem_file = if is_v2(id) {
        "memory.max"
    } else {
        "memory.limit_in_bytes"
    };
    expect(id, mem_file, &(100u64 << 20).to_string());
    expect(id, "pids.max", "30");
    rt.exec_stdin(
        &["update", "--resources", "-", id],
        br#"{"pids": {"limit": 40}}"#,
    )
    .ok();
    expect(id, "pids.max", "40");
    rt.exec(&["update", "--memory", "lots", id])
        .failed_with_message();
    rt.exec_stdin(
        &["update", "--resources", "-", id],
        br#"{"pids": {"limit": "x"}}"#,
    )
    .failed_with_message()
    .stderr_mentions_any(&["pids.limit"]);
    expect(id, "pids.max", "40");
    b.delete_force().ok();
    assert_no_leftovers(&b, b.id());
}

#[test]
fn events_stats_reports_usage() {
    let b = sleeper("events");
    let out = b.runtime().exec(&["events", "--stats", b.id()]);
    out.ok();
    let v: Value = serde_json::from_str(out.stdout.trim()).expect("one JSON line");
    // runc's key order, which tools match on as text.
    let prefix = format!("{{\"type\":\"stats\",\"id\":\"{}\",\"data\":{{", b.id());
    assert!(out.stdout.starts_with(&prefix), "{}", out.stdout);
    assert_eq!(v["type"], "stats", "{v}");
    assert_eq!(v["id"], b.id(), "{v}");
    assert!(
        v["data"]["pids"]["current"].as_u64().unwrap_or(0) >= 1,
        "{v}"
    );
    assert!(
        v["data"]["memory"]["usage"]["usage"].as_u64().unwrap_or(0) > 0,
        "{v}"
    );
    assert!(v["data"]["cpu"]["usage"]["total"].as_u64().is_some(), "{v}");
    b.delete_force().ok();
    b.runtime()
        .exec(&["events", "--stats", b.id()])
        .failed_with_message();
    assert_no_leftovers(&b, b.id());
}

/// Where the init sits while it sets the container up (seen from a
/// createRuntime hook, which runs after the mounts): on v1 already in the
/// container's cpu/cpuacct cgroup (joined early so that the kernel's wait for
/// the first cgroup move overlaps the setup), but not yet in its memory
/// cgroup (setup's memory is not the container's: the floor); everywhere
/// once create returns.
#[test]
fn cgroups_joined_during_setup() {
    let mut b = Bundle::new("cgjoin", &["sleep", "300"]);
    let out = b.host_dir().join("init-cgroup");
    let script = format!(
        "pid=$(tr -d '\\n' | sed 's/.*\"pid\": *\\([0-9]*\\).*/\\1/'); cat /proc/$pid/cgroup > {}",
        out.display()
    );
    b.add_hook("createRuntime", sh_hook(&script, None));
    let created = b.create();
    assert!(created.status.success(), "create: {created:?}");
    let id = b.id().to_string();
    let during = std::fs::read_to_string(&out).expect("the hook recorded the init's cgroups");
    let mine = format!("/{CGROUP_PARENT}/{id}");
    let in_container = |controller: &str, text: &str| {
        text.lines().any(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctrls, path) = (f.next(), f.next().unwrap_or(""), f.next().unwrap_or(""));
            ctrls.split(',').any(|c| c == controller) && path == mine
        })
    };
    let pid = b.state()["pid"].as_i64().unwrap();
    let after = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    if is_v2(&id) {
        assert!(
            !during.contains(&mine),
            "v2: joined before setup ended:\n{during}"
        );
        assert!(
            after.contains(&mine),
            "v2: not joined after create:\n{after}"
        );
    } else {
        assert!(
            in_container("cpuacct", &during) || in_container("cpu", &during),
            "v1: the init should be in the container's cpu/cpuacct cgroup during setup:\n{during}"
        );
        assert!(
            !in_container("memory", &during),
            "v1: the init joined the memory cgroup before setup ended:\n{during}"
        );
        for c in ["memory", "pids", "devices", "cpuacct"] {
            assert!(
                in_container(c, &after),
                "v1: {c} not joined after create:\n{after}"
            );
        }
    }
    b.delete_force().ok();
    assert_no_leftovers(&b, &id);
}

/// The issue's floor: a busybox container with a 512 KiB memory limit
/// starts and runs `true`. Below husk's floor create fails saying why.
#[test]
fn small_memory_limits() {
    let mut b = Bundle::new("small-mem", &["true"]);
    b.config_mut()["linux"]["resources"] = json!({"memory": {"limit": 512 << 10}});
    b.run(&[]).ok();
    assert_no_leftovers(&b, b.id());
    if is_runc() {
        return;
    }
    // Far below the floor the container cannot run: either husk's setup is
    // OOM-killed (reported as such) or the program is (exit 137).
    b.config_mut()["linux"]["resources"] = json!({"memory": {"limit": 16 << 10}});
    let out = b.run(&[]);
    assert!(!out.success(), "a 16 KiB container ran: {}", out.describe());
    if out.code() != Some(137) {
        out.failed_with_message()
            .stderr_mentions_any(&["OOM", "memory.limit"]);
    }
    assert_no_leftovers(&b, b.id());
}

#[test]
fn verbs_on_unknown_and_stopped_containers() {
    let b = Bundle::new("cg-verbs", &["true"]);
    let rt = b.runtime();
    for verb in ["pause", "resume", "ps", "events"] {
        rt.exec(&[verb, "no-such-container"])
            .failed_with_message()
            .stderr_mentions_any(&["no-such-container"]);
    }
    b.run(&["--keep"]).ok();
    assert_eq!(rt.status(b.id()), "stopped");
    rt.exec(&["pause", b.id()]).failed_with_message();
    rt.exec(&["update", "--pids-limit", "5", b.id()])
        .failed_with_message();
    let out = rt.exec(&["ps", "--format", "json", b.id()]);
    out.ok();
    assert_eq!(out.stdout.trim(), "[]");
    b.delete().ok();
    assert_no_leftovers(&b, b.id());
}

/// A block device the host itself may open: loop0 (7:0). Opening an
/// unbound loop device succeeds and reads nothing, which is all the device
/// rules need (the sandbox here refuses even root access to its disk).
fn test_block_device() -> (u64, u64) {
    (7, 0)
}

/// linux.resources.devices decides what the container may open: a block
/// device node is unreadable under runc's default deny-all, readable
/// once a rule allows it (v1: devices cgroup; v2: the eBPF program).
#[test]
fn device_rules_are_enforced() {
    let (maj, min) = test_block_device();
    for allow in [false, true] {
        let name = if allow { "dev-allow" } else { "dev-deny" };
        let mut b = Bundle::new(name, &["sh", "-c", "head -c 1 /dev/hostdisk >/dev/null && echo read-ok; head -c 1 /dev/zero >/dev/null && echo zero-ok"]);
        b.config_mut()["linux"]["devices"] = json!([{"path": "/dev/hostdisk", "type": "b", "major": maj, "minor": min, "fileMode": 0o400}]);
        let mut rules = vec![json!({"allow": false, "access": "rwm"})];
        if allow {
            rules.push(
                json!({"allow": true, "type": "b", "major": maj, "minor": min, "access": "r"}),
            );
        }
        b.config_mut()["linux"]["resources"] = json!({"devices": rules});
        let out = b.run_ok();
        assert!(
            out.contains("zero-ok"),
            "default devices must stay usable: {out}"
        );
        assert_eq!(
            out.contains("read-ok"),
            allow,
            "disk {maj}:{min} readable should be {allow}: {out}"
        );
        assert_no_leftovers(&b, b.id());
    }
}

/// A registered block device to throttle: the first in /sys/block (a loop
/// device or the disk here; `/` itself may be an overlay without one, as in
/// the v2 VM).
fn some_disk() -> Option<(u64, u64)> {
    let mut names: Vec<_> = std::fs::read_dir("/sys/block").ok()?.flatten().collect();
    names.sort_by_key(|e| e.file_name());
    names.iter().find_map(|e| {
        let dev = std::fs::read_to_string(e.path().join("dev")).ok()?;
        let (maj, min) = dev.trim().split_once(':')?;
        Some((maj.parse().ok()?, min.parse().ok()?))
    })
}

#[test]
fn blkio_throttle_is_applied() {
    let Some((maj, min)) = some_disk() else {
        println!("SKIP blkio_throttle_is_applied: no block device in /sys/block");
        return;
    };
    let mut b = Bundle::new("blkio", &["sleep", "300"]);
    b.config_mut()["linux"]["resources"] = json!({"blockIO": {
        "throttleReadBpsDevice": [{"major": maj, "minor": min, "rate": 1048576}],
        "throttleWriteIOPSDevice": [{"major": maj, "minor": min, "rate": 100}]
    }});
    b.create().ok();
    let id = b.id();
    if is_v2(id) {
        let io = cg_read(id, "io.max").unwrap_or_default();
        assert!(
            io.contains(&format!("{maj}:{min} rbps=1048576")) && io.contains("wiops=100"),
            "io.max: {io}"
        );
    } else {
        expect(
            id,
            "blkio.throttle.read_bps_device",
            &format!("{maj}:{min} 1048576"),
        );
        expect(
            id,
            "blkio.throttle.write_iops_device",
            &format!("{maj}:{min} 100"),
        );
    }
    b.delete_force().ok();
    assert_no_leftovers(&b, b.id());
}

/// A controller the host lacks is an error only when the config asks for
/// it; v2-only settings are refused on v1 and v1-only ones on v2.
#[test]
fn unavailable_settings_are_clear_errors() {
    if is_runc() {
        return;
    }
    let mut b = Bundle::new("cg-unavail", &["true"]);
    b.config_mut()["linux"]["resources"] = json!({"network": {"classID": 1048577}});
    b.run(&[])
        .failed_with_message()
        .stderr_mentions_any(&["linux.resources.network"]);
    assert_no_leftovers(&b, b.id());
    b.config_mut()["linux"]["resources"] = json!({"blockIO": {"weight": 5}});
    b.run(&[])
        .failed_with_message()
        .stderr_mentions_any(&["linux.resources.blockIO.weight"]);
    assert_no_leftovers(&b, b.id());
}

/// Two containers in one cgroup: deleting the one that made it leaves it to
/// the other, and deleting the last one removes it.
#[test]
fn shared_cgroup_is_removed_with_its_last_user() {
    let a = Bundle::new("shared-a", &["sleep", "300"]);
    let shared = format!("/husk-it/{}", a.id());
    let mut b = Bundle::new("shared-b", &["sleep", "300"]);
    b.config_mut()["linux"]["cgroupsPath"] = json!(shared);
    a.create_and_start();
    b.create_and_start();
    a.delete_force().ok();
    assert_eq!(
        b.runtime().status(b.id()),
        "running",
        "b must survive a's delete"
    );
    assert!(
        !cgroup_dirs(a.id()).is_empty(),
        "the cgroup b still uses was removed"
    );
    b.delete_force().ok();
    assert!(
        poll(|| cgroup_dirs(a.id()).is_empty().then_some(())).is_some(),
        "the shared cgroup outlived its last user: {:?}",
        cgroup_dirs(a.id())
    );
    assert_no_leftovers(&a, a.id());
    assert_no_leftovers(&b, b.id());
}

/// A create that fails before its init exists (the kernel refuses its uid
/// map), in a cgroup another container already runs in: the other
/// container's processes are not the failed create's to kill, nor is the
/// cgroup its to remove.
#[test]
fn a_create_failing_before_its_init_leaves_a_shared_cgroup_alone() {
    let a = Bundle::new("shared-keep-a", &["sleep", "300"]);
    let shared = format!("/husk-it/{}", a.id());
    let mut b = Bundle::new("shared-keep-b", &["true"]);
    b.config_mut()["linux"]["cgroupsPath"] = json!(shared);
    b.set_namespace("user", None);
    let c = b.config_mut();
    c["linux"]["uidMappings"] = json!([
        {"containerID": 0, "hostID": 100000, "size": 1000},
        {"containerID": 10, "hostID": 300000, "size": 10}]);
    c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    a.create_and_start();
    b.create().failed_with_message();
    assert_eq!(
        a.runtime().status(a.id()),
        "running",
        "a failed create in a's cgroup killed a"
    );
    assert!(
        !cgroup_dirs(a.id()).is_empty(),
        "a failed create removed the cgroup a runs in"
    );
    a.delete_force().ok();
    assert_no_leftovers(&a, a.id());
    assert_no_leftovers(&b, b.id());
}

/// runtime-spec 1.3.0: pids.limit -1 means no limit ("max"), 0 is a limit
/// like any other, and the field may be left out. (runc 1.1.5 leaves
/// pids.max alone for 0.)
#[test]
fn pids_limit_zero_is_a_limit_and_minus_one_is_max() {
    for (limit, want) in [
        (json!(0), Some("0")),
        (json!(-1), Some("max")),
        (json!(null), None),
    ] {
        let mut b = Bundle::new("pids-limit", &["true"]);
        b.config_mut()["linux"]["resources"] = match &limit {
            Value::Null => json!({"pids": {}}),
            l => json!({"pids": {"limit": l}}),
        };
        b.create().ok();
        let id = b.id();
        match want {
            Some(w) if !(is_runc() && w == "0") => expect(id, "pids.max", w),
            _ => {}
        }
        b.delete_force().ok();
        assert_no_leftovers(&b, b.id());
    }
}

/// A config whose mounts name /sys/fs/cgroup twice (`spec`'s default list
/// plus one appended, as users do), with a cgroup namespace: runc binds the
/// container's cgroup where a second cgroup2 mount is refused (EBUSY on a
/// pure v2 host), and so does husk. The container sees its cgroup files.
#[test]
fn a_second_cgroup_mount_is_a_bind() {
    let mut b = Bundle::new("cgroup-twice", &["sh", "-c", "ls /sys/fs/cgroup | head -1"]);
    b.set_namespace("cgroup", None);
    b.add_mount(json!({
        "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
        "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]
    }));
    b.save();
    let out = b.run(&[]);
    out.ok();
    assert!(!out.stdout.trim().is_empty(), "{}", out.describe());
    assert_no_leftovers(&b, b.id());
}

/// A container whose cgroup exists and is frozen is refused at create
/// (runtime-spec 1.3.0; runc: "container's cgroup unexpectedly frozen"),
/// instead of leaving the init in the refrigerator; the frozen cgroup, which
/// is not the runtime's, is left as it was.
#[test]
fn a_frozen_cgroup_is_refused() {
    let mut b = Bundle::new("frozen-cg", &["true"]);
    let rel = format!("husk-it-frozen-{}", b.id());
    b.config_mut()["linux"]["cgroupsPath"] = json!(format!("/{rel}"));
    b.save();
    let v1 = std::path::Path::new("/sys/fs/cgroup/freezer");
    let (dir, file, frozen, thawed) = if v1.join("freezer.state").exists() || v1.is_dir() {
        (v1.join(&rel), "freezer.state", "FROZEN", "THAWED")
    } else {
        (
            std::path::Path::new("/sys/fs/cgroup").join(&rel),
            "cgroup.freeze",
            "1",
            "0",
        )
    };
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(file), frozen).unwrap();
    let out = b.run(&["--detach"]);
    std::fs::write(dir.join(file), thawed).unwrap();
    out.failed_with_one_line();
    assert!(out.stderr.contains("frozen"), "{}", out.stderr);
    assert!(
        dir.is_dir(),
        "the frozen cgroup is not the runtime's to remove"
    );
    let _ = std::fs::remove_dir(&dir);
    b.runtime().assert_gone(b.id());
}

/// `update` checks its flags merged into the container's current limits,
/// as runc does: a swap limit alone is fine when the container already has
/// a memory limit, and a quota alone keeps the period it has.
#[test]
fn update_validates_the_merged_limits() {
    let mut b = Bundle::new("update-merged", &["sleep", "300"]);
    b.config_mut()["linux"]["resources"] = json!({
        "memory": {"limit": 50 << 20},
        "cpu": {"quota": 20000, "period": 50000}
    });
    b.create_and_start();
    let rt = b.runtime();
    let id = b.id();
    let has_swap = if is_v2(id) {
        cgroup_dirs(id)
            .iter()
            .any(|d| d.join("memory.swap.max").exists())
    } else {
        cgroup_dirs(id)
            .iter()
            .any(|d| d.join("memory.memsw.limit_in_bytes").exists())
    };
    if has_swap {
        rt.exec(&["update", "--memory-swap", "96468992", id]).ok();
        if is_v2(id) {
            expect(
                id,
                "memory.swap.max",
                &(96468992u64 - (50 << 20)).to_string(),
            );
        } else {
            expect(id, "memory.memsw.limit_in_bytes", "96468992");
        }
        // Below the memory limit the container has: refused, naming it.
        rt.exec(&["update", "--memory-swap", "1048576", id])
            .failed_with_message()
            .stderr_mentions_any(&["memory"]);
    } else {
        eprintln!("SKIP swap part: no swap accounting on this host");
    }
    rt.exec(&["update", "--cpu-quota", "30000", id]).ok();
    if is_v2(id) {
        expect(id, "cpu.max", "30000 50000");
    } else {
        expect(id, "cpu.cfs_quota_us", "30000");
        expect(id, "cpu.cfs_period_us", "50000");
    }
    b.delete_force().ok();
    assert_no_leftovers(&b, b.id());
}

/// `exec --cgroup [CONTROLLERS:]PATH` (runc 1.1): the process goes into an
/// existing sub-cgroup of the container's; a missing one is an error.
#[test]
fn exec_into_a_sub_cgroup() {
    let b = sleeper("exec-subcg");
    let rt = b.runtime();
    let id = b.id();
    let dirs = cgroup_dirs(id);
    for d in &dirs {
        std::fs::create_dir_all(d.join("sub")).unwrap();
        // A new v1 cpuset starts empty and takes no task until given some
        // (on v2 the files exist only where the controller is enabled).
        for f in ["cpuset.cpus", "cpuset.mems"] {
            if let (Ok(v), true) = (
                std::fs::read_to_string(d.join(f)),
                d.join("sub").join(f).exists(),
            ) {
                std::fs::write(d.join("sub").join(f), v.trim()).unwrap();
            }
        }
    }
    let out = rt.exec(&["exec", "--cgroup", "sub", id, "cat", "/proc/self/cgroup"]);
    out.ok();
    for line in out
        .stdout
        .lines()
        .filter(|l| !l.contains("name=") && !l.ends_with(":/"))
    {
        assert!(
            line.ends_with("/sub"),
            "not in the sub-cgroup: {line}\n{}",
            out.stdout
        );
    }
    rt.exec(&["exec", "--cgroup", "nosuch", id, "true"])
        .failed_with_message()
        .stderr_mentions_any(&["nosuch"]);
    rt.exec(&["exec", "--cgroup", "../../escape", id, "true"])
        .failed_with_message();
    b.delete_force().ok();
    for d in &dirs {
        let _ = std::fs::remove_dir(d.join("sub"));
        let _ = std::fs::remove_dir(d);
    }
    assert_no_leftovers(&b, b.id());
}
