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
use husk_spec::{
    BlockIo, Cpu, DeviceCgroup, HugepageLimit, InterfacePriority, Memory, Network, Pids, Rdma,
    Resources, ThrottleDevice,
};

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
        pids: Some(Pids { limit: Some(42) }),
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
        pids: Some(Pids { limit: Some(-1) }),
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

/// Skips the test on a pure v2 host (the v2 writers have unit tests on a
/// fake tree).
macro_rules! require_v1 {
    ($cg:expr) => {
        if $cg.is_v2() {
            eprintln!("skipped: needs a cgroup v1 host");
            return;
        }
    };
}

/// Whether the host mounts a v1 hierarchy with `controller`.
fn host_has(controller: &str) -> bool {
    fs::read_to_string("/proc/self/cgroup")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .any(|cs| cs.split(',').any(|c| c == controller))
}

/// A fresh v1 cgroup "/<unique>/ctr" that is removed on drop.
fn v1_cgroup() -> (Cleanup, Cgroup) {
    let top = unique();
    let cleanup = Cleanup::new(&format!("/{top}"));
    let cg = Cgroup::resolve(Some(&format!("/{top}/ctr")), "ctr").unwrap();
    (cleanup, cg)
}

#[test]
fn memory_swappiness_oom_killer_and_hierarchy_are_applied() {
    require_root!();
    let (_cleanup, cg) = v1_cgroup();
    require_v1!(cg);
    let res = Resources {
        memory: Some(Memory {
            limit: Some(64 * MIB),
            swappiness: Some(0),
            disable_oom_killer: Some(true),
            use_hierarchy: Some(true),
            // Ignored with a warning, as in runc.
            kernel: Some(32 * MIB),
            kernel_tcp: Some(16 * MIB),
            ..Default::default()
        }),
        ..Default::default()
    };
    cg.create(Some(&res)).unwrap();
    let mem = dir_with(&cg, "memory.limit_in_bytes");
    assert_eq!(read(mem, "memory.limit_in_bytes"), (64 * MIB).to_string());
    assert_eq!(read(mem, "memory.swappiness"), "0");
    assert!(
        read(mem, "memory.oom_control").contains("oom_kill_disable 1"),
        "{}",
        read(mem, "memory.oom_control")
    );
    assert_eq!(read(mem, "memory.use_hierarchy"), "1");
    // Turning the OOM killer back on is an update like any other.
    let res = Resources {
        memory: Some(Memory {
            disable_oom_killer: Some(false),
            // Refused by kernels where it is always 1: not an error (runc).
            use_hierarchy: Some(false),
            ..Default::default()
        }),
        ..Default::default()
    };
    cg.update(&res).unwrap();
    assert!(read(mem, "memory.oom_control").contains("oom_kill_disable 0"));
    cg.destroy().unwrap();
}

#[test]
fn cpu_burst_and_idle_are_applied_where_the_kernel_has_them() {
    require_root!();
    let (_cleanup, cg) = v1_cgroup();
    require_v1!(cg);
    let res = Resources {
        cpu: Some(Cpu {
            shares: Some(256),
            quota: Some(50_000),
            period: Some(100_000),
            burst: Some(20_000),
            ..Default::default()
        }),
        ..Default::default()
    };
    cg.create(Some(&res)).unwrap();
    let cpu = dir_with(&cg, "cpu.shares");
    assert_eq!(read(cpu, "cpu.shares"), "256");
    assert_eq!(read(cpu, "cpu.cfs_quota_us"), "50000");
    if cpu.join("cpu.cfs_burst_us").exists() {
        assert_eq!(read(cpu, "cpu.cfs_burst_us"), "20000");
    }
    if cpu.join("cpu.idle").exists() {
        let idle = |i| Resources {
            cpu: Some(Cpu {
                idle: Some(i),
                ..Default::default()
            }),
            ..Default::default()
        };
        cg.update(&idle(1)).unwrap();
        assert_eq!(read(cpu, "cpu.idle"), "1");
        // Leaving idle comes before the new shares.
        let mut back = idle(0);
        back.cpu.as_mut().unwrap().shares = Some(512);
        cg.update(&back).unwrap();
        assert_eq!(read(cpu, "cpu.idle"), "0");
        assert_eq!(read(cpu, "cpu.shares"), "512");
    }
    cg.destroy().unwrap();
}

