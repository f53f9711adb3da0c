//! Failures: each must exit non-zero with a clear one-line message and
//! leave nothing behind.

use husk_integration::*;
use serde_json::{json, Value};
use std::fs;

/// `create` without rewriting config.json first.
fn create_raw(b: &Bundle) -> Output {
    b.runtime()
        .exec(&["create", "--bundle", b.path_str(), b.id()])
}

#[track_caller]
fn assert_create_error(b: &Bundle, out: &Output, mention: &[&str]) {
    out.failed_with_one_line().stderr_mentions_any(mention);
    b.runtime().assert_gone(b.id());
    assert_no_leftovers(b, b.id());
    b.assert_check_agrees(mention);
}

#[test]
fn missing_config_json() {
    let b = Bundle::new("no-config", &["true"]);
    fs::remove_file(b.path().join("config.json")).unwrap();
    let out = create_raw(&b);
    assert_create_error(&b, &out, &["config.json"]);
}

#[test]
fn malformed_config_json() {
    let b = Bundle::new("bad-json", &["true"]);
    fs::write(b.path().join("config.json"), "{bad json").unwrap();
    let out = create_raw(&b);
    out.failed_with_one_line();
    b.runtime().assert_gone(b.id());
    assert_no_leftovers(&b, b.id());
}

#[test]
fn wrong_type_names_the_field() {
    let mut b = Bundle::new("wrong-type", &["true"]);
    b.config_mut()["process"]["user"]["uid"] = json!("0");
    let out = b.create();
    assert_create_error(&b, &out, &["process.user.uid"]);
}

/// husk refuses an ociVersion it does not implement (runc 1.1 accepts any).
#[test]
fn unsupported_oci_version() {
    let mut b = Bundle::new("oci-2", &["true"]);
    b.config_mut()["ociVersion"] = json!("2.0.0");
    let out = b.create();
    assert_create_error(&b, &out, &["ociVersion"]);
}

#[test]
fn missing_rootfs_directory() {
    let mut b = Bundle::new("no-rootfs", &["true"]);
    b.config_mut()["root"]["path"] = json!("no-such-rootfs");
    let out = b.create();
    assert_create_error(&b, &out, &["no-such-rootfs", "root.path"]);
}

#[test]
fn nonexistent_bind_mount_source() {
    let mut b = Bundle::new("bad-bind", &["true"]);
    let src = b.host_dir().join("no-such-source");
    b.add_mount(bind_mount(&src, "/bad-bind-dest", &["bind"]));
    let out = b.create();
    assert_create_error(&b, &out, &[src.to_str().unwrap(), "/bad-bind-dest"]);
}

#[test]
fn nonexistent_executable_in_path() {
    let b = Bundle::new("no-exe", &["no-such-command"]);
    let out = b.create();
    assert_create_error(
        &b,
        &out,
        &[
            "executable file not found in $PATH",
            "no such file or directory",
        ],
    );
    out.stderr_mentions_any(&["no-such-command"]);
}

#[test]
fn nonexistent_executable_absolute() {
    let b = Bundle::new("no-exe-abs", &["/bin/no-such-command"]);
    let out = b.create();
    assert_create_error(&b, &out, &["no such file or directory", "not found"]);
    out.stderr_mentions_any(&["/bin/no-such-command"]);
}

#[test]
fn duplicate_id_is_rejected() {
    let b = Bundle::new("duplicate", &["sleep", "30"]);
    b.create().ok();
    let pid = b.pid();
    let out = b.create();
    out.failed_with_one_line()
        .stderr_mentions_any(&[b.id(), "already exists"]);
    let st = b.state();
    assert_eq!(
        st["status"], "created",
        "first container after the duplicate create: {st}"
    );
    assert_eq!(st["pid"], pid, "first container's pid changed: {st}");
    b.start().ok();
    assert_eq!(b.status(), "running", "first container should still start");
    b.stop_and_delete();
    assert_no_leftovers(&b, b.id());
}

fn unknown_id_outputs(b: &Bundle, id: &str) -> Vec<Output> {
    let rt = b.runtime();
    vec![
        rt.exec(&["state", id]),
        rt.exec(&["start", id]),
        rt.exec(&["kill", id, "KILL"]),
        rt.exec(&["delete", id]),
    ]
}

#[test]
fn unknown_id_fails() {
    let b = Bundle::new("unknown", &["true"]);
    for out in unknown_id_outputs(&b, b.id()) {
        out.failed_with_one_line();
    }
    assert_no_leftovers(&b, b.id());
}

/// husk's id errors name the id (runc says only "container does not exist").
#[test]
fn unknown_id_error_names_the_id() {
    let b = Bundle::new("unknown-named", &["true"]);
    for out in unknown_id_outputs(&b, b.id()) {
        out.failed_with_one_line().stderr_mentions_any(&[b.id()]);
    }
    assert_no_leftovers(&b, b.id());
}

const BAD_IDS: [&str; 5] = ["a/b", "..", "../escape", "/abs", ""];

