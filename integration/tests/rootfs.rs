//! The container's filesystem: root.path and root.readonly, --no-pivot,
//! masked and readonly paths, mounts with options and propagation, rootfs
//! propagation, devices.
//!
//! Each config test first checks with busybox from inside the container,
//! then (when it has been built) runs runtimetest with the same config.

use husk_integration::*;
use serde_json::json;
use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The mountinfo entries printed by the container (`cat /proc/self/mountinfo`
/// lines among other output).
fn container_mount<'a>(mounts: &'a [MountInfo], point: &str) -> &'a MountInfo {
    mounts
        .iter()
        .rev() // the last mount on a point is the visible one
        .find(|m| m.mount_point == Path::new(point))
        .unwrap_or_else(|| panic!("no mount on {point} in the container's mountinfo: {mounts:#?}"))
}

fn has_opt(opts: &str, o: &str) -> bool {
    opts.split(',').any(|x| x == o)
}

#[test]
fn root_readonly_blocks_writes() {
    let mut b = Bundle::new(
        "root-ro",
        &[
            "sh",
            "-c",
            "touch /probe && echo wrote; cat /proc/self/mountinfo",
        ],
    );
    b.config_mut()["root"]["readonly"] = json!(true);
    let out = b.run_ok();
    assert!(
        !out.contains("wrote"),
        "writing to a readonly root succeeded:\n{out}"
    );
    assert!(
        !b.rootfs().join("probe").exists(),
        "file written through a readonly root"
    );
    let root = container_mount(&parse_mountinfo(&out), "/").clone();
    assert!(
        has_opt(&root.options, "ro"),
        "/ should be mounted ro: {root:?}"
    );
    check_with_runtimetest(&mut b);
    assert_no_leftovers(&b, b.id());
}

#[test]
fn root_writable_when_not_readonly() {
    let mut b = Bundle::new("root-rw", &["sh", "-c", "echo data > /probe && echo wrote"]);
    b.config_mut()["root"]["readonly"] = json!(false);
    assert_eq!(b.run_ok(), "wrote\n", "writing to a writable root");
    assert_eq!(
        fs::read_to_string(b.rootfs().join("probe")).ok().as_deref(),
        Some("data\n"),
        "the file written in the container should be in the bundle's rootfs"
    );
    check_with_runtimetest(&mut b);
    assert_no_leftovers(&b, b.id());
}

#[test]
fn masked_paths_are_hidden() {
    let script = "wc -c < /etc/secret; ls -A /secretdir | wc -l; ls -A /sys/firmware | wc -l; \
                  wc -c < /proc/keys; cat /proc/kcore >/dev/null 2>&1; echo done";
    let mut b = Bundle::new("masked", &["sh", "-c", script]);
    write_file(&b.rootfs().join("etc/secret"), "top secret\n");
    write_file(&b.rootfs().join("secretdir/file"), "hidden\n");
    b.config_mut()["linux"]["maskedPaths"]
        .as_array_mut()
        .unwrap()
        .extend([
            json!("/etc/secret"),
            json!("/secretdir"),
            json!("/does/not/exist"),
        ]);
    assert!(
        fs::read_dir("/sys/firmware")
            .map(|d| d.count())
            .unwrap_or(0)
            > 0,
        "this check needs a non-empty /sys/firmware on the host"
    );
    let out = squash_ws(&b.run_ok());
    assert_eq!(
        out, "0\n0\n0\n0\ndone",
        "masked file, masked dir, /sys/firmware and /proc/keys should read as empty \
         (a missing masked path is ignored)"
    );
    check_with_runtimetest(&mut b);
    assert_no_leftovers(&b, b.id());
}

