//! Fault injection with real bad input (no mocked syscalls): every step of
//! create that can fail, failed on purpose, must leave no mount, cgroup,
//! process or state directory behind; and a husk SIGKILLed at any point of
//! create is cleaned up by `delete --force`. errors.rs covers the config
//! and bundle errors (missing/malformed config, missing rootfs, a missing
//! bind source, a missing executable, a late mount failure); this file
//! covers the steps after them.

use husk_integration::*;
use serde_json::json;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

type Setup = fn(&mut Bundle);

/// (name, how to break the config, words the error mentions under husk).
const CREATE_FAULTS: &[(&str, Setup, &[&str])] = &[
    // mounts
    (
        "mount-unknown-fstype",
        |b| {
            b.add_mount(json!({"destination": "/x", "type": "nosuchfs", "source": "none"}));
        },
        &["mounts["],
    ),
    (
        "mount-bad-option",
        |b| {
            b.add_mount(
                json!({"destination": "/x", "type": "tmpfs", "source": "tmpfs",
                           "options": ["size=bogus"]}),
            );
        },
        &["mounts["],
    ),
    (
        "mount-file-onto-dir",
        |b| {
            let f = write_file(&b.host_dir().join("file"), "x");
            b.add_mount(bind_mount(&f, "/bin", &["bind"]));
        },
        &["mounts["],
    ),
    // cgroup writes
    (
        "cgroup-cpuset-cpus",
        |b| {
            b.config_mut()["linux"]["resources"]["cpu"] = json!({"cpus": "999"});
        },
        &["cpu"],
    ),
    (
        "cgroup-cpuset-mems",
        |b| {
            b.config_mut()["linux"]["resources"]["cpu"] = json!({"mems": "63"});
        },
        &["mems", "cpu"],
    ),
    // hooks, each kind that runs during create
    (
        "hook-createRuntime-fails",
        |b| {
            b.add_hook("createRuntime", sh_hook("exit 3", None));
        },
        &["createRuntime"],
    ),
    (
        "hook-prestart-fails",
        |b| {
            b.add_hook("prestart", sh_hook("exit 3", None));
        },
        &["prestart"],
    ),
    (
        "hook-createContainer-fails",
        |b| {
            b.add_hook("createContainer", sh_hook("exit 3", None));
        },
        &["createContainer"],
    ),
    (
        "hook-prestart-times-out",
        |b| {
            b.add_hook("prestart", sh_hook("sleep 30", Some(1)));
        },
        &["prestart"],
    ),
    (
        "hook-missing-binary",
        |b| {
            b.add_hook("createRuntime", json!({"path": "/no/such/hook"}));
        },
        &["createRuntime"],
    ),
    // namespaces given by a bad path
    (
        "ns-pid-missing-path",
        |b| {
            b.set_namespace("pid", Some("/no/such/ns"));
        },
        &["pid"],
    ),
    (
        "ns-net-missing-path",
        |b| {
            b.set_namespace("network", Some("/no/such/ns"));
        },
        &["network"],
    ),
    (
        "ns-ipc-not-a-ns",
        |b| {
            b.set_namespace("ipc", Some("/etc/hostname"));
        },
        &["ipc"],
    ),
    (
        "ns-uts-not-a-ns",
        |b| {
            // Without a hostname, which needs a uts namespace of its own.
            b.config_mut().as_object_mut().unwrap().remove("hostname");
            b.set_namespace("uts", Some("/etc/hostname"));
        },
        &["uts"],
    ),
    (
        "ns-mount-not-a-ns",
        |b| {
            b.set_namespace("mount", Some("/etc/hostname"));
        },
        &["mount"],
    ),
    (
        "ns-cgroup-missing-path",
        |b| {
            b.set_namespace("cgroup", Some("/no/such/ns"));
        },
        &["cgroup"],
    ),
    (
        "ns-time-not-a-ns",
        |b| {
            b.set_namespace("time", Some("/etc/hostname"));
        },
        &["time"],
    ),
    (
        "ns-user-missing-path",
        |b| {
            b.set_namespace("user", Some("/no/such/ns"));
        },
        &["user"],
    ),
    // id mappings (overlapping ranges: the kernel refuses the map)
    (
        "uid-map-overlapping",
        |b| {
            b.set_namespace("user", None);
            let c = b.config_mut();
            c["linux"]["uidMappings"] = json!([
            {"containerID": 0, "hostID": 100000, "size": 1000},
            {"containerID": 10, "hostID": 300000, "size": 10}]);
            c["linux"]["gidMappings"] =
                json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        },
        &["uidMappings"],
    ),
    (
        "gid-map-overlapping",
        |b| {
            b.set_namespace("user", None);
            let c = b.config_mut();
            c["linux"]["uidMappings"] =
                json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            c["linux"]["gidMappings"] = json!([
            {"containerID": 0, "hostID": 100000, "size": 1000},
            {"containerID": 10, "hostID": 300000, "size": 10}]);
        },
        &["gidMappings"],
    ),
    // devices
    (
        "device-under-a-file",
        |b| {
            b.config_mut()["linux"]["devices"] = json!([
            {"path": "/dev/null/x", "type": "c", "major": 1, "minor": 3}]);
        },
        &["devices"],
    ),
    // sysctl
    (
        "sysctl-unknown-key",
        |b| {
            b.config_mut()["linux"]["sysctl"] = json!({"kernel.no_such_sysctl_husk": "1"});
        },
        &["linux.sysctl.kernel.no_such_sysctl_husk"],
    ),
    // rlimits
    (
        "rlimit-soft-above-hard",
        |b| {
            b.config_mut()["process"]["rlimits"] = json!([
            {"type": "RLIMIT_NOFILE", "soft": 4096, "hard": 1024}]);
        },
        &["RLIMIT_NOFILE", "rlimits"],
    ),
    (
        "rlimit-above-nr-open",
        |b| {
            // Valid config, refused by setrlimit (above fs.nr_open).
            b.config_mut()["process"]["rlimits"] = json!([
                {"type": "RLIMIT_NOFILE", "soft": 1u64 << 40, "hard": 1u64 << 40}]);
        },
        &["RLIMIT_NOFILE", "rlimits"],
    ),
    // cwd
    (
        "cwd-is-a-file",
        |b| {
            b.config_mut()["process"]["cwd"] = json!("/bin/busybox");
        },
        &["cwd"],
    ),
    // executable
    (
        "executable-not-executable",
        |b| {
            b.set_args(&["/etc/passwd"]);
        },
        &["/etc/passwd"],
    ),
    (
        "executable-is-a-directory",
        |b| {
            b.set_args(&["/bin"]);
        },
        &["/bin"],
    ),
];

