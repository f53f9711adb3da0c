//! Real cgroups on the test host (needs root). Every test works under a
//! unique top-level name and removes it on drop, even when an assertion
//! fails halfway.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::sleep;
use std::time::Duration;

use husk_cgroups::{Cgroup, CgroupError};
use husk_spec::{Cpu, Memory, Pids, Resources};

const MIB: i64 = 1 << 20;

macro_rules! require_root {
    () => {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: creating cgroups needs root");
            return;
        }
    };
}

fn unique() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "husk-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Removes a cgroup subtree in every hierarchy when dropped.
struct Cleanup(Vec<PathBuf>);

impl Cleanup {
    fn new(cgroups_path: &str) -> Self {
        let cg = Cgroup::resolve(Some(cgroups_path), "cleanup").unwrap();
        Cleanup(cg.dirs().map(Path::to_path_buf).collect())
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        fn rm(dir: &Path) {
            if let Ok(entries) = fs::read_dir(dir) {
                for e in entries.flatten() {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        rm(&e.path());
                    }
                }
            }
            for _ in 0..50 {
                match fs::remove_dir(dir) {
                    Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                        sleep(Duration::from_millis(20))
                    }
                    _ => return,
                }
            }
        }
        for d in &self.0 {
            rm(d);
        }
    }
}

/// A `sleep` process that is killed and reaped when dropped.
struct Sleeper(Child);

impl Sleeper {
    fn spawn() -> Self {
        Sleeper(
            Command::new("sleep")
                .arg("30")
                .stdin(Stdio::null())
                .spawn()
                .unwrap(),
        )
    }
    fn pid(&self) -> i32 {
        self.0.id() as i32
    }
    fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        self.stop();
    }
}

fn read(dir: &Path, file: &str) -> String {
    fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join(file).display()))
        .trim()
        .to_string()
}

/// The container's directory in the hierarchy that has `file`.
fn dir_with<'a>(cg: &'a Cgroup, file: &str) -> &'a Path {
    cg.dirs()
        .find(|d| d.join(file).exists())
        .unwrap_or_else(|| panic!("no hierarchy has {file}"))
}

fn procs(dir: &Path) -> Vec<i32> {
    read(dir, "cgroup.procs")
        .lines()
        .map(|l| l.parse().unwrap())
        .collect()
}

fn assert_all_gone(dirs: &[PathBuf]) {
    for d in dirs {
        assert!(!d.exists(), "{} still exists", d.display());
    }
}

