//! `checkpoint` / `restore` with a real CRIU. CRIU 3.17 cannot initialise
//! on every kernel (on this project's 6.18 development host `criu check`
//! fails in its vdso parser); there the tests print SKIP with the reason.
//! They run in the cgroup-v2 VM (`make test-v2`, Debian's 6.1 kernel),
//! where `criu check` passes.

use husk_integration::*;
use serde_json::json;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Why CRIU cannot be used here, if it cannot.
fn criu_missing() -> Option<String> {
    static WHY: OnceLock<Option<String>> = OnceLock::new();
    WHY.get_or_init(|| match Command::new("criu").arg("check").output() {
        Err(e) => Some(format!("criu not runnable: {e}")),
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!(
            "`criu check` fails here: {}",
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .find(|l| l.contains("Error"))
                .unwrap_or("(no error line)")
                .trim()
        )),
    })
    .clone()
}

macro_rules! need_criu {
    ($name:expr) => {
        if let Some(why) = criu_missing() {
            eprintln!("SKIP {}: {why}", $name);
            return;
        }
    };
}

/// A counter in the shell's memory, written to FILE every 100 ms; stdio on
/// the container's own /dev/null (a file of the host would be a path CRIU
/// cannot reach from the container's mounts).
fn counter(file: &str) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        format!(
            "exec </dev/null >/dev/null 2>&1; i=0; while :; do i=$((i+1)); echo $i > {file}; sleep 0.1; done"
        ),
    ]
}

fn counter_bundle(name: &str) -> Bundle {
    let args = counter("/count");
    let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let mut b = Bundle::new(name, &args);
    b.edit(|c| c["root"]["readonly"] = json!(false));
    b.save();
    b
}

