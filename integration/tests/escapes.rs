//! Attacks on the runtime itself (issue 7): writes to /proc that an
//! overmount would redirect, a rootfs whose /proc, /sys or /dev are
//! symlinks out of it, and container processes trying to reach the husk
//! binary through /proc/PID/exe. Each checks the host afterwards.

use husk_integration::*;
use serde_json::json;
use std::fs;
use std::path::Path;

// ---------------------------------------------------------------------------
// Writes to /proc through a verified procfs handle (CVE-2025-52881 class)

/// A create refused because something is mounted over the sysctl's file:
/// one error line naming the field and the reason, nothing left behind.
#[track_caller]
fn assert_sysctl_refused(b: &Bundle, out: &Output) {
    out.failed_with_one_line();
    if !is_runc() {
        out.stderr_mentions_any(&["linux.sysctl.kernel.domainname"])
            .stderr_mentions_any(&["mount point"]);
    }
    assert_no_leftovers(b, b.id());
}

/// A host file bind-mounted over /proc/sys/kernel/domainname, with a
/// linux.sysctl entry for kernel.domainname: a runtime writing the path
/// would write the host file. The create must be refused (runc refuses the
/// mount itself; husk refuses the write) and the host file left alone.
#[test]
fn sysctl_through_a_bind_over_proc_sys_is_refused() {
    let mut b = Bundle::new("sysctl-bind", &["true"]);
    let victim = write_file(&b.host_dir().join("victim"), "untouched\n");
    b.add_mount(bind_mount(
        &victim,
        "/proc/sys/kernel/domainname",
        &["bind"],
    ));
    b.config_mut()["linux"]["sysctl"] = json!({ "kernel.domainname": "pwned" });
    let out = b.run(&[]);
    assert_eq!(
        fs::read_to_string(&victim).unwrap(),
        "untouched\n",
        "the sysctl was written into the host file mounted over /proc/sys\n{}",
        out.describe()
    );
    assert_sysctl_refused(&b, &out);
}

/// A tmpfs over /proc/sys/kernel: writing kernel.domainname there would
/// create a plain file on the tmpfs and report success while the sysctl is
/// never set. Refused.
#[test]
fn sysctl_through_a_tmpfs_over_proc_sys_is_refused() {
    if skip_under_runc(
        "sysctl_through_a_tmpfs_over_proc_sys_is_refused",
        "runc 1.1.5 writes the sysctl into a file on the tmpfs and runs the container",
    ) {
        return;
    }
    let mut b = Bundle::new("sysctl-tmpfs", &["cat", "/proc/sys/kernel/domainname"]);
    b.add_mount(json!({
        "destination": "/proc/sys/kernel", "type": "tmpfs", "source": "tmpfs",
        "options": ["size=64k"]
    }));
    b.config_mut()["linux"]["sysctl"] = json!({ "kernel.domainname": "pwned" });
    let out = b.run(&[]);
    assert_sysctl_refused(&b, &out);
}

/// The verified path still writes real sysctls (and oomScoreAdj) when
/// nothing is mounted over them.
#[test]
fn sysctl_and_oom_score_adj_are_written() {
    let mut b = Bundle::new(
        "sysctl-ok",
        &[
            "sh",
            "-c",
            "cat /proc/sys/kernel/domainname /proc/self/oom_score_adj",
        ],
    );
    b.config_mut()["linux"]["sysctl"] = json!({ "kernel.domainname": "husk-dom" });
    b.config_mut()["process"]["oomScoreAdj"] = json!(123);
    let out = b.run(&[]);
    out.ok().stdout_is("husk-dom\n123\n");
    assert_no_leftovers(&b, b.id());
}

/// A sysctl name with `..` must not reach another /proc file.
#[test]
fn sysctl_name_cannot_climb_out_of_proc_sys() {
    let mut b = Bundle::new("sysctl-dotdot", &["cat", "/proc/self/oom_score_adj"]);
    b.config_mut()["linux"]["sysctl"] = json!({ "kernel/../../1/oom_score_adj": "999" });
    let out = b.run(&[]);
    assert!(
        !(out.success() && out.stdout.trim() == "999"),
        "a sysctl name reached /proc/1/oom_score_adj:\n{}",
        out.describe()
    );
    out.failed_with_message();
    assert_no_leftovers(&b, b.id());
}

// ---------------------------------------------------------------------------
// The husk binary through /proc/PID/exe (CVE-2019-5736 class)

