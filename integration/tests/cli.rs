//! Command-line surface: --version, spec, features.

use husk_integration::*;
use serde_json::{json, Value};
use std::fs;
use std::path::Path;

#[test]
fn version_has_three_lines() {
    let b = Bundle::new("version", &["true"]);
    let out = b.runtime().exec(&["--version"]);
    out.ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines.len(),
        3,
        "--version should print 3 lines\n{}",
        out.describe()
    );
    let name = runtime_name();
    assert!(
        lines[0].starts_with(&format!("{name} version ")) && lines[0].len() > name.len() + 9,
        "first line should be \"{name} version X.Y.Z\"\n{}",
        out.describe()
    );
    assert!(
        lines[1].starts_with("commit: "),
        "second line should be \"commit: ...\"\n{}",
        out.describe()
    );
    assert!(
        lines[2].starts_with("spec: 1."),
        "third line should be \"spec: 1.x.y\"\n{}",
        out.describe()
    );
}

fn read_config(dir: &Path) -> Value {
    let p = dir.join("config.json");
    let text =
        fs::read_to_string(&p).unwrap_or_else(|e| panic!("spec wrote no {}: {e}", p.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("spec's config.json does not parse: {e}\n{text}"))
}

/// `spec --bundle DIR` writes a config that runs once its args point at
/// `true` (and terminal is off: the tests have no tty).
#[test]
fn spec_writes_a_runnable_config() {
    let mut b = Bundle::new("spec", &["true"]);
    fs::remove_file(b.path().join("config.json")).unwrap();
    b.runtime().exec(&["spec", "--bundle", b.path_str()]).ok();
    let mut config = read_config(b.path());
    assert!(
        config["ociVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("1.")),
        "ociVersion should be 1.x: {config}"
    );
    assert_eq!(config["root"]["path"], "rootfs", "root.path: {config}");
    assert!(
        config["process"]["args"].is_array(),
        "process.args: {config}"
    );
    assert!(
        config["linux"]["namespaces"].is_array(),
        "linux.namespaces: {config}"
    );
    config["process"]["args"] = json!(["true"]);
    config["process"]["terminal"] = json!(false);
    b.set_config(config);
    let out = b.run(&[]);
    out.ok();
    b.runtime().assert_gone(b.id());
    assert_no_leftovers(&b, b.id());
}

#[test]
fn spec_without_bundle_writes_to_cwd() {
    let b = Bundle::new("spec-cwd", &["true"]);
    let dir = b.host_dir().join("spec-here");
    fs::create_dir_all(&dir).unwrap();
    let mut cmd = b.runtime().command(&["spec"]);
    cmd.current_dir(&dir);
    b.runtime().spawn(cmd, None).ok();
    let config = read_config(&dir);
    assert!(
        config["process"].is_object(),
        "spec's config has no process: {config}"
    );
}

/// runc refuses to overwrite an existing config.json.
#[test]
fn spec_refuses_to_overwrite() {
    let b = Bundle::new("spec-exists", &["true"]);
    let before = fs::read_to_string(b.path().join("config.json")).unwrap();
    b.runtime()
        .exec(&["spec", "--bundle", b.path_str()])
        .failed_with_message()
        .stderr_mentions_any(&["config.json"]);
    let after = fs::read_to_string(b.path().join("config.json")).unwrap();
    assert_eq!(before, after, "spec changed an existing config.json");
}

#[test]
fn spec_rootless_maps_the_current_user() {
    let b = Bundle::new("spec-rootless", &["true"]);
    fs::remove_file(b.path().join("config.json")).unwrap();
    b.runtime()
        .exec(&["spec", "--rootless", "--bundle", b.path_str()])
        .ok();
    let config = read_config(b.path());
    let ns = config["linux"]["namespaces"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        ns.iter().any(|n| n["type"] == "user"),
        "a rootless spec needs a user namespace: {config}"
    );
    // SAFETY: geteuid takes no arguments and cannot fail.
    let euid = unsafe { libc::geteuid() };
    // SAFETY: getegid takes no arguments and cannot fail.
    let egid = unsafe { libc::getegid() };
    for (key, host) in [("uidMappings", euid), ("gidMappings", egid)] {
        let maps = config["linux"][key].as_array().cloned().unwrap_or_default();
        assert!(
            maps.iter()
                .any(|m| m["hostID"] == host && m["size"].as_u64().unwrap_or(0) >= 1),
            "{key} should map host id {host}: {config}"
        );
    }
}

#[test]
fn features_reports_capabilities() {
    let b = Bundle::new("features", &["true"]);
    let out = b.runtime().exec(&["features"]);
    out.ok();
    let f: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("features is not JSON: {e}\n{}", out.describe()));
    for key in ["ociVersionMin", "ociVersionMax"] {
        assert!(
            f[key].as_str().is_some_and(|v| v.starts_with("1.")),
            "features.{key} should be a 1.x version: {f}"
        );
    }
    let list = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let hooks = list(&f["hooks"]);
    for h in [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ] {
        assert!(
            hooks.iter().any(|x| x == h),
            "features.hooks lacks {h}: {f}"
        );
    }
    let opts = list(&f["mountOptions"]);
    for o in ["ro", "rw", "bind", "rbind", "nosuid", "nodev", "noexec"] {
        assert!(
            opts.iter().any(|x| x == o),
            "features.mountOptions lacks {o}: {f}"
        );
    }
    let ns = list(&f["linux"]["namespaces"]);
    for n in ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"] {
        assert!(
            ns.iter().any(|x| x == n),
            "features.linux.namespaces lacks {n}: {f}"
        );
    }
}

/// --debug traces the create chain into the log; --log-format text writes
/// logrus-shaped lines.
#[test]
fn debug_log_traces_create() {
    if is_runc() {
        skip_under_runc("debug_log_traces_create", "husk's own debug messages");
        return;
    }
    let b = Bundle::new("debug-log", &["true"]);
    let log = b.host_dir().join("debug.log");
    let log_s = log.to_str().unwrap().to_string();
    b.save();
    let out = b.runtime().exec(&[
        "--debug",
        "--log",
        log_s.as_str(),
        "run",
        "--bundle",
        b.path_str(),
        b.id(),
    ]);
    out.ok();
    let text = std::fs::read_to_string(&log).expect("log file written");
    assert!(
        text.lines()
            .any(|l| l.contains("level=debug") && l.contains("launching the init")),
        "no debug trace of the create chain in the log:\n{text}"
    );
    assert_no_leftovers(&b, b.id());
}

/// --rootless takes runc's values and refuses others.
#[test]
fn rootless_flag_values() {
    let dir = std::env::temp_dir();
    let root = dir.join(format!("husk-it-rootless-{}", std::process::id()));
    let rt = Runtime::new(&root, &dir);
    for v in ["auto", "true", "false"] {
        let out = rt.exec(&["--rootless", v, "list", "-q"]);
        out.ok();
    }
    let out = rt.exec(&["--rootless", "maybe", "list", "-q"]);
    out.failed_with_message();
    let _ = std::fs::remove_dir_all(&root);
}
