//! Idmapped bind mounts: the `idmap` and `ridmap` options with the mount's
//! own uidMappings/gidMappings or, without them, the container's. Files on
//! the host keep their owners; the container sees them mapped. runc 1.1.5
//! has no idmapped mounts: these tests are skipped under it.

use husk_integration::*;
use serde_json::{json, Value};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

const RUNC_LACKS: &str = "runc 1.1.5 has no idmapped mounts";

/// A host directory with a file owned by root, for bind mounting.
fn source_dir(b: &Bundle, name: &str) -> PathBuf {
    let d = b.host_dir().join(name);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("f"), "x").unwrap();
    d
}

/// Runs the container; None (after printing SKIP) when the kernel cannot
/// idmap the source's filesystem (tmpfs before Linux 6.3, as in the v2 VM).
fn run_if_supported(b: &Bundle) -> Option<String> {
    let out = b.run(&[]);
    if !out.success() && out.stderr.contains("may not support idmapped mounts") {
        eprintln!("SKIP: {}", out.stderr.trim());
        return None;
    }
    out.ok();
    b.runtime().assert_gone(b.id());
    Some(out.stdout)
}

fn idmapped(src: &Path, dest: &str, opt: &str, maps: Option<(Value, Value)>) -> Value {
    let mut m = json!({
        "destination": dest, "type": "bind", "source": src,
        "options": ["bind", opt],
    });
    if let Some((u, g)) = maps {
        m["uidMappings"] = u;
        m["gidMappings"] = g;
    }
    m
}

#[test]
fn idmap_with_the_mounts_own_mappings() {
    if skip_under_runc("idmap_with_the_mounts_own_mappings", RUNC_LACKS) {
        return;
    }
    let mut b = Bundle::new("idmap-own", &["stat", "-c", "%u %g", "/mnt/id/f"]);
    let src = source_dir(&b, "idsrc");
    b.add_mount(idmapped(
        &src,
        "/mnt/id",
        "idmap",
        Some((
            json!([{"containerID": 0, "hostID": 1234, "size": 1}]),
            json!([{"containerID": 0, "hostID": 2345, "size": 1}]),
        )),
    ));
    let Some(out) = run_if_supported(&b) else {
        return;
    };
    assert_eq!(
        out.trim(),
        "1234 2345",
        "the container sees the mapped owner"
    );
    let md = std::fs::metadata(src.join("f")).unwrap();
    assert_eq!(
        (md.uid(), md.gid()),
        (0, 0),
        "the host file keeps its owner"
    );
    // runtimetest sees the mount as idmapped (mountinfo) among the rest.
    check_with_runtimetest(&mut b);
    assert_no_leftovers(&b, b.id());
}

/// No mappings on the mount: the container's user namespace's are used, so
/// root's files are root's inside too (without idmap they would be
/// nobody's).
#[test]
fn idmap_defaults_to_the_containers_mappings() {
    if skip_under_runc("idmap_defaults_to_the_containers_mappings", RUNC_LACKS) {
        return;
    }
    let mut b = Bundle::new(
        "idmap-userns",
        &["stat", "-c", "%u", "/mnt/id/f", "/mnt/plain/f"],
    );
    b.set_namespace("user", None);
    let map = json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
    b.config_mut()["linux"]["uidMappings"] = map.clone();
    b.config_mut()["linux"]["gidMappings"] = map;
    // The namespace's root may not create directories in root's rootfs.
    for d in ["mnt/id", "mnt/plain"] {
        std::fs::create_dir_all(b.rootfs().join(d)).unwrap();
    }
    let src = source_dir(&b, "idsrc");
    b.add_mount(idmapped(&src, "/mnt/id", "idmap", None));
    b.add_mount(bind_mount(&src, "/mnt/plain", &["bind"]));
    let Some(out) = run_if_supported(&b) else {
        return;
    };
    assert_eq!(
        squash_ws(&out),
        "0\n65534",
        "idmapped: root; plain bind: the overflow uid"
    );
    check_with_runtimetest(&mut b);
    assert_no_leftovers(&b, b.id());
}

/// ridmap maps the submounts of an rbind too.
#[test]
fn ridmap_maps_submounts() {
    if skip_under_runc("ridmap_maps_submounts", RUNC_LACKS) {
        return;
    }
    let mut b = Bundle::new(
        "ridmap",
        &["stat", "-c", "%u", "/mnt/id/f", "/mnt/id/sub/g"],
    );
    let src = source_dir(&b, "idsrc");
    let sub = src.join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "husk-idmap-sub"])
        .arg(&sub)
        .status()
        .unwrap()
        .success();
    assert!(ok, "mount a tmpfs under the source");
    std::fs::write(sub.join("g"), "y").unwrap();
    let mut m = idmapped(
        &src,
        "/mnt/id",
        "ridmap",
        Some((
            json!([{"containerID": 0, "hostID": 777, "size": 1}]),
            json!([{"containerID": 0, "hostID": 777, "size": 1}]),
        )),
    );
    m["options"] = json!(["rbind", "ridmap"]);
    b.add_mount(m);
    let out = run_if_supported(&b);
    let _ = std::process::Command::new("umount").arg(&sub).status();
    let Some(out) = out else {
        return;
    };
    assert_eq!(squash_ws(&out), "777\n777");
    assert_no_leftovers(&b, b.id());
}

#[test]
fn idmap_on_a_non_bind_mount_is_refused() {
    if skip_under_runc("idmap_on_a_non_bind_mount_is_refused", RUNC_LACKS) {
        return;
    }
    let mut b = Bundle::new("idmap-tmpfs", &["true"]);
    b.add_mount(json!({
        "destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs",
        "options": ["idmap"],
        "uidMappings": [{"containerID": 0, "hostID": 1, "size": 1}],
        "gidMappings": [{"containerID": 0, "hostID": 1, "size": 1}],
    }));
    let n = b.config()["mounts"].as_array().unwrap().len() - 1;
    b.create()
        .failed_with_one_line()
        .stderr_mentions_any(&[&format!("mounts[{n}].options")]);
    b.runtime().assert_gone(b.id());
    assert_no_leftovers(&b, b.id());
}
