//! `create`: from a bundle to an init waiting for `start`, in three steps:
//! [`prepare`] (reads and checks; makes nothing), [`provision`] (the state
//! directory, its lock, the cgroup, the start socket, idmapped mounts) and
//! [`launch_init`] (the create chain, husk_process::launch). From
//! provision on, a failure tears down what was made with the code
//! `delete` runs (crate::teardown).

use crate::state::{resolve_cgroup, Container, StateData, START_SOCKET};
use crate::teardown::Provisioned;
use crate::ContainerError;
use husk_cgroups::Cgroup;
use husk_host::hooks;
use husk_process::{InitArgs, Parent};
use husk_spec::{NamespaceType, Spec};
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
    let mut prepared = prepare(opts)?;
    let (mut made, made_for_init) = provision(opts, &mut prepared)?;
    tracing::debug!("{}: launching the init", opts.id);
    let relayed = launch_init(opts, &prepared, &made_for_init, &mut made)?;
    drop(made_for_init);
    tracing::debug!("{}: created, init pid {}", opts.id, made.state.pid);
    made.state.creating = false;
    made.save()?;
    if let Some(p) = &opts.pid_file {
        write_pid_file(p, made.state.pid)?;
    }
    let mut container = made.done();
    container.console = relayed;
    Ok(container)
}

/// What [`prepare`] read and checked.
struct Prepared {
    bundle: PathBuf,
    spec: Spec,
    rootfs: PathBuf,
    /// linux.seccomp as saved for exec, and compiled.
    seccomp_json: Option<Vec<u8>>,
    seccomp: Option<husk_seccomp::Program>,
    /// The container's cgroup, resolved (nothing made yet).
    cgroup: Cgroup,
}

