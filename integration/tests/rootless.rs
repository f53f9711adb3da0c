//! Rootless: the runtime run by a real unprivileged user (created here if
//! missing) on a bundle from `spec --rootless`, with its state under
//! `$XDG_RUNTIME_DIR`, no cgroup, its own id mapped directly and subordinate
//! ranges through newuidmap/newgidmap.

use husk_integration::*;
use serde_json::{json, Value};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const USER: &str = "husk-rootless";

/// The test user's uid and gid, created (with /etc/subuid and /etc/subgid
/// ranges, as useradd gives a regular user) if missing.
fn test_user() -> Option<(u32, u32)> {
    let lookup = || -> Option<(u32, u32)> {
        let out = Command::new("id").args(["-u", USER]).output().ok()?;
        let uid = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
        let out = Command::new("id").args(["-g", USER]).output().ok()?;
        let gid = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
        Some((uid, gid))
    };
    if lookup().is_none() {
        // Concurrent tests may race to create it; one wins.
        let _ = Command::new("useradd")
            .args(["--create-home", "--shell", "/bin/sh", USER])
            .status();
    }
    let ids = lookup();
    if ids.is_none() {
        eprintln!("SKIP: cannot create the test user {USER} (useradd)");
    }
    ids
}

/// The user's first subordinate range in /etc/subuid or /etc/subgid.
fn sub_range(file: &str) -> Option<(u32, u32)> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() == 3 && f[0] == USER).then(|| Some((f[1].parse().ok()?, f[2].parse().ok()?)))?
    })
}

struct Rootless {
    uid: u32,
    gid: u32,
    xdg: PathBuf,
    bundle: PathBuf,
}