/// A container process spins over the newest pids of its pid namespace
/// trying to open /proc/PID/exe (read-only, write-only, read-write, then
/// reopening a read-only fd for writing), stat and readlink it and read
/// /proc/PID/maps, while husk `exec`s into the container again and again
/// and creates, starts and deletes containers that join its pid namespace
/// (their init is a fork of husk from create until start). It must never
/// reach the husk binary, and the binary must be unchanged. The attacker
/// must also have seen the chain processes (denied at least once), or the
/// test proves nothing.
#[test]
fn container_processes_never_reach_the_husk_binary() {
    use std::os::unix::fs::MetadataExt;
    const EXECS: usize = 200;
    const JOINERS: usize = 10;
    let bin = husk_bin();
    let before = sha256(&bin);
    let md = fs::metadata(&bin).unwrap();
    let name = bin.file_name().unwrap().to_string_lossy().into_owned();
    let mut b = Bundle::new("exe-attack", &["true"]);
    build_attacker(&b.rootfs().join("bin/attacker"));
    let out_dir = b.host_dir().join("out");
    fs::create_dir_all(&out_dir).unwrap();
    b.add_mount(bind_mount(&out_dir, "/out", &["bind"]));
    let (dev, ino) = (md.dev().to_string(), md.ino().to_string());
    b.set_args(&["/bin/attacker", &dev, &ino, &name, "/out"]);
    b.create_and_start();
    assert!(
        poll(|| out_dir.join("ready").exists().then_some(())).is_some(),
        "the attacker never started"
    );
    let rt = b.runtime();
    let pid_ns = format!("/proc/{}/ns/pid", b.pid());
    let mut joiner = Bundle::new("exe-attack-joiner", &["true"]);
    joiner.set_namespace("pid", Some(&pid_ns));
    for i in 0..EXECS {
        if out_dir.join("result").exists() {
            break; // the attacker gave up early: it has what it wanted
        }
        rt.exec(&["exec", b.id(), "/bin/true"]).ok();
        if i % (EXECS / JOINERS) == 0 {
            let jid = format!("{}-{i}", joiner.id());
            joiner.create_as(&jid, &[]).ok();
            std::thread::sleep(std::time::Duration::from_millis(20));
            let jrt = joiner.runtime();
            jrt.exec(&["start", &jid]).ok();
            jrt.wait_for_status(&jid, "stopped");
            jrt.exec(&["delete", &jid]).ok();
            assert_no_leftovers(&joiner, &jid);
        }
    }
    fs::write(out_dir.join("stop"), "").unwrap();
    let result = poll(|| fs::read_to_string(out_dir.join("result")).ok())
        .expect("the attacker wrote no result");
    b.wait_for_status("stopped");
    b.delete().ok();
    assert_no_leftovers(&b, b.id());
    eprintln!("attacker: {}", result.lines().last().unwrap_or(""));
    let hits: Vec<&str> = result.lines().filter(|l| l.starts_with("HIT")).collect();
    assert!(
        hits.is_empty(),
        "a container process reached the husk binary:\n{result}"
    );
    let denied: u64 = result
        .lines()
        .last()
        .and_then(|l| l.split_whitespace().last())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        denied > 0,
        "the attacker never saw a husk process (was never denied): the test proved nothing\n{result}"
    );
    assert_eq!(sha256(&bin), before, "the husk binary changed");
}

// ---------------------------------------------------------------------------
// The husk binary executed as /proc/self/exe (CVE-2019-5736)

/// How the container comes to exec `/proc/self/exe`.
#[derive(Clone, Copy, Debug)]
enum SelfExe {
    CreateStart,
    CreateStartTerminal,
    Run,
    RunTerminal,
    Exec,
    ExecDetach,
    Hashbang,
    Symlink,
}

/// The container's argv for a vector: it runs husk's `update` reading its
/// resources from /out/fifo, which blocks until the attacker has opened
/// `/proc/PID/exe` of it.
fn victim_args(v: SelfExe) -> Vec<&'static str> {
    let blocking = ["update", "--resources", "/out/fifo", "nothing"];
    let mut args = match v {
        SelfExe::Hashbang => return vec!["/bin/selfexe-script", "--resources", "/out/fifo"],
        SelfExe::Symlink => vec!["/bin/selfexe-link"],
        _ => vec!["/proc/self/exe"],
    };
    args.extend(blocking);
    args
}

