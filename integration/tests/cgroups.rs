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
    b.config_mut()["linux"]["resources"] = json!({"memory": {"limit": 16 << 10}});
    b.run(&[])
        .failed_with_message()
        .stderr_mentions_any(&["OOM", "memory.limit"]);
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