fn assert_nothing_created(b: &Bundle) {
    let entries: Vec<_> = fs::read_dir(b.runtime().root())
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        entries.is_empty(),
        "state root should be empty, has {entries:?}"
    );
    let top: Vec<_> = fs::read_dir(b.dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !["bundle", "root", "host", "io"].contains(&n.as_str()))
        .collect();
    assert!(
        top.is_empty(),
        "unexpected entries next to the state root: {top:?}"
    );
    assert!(
        b.processes_in_rootfs().is_empty(),
        "processes running in the rootfs: {:?}",
        b.processes_in_rootfs()
    );
    assert!(
        mounts_under(b.dir()).is_empty(),
        "mounts: {:?}",
        mounts_under(b.dir())
    );
}

#[test]
fn invalid_ids_are_rejected() {
    let b = Bundle::new("bad-ids", &["sleep", "30"]);
    for id in BAD_IDS {
        let out = b.create_as(id, &[]);
        out.failed_with_one_line();
        assert_nothing_created(&b);
    }
    assert_no_leftovers(&b, b.id());
}

/// husk's id errors name the offending id.
#[test]
fn invalid_id_error_names_the_id() {
    let b = Bundle::new("bad-ids-named", &["sleep", "30"]);
    for id in BAD_IDS {
        let out = b.create_as(id, &[]);
        if id.is_empty() {
            out.failed_with_one_line().stderr_mentions_any(&["id"]);
        } else {
            out.failed_with_one_line().stderr_mentions_any(&[id]);
        }
        assert_nothing_created(&b);
    }
    assert_no_leftovers(&b, b.id());
}

#[test]
fn start_twice_fails() {
    let b = Bundle::new("start-twice", &["sleep", "30"]);
    b.create_and_start();
    b.start().failed_with_one_line();
    assert_eq!(b.status(), "running", "container after the second start");
    b.stop_and_delete();
    assert_no_leftovers(&b, b.id());
}

#[test]
fn delete_running_without_force_fails() {
    let b = Bundle::new("delete-running", &["sleep", "30"]);
    b.create_and_start();
    let pid = b.pid();
    b.delete().failed_with_one_line();
    let st = b.state();
    assert_eq!(
        st["status"], "running",
        "container after a refused delete: {st}"
    );
    assert_eq!(st["pid"], pid, "{st}");
    assert!(
        std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the container process {pid} died"
    );
    b.stop_and_delete();
    assert_no_leftovers(&b, b.id());
}

#[test]
fn json_log_records_the_error() {
    let b = Bundle::new("json-log", &["no-such-command"]);
    let log = b.host_dir().join("husk.log");
    b.save();
    let out = b.runtime().exec(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "create",
        "--bundle",
        b.path_str(),
        b.id(),
    ]);
    out.failed_with_message();
    let text = fs::read_to_string(&log)
        .unwrap_or_else(|e| panic!("no log file {}: {e}\n{}", log.display(), out.describe()));
    let errors: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["level"] == "error")
        .collect();
    assert!(
        !errors.is_empty(),
        "expected a JSON line with level \"error\" in the log, got:\n{text}"
    );
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line:?}"));
        assert!(v["msg"].is_string(), "log line without msg: {line}");
        assert!(
            v["time"].as_str().is_some_and(|t| !t.is_empty()),
            "log line without time: {line}"
        );
    }
    let msg = errors.last().unwrap()["msg"].as_str().unwrap();
    assert!(
        !msg.is_empty() && out.stderr.contains(msg),
        "the logged error {msg:?} should be the one on stderr\n{}",
        out.describe()
    );
    b.runtime().assert_gone(b.id());
    assert_no_leftovers(&b, b.id());
}

/// Where systemd is not running, `--systemd-cgroup` is refused up front
/// with a message naming the flag (tests/systemd.rs covers the driver).
#[test]
fn systemd_cgroup_is_refused() {
    if skip_under_runc("systemd_cgroup_is_refused", "runc's message differs") {
        return;
    }
    if ["/run/systemd/private", "/run/dbus/system_bus_socket"]
        .iter()
        .any(|p| std::path::Path::new(p).exists())
    {
        eprintln!("SKIP systemd_cgroup_is_refused: systemd is reachable here");
        return;
    }
    let b = Bundle::new("systemd-cgroup", &["sleep", "30"]);
    b.save();
    let out = b.runtime().exec(&[
        "--systemd-cgroup",
        "create",
        "--bundle",
        b.path_str(),
        b.id(),
    ]);
    // A refusal of the flag, not of the bundle: nothing for check to say.
    out.failed_with_one_line()
        .stderr_mentions_any(&["--systemd-cgroup"]);
    b.runtime().assert_gone(b.id());
    assert_no_leftovers(&b, b.id());
}

/// A mount failing after others succeeded: the error names the failing
/// entry by index, and the mounts already made (in the container's mount
/// namespace) leave nothing on the host.
#[test]
fn failing_mount_after_successful_ones() {
    let mut b = Bundle::new("mount-fails-late", &["true"]);
    let first = b.config()["mounts"].as_array().unwrap().len();
    b.add_mount(json!({
        "destination": "/a", "type": "tmpfs", "source": "tmpfs", "options": ["size=64k"]
    }));
    let src = b.host_dir().join("no-such-source");
    b.add_mount(bind_mount(&src, "/b", &["bind"]));
    let out = b.create();
    assert_create_error(&b, &out, &[&format!("mounts[{}]", first + 1)]);
}