#[test]
fn readonly_paths_are_readonly() {
    let script = "touch /rodir/x && echo rodir-writable; touch /rwdir/x && echo rwdir-writable; \
                  cat /proc/self/mountinfo";
    let mut b = Bundle::new("ro-paths", &["sh", "-c", script]);
    fs::create_dir_all(b.rootfs().join("rodir")).unwrap();
    fs::create_dir_all(b.rootfs().join("rwdir")).unwrap();
    b.config_mut()["root"]["readonly"] = json!(false);
    b.config_mut()["linux"]["readonlyPaths"]
        .as_array_mut()
        .unwrap()
        .extend([json!("/rodir"), json!("/does/not/exist")]);
    let out = b.run_ok();
    assert!(
        out.contains("rwdir-writable"),
        "a normal directory should stay writable:\n{out}"
    );
    assert!(
        !out.contains("rodir-writable"),
        "a readonlyPaths directory was writable:\n{out}"
    );
    assert!(
        !b.rootfs().join("rodir/x").exists(),
        "file created under /rodir"
    );
    let mounts = parse_mountinfo(&out);
    // The default readonlyPaths that exist on this kernel, and our own.
    let defaults = [
        "/proc/bus",
        "/proc/fs",
        "/proc/irq",
        "/proc/sys",
        "/proc/sysrq-trigger",
    ];
    let existing = defaults.into_iter().filter(|p| Path::new(p).exists());
    for p in existing.chain(["/rodir"]) {
        let m = container_mount(&mounts, p);
        assert!(has_opt(&m.options, "ro"), "{p} should be mounted ro: {m:?}");
    }
    check_with_runtimetest(&mut b);
    assert_no_leftovers(&b, b.id());
}

#[test]
fn tmpfs_mount_with_options() {
    let script = "cat /proc/self/mountinfo; \
                  printf '#!/bin/sh\\necho script-ran\\n' > /scratch/s; chmod +x /scratch/s; \
                  /scratch/s 2>/dev/null; echo exec=$?; \
                  dd if=/dev/zero of=/scratch/small bs=1024 count=256 2>/dev/null; echo small=$?; \
                  dd if=/dev/zero of=/scratch/big bs=1024 count=2048 2>/dev/null; echo big=$?";
    let mut b = Bundle::new("tmpfs", &["sh", "-c", script]);
    b.add_mount(json!({
        "destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
        "options": ["nosuid", "nodev", "noexec", "size=1m"]
    }));
    let out = b.run_ok();
    let m = container_mount(&parse_mountinfo(&out), "/scratch").clone();
    assert_eq!(m.fstype, "tmpfs", "{m:?}");
    for o in ["nosuid", "nodev", "noexec"] {
        assert!(has_opt(&m.options, o), "/scratch should be {o}: {m:?}");
    }
    assert!(
        has_opt(&m.super_options, "size=1024k"),
        "/scratch should be size=1m: {m:?}"
    );
    assert!(
        !out.contains("script-ran"),
        "a script ran from a noexec mount:\n{out}"
    );
    let line = |k: &str| out.lines().find(|l| l.starts_with(k)).map(str::to_string);
    assert!(
        line("exec=").is_some_and(|l| l != "exec=0"),
        "executing from noexec should fail:\n{out}"
    );
    assert_eq!(
        line("small=").as_deref(),
        Some("small=0"),
        "256 KiB fits in 1 MiB:\n{out}"
    );
    assert!(
        line("big=").is_some_and(|l| l != "big=0"),
        "2 MiB should not fit in a 1 MiB tmpfs:\n{out}"
    );
    check_with_runtimetest(&mut b);
    assert_no_leftovers(&b, b.id());
}

#[test]
fn bind_mount_readonly() {
    let script = "cat /data/f; touch /data/new && echo wrote; grep ' /data ' /proc/self/mountinfo";
    let mut b = Bundle::new("bind-ro", &["sh", "-c", script]);
    let src = b.host_dir().join("data");
    write_file(&src.join("f"), "bind-token\n");
    b.add_mount(bind_mount(&src, "/data", &["bind", "ro"]));
    let out = b.run_ok();
    assert!(
        out.starts_with("bind-token\n"),
        "host file not visible via the bind mount:\n{out}"
    );
    assert!(
        !out.contains("wrote"),
        "wrote through a ro bind mount:\n{out}"
    );
    assert!(
        !src.join("new").exists(),
        "file created through a ro bind mount"
    );
    let m = container_mount(&parse_mountinfo(&out), "/data").clone();
    assert!(has_opt(&m.options, "ro"), "/data should be ro: {m:?}");
    check_with_runtimetest(&mut b);
    assert_no_leftovers(&b, b.id());
}

