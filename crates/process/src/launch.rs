//! The caller's side of the create chain and the intermediate process.

use crate::namespaces::Plan;
use crate::sync::{Channel, Msg};
use crate::sys::exit_now;
use husk_rootfs::CgroupBind;
use husk_spec::{IdMapping, NamespaceType, Spec};
use nix::unistd::{fork, ForkResult, Pid};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// Everything the container init needs; the forked children read it from
/// their copy of the caller's memory.
pub struct InitArgs<'a> {
    pub id: &'a str,
    pub spec: &'a Spec,
    pub bundle: &'a Path,
    /// Absolute host path of root.path.
    pub rootfs: PathBuf,
    /// The listening socket `start` connects to (close-on-exec).
    pub start_listener: RawFd,
    /// Extra fds (3..3+N) passed to the program: --preserve-fds plus
    /// LISTEN_FDS.
    pub preserve_fds: u32,
    /// Added to process.env (LISTEN_FDS, LISTEN_PID).
    pub extra_env: Vec<String>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub cgroup_v1: Vec<CgroupBind>,
    pub cgroup_v2_dir: Option<PathBuf>,
    /// Idmapped mount trees made by the caller, by mount index.
    pub idmapped_mounts: Vec<(usize, RawFd)>,
    /// linux.seccomp, compiled by the caller before anything is forked.
    pub seccomp: Option<&'a husk_seccomp::Program>,
}

/// What the caller does at each step of the chain.
pub trait Parent {
    /// The init exists (host pid) and waits. Returns the state JSON for
    /// hooks. With a new cgroup namespace, this is when the init must join
    /// the container's cgroup (the namespace takes its cgroup as root).
    fn init_started(&mut self, pid: i32) -> Result<String, String>;
    /// The init is set up and about to wait for `start`: the latest moment
    /// to put it in the container's cgroup. Only the init is ever placed,
    /// and as late as possible, so the kernel memory of namespaces and
    /// mounts made for it is not charged to the container: what lets a
    /// container start under a tiny memory limit, as with crun.
    fn init_ready(&mut self, pid: i32) -> Result<(), String>;
    /// Mounts are done, pivot_root is not: prestart and createRuntime hooks.
    fn create_hooks(&mut self) -> Result<(), String>;
    /// The terminal's master side, for --console-socket.
    fn console(&mut self, master: OwnedFd) -> Result<(), String>;
    /// The seccomp NOTIFY listener, for listenerPath.
    fn seccomp_listener(&mut self, pid: i32, listener: OwnedFd) -> Result<(), String>;
}

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// Reported by the container side (config or kernel refused something).
    #[error("{0}")]
    Container(String),
    /// Failed on the caller's side.
    #[error("{0}")]
    Runtime(String),
}

/// Runs the chain up to "ready, waiting for start" and returns the init's
/// host pid. On error every process it started is gone.
pub fn launch(args: &InitArgs, parent: &mut dyn Parent) -> Result<i32, LaunchError> {
    let linux = args.spec.linux_or_default();
    let plan = Plan::new(&linux.namespaces).map_err(LaunchError::Runtime)?;
    // Read before the move, which drops every address of a device.
    let net_devices = match &linux.net_devices {
        Some(d) => crate::netdev::addresses_to_keep(d).map_err(LaunchError::Runtime)?,
        None => Vec::new(),
    };
    // Bind sources the container's root may not reach: opened for it on the
    // host side (crate::bind_sources). Only in a user namespace the config
    // makes or joins, and only for the host's root (rootless, the sources
    // are the user's own).
    let in_userns = plan.creates(NamespaceType::User) || plan.joins(NamespaceType::User);
    let bind_sources =
        if in_userns && plan.creates(NamespaceType::Mount) && nix::unistd::geteuid().is_root() {
            husk_rootfs::bind_sources(&args.spec.mounts, args.bundle)
        } else {
            Vec::new()
        };
    crate::chain::run_chain(
        |ch| intermediate(args, &plan, &net_devices, !bind_sources.is_empty(), ch),
        |ch, child, init_pid| drive(args, &bind_sources, parent, ch, child, init_pid),
    )
}

fn drive(
    args: &InitArgs,
    bind_sources: &[(usize, PathBuf)],
    parent: &mut dyn Parent,
    ch: &Channel,
    child: Pid,
    init_pid: &mut Option<i32>,
) -> Result<i32, LaunchError> {
    let linux = args.spec.linux_or_default();
    let rt = LaunchError::Runtime;
    send(ch, &Msg::Proceed)?;
    loop {
        let (msg, fd) = ch
            .recv()
            .map_err(|e| LaunchError::Container(format!("container init: {e}")))?;
        match msg {
            Msg::MapIds => {
                write_id_maps(child.as_raw(), &linux.uid_mappings, &linux.gid_mappings)
                    .map_err(rt)?;
                send(ch, &Msg::Proceed)?;
            }
            Msg::MountSources => {
                crate::bind_sources::send(ch, child, bind_sources).map_err(rt)?;
            }
            Msg::InitPid(pid) => {
                *init_pid = Some(pid);
                let state = parent.init_started(pid).map_err(rt)?;
                send(ch, &Msg::State(state))?;
            }
            Msg::RunCreateHooks => {
                parent.create_hooks().map_err(rt)?;
                send(ch, &Msg::Proceed)?;
            }
            Msg::Console => {
                let fd = fd.ok_or_else(|| rt("console message without a descriptor".into()))?;
                parent.console(fd).map_err(rt)?;
                send(ch, &Msg::Proceed)?;
            }
            Msg::SeccompListener => {
                let fd = fd.ok_or_else(|| rt("seccomp listener without a descriptor".into()))?;
                let pid = init_pid.ok_or_else(|| rt("seccomp listener before the pid".into()))?;
                parent.seccomp_listener(pid, fd).map_err(rt)?;
                send(ch, &Msg::Proceed)?;
            }
            Msg::Ready => {
                let pid =
                    init_pid.ok_or_else(|| rt("init ready before its pid was known".into()))?;
                parent.init_ready(pid).map_err(rt)?;
                return Ok(pid);
            }
            Msg::Error(e) => return Err(LaunchError::Container(e)),
            other => return Err(rt(format!("protocol error: unexpected {other:?}"))),
        }
    }
}

