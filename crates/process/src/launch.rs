//! The caller's side of the create chain and the intermediate process.

use crate::args::{InitArgs, Parent};
use crate::error::{Error, LaunchError, Result};
use crate::namespaces::Plan;
use crate::sync::{CallerEnd, ChildEnd, Report, Step};
use crate::sys::exit_now;
use husk_spec::{IdMapping, NamespaceType, Process, Spec};
use nix::unistd::{fork, ForkResult, Pid};
use std::os::fd::{AsRawFd, RawFd};
use std::path::PathBuf;

/// Runs the chain up to "ready, waiting for start" and returns the init's
/// host pid. On error every process it started is gone.
pub fn launch(args: &InitArgs, parent: &mut dyn Parent) -> Result<i32, LaunchError> {
    let linux = args.spec.linux_or_default();
    let plan = Plan::new(&linux.namespaces).map_err(LaunchError::Runtime)?;
    // Read before the move, which drops every address of a device.
    let net_devices = match &linux.net_devices {
        Some(d) => {
            husk_host::netdev::addresses_to_keep(d).map_err(|e| LaunchError::Runtime(e.into()))?
        }
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
        |ch, child, init_pid| drive(args, &plan, &bind_sources, parent, ch, child, init_pid),
    )
}

/// The caller's side of create, step by step in the order the intermediate
/// and the init take them (`intermediate` below, then `init::setup`).
/// A step's own failure is the caller's (`Runtime`); a failure reported
/// by the container side, or a step out of order, is the container's.
fn drive(
    args: &InitArgs,
    plan: &Plan,
    bind_sources: &[(usize, PathBuf)],
    parent: &mut dyn Parent,
    ch: &CallerEnd,
    child: Pid,
    init_pid: &mut Option<i32>,
) -> Result<i32, LaunchError> {
    let linux = args.spec.linux_or_default();
    let rt = LaunchError::Runtime;
    let ct = |e: Error| match e.kind {
        crate::error::ErrorKind::Exited => LaunchError::Container(e.context("container init")),
        _ => LaunchError::Container(e),
    };
    ch.proceed().map_err(ct)?;
    if plan.creates(NamespaceType::User) {
        ch.expect(Step::MapIds).map_err(ct)?;
        write_id_maps(child.as_raw(), &linux.uid_mappings, &linux.gid_mappings).map_err(rt)?;
        ch.proceed().map_err(ct)?;
    }
    if !bind_sources.is_empty() {
        ch.expect(Step::MountSources).map_err(ct)?;
        crate::bind_sources::send(ch, child, bind_sources).map_err(rt)?;
    }
    let pid = ch.expect_pid().map_err(ct)?;
    *init_pid = Some(pid);
    let state = parent.init_started(pid).map_err(rt)?;
    ch.reply(&crate::sync::Reply::State(state)).map_err(ct)?;
    ch.expect(Step::CreateHooks).map_err(ct)?;
    parent.create_hooks().map_err(rt)?;
    ch.proceed().map_err(ct)?;
    let process = args.spec.process.as_ref();
    terminal_and_listener(ch, parent, pid, process, args.seccomp).map_err(|e| match e {
        LaunchError::Container(e) => ct(e),
        rt => rt,
    })?;
    ch.expect(Step::Ready).map_err(ct)?;
    parent.init_ready(pid).map_err(rt)?;
    Ok(pid)
}

/// The two steps create and exec share, in the order both take them: the
/// terminal (process.terminal), then the seccomp NOTIFY listener (a filter
/// that notifies), each handed to `parent` before the process goes on.
pub(crate) fn terminal_and_listener(
    ch: &CallerEnd,
    parent: &mut dyn Parent,
    pid: i32,
    process: Option<&Process>,
    seccomp: Option<&husk_seccomp::Program>,
) -> Result<(), LaunchError> {
    let (rt, ct) = (LaunchError::Runtime, LaunchError::Container);
    if process.is_some_and(|p| p.terminal) {
        let fd = ch.expect_fd(Step::Console).map_err(ct)?;
        parent.console(fd).map_err(rt)?;
        ch.proceed().map_err(ct)?;
    }
    if seccomp.is_some_and(|p| p.notifies()) {
        let fd = ch.expect_fd(Step::SeccompListener).map_err(ct)?;
        parent.seccomp_listener(pid, fd).map_err(rt)?;
        ch.proceed().map_err(ct)?;
    }
    Ok(())
}

fn map_text(m: &[IdMapping]) -> String {
    m.iter()
        .map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size))
        .collect()
}

/// Written from outside, as the kernel requires a process with privilege
/// over the parent namespace for multi-range maps.
fn write_id_maps(pid: i32, uid: &[IdMapping], gid: &[IdMapping]) -> Result<()> {
    if !nix::unistd::geteuid().is_root() {
        return crate::idmap::write_as_user(pid, uid, gid);
    }
    let write = |file: &str, text: String, field: &str| -> Result<()> {
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
    net_devices: &[husk_host::netdev::DeviceAddresses],
    wants_bind_sources: bool,
    ch: &ChildEnd,
) -> Result<()> {
    // An unprivileged parent can open our uid_map only while we are
    // dumpable; it is the same user, who could ptrace us anyway.
    let user_writes_maps = plan.creates(NamespaceType::User) && !nix::unistd::geteuid().is_root();
    crate::sys::set_dumpable(user_writes_maps)?;
    ch.expect_proceed()?;
    plan.join_all()?;
    if plan.creates(NamespaceType::User) {
        Plan::unshare(&[NamespaceType::User])?;
        ch.wait_at(Step::MapIds)?;
        crate::sys::set_dumpable(false)?;
        // Become the namespace's root so that what follows is privileged in it.
        let root_u = nix::unistd::Uid::from_raw(0);
        let root_g = nix::unistd::Gid::from_raw(0);
        nix::unistd::setresgid(root_g, root_g, root_g).map_err(|e| {
            Error::field(
                "linux.gidMappings",
                format!("setgid 0 in the user namespace: {e}"),
            )
            .errno(e)
        })?;
        nix::unistd::setresuid(root_u, root_u, root_u).map_err(|e| {
            Error::field(
                "linux.uidMappings",
                format!("setuid 0 in the user namespace: {e}"),
            )
            .errno(e)
        })?;
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
        Err(e) => Err(Error::system(format!("fork init: {e}")).errno(e)),
        Ok(ForkResult::Child) => {
            let held: Vec<(usize, RawFd)> =
                bind_fds.iter().map(|(i, f)| (*i, f.as_raw_fd())).collect();
            let got = crate::init::Gathered {
                bind_sources: &held,
                net_devices,
            };
            let e = crate::init::run(args, plan, ch, &got);
            let _ = ch.send(&Report::Failed(e));
            exit_now(1);
        }
        Ok(ForkResult::Parent { child }) => ch
            .send(&Report::Pid(child.as_raw()))
            .map_err(|e| Error::exited(format!("report the init's pid: {e}")).errno(e)),
    }
}

fn write_time_offsets(spec: &Spec) -> Result<()> {
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
