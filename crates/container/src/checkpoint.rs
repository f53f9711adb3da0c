//! `checkpoint`: the container's processes dumped by CRIU into an image
//! directory, with what `restore` needs to put them back (runc's way, over
//! CRIU's RPC).

use crate::state::StateData;
use crate::{ContainerError, Status};
use husk_criu::{rpc, CgMode, ReqType};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// The flags `checkpoint` and `restore` share with runc.
#[derive(Debug, Default, Clone)]
pub struct CriuFlags {
    pub image_path: PathBuf,
    pub work_path: Option<PathBuf>,
    pub tcp_established: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    pub lazy_pages: bool,
    pub auto_dedup: bool,
    /// `--manage-cgroups-mode`: soft, full, strict or ignore.
    pub manage_cgroups_mode: Option<String>,
    /// `--empty-ns`: only "network" (runc's rule: the network namespace is
    /// always left empty, its set-up belongs to whoever made it).
    pub empty_ns: Vec<String>,
}

#[derive(Debug, Default, Clone)]
pub struct CheckpointOptions {
    pub flags: CriuFlags,
    pub parent_path: Option<PathBuf>,
    pub leave_running: bool,
    pub pre_dump: bool,
    pub status_fd: Option<i32>,
    pub page_server: Option<String>,
}

/// The file in the image directory that lists the init's stdio as it was
/// (readlink of /proc/PID/fd/0..2), for restore to re-plumb pipes. runc's
/// name and format.
pub const DESCRIPTORS: &str = "descriptors.json";

pub fn checkpoint(root: &Path, id: &str, opts: &CheckpointOptions) -> Result<(), ContainerError> {
    let c = crate::load(root, id)?;
    let status = c.status();
    if !matches!(status, Status::Running | Status::Paused) {
        return Err(ContainerError::transition(
            id,
            format!(
                "cannot checkpoint a container that is {}: only a running or paused one",
                status.as_str()
            ),
        ));
    }
    let criu = husk_criu::find().map_err(criu_err)?;
    let version = husk_criu::version(&criu).map_err(criu_err)?;
    version
        .require(30000, "3.0", "checkpoint")
        .map_err(criu_err)?;
    let f = &opts.flags;
    let images = open_dir_made(&f.image_path, "--image-path")?;
    let work = f
        .work_path
        .as_ref()
        .map(|w| open_dir_made(w, "--work-path"))
        .transpose()?;
    if let Some(p) = &opts.parent_path {
        if p.is_absolute() {
            return Err(ContainerError::Usage(
                "--parent-path must be relative (to --image-path)".into(),
            ));
        }
        if !f.image_path.join(p).is_dir() {
            return Err(ContainerError::Usage(format!(
                "--parent-path {}: no such directory below {}",
                p.display(),
                f.image_path.display()
            )));
        }
    }
    let spec = husk_spec::load_bundle(&c.state.bundle)?;
    let mut o = base_opts(f, &images, work.as_ref(), "dump.log")?;
    o.pid = Some(c.state.pid);
    o.root = Some(c.state.rootfs.to_string_lossy().into_owned());
    o.leave_running = Some(opts.leave_running);
    if let Some(p) = &opts.parent_path {
        o.parent_img = Some(p.to_string_lossy().into_owned());
        o.track_mem = Some(true);
    }
    if let Some(ps) = &opts.page_server {
        let (addr, port) = ps
            .rsplit_once(':')
            .and_then(|(a, p)| Some((a, p.parse::<u16>().ok()?)))
            .ok_or_else(|| {
                ContainerError::Usage(format!(
                    "--page-server {ps}: expected ADDRESS:PORT (a port number)"
                ))
            })?;
        // [::1]:PORT as Go's SplitHostPort reads it
        let addr = addr
            .strip_prefix('[')
            .and_then(|a| a.strip_suffix(']'))
            .unwrap_or(addr);
        o.ps = Some(rpc::PageServerInfo {
            address: Some(addr.to_string()),
            port: Some(port.into()),
            ..Default::default()
        });
    }
    if let Some(fd) = opts.status_fd {
        o.status_fd = Some(fd);
    }
    if let Some(cg) = &c.state.cgroup {
        // CRIU freezes the tasks with the cgroup freezer rather than ptrace
        // (v2's cgroup.freeze from CRIU 3.14).
        if let Some(dir) = cg.freezer_dir() {
            if !cg.is_v2() || version.number >= 31400 {
                o.freeze_cgroup = Some(dir.to_string_lossy().into_owned());
            }
        }
    }
    for (ns, name) in joined_namespaces(&spec) {
        let ino = std::fs::metadata(&ns.1)
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .map_err(|e| ContainerError::io("stat", &ns.1, e))?;
        o.external.push(format!("{}[{ino}]:{name}", ns.0));
    }
    let req_type = if opts.pre_dump {
        ReqType::PreDump
    } else {
        // The mounts whose source is outside the container: named by their
        // destination, given back by restore.
        for m in external_mounts(&spec, &c.state, Some(c.state.pid)) {
            o.ext_mnt.push(rpc::ExtMountMap {
                key: m.dest,
                val: m.name,
            });
        }
        write_descriptors(&f.image_path, c.state.pid)?;
        ReqType::Dump
    };
    let what = if opts.pre_dump { "pre-dump" } else { "dump" };
    let log = work
        .as_ref()
        .map_or(&f.image_path, |_| f.work_path.as_ref().expect("set"))
        .join("dump.log");
    let session = husk_criu::Session::start(&criu, &[], true).map_err(criu_err)?;
    let req = rpc::Req {
        r#type: req_type as i32,
        opts: Some(o),
        ..Default::default()
    };
    session
        .run(what, req, |_, _, _| Ok(()))
        .map_err(|e| with_log(e, &log))?;
    if opts.pre_dump || opts.leave_running {
        return Ok(());
    }
    // CRIU has killed the processes: what is left is the container's
    // record, removed as `delete` does (runc destroys it too).
    let status = c.status();
    crate::teardown::teardown(&c, status)
}

