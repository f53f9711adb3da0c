//! `create`: from a bundle to an init waiting for `start`.

use crate::state::{lock_dir, Container, StateData, START_SOCKET};
use crate::{time, ContainerError};
use husk_cgroups::Cgroup;
use husk_process::{hooks, launch, InitArgs, Parent};
use husk_spec::Spec;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Clone)]
pub struct CreateOptions {
    pub id: String,
    pub bundle: PathBuf,
    pub root: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub preserve_fds: u32,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    /// Without --console-socket, keep the pty master in the returned
    /// container (for `run` in the foreground to relay).
    pub relay_console: bool,
    /// `--systemd-cgroup`: the container's cgroup is a systemd scope.
    pub systemd_cgroup: bool,
}

/// Creates the container and returns it, still locked, with its init
/// waiting for `start`. On error nothing is left: no process, cgroup, or
/// state directory.
pub fn create(opts: &CreateOptions) -> Result<Container, ContainerError> {
    crate::validate_id(&opts.id)?;
    let bundle = std::fs::canonicalize(&opts.bundle)
        .map_err(|e| ContainerError::io("bundle", &opts.bundle, e))?;
    let mut spec = husk_spec::load_bundle(&bundle)?;
    let process = spec.process.as_ref().ok_or_else(|| {
        ContainerError::Other("config.json: process: is required by create".into())
    })?;
    if process.terminal && opts.console_socket.is_none() && !opts.relay_console {
        return Err(ContainerError::Other(
            "config.json: process.terminal is true but no --console-socket was given".into(),
        ));
    }
    if !process.terminal && opts.console_socket.is_some() {
        return Err(ContainerError::Other(
            "--console-socket was given but process.terminal is false".into(),
        ));
    }
    // The config on this host, before anything is made: what `husk check`
    // reports, stopping at the first error.
    crate::check::host_first_error(&spec, &bundle)?;
    let seccomp_json = spec
        .linux
        .as_ref()
        .and_then(|l| l.seccomp.as_ref())
        .map(crate::seccomp::profile_json);
    let seccomp = seccomp_json
        .as_deref()
        .map(|j| crate::seccomp::compile(&opts.root, j))
        .transpose()?;
    let root_path = &spec.root.as_ref().expect("validated").path;
    let rootfs_cfg = bundle.join(root_path);
    let rootfs = std::fs::canonicalize(&rootfs_cfg).map_err(|e| {
        ContainerError::Other(format!(
            "config.json: root.path: {}: {}",
            rootfs_cfg.display(),
            io_text(&e)
        ))
    })?;
    if !rootfs.is_dir() {
        return Err(ContainerError::Other(format!(
            "config.json: root.path: {} is not a directory",
            rootfs.display()
        )));
    }

    let dir = crate::state::make_dir(&opts.root, &opts.id)?;
    // From here on the guard removes everything on failure.
    let mut guard = Guard {
        dir: dir.clone(),
        pid_ns: None,
        cgroup: None,
        init_pid: None,
        poststop: None,
        state_json: String::new(),
        host_mounts: None,
        host_mount: None,
        intel_rdt: None,
    };
    let lock = lock_dir(&dir, &opts.id)?;
    if let Some(j) = &seccomp_json {
        crate::seccomp::save_profile(&dir, j)?;
    }
    crate::notify::setup_spec(&mut spec, &dir)?;
    let linux = spec.linux_or_default();
    let cgroup = match opts.systemd_cgroup {
        true => Cgroup::resolve_systemd(linux.cgroups_path.as_deref(), &opts.id)?,
        false => Cgroup::resolve(linux.cgroups_path.as_deref(), &opts.id)?,
    };
    let state = StateData {
        id: opts.id.clone(),
        bundle: bundle.clone(),
        rootfs: rootfs.clone(),
        pid: 0,
        pid_start: 0,
        created: time::now_rfc3339(),
        owner: String::new(),
        annotations: spec.annotations.clone(),
        pid_ns: None,
        cgroup: Some(cgroup.clone()),
        creating: true,
        hooks: spec.hooks.clone(),
        host_mounts_before: (!linux
            .namespaces
            .iter()
            .any(|n| n.typ == husk_spec::NamespaceType::Mount))
        .then(|| {
            let claimed = crate::delete::claimed_host_mounts(&opts.root);
            husk_rootfs::mountinfo::mount_ids_at(&rootfs)
                .into_iter()
                .filter(|id| !claimed.contains(id))
                .collect()
        }),
        intel_rdt: linux.intel_rdt.clone(),
        resources: linux.resources.clone(),
        host_mount: None,
    };
    guard.intel_rdt = state.intel_rdt.clone().map(|r| (opts.id.clone(), r));
    guard.host_mounts = state
        .host_mounts_before
        .clone()
        .map(|b| (rootfs.clone(), b));
    let mut container = Container::new(dir.clone(), lock, state);
    let _closed_in_chain = husk_process::close_in_chain(container.lock_fd());
    // Saved before anything is made, so that `delete --force` can undo a
    // create that was killed half way.
    container.save()?;
    // runtime-spec 1.3.0: a cgroup that is not fit for the container is an
    // error. A frozen one would hold the init in the refrigerator forever
    // (runc: "container's cgroup unexpectedly frozen"); checked before
    // anything is made in it, so nothing of its owner's is touched.
    if cgroup.is_frozen() {
        return Err(ContainerError::Other(format!(
            "linux.cgroupsPath: the container's cgroup {} is frozen; thaw it or choose another cgroupsPath",
            cgroup.dirs().next().map_or(String::new(), |d| d.display().to_string())
        )));
    }
    if let Some(n) = cgroup
        .pids()
        .ok()
        .filter(|p| !p.is_empty())
        .map(|p| p.len())
    {
        tracing::warn!(
            "linux.cgroupsPath: the container's cgroup already holds {n} processes; they share its limits"
        );
    }
    let created = cgroup.create(linux.resources.as_ref());
    // Whatever create() made is recorded in `cgroup`, also on failure paths
    // it did not undo itself.
    guard.cgroup = Some(cgroup.clone());
    let cgroup = match created {
        Ok(()) => Some(cgroup),
        Err(e) => {
            crate::rootless::tolerate_cgroup_error(e, linux.resources.as_ref())?;
            None
        }
    };
    // Recorded with the init's pid at the next save; until then the state
    // saved above (the planned directories) is what a crash cleanup needs.
    container.state.cgroup = cgroup.clone();
    guard.poststop = spec.hooks.as_ref().map(|h| h.poststop.clone());

    let sock = container.short_path(START_SOCKET);
    let listener = UnixListener::bind(&sock)
        .map_err(|e| ContainerError::io("bind", dir.join(START_SOCKET), e))?;

    let (preserve_fds, extra_env) = preserved_fds(opts.preserve_fds);
    let (v1, cgroup_v2_dir) = cgroup
        .as_ref()
        .map(|c| c.mount_sources())
        .unwrap_or_default();
    let cgroup_v1 = v1
        .into_iter()
        .map(|(name, host_dir)| husk_rootfs::CgroupBind { name, host_dir })
        .collect();
    // Made here, on the host side, with the privilege the kernel asks for;
    // the init only attaches them.
    let idmapped = husk_rootfs::prepare_idmapped(
        &spec.mounts,
        &bundle,
        &linux.uid_mappings,
        &linux.gid_mappings,
    )
    .map_err(|e| ContainerError::Other(format!("config.json: {e}")))?;
    let args = InitArgs {
        id: &opts.id,
        spec: &spec,
        bundle: &bundle,
        rootfs,
        start_listener: listener.as_raw_fd(),
        preserve_fds,
        extra_env,
        no_pivot: opts.no_pivot,
        no_new_keyring: opts.no_new_keyring,
        cgroup_v1,
        cgroup_v2_dir,
        idmapped_mounts: idmapped
            .iter()
            .map(|(i, fd)| (*i, fd.as_raw_fd()))
            .collect(),
        seccomp: seccomp.as_ref(),
    };
    let own_pid_ns = linux
        .namespaces
        .iter()
        .any(|n| n.typ == husk_spec::NamespaceType::Pid && n.path.is_none());
    let own_cgroupns = linux
        .namespaces
        .iter()
        .any(|n| n.typ == husk_spec::NamespaceType::Cgroup && n.path.is_none());
    let mut parent = CreateParent {
        container: &mut container,
        own_pid_ns,
        own_cgroupns,
        spec: &spec,
        cgroup: cgroup.as_ref(),
        console_socket: opts.console_socket.as_deref(),
        relayed: None,
        guard: &mut guard,
    };
    tracing::debug!("{}: launching the init", opts.id);
    if let Err(e) = launch(&args, &mut parent) {
        if cgroup.as_ref().is_some_and(|c| c.oom_kills() > 0) {
            let limit = linux
                .resources
                .as_ref()
                .and_then(|r| r.memory.as_ref())
                .and_then(|m| m.limit);
            return Err(ContainerError::Other(format!(
                "the OOM killer ended the container's setup: linux.resources.memory.limit ({}) is too low ({e})",
                limit.map_or("unset".to_string(), |l| format!("{l} bytes"))
            )));
        }
        return Err(e.into());
    }
    let relayed = parent.relayed.take();
    drop(listener);
    tracing::debug!("{}: created, init pid {}", opts.id, container.state.pid);

    container.state.creating = false;
    container.save()?;
    if let Some(p) = &opts.pid_file {
        write_pid_file(p, container.state.pid)?;
    }
    guard.disarm();
    container.console = relayed;
    Ok(container)
}