impl Rootless {
    /// A bundle directory the user owns, with `spec --rootless` written by
    /// the user, root.path pointing at `b`'s rootfs and `args` to run.
    fn new(b: &Bundle, args: &[&str]) -> Option<Rootless> {
        let (uid, gid) = test_user()?;
        let xdg = b.dir().join("xdg");
        let bundle = b.dir().join("rootless-bundle");
        for d in [&xdg, &bundle] {
            std::fs::create_dir_all(d).unwrap();
            std::os::unix::fs::chown(d, Some(uid), Some(gid)).unwrap();
        }
        std::fs::set_permissions(&xdg, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        let r = Rootless {
            uid,
            gid,
            xdg,
            bundle,
        };
        let bundle_arg = r.bundle.to_str().unwrap().to_string();
        r.run_as_user(b, &["spec", "--rootless", "--bundle", &bundle_arg])
            .ok();
        r.edit(|c| {
            c["root"]["path"] = json!(b.rootfs());
            c["process"]["terminal"] = json!(false);
            c["process"]["args"] = json!(args);
        });
        Some(r)
    }

    fn edit(&self, f: impl FnOnce(&mut Value)) {
        let p = self.bundle.join("config.json");
        let mut c: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        f(&mut c);
        std::fs::write(&p, serde_json::to_vec_pretty(&c).unwrap()).unwrap();
    }

    /// The runtime as the user, without --root, from the bundle directory.
    fn run_as_user(&self, b: &Bundle, args: &[&str]) -> Output {
        self.run_bin_as_user(b.runtime().bin(), b, args)
    }

    /// The same with another runtime binary.
    fn run_bin_as_user(&self, bin: &Path, b: &Bundle, args: &[&str]) -> Output {
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .current_dir(&self.bundle)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("HOME", &self.xdg)
            .env("XDG_RUNTIME_DIR", &self.xdg)
            .uid(self.uid)
            .gid(self.gid);
        b.runtime().spawn(cmd, None)
    }

    /// Where the runtime keeps its state for this user.
    fn state_root(&self) -> PathBuf {
        self.xdg.join(runtime_name())
    }

    #[track_caller]
    fn assert_clean(&self, b: &Bundle, id: &str) {
        let dir = self.state_root().join(id);
        assert!(!dir.exists(), "state directory {} left", dir.display());
        assert!(b.processes_in_rootfs().is_empty(), "processes left");
        assert!(mounts_under(b.dir()).is_empty(), "mounts left");
        assert!(cgroup_dirs(id).is_empty(), "cgroups left");
    }
}

#[test]
fn spec_rootless_runs_as_an_unprivileged_user() {
    let b = Bundle::new("rootless-run", &["true"]);
    let Some(r) = Rootless::new(&b, &["sh", "-c", "id; cat /proc/self/uid_map"]) else {
        return;
    };
    let id = b.id().to_string();
    let out = r.run_as_user(&b, &["run", &id]);
    out.ok();
    assert!(out.stdout.contains("uid=0(root)"), "{}", out.describe());
    // The namespace's root is the user outside, one id.
    assert_eq!(
        squash_ws(out.stdout.lines().nth(1).unwrap_or("")),
        format!("0 {} 1", r.uid)
    );
    r.assert_clean(&b, &id);
}

/// runtimetest checks the whole rootless config from inside: the user
/// namespace and its maps, proc, sysfs (bound), mqueue, devices bound
/// from the host since mknod is not allowed, masked and read-only paths.
#[test]
fn rootless_config_is_applied() {
    let mut b = Bundle::new("rootless-check", &["true"]);
    if !b.use_runtimetest() {
        return;
    }
    let Some(r) = Rootless::new(&b, &["/bin/runtimetest"]) else {
        return;
    };
    let config = std::fs::read(r.bundle.join("config.json")).unwrap();
    std::fs::write(b.rootfs().join("runtimetest.json"), config).unwrap();
    let id = b.id().to_string();
    let out = r.run_as_user(&b, &["run", &id]);
    assert!(
        out.success() && out.stdout.contains("all checks passed"),
        "runtimetest as the rootless container's process\n{}",
        out.describe()
    );
    r.assert_clean(&b, &id);
}

#[test]
fn rootless_lifecycle_keeps_state_under_xdg_runtime_dir() {
    let b = Bundle::new("rootless-life", &["true"]);
    let Some(r) = Rootless::new(&b, &["sleep", "100"]) else {
        return;
    };
    let id = b.id().to_string();
    r.run_as_user(&b, &["create", &id]).ok();
    assert!(
        r.state_root().join(&id).is_dir(),
        "state under $XDG_RUNTIME_DIR/{}",
        runtime_name()
    );
    r.run_as_user(&b, &["start", &id]).ok();
    let state: Value =
        serde_json::from_str(&r.run_as_user(&b, &["state", &id]).ok().stdout).expect("state JSON");
    assert_eq!(state["status"], "running");
    let out = r.run_as_user(&b, &["exec", &id, "id", "-u"]);
    assert_eq!(out.ok().stdout.trim(), "0");
    let list = r.run_as_user(&b, &["list", "-q"]);
    assert!(list.ok().stdout.lines().any(|l| l == id));
    // No cgroup: ps finds the processes by the container's pid namespace.
    let state_pid = state["pid"].as_i64().unwrap().to_string();
    let ps = r.run_as_user(&b, &["ps", "--format", "json", &id]);
    let pids: Vec<i64> = serde_json::from_str(&ps.ok().stdout).expect("ps JSON");
    assert!(
        pids.iter().any(|p| p.to_string() == state_pid),
        "ps lists the init {state_pid}: {pids:?}"
    );
    r.run_as_user(&b, &["kill", &id, "KILL"]).ok();
    r.run_as_user(&b, &["delete", "--force", &id]).ok();
    r.assert_clean(&b, &id);
}

#[test]
fn rootless_subordinate_ranges_through_newuidmap() {
    let b = Bundle::new("rootless-subid", &["true"]);
    let Some(r) = Rootless::new(&b, &["sh", "-c", "id -u; id -G; cat /proc/self/uid_map"]) else {
        return;
    };
    let (Some((su, sn)), Some((sg, gn))) = (sub_range("/etc/subuid"), sub_range("/etc/subgid"))
    else {
        eprintln!("SKIP: {USER} has no subordinate ids");
        return;
    };
    if !Path::new("/usr/bin/newuidmap").exists() {
        eprintln!("SKIP: newuidmap missing (apt-get install uidmap)");
        return;
    }
    let (uid, gid) = (r.uid, r.gid);
    r.edit(|c| {
        c["linux"]["uidMappings"] = json!([
            {"containerID": 0, "hostID": uid, "size": 1},
            {"containerID": 1, "hostID": su, "size": sn.min(65536)},
        ]);
        c["linux"]["gidMappings"] = json!([
            {"containerID": 0, "hostID": gid, "size": 1},
            {"containerID": 1, "hostID": sg, "size": gn.min(65536)},
        ]);
        // runc 1.1.5 refuses any additional group when rootless; with
        // newgidmap setgroups is allowed, and husk sets them.
        let groups = if is_runc() { json!([]) } else { json!([5]) };
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": groups});
    });
    let id = b.id().to_string();
    let out = r.run_as_user(&b, &["run", &id]);
    out.ok();
    let lines: Vec<String> = out.stdout.lines().map(squash_ws).collect();
    assert_eq!(lines[0], "1000", "{}", out.describe());
    let want = if is_runc() { "1000" } else { "1000 5" };
    assert_eq!(lines[1], want, "groups (setgroups allowed by newgidmap)");
    assert!(
        lines.contains(&format!("1 {su} {}", sn.min(65536))),
        "{lines:?}"
    );
    r.assert_clean(&b, &id);
}

#[test]
fn rootless_errors_are_clear_and_leave_nothing() {
    let b = Bundle::new("rootless-errors", &["true"]);
    let Some(r) = Rootless::new(&b, &["true"]) else {
        return;
    };
    let id = b.id().to_string();
    // Limits need a delegated cgroup, which this user does not have.
    r.edit(|c| c["linux"]["resources"] = json!({"pids": {"limit": 10}}));
    let out = r.run_as_user(&b, &["create", &id]);
    out.failed_with_one_line();
    if !is_runc() {
        out.stderr_mentions_any(&["linux.resources"]);
    }
    r.assert_clean(&b, &id);
    // Ids the user was not granted.
    r.edit(|c| {
        c["linux"].as_object_mut().unwrap().remove("resources");
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 0, "size": 1}]);
    });
    let out = r.run_as_user(&b, &["create", &id]);
    out.failed_with_one_line();
    if !is_runc() {
        out.stderr_mentions_any(&["linux.uidMappings"]);
    }
    r.assert_clean(&b, &id);
    // A supplementary group where setgroups is denied (own id mapped only).
    r.edit(|c| {
        let (uid, gid) = (r.uid, r.gid);
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": uid, "size": 1}]);
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": gid, "size": 1}]);
        c["process"]["user"] = json!({"uid": 0, "gid": 0, "additionalGids": [5]});
    });
    let out = r.run_as_user(&b, &["run", &id]);
    out.failed_with_one_line();
    if !is_runc() {
        out.stderr_mentions_any(&["process.user.additionalGids"]);
    }
    r.assert_clean(&b, &id);
}