#[test]
fn every_create_step_fails_cleanly() {
    let mut unexpected = Vec::new();
    for (name, setup, mentions) in CREATE_FAULTS {
        let mut b = Bundle::new(&format!("fault-{name}"), &["true"]);
        setup(&mut b);
        let out = b.create();
        if out.success() {
            unexpected.push(format!("{name}: create succeeded\n{}", out.describe()));
            let _ = b.delete_force();
        } else if is_runc() {
            out.failed_with_message();
        } else {
            out.failed_with_one_line().stderr_mentions_any(mentions);
            eprintln!("{name}: {}", out.stderr.trim());
        }
        b.runtime().assert_gone(b.id());
        assert_no_leftovers(&b, b.id());
    }
    assert!(
        unexpected.is_empty(),
        "faults that did not make create fail:\n{}",
        unexpected.join("\n")
    );
}

/// A startContainer hook that fails: `start` fails (husk), the container stops,
/// and delete leaves nothing.
#[test]
fn failing_start_container_hook_is_cleaned_by_delete() {
    let mut b = Bundle::new("fault-startContainer", &["sleep", "30"]);
    b.add_hook("startContainer", sh_hook("exit 3", None));
    b.create().ok();
    let out = b.start();
    // runc 1.1.5's start only signals the init and exits 0; the hook's
    // failure then ends the container.
    if !is_runc() {
        out.failed_with_message();
    }
    b.wait_for_status("stopped");
    b.delete().ok();
    b.runtime().assert_gone(b.id());
    assert_no_leftovers(&b, b.id());
}

// ---------------------------------------------------------------------------
// SIGKILL during create, then delete --force

/// Starts `create` for `id` and returns the child (the husk process).
fn spawn_create(b: &Bundle, id: &str) -> std::process::Child {
    b.save_for(id);
    let mut cmd = b
        .runtime()
        .command(&["create", "--bundle", b.path_str(), id]);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    cmd.spawn().expect("spawn create")
}

/// After a SIGKILLed create: `delete --force` succeeds (or says the id does
/// not exist, when the kill came before the state directory), and nothing
/// is left.
#[track_caller]
fn force_delete_cleans(b: &Bundle, id: &str, what: &str) {
    let out = b.runtime().exec(&["delete", "--force", id]);
    if !out.success() {
        assert!(
            b.runtime().root().join(id).symlink_metadata().is_err(),
            "{what}: delete --force failed and the state dir remains\n{}",
            out.describe()
        );
    }
    b.runtime().assert_gone(id);
    assert_no_leftovers(b, id);
}

