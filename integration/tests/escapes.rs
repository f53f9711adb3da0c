//! Attacks on the runtime itself (issue 7): writes to /proc that an
//! overmount would redirect, a rootfs whose /proc, /sys or /dev are
//! symlinks out of it, and container processes trying to reach the husk
//! binary through /proc/PID/exe. Each checks the host afterwards.

use husk_integration::*;
use serde_json::json;
use std::fs;

// ---------------------------------------------------------------------------
// Writes to /proc through a verified procfs handle (CVE-2025-52881 class)

/// A host file bind-mounted over /proc/sys/kernel/domainname, with a
/// linux.sysctl entry for kernel.domainname: a runtime writing the path
/// would write the host file. The create must be refused (runc refuses the
/// mount itself; husk refuses the write) and the host file left alone.
#[test]
fn sysctl_through_a_bind_over_proc_sys_is_refused() {
    let mut b = Bundle::new("sysctl-bind", &["true"]);
    let victim = write_file(&b.host_dir().join("victim"), "untouched\n");
    b.add_mount(bind_mount(&victim, "/proc/sys/kernel/domainname", &["bind"]));
    b.config_mut()["linux"]["sysctl"] = json!({ "kernel.domainname": "pwned" });
    let out = b.run(&[]);
    out.failed_with_one_line();
    if !is_runc() {
        out.stderr_mentions_any(&["linux.sysctl.kernel.domainname"])
            .stderr_mentions_any(&["mount point"]);
    }
    assert_eq!(
        fs::read_to_string(&victim).unwrap(),
        "untouched\n",
        "the sysctl was written into the host file mounted over /proc/sys"
    );
    assert_no_leftovers(&b, b.id());
}

/// A tmpfs over /proc/sys/kernel: writing kernel.domainname there would
/// create a plain file on the tmpfs and report success while the sysctl is
/// never set. Refused.
#[test]
fn sysctl_through_a_tmpfs_over_proc_sys_is_refused() {
    let mut b = Bundle::new("sysctl-tmpfs", &["cat", "/proc/sys/kernel/domainname"]);
    b.add_mount(json!({
        "destination": "/proc/sys/kernel", "type": "tmpfs", "source": "tmpfs",
        "options": ["size=64k"]
    }));
    b.config_mut()["linux"]["sysctl"] = json!({ "kernel.domainname": "pwned" });
    let out = b.run(&[]);
    out.failed_with_one_line();
    if !is_runc() {
        out.stderr_mentions_any(&["linux.sysctl.kernel.domainname"])
            .stderr_mentions_any(&["mount point"]);
    }
    assert_no_leftovers(&b, b.id());
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
