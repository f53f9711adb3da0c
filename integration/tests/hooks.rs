//! OCI hooks: prestart, createRuntime, createContainer, startContainer,
//! poststart, poststop.
//!
//! Every hook is `/bin/sh -c` that saves its stdin (the state JSON) as
//! `NAME.json`, its mount namespace as `NAME.mnt` and appends NAME to
//! `order`. The host-side hooks (prestart, createRuntime, poststart,
//! poststop) and createContainer (container namespaces, before pivot_root:
//! host paths still resolve) write to the host directory directly;
//! startContainer runs after pivot_root, so it writes to `/hooks`, a bind
//! mount of that directory.

use husk_integration::*;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};

const ALL: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

fn marker_script(name: &str, dir: &str) -> String {
    format!(
        "cat > {dir}/{name}.json; readlink /proc/self/ns/mnt > {dir}/{name}.mnt; \
         echo {name} >> {dir}/order"
    )
}

/// A bundle with all six marker hooks; returns it and the marker directory.
fn hooked_bundle(name: &str) -> (Bundle, PathBuf) {
    let mut b = Bundle::new(name, &["sleep", "30"]);
    let dir = b.host_dir().join("hooks");
    fs::create_dir_all(&dir).unwrap();
    let host = dir.to_str().unwrap().to_string();
    b.add_mount(bind_mount(&dir, "/hooks", &["rbind", "rw"]));
    for h in ALL {
        let d = if h == "startContainer" {
            "/hooks"
        } else {
            host.as_str()
        };
        b.add_hook(h, sh_hook(&marker_script(h, d), None));
    }
    (b, dir)
}