/// The `criu` binary checkpoint and restore would run, if there is one.
pub fn criu_path() -> Option<PathBuf> {
    husk_criu::find().ok()
}

/// Opens the images or work directory, made 0700 if it is missing.
fn open_dir_made(p: &Path, flag: &str) -> Result<OwnedFd, ContainerError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(p)
        .map_err(|e| ContainerError::Usage(format!("{flag} {}: {e}", p.display())))?;
    open_dir(p, flag)
}

pub(crate) fn open_dir(p: &Path, flag: &str) -> Result<OwnedFd, ContainerError> {
    nix::fcntl::open(
        p,
        nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map(|fd| {
        // SAFETY: open returned a fresh descriptor we own alone.
        unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) }
    })
    .map_err(|e| ContainerError::Usage(format!("{flag} {}: {}", p.display(), e.desc())))
}

/// The options dump and restore share.
pub(crate) fn base_opts(
    f: &CriuFlags,
    images: &OwnedFd,
    work: Option<&OwnedFd>,
    log: &str,
) -> Result<rpc::Opts, ContainerError> {
    let mode = match f.manage_cgroups_mode.as_deref() {
        None | Some("") => None,
        Some("soft") => Some(CgMode::Soft),
        Some("full") => Some(CgMode::Full),
        Some("strict") => Some(CgMode::Strict),
        Some("ignore") => Some(CgMode::Ignore),
        Some(m) => {
            return Err(ContainerError::Usage(format!(
                "--manage-cgroups-mode {m:?}: expected soft, full, strict or ignore"
            )))
        }
    };
    for ns in &f.empty_ns {
        if ns != "network" {
            return Err(ContainerError::Usage(format!(
                "--empty-ns {ns:?}: only \"network\" is supported"
            )));
        }
    }
    Ok(rpc::Opts {
        images_dir_fd: images.as_raw_fd(),
        work_dir_fd: work.map(|w| w.as_raw_fd()),
        log_level: Some(4),
        log_file: Some(log.into()),
        manage_cgroups: Some(true),
        manage_cgroups_mode: Some(mode.unwrap_or(CgMode::Default) as i32),
        notify_scripts: Some(true),
        orphan_pts_master: Some(true),
        // The network namespace's contents are its maker's (an engine's
        // CNI, or nothing): CRIU leaves it empty, as under runc.
        empty_ns: Some(libc::CLONE_NEWNET as u32),
        shell_job: Some(f.shell_job),
        tcp_established: Some(f.tcp_established),
        ext_unix_sk: Some(f.ext_unix_sk),
        file_locks: Some(f.file_locks),
        lazy_pages: Some(f.lazy_pages),
        auto_dedup: Some(f.auto_dedup),
        ..Default::default()
    })
}

