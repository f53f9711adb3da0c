//! husk-cgroups: places a container in cgroups (v1, hybrid, or v2) and
//! applies, and later updates, every `linux.resources` setting of the OCI
//! runtime spec that the host's cgroup version has.
//!
//! Nothing about the host is assumed: mounted hierarchies come from
//! /proc/self/mountinfo and the runtime's own cgroup from /proc/self/cgroup.

mod bpf;
mod default_devices;
mod devices;
mod error;
mod freeze;
mod fs;
mod mountinfo;
mod resolve;
mod resources;
#[cfg(test)]
mod state_tests;
pub mod stats;
mod systemd;
mod v1;
mod v2;
mod view;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use husk_spec::Resources;
use serde::{Deserialize, Serialize};

pub use error::CgroupError;
use resolve::{first, Hierarchy, Version};

/// Where a container's cgroups live: on v1 one directory per mounted
/// hierarchy (named ones and a hybrid host's cgroup2 mount included, as runc
/// joins them all), on v2 a single directory.
///
/// It records which directories it makes, so that [`Cgroup::destroy`] run by
/// a later `husk delete` removes only those: serialize it into the
/// container's state after [`Cgroup::create`] returns (success or not). A
/// state saved before then still lets destroy() clean up a create() that was
/// killed half way, from the list of directories missing at resolve() time.
#[derive(Debug, Serialize, Deserialize)]
#[serde(from = "Saved", into = "Saved")]
pub struct Cgroup {
    /// Decided once, by resolve() or resolve_systemd().
    driver: Driver,
    hierarchies: Vec<Hierarchy>,
    /// Directories missing when resolve() ran, in creation order.
    planned: Vec<PathBuf>,
    /// Directories create() made, in creation order; `None` until create()
    /// returns. A Mutex because create() takes `&self`.
    created: Mutex<Option<Vec<PathBuf>>>,
}

/// The manager that places the container in its cgroups. Each operation of
/// [`Cgroup`] matches on it once and goes on in that driver's module.
#[derive(Debug, Clone)]
enum Driver {
    /// cgroupfs on a v1 host, hybrid ones included (v1.rs).
    V1,
    /// cgroupfs on a pure v2 host (v2.rs).
    V2,
    /// A systemd scope (`--systemd-cgroup`, systemd/): systemd makes and
    /// removes the directory; everything else about it is v2's.
    Systemd(systemd::Unit),
}

impl Driver {
    /// The cgroupfs driver of a host with this cgroup version.
    fn cgroupfs(version: Version) -> Self {
        match version {
            Version::V1 => Driver::V1,
            Version::V2 => Driver::V2,
        }
    }
}

/// [`Cgroup`] as every container's state.json holds it, written by this
/// husk or an earlier one: the host's cgroup version, and the unit when the
/// systemd driver made the cgroup. Named as before in serde's messages too.
#[derive(Serialize, Deserialize)]
#[serde(rename = "Cgroup")]
struct Saved {
    version: Version,
    hierarchies: Vec<Hierarchy>,
    #[serde(default)]
    planned: Vec<PathBuf>,
    #[serde(default)]
    created: Option<Vec<PathBuf>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    systemd: Option<systemd::Unit>,
}

impl From<Saved> for Cgroup {
    fn from(s: Saved) -> Self {
        Self {
            // resolve_systemd() only ever made a unit on v2 hosts.
            driver: s
                .systemd
                .map_or(Driver::cgroupfs(s.version), Driver::Systemd),
            hierarchies: s.hierarchies,
            planned: s.planned,
            created: Mutex::new(s.created),
        }
    }
}

impl From<Cgroup> for Saved {
    fn from(cg: Cgroup) -> Self {
        let (version, systemd) = match cg.driver {
            Driver::V1 => (Version::V1, None),
            Driver::V2 => (Version::V2, None),
            Driver::Systemd(unit) => (Version::V2, Some(unit)),
        };
        Self {
            version,
            hierarchies: cg.hierarchies,
            planned: cg.planned,
            created: cg.created.into_inner().unwrap_or_else(|e| e.into_inner()),
            systemd,
        }
    }
}