/// Mounts a small tmpfs on `dir` in the test's (host) mount namespace.
fn mount_tmpfs(dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    let target = CString::new(dir.as_os_str().as_bytes()).unwrap();
    // SAFETY: every pointer is a NUL-terminated string that lives across the call.
    let rc = unsafe {
        libc::mount(
            c"tmpfs".as_ptr(),
            target.as_ptr(),
            c"tmpfs".as_ptr(),
            0,
            c"size=64k".as_ptr().cast(),
        )
    };
    assert_eq!(
        rc,
        0,
        "mount tmpfs on {}: {}",
        dir.display(),
        std::io::Error::last_os_error()
    );
}

fn umount(dir: &Path) {
    let target = CString::new(dir.as_os_str().as_bytes()).unwrap();
    // SAFETY: every pointer is a NUL-terminated string that lives across the call.
    let rc = unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
    assert_eq!(
        rc,
        0,
        "umount {}: {}",
        dir.display(),
        std::io::Error::last_os_error()
    );
}

/// `rbind` carries the source's submounts into the container; plain `bind`
/// does not.
#[test]
fn rbind_includes_submounts() {
    let script = "cat /r/sub/f; ls -A /b/sub | wc -l";
    let mut b = Bundle::new("rbind", &["sh", "-c", script]);
    let src = b.host_dir().join("tree");
    mount_tmpfs(&src.join("sub"));
    write_file(&src.join("sub/f"), "submount-token\n");
    b.add_mount(bind_mount(&src, "/r", &["rbind"]));
    b.add_mount(bind_mount(&src, "/b", &["bind"]));
    let out = b.run(&[]);
    umount(&src.join("sub"));
    out.ok();
    assert_eq!(
        squash_ws(&out.stdout),
        "submount-token\n0",
        "rbind should show the submount's file, bind an empty directory\n{}",
        out.describe()
    );
    assert_no_leftovers(&b, b.id());
}

/// The recursive attributes (runc's "rro", "rnoexec", ...) reach every
/// mount of an rbind; plain "ro" leaves the submounts writable.
#[test]
fn recursive_mount_attributes() {
    let script = "for d in /rec /rec/sub /flat /flat/sub; do \
                  touch $d/w 2>/dev/null && echo \"$d writable\" || echo \"$d read-only\"; done; \
                  grep -E ' /(rec|flat)(/sub)? ' /proc/self/mountinfo";
    let mut b = Bundle::new("rec-attr", &["sh", "-c", script]);
    let rec = b.host_dir().join("rec");
    let flat = b.host_dir().join("flat");
    mount_tmpfs(&rec.join("sub"));
    mount_tmpfs(&flat.join("sub"));
    b.add_mount(bind_mount(&rec, "/rec", &["rbind", "rro", "rnosuid"]));
    b.add_mount(bind_mount(&flat, "/flat", &["rbind", "ro"]));
    let out = b.run(&[]);
    umount(&rec.join("sub"));
    umount(&flat.join("sub"));
    out.ok();
    let text = out.stdout.clone();
    for line in [
        "/rec read-only",
        "/rec/sub read-only",
        "/flat read-only",
        "/flat/sub writable",
    ] {
        assert!(text.contains(line), "expected {line:?}:\n{text}");
    }
    let mounts = parse_mountinfo(&text);
    for point in ["/rec", "/rec/sub"] {
        let m = container_mount(&mounts, point);
        assert!(
            has_opt(&m.options, "ro") && has_opt(&m.options, "nosuid"),
            "{point} should be ro,nosuid: {m:?}"
        );
    }
    assert_no_leftovers(&b, b.id());
}

#[test]
fn linux_devices_are_created() {
    let mut b = Bundle::new("devices", &["stat", "-c", "%F %t:%T %a %u:%g", "/dev/fuse"]);
    b.config_mut()["linux"]["devices"] = json!([{
        "path": "/dev/fuse", "type": "c", "major": 10, "minor": 229,
        "fileMode": 0o666, "uid": 1000, "gid": 1001
    }]);
    assert_eq!(
        b.run_ok(),
        "character special file a:e5 666 1000:1001\n",
        "type, major:minor (hex), mode and owner of /dev/fuse"
    );
    check_with_runtimetest(&mut b);
    assert_no_leftovers(&b, b.id());
}