/// An attacker container A (its own pid namespace, /out shared with the
/// host); a victim in the same pid namespace execs /proc/self/exe by vector
/// `v` (a container joining A's pid namespace, or an exec into A). The
/// attacker holds `/proc/VICTIM/exe`, lets it exit, and reopens it for
/// writing. The victim must not have run the host's binary, the reopen
/// (or a write through it) must fail, and the binary must be unchanged.
fn self_exe_attack(v: SelfExe) {
    let bin = husk_bin();
    let before = sha256(&bin);
    let md = fs::metadata(&bin).unwrap();
    let name = format!("selfexe-{v:?}").to_lowercase();
    let mut a = Bundle::new(&name, &["true"]);
    build_attacker_from("self_exe.rs", &a.rootfs().join("bin/attacker"));
    copy_husk_libraries(a.rootfs());
    write_file(
        &a.rootfs().join("bin/selfexe-script"),
        "#!/proc/self/exe update\n",
    );
    fs::set_permissions(
        a.rootfs().join("bin/selfexe-script"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::os::unix::fs::symlink("/proc/self/exe", a.rootfs().join("bin/selfexe-link")).unwrap();
    let out_dir = a.host_dir().join("out");
    fs::create_dir_all(&out_dir).unwrap();
    let fifo = out_dir.join("fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    a.add_mount(bind_mount(&out_dir, "/out", &["bind"]));
    use std::os::unix::fs::MetadataExt;
    let (dev, ino) = (md.dev().to_string(), md.ino().to_string());
    a.set_args(&["/bin/attacker", &dev, &ino, "/out"]);
    a.create_and_start();
    assert!(
        poll(|| out_dir.join("ready").exists().then_some(())).is_some(),
        "the attacker never started"
    );
    let args = victim_args(v);
    let rt = a.runtime();
    let mut victim = Bundle::new(&format!("{name}-victim"), &args);
    victim.add_mount(bind_mount(&out_dir, "/out", &["bind"]));
    victim.set_namespace("pid", Some(&format!("/proc/{}/ns/pid", a.pid())));
    victim.config_mut()["root"]["path"] = json!(a.rootfs());
    let terminal = matches!(v, SelfExe::CreateStartTerminal | SelfExe::RunTerminal);
    victim.config_mut()["process"]["terminal"] = json!(terminal);
    victim.save();
    let mut exec_args = vec!["exec"];
    match v {
        SelfExe::CreateStart => {
            victim.create().ok();
            victim.start().ok();
        }
        SelfExe::CreateStartTerminal => {
            let sock = victim.host_dir().join("console.sock");
            let console = console_receiver(&sock);
            victim
                .create_as(victim.id(), &["--console-socket", sock.to_str().unwrap()])
                .ok();
            let master = console.join().unwrap().expect("pty master");
            victim.start().ok();
            victim.wait_for_status("stopped");
            drop(master);
        }
        SelfExe::Run => {
            victim.run(&[]);
        }
        SelfExe::RunTerminal => {
            let cmd = format!(
                "{} --root {} run --bundle {} {}",
                bin.display(),
                victim.runtime().root().display(),
                victim.path_str(),
                victim.id()
            );
            std::process::Command::new("script")
                .args(["-qfec", &cmd, "/dev/null"])
                .stdin(std::process::Stdio::null())
                .output()
                .expect("script (bsdutils) runs");
        }
        SelfExe::Exec | SelfExe::ExecDetach => {
            if matches!(v, SelfExe::ExecDetach) {
                exec_args.push("--detach");
            }
            exec_args.push(a.id());
            exec_args.extend(&args);
            rt.exec(&exec_args);
        }
        SelfExe::Hashbang | SelfExe::Symlink => {
            victim.create().ok();
            victim.start().ok();
        }
    }
    // A whole line: the file exists a moment before its line is written.
    let result = poll(|| {
        fs::read_to_string(out_dir.join("results"))
            .ok()
            .filter(|s| s.ends_with('\n'))
    })
    .expect("the attacker saw no victim: the container never ran /proc/self/exe");
    fs::write(out_dir.join("stop"), "").unwrap();
    if victim.runtime().try_state(victim.id()).is_ok() {
        victim.wait_for_status("stopped");
        victim.delete().ok();
    }
    // The attacker has said what it saw; it need not wind down by itself.
    a.delete_force().ok();
    assert_no_leftovers(&a, a.id());
    assert_no_leftovers(&victim, victim.id());
    assert_self_exe_attack_failed(&format!("{v:?}"), &result, &bin, &before);
}

#[test]
fn self_exe_at_create_and_start() {
    self_exe_attack(SelfExe::CreateStart);
}

#[test]
fn self_exe_at_create_and_start_with_a_terminal() {
    self_exe_attack(SelfExe::CreateStartTerminal);
}

#[test]
fn self_exe_at_run() {
    self_exe_attack(SelfExe::Run);
}

#[test]
fn self_exe_at_run_with_a_terminal() {
    self_exe_attack(SelfExe::RunTerminal);
}

#[test]
fn self_exe_at_exec() {
    self_exe_attack(SelfExe::Exec);
}

#[test]
fn self_exe_at_exec_detach() {
    self_exe_attack(SelfExe::ExecDetach);
}

#[test]
fn self_exe_as_a_hashbang_interpreter() {
    self_exe_attack(SelfExe::Hashbang);
}

#[test]
fn self_exe_through_a_symlink() {
    self_exe_attack(SelfExe::Symlink);
}

// ---------------------------------------------------------------------------
// A rootfs whose /proc, /sys or /dev is a symlink out of it

/// Host mount points that a symlinked /proc, /sys or /dev could hit.
fn sensitive_host_mounts(scratch: &Path) -> Vec<String> {
    let mut v: Vec<String> = host_mounts()
        .into_iter()
        .map(|m| m.mount_point)
        .filter(|p| {
            p.starts_with(scratch)
                || ["/etc", "/proc", "/sys", "/dev"]
                    .iter()
                    .any(|top| p.starts_with(top) && !p.starts_with("/tmp/husk-it-"))
        })
        .map(|p| p.display().to_string())
        .filter(|p| !p.starts_with("/tmp/") || p.starts_with(&*scratch.to_string_lossy()))
        .collect();
    v.sort();
    v
}

/// /proc, /sys, /dev and a mount target (/data) each replaced by a symlink to an absolute host
/// path (missing, or an existing directory), and to a relative path climbing
/// out (`../../..`): the container either runs with its mounts inside its
/// root or is refused, and on the host nothing is mounted, nothing is
/// created in the target, and nothing is left behind.
#[test]
fn symlinked_proc_sys_dev_stay_inside_the_root() {
    for dir in ["proc", "sys", "dev", "data"] {
        for kind in ["abs-missing", "abs-existing", "relative"] {
            if is_runc() && dir == "dev" && kind == "abs-existing" {
                eprintln!(
                    "SKIP rootfs/dev -> existing host dir under runc: runc 1.1.5 creates \
                     fd, stdin, stdout, stderr and ptmx symlinks in that host directory"
                );
                continue;
            }
            let mut b = Bundle::new(
                &format!("symlinked-{dir}-{kind}"),
                &["sh", "-c", "echo inside; ls / >/dev/null"],
            );
            let scratch = b.host_dir().join("target");
            fs::create_dir_all(&scratch).unwrap();
            // A host path that does not exist yet: a runtime following the
            // link on the host would create it (mount destinations are
            // created when missing), or make device nodes in it.
            // And an existing host directory, standing for /etc: runc 1.1.5
            // made fd, stdin, stdout, stderr and ptmx symlinks in the host's
            // /etc itself when rootfs/dev -> /etc (seen while writing this
            // test), so the suite never points at the real /etc.
            let escape = scratch.join("escape");
            let existing = scratch.join("existing");
            fs::create_dir_all(&existing).unwrap();
            let target = match kind {
                "abs-missing" => escape.display().to_string(),
                "abs-existing" => existing.display().to_string(),
                _ => format!("../../../../../../../..{}", escape.display()),
            };
            let link = b.rootfs().join(dir);
            if dir == "data" {
                // A mount target of the config's own, planted as a symlink.
                b.add_mount(json!({
                    "destination": "/data", "type": "tmpfs", "source": "tmpfs",
                    "options": ["size=64k"]
                }));
            } else {
                fs::remove_dir_all(&link).unwrap();
            }
            std::os::unix::fs::symlink(&target, &link).unwrap();
            let mounts_before = sensitive_host_mounts(&scratch);
            let out = b.run(&[]);
            let what = format!("rootfs/{dir} -> {target}");
            eprintln!(
                "{what}: {}",
                if out.success() {
                    "ran".to_string()
                } else {
                    format!("refused: {}", out.stderr.trim())
                }
            );
            if out.success() {
                assert_eq!(out.stdout, "inside\n", "{what}\n{}", out.describe());
            } else {
                out.failed_with_message();
            }
            let names = |d: &Path| -> Vec<_> {
                fs::read_dir(d)
                    .unwrap()
                    .flatten()
                    .map(|e| e.file_name())
                    .collect()
            };
            assert_eq!(
                names(&scratch),
                ["existing"],
                "{what}: the host directory got entries"
            );
            let left = names(&existing);
            assert!(left.is_empty(), "{what}: the host directory got {left:?}");
            assert_eq!(
                mounts_before,
                sensitive_host_mounts(&scratch),
                "{what}: host mounts changed"
            );
            assert_no_leftovers(&b, b.id());
        }
    }
}

// ---------------------------------------------------------------------------
// --no-pivot and the host's procfs and sysfs

/// `unshare -r` maps root into the nested user namespace, which needs
/// CAP_SETFCAP (Linux 5.12) and the uid/gid capabilities.
fn allow_root_mapping(b: &mut Bundle) {
    b.edit(|c| {
        for set in ["bounding", "effective", "permitted"] {
            let v = c["process"]["capabilities"][set].as_array_mut().unwrap();
            for cap in ["CAP_SETFCAP", "CAP_SETUID", "CAP_SETGID"] {
                v.push(json!(cap));
            }
        }
    });
    b.save();
}

/// With --no-pivot the host's mounts stay in the container's mount
/// namespace under the moved root. A full procfs or sysfs among them lets
/// a nested user namespace mount a fresh, unmasked procfs (or sysfs, with a
/// network namespace of its own), which the container's masked /proc must
/// prevent. Both mounts must be refused. The same container with
/// pivot_root is the control: where the kernel lets the nested mounts
/// through even then (seen on Debian's 6.1 in the v2 VM; 6.18 refuses
/// them), the --no-pivot run proves nothing, and the test says so.
#[test]
fn no_pivot_leaves_no_host_proc_or_sys_for_nested_namespaces() {
    let script = "mkdir -p /dev/p /dev/s; \
        unshare -mrpf mount -t proc proc /dev/p 2>/dev/null && echo PROC-MOUNTED; \
        unshare -mrn mount -t sysfs sysfs /dev/s 2>/dev/null && echo SYSFS-MOUNTED; \
        echo done";
    let mut b = Bundle::new("no-pivot-proc", &["sh", "-c", script]);
    allow_root_mapping(&mut b);
    let control = b.run(&[]);
    control.ok();
    assert!(control.stdout.contains("done"), "{}", control.describe());
    if control.stdout.contains("MOUNTED") {
        eprintln!(
            "SKIP: this kernel lets a nested user namespace mount procfs/sysfs under the \
             container's masks even with pivot_root ({:?}); --no-pivot cannot be told apart",
            control.stdout
        );
        assert_no_leftovers(&b, b.id());
        return;
    }
    let out = b.run(&["--no-pivot"]);
    out.ok();
    assert!(out.stdout.contains("done"), "{}", out.describe());
    assert!(
        !out.stdout.contains("MOUNTED"),
        "a nested namespace mounted an unmasked procfs or sysfs: {}",
        out.stdout
    );
    assert_no_leftovers(&b, b.id());
}

/// A rootfs whose /proc or /sys is a symlink, pointing inside the rootfs or
/// out of it, is refused (runc: "must be mounted on ordinary directory"): a
/// procfs mounted through it would redirect husk's own later writes to
/// /proc (CVE-2019-19921 class). The error names the mount.
#[test]
fn symlinked_proc_or_sys_is_refused() {
    for dir in ["proc", "sys"] {
        for target in ["inside", "/outside-host-dir"] {
            let b = Bundle::new(&format!("symlink-{dir}"), &["true"]);
            let link = b.rootfs().join(dir);
            fs::remove_dir_all(&link).unwrap();
            if target == "inside" {
                fs::create_dir_all(b.rootfs().join("inside")).unwrap();
            }
            std::os::unix::fs::symlink(target, &link).unwrap();
            let out = b.run(&[]);
            out.failed_with_one_line();
            assert!(
                out.stderr.contains("ordinary directory")
                    && (is_runc() || out.stderr.contains("mounts[")),
                "/{dir} -> {target}: {}",
                out.stderr
            );
            assert!(!Path::new("/outside-host-dir").exists());
            assert_no_leftovers(&b, b.id());
        }
    }
}

/// --no-pivot with rootfsPropagation rshared: "/" is a peer of the host's
/// until the move, so the move and the detaches of the host's procfs and
/// sysfs must not propagate back: the host's mounts are unchanged.
#[test]
fn no_pivot_with_rshared_leaves_the_host_alone() {
    let mut b = Bundle::new("no-pivot-rshared", &["true"]);
    b.config_mut()["linux"]["rootfsPropagation"] = json!("rshared");
    b.save();
    let list = host_mount_points_outside_tests;
    let before = list();
    b.run(&["--no-pivot"]).ok();
    assert_eq!(before, list(), "the host's mounts changed");
    assert_no_leftovers(&b, b.id());
}