/// Net and pid namespaces the container joined by path, with CRIU's
/// external names for them: ((kind, path), name).
pub(crate) fn joined_namespaces(
    spec: &husk_spec::Spec,
) -> Vec<((&'static str, PathBuf), &'static str)> {
    let Some(linux) = spec.linux.as_ref() else {
        return vec![];
    };
    linux
        .namespaces
        .iter()
        .filter_map(|n| {
            let p = n.path.clone()?;
            match n.typ {
                husk_spec::NamespaceType::Network => Some((("net", p), "extRootNetNS")),
                husk_spec::NamespaceType::Pid => Some((("pid", p), "extRootPidNS")),
                _ => None,
            }
        })
        .collect()
}

/// A mount whose source lies outside the container: CRIU records it by
/// `name` at `dest`, and restore binds `host` there.
pub(crate) struct ExtMount {
    pub dest: String,
    pub name: String,
    pub host: PathBuf,
}

/// The container's external mounts: binds (named by their destination),
/// the cgroup binds, the devices (bound from the host when mknod is not
/// allowed), and the masked files (all named "/dev/null", as runc does).
/// Without `pid` (restore) a masked file is not looked at: the one name
/// "/dev/null" stands for all of them.
pub(crate) fn external_mounts(
    spec: &husk_spec::Spec,
    state: &StateData,
    pid: Option<i32>,
) -> Vec<ExtMount> {
    let same = |dest: PathBuf, host: PathBuf| {
        let d = dest.to_string_lossy().into_owned();
        ExtMount {
            name: d.clone(),
            dest: d,
            host,
        }
    };
    let mut out = Vec::new();
    for (i, src) in husk_rootfs::bind_sources(&spec.mounts, &state.bundle) {
        out.push(same(spec.mounts[i].destination.clone(), src));
    }
    let linux = spec.linux.as_ref();
    let cg_mount = spec
        .mounts
        .iter()
        .find(|m| matches!(m.typ.as_deref(), Some("cgroup" | "cgroup2")));
    if let (Some(m), Some(cg)) = (cg_mount, &state.cgroup) {
        let new_cgroupns = linux.is_some_and(|l| {
            l.namespaces
                .iter()
                .any(|n| n.typ == husk_spec::NamespaceType::Cgroup && n.path.is_none())
        });
        let (v1, v2) = cg.mount_sources();
        for (name, host) in v1 {
            out.push(same(m.destination.join(name), host));
        }
        if let (Some(host), false) = (v2, new_cgroupns) {
            out.push(same(m.destination.clone(), host));
        }
    }
    for d in husk_rootfs::DEFAULT_DEVICE_PATHS
        .iter()
        .map(PathBuf::from)
        .chain(
            linux
                .into_iter()
                .flat_map(|l| l.devices.iter().map(|d| d.path.clone())),
        )
    {
        out.push(same(d.clone(), d));
    }
    for m in linux.into_iter().flat_map(|l| l.masked_paths.iter()) {
        let is_file = |pid| {
            let inside = PathBuf::from(format!("/proc/{pid}/root{}", m.display()));
            std::fs::metadata(&inside).is_ok_and(|md| !md.is_dir())
        };
        if pid.is_none_or(is_file) {
            out.push(ExtMount {
                dest: m.to_string_lossy().into_owned(),
                name: "/dev/null".into(),
                host: PathBuf::from("/dev/null"),
            });
        }
    }
    out
}

fn write_descriptors(images: &Path, pid: i32) -> Result<(), ContainerError> {
    let fds: Vec<String> = (0..3)
        .map(|i| {
            std::fs::read_link(format!("/proc/{pid}/fd/{i}"))
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    let path = images.join(DESCRIPTORS);
    let json = serde_json::to_vec(&fds).expect("strings");
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut f| f.write_all(&json))
        .map_err(|e| ContainerError::io("write", &path, e))
}

pub(crate) fn criu_err(e: husk_criu::CriuError) -> ContainerError {
    ContainerError::Criu(e.to_string())
}

/// A CRIU failure, with the first error lines of its log.
pub(crate) fn with_log(e: husk_criu::CriuError, log: &Path) -> ContainerError {
    match husk_criu::log_errors(log) {
        Some(lines) => ContainerError::Criu(format!("{e}; {} says: {lines}", log.display())),
        None => ContainerError::Criu(format!("{e} (log: {})", log.display())),
    }
}