fn full_resources(v2: bool) -> Resources {
    Resources {
        memory: Some(Memory {
            limit: Some(64 * MIB),
            reservation: Some(32 * MIB),
            swap: Some(128 * MIB),
            swappiness: (!v2).then_some(10),
            ..Default::default()
        }),
        pids: Some(Pids { limit: 42 }),
        cpu: Some(Cpu {
            shares: Some(512),
            quota: Some(50_000),
            period: Some(100_000),
            cpus: Some("0".into()),
            mems: Some("0".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn limits_are_applied_pids_tracked_and_everything_removed() {
    require_root!();
    let top = unique();
    let _cleanup = Cleanup::new(&format!("/{top}"));
    let cg = Cgroup::resolve(Some(&format!("/{top}/ctr")), "ctr").unwrap();
    let dirs: Vec<PathBuf> = cg.dirs().map(Path::to_path_buf).collect();
    let parents: Vec<PathBuf> = dirs
        .iter()
        .map(|d| d.parent().unwrap().to_path_buf())
        .collect();
    assert_all_gone(&dirs);
    assert_all_gone(&parents);

    cg.create(Some(&full_resources(cg.is_v2()))).unwrap();
    for d in &dirs {
        assert!(d.is_dir(), "{} was not created", d.display());
    }
    if cg.is_v2() {
        let d = dir_with(&cg, "cgroup.controllers");
        assert_eq!(read(d, "memory.max"), (64 * MIB).to_string());
        assert_eq!(read(d, "memory.low"), (32 * MIB).to_string());
        if d.join("memory.swap.max").exists() {
            assert_eq!(read(d, "memory.swap.max"), (64 * MIB).to_string());
        }
        assert_eq!(read(d, "pids.max"), "42");
        assert_eq!(read(d, "cpu.weight"), "20");
        assert_eq!(read(d, "cpu.max"), "50000 100000");
        assert_eq!(read(d, "cpuset.cpus"), "0");
        assert_eq!(read(d, "cpuset.mems"), "0");
    } else {
        let mem = dir_with(&cg, "memory.limit_in_bytes");
        assert_eq!(read(mem, "memory.limit_in_bytes"), (64 * MIB).to_string());
        assert_eq!(
            read(mem, "memory.soft_limit_in_bytes"),
            (32 * MIB).to_string()
        );
        assert_eq!(
            read(mem, "memory.memsw.limit_in_bytes"),
            (128 * MIB).to_string()
        );
        assert_eq!(read(mem, "memory.swappiness"), "10");
        assert_eq!(read(dir_with(&cg, "pids.max"), "pids.max"), "42");
        let cpu = dir_with(&cg, "cpu.shares");
        assert_eq!(read(cpu, "cpu.shares"), "512");
        assert_eq!(read(cpu, "cpu.cfs_quota_us"), "50000");
        assert_eq!(read(cpu, "cpu.cfs_period_us"), "100000");
        let cpuset = dir_with(&cg, "cpuset.cpus");
        assert_eq!(read(cpuset, "cpuset.cpus"), "0");
        assert_eq!(read(cpuset, "cpuset.mems"), "0");
    }

    let mut child = Sleeper::spawn();
    assert_eq!(cg.pids().unwrap(), Vec::<i32>::new());
    cg.add_pid(child.pid()).unwrap();
    assert_eq!(cg.pids().unwrap(), vec![child.pid()]);
    for d in &dirs {
        assert_eq!(procs(d), vec![child.pid()], "{}", d.display());
    }
    let membership = fs::read_to_string(format!("/proc/{}/cgroup", child.pid())).unwrap();
    let joined_lines = membership
        .lines()
        .filter(|l| l.ends_with(&format!("/{top}/ctr")))
        .count();
    assert_eq!(joined_lines, dirs.len(), "{membership}");

    child.stop();
    cg.destroy().unwrap();
    assert_all_gone(&dirs);
    // The parent was created by create(), so it goes too.
    assert_all_gone(&parents);
    // Destroying again finds nothing to do.
    cg.destroy().unwrap();
}

#[test]
fn default_path_is_the_id_below_our_own_cgroup_as_with_runc() {
    require_root!();
    let id = unique();
    let cg = Cgroup::resolve(None, &id).unwrap();
    let _cleanup = Cleanup(cg.dirs().map(Path::to_path_buf).collect());
    let same: Vec<PathBuf> = Cgroup::resolve(Some(""), &id)
        .unwrap()
        .dirs()
        .map(Path::to_path_buf)
        .collect();
    assert_eq!(cg.dirs().collect::<Vec<_>>(), same);

    cg.create(None).unwrap();
    let child = Sleeper::spawn();
    cg.add_pid(child.pid()).unwrap();
    assert_eq!(cg.pids().unwrap(), vec![child.pid()]);

    // Every cgroup the child is in is ours plus "/<id>", except in
    // hierarchies that are not mounted and so were not joined.
    let ours = fs::read_to_string("/proc/self/cgroup").unwrap();
    let childs = fs::read_to_string(format!("/proc/{}/cgroup", child.pid())).unwrap();
    let mut moved = 0;
    for (mine, theirs) in ours.lines().zip(childs.lines()) {
        let (prefix, my_path) = mine.rsplit_once(':').unwrap();
        let (their_prefix, their_path) = theirs.rsplit_once(':').unwrap();
        assert_eq!(prefix, their_prefix);
        if their_path != my_path {
            let expected = Path::new(my_path).join(&id);
            assert_eq!(Path::new(their_path), expected, "{theirs}");
            moved += 1;
        }
    }
    assert_eq!(moved, cg.dirs().count(), "{childs}");
    drop(child);
    cg.destroy().unwrap();
    assert!(cg.dirs().all(|d| !d.exists()));
}

#[test]
fn a_parent_that_existed_before_is_kept() {
    require_root!();
    let top = unique();
    let _cleanup = Cleanup::new(&format!("/{top}"));
    let parent = Cgroup::resolve(Some(&format!("/{top}")), "p").unwrap();
    parent.create(None).unwrap();
    let first = Cgroup::resolve(Some(&format!("/{top}/a")), "a").unwrap();
    first.create(None).unwrap();
    let second = Cgroup::resolve(Some(&format!("/{top}/b")), "b").unwrap();
    second.create(None).unwrap();

    first.destroy().unwrap();
    assert!(first.dirs().all(|d| !d.exists()));
    assert!(second.dirs().all(Path::is_dir));
    assert!(parent.dirs().all(Path::is_dir));
    second.destroy().unwrap();
    assert!(second.dirs().all(|d| !d.exists()));
    assert!(parent.dirs().all(Path::is_dir));
    parent.destroy().unwrap();
    assert!(parent.dirs().all(|d| !d.exists()));
}

#[test]
fn a_parent_it_created_stays_while_another_container_uses_it() {
    require_root!();
    let top = unique();
    let _cleanup = Cleanup::new(&format!("/{top}"));
    let first = Cgroup::resolve(Some(&format!("/{top}/a")), "a").unwrap();
    first.create(None).unwrap();
    let second = Cgroup::resolve(Some(&format!("/{top}/b")), "b").unwrap();
    second.create(None).unwrap();
    let child = Sleeper::spawn();
    second.add_pid(child.pid()).unwrap();

    first.destroy().unwrap();
    assert!(first.dirs().all(|d| !d.exists()));
    assert!(second.dirs().all(Path::is_dir));
    assert_eq!(second.pids().unwrap(), vec![child.pid()]);
}

#[test]
fn state_round_trip_lets_a_later_process_destroy() {
    require_root!();
    let top = unique();
    let _cleanup = Cleanup::new(&format!("/{top}"));
    let cg = Cgroup::resolve(Some(&format!("/{top}/x/y")), "y").unwrap();
    cg.create(None).unwrap();
    let json = serde_json::to_string(&cg).unwrap();
    drop(cg);

    let loaded: Cgroup = serde_json::from_str(&json).unwrap();
    let tops: Vec<PathBuf> = loaded
        .dirs()
        .map(|d| d.parent().unwrap().parent().unwrap().to_path_buf())
        .collect();
    assert!(tops.iter().all(|t| t.ends_with(&top) && t.is_dir()));
    loaded.destroy().unwrap();
    assert_all_gone(&tops);
}

#[test]
fn state_saved_before_create_still_cleans_up_and_keeps_older_parents() {
    require_root!();
    let top = unique();
    let _cleanup = Cleanup::new(&format!("/{top}"));
    let shared = Cgroup::resolve(Some(&format!("/{top}")), "shared").unwrap();
    shared.create(None).unwrap();
    let cg = Cgroup::resolve(Some(&format!("/{top}/x/y")), "y").unwrap();
    // As if the runtime saved its state, then died inside create().
    let early = serde_json::to_string(&cg).unwrap();
    cg.create(None).unwrap();
    let middles: Vec<PathBuf> = cg
        .dirs()
        .map(|d| d.parent().unwrap().to_path_buf())
        .collect();
    assert!(middles.iter().all(|d| d.is_dir()));

    let loaded: Cgroup = serde_json::from_str(&early).unwrap();
    loaded.destroy().unwrap();
    assert_all_gone(&middles);
    assert!(shared.dirs().all(Path::is_dir));
}

#[test]
fn failed_setup_removes_what_it_created() {
    require_root!();
    let top = unique();
    let _cleanup = Cleanup::new(&format!("/{top}"));
    let cg = Cgroup::resolve(Some(&format!("/{top}/ctr")), "ctr").unwrap();
    let res = Resources {
        cpu: Some(Cpu {
            cpus: Some("100000".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let err = cg.create(Some(&res)).unwrap_err();
    if !cg.is_v2() {
        let msg = err.to_string();
        assert!(
            msg.starts_with("cannot write \"100000\" to ") && msg.contains("/cpuset.cpus: "),
            "{msg}"
        );
    }
    let tops: Vec<PathBuf> = cg
        .dirs()
        .map(|d| d.parent().unwrap().to_path_buf())
        .collect();
    assert_all_gone(&tops);
}

#[test]
fn unified_settings_on_v1_fail_before_anything_is_created() {
    require_root!();
    let top = unique();
    let _cleanup = Cleanup::new(&format!("/{top}"));
    let cg = Cgroup::resolve(Some(&format!("/{top}")), "ctr").unwrap();
    if cg.is_v2() {
        eprintln!("skipped: only meaningful on a cgroup v1 host");
        return;
    }
    let res = Resources {
        unified: Some([("memory.high".to_string(), "1G".to_string())].into()),
        ..Default::default()
    };
    let err = cg.create(Some(&res)).unwrap_err();
    assert!(
        matches!(err, CgroupError::Invalid { ref field, .. } if field == "linux.resources.unified"),
        "{err}"
    );
    assert!(cg.dirs().all(|d| !d.exists()));
}

#[test]
fn unlimited_values() {
    require_root!();
    let top = unique();
    let _cleanup = Cleanup::new(&format!("/{top}"));
    let cg = Cgroup::resolve(Some(&format!("/{top}/ctr")), "ctr").unwrap();
    let res = Resources {
        memory: Some(Memory {
            limit: Some(-1),
            ..Default::default()
        }),
        pids: Some(Pids { limit: 0 }),
        cpu: Some(Cpu {
            quota: Some(-1),
            period: Some(200_000),
            ..Default::default()
        }),
        ..Default::default()
    };
    cg.create(Some(&res)).unwrap();
    if cg.is_v2() {
        let d = dir_with(&cg, "cgroup.controllers");
        assert_eq!(read(d, "memory.max"), "max");
        assert_eq!(read(d, "pids.max"), "max");
        assert_eq!(read(d, "cpu.max"), "max 200000");
    } else {
        // Compare with the fresh parent create() made, which has the
        // kernel's own notion of "unlimited".
        let mem = dir_with(&cg, "memory.limit_in_bytes");
        let unlimited = read(mem.parent().unwrap(), "memory.limit_in_bytes");
        assert!(unlimited.parse::<u64>().unwrap() > 1 << 60, "{unlimited}");
        assert_eq!(read(mem, "memory.limit_in_bytes"), unlimited);
        assert_eq!(read(mem, "memory.memsw.limit_in_bytes"), unlimited);
        assert_eq!(read(dir_with(&cg, "pids.max"), "pids.max"), "max");
        let cpu = dir_with(&cg, "cpu.cfs_quota_us");
        assert_eq!(read(cpu, "cpu.cfs_quota_us"), "-1");
        assert_eq!(read(cpu, "cpu.cfs_period_us"), "200000");
    }
    cg.destroy().unwrap();
    assert!(cg.dirs().all(|d| !d.exists()));
}

#[test]
fn new_v1_cpuset_cgroups_inherit_cpus_and_mems() {
    require_root!();
    let top = unique();
    let _cleanup = Cleanup::new(&format!("/{top}"));
    let cg = Cgroup::resolve(Some(&format!("/{top}/a/b")), "b").unwrap();
    if cg.is_v2() {
        eprintln!("skipped: v2 cpusets inherit without help");
        return;
    }
    // Before create() only the mount point (three levels up) exists.
    let Some(leaf) = cg
        .dirs()
        .find(|d| d.ancestors().nth(3).unwrap().join("cpuset.mems").exists())
        .map(Path::to_path_buf)
    else {
        eprintln!("skipped: no cpuset hierarchy");
        return;
    };
    cg.create(None).unwrap();
    let root = leaf.ancestors().nth(3).unwrap();
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let expected = read(root, file);
        assert!(!expected.is_empty());
        assert_eq!(read(&leaf, file), expected);
        assert_eq!(read(leaf.parent().unwrap(), file), expected);
    }
    // Without the copied values the kernel would refuse with ENOSPC.
    let child = Sleeper::spawn();
    cg.add_pid(child.pid()).unwrap();
    assert_eq!(procs(&leaf), vec![child.pid()]);
}

#[test]
fn pids_include_nested_cgroups_and_destroy_removes_them() {
    require_root!();
    let top = unique();
    let _cleanup = Cleanup::new(&format!("/{top}"));
    let cg = Cgroup::resolve(Some(&format!("/{top}")), "ctr").unwrap();
    cg.create(None).unwrap();
    let outer = Sleeper::spawn();
    cg.add_pid(outer.pid()).unwrap();
    // What a container's own init might do: make a sub-cgroup and move in.
    let nested = Cgroup::resolve(Some(&format!("/{top}/inner")), "inner").unwrap();
    nested.create(None).unwrap();
    let mut inner = Sleeper::spawn();
    nested.add_pid(inner.pid()).unwrap();

    let mut expected = vec![outer.pid(), inner.pid()];
    expected.sort_unstable();
    assert_eq!(cg.pids().unwrap(), expected);

    drop(outer);
    inner.stop();
    cg.destroy().unwrap();
    assert!(cg.dirs().all(|d| !d.exists()));
}