fn order(dir: &Path) -> Vec<String> {
    fs::read_to_string(dir.join("order"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[track_caller]
fn wait_for_marker(dir: &Path, name: &str) {
    let p = dir.join(format!("{name}.mnt"));
    assert!(
        poll(|| p.exists().then_some(())).is_some(),
        "hook {name} never ran; hooks run so far: {:?}",
        order(dir)
    );
}

fn hook_state(dir: &Path, name: &str) -> Value {
    let p = dir.join(format!("{name}.json"));
    let text = fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("hook {name} got no state JSON on stdin ({e}): {text:?}"))
}

fn hook_mnt(dir: &Path, name: &str) -> String {
    fs::read_to_string(dir.join(format!("{name}.mnt")))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Every hook runs once, gets the state on stdin and runs in the right
/// mount namespace.
#[test]
fn hooks_run_with_state_on_stdin() {
    let (b, dir) = hooked_bundle("hooks-all");
    let id = b.id();
    b.create().ok();
    let container_mnt = ns_link(b.pid(), "mnt");
    b.start().ok();
    for h in [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
    ] {
        wait_for_marker(&dir, h);
    }
    b.stop_and_delete();
    wait_for_marker(&dir, "poststop");

    let mut ran = order(&dir);
    ran.sort();
    let mut all = ALL.map(String::from).to_vec();
    all.sort();
    assert_eq!(ran, all, "each hook should run exactly once");

    let host_mnt = ns_link(std::process::id() as i32, "mnt");
    for h in ALL {
        let st = hook_state(&dir, h);
        assert_eq!(st["id"], id, "{h} state: {st}");
        assert_eq!(st["bundle"], b.path_str(), "{h} state: {st}");
        assert!(
            st["ociVersion"].as_str().is_some_and(|v| !v.is_empty()),
            "{h} state has no ociVersion: {st}"
        );
        let status = st["status"].as_str().unwrap_or("");
        assert!(
            ["creating", "created", "running", "stopped"].contains(&status),
            "{h} state has no valid status: {st}"
        );
        if h == "poststop" {
            assert_eq!(status, "stopped", "poststop state: {st}");
        } else {
            assert!(
                st["pid"].as_i64().unwrap_or(0) > 0,
                "{h} state has no pid: {st}"
            );
        }
        let want = if h == "createContainer" || h == "startContainer" {
            &container_mnt
        } else {
            &host_mnt
        };
        assert_eq!(
            &hook_mnt(&dir, h),
            want,
            "{h} ran in the wrong mount namespace (container: {container_mnt}, runtime: {host_mnt})"
        );
    }
    assert_no_leftovers(&b, id);
}

/// The order of the runtime spec's lifecycle: prestart, createRuntime and
/// createContainer during create; startContainer then poststart during
/// start (poststart after the process started, before start returns);
/// poststop during delete.
#[test]
fn hooks_run_in_spec_order() {
    let (b, dir) = hooked_bundle("hooks-order");
    b.create().ok();
    assert_eq!(
        order(&dir),
        ["prestart", "createRuntime", "createContainer"],
        "hooks run by create"
    );
    b.start().ok();
    assert_eq!(
        order(&dir),
        [
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart"
        ],
        "hooks run by the time start returns"
    );
    b.stop_and_delete();
    assert_eq!(order(&dir), ALL, "hooks run by the time delete returns");
    assert_no_leftovers(&b, b.id());
}

fn failing_hook_fails_create(name: &str, kind: &str, hook: Value, mention: &[&str]) {
    let mut b = Bundle::new(name, &["sleep", "30"]);
    b.add_hook(kind, hook);
    b.create()
        .failed_with_message()
        .stderr_mentions_any(mention);
    b.runtime().assert_gone(b.id());
    assert_no_leftovers(&b, b.id());
}

#[test]
fn failing_create_runtime_hook_fails_create() {
    failing_hook_fails_create(
        "hook-createruntime-fails",
        "createRuntime",
        sh_hook("echo hook-said-no >&2; exit 7", None),
        &["hook"],
    );
}

#[test]
fn failing_prestart_hook_fails_create() {
    failing_hook_fails_create(
        "hook-prestart-fails",
        "prestart",
        sh_hook("exit 7", None),
        &["hook"],
    );
}

#[test]
fn hook_timeout_fails_create() {
    failing_hook_fails_create(
        "hook-timeout",
        "createRuntime",
        sh_hook("sleep 5", Some(1)),
        &["timeout", "timed out"],
    );
}

/// runtime-spec 1.3.0 (runtime.md, lifecycle step 9): a failing poststart
/// hook is an error of `start`, the container is stopped, and the lifecycle
/// goes on at its destruction: `delete` runs poststop and removes
/// everything. (runc 1.1 runs poststart during create and fails create.)
#[test]
fn failing_poststart_hook_fails_start_and_stops_the_container() {
    let mut b = Bundle::new("hook-poststart-fails", &["sleep", "30"]);
    let marker = b.host_dir().join("poststop-ran");
    b.add_hook(
        "poststart",
        sh_hook("echo poststart-broke >&2; exit 7", None),
    );
    b.add_hook(
        "poststop",
        sh_hook(&format!("touch {}", marker.display()), None),
    );
    b.create().ok();
    let out = b.start();
    out.failed_with_one_line();
    if !is_runc() {
        assert!(
            out.stderr.contains("hooks.poststart[0]") && out.stderr.contains("poststart-broke"),
            "{}",
            out.stderr
        );
        assert_eq!(b.status(), "stopped", "after a failed poststart hook");
    }
    b.delete_force().ok();
    assert!(marker.exists(), "delete must run the poststop hooks");
    assert_no_leftovers(&b, b.id());
}

/// A failing poststop hook only logs a warning: delete succeeds and
/// removes everything.
#[test]
fn failing_poststop_hook_only_warns() {
    let mut b = Bundle::new("hook-poststop-fails", &["sleep", "30"]);
    b.add_hook("poststop", sh_hook("exit 7", None));
    b.create_and_start();
    b.kill("KILL").ok();
    b.wait_for_status("stopped");
    b.delete().ok();
    b.runtime().assert_gone(b.id());
    assert_no_leftovers(&b, b.id());
}

/// A createRuntime hook that runs `state` on the container being created:
/// husk reads state without taking the container's lock, so this does not
/// deadlock against `create` (the hook's timeout turns a deadlock into a
/// failed create), and reports "creating" with the init's pid.
#[test]
fn state_from_a_create_runtime_hook() {
    if skip_under_runc(
        "state_from_a_create_runtime_hook",
        "runc 1.1.5's state finds no container during create",
    ) {
        return;
    }
    let mut b = Bundle::new("hook-state", &["sleep", "30"]);
    let file = b.host_dir().join("state-during-hook.json");
    let rt = b.runtime();
    let script = format!(
        "'{}' --root '{}' state {} > '{}'",
        rt.bin().display(),
        rt.root().display(),
        b.id(),
        file.display()
    );
    b.add_hook("createRuntime", sh_hook(&script, Some(10)));
    b.create().ok();
    let pid = b.pid();
    let text = fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("the hook wrote no {}: {e}", file.display()));
    let st: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("state printed in the hook is not JSON ({e}): {text:?}"));
    assert_eq!(st["id"], b.id(), "state printed in the hook: {st}");
    assert_eq!(
        st["status"], "creating",
        "status printed in the createRuntime hook: {st}"
    );
    assert_eq!(
        st["pid"], pid,
        "pid printed in the hook should be the init's ({pid}): {st}"
    );
    b.delete_force().ok();
    b.runtime().assert_gone(b.id());
    assert_no_leftovers(&b, b.id());
}

/// Hooks get stdin, stdout and stderr only: a descriptor that the caller of
/// the runtime leaked into it (not close-on-exec, as fd 250 here, and the
/// kept --preserve-fds fd 3) must not reach a hook, least of all the
/// createContainer and startContainer hooks that run in the container.
#[test]
fn hooks_get_no_inherited_descriptors() {
    let mut b = Bundle::new("hook-fds", &["true"]);
    let dir = b.host_dir().join("hooks");
    fs::create_dir_all(&dir).unwrap();
    let host = dir.to_str().unwrap().to_string();
    b.add_mount(bind_mount(&dir, "/hooks", &["rbind", "rw"]));
    for h in [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
    ] {
        let d = if h == "startContainer" {
            "/hooks"
        } else {
            &host
        };
        // ls in the shell's place (a redirection of a forked command would
        // park the shell's stdout on a high fd); its own directory fd shows
        // as a link to /proc/PID/fd and is left out below.
        let script = format!("exec ls -l /proc/self/fd > {d}/{h}.fds");
        b.add_hook(h, sh_hook(&script, None));
    }
    b.save();
    let rt = b.runtime();
    let argv: Vec<String> = rt
        .argv(&[
            "create",
            "--preserve-fds",
            "1",
            "--bundle",
            b.path_str(),
            b.id(),
        ])
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    // The caller leaks fd 250 (a pipe-like host file) and passes fd 3 on.
    let mut cmd = std::process::Command::new("bash");
    cmd.arg("-c")
        .arg("exec 250</dev/null 3</dev/null; exec \"$@\"")
        .arg("bash")
        .args(&argv);
    rt.spawn(cmd, None).ok();
    b.start().ok();
    b.wait_for_status("stopped");
    b.delete().ok();
    for h in [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
    ] {
        let fds = fs::read_to_string(dir.join(format!("{h}.fds")))
            .unwrap_or_else(|_| panic!("the {h} hook did not run"));
        let fds: Vec<&str> = fds
            .lines()
            .filter_map(|l| {
                let (left, target) = l.split_once(" -> ")?;
                let own_dir = target.starts_with("/proc/") && target.ends_with("/fd");
                (!own_dir).then(|| left.split_whitespace().last())?
            })
            .collect();
        assert_eq!(fds, ["0", "1", "2"], "{h} hook inherited descriptors");
    }
    assert_no_leftovers(&b, b.id());
}

/// createContainer hooks run with the container's rootfs as their working
/// directory, as runc runs them (hooks such as the NVIDIA container toolkit
/// write relative to it); the spec is silent.
#[test]
fn create_container_hooks_run_in_the_rootfs() {
    let mut b = Bundle::new("hook-cwd", &["true"]);
    b.add_hook("createContainer", sh_hook("pwd > cwd-of-hook", None));
    b.save();
    b.run(&[]).ok();
    let got = fs::read_to_string(b.rootfs().join("cwd-of-hook"))
        .expect("the hook wrote cwd-of-hook relative to its working directory");
    assert_eq!(
        Path::new(got.trim()),
        fs::canonicalize(b.rootfs()).unwrap(),
        "createContainer hook's cwd"
    );
    assert_no_leftovers(&b, b.id());
}