impl Clone for Cgroup {
    fn clone(&self) -> Self {
        Self {
            driver: self.driver.clone(),
            hierarchies: self.hierarchies.clone(),
            planned: self.planned.clone(),
            created: Mutex::new(self.created().clone()),
        }
    }
}

/// Hierarchies that list exactly the container's processes, best first, for
/// pids(). name=systemd comes last because systemd may move processes.
const PIDS_FROM: &[&str] = &[
    "pids", "freezer", "memory", "cpu", "cpuacct", "devices", "blkio", "cpuset",
];

impl Cgroup {
    /// Resolves `cgroups_path` (linux.cgroupsPath) against the host's
    /// hierarchies. Creates nothing.
    ///
    /// - absolute "/a/b": relative to the root of each hierarchy, i.e. below
    ///   each mount point;
    /// - relative "a/b": relative to the calling process's own cgroup in each
    ///   hierarchy, from /proc/self/cgroup;
    /// - `None` or "": the relative path "<id>", i.e. the container id below
    ///   the runtime's own cgroup. This is what runc 1.1.5 (cgroupfs driver)
    ///   does: run from a shell whose memory cgroup was /process_api/X and
    ///   every other cgroup "/", `runc run` without cgroupsPath put the
    ///   container in memory:/process_api/X/<id> and in /<id> everywhere else
    ///   (name=systemd and the hybrid cgroup2 mount included).
    ///
    /// ".." is resolved lexically and cannot climb above the base, as in
    /// runc; a path that names the base itself ("/", ".") is refused, since
    /// `kill --all` would then hit processes that are not the container's.
    pub fn resolve(cgroups_path: Option<&str>, id: &str) -> Result<Self, CgroupError> {
        let mountinfo_path = Path::new("/proc/self/mountinfo");
        let cgroup_path = Path::new("/proc/self/cgroup");
        let mounts = mountinfo::parse_mountinfo(&read_lossy(mountinfo_path)?)
            .map_err(|(line, reason)| parse_error(mountinfo_path, line, reason))?;
        let own = mountinfo::parse_proc_cgroup(&read_lossy(cgroup_path)?)
            .map_err(|(line, reason)| parse_error(cgroup_path, line, reason))?;
        let (version, mounts) = resolve::select(mounts)?;
        let hierarchies = resolve::dirs(&mounts, &own, cgroups_path, id)?;
        let planned = hierarchies.iter().flat_map(fs::missing).collect();
        Ok(Self {
            driver: Driver::cgroupfs(version),
            hierarchies,
            planned,
            created: Mutex::default(),
        })
    }

    /// The systemd driver's counterpart of [`Cgroup::resolve`]:
    /// `cgroups_path` is `slice:prefix:name` (empty: `:husk:<id>`), the
    /// container's cgroup the directory of the scope `prefix-name.scope`
    /// that systemd creates in `slice` when [`Cgroup::add_pid`] gives it the
    /// init. Pure cgroup v2 hosts only. Contacts nothing yet.
    pub fn resolve_systemd(cgroups_path: Option<&str>, id: &str) -> Result<Self, CgroupError> {
        let placement = systemd::placement(cgroups_path, id)?;
        let mountinfo_path = Path::new("/proc/self/mountinfo");
        let mounts = mountinfo::parse_mountinfo(&read_lossy(mountinfo_path)?)
            .map_err(|(line, reason)| parse_error(mountinfo_path, line, reason))?;
        let (version, mounts) = resolve::select(mounts)?;
        if version != Version::V2 {
            return Err(CgroupError::Host(
                "--systemd-cgroup: husk's systemd cgroup driver needs a pure cgroup v2 host; \
                 this one has cgroup v1 hierarchies (drop the flag to use cgroupfs)"
                    .into(),
            ));
        }
        let mount_point = mounts[0].mount_point.clone();
        Ok(Self {
            driver: Driver::Systemd(systemd::Unit::new(&placement, id)),
            hierarchies: vec![Hierarchy {
                controllers: vec![],
                dir: mount_point.join(&placement.rel_dir),
                mount_point,
            }],
            planned: vec![],
            created: Mutex::default(),
        })
    }