#[test]
fn realtime_period_and_runtime_are_applied() {
    require_root!();
    let top = unique();
    let _cleanup = Cleanup::new(&format!("/{top}"));
    // Directly below the root, which holds the host's real-time budget.
    let cg = Cgroup::resolve(Some(&format!("/{top}")), "rt").unwrap();
    require_v1!(cg);
    let has_rt = cg
        .dirs()
        .any(|d| d.parent().unwrap().join("cpu.rt_runtime_us").exists());
    let res = Resources {
        cpu: Some(Cpu {
            realtime_period: Some(500_000),
            realtime_runtime: Some(5_000),
            ..Default::default()
        }),
        ..Default::default()
    };
    let result = cg.create(Some(&res));
    if !has_rt {
        let e = result.unwrap_err().to_string();
        assert!(
            e.starts_with("linux.resources.cpu.realtimeRuntime: "),
            "{e}"
        );
        return;
    }
    result.unwrap();
    let cpu = dir_with(&cg, "cpu.rt_runtime_us");
    assert_eq!(read(cpu, "cpu.rt_period_us"), "500000");
    assert_eq!(read(cpu, "cpu.rt_runtime_us"), "5000");
    cg.destroy().unwrap();
}

/// major:minor of the block device mounted on /, from mountinfo.
fn root_device() -> (i64, i64) {
    let mi = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let line = mi
        .lines()
        .find(|l| l.split_whitespace().nth(4) == Some("/"))
        .unwrap();
    let (maj, min) = line
        .split_whitespace()
        .nth(2)
        .unwrap()
        .split_once(':')
        .unwrap();
    (maj.parse().unwrap(), min.parse().unwrap())
}

#[test]
fn blkio_throttles_and_weight_are_applied() {
    require_root!();
    let (_cleanup, cg) = v1_cgroup();
    require_v1!(cg);
    if !host_has("blkio") {
        eprintln!("skipped: no blkio hierarchy");
        return;
    }
    let (major, minor) = root_device();
    if !Path::new(&format!("/sys/dev/block/{major}:{minor}")).exists() {
        eprintln!("skipped: / is not on a block device");
        return;
    }
    let dev = |rate| vec![ThrottleDevice { major, minor, rate }];
    let res = Resources {
        block_io: Some(BlockIo {
            throttle_read_bps_device: dev(10 * MIB as u64),
            throttle_write_bps_device: dev(5 * MIB as u64),
            throttle_read_iops_device: dev(1000),
            throttle_write_iops_device: dev(500),
            ..Default::default()
        }),
        ..Default::default()
    };
    cg.create(Some(&res)).unwrap();
    let blkio = dir_with(&cg, "blkio.throttle.read_bps_device");
    let d = format!("{major}:{minor}");
    assert_eq!(
        read(blkio, "blkio.throttle.read_bps_device"),
        format!("{d} {}", 10 * MIB)
    );
    assert_eq!(
        read(blkio, "blkio.throttle.write_bps_device"),
        format!("{d} {}", 5 * MIB)
    );
    assert_eq!(
        read(blkio, "blkio.throttle.read_iops_device"),
        format!("{d} 1000")
    );
    assert_eq!(
        read(blkio, "blkio.throttle.write_iops_device"),
        format!("{d} 500")
    );

    let weight = Resources {
        block_io: Some(BlockIo {
            weight: Some(300),
            ..Default::default()
        }),
        ..Default::default()
    };
    let file = ["blkio.weight", "blkio.bfq.weight"]
        .into_iter()
        .find(|f| blkio.join(f).exists());
    match file {
        Some(file) => {
            cg.update(&weight).unwrap();
            let got = read(blkio, file);
            // blkio.bfq.weight reads "default 300".
            assert!(got == "300" || got == "default 300", "{got}");
        }
        None => {
            let e = cg.update(&weight).unwrap_err().to_string();
            assert!(
                e.starts_with("linux.resources.blockIO.weight: ")
                    && e.contains("neither blkio.weight nor blkio.bfq.weight"),
                "{e}"
            );
        }
    }
    cg.destroy().unwrap();
}

