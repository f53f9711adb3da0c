//! The serde format of [`Cgroup`] is part of every container's state.json:
//! a state written by an earlier husk must load, and delete, with this one.
//! The JSON below was captured from husk before the drivers became one
//! enum (v1 and v2 cgroupfs, systemd); `@` stands for a scratch directory.

use std::path::PathBuf;

use crate::resolve::Hierarchy;
use crate::tests::Scratch;
use crate::Cgroup;

/// A hybrid host's cgroup after create(): every hierarchy joined, one
/// parent made in one of them.
const V1: &str = r#"{"version":"v1","hierarchies":[{"controllers":["cpu","cpuacct"],"mount_point":"@/cpu,cpuacct","dir":"@/cpu,cpuacct/top/ctr"},{"controllers":["name=systemd"],"mount_point":"@/systemd","dir":"@/systemd/top/ctr"},{"controllers":[],"mount_point":"@/unified","dir":"@/unified/top/ctr"}],"planned":["@/cpu,cpuacct/top","@/cpu,cpuacct/top/ctr","@/systemd/top/ctr","@/unified/top/ctr"],"created":["@/cpu,cpuacct/top","@/cpu,cpuacct/top/ctr","@/systemd/top/ctr","@/unified/top/ctr"]}"#;

/// A pure v2 host's cgroup saved before create() returned.
const V2: &str = r#"{"version":"v2","hierarchies":[{"controllers":[],"mount_point":"@/unified","dir":"@/unified/top/ctr"}],"planned":["@/unified/top","@/unified/top/ctr"],"created":null}"#;

/// The systemd driver's cgroup once the scope was started.
const SYSTEMD: &str = r#"{"version":"v2","hierarchies":[{"controllers":[],"mount_point":"@/unified","dir":"@/unified/system.slice/husk-c1.scope"}],"planned":[],"created":[],"systemd":{"name":"husk-c1.scope","slice":"system.slice","description":"husk container c1","started":true}}"#;

fn at(json: &str, scratch: &Scratch) -> String {
    json.replace('@', &scratch.0.display().to_string())
}

fn hierarchy(root: &std::path::Path, mount: &str, controllers: &[&str], rel: &str) -> Hierarchy {
    Hierarchy {
        controllers: controllers.iter().map(|c| c.to_string()).collect(),
        mount_point: root.join(mount),
        dir: root.join(mount).join(rel),
    }
}

/// The three cgroups above, built the way resolve(), resolve_systemd()
/// and create() build them.
fn built(scratch: &Scratch) -> [Cgroup; 3] {
    use crate::Driver;
    use std::sync::Mutex;
    let root = &scratch.0;
    let v1_dirs: Vec<PathBuf> = [
        "cpu,cpuacct/top",
        "cpu,cpuacct/top/ctr",
        "systemd/top/ctr",
        "unified/top/ctr",
    ]
    .iter()
    .map(|d| root.join(d))
    .collect();
    let v1 = Cgroup {
        driver: Driver::V1,
        hierarchies: vec![
            hierarchy(root, "cpu,cpuacct", &["cpu", "cpuacct"], "top/ctr"),
            hierarchy(root, "systemd", &["name=systemd"], "top/ctr"),
            hierarchy(root, "unified", &[], "top/ctr"),
        ],
        planned: v1_dirs.clone(),
        created: Mutex::new(Some(v1_dirs)),
    };
    let v2 = Cgroup {
        driver: Driver::V2,
        hierarchies: vec![hierarchy(root, "unified", &[], "top/ctr")],
        planned: vec![root.join("unified/top"), root.join("unified/top/ctr")],
        created: Mutex::default(),
    };
    let placement = crate::systemd::placement(None, "c1").unwrap();
    let unit = crate::systemd::Unit::new(&placement, "c1");
    unit.started
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let systemd = Cgroup {
        driver: Driver::Systemd(unit),
        hierarchies: vec![hierarchy(
            root,
            "unified",
            &[],
            &placement.rel_dir.display().to_string(),
        )],
        planned: vec![],
        created: Mutex::new(Some(vec![])),
    };
    [v1, v2, systemd]
}