#[test]
fn default_devices_and_symlinks() {
    let script = "for d in null zero full random urandom tty; do \
                    stat -c '%n %F %t:%T %a' /dev/$d; done; \
                  for l in fd stdin stdout stderr ptmx; do echo \"/dev/$l -> $(readlink /dev/$l)\"; done; \
                  echo x > /dev/null && echo null-writable; head -c 4 /dev/zero | wc -c";
    let mut b = Bundle::new("default-devices", &["sh", "-c", script]);
    let out = b.run_ok();
    let want = "/dev/null character special file 1:3 666\n\
                /dev/zero character special file 1:5 666\n\
                /dev/full character special file 1:7 666\n\
                /dev/random character special file 1:8 666\n\
                /dev/urandom character special file 1:9 666\n\
                /dev/tty character special file 5:0 666\n\
                /dev/fd -> /proc/self/fd\n\
                /dev/stdin -> /proc/self/fd/0\n\
                /dev/stdout -> /proc/self/fd/1\n\
                /dev/stderr -> /proc/self/fd/2\n\
                /dev/ptmx -> pts/ptmx\n\
                null-writable\n";
    assert_eq!(
        squash_ws(&out),
        squash_ws(&format!("{want}4\n")),
        "default /dev"
    );
    check_with_runtimetest(&mut b);
    assert_no_leftovers(&b, b.id());
}

#[test]
fn root_path_absolute() {
    let mut b = Bundle::new("root-abs", &["sh", "-c", "echo ok"]);
    let abs = b.rootfs().to_str().unwrap().to_string();
    b.config_mut()["root"]["path"] = json!(abs);
    assert_eq!(b.run_ok(), "ok\n", "run with an absolute root.path");

    b.set_args(&["sleep", "30"]);
    b.create().ok();
    let st = b.state();
    assert_eq!(
        st["rootfs"], abs,
        "state's rootfs with an absolute root.path: {st}"
    );
    b.delete_force().ok();
    b.runtime().assert_gone(b.id());

    check_with_runtimetest(&mut b);
    assert_no_leftovers(&b, b.id());
}

/// `--no-pivot` moves the rootfs onto / and chroots instead of pivot_root
/// (for ramdisk roots, where pivot_root is impossible).
#[test]
fn no_pivot_runs() {
    let mut b = Bundle::new("no-pivot", &["sh", "-c", "echo ok"]);
    b.run(&["--no-pivot"]).ok().stdout_is("ok\n");
    b.runtime().assert_gone(b.id());
    check_with_runtimetest_using(&mut b, &["--no-pivot"]);
    assert_no_leftovers(&b, b.id());
}

fn mount_syscall(src: &Path, target: &Path, flags: libc::c_ulong, what: &str) {
    let s = CString::new(src.as_os_str().as_bytes()).unwrap();
    let t = CString::new(target.as_os_str().as_bytes()).unwrap();
    // SAFETY: both paths are NUL-terminated strings that outlive the call;
    // no filesystem type or data is passed.
    let rc = unsafe {
        libc::mount(
            s.as_ptr(),
            t.as_ptr(),
            std::ptr::null(),
            flags,
            std::ptr::null(),
        )
    };
    assert_eq!(
        rc,
        0,
        "{what} {}: {}",
        target.display(),
        std::io::Error::last_os_error()
    );
}