#[test]
fn controllers_the_host_lacks_are_errors_only_when_asked_for() {
    require_root!();
    let (_cleanup, cg) = v1_cgroup();
    require_v1!(cg);
    let cases: Vec<(&str, &str, Resources)> = vec![
        (
            "hugetlb",
            "linux.resources.hugepageLimits",
            Resources {
                hugepage_limits: Some(vec![HugepageLimit {
                    page_size: "2MB".into(),
                    limit: 4 << 21,
                }]),
                ..Default::default()
            },
        ),
        (
            "net_cls",
            "linux.resources.network.classID",
            Resources {
                network: Some(Network {
                    class_id: Some(0x100001),
                    priorities: vec![],
                }),
                ..Default::default()
            },
        ),
        (
            "net_prio",
            "linux.resources.network.priorities",
            Resources {
                network: Some(Network {
                    class_id: None,
                    priorities: vec![InterfacePriority {
                        name: "lo".into(),
                        priority: 5,
                    }],
                }),
                ..Default::default()
            },
        ),
        (
            "rdma",
            "linux.resources.rdma",
            Resources {
                rdma: Some(
                    [(
                        "mlx5_1".to_string(),
                        Rdma {
                            hca_handles: Some(3),
                            hca_objects: Some(100),
                        },
                    )]
                    .into(),
                ),
                ..Default::default()
            },
        ),
    ];
    let mut checked = 0;
    for (controller, field, res) in cases {
        if host_has(controller) {
            eprintln!("{controller} is available here; its error case is not checked");
            continue;
        }
        let e = cg.create(Some(&res)).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{field}: the {controller} controller is not available on this host")
        );
        assert!(cg.dirs().all(|d| !d.exists()));
        checked += 1;
    }
    eprintln!("checked {checked} missing controllers");
    // Not asking for them is fine.
    cg.create(Some(&Resources::default())).unwrap();
    cg.destroy().unwrap();
}

fn deny_all() -> DeviceCgroup {
    DeviceCgroup {
        allow: false,
        access: Some("rwm".into()),
        ..Default::default()
    }
}

#[test]
fn device_rules_are_replaced_on_update() {
    require_root!();
    let (_cleanup, cg) = v1_cgroup();
    require_v1!(cg);
    let fuse = DeviceCgroup {
        allow: true,
        typ: Some("c".into()),
        major: Some(10),
        minor: Some(229),
        access: Some("rw".into()),
    };
    let res = Resources {
        devices: vec![deny_all(), fuse],
        ..Default::default()
    };
    cg.create(Some(&res)).unwrap();
    let dev = dir_with(&cg, "devices.list");
    let list = read(dev, "devices.list");
    assert!(list.lines().any(|l| l == "c 10:229 rw"), "{list}");
    assert!(list.lines().any(|l| l == "c 1:3 rwm"), "{list}");
    assert!(!list.lines().any(|l| l == "a *:* rwm"), "{list}");

    let res = Resources {
        devices: vec![deny_all()],
        ..Default::default()
    };
    cg.update(&res).unwrap();
    let list = read(dev, "devices.list");
    assert!(!list.contains("10:229"), "{list}");
    assert!(list.lines().any(|l| l == "c 1:3 rwm"), "{list}");
    cg.destroy().unwrap();
}