fn read_count(p: &Path) -> u64 {
    fs::read_to_string(p)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// Waits until the counter at `p` exceeds `n`; returns the first value seen
/// above it.
#[track_caller]
fn count_past(p: &Path, n: u64) -> u64 {
    poll(|| Some(read_count(p)).filter(|v| *v > n))
        .unwrap_or_else(|| panic!("the counter at {} never went past {n}", p.display()))
}

fn image(b: &Bundle, name: &str) -> PathBuf {
    b.host_dir().join(name)
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The counter keeps counting from where it was: restored, not restarted.
#[track_caller]
fn assert_continues(count: &Path, before: u64) {
    let after = count_past(count, before);
    assert!(
        after > before && after < before + 20,
        "after restore the counter went from {before} to {after}: restarted, not restored"
    );
}

#[test]
fn checkpoint_then_restore_keeps_counting() {
    need_criu!("checkpoint_then_restore_keeps_counting");
    let mut b = counter_bundle("cr-count");
    b.edit(|c| {
        c["linux"]["resources"]["memory"] = json!({"limit": 64 << 20});
        c["linux"]["resources"]["pids"] = json!({"limit": 77});
    });
    b.save();
    let id = b.id();
    let count = b.rootfs().join("count");
    b.create_and_start();
    count_past(&count, 3);
    let img = image(&b, "img");
    b.runtime()
        .exec(&["checkpoint", "--image-path", path(&img), id])
        .ok();
    // As runc: the checkpointed container is gone, its processes with it.
    b.runtime().assert_gone(id);
    let before = read_count(&count);
    assert!(
        b.processes_in_rootfs().is_empty(),
        "processes left after checkpoint: {:?}",
        b.processes_in_rootfs()
    );
    assert!(
        img.join("descriptors.json").is_file(),
        "no descriptors.json"
    );

    b.runtime()
        .exec(&[
            "restore",
            "-d",
            "--image-path",
            path(&img),
            "--bundle",
            b.path_str(),
            id,
        ])
        .ok();
    let st = b.state();
    assert_eq!(st["status"], "running", "state after restore: {st}");
    let pid = st["pid"].as_i64().unwrap_or(0);
    assert!(pid > 0, "state after restore has no pid: {st}");
    assert_continues(&count, before);
    // The cgroup limits are the config's again (v2 layout, or v1's).
    let out = b.runtime().exec(&[
        "exec",
        id,
        "sh",
        "-c",
        "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes; \
         cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max",
    ]);
    out.ok();
    assert_eq!(
        out.stdout.split_whitespace().collect::<Vec<_>>(),
        ["67108864", "77"],
        "limits after restore"
    );

    // The usual verbs work on the restored container.
    let out = b.runtime().exec(&["exec", id, "sh", "-c", "echo in-exec"]);
    out.ok();
    assert_eq!(out.stdout.trim(), "in-exec");
    b.runtime().exec(&["pause", id]).ok();
    assert_eq!(b.status(), "paused");
    b.runtime().exec(&["resume", id]).ok();
    assert_eq!(b.status(), "running");
    b.stop_and_delete();
    assert_no_leftovers(&b, id);
}

#[test]
fn leave_running_then_restore_as_another_id() {
    need_criu!("leave_running_then_restore_as_another_id");
    let b = counter_bundle("cr-leave");
    let id = b.id();
    let count = b.rootfs().join("count");
    b.create_and_start();
    count_past(&count, 3);
    let img = image(&b, "img");
    b.runtime()
        .exec(&[
            "checkpoint",
            "--leave-running",
            "--image-path",
            path(&img),
            id,
        ])
        .ok();
    assert_eq!(
        b.status(),
        "running",
        "--leave-running stopped the container"
    );
    let n = read_count(&count);
    count_past(&count, n);
    b.stop_and_delete();
    let before = read_count(&count);

    let other = format!("{id}-again");
    b.runtime()
        .exec(&[
            "restore",
            "-d",
            "--image-path",
            path(&img),
            "--bundle",
            b.path_str(),
            &other,
        ])
        .ok();
    assert_eq!(b.runtime().status(&other), "running");
    // From the state it had at the checkpoint, which is before `before`.
    let after = count_past(&count, 0);
    assert!(
        after <= before,
        "restored from the image, the counter should start below {before}, not at {after}"
    );
    b.runtime().exec(&["delete", "--force", &other]).ok();
    b.runtime().assert_gone(&other);
    assert_no_leftovers(&b, &other);
}

#[test]
fn pre_dump_then_final_dump() {
    need_criu!("pre_dump_then_final_dump");
    let b = counter_bundle("cr-predump");
    let id = b.id();
    let count = b.rootfs().join("count");
    b.create_and_start();
    count_past(&count, 3);
    let pre = image(&b, "pre");
    let fin = image(&b, "final");
    b.runtime()
        .exec(&["checkpoint", "--pre-dump", "--image-path", path(&pre), id])
        .ok();
    assert_eq!(
        b.status(),
        "running",
        "a pre-dump leaves the container running"
    );
    assert!(pre.join("pagemap-1.img").exists() || fs::read_dir(&pre).unwrap().count() > 1);
    b.runtime()
        .exec(&[
            "checkpoint",
            "--image-path",
            path(&fin),
            "--parent-path",
            "../pre",
            id,
        ])
        .ok();
    b.runtime().assert_gone(id);
    let before = read_count(&count);
    b.runtime()
        .exec(&[
            "restore",
            "-d",
            "--image-path",
            path(&fin),
            "--bundle",
            b.path_str(),
            id,
        ])
        .ok();
    assert_continues(&count, before);
    b.stop_and_delete();
    assert_no_leftovers(&b, id);
}

#[test]
fn bind_mounts_and_masked_paths_come_back() {
    need_criu!("bind_mounts_and_masked_paths_come_back");
    let args = counter("/data/count");
    let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let mut b = Bundle::new("cr-binds", &args);
    let data = b.host_dir().join("data");
    fs::create_dir_all(&data).unwrap();
    b.add_mount(json!({
        "destination": "/data", "type": "bind", "source": path(&data),
        "options": ["rbind", "rw"]
    }));
    b.save();
    let id = b.id().to_string();
    let count = data.join("count");
    b.create_and_start();
    count_past(&count, 3);
    let img = image(&b, "img");
    b.runtime()
        .exec(&["checkpoint", "--image-path", path(&img), &id])
        .ok();
    let before = read_count(&count);
    b.runtime()
        .exec(&[
            "restore",
            "-d",
            "--image-path",
            path(&img),
            "--bundle",
            b.path_str(),
            &id,
        ])
        .ok();
    // The bind is the host's directory again: the counter lands there.
    assert_continues(&count, before);
    let out = b.runtime().exec(&[
        "exec",
        &id,
        "sh",
        "-c",
        "wc -c < /proc/kcore; touch /data/from-exec && echo wrote",
    ]);
    out.ok();
    assert_eq!(
        out.stdout.split_whitespace().collect::<Vec<_>>(),
        ["0", "wrote"],
        "/proc/kcore masked and /data the host's dir after restore"
    );
    assert!(
        data.join("from-exec").exists(),
        "/data is not the host's directory"
    );
    b.stop_and_delete();
    assert_no_leftovers(&b, &id);
}

#[test]
fn terminal_comes_back_through_the_console_socket() {
    need_criu!("terminal_comes_back_through_the_console_socket");
    let mut b = Bundle::new(
        "cr-tty",
        &[
            "sh",
            "-c",
            "i=0; while :; do i=$((i+1)); echo tick-$i; sleep 0.2; done",
        ],
    );
    b.config_mut()["process"]["terminal"] = json!(true);
    b.save();
    let id = b.id().to_string();
    let sock = b.host_dir().join("console.sock");
    let receiver = console_receiver(&sock);
    b.create_as(&id, &["--console-socket", path(&sock)]).ok();
    let master = receiver.join().unwrap().unwrap();
    b.start().ok();
    // Keep the master open (the pty stays the container's) until the dump.
    let first = read_until_keep(&master, "tick-3");
    assert!(first.contains("tick-3"));
    let img = image(&b, "img");
    b.runtime()
        .exec(&["checkpoint", "--image-path", path(&img), &id])
        .ok();
    drop(master);
    let sock2 = b.host_dir().join("console2.sock");
    let receiver = console_receiver(&sock2);
    b.runtime()
        .exec(&[
            "restore",
            "-d",
            "--image-path",
            path(&img),
            "--bundle",
            b.path_str(),
            "--console-socket",
            path(&sock2),
            &id,
        ])
        .ok();
    let master = receiver
        .join()
        .unwrap()
        .unwrap_or_else(|e| panic!("restore sent no pty master: {e}"));
    let text = read_until(master, "tick-");
    let n: u64 = text
        .split("tick-")
        .filter_map(|s| s.split_whitespace().next()?.parse().ok())
        .next()
        .unwrap_or(0);
    assert!(
        n > 3,
        "after restore the ticks should go on past 3: {text:?}"
    );
    b.stop_and_delete();
    assert_no_leftovers(&b, &id);
}

/// `read_until` without giving the master up.
fn read_until_keep(master: &std::os::fd::OwnedFd, marker: &str) -> String {
    read_until(master.try_clone().unwrap(), marker)
}

#[test]
fn failed_restore_leaves_nothing() {
    need_criu!("failed_restore_leaves_nothing");
    let b = counter_bundle("cr-fail");
    let id = b.id();
    // Not an image at all: refused before anything is made.
    let empty = image(&b, "empty");
    fs::create_dir_all(&empty).unwrap();
    b.runtime()
        .exec(&[
            "restore",
            "-d",
            "--image-path",
            path(&empty),
            "--bundle",
            b.path_str(),
            id,
        ])
        .failed_with_one_line()
        .stderr_mentions_any(&["not a checkpoint image"]);
    b.runtime().assert_gone(id);

    // An image CRIU fails on half way (its page data removed).
    let count = b.rootfs().join("count");
    b.create_and_start();
    count_past(&count, 3);
    let img = image(&b, "img");
    b.runtime()
        .exec(&["checkpoint", "--image-path", path(&img), id])
        .ok();
    for e in fs::read_dir(&img).unwrap().flatten() {
        if e.file_name().to_string_lossy().starts_with("pages-") {
            fs::remove_file(e.path()).unwrap();
        }
    }
    b.runtime()
        .exec(&[
            "restore",
            "-d",
            "--image-path",
            path(&img),
            "--bundle",
            b.path_str(),
            id,
        ])
        .failed_with_message()
        .stderr_mentions_any(&["criu restore failed"]);
    b.runtime().assert_gone(id);
    assert!(
        b.processes_in_rootfs().is_empty(),
        "processes left by a failed restore: {:?}",
        b.processes_in_rootfs()
    );
    assert_no_leftovers(&b, id);
}

/// Runs with or without a working CRIU: the status is checked first.
#[test]
fn checkpoint_needs_a_running_container() {
    let b = counter_bundle("cr-created");
    let id = b.id();
    b.create().ok();
    let img = image(&b, "img");
    b.runtime()
        .exec(&["checkpoint", "--image-path", path(&img), id])
        .failed_with_one_line()
        .stderr_mentions_any(&["created"]);
    assert_eq!(
        b.status(),
        "created",
        "a refused checkpoint changed the container"
    );
    b.delete().ok();
}

/// A checkpoint that fails (here: a page server nobody listens on; or a
/// CRIU that cannot run on this kernel) leaves the container running.
#[test]
fn failed_checkpoint_leaves_the_container_running() {
    if Command::new("criu").arg("--version").output().is_err() {
        eprintln!("SKIP failed_checkpoint_leaves_the_container_running: no criu");
        return;
    }
    let b = counter_bundle("cr-ckfail");
    let id = b.id();
    let count = b.rootfs().join("count");
    b.create_and_start();
    count_past(&count, 1);
    let img = image(&b, "img");
    b.runtime()
        .exec(&[
            "checkpoint",
            "--page-server",
            "127.0.0.1:1",
            "--image-path",
            path(&img),
            id,
        ])
        .failed_with_one_line()
        .stderr_mentions_any(&["criu"]);
    assert_eq!(
        b.status(),
        "running",
        "a failed checkpoint stopped the container"
    );
    let n = read_count(&count);
    count_past(&count, n);
    b.stop_and_delete();
    assert_no_leftovers(&b, id);
}

#[test]
fn features_say_whether_checkpoint_works_here() {
    if skip_under_runc(
        "features_say_whether_checkpoint_works_here",
        "runc reports checkpoint support whenever it was built with it",
    ) {
        return;
    }
    let b = Bundle::new("cr-features", &["true"]);
    let out = b.runtime().exec(&["features"]);
    out.ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let got = &v["annotations"]["org.opencontainers.runtime-spec.features.husk.checkpoint.enabled"];
    let want = if criu_missing().is_none() {
        "true"
    } else {
        "false"
    };
    assert_eq!(
        got,
        want,
        "features' checkpoint annotation ({:?})",
        criu_missing()
    );
}

/// An established TCP connection inside the container (a client streaming
/// to a server over lo) survives with --tcp-established.
#[test]
fn established_tcp_connection_survives() {
    need_criu!("established_tcp_connection_survives");
    let mut b = Bundle::new(
        "cr-tcp",
        &[
            "sh",
            "-c",
            "exec </dev/null >/dev/null 2>&1; sleep 100000 | nc -l -p 5000 > /recv & sleep 0.5; \
             i=0; while :; do i=$((i+1)); echo $i; sleep 0.1; done | nc 127.0.0.1 5000",
        ],
    );
    b.edit(|c| c["root"]["readonly"] = json!(false));
    b.save();
    let id = b.id().to_string();
    let recv = b.rootfs().join("recv");
    let last = |p: &Path| -> u64 {
        fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .last()
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or(0)
    };
    b.create_and_start();
    poll(|| (last(&recv) > 3).then_some(())).unwrap_or_else(|| {
        panic!(
            "the server never received data: {:?}",
            fs::read_to_string(&recv)
        )
    });
    let img = image(&b, "img");
    // Without the flag CRIU refuses the established connection.
    b.runtime()
        .exec(&["checkpoint", "--image-path", path(&img), &id])
        .failed_with_one_line();
    assert_eq!(
        b.status(),
        "running",
        "a refused checkpoint stopped the container"
    );
    b.runtime()
        .exec(&[
            "checkpoint",
            "--tcp-established",
            "--image-path",
            path(&img),
            &id,
        ])
        .ok();
    let before = last(&recv);
    b.runtime()
        .exec(&[
            "restore",
            "-d",
            "--tcp-established",
            "--image-path",
            path(&img),
            "--bundle",
            b.path_str(),
            &id,
        ])
        .ok();
    poll(|| (last(&recv) > before + 3).then_some(())).unwrap_or_else(|| {
        panic!(
            "no data over the restored connection (last {before}): {:?}",
            fs::read_to_string(&recv).unwrap_or_default().lines().last()
        )
    });
    b.stop_and_delete();
    assert_no_leftovers(&b, &id);
}

/// The init's stdout pipe of the checkpointed container becomes the
/// restore command's stdout (descriptors.json, inherit_fd), as engines
/// that log through pipes need.
#[test]
fn stdout_pipe_is_replumbed() {
    need_criu!("stdout_pipe_is_replumbed");
    use std::io::Read;
    use std::process::Stdio;
    let b = Bundle::new(
        "cr-pipe",
        &[
            "sh",
            "-c",
            "exec </dev/null 2>/dev/null; i=0; while :; do i=$((i+1)); echo line-$i; sleep 0.1; done",
        ],
    );
    let id = b.id().to_string();
    // Reads a pipe to its end in a thread: the end comes when every
    // writer (the container) is gone.
    let reader = |mut cmd: Command| {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut out = child.stdout.take().unwrap();
        let st = child.wait_with_output().unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        })
    };
    let first = reader(
        b.runtime()
            .command(&["run", "-d", "--bundle", b.path_str(), &id]),
    );
    b.wait_for_status("running");
    std::thread::sleep(std::time::Duration::from_millis(500));
    let img = image(&b, "img");
    b.runtime()
        .exec(&["checkpoint", "--image-path", path(&img), &id])
        .ok();
    let before = first.join().unwrap();
    let last_before: u64 = before
        .lines()
        .last()
        .and_then(|l| l.strip_prefix("line-")?.parse().ok())
        .unwrap_or_else(|| panic!("no output before the checkpoint: {before:?}"));
    let second = reader(b.runtime().command(&[
        "restore",
        "-d",
        "--image-path",
        path(&img),
        "--bundle",
        b.path_str(),
        &id,
    ]));
    std::thread::sleep(std::time::Duration::from_millis(500));
    b.stop_and_delete();
    let after = second.join().unwrap();
    let first_after: u64 = after
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("line-")?.parse().ok())
        .unwrap_or_else(|| {
            panic!("the restored container wrote nothing to the new pipe: {after:?}")
        });
    assert!(
        first_after > last_before && first_after < last_before + 20,
        "the restored counter should go on after line-{last_before}, its first line is line-{first_after}"
    );
    assert_no_leftovers(&b, &id);
}

