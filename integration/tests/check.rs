//! `husk check`: every problem of a bundle, each with its JSON pointer,
//! before anything is created; exit 0 / 1 / 2.

use husk_integration::*;
use serde_json::{json, Value};
use std::fs;

fn check(b: &Bundle, extra: &[&str]) -> Output {
    let mut args = vec!["check", "--bundle", b.path_str()];
    args.extend_from_slice(extra);
    b.runtime().exec(&args)
}

#[test]
fn a_good_bundle_has_no_problems() {
    if skip_under_runc("a_good_bundle_has_no_problems", "runc has no check") {
        return;
    }
    let b = Bundle::new("check-good", &["true"]);
    b.save();
    let out = check(&b, &[]);
    out.ok();
    assert_eq!(out.stdout.trim(), "", "problems in the default bundle");
}

/// N independent problems, of the config and of the host, give N lines
/// (and nothing is created).
#[test]
fn every_problem_gets_its_line() {
    if skip_under_runc("every_problem_gets_its_line", "runc has no check") {
        return;
    }
    let mut b = Bundle::new("check-many", &["true"]);
    let missing = b.host_dir().join("no-such-source");
    b.edit(|c| {
        c["process"]["cwd"] = json!("relative/dir");
        c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOSUCH", "soft": 1, "hard": 1}]);
        c["process"]["user"]["uid"] = json!("root");
        c["root"]["path"] = json!("no-such-rootfs");
        c["linux"]["timeOffsets"] = json!({"realtime": {"secs": 1}});
        c["linux"]["netDevices"] = json!({"hk-nosuch0": {}});
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/m", "type": "bind", "source": missing.to_str().unwrap(),
            "options": ["bind"]
        }));
    });
    b.save();
    let out = check(&b, &[]);
    assert_eq!(out.code(), Some(1), "{}", out.describe());
    let errors: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    for want in [
        "/process/cwd",
        "/process/rlimits/0/type",
        "/process/user/uid",
        "/root/path",
        "/linux/timeOffsets:",
        "/linux/timeOffsets/realtime",
        "/linux/netDevices/hk-nosuch0",
        "/mounts/7/source",
    ] {
        assert!(
            errors.iter().any(|l| l.contains(want)),
            "no error line for {want}:\n{}",
            out.stdout
        );
    }
    assert_eq!(errors.len(), 8, "one line per problem:\n{}", out.stdout);
    // Nothing was made.
    assert!(!b.runtime().root().join(b.id()).exists());

    // The same as JSON, and the config alone without the host.
    let out = check(&b, &["--format", "json", "--no-host"]);
    assert_eq!(out.code(), Some(1), "{}", out.describe());
    let list: Vec<Value> = serde_json::from_str(&out.stdout).unwrap();
    let pointers: Vec<&str> = list.iter().filter_map(|p| p["pointer"].as_str()).collect();
    assert!(pointers.contains(&"/process/cwd"), "{pointers:?}");
    assert!(
        !pointers.contains(&"/root/path") && !pointers.contains(&"/mounts/7/source"),
        "--no-host looked at the host: {pointers:?}"
    );
    assert!(list
        .iter()
        .all(|p| p["severity"] == "error" || p["severity"] == "warning"));
}

#[test]
fn warnings_do_not_fail() {
    if skip_under_runc("warnings_do_not_fail", "runc has no check") {
        return;
    }
    let mut b = Bundle::new("check-warn", &["no-such-program"]);
    b.edit(|c| {
        c["process"]["capabilities"]["bounding"]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_NO_SUCH"));
    });
    b.save();
    let out = check(&b, &[]);
    out.ok();
    assert!(
        out.stdout
            .contains("warning: /process/capabilities/bounding/3")
            && out.stdout.contains("warning: /process/args/0"),
        "{}",
        out.stdout
    );
}

#[test]
fn an_unreadable_bundle_exits_2() {
    if skip_under_runc("an_unreadable_bundle_exits_2", "runc has no check") {
        return;
    }
    let b = Bundle::new("check-none", &["true"]);
    fs::remove_file(b.path().join("config.json")).unwrap();
    let out = check(&b, &[]);
    assert_eq!(out.code(), Some(2), "{}", out.describe());
    out.stderr_mentions_any(&["config.json"]);
    // Broken JSON is a problem of the bundle (1), not an unreadable one.
    fs::write(b.path().join("config.json"), "{not json").unwrap();
    let out = check(&b, &[]);
    assert_eq!(out.code(), Some(1), "{}", out.describe());
}

/// Rootless: a mapping beyond the user's own id needs newuidmap and a
/// range /etc/subuid grants; check (as the user) names the mapping.
#[test]
fn rootless_mappings_beyond_the_grant_are_named() {
    if skip_under_runc(
        "rootless_mappings_beyond_the_grant_are_named",
        "runc has no check",
    ) {
        return;
    }
    let mut b = Bundle::new("check-rootless", &["true"]);
    b.edit(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        // nobody (65534) maps itself, then a range no one granted it.
        c["linux"]["uidMappings"] = json!([
            {"containerID": 0, "hostID": 65534, "size": 1},
            {"containerID": 1, "hostID": 3000000000u64, "size": 1000}
        ]);
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 65534, "size": 1}]);
    });
    b.save();
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(b.runtime().bin())
        .args([
            "check",
            "--host",
            "--bundle",
            b.path_str(),
            "--format",
            "json",
        ])
        .env("XDG_RUNTIME_DIR", b.host_dir())
        .output()
        .expect("setpriv");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert!(
        list.iter().any(|p| p["pointer"] == "/linux/uidMappings/1"
            || (p["pointer"] == "/linux/uidMappings"
                && p["message"].as_str().unwrap_or("").contains("newuidmap"))),
        "{list:?}"
    );
    assert!(
        !list.iter().any(|p| p["pointer"]
            .as_str()
            .unwrap_or("")
            .starts_with("/linux/gidMappings")),
        "the own-id gid mapping needs nothing: {list:?}"
    );
}