fn memory_res(limit: i64, swap: Option<i64>) -> Resources {
    Resources {
        memory: Some(Memory {
            limit: Some(limit),
            swap,
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn update_raises_and_lowers_memory_with_swap_and_sets_pids_and_cpu() {
    require_root!();
    let (_cleanup, cg) = v1_cgroup();
    require_v1!(cg);
    let mut res = memory_res(64 * MIB, Some(128 * MIB));
    res.pids = Some(Pids { limit: Some(10) });
    cg.create(Some(&res)).unwrap();
    let mem = dir_with(&cg, "memory.limit_in_bytes");
    let memsw = mem.join("memory.memsw.limit_in_bytes").exists();
    let check = |limit: i64, swap: i64| {
        assert_eq!(read(mem, "memory.limit_in_bytes"), limit.to_string());
        if memsw {
            assert_eq!(read(mem, "memory.memsw.limit_in_bytes"), swap.to_string());
        }
    };
    check(64 * MIB, 128 * MIB);
    // Raising past the old memsw needs memsw first.
    cg.update(&memory_res(256 * MIB, Some(512 * MIB))).unwrap();
    check(256 * MIB, 512 * MIB);
    // Lowering below the old limit needs the limit first.
    cg.update(&memory_res(32 * MIB, Some(48 * MIB))).unwrap();
    check(32 * MIB, 48 * MIB);
    // Only what is given changes.
    let res = Resources {
        pids: Some(Pids { limit: Some(99) }),
        cpu: Some(Cpu {
            shares: Some(300),
            quota: Some(20_000),
            period: Some(50_000),
            ..Default::default()
        }),
        ..Default::default()
    };
    cg.update(&res).unwrap();
    check(32 * MIB, 48 * MIB);
    assert_eq!(read(dir_with(&cg, "pids.max"), "pids.max"), "99");
    let cpu = dir_with(&cg, "cpu.shares");
    assert_eq!(read(cpu, "cpu.shares"), "300");
    assert_eq!(read(cpu, "cpu.cfs_quota_us"), "20000");
    assert_eq!(read(cpu, "cpu.cfs_period_us"), "50000");
    // A shorter period and a new quota together, then "unlimited".
    let res = Resources {
        cpu: Some(Cpu {
            quota: Some(-1),
            ..Default::default()
        }),
        pids: Some(Pids { limit: Some(-1) }),
        ..Default::default()
    };
    cg.update(&res).unwrap();
    assert_eq!(read(cpu, "cpu.cfs_quota_us"), "-1");
    assert_eq!(read(dir_with(&cg, "pids.max"), "pids.max"), "max");
    // Bad values are refused before anything is written.
    let e = cg.update(&memory_res(-5, None)).unwrap_err().to_string();
    assert!(e.starts_with("linux.resources.memory.limit: -5 "), "{e}");
    check(32 * MIB, 48 * MIB);
    cg.destroy().unwrap();
}

/// A shell in the cgroup that holds about 16 MiB once told to go on.
struct Hog {
    child: Child,
}

impl Hog {
    fn start(cg: &Cgroup) -> Self {
        use std::io::{BufRead, BufReader, Write};
        let mut child = Command::new("sh")
            .arg("-c")
            .arg("read _; x=$(head -c 16777216 /dev/zero | tr '\\0' a); echo ready; read _; echo ${#x}")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let hog_pid = child.id() as i32;
        cg.add_pid(hog_pid).unwrap();
        child.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready");
        Hog { child }
    }
}

impl Drop for Hog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn check_before_update_refuses_a_limit_below_usage() {
    require_root!();
    let (_cleanup, cg) = v1_cgroup();
    require_v1!(cg);
    cg.create(Some(&memory_res(256 * MIB, None))).unwrap();
    let mem = dir_with(&cg, "memory.limit_in_bytes").to_path_buf();
    let hog = Hog::start(&cg);
    let usage: i64 = read(&mem, "memory.usage_in_bytes").parse().unwrap();
    assert!(usage > 16 * MIB, "usage {usage}");

    let mut res = memory_res(8 * MIB, None);
    res.memory.as_mut().unwrap().check_before_update = Some(true);
    let e = cg.update(&res).unwrap_err().to_string();
    assert!(
        e.starts_with("linux.resources.memory.limit: 8388608 is not above the current usage of ")
            && e.ends_with("checkBeforeUpdate is set"),
        "{e}"
    );
    assert_eq!(read(&mem, "memory.limit_in_bytes"), (256 * MIB).to_string());
    // Above the usage it goes through.
    res.memory.as_mut().unwrap().limit = Some(128 * MIB);
    cg.update(&res).unwrap();
    assert_eq!(read(&mem, "memory.limit_in_bytes"), (128 * MIB).to_string());
    drop(hog);
    cg.destroy().unwrap();
}