/// CVE-2019-5736 without privilege: a husk that the user owns (as in
/// ~/bin) could be written by the container's root, which is the user. The
/// rootless husk cannot make an overlayfs, so it runs from a sealed memfd:
/// a process exec'd in the container runs /proc/self/exe, an attacker
/// holds /proc/PID/exe, and neither reopening nor writing it may work.
#[test]
fn rootless_self_exe_cannot_write_the_users_husk() {
    if is_runc() {
        skip_under_runc(
            "rootless_self_exe_cannot_write_the_users_husk",
            "drives husk's own binary copy",
        );
        return;
    }
    let b = Bundle::new("rootless-selfexe", &["true"]);
    let Some((uid, gid)) = test_user() else {
        return;
    };
    let bin_dir = b.dir().join("userbin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    let bin = bin_dir.join("husk");
    std::fs::copy(husk_bin(), &bin).unwrap();
    for p in [&bin_dir, &bin] {
        std::os::unix::fs::chown(p, Some(uid), Some(gid)).unwrap();
    }
    let before = sha256(&bin);
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::metadata(&bin).unwrap();
    let (dev, ino) = (md.dev().to_string(), md.ino().to_string());
    build_attacker_from("self_exe.rs", &b.rootfs().join("bin/attacker"));
    copy_husk_libraries(b.rootfs());
    std::fs::create_dir_all(b.rootfs().join("out")).unwrap();
    let out_dir = b.host_dir().join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    assert!(Command::new("mkfifo")
        .arg(out_dir.join("fifo"))
        .status()
        .unwrap()
        .success());
    for p in [out_dir.clone(), out_dir.join("fifo")] {
        std::os::unix::fs::chown(&p, Some(uid), Some(gid)).unwrap();
    }
    b.save();
    let Some(r) = Rootless::new(&b, &["/bin/attacker", &dev, &ino, "/out"]) else {
        return;
    };
    r.edit(|c| {
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/out", "type": "bind",
            "source": out_dir, "options": ["rbind"]
        }));
    });
    let id = unique_id("rootless-selfexe");
    r.run_bin_as_user(&bin, &b, &["run", "-d", &id]).ok();
    assert!(
        poll(|| out_dir.join("ready").exists().then_some(())).is_some(),
        "the attacker never started"
    );
    r.run_bin_as_user(
        &bin,
        &b,
        &[
            "exec",
            &id,
            "/proc/self/exe",
            "update",
            "--resources",
            "/out/fifo",
            "nothing",
        ],
    );
    let result = poll(|| {
        std::fs::read_to_string(out_dir.join("results"))
            .ok()
            .filter(|s| s.ends_with('\n'))
    })
    .expect("the attacker saw no victim");
    std::fs::write(out_dir.join("stop"), "").unwrap();
    r.run_bin_as_user(&bin, &b, &["kill", &id, "KILL"]);
    r.run_bin_as_user(&bin, &b, &["delete", "--force", &id])
        .ok();
    r.assert_clean(&b, &id);
    assert_self_exe_attack_failed("rootless", &result, &bin, &before);
}