/// Kills the hook processes recorded in `pidfile` (host processes that
/// husk started: orphaned when husk is killed, which no runtime can undo).
fn kill_recorded(pidfile: &Path) {
    if let Ok(s) = fs::read_to_string(pidfile) {
        for pid in s.split_whitespace().filter_map(|p| p.parse::<i32>().ok()) {
            // SAFETY: kill takes two integers and touches no memory of ours.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// husk is SIGKILLed while each create hook kind blocks (the hook marks
/// that it runs, then sleeps): the init and its cgroup exist, the state
/// says "creating". `delete --force` must clean up everything.
#[test]
fn sigkill_during_a_blocking_hook_then_delete_force() {
    if skip_under_runc(
        "sigkill_during_a_blocking_hook_then_delete_force",
        "runc 1.1.5 leaves the container's cgroups behind after a SIGKILLed create and delete --force",
    ) {
        return;
    }
    for kind in ["createRuntime", "prestart", "createContainer"] {
        let mut b = Bundle::new(&format!("kill-in-{kind}"), &["sleep", "30"]);
        let marker = b.host_dir().join("hook-ran");
        let pids = b.host_dir().join("hook-pids");
        let script = format!(
            "echo $$ >> {p}; touch {m}; exec sleep 30",
            p = pids.display(),
            m = marker.display()
        );
        b.add_hook(kind, sh_hook(&script, None));
        let mut child = spawn_create(&b, b.id());
        let ran = poll(|| marker.exists().then_some(()));
        // SAFETY: kill takes two integers; the group is the child's own.
        unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
        let _ = child.wait();
        kill_recorded(&pids);
        assert!(ran.is_some(), "{kind} hook never ran");
        force_delete_cleans(&b, b.id(), &format!("killed in {kind}"));
    }
}

/// husk SIGKILLed after a varied delay, landing at different points of
/// create (before the state dir, during the chain, mounts, cgroup setup,
/// after create returned): `delete --force` cleans up every time.
#[test]
fn sigkill_at_varied_points_of_create_then_delete_force() {
    if skip_under_runc(
        "sigkill_at_varied_points_of_create_then_delete_force",
        "runc 1.1.5 leaves the container's cgroups behind after a SIGKILLed create and delete --force",
    ) {
        return;
    }
    let b = Bundle::new("kill-varied", &["sleep", "30"]);
    let mut outcomes = Vec::new();
    for (i, delay_us) in [
        0u64, 500, 1000, 2000, 3000, 5000, 8000, 12000, 20000, 40000, 80000,
    ]
    .iter()
    .enumerate()
    {
        let id = format!("{}-{i}", b.id());
        let mut child = spawn_create(&b, &id);
        std::thread::sleep(Duration::from_micros(*delay_us));
        // The whole group: husk and, when the kill lands between fork
        // and setsid, a chain process still in it (SIGKILL to husk alone
        // leaves those to the init's own death-handling).
        // SAFETY: kill takes two integers; the group is the child's own.
        unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
        let st = child.wait().unwrap();
        let state_dir = b.runtime().root().join(&id).exists();
        outcomes.push(format!(
            "{delay_us}us: {} state_dir={state_dir}",
            if st.success() {
                "create finished"
            } else {
                "killed"
            }
        ));
        force_delete_cleans(&b, &id, &format!("killed after {delay_us}us"));
    }
    eprintln!("{}", outcomes.join("\n"));
}

/// Only the husk process is killed (not its group): the chain processes
/// must not outlive it holding the container half made.
#[test]
fn sigkill_of_husk_alone_then_delete_force() {
    if skip_under_runc(
        "sigkill_of_husk_alone_then_delete_force",
        "runc 1.1.5 leaves the container's cgroups behind after a SIGKILLed create and delete --force",
    ) {
        return;
    }
    let b = Bundle::new("kill-husk-only", &["sleep", "30"]);
    for (i, delay_ms) in [1u64, 3, 6, 10, 20].iter().enumerate() {
        let id = format!("{}-{i}", b.id());
        let mut child = spawn_create(&b, &id);
        std::thread::sleep(Duration::from_millis(*delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        force_delete_cleans(&b, &id, &format!("husk alone killed after {delay_ms}ms"));
    }
}