#[test]
fn each_driver_serializes_as_state_json_always_had_it() {
    let scratch = Scratch::new("state-pin");
    for (cg, json) in built(&scratch).iter().zip([V1, V2, SYSTEMD]) {
        assert_eq!(serde_json::to_string(cg).unwrap(), at(json, &scratch));
        // The clone a create saves is the same state.
        assert_eq!(
            serde_json::to_string(&cg.clone()).unwrap(),
            at(json, &scratch)
        );
    }
}

#[test]
fn old_states_load_and_round_trip() {
    let scratch = Scratch::new("state-load");
    for (json, v2, systemd) in [(V1, false, false), (V2, true, false), (SYSTEMD, true, true)] {
        let json = at(json, &scratch);
        let cg: Cgroup = serde_json::from_str(&json).unwrap();
        assert_eq!(serde_json::to_string(&cg).unwrap(), json);
        assert_eq!((cg.is_v2(), cg.is_systemd()), (v2, systemd), "{json}");
        let want: Vec<_> = serde_json::from_str::<serde_json::Value>(&json).unwrap()["hierarchies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| PathBuf::from(h["dir"].as_str().unwrap()))
            .collect();
        assert_eq!(cg.dirs().collect::<Vec<_>>(), want);
    }
    // A state from before planned and created were saved.
    let old = r#"{"version":"v1","hierarchies":[{"controllers":["pids"],"mount_point":"/p","dir":"/p/c"}]}"#;
    let cg: Cgroup = serde_json::from_str(old).unwrap();
    assert_eq!(
        serde_json::to_string(&cg).unwrap(),
        r#"{"version":"v1","hierarchies":[{"controllers":["pids"],"mount_point":"/p","dir":"/p/c"}],"planned":[],"created":null}"#
    );
}

#[test]
fn loaded_states_delete_what_they_made() {
    let scratch = Scratch::new("state-delete");
    let mk = |d: &str| std::fs::create_dir_all(scratch.0.join(d)).unwrap();
    // v1: what create() made goes, the mount points stay.
    for d in ["cpu,cpuacct/top/ctr", "systemd/top/ctr", "unified/top/ctr"] {
        mk(d);
    }
    let cg: Cgroup = serde_json::from_str(&at(V1, &scratch)).unwrap();
    cg.destroy().unwrap();
    for d in ["cpu,cpuacct/top", "systemd/top/ctr", "unified/top/ctr"] {
        assert!(!scratch.0.join(d).exists(), "{d}");
    }
    // Made by someone else before resolve(): not in the state, kept.
    assert!(scratch.0.join("systemd/top").is_dir());
    assert!(scratch.0.join("cpu,cpuacct").is_dir());
    // The saved state lists nothing left to remove.
    let saved = serde_json::to_string(&cg).unwrap();
    assert!(saved.ends_with(r#""created":[]}"#), "{saved}");

    // v2 saved before create() returned: the planned directories go.
    mk("unified/top/ctr/sub");
    let cg: Cgroup = serde_json::from_str(&at(V2, &scratch)).unwrap();
    cg.destroy().unwrap();
    assert!(!scratch.0.join("unified/top").exists());
    assert!(scratch.0.join("unified").is_dir());

    // systemd: a scope that was never started is not ours to stop (and
    // no D-Bus call is made); its directory is left alone.
    mk("unified/system.slice/husk-c1.scope");
    let never = at(SYSTEMD, &scratch).replace("\"started\":true", "\"started\":false");
    let cg: Cgroup = serde_json::from_str(&never).unwrap();
    cg.destroy().unwrap();
    assert!(scratch
        .0
        .join("unified/system.slice/husk-c1.scope")
        .is_dir());
    assert_eq!(serde_json::to_string(&cg).unwrap(), never);
}
