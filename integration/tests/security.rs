//! Escapes a hostile config or rootfs must not achieve.

use husk_integration::*;
use serde_json::json;

/// process.cwd through /proc/self/fd/N must not land in a host directory
/// that the runtime had open (the CVE-2024-21626 class): either create
/// refuses, or the process runs somewhere inside its own root.
#[test]
fn cwd_through_an_inherited_fd_does_not_escape() {
    for n in 3..12 {
        let mut b = Bundle::new(&format!("cwd-fd{n}"), &["sh", "-c", "ls -a"]);
        b.config_mut()["process"]["cwd"] = json!(format!("/proc/self/fd/{n}"));
        let out = b.run(&[]);
        assert!(
            !(out.success() && out.stdout.contains("state.json")),
            "cwd /proc/self/fd/{n} reached the runtime's state directory:\n{}",
            out.describe()
        );
        if !out.success() {
            out.failed_with_message();
        }
        assert_no_leftovers(&b, b.id());
    }
}

/// A /dev/null that is a symlink (here to a host-looking path inside the
/// rootfs) must never be used to mask paths.
#[test]
fn masking_needs_the_real_null_device() {
    let mut b = Bundle::new("fake-null", &["true"]);
    // Without a /dev tmpfs, the rootfs's own /dev is used as is.
    b.edit(|c| {
        let mounts = c["mounts"].as_array_mut().expect("mounts");
        mounts.retain(|m| m["destination"] != "/dev");
    });
    let dev = b.rootfs().join("dev");
    std::fs::create_dir_all(&dev).unwrap();
    let _ = std::fs::remove_file(dev.join("null"));
    std::os::unix::fs::symlink("/proc/sys/kernel/core_pattern", dev.join("null")).unwrap();
    let out = b.run(&[]);
    out.failed_with_message();
    assert_no_leftovers(&b, b.id());
}