/// Per-mount propagation options. Both sources lie in a host directory
/// made a shared mount (bound onto itself, then `--make-shared`), so each
/// bind starts out as a slave of that peer group in the container: the
/// `rprivate` one must lose it (no optional field at all), the `rshared`
/// one must be in a peer group (`shared:N`).
#[test]
fn bind_mount_propagation_options() {
    let script = "cat /proc/self/mountinfo";
    let mut b = Bundle::new("bind-propagation", &["sh", "-c", script]);
    let src = b.host_dir().join("prop");
    fs::create_dir_all(src.join("private")).unwrap();
    fs::create_dir_all(src.join("shared")).unwrap();
    mount_syscall(&src, &src, libc::MS_BIND, "bind mount onto itself");
    mount_syscall(Path::new("none"), &src, libc::MS_SHARED, "make shared");
    b.add_mount(bind_mount(
        &src.join("private"),
        "/private",
        &["rbind", "rprivate"],
    ));
    b.add_mount(bind_mount(
        &src.join("shared"),
        "/shared",
        &["bind", "rshared"],
    ));
    let out = b.run(&[]);
    umount(&src);
    out.ok();
    b.runtime().assert_gone(b.id());
    let mounts = parse_mountinfo(&out.stdout);
    let private = container_mount(&mounts, "/private");
    assert!(
        private.optional.is_empty(),
        "an rprivate bind mount should have no propagation fields: {private:?}"
    );
    let shared = container_mount(&mounts, "/shared");
    assert!(
        shared.optional.iter().any(|o| o.starts_with("shared:")),
        "an rshared bind mount should be in a peer group (shared:N): {shared:?}"
    );
    assert_no_leftovers(&b, b.id());
}

#[test]
fn rootfs_propagation_values_run() {
    let mut b = Bundle::new("rootfs-propagation", &["sh", "-c", "echo ok"]);
    for p in ["rslave", "private"] {
        b.config_mut()["linux"]["rootfsPropagation"] = json!(p);
        let out = b.run(&[]);
        assert!(
            out.success() && out.stdout == "ok\n",
            "expected a container with linux.rootfsPropagation {p:?} to run and print ok\n{}",
            out.describe()
        );
        b.runtime().assert_gone(b.id());
    }
    assert_no_leftovers(&b, b.id());
}

/// The atime options and their opposites reach the mount flags.
#[test]
fn atime_and_ro_options() {
    let mut b = Bundle::new("atime", &["sh", "-c", "cat /proc/self/mountinfo"]);
    b.add_mount(json!({
        "destination": "/na", "type": "tmpfs", "source": "tmpfs",
        "options": ["noatime", "nodiratime", "ro"]
    }));
    b.add_mount(json!({
        "destination": "/sa", "type": "tmpfs", "source": "tmpfs",
        "options": ["strictatime", "rw"]
    }));
    let out = b.run_ok();
    let mounts = parse_mountinfo(&out);
    let na = container_mount(&mounts, "/na").clone();
    for o in ["noatime", "nodiratime", "ro"] {
        assert!(has_opt(&na.options, o), "/na should be {o}: {na:?}");
    }
    let sa = container_mount(&mounts, "/sa").clone();
    assert!(
        !has_opt(&sa.options, "relatime") && !has_opt(&sa.options, "noatime"),
        "/sa should be strictatime (neither relatime nor noatime): {sa:?}"
    );
    assert!(has_opt(&sa.options, "rw"), "/sa should be rw: {sa:?}");
    check_with_runtimetest(&mut b);
    assert_no_leftovers(&b, b.id());
}

/// runc's tmpcopyup (podman --read-only): the new tmpfs starts with what
/// the directory held, keeps its mode, and is writable.
#[test]
fn tmpcopyup_fills_the_tmpfs() {
    let mut b = Bundle::new(
        "tmpcopyup",
        &["sh", "-c", "cat /data/hello; readlink /data/link; stat -c %a /data/sub; touch /data/new && echo writable"],
    );
    let data = b.rootfs().join("data");
    fs::create_dir_all(data.join("sub")).unwrap();
    fs::write(data.join("hello"), "from-the-image\n").unwrap();
    std::os::unix::fs::symlink("hello", data.join("link")).unwrap();
    fs::set_permissions(
        data.join("sub"),
        std::os::unix::fs::PermissionsExt::from_mode(0o750),
    )
    .unwrap();
    b.add_mount(json!({
        "destination": "/data", "type": "tmpfs", "source": "tmpfs",
        "options": ["rw", "rprivate", "nosuid", "nodev", "tmpcopyup"]
    }));
    let out = b.run_ok();
    assert_eq!(
        out, "from-the-image\nhello\n750\nwritable\n",
        "tmpfs contents"
    );
    assert!(
        !data.join("new").exists(),
        "the write must land in the tmpfs, not the image"
    );
    assert_no_leftovers(&b, b.id());
}