/// A rootfs unpacked afresh (podman's `restore --import`) lacks the mount
/// points create made in it: restore makes them (here a file bind's).
#[test]
fn restore_makes_missing_mount_points() {
    need_criu!("restore_makes_missing_mount_points");
    let args = counter("/count");
    let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let mut b = Bundle::new("cr-points", &args);
    let src = b.host_dir().join("greeting");
    fs::write(&src, "hello\n").unwrap();
    b.edit(|c| c["root"]["readonly"] = json!(false));
    b.add_mount(json!({
        "destination": "/etc/greeting", "type": "bind", "source": path(&src),
        "options": ["bind", "ro"]
    }));
    b.save();
    let id = b.id().to_string();
    let count = b.rootfs().join("count");
    b.create_and_start();
    count_past(&count, 3);
    let img = image(&b, "img");
    b.runtime()
        .exec(&["checkpoint", "--image-path", path(&img), &id])
        .ok();
    let point = b.rootfs().join("etc/greeting");
    fs::remove_file(&point).expect("the mount point create made");
    b.runtime()
        .exec(&[
            "restore",
            "-d",
            "--image-path",
            path(&img),
            "--bundle",
            b.path_str(),
            &id,
        ])
        .ok();
    let out = b.runtime().exec(&["exec", &id, "cat", "/etc/greeting"]);
    out.ok();
    assert_eq!(out.stdout.trim(), "hello");
    b.stop_and_delete();
    assert_no_leftovers(&b, &id);
}