fn send(ch: &Channel, m: &Msg) -> Result<(), LaunchError> {
    ch.send(m)
        .map_err(|e| LaunchError::Container(format!("container init exited: {e}")))
}

fn map_text(m: &[IdMapping]) -> String {
    m.iter()
        .map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size))
        .collect()
}

/// Written from outside, as the kernel requires a process with privilege
/// over the parent namespace for multi-range maps.
fn write_id_maps(pid: i32, uid: &[IdMapping], gid: &[IdMapping]) -> Result<(), String> {
    if !nix::unistd::geteuid().is_root() {
        return crate::idmap::write_as_user(pid, uid, gid);
    }
    let write = |file: &str, text: String, field: &str| {
        if text.is_empty() {
            return Ok(());
        }
        Ok(crate::procfs::write_pid(pid, file, text.as_bytes(), field)?)
    };
    write("uid_map", map_text(uid), "linux.uidMappings")?;
    write("gid_map", map_text(gid), "linux.gidMappings")
}

/// Joins the configured namespaces, creates the user namespace and waits
/// for its maps, creates the rest, then forks the init.
fn intermediate(
    args: &InitArgs,
    plan: &Plan,
    net_devices: &[crate::netdev::DeviceAddresses],
    wants_bind_sources: bool,
    ch: &Channel,
) -> Result<(), String> {
    // An unprivileged parent can open our uid_map only while we are
    // dumpable; it is the same user, who could ptrace us anyway.
    let user_writes_maps = plan.creates(NamespaceType::User) && !nix::unistd::geteuid().is_root();
    crate::sys::set_dumpable(user_writes_maps)?;
    ch.expect_proceed()?;
    plan.join_all()?;
    if plan.creates(NamespaceType::User) {
        Plan::unshare(&[NamespaceType::User])?;
        ch.send(&Msg::MapIds).map_err(|e| e.to_string())?;
        ch.expect_proceed()?;
        crate::sys::set_dumpable(false)?;
        // Become the namespace's root so that what follows is privileged in it.
        let root_u = nix::unistd::Uid::from_raw(0);
        let root_g = nix::unistd::Gid::from_raw(0);
        nix::unistd::setresgid(root_g, root_g, root_g)
            .map_err(|e| format!("linux.gidMappings: setgid 0 in the user namespace: {e}"))?;
        nix::unistd::setresuid(root_u, root_u, root_u)
            .map_err(|e| format!("linux.uidMappings: setuid 0 in the user namespace: {e}"))?;
    }
    // The cgroup namespace is left to the init, which creates it once it is
    // in the container's cgroup, so that this cgroup is the namespace's root.
    let rest: Vec<NamespaceType> = plan
        .create
        .iter()
        .copied()
        .filter(|t| *t != NamespaceType::User && *t != NamespaceType::Cgroup)
        .collect();
    Plan::unshare(&rest)?;
    // In the new mount namespace now: the caller's helper opens them there.
    let bind_fds = if wants_bind_sources {
        crate::bind_sources::receive(ch)?
    } else {
        Vec::new()
    };
    if plan.creates(NamespaceType::Time) {
        write_time_offsets(args.spec)?;
    }
    // SAFETY: still single-threaded (a fork of the single-threaded caller).
    match unsafe { fork() } {
        Err(e) => Err(format!("fork init: {e}")),
        Ok(ForkResult::Child) => {
            let held: Vec<(usize, RawFd)> =
                bind_fds.iter().map(|(i, f)| (*i, f.as_raw_fd())).collect();
            let got = crate::init::Gathered {
                bind_sources: &held,
                net_devices,
            };
            let e = crate::init::run(args, plan, ch, &got);
            let _ = ch.send(&Msg::Error(e));
            exit_now(1);
        }
        Ok(ForkResult::Parent { child }) => {
            ch.send(&Msg::InitPid(child.as_raw()))
                .map_err(|e| e.to_string())?;
            Ok(())
        }
    }
}

fn write_time_offsets(spec: &Spec) -> Result<(), String> {
    let Some(offsets) = spec.linux.as_ref().and_then(|l| l.time_offsets.as_ref()) else {
        return Ok(());
    };
    let mut text = String::new();
    // The clock names were checked with the config (husk_spec::check).
    for (clock, o) in offsets {
        text.push_str(&format!("{clock} {} {}\n", o.secs, o.nanosecs));
    }
    Ok(crate::procfs::write_self(
        "timens_offsets",
        text.as_bytes(),
        "linux.timeOffsets",
    )?)
}