/// Privileged containers list /dev/ptmx among linux.devices: it must not
/// follow the pts/ptmx symlink into devpts, and /dev/ptmx stays usable.
#[test]
fn ptmx_in_linux_devices() {
    let mut b = Bundle::new(
        "ptmx-dev",
        &[
            "sh",
            "-c",
            "readlink /dev/ptmx; test -c /dev/pts/ptmx && echo pts-ok",
        ],
    );
    b.config_mut()["linux"]["devices"] = json!([
        {"path": "/dev/ptmx", "type": "c", "major": 5, "minor": 2, "fileMode": 8630},
        {"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 8630}
    ]);
    let out = b.run_ok();
    assert_eq!(out, "pts/ptmx\npts-ok\n");
    assert_no_leftovers(&b, b.id());
}

/// A config without a mount namespace (the spec: the container inherits
/// the runtime's), as runtime-tools' linux_ns_itype writes it: no masked or
/// read-only paths (those need a mount namespace).
fn without_mount_namespace(b: &mut Bundle) {
    b.remove_namespace("mount");
    b.edit(|c| {
        c["linux"]["maskedPaths"] = json!([]);
        c["linux"]["readonlyPaths"] = json!([]);
    });
    b.save();
}

/// The container runs chroot'ed in its rootfs with its mounts, `exec`
/// lands there too, the host's own mounts are not touched, and delete
/// removes every mount create made (runc 1.1.5 leaves them on the host).
#[test]
fn no_mount_namespace_runs_chrooted_and_leaves_no_mount() {
    let mut b = Bundle::new("no-mntns", &["sleep", "30"]);
    without_mount_namespace(&mut b);
    fs::write(b.rootfs().join("marker-inside"), "").unwrap();
    let host_before = host_mount_points_outside_tests();
    b.create().ok();
    b.start().ok();
    let rt = b.runtime();
    let out = rt.exec(&[
        "exec",
        b.id(),
        "sh",
        "-c",
        "ls /marker-inside && grep -c ' /proc ' /proc/self/mountinfo",
    ]);
    if is_runc() {
        // runc 1.1.5's exec lands in the host's root here (seen: "ls:
        // cannot access '/marker-inside'").
        eprintln!("runc exec: {}", out.describe());
    } else {
        out.ok();
        assert!(
            out.stdout.starts_with("/marker-inside\n"),
            "exec must land in the rootfs: {}",
            out.describe()
        );
    }
    assert_eq!(
        ns_link(b.pid(), "mnt"),
        ns_link(std::process::id() as i32, "mnt"),
        "the container shares the runtime's mount namespace"
    );
    assert!(
        !mounts_under(b.rootfs()).is_empty(),
        "the container's mounts are on the host while it runs"
    );
    b.stop_and_delete();
    if is_runc() {
        eprintln!("runc 1.1.5 leaves {:?}", mounts_under(b.rootfs()));
        return;
    }
    assert_no_leftovers(&b, b.id());
    let host_after = host_mount_points_outside_tests();
    assert_eq!(host_before, host_after, "the host's mounts changed");
}

/// A create that fails half way (a mount of a filesystem type that does
/// not exist, after /proc and /dev are mounted) leaves no mount behind.
#[test]
fn no_mount_namespace_failed_create_leaves_no_mount() {
    if skip_under_runc(
        "no_mount_namespace_failed_create_leaves_no_mount",
        "runc leaves its mounts",
    ) {
        return;
    }
    let mut b = Bundle::new("no-mntns-fail", &["true"]);
    without_mount_namespace(&mut b);
    b.add_mount(json!({"destination": "/late", "type": "no-such-fs", "source": "x"}));
    b.save();
    b.run(&[]).failed_with_one_line();
    assert_no_leftovers(&b, b.id());
}

/// maskedPaths and readonlyPaths without a mount namespace would mask the
/// host's /proc: refused before anything is made, naming the field.
#[test]
fn masks_without_a_mount_namespace_are_refused() {
    let mut b = Bundle::new("no-mntns-masks", &["true"]);
    b.remove_namespace("mount");
    b.save();
    let out = b.run(&[]);
    out.failed_with_one_line();
    if !is_runc() {
        assert!(out.stderr.contains("linux.maskedPaths"), "{}", out.stderr);
    }
    assert_no_leftovers(&b, b.id());
}

/// rootfsPropagation `unbindable` (and `runbindable`): the rootfs is bound
/// before anything is unbindable, so the container runs.
#[test]
fn unbindable_root_propagation_runs() {
    for mode in ["unbindable", "runbindable", "private", "rslave"] {
        let mut b = Bundle::new("unbindable", &["true"]);
        b.config_mut()["linux"]["rootfsPropagation"] = json!(mode);
        b.save();
        let out = b.run(&[]);
        assert!(
            out.success(),
            "rootfsPropagation {mode}: {}",
            out.describe()
        );
        assert_no_leftovers(&b, b.id());
    }
}

/// Kubernetes' Bidirectional mount propagation (critest's "mount with
/// 'rshared'"): with rootfsPropagation rshared and a host directory bound
/// rshared, a mount made in the container below it appears on the host,
/// and one made on the host appears in the container.
#[test]
fn rshared_mounts_propagate_both_ways() {
    let mut b = Bundle::new(
        "rshared",
        &[
            "sh",
            "-c",
            "mount -t tmpfs from-container /mnt/shared/in && sleep 30",
        ],
    );
    let shared = b.host_dir().join("shared");
    fs::create_dir_all(shared.join("in")).unwrap();
    fs::create_dir_all(shared.join("out")).unwrap();
    let sh = |cmd: &str| {
        let ok = std::process::Command::new("sh")
            .args(["-c", cmd])
            .status()
            .unwrap()
            .success();
        assert!(ok, "{cmd}");
    };
    let d = shared.display().to_string();
    sh(&format!("mount --bind {d} {d} && mount --make-shared {d}"));
    b.config_mut()["linux"]["rootfsPropagation"] = json!("rshared");
    b.edit(|c| {
        for set in ["bounding", "effective", "permitted"] {
            c["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_SYS_ADMIN"));
        }
    });
    b.add_mount(bind_mount(&shared, "/mnt/shared", &["rbind", "rshared"]));
    b.save();
    b.create_and_start();
    let into_host = poll(|| {
        host_mounts()
            .iter()
            .any(|m| m.mount_point == shared.join("in"))
            .then_some(())
    });
    sh(&format!("mount -t tmpfs from-host {d}/out"));
    let out = b.runtime().exec(&[
        "exec",
        b.id(),
        "grep",
        "-c",
        " /mnt/shared/out ",
        "/proc/self/mountinfo",
    ]);
    b.delete_force().ok();
    let _ = std::process::Command::new("umount")
        .args(["-R", "-l", &d])
        .status();
    assert!(
        into_host.is_some(),
        "a mount made in the container did not reach the host"
    );
    assert_eq!(
        out.stdout.trim(),
        "1",
        "a mount made on the host did not reach the container: {}",
        out.describe()
    );
    assert_no_leftovers(&b, b.id());
}