/// husk killed in the middle of a restore (an engine's timeout, the OOM
/// killer) leaves its bind of the rootfs below the state directory: the
/// `delete --force` that follows must detach it, not empty the rootfs
/// through it.
#[test]
fn killed_restore_leaves_no_mount_and_delete_keeps_the_rootfs() {
    need_criu!("killed_restore_leaves_no_mount_and_delete_keeps_the_rootfs");
    let mut b = counter_bundle("cr-killed");
    let id = b.id().to_string();
    let count = b.rootfs().join("count");
    b.create_and_start();
    count_past(&count, 3);
    let img = image(&b, "img");
    b.runtime()
        .exec(&["checkpoint", "--image-path", path(&img), &id])
        .ok();
    // A prestart hook holds the restore at CRIU's setup-namespaces.
    let started = b.host_dir().join("hook-started");
    b.add_hook(
        "prestart",
        json!({"path": "/bin/sh", "args": ["sh", "-c",
            format!("touch {}; sleep 30", path(&started))]}),
    );
    b.save();
    let mut child = b
        .runtime()
        .command(&[
            "restore",
            "-d",
            "--image-path",
            path(&img),
            "--bundle",
            b.path_str(),
            &id,
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    poll(|| started.exists().then_some(()))
        .unwrap_or_else(|| panic!("the prestart hook never ran"));
    let _ = child.kill();
    let _ = child.wait();
    b.runtime().exec(&["delete", "--force", &id]).ok();
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(b.runtime().root().to_str().unwrap()),
        "mounts left below the state root after delete:\n{}",
        mounts
            .lines()
            .filter(|l| l.contains("criu-root"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        b.rootfs().join("bin/busybox").exists(),
        "delete --force after a killed restore removed the rootfs's contents"
    );
    // The hook's sleep (husk's orphan) goes with the test's cleanup.
    let _ = Command::new("pkill").args(["-f", path(&started)]).status();
}
