//! The cgroup v2 device filter on the real kernel (needs root and a cgroup2
//! mount: the unified one of a hybrid host, or /sys/fs/cgroup on v2).
//!
//! The module is crate-private, so it is compiled into this test as well
//! (its unit tests run here a second time).

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::thread::sleep;
use std::time::Duration;

// bpf.rs names its error type `crate::CgroupError`.
use husk_cgroups::CgroupError;
use husk_spec::DeviceCgroup;

#[path = "../src/bpf.rs"]
mod bpf;
#[path = "../src/default_devices.rs"]
mod default_devices;

/// Where cgroup2 is mounted, from mountinfo ("... - cgroup2 ...").
fn cgroup2_mount() -> PathBuf {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
    mountinfo
        .lines()
        .find_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let point = left.split(' ').nth(4)?;
            (right.split(' ').next()? == "cgroup2").then(|| PathBuf::from(point))
        })
        .unwrap_or_else(|| PathBuf::from("/sys/fs/cgroup/unified"))
}

/// A shell in a fresh cgroup2 directory that, for each line it reads,
/// tries to open the test's device node and a few real devices and prints
/// the result. Kills the shell and removes the cgroup and the node on drop.
struct Sandbox {
    dir: PathBuf,
    node_dir: PathBuf,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

/// `true`, not `:`: a failed redirection on a special builtin makes a
/// POSIX shell exit. Errors go to stdout so that probe() sees them.
const SCRIPT: &str = r#"
exec 2>&1
while read x; do
  true <"$1"; echo "read=$?"
  true >"$1"; echo "write=$?"
  true <>"$1"; echo "rdwr=$?"
  true </dev/zero; echo "zero=$?"
  true <>/dev/null; echo "null=$?"
  echo end
done
"#;

impl Sandbox {
    fn new() -> Self {
        let name = format!("husk-bpf-test-{}", std::process::id());
        let dir = cgroup2_mount().join(&name);
        fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        // A node for /dev/kmsg (c 1:11), which runc's defaults do not cover
        // (they do allow /dev/null, /dev/zero & co. whatever the config).
        let node_dir = std::env::temp_dir().join(&name);
        let _ = fs::remove_dir_all(&node_dir);
        fs::create_dir(&node_dir).unwrap();
        nix::sys::stat::mknod(
            &node_dir.join("kmsg"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(0o600),
            nix::sys::stat::makedev(1, 11),
        )
        .unwrap();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(SCRIPT)
            .arg("sh")
            .arg(node_dir.join("kmsg"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let sandbox = Sandbox {
            dir,
            node_dir,
            child,
            stdin,
            stdout,
        };
        // The shell opens nothing until it reads a line: move it first.
        fs::write(
            sandbox.dir.join("cgroup.procs"),
            sandbox.child.id().to_string(),
        )
        .unwrap();
        sandbox
    }

    /// One round of opens: "read=0 write=0 rdwr=0 zero=0 null=0", with E
    /// for a failed one; every failure must be EPERM.
    fn probe(&mut self) -> String {
        writeln!(self.stdin, "go").unwrap();
        let mut results: Vec<String> = Vec::new();
        let mut eperm = 0;
        loop {
            let mut line = String::new();
            assert_ne!(self.stdout.read_line(&mut line).unwrap(), 0, "shell died");
            let line = line.trim();
            if line == "end" {
                let failed = results.iter().filter(|r| r.ends_with("=E")).count();
                assert_eq!(eperm, failed, "{results:?}: not all EPERM");
                return results.join(" ");
            }
            if line.ends_with(": Operation not permitted") {
                eperm += 1;
                continue;
            }
            // Any failing redirection is "1" or "2" depending on the shell.
            results.push(match line.split_once('=') {
                Some((what, "0")) => format!("{what}=0"),
                Some((what, _)) => format!("{what}=E"),
                None => panic!("unexpected output {line:?}"),
            });
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = bpf::detach_device_rules(&self.dir);
        for _ in 0..50 {
            match fs::remove_dir(&self.dir) {
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => sleep(Duration::from_millis(20)),
                _ => break,
            }
        }
        let _ = fs::remove_dir_all(&self.node_dir);
    }
}

fn allow_all() -> DeviceCgroup {
    DeviceCgroup {
        allow: true,
        access: Some("rwm".into()),
        ..Default::default()
    }
}

fn deny_all() -> DeviceCgroup {
    DeviceCgroup {
        allow: false,
        access: Some("rwm".into()),
        ..Default::default()
    }
}

fn kmsg(allow: bool, access: &str) -> DeviceCgroup {
    DeviceCgroup {
        allow,
        typ: Some("c".into()),
        major: Some(1),
        minor: Some(11),
        access: Some(access.into()),
    }
}

fn apply(dir: &Path, rules: &[DeviceCgroup]) -> Vec<u32> {
    bpf::apply_device_rules(dir, rules).unwrap_or_else(|e| panic!("{e}"));
    bpf::attached(dir).unwrap()
}

#[test]
fn device_filter_on_the_real_kernel() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: loading BPF programs and making cgroups needs root");
        return;
    }
    let mut sb = Sandbox::new();
    let dir = sb.dir.clone();
    assert_eq!(sb.probe(), "read=0 write=0 rdwr=0 zero=0 null=0");

    // Allow all but reading kmsg. An O_RDWR open asks for r and w at once
    // and is denied too.
    let rules = [allow_all(), kmsg(false, "r")];
    let first = apply(&dir, &rules);
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(sb.probe(), "read=E write=0 rdwr=E zero=0 null=0");

    // The same rules again: Ok, and the program stays.
    assert_eq!(apply(&dir, &rules), first);

    // Everything allowed: replaced in place, still exactly one program.
    let second = apply(&dir, &[allow_all()]);
    assert_eq!(second.len(), 1, "{second:?}");
    assert_ne!(second, first);
    assert_eq!(sb.probe(), "read=0 write=0 rdwr=0 zero=0 null=0");

    // Deny all: only runc's defaults (/dev/null, /dev/zero...) remain.
    let third = apply(&dir, &[deny_all()]);
    assert_eq!(third.len(), 1);
    assert_eq!(sb.probe(), "read=E write=E rdwr=E zero=0 null=0");

    // Deny all, then write-only kmsg.
    apply(&dir, &[deny_all(), kmsg(true, "w")]);
    assert_eq!(sb.probe(), "read=E write=0 rdwr=E zero=0 null=0");

    // Without BPF_F_REPLACE (kernels before 5.6): attach, then detach the
    // old one; still exactly one program after.
    let before = bpf::attached(&dir).unwrap();
    bpf::apply_with(&dir, &[allow_all(), kmsg(false, "w")], false).unwrap();
    let after = bpf::attached(&dir).unwrap();
    assert_eq!(after.len(), 1, "{after:?}");
    assert_ne!(after, before);
    assert_eq!(sb.probe(), "read=0 write=E rdwr=E zero=0 null=0");

    // Detached: back to no filter.
    bpf::detach_device_rules(&dir).unwrap();
    assert!(bpf::attached(&dir).unwrap().is_empty());
    assert_eq!(sb.probe(), "read=0 write=0 rdwr=0 zero=0 null=0");
}

#[test]
fn the_error_names_the_cgroup() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let e = bpf::apply_device_rules(Path::new("/nonexistent-husk-cgroup"), &[]).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("cannot read /nonexistent-husk-cgroup: "),
        "{e}"
    );
    // A directory that is not a cgroup: loading works, attaching does not.
    let e = bpf::apply_device_rules(Path::new("/tmp"), &[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "/tmp: cannot list its device programs (not a cgroup v2 directory?): Bad file number"
    );
}