/// A read-only /dev (runc mounts it read-write, makes the device nodes,
/// ptmx and the pts mount point below it, then remounts it read-only), and
/// the same for any read-only mount with a later mount below it: both run,
/// and both are read-only in the container.
#[test]
fn readonly_mounts_with_things_below_them() {
    let script = "echo hi > /dev/null && test -c /dev/zero && test -d /dev/pts \
        && ! touch /dev/x 2>/dev/null && ! touch /run/x 2>/dev/null \
        && test -d /run/secrets/sub && echo ok";
    let mut b = Bundle::new("ro-dev", &["sh", "-c", script]);
    b.edit(|c| {
        for m in c["mounts"].as_array_mut().unwrap() {
            if m["destination"] == "/dev" {
                m["options"].as_array_mut().unwrap().push(json!("ro"));
            }
        }
    });
    b.add_mount(
        json!({"destination": "/run", "type": "tmpfs", "source": "tmpfs",
        "options": ["nosuid", "nodev", "ro"]}),
    );
    let secrets = b.host_dir().join("secrets");
    fs::create_dir_all(secrets.join("sub")).unwrap();
    b.add_mount(bind_mount(&secrets, "/run/secrets", &["rbind", "ro"]));
    b.save();
    let out = b.run(&[]);
    out.ok();
    assert_eq!(out.stdout, "ok\n", "{}", out.describe());
    assert_no_leftovers(&b, b.id());
}