    /// The socket the systemd driver would use (systemd's private one as
    /// root, else the system bus), or `None` when neither exists.
    pub fn systemd_socket() -> Option<&'static Path> {
        systemd::socket()
    }

    /// True with the systemd driver: the cgroup exists only once
    /// [`Cgroup::add_pid`] gave systemd the init.
    pub fn is_systemd(&self) -> bool {
        matches!(self.driver, Driver::Systemd(_))
    }

    /// Creates every directory (`mkdir -p`) and applies `resources`. Config
    /// problems (a missing controller, an invalid value, cgroup v2 `unified`
    /// settings on a v1 host) are found before anything is created; on any
    /// later error what was created is removed again.
    ///
    /// Every resource is applied: memory, cpu (with cpuset), pids, blockIO,
    /// hugepageLimits, network (v1), rdma, unified (v2) and devices (v1;
    /// v2 device rules are ignored with a warning until the eBPF filter is
    /// wired). A controller the host lacks is an error only when the config
    /// asks for it. As in runc, 0 or "" means "not set" for most fields.
    pub fn create(&self, resources: Option<&Resources>) -> Result<(), CgroupError> {
        let default = Resources::default();
        let resources = resources.unwrap_or(&default);
        let mut made = Vec::new();
        let result = match &self.driver {
            Driver::V1 => v1::create(&self.hierarchies, resources, &mut made),
            Driver::V2 => v2::create(&self.hierarchies, resources, &mut made),
            Driver::Systemd(unit) => {
                unit.defer(v2::limits(resources)?);
                Ok(())
            }
        };
        if result.is_err() {
            let (kept, cleanup) = self.remove(&made);
            if let Err(c) = cleanup {
                tracing::warn!("cleaning up after a failed cgroup setup: {c}");
            }
            made = kept;
        }
        self.created().get_or_insert_with(Vec::new).extend(made);
        result
    }

    /// Applies a new resources document to the existing cgroup (`husk
    /// update`, containerd's `update --resources -`): only the fields
    /// present are written, the rest keeps its current value.
    ///
    /// The whole document is checked before anything is written. Memory
    /// limit and swap are written in the order the kernel accepts whether
    /// they grow or shrink; `memory.checkBeforeUpdate` refuses a limit at or
    /// below the current usage; on v1 a device rule set that starts with
    /// deny-all replaces the old rules rather than adding to them.
    pub fn update(&self, resources: &Resources) -> Result<(), CgroupError> {
        match &self.driver {
            Driver::V1 => v1::update(&self.hierarchies, resources),
            Driver::V2 => v2::update(&self.hierarchies, resources),
            Driver::Systemd(unit) => unit.update(&self.hierarchies, resources),
        }
    }

    /// Whether `resources` could be applied here: the same checks as
    /// create and update, nothing written.
    pub fn validate(&self, resources: &Resources) -> Result<(), CgroupError> {
        match &self.driver {
            Driver::V1 => v1::limits(&self.hierarchies, resources).map(|_| ()),
            Driver::V2 | Driver::Systemd(_) => v2::validate(&self.hierarchies, resources),
        }
    }

    /// Moves `pid` into the container's cgroup in every hierarchy.
    ///
    /// With the systemd driver the first call starts the scope with `pid`
    /// in it, then applies the resources create() checked to its directory.
    pub fn add_pid(&self, pid: i32) -> Result<(), CgroupError> {
        match &self.driver {
            Driver::Systemd(unit) if !unit.is_started() => unit.start_with(pid, &self.hierarchies),
            // A started scope is joined as any other cgroup.
            Driver::V1 | Driver::V2 | Driver::Systemd(_) => {
                let pid = pid.to_string();
                for h in &self.hierarchies {
                    fs::write(&h.dir, "cgroup.procs", &pid)?;
                }
                Ok(())
            }
        }
    }

    /// `exec --cgroup`: moves `pid` into existing sub-cgroups of the
    /// container's, one per hierarchy: the sub-cgroup named for one of the
    /// hierarchy's controllers, else the one named for none, else the
    /// container's own. On v2 (one hierarchy) only a sub-cgroup without
    /// controllers applies.
    pub fn add_pid_to_sub(&self, pid: i32, subs: &[SubCgroup]) -> Result<(), CgroupError> {
        match &self.driver {
            Driver::Systemd(_) => {
                return Err(CgroupError::Host(
                    "sub-cgroups are not supported with the systemd driver".into(),
                ))
            }
            Driver::V2 if subs.iter().any(|s| !s.controllers.is_empty()) => {
                return Err(CgroupError::Host(
                    "cgroup v2 has one hierarchy: give the path without controllers".into(),
                ))
            }
            Driver::V1 | Driver::V2 => {}
        }
        let pid = pid.to_string();
        for h in &self.hierarchies {
            let named = subs
                .iter()
                .find(|s| s.controllers.iter().any(|c| h.has(c)))
                .or_else(|| subs.iter().find(|s| s.controllers.is_empty()));
            let dir = match named {
                Some(s) => {
                    let d = h.dir.join(&s.path);
                    if !d.join("cgroup.procs").exists() {
                        return Err(CgroupError::Host(format!(
                            "{}: no such sub-cgroup of the container",
                            d.display()
                        )));
                    }
                    d
                }
                None => h.dir.clone(),
            };
            fs::write(&dir, "cgroup.procs", &pid)?;
        }
        Ok(())
    }

    /// On v1, moves `pid` into one hierarchy whose controllers only account
    /// for or weigh CPU time, ahead of add_pid(); nothing the container's
    /// setup does is limited by them. Does nothing where there is none (or on
    /// v2, where add_pid() moves it once).
    ///
    /// Why: any move between cgroups takes the kernel's cgroup threadgroup
    /// lock for writing, and the first writer after a quiet spell waits for
    /// an RCU grace period (10-30 ms on the test host, the larger part of a
    /// create). Taken while the init is still setting up the container, that
    /// wait overlaps the setup, and add_pid() soon after finds the lock warm.
    pub fn join_early(&self, pid: i32) -> Result<(), CgroupError> {
        match self.driver {
            Driver::V1 => v1::join_early(&self.hierarchies, pid),
            Driver::V2 | Driver::Systemd(_) => Ok(()),
        }
    }

    /// Every process in the container's cgroup or below it, sorted. On v1
    /// one hierarchy is enough, since add_pid() joins them all.
    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        let h = PIDS_FROM
            .iter()
            .find_map(|c| self.hierarchies.iter().find(|h| h.has(c)))
            .map_or_else(|| first(&self.hierarchies), Ok)?;
        let mut pids = Vec::new();
        fs::procs_recursive(&h.dir, &mut pids)?;
        pids.sort_unstable();
        pids.dedup();
        Ok(pids)
    }

    /// Removes the directories create() made, deepest first; cgroups the
    /// container made below its own go too. A directory that is already gone
    /// is fine. A parent that is still in use (another container below it)
    /// stays, as does everything that existed before.
    ///
    /// If create() never returned (the state was saved before it and the
    /// runtime died), the directories that were missing at resolve() time
    /// are removed instead; rmdir only succeeds on an empty cgroup, so at
    /// worst an unused one that appeared meanwhile goes too.
    pub fn destroy(&self) -> Result<(), CgroupError> {
        match &self.driver {
            Driver::Systemd(unit) => unit.destroy(&self.hierarchies),
            Driver::V1 | Driver::V2 => {
                let mut created = self.created();
                let dirs = created.clone().unwrap_or_else(|| self.planned.clone());
                let (kept, result) = self.remove(&dirs);
                *created = Some(kept);
                result
            }
        }
    }

    /// Removes `dirs` (in creation order) deepest first. Returns the ones
    /// still there and the first error; it carries on past errors so that
    /// one busy hierarchy does not leak all the others.
    fn remove(&self, dirs: &[PathBuf]) -> (Vec<PathBuf>, Result<(), CgroupError>) {
        let mut kept = Vec::new();
        let mut first_err = None;
        for d in dirs.iter().rev() {
            let removed = if self.hierarchies.iter().any(|h| h.dir == *d) {
                fs::remove_tree(d).map(|()| true)
            } else {
                fs::remove_parent(d)
            };
            match removed {
                Ok(true) => {}
                Ok(false) => kept.push(d.clone()),
                Err(e) => {
                    kept.push(d.clone());
                    first_err.get_or_insert(e);
                }
            }
        }
        kept.reverse();
        (kept, first_err.map_or(Ok(()), Err))
    }

    /// True on a pure cgroup v2 host; false on v1 and hybrid hosts.
    pub fn is_v2(&self) -> bool {
        match self.driver {
            Driver::V1 => false,
            Driver::V2 | Driver::Systemd(_) => true,
        }
    }

    /// The container's directory in each hierarchy.
    pub fn dirs(&self) -> impl Iterator<Item = &Path> {
        self.hierarchies.iter().map(|h| h.dir.as_path())
    }

    fn created(&self) -> MutexGuard<'_, Option<Vec<PathBuf>>> {
        // The list stays consistent even if a holder panicked.
        self.created.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Mount points are bytes; a non-UTF-8 one elsewhere must not stop us.