/// Reads the bundle and checks it, the flags and the host; compiles the
/// seccomp filter and resolves the cgroup. Makes nothing (but the seccomp
/// cache's entry).
fn prepare(opts: &CreateOptions) -> Result<Prepared, ContainerError> {
    crate::validate_id(&opts.id)?;
    let bundle = std::fs::canonicalize(&opts.bundle)
        .map_err(|e| ContainerError::io("bundle", &opts.bundle, e))?;
    let spec = husk_spec::load_bundle(&bundle)?;
    let process = spec
        .process
        .as_ref()
        .ok_or_else(|| ContainerError::config("process", "is required by create"))?;
    if process.terminal && opts.console_socket.is_none() && !opts.relay_console {
        return Err(ContainerError::config(
            "process.terminal",
            "is true but no --console-socket was given",
        ));
    }
    if !process.terminal && opts.console_socket.is_some() {
        return Err(ContainerError::Usage(
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
        ContainerError::config(
            "root.path",
            format!("{}: {}", rootfs_cfg.display(), crate::error::io_text(&e)),
        )
    })?;
    if !rootfs.is_dir() {
        return Err(ContainerError::config(
            "root.path",
            format!("{} is not a directory", rootfs.display()),
        ));
    }
    // An id in use is that error, not its cgroup's (by default the same
    // path: a paused namesake's cgroup is frozen). provision's mkdir is
    // what makes the check atomic.
    if opts.root.join(&opts.id).symlink_metadata().is_ok() {
        return Err(ContainerError::Exists(opts.id.clone()));
    }
    let linux = spec.linux_or_default();
    let cgroup = resolve_cgroup(opts.systemd_cgroup, linux.cgroups_path.as_deref(), &opts.id)?;
    // runtime-spec 1.3.0: a cgroup that is not fit for the container is an
    // error. A frozen one would hold the init in the refrigerator forever
    // (runc: "container's cgroup unexpectedly frozen"); checked before
    // anything is made, so nothing of its owner's is touched.
    if cgroup.is_frozen() {
        return Err(ContainerError::CgroupFrozen {
            dir: cgroup
                .dirs()
                .next()
                .map_or(String::new(), |d| d.display().to_string()),
        });
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
    Ok(Prepared {
        bundle,
        spec,
        rootfs,
        seccomp_json,
        seccomp,
        cgroup,
    })
}

/// What the init is given from [`provision`] beyond the container's state.
struct ForInit {
    listener: UnixListener,
    idmapped: Vec<(usize, OwnedFd)>,
}

/// Makes what the container needs before its init exists, recording each
/// in the state (the cgroup as planned, before it is made, so that a
/// create killed while making it is undone by `delete --force`): from here
/// a failure (the returned guard dropped) tears it down.
fn provision(
    opts: &CreateOptions,
    p: &mut Prepared,
) -> Result<(Provisioned, ForInit), ContainerError> {
    let linux = p.spec.linux_or_default();
    let host_mounts_before = (!linux
        .namespaces
        .iter()
        .any(|n| n.typ == NamespaceType::Mount))
    .then(|| {
        let claimed = crate::teardown::claimed_host_mounts(&opts.root);
        husk_rootfs::mountinfo::mount_ids_at(&p.rootfs)
            .into_iter()
            .filter(|id| !claimed.contains(id))
            .collect()
    });
    let state = StateData {
        host_mounts_before,
        intel_rdt: linux.intel_rdt.clone(),
        ..StateData::creating(&opts.id, &p.bundle, &p.rootfs, &p.spec, &p.cgroup)
    };
    let mut made = Provisioned::start(&opts.root, state)?;
    let dir = made.dir.clone();
    if let Some(j) = &p.seccomp_json {
        crate::seccomp::save_profile(&dir, j)?;
    }
    crate::notify::setup_spec(&mut p.spec, &dir)?;
    // Saved before anything is made, so that `delete --force` can undo a
    // create that was killed half way.
    made.save()?;
    let resources = made.state.resources.clone();
    match p.cgroup.create(resources.as_ref()) {
        // Recorded with what create() made, saved with the init's pid.
        Ok(()) => made.state.cgroup = Some(p.cgroup.clone()),
        Err(e) => {
            // What create() made of it goes now, then the state (still the
            // planned directories) until the error is tolerated.
            let _ = p.cgroup.destroy();
            crate::rootless::tolerate_cgroup_error(e, resources.as_ref())?;
            made.state.cgroup = None;
        }
    }
    let linux = p.spec.linux_or_default();
    let sock = made.short_path(START_SOCKET);
    let listener = UnixListener::bind(&sock)
        .map_err(|e| ContainerError::io("bind", dir.join(START_SOCKET), e))?;
    // Made here, on the host side, with the privilege the kernel asks for;
    // the init only attaches them.
    let idmapped = husk_rootfs::prepare_idmapped(
        &p.spec.mounts,
        &p.bundle,
        &linux.uid_mappings,
        &linux.gid_mappings,
    )
    .map_err(ContainerError::Rootfs)?;
    Ok((made, ForInit { listener, idmapped }))
}

/// Runs the create chain; returns the pty master to relay, if husk relays
/// the terminal itself.
fn launch_init(
    opts: &CreateOptions,
    p: &Prepared,
    f: &ForInit,
    made: &mut Provisioned,
) -> Result<Option<OwnedFd>, ContainerError> {
    let spec = &p.spec;
    let linux = spec.linux_or_default();
    let cgroup = made.state.cgroup.clone();
    let (preserve_fds, extra_env) = preserved_fds(opts.preserve_fds);
    let (v1, cgroup_v2_dir) = cgroup
        .as_ref()
        .map(|c| c.mount_sources())
        .unwrap_or_default();
    let cgroup_v1 = v1
        .into_iter()
        .map(|(name, host_dir)| husk_rootfs::CgroupBind { name, host_dir })
        .collect();
    let args = InitArgs {
        id: &opts.id,
        spec,
        bundle: &p.bundle,
        rootfs: p.rootfs.clone(),
        start_listener: f.listener.as_raw_fd(),
        preserve_fds,
        extra_env,
        no_pivot: opts.no_pivot,
        no_new_keyring: opts.no_new_keyring,
        cgroup_v1,
        cgroup_v2_dir,
        idmapped_mounts: f
            .idmapped
            .iter()
            .map(|(i, fd)| (*i, fd.as_raw_fd()))
            .collect(),
        seccomp: p.seccomp.as_ref(),
    };
    let creates = |t| {
        linux
            .namespaces
            .iter()
            .any(|n| n.typ == t && n.path.is_none())
    };
    let placement = cgroup
        .as_ref()
        .map(|cg| Placement::of(cg, creates(NamespaceType::Cgroup)));
    let _closed_in_chain = husk_process::close_in_chain(made.lock_fd());
    let mut parent = CreateParent {
        container: made,
        own_pid_ns: creates(NamespaceType::Pid),
        spec,
        cgroup: cgroup.as_ref().zip(placement),
        console: crate::console::Target::new(opts.console_socket.as_deref()),
        state: None,
    };
    if let Err(e) = husk_process::launch(&args, &mut parent) {
        if cgroup.as_ref().is_some_and(|c| c.oom_kills() > 0) {
            let limit = linux
                .resources
                .as_ref()
                .and_then(|r| r.memory.as_ref())
                .and_then(|m| m.limit);
            return Err(ContainerError::SetupOom {
                limit: limit.map_or("unset".to_string(), |l| format!("{l} bytes")),
                source: e,
            });
        }
        return Err(e.into());
    }
    Ok(parent.console.relayed)
}

/// When the init enters the container's cgroup: decided here, once.
#[derive(Clone, Copy, PartialEq)]
enum Placement {
    /// As soon as it exists: a new cgroup namespace takes the init's cgroup
    /// as its root; a systemd scope is made when it gets the init, before
    /// the mounts, which bind its directory without a cgroup namespace.
    AtStart,
    /// As late as possible, once it is set up: the kernel memory of the
    /// namespaces and mounts made for it is then not charged to the
    /// container, which lets a container start under a tiny memory limit,
    /// as with crun. On v1 it joins a CPU-only hierarchy early
    /// (Cgroup::join_early says why).
    AtReady,
}

impl Placement {
    fn of(cg: &Cgroup, own_cgroupns: bool) -> Placement {
        if own_cgroupns || cg.is_systemd() {
            Placement::AtStart
        } else {
            Placement::AtReady
        }
    }
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
    container: &'a mut Provisioned,
    own_pid_ns: bool,
    spec: &'a Spec,
    /// None for an unprivileged user without a cgroup of its own.
    cgroup: Option<(&'a Cgroup, Placement)>,
    console: crate::console::Target<'a>,
    /// The state document the hooks get, once the init exists.
    state: Option<husk_spec::State>,
}

type StepResult<T = ()> = Result<T, husk_process::Error>;

impl Parent for CreateParent<'_> {
    fn init_started(&mut self, pid: i32) -> StepResult<husk_spec::State> {
        // First, so that a failure from here on kills it (crate::teardown).
        self.container.state.pid = pid;
        husk_host::after_init_exists(&self.container.state.id, pid, self.spec)?;
        match self.cgroup {
            Some((cg, Placement::AtStart)) => cg.add_pid(pid).map_err(ContainerError::from)?,
            Some((cg, Placement::AtReady)) => cg.join_early(pid).map_err(ContainerError::from)?,
            None => {}
        }
        let (start, _) = husk_process::process_start_time(pid).ok_or_else(|| {
            husk_process::Error::exited(format!("container init {pid} exited during create"))
        })?;
        self.container.state.pid_start = start;
        if self.own_pid_ns {
            self.container.state.pid_ns = crate::procs::pid_ns_of(pid);
        }
        self.container.save()?;
        let state = self.container.oci_state(crate::Status::Creating);
        self.state = Some(state.clone());
        Ok(state)
    }

    fn init_ready(&mut self, pid: i32) -> StepResult {
        if let Some((cg, Placement::AtReady)) = self.cgroup {
            cg.add_pid(pid).map_err(ContainerError::from)?;
        }
        Ok(())
    }

    fn create_hooks(&mut self) -> StepResult {
        tracing::debug!("mounts done; running prestart and createRuntime hooks");
        // Without a mount namespace: the bind on top of the rootfs now is
        // the init's (taken before any hook could stack another).
        if let Some(before) = &self.container.state.host_mounts_before {
            let rootfs = &self.container.state.rootfs;
            let id = husk_rootfs::mountinfo::mount_id_of(rootfs).filter(|id| !before.contains(id));
            self.container.state.host_mount = id;
            self.container.save()?;
        }
        let (Some(h), Some(state)) = (&self.spec.hooks, &self.state) else {
            return Ok(());
        };
        let state = state.to_json();
        hooks::run_all("prestart", &h.prestart, state.as_bytes())?;
        Ok(hooks::run_all(
            "createRuntime",
            &h.create_runtime,
            state.as_bytes(),
        )?)
    }

    fn seccomp_listener(&mut self, pid: i32, listener: OwnedFd) -> StepResult {
        let s = self.spec.linux.as_ref().and_then(|l| l.seccomp.as_ref());
        let s = s.ok_or_else(|| {
            husk_process::Error::protocol("seccomp listener without linux.seccomp")
        })?;
        let state = self.state.as_ref().map(|s| s.to_json()).unwrap_or_default();
        crate::seccomp::forward_listener(s, pid, &state, listener)
            .map_err(husk_process::Error::system)
    }

    fn console(&mut self, master: OwnedFd) -> StepResult {
        self.console.take(master)
    }
}
