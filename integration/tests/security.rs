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

/// A /dev/null that is a symlink (to the host's core_pattern, the
/// CVE-2025-31133 attack) must never be used to mask paths: husk either
/// refuses, or replaces the link by the real null device and masks with that.
#[test]
fn masking_needs_the_real_null_device() {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let core_pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    let mut b = Bundle::new(
        "fake-null",
        &["sh", "-c", "wc -c < /proc/kcore 2>/dev/null; true"],
    );
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
    if out.success() {
        let md = std::fs::symlink_metadata(dev.join("null")).unwrap();
        assert!(
            md.file_type().is_char_device() && md.rdev() == libc::makedev(1, 3),
            "the planted /dev/null link should have been replaced by the 1:3 device: {md:?}"
        );
    } else {
        out.failed_with_message();
    }
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap(),
        core_pattern,
        "the host's core_pattern changed"
    );
    assert_no_leftovers(&b, b.id());
}
