//! The state store: `<root>/<id>/state.json`, written atomically, with the
//! container directory flock'ed by every command that changes it.

use crate::ContainerError;
use husk_cgroups::Cgroup;
use husk_spec::Hooks;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

pub const STATE_FILE: &str = "state.json";
/// Exists while the init waits for `start`: "created".
pub const START_SOCKET: &str = "start.sock";
/// `restore`'s bind of the rootfs for CRIU, while it restores.
pub(crate) const CRIU_ROOT: &str = "criu-root";

/// What husk remembers of a container; `state` and `list` read only this
/// file (never the bundle).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StateData {
    pub id: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// Host pid of the init, 0 until it exists.
    pub pid: i32,
    /// /proc/PID/stat start time of that pid: tells a reused pid apart.
    pub pid_start: u64,
    pub created: String,
    pub owner: String,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub cgroup: Option<Cgroup>,
    /// `pid:[inode]` of the container's own pid namespace, if it has one:
    /// delete then kills only processes in it, never those of containers
    /// that share the cgroup.
    #[serde(default)]
    pub pid_ns: Option<String>,
    /// True until create has finished.
    #[serde(default)]
    pub creating: bool,
    /// poststart and poststop run after create has returned.
    #[serde(default)]
    pub hooks: Option<Hooks>,
    /// Without a mount namespace in the config the rootfs is set up in
    /// husk's own mount namespace: the ids of the mounts that stood at the
    /// rootfs before create. Every mount stacked there since is create's,
    /// and delete (or a failed create) detaches it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_mounts_before: Option<Vec<u64>>,
    /// The id of husk's own private bind of the rootfs, learnt once the
    /// init has made its mounts: what delete detaches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_mount: Option<u64>,
    /// linux.resources as created and updated since: `update` validates
    /// its flags merged into them, as runc does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<husk_spec::Resources>,
    /// linux.intelRdt, for delete to remove the groups create made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intel_rdt: Option<husk_spec::IntelRdt>,
}

pub use husk_spec::Status;

/// The runtime spec's state document plus runc's extras (husk_spec::State).
pub type OciState = husk_spec::State;

/// An opened container directory, locked for the life of the value.
pub struct Container {
    pub dir: PathBuf,
    dir_fd: DirHandle,
    pub state: StateData,
    /// The pty master when husk relays the terminal itself (`run -t`
    /// without --console-socket).
    pub console: Option<std::os::fd::OwnedFd>,
}

/// The container directory, flock'ed while this value lives (or, for
/// readers, merely open).
pub(crate) enum DirHandle {
    Locked(Flock<File>),
    Open(File),
}

impl DirHandle {
    fn raw(&self) -> std::os::fd::RawFd {
        match self {
            DirHandle::Locked(f) => f.as_raw_fd(),
            DirHandle::Open(f) => f.as_raw_fd(),
        }
    }
}

pub(crate) fn lock_dir(dir: &Path, id: &str) -> Result<DirHandle, ContainerError> {
    let f = File::open(dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ContainerError::NotFound(id.to_string()),
        _ => ContainerError::io("open", dir, e),
    })?;
    let locked = Flock::lock(f, FlockArg::LockExclusive)
        .map_err(|(_, e)| ContainerError::io("lock", dir, e.into()))?;
    Ok(DirHandle::Locked(locked))
}

impl StateData {
    /// The record of a container being made (create, restore) from its
    /// bundle: no init yet, its cgroup as planned.
    pub(crate) fn creating(
        id: &str,
        bundle: &Path,
        rootfs: &Path,
        spec: &husk_spec::Spec,
        cgroup: &husk_cgroups::Cgroup,
    ) -> StateData {
        StateData {
            id: id.to_string(),
            bundle: bundle.to_path_buf(),
            rootfs: rootfs.to_path_buf(),
            pid: 0,
            pid_start: 0,
            created: crate::time::now_rfc3339(),
            owner: String::new(),
            annotations: spec.annotations.clone(),
            pid_ns: None,
            cgroup: Some(cgroup.clone()),
            creating: true,
            hooks: spec.hooks.clone(),
            host_mounts_before: None,
            intel_rdt: None,
            resources: spec.linux.as_ref().and_then(|l| l.resources.clone()),
            host_mount: None,
        }
    }
}

/// The container's cgroup as the driver asked for resolves it (create,
/// restore). Makes nothing.
pub(crate) fn resolve_cgroup(
    systemd: bool,
    cgroups_path: Option<&str>,
    id: &str,
) -> Result<husk_cgroups::Cgroup, ContainerError> {
    Ok(match systemd {
        true => husk_cgroups::Cgroup::resolve_systemd(cgroups_path, id)?,
        false => husk_cgroups::Cgroup::resolve(cgroups_path, id)?,
    })
}

/// Makes `<root>` (0700, if missing) and the container's own directory
/// `<root>/<id>` (0700), which must not exist: create's and restore's start.
pub(crate) fn make_dir(root: &Path, id: &str) -> Result<PathBuf, ContainerError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(root)
        .map_err(|e| ContainerError::io("create state root", root, e))?;
    let dir = root.join(id);
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => Ok(dir),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(ContainerError::Exists(id.to_string()))
        }
        Err(e) => Err(ContainerError::io("create state dir", &dir, e)),
    }
}