pub(crate) fn io_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    s.split(" (os error").next().unwrap_or(&s).to_lowercase()
}

/// runc passes systemd socket activation through: the fds 3.. named by
/// LISTEN_FDS, when LISTEN_PID says they are meant for us (systemd's rule;
/// a stale pair inherited from an ancestor is not), plus --preserve-fds.
fn preserved_fds(preserve: u32) -> (u32, Vec<String>) {
    let for_us = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    let listen: u32 = std::env::var("LISTEN_FDS")
        .ok()
        .filter(|_| for_us)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut env = Vec::new();
    if listen > 0 {
        env.push(format!("LISTEN_FDS={listen}"));
        env.push("LISTEN_PID=1".to_string());
    }
    (listen + preserve, env)
}

/// Writes the pid file through a temporary file and rename: engines poll
/// for it and must never read it half written.
pub(crate) fn write_pid_file(path: &Path, pid: i32) -> Result<(), ContainerError> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| ContainerError::io("getcwd", ".", e))?
            .join(path)
    };
    let tmp = abs.with_file_name(format!(
        ".{}.tmp",
        abs.file_name().and_then(|n| n.to_str()).unwrap_or("pid")
    ));
    std::fs::write(&tmp, pid.to_string())
        .map_err(|e| ContainerError::io("write pid file", &tmp, e))?;
    std::fs::rename(&tmp, &abs).map_err(|e| ContainerError::io("write pid file", &abs, e))
}