fn read_lossy(path: &Path) -> Result<String, CgroupError> {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|err| CgroupError::Read {
            path: path.to_path_buf(),
            err,
        })
}

fn parse_error(path: &Path, line: usize, reason: String) -> CgroupError {
    CgroupError::Parse {
        path: path.to_path_buf(),
        line,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use husk_spec::{Cpu, Memory, Pids};

    /// A scratch directory standing in for cgroupfs, removed on drop.
    pub(crate) struct Scratch(pub(crate) PathBuf);

    impl Scratch {
        pub(crate) fn new(name: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("husk-cgroups-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn cgroup(driver: Driver, hierarchies: Vec<Hierarchy>) -> Cgroup {
        Cgroup {
            driver,
            hierarchies,
            planned: vec![],
            created: Mutex::default(),
        }
    }

    #[test]
    fn v1_missing_controller_fails_before_creating_anything() {
        let scratch = Scratch::new("v1-missing");
        let dir = scratch.0.join("pids/ctr");
        let cg = cgroup(
            Driver::V1,
            vec![Hierarchy {
                controllers: vec!["pids".into()],
                mount_point: scratch.0.join("pids"),
                dir: dir.clone(),
            }],
        );
        let res = Resources {
            memory: Some(Memory {
                limit: Some(1 << 20),
                ..Default::default()
            }),
            ..Default::default()
        };
        let e = cg.create(Some(&res)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "linux.resources.memory: the memory controller is not available on this host"
        );
        let res = Resources {
            cpu: Some(Cpu {
                quota: Some(10_000),
                ..Default::default()
            }),
            ..Default::default()
        };
        let e = cg.create(Some(&res)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "linux.resources.cpu.quota: the cpu controller is not available on this host"
        );
        assert!(!dir.exists());
        assert!(!scratch.0.join("pids").exists());
    }

    /// A fake v2 tree: the mount point offers `host`, the container's
    /// (pre-made) directory got `here` and empty interface files.
    fn fake_v2(scratch: &Scratch, host: &str, here: &str) -> Cgroup {
        let mount = scratch.0.join("unified");
        let dir = mount.join("ctr");
        std::fs::create_dir_all(&dir).unwrap();
        for (d, file, content) in [
            (&mount, "cgroup.controllers", host),
            (&mount, "cgroup.subtree_control", ""),
            (&dir, "cgroup.controllers", here),
        ] {
            std::fs::write(d.join(file), content).unwrap();
        }
        for file in [
            "memory.max",
            "memory.low",
            "memory.swap.max",
            "pids.max",
            "cpu.weight",
            "cpu.max",
            "cpuset.cpus",
            "cpuset.mems",
            "memory.current",
            "memory.high",
            "cpu.max.burst",
            "cpu.idle",
            "io.weight",
            "io.max",
            "hugetlb.2MB.max",
            "hugetlb.2MB.rsvd.max",
            "hugetlb.1GB.max",
            "rdma.max",
        ] {
            std::fs::write(dir.join(file), "").unwrap();
        }
        cgroup(
            Driver::V2,
            vec![Hierarchy {
                controllers: vec![],
                mount_point: mount,
                dir,
            }],
        )
    }

    #[test]
    fn v2_writes_converted_values_to_v2_files() {
        let scratch = Scratch::new("v2-apply");
        let cg = fake_v2(&scratch, "cpuset cpu memory pids", "cpuset cpu memory pids");
        let res = Resources {
            memory: Some(Memory {
                limit: Some(64 << 20),
                reservation: Some(32 << 20),
                swap: Some(96 << 20),
                ..Default::default()
            }),
            pids: Some(Pids { limit: Some(-1) }),
            cpu: Some(Cpu {
                shares: Some(1024),
                quota: Some(50_000),
                period: Some(100_000),
                cpus: Some("0-1".into()),
                mems: Some("0".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        cg.create(Some(&res)).unwrap();
        let dir = &cg.hierarchies[0].dir;
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
        assert_eq!(read("memory.max"), (64 << 20).to_string());
        assert_eq!(read("memory.low"), (32 << 20).to_string());
        assert_eq!(read("memory.swap.max"), (32 << 20).to_string());
        assert_eq!(read("pids.max"), "max");
        assert_eq!(read("cpu.weight"), "39");
        assert_eq!(read("cpu.max"), "50000 100000");
        assert_eq!(read("cpuset.cpus"), "0-1");
        assert_eq!(read("cpuset.mems"), "0");
        // It made nothing, so it removes nothing.
        cg.destroy().unwrap();
        assert!(dir.is_dir());
    }

    #[test]
    fn v2_tells_a_missing_controller_from_one_not_enabled() {
        let scratch = Scratch::new("v2-missing");
        let res = Resources {
            pids: Some(Pids { limit: Some(10) }),
            ..Default::default()
        };
        let cg = fake_v2(&scratch, "cpu memory", "cpu memory");
        assert_eq!(
            cg.create(Some(&res)).unwrap_err().to_string(),
            "linux.resources.pids: the pids controller is not available on this host"
        );
        let cg = fake_v2(&scratch, "cpu memory pids", "cpu memory");
        let e = cg.create(Some(&res)).unwrap_err();
        assert!(
            matches!(&e, CgroupError::ControllerNotEnabled { controller: "pids", path, .. } if *path == cg.hierarchies[0].dir),
            "{e}"
        );
    }

    const ALL_V2: &str = "cpuset cpu io memory hugetlb pids rdma";

    fn read(cg: &Cgroup, file: &str) -> String {
        std::fs::read_to_string(cg.hierarchies[0].dir.join(file)).unwrap()
    }

    #[test]
    fn v2_writes_every_resource_in_its_v2_format() {
        use husk_spec::{BlockIo, HugepageLimit, Rdma, ThrottleDevice, WeightDevice};
        let scratch = Scratch::new("v2-all");
        let cg = fake_v2(&scratch, ALL_V2, ALL_V2);
        let res = Resources {
            cpu: Some(Cpu {
                quota: Some(40_000),
                period: Some(100_000),
                burst: Some(10_000),
                idle: Some(1),
                shares: Some(2048),
                ..Default::default()
            }),
            block_io: Some(BlockIo {
                weight: Some(500),
                leaf_weight: Some(300),
                throttle_read_bps_device: vec![ThrottleDevice {
                    major: 254,
                    minor: 0,
                    rate: 1 << 20,
                }],
                throttle_write_iops_device: vec![ThrottleDevice {
                    major: 254,
                    minor: 0,
                    rate: 300,
                }],
                ..Default::default()
            }),
            hugepage_limits: Some(vec![HugepageLimit {
                page_size: "2MB".into(),
                limit: 4 << 21,
            }]),
            rdma: Some(
                [(
                    "mlx5_1".to_string(),
                    Rdma {
                        hca_handles: Some(3),
                        hca_objects: Some(10_000),
                    },
                )]
                .into(),
            ),
            unified: Some([("memory.high".to_string(), "50000000".to_string())].into()),
            ..Default::default()
        };
        cg.create(Some(&res)).unwrap();
        assert_eq!(read(&cg, "cpu.max"), "40000 100000");
        assert_eq!(read(&cg, "cpu.max.burst"), "10000");
        assert_eq!(read(&cg, "cpu.idle"), "1");
        // An idle group has no weight.
        assert_eq!(read(&cg, "cpu.weight"), "");
        assert_eq!(read(&cg, "io.weight"), "4950");
        assert_eq!(read(&cg, "io.max"), "254:0 rbps=1048576 wiops=300");
        assert_eq!(read(&cg, "hugetlb.2MB.max"), (4u64 << 21).to_string());
        assert_eq!(read(&cg, "hugetlb.2MB.rsvd.max"), (4u64 << 21).to_string());
        assert_eq!(
            read(&cg, "rdma.max"),
            "mlx5_1 hca_handle=3 hca_object=10000"
        );
        assert_eq!(read(&cg, "memory.high"), "50000000");

        // With BFQ the v1 weight goes as it is, per device too.
        std::fs::write(cg.hierarchies[0].dir.join("io.bfq.weight"), "").unwrap();
        let res = Resources {
            block_io: Some(BlockIo {
                weight: Some(500),
                ..Default::default()
            }),
            ..Default::default()
        };
        cg.update(&res).unwrap();
        assert_eq!(read(&cg, "io.bfq.weight"), "500");
        let res = Resources {
            block_io: Some(BlockIo {
                weight_device: vec![WeightDevice {
                    major: 8,
                    minor: 0,
                    weight: Some(200),
                    leaf_weight: None,
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        cg.update(&res).unwrap();
        assert_eq!(read(&cg, "io.bfq.weight"), "8:0 200");
    }

    #[test]
    fn v2_errors_name_the_field_or_key() {
        use husk_spec::HugepageLimit;
        let scratch = Scratch::new("v2-errors");
        let cg = fake_v2(&scratch, ALL_V2, "cpu memory pids hugetlb");
        let unified = |k: &str| Resources {
            unified: Some([(k.to_string(), "1".to_string())].into()),
            ..Default::default()
        };
        let e = cg.update(&unified("io.max")).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "linux.resources.unified[\"io.max\"]: the io controller is not enabled in "
            ),
            "{e}"
        );
        // cgroup.* files need no controller.
        std::fs::write(cg.hierarchies[0].dir.join("cgroup.max.depth"), "").unwrap();
        cg.update(&unified("cgroup.max.depth")).unwrap();
        assert_eq!(read(&cg, "cgroup.max.depth"), "1");

        let res = Resources {
            hugepage_limits: Some(vec![HugepageLimit {
                page_size: "64KB".into(),
                limit: 1,
            }]),
            ..Default::default()
        };
        let e = cg.update(&res).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "linux.resources.hugepageLimits[0].pageSize: \"64KB\" is not a huge page size \
                 this host supports"
            ),
            "{e}"
        );
        let res = Resources {
            block_io: Some(husk_spec::BlockIo {
                weight: Some(100),
                ..Default::default()
            }),
            ..Default::default()
        };
        let e = cg.update(&res).unwrap_err();
        assert!(
            matches!(
                &e,
                CgroupError::ControllerNotEnabled {
                    field: "linux.resources.blockIO",
                    controller: "io",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn v2_check_before_update_refuses_a_limit_below_usage() {
        let scratch = Scratch::new("v2-check");
        let cg = fake_v2(&scratch, ALL_V2, ALL_V2);
        let dir = cg.hierarchies[0].dir.clone();
        std::fs::write(dir.join("memory.current"), "104857600\n").unwrap();
        std::fs::write(dir.join("memory.max"), "209715200").unwrap();
        let mut res = Resources {
            memory: Some(Memory {
                limit: Some(50 << 20),
                check_before_update: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        };
        let e = cg.update(&res).unwrap_err().to_string();
        assert_eq!(
            e,
            "linux.resources.memory.limit: 52428800 is not above the current usage of \
             104857600 bytes (memory.current), and checkBeforeUpdate is set"
        );
        assert_eq!(read(&cg, "memory.max"), "209715200");
        res.memory.as_mut().unwrap().limit = Some(150 << 20);
        cg.update(&res).unwrap();
        assert_eq!(read(&cg, "memory.max"), (150 << 20).to_string());
        // Without the flag the kernel is left to reclaim.
        res.memory.as_mut().unwrap().limit = Some(50 << 20);
        res.memory.as_mut().unwrap().check_before_update = None;
        cg.update(&res).unwrap();
        assert_eq!(read(&cg, "memory.max"), (50 << 20).to_string());
    }

    #[test]
    fn v2_update_writes_only_what_is_given() {
        let scratch = Scratch::new("v2-update");
        let cg = fake_v2(&scratch, ALL_V2, ALL_V2);
        let dir = cg.hierarchies[0].dir.clone();
        std::fs::write(dir.join("memory.max"), "keep").unwrap();
        std::fs::write(dir.join("cpu.weight"), "keep").unwrap();
        let res = Resources {
            pids: Some(Pids { limit: Some(7) }),
            cpu: Some(Cpu {
                idle: Some(0),
                quota: Some(30_000),
                ..Default::default()
            }),
            ..Default::default()
        };
        cg.update(&res).unwrap();
        assert_eq!(read(&cg, "pids.max"), "7");
        assert_eq!(read(&cg, "cpu.max"), "30000");
        assert_eq!(read(&cg, "cpu.idle"), "0");
        assert_eq!(read(&cg, "memory.max"), "keep");
        assert_eq!(read(&cg, "cpu.weight"), "keep");
    }
}

/// `exec --cgroup [CONTROLLERS:]PATH`: a sub-cgroup of the container's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubCgroup {
    /// `cpu,cpuacct` → ["cpu", "cpuacct"]; empty for every hierarchy.
    pub controllers: Vec<String>,
    /// Relative to the container's cgroup; never leaves it.
    pub path: PathBuf,
}

impl SubCgroup {
    pub fn parse(s: &str) -> Result<SubCgroup, String> {
        let (ctrl, path) = match s.split_once(':') {
            Some((c, p)) => (c, p),
            None => ("", s),
        };
        let path = Path::new(path.trim_start_matches('/'));
        if path.as_os_str().is_empty()
            || path
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(format!(
                "{s:?}: the path must name a sub-cgroup below the container's (no \"..\")"
            ));
        }
        Ok(SubCgroup {
            controllers: ctrl
                .split(',')
                .filter(|c| !c.is_empty())
                .map(String::from)
                .collect(),
            path: path.to_path_buf(),
        })
    }
}

#[cfg(test)]
mod sub_cgroup_tests {
    use super::SubCgroup;

    #[test]
    fn parse() {
        let s = SubCgroup::parse("cpu,cpuacct:/a/b").unwrap();
        assert_eq!(s.controllers, ["cpu", "cpuacct"]);
        assert_eq!(s.path, std::path::Path::new("a/b"));
        assert!(SubCgroup::parse("x").unwrap().controllers.is_empty());
        assert!(SubCgroup::parse("../up").is_err());
        assert!(SubCgroup::parse("memory:").is_err());
    }
}