/// Without a mount namespace the rootfs cannot be the caller's own root:
/// the private bind and chroot would act on the host's root itself.
#[test]
fn no_mount_namespace_with_root_slash_is_refused() {
    let mut b = Bundle::new("no-mntns-slash", &["true"]);
    without_mount_namespace(&mut b);
    b.config_mut()["root"]["path"] = json!("/");
    b.save();
    let list = host_mount_points_outside_tests;
    let before = list();
    let out = b.run(&[]);
    out.failed_with_one_line();
    if !is_runc() {
        assert!(out.stderr.contains("root.path"), "{}", out.stderr);
    }
    let after = list();
    assert_eq!(before, after, "the host's mounts changed");
    assert_no_leftovers(&b, b.id());
}

/// Joining a mount namespace by path is refused: pivot_root there would
/// move every process of that namespace (here, the host's own).
#[test]
fn joining_a_mount_namespace_by_path_is_refused() {
    if skip_under_runc(
        "joining_a_mount_namespace_by_path_is_refused",
        "runc pivots into it",
    ) {
        return;
    }
    let mut b = Bundle::new("join-mntns", &["true"]);
    b.set_namespace("mount", Some("/proc/1/ns/mnt"));
    b.save();
    let list = host_mount_points_outside_tests;
    let before = list();
    let out = b.run(&[]);
    out.failed_with_one_line();
    assert!(out.stderr.contains("mount namespace"), "{}", out.stderr);
    assert_eq!(before, list(), "the host's mounts changed");
    assert_no_leftovers(&b, b.id());
}

/// A read-only bind is made read-only at once, even with a later mount
/// below it: its mount point is not created in the host directory that
/// was asked to be read-only (runc fails such a config with EROFS too).
#[test]
fn readonly_bind_gets_no_mount_point_made_in_the_host_source() {
    let mut b = Bundle::new("ro-bind-below", &["true"]);
    let src = b.host_dir().join("cfg");
    fs::create_dir_all(&src).unwrap();
    b.add_mount(bind_mount(&src, "/cfg", &["rbind", "ro"]));
    b.add_mount(json!({"destination": "/cfg/x", "type": "tmpfs", "source": "tmpfs"}));
    b.save();
    b.run(&[]).failed_with_message();
    assert!(
        !src.join("x").exists(),
        "a mount point was made in the read-only host directory"
    );
    assert_no_leftovers(&b, b.id());
}

/// Two containers without a mount namespace on one rootfs: deleting one
/// detaches only its own bind, the other keeps running in its rootfs.
#[test]
fn no_mount_namespace_delete_leaves_the_other_containers_mounts() {
    if skip_under_runc(
        "no_mount_namespace_delete_leaves_the_other_containers_mounts",
        "runc leaves every mount",
    ) {
        return;
    }
    let mut b = Bundle::new("no-mntns-two", &["sleep", "30"]);
    without_mount_namespace(&mut b);
    fs::write(b.rootfs().join("marker-inside"), "").unwrap();
    let first = format!("{}-a", b.id());
    let second = format!("{}-b", b.id());
    let rt = b.runtime();
    b.create_as(&first, &[]).ok();
    b.create_as(&second, &[]).ok();
    rt.exec(&["start", &first]).ok();
    rt.exec(&["start", &second]).ok();
    rt.exec(&["delete", "--force", &first]).ok();
    let out = rt.exec(&[
        "exec",
        &second,
        "sh",
        "-c",
        "ls /marker-inside && ls /proc/self/status",
    ]);
    out.ok();
    assert!(
        out.stdout.contains("/proc/self/status"),
        "{}",
        out.describe()
    );
    // exec from another mount namespace lands in the rootfs as well.
    let argv: Vec<String> = rt
        .argv(&["exec", &second, "ls", "/marker-inside"])
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut cmd = std::process::Command::new("unshare");
    cmd.arg("-m").args(&argv);
    let out = rt.spawn(cmd, None);
    out.ok();
    assert_eq!(out.stdout, "/marker-inside\n", "{}", out.describe());
    rt.exec(&["delete", "--force", &second]).ok();
    assert_no_leftovers(&b, &first);
    assert_no_leftovers(&b, &second);
}