struct CreateParent<'a> {
    container: &'a mut Container,
    own_pid_ns: bool,
    own_cgroupns: bool,
    spec: &'a Spec,
    /// None for an unprivileged user without a cgroup of its own.
    cgroup: Option<&'a Cgroup>,
    console_socket: Option<&'a Path>,
    relayed: Option<OwnedFd>,
    guard: &'a mut Guard,
}

impl Parent for CreateParent<'_> {
    fn init_started(&mut self, pid: i32) -> Result<String, String> {
        self.guard.init_pid = Some(pid);
        husk_process::after_init_exists(&self.container.state.id, pid, self.spec)?;
        // A systemd scope is made when it gets the init: before the mounts,
        // which bind its directory without a cgroup namespace.
        match self.cgroup {
            Some(cg) if self.own_cgroupns || cg.is_systemd() => {
                cg.add_pid(pid).map_err(|e| e.to_string())?
            }
            Some(cg) => cg.join_early(pid).map_err(|e| e.to_string())?,
            None => {}
        }
        let (start, _) = husk_process::process_start_time(pid)
            .ok_or_else(|| format!("container init {pid} exited during create"))?;
        self.container.state.pid = pid;
        self.container.state.pid_start = start;
        if self.own_pid_ns {
            self.container.state.pid_ns = crate::delete::pid_ns_of(pid);
            self.guard.pid_ns = self.container.state.pid_ns.clone();
        }
        self.container.save().map_err(|e| e.to_string())?;
        let state = self.container.oci_state_json(crate::Status::Creating);
        self.guard.state_json = state.clone();
        Ok(state)
    }

    fn init_ready(&mut self, pid: i32) -> Result<(), String> {
        if let Some(cg) = self
            .cgroup
            .filter(|c| !self.own_cgroupns && !c.is_systemd())
        {
            cg.add_pid(pid).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn create_hooks(&mut self) -> Result<(), String> {
        tracing::debug!("mounts done; running prestart and createRuntime hooks");
        // Without a mount namespace: the bind on top of the rootfs now is
        // the init's (taken before any hook could stack another).
        if let Some(before) = &self.container.state.host_mounts_before {
            let rootfs = &self.container.state.rootfs;
            let id = husk_rootfs::mountinfo::mount_id_of(rootfs).filter(|id| !before.contains(id));
            self.container.state.host_mount = id;
            self.guard.host_mount = id;
            self.container.save().map_err(|e| e.to_string())?;
        }
        let Some(h) = &self.spec.hooks else {
            return Ok(());
        };
        let state = self.guard.state_json.as_bytes();
        hooks::run_all("prestart", &h.prestart, state).map_err(|e| e.to_string())?;
        hooks::run_all("createRuntime", &h.create_runtime, state).map_err(|e| e.to_string())
    }

    fn seccomp_listener(&mut self, pid: i32, listener: OwnedFd) -> Result<(), String> {
        let s = self.spec.linux.as_ref().and_then(|l| l.seccomp.as_ref());
        let s = s.ok_or("seccomp listener without linux.seccomp")?;
        crate::seccomp::forward_listener(s, pid, &self.guard.state_json, listener)
    }

    fn console(&mut self, master: OwnedFd) -> Result<(), String> {
        match self.console_socket {
            Some(s) => crate::console::send_master(s, &master),
            None => {
                // The process may read its terminal size at once: set it
                // before the process goes on, not when relaying starts.
                crate::relay::copy_window_size(&master);
                self.relayed = Some(master);
                Ok(())
            }
        }
    }
}

/// Undoes a failed create: the init, the cgroup, then (per the spec's
/// lifecycle, a failed create continues at "delete") the poststop hooks,
/// and the state directory.
struct Guard {
    dir: PathBuf,
    pid_ns: Option<String>,
    cgroup: Option<Cgroup>,
    init_pid: Option<i32>,
    poststop: Option<Vec<husk_spec::Hook>>,
    state_json: String,
    /// The rootfs and the mounts at it before create, without a mount
    /// namespace (see StateData::host_mounts_before).
    host_mounts: Option<(PathBuf, Vec<u64>)>,
    /// Husk's own bind among them, once known.
    host_mount: Option<u64>,
    /// The container id and linux.intelRdt, for the groups apply made.
    intel_rdt: Option<(String, husk_spec::IntelRdt)>,
}

impl Guard {
    fn disarm(&mut self) {
        self.dir = PathBuf::new();
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.dir.as_os_str().is_empty() {
            return;
        }
        if let Some(pid) = self.init_pid {
            crate::kill::kill_and_wait(pid);
        }
        if let Some((rootfs, before)) = &self.host_mounts {
            let root = self.dir.parent().unwrap_or(&self.dir);
            crate::delete::detach_host_mounts(root, rootfs, before, self.host_mount);
        }
        if let Some((id, rdt)) = &self.intel_rdt {
            husk_process::remove_intel_rdt(id, rdt);
        }
        if let Some(cg) = &self.cgroup {
            if let Err(e) = crate::delete::remove_cgroup(cg, self.pid_ns.as_deref()) {
                tracing::warn!("cleanup after failed create: {e}");
            }
        }
        if let (Some(hooks), Some(_)) = (&self.poststop, self.init_pid) {
            hooks::run_all_warn("poststop", hooks, self.state_json.as_bytes());
        }
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            tracing::warn!(
                "cleanup after failed create: remove {}: {e}",
                self.dir.display()
            );
        }
    }
}