/// Opens and locks `<root>/<id>`.
pub fn load(root: &Path, id: &str) -> Result<Container, ContainerError> {
    crate::validate_id(id)?;
    let dir = root.join(id);
    let dir_fd = lock_dir(&dir, id)?;
    let path = dir.join(STATE_FILE);
    let data = std::fs::read(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ContainerError::NotFound(id.to_string()),
        _ => ContainerError::io("read", &path, e),
    })?;
    let state = serde_json::from_slice(&data).map_err(|e| ContainerError::CorruptState {
        id: id.to_string(),
        what: path.display().to_string(),
        reason: e.to_string(),
    })?;
    Ok(Container {
        dir,
        dir_fd,
        state,
        console: None,
    })
}

impl Container {
    /// The flock'ed state directory descriptor (for the chain to close).
    pub(crate) fn lock_fd(&self) -> std::os::fd::RawFd {
        self.dir_fd.raw()
    }

    pub(crate) fn new(dir: PathBuf, dir_fd: DirHandle, state: StateData) -> Self {
        Container {
            dir,
            dir_fd,
            state,
            console: None,
        }
    }

    pub fn id(&self) -> &str {
        &self.state.id
    }

    /// Writes state.json through a temporary file and rename, so a reader
    /// never sees half of it.
    pub fn save(&self) -> Result<(), ContainerError> {
        let tmp = self.dir.join(".state.json.tmp");
        let data = serde_json::to_vec(&self.state).map_err(|e| ContainerError::CorruptState {
            id: self.state.id.clone(),
            what: "state (encoding it)".into(),
            reason: e.to_string(),
        })?;
        let mut f = File::create(&tmp).map_err(|e| ContainerError::io("create", &tmp, e))?;
        f.write_all(&data)
            .map_err(|e| ContainerError::io("write", &tmp, e))?;
        drop(f);
        let path = self.dir.join(STATE_FILE);
        std::fs::rename(&tmp, &path).map_err(|e| ContainerError::io("rename", &path, e))
    }

    /// Alive means the pid exists, is not a zombie, and started when ours
    /// did; anything else is a stopped container.
    pub fn init_alive(&self) -> bool {
        if self.state.pid <= 0 {
            return false;
        }
        match husk_process::process_start_time(self.state.pid) {
            Some((start, st)) => start == self.state.pid_start && st != 'Z' && st != 'X',
            None => false,
        }
    }

    pub fn status(&self) -> Status {
        if !self.init_alive() {
            return Status::Stopped;
        }
        if self.state.creating {
            return Status::Creating;
        }
        if self.dir.join(START_SOCKET).exists() {
            return Status::Created;
        }
        if self.state.cgroup.as_ref().is_some_and(|c| c.is_frozen()) {
            return Status::Paused;
        }
        Status::Running
    }

    /// The state document of the runtime spec plus runc's extras, in
    /// runc's key order, as `state` prints it and hooks receive it.
    pub fn oci_state(&self, status: Status) -> OciState {
        let pid = if status == Status::Stopped {
            0
        } else {
            self.state.pid
        };
        OciState {
            oci_version: husk_spec::OCI_VERSION.to_string(),
            id: self.state.id.clone(),
            pid,
            status,
            bundle: self.state.bundle.clone(),
            rootfs: self.state.rootfs.clone(),
            created: self.state.created.clone(),
            owner: self.state.owner.clone(),
            annotations: self.state.annotations.clone(),
        }
    }

    /// The state document as compact JSON, for hooks.
    pub fn oci_state_json(&self, status: Status) -> String {
        self.oci_state(status).to_json()
    }

    /// `/proc/self/fd/N/NAME`: a short path to a file in the container
    /// directory whatever --root is (unix socket paths are limited to 108
    /// bytes).
    pub fn short_path(&self, name: &str) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}/{name}", self.dir_fd.raw()))
    }
}

/// Every container under `root`, in name order; unreadable entries are
/// skipped (a create in progress may not have written its state yet).
pub fn list(root: &Path) -> Result<Vec<(Container, Status)>, ContainerError> {
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(ContainerError::io("read", root, e)),
    };
    let mut ids: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    ids.sort();
    let mut out = Vec::new();
    for id in ids {
        if let Ok(c) = load_shared(root, &id) {
            let s = c.status();
            out.push((c, s));
        }
    }
    Ok(out)
}

/// Reads a container's state without locking: state.json is replaced by
/// rename, so it is always whole, and a hook that runs `husk state` during
/// create must not wait for create's lock.
pub fn load_for_read(root: &Path, id: &str) -> Result<Container, ContainerError> {
    crate::validate_id(id)?;
    load_shared(root, id)
}

pub(crate) fn load_shared(root: &Path, id: &str) -> Result<Container, ContainerError> {
    let dir = root.join(id);
    let f = File::open(&dir).map_err(|_| ContainerError::NotFound(id.to_string()))?;
    let data = std::fs::read(dir.join(STATE_FILE))
        .map_err(|_| ContainerError::NotFound(id.to_string()))?;
    let state = serde_json::from_slice(&data).map_err(|e| ContainerError::CorruptState {
        id: id.to_string(),
        what: "state".into(),
        reason: e.to_string(),
    })?;
    Ok(Container {
        dir,
        dir_fd: DirHandle::Open(f),
        state,
        console: None,
    })
}
