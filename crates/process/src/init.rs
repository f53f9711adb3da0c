//! The container init: pid 1 of the container until it execs the user's
//! program. Everything here runs in forked memory; an error is returned
//! (typed, crate::error) and sent to the caller, who reports it and cleans
//! up. The steps it reports are those launch::drive expects, in its order.

use crate::args::InitArgs;
use crate::error::{Error, Result};
use crate::namespaces::Plan;
use crate::sync::{ChildEnd, Reply, Step};
use crate::{identity, pty, rlimits, sys};
use husk_host::hooks;
use husk_rootfs as rootfs;
use husk_spec::{NamespaceType, Spec, State, Status};
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

/// What the chain gathered for the init beyond its InitArgs.
pub(crate) struct Gathered<'a> {
    /// Bind sources opened on the host side, by mount index
    /// (`crate::bind_sources`).
    pub bind_sources: &'a [(usize, RawFd)],
    /// linux.netDevices: the addresses to add again once the devices are in.
    pub net_devices: &'a [husk_host::netdev::DeviceAddresses],
}

/// Returns only on failure, with the reason.
pub(crate) fn run(args: &InitArgs, plan: &Plan, ch: &ChildEnd, got: &Gathered) -> Error {
    match setup(args, plan, ch, got) {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

fn setup(
    args: &InitArgs,
    plan: &Plan,
    ch: &ChildEnd,
    got: &Gathered,
) -> Result<std::convert::Infallible> {
    let spec = args.spec;
    let process = spec
        .process
        .as_ref()
        .ok_or_else(|| Error::field("process", "is required to create a container"))?;
    let state = match ch.recv_reply()? {
        (Reply::State(s), _) => s,
        (m, _) => {
            return Err(Error::protocol(format!(
                "protocol error: expected the state, got {}",
                m.name()
            )))
        }
    };
    // With a cgroup namespace of our own, the caller placed us in the
    // container's cgroup before sending the state (create.rs, Placement):
    // the new namespace takes this cgroup as its root.
    if plan.creates(NamespaceType::Cgroup) {
        Plan::unshare(&[NamespaceType::Cgroup])?;
    }
    nix::unistd::setsid().map_err(|e| Error::system(format!("setsid: {e}")).errno(e))?;
    if plan.creates(NamespaceType::Network) {
        husk_host::netdev::loopback_up()?;
    }
    // Moved in by the caller before it sent the state.
    husk_host::netdev::moved_devices_up(got.net_devices)?;
    let in_userns = plan.creates(NamespaceType::User) || plan.joins(NamespaceType::User);

    let readonly_later = setup_rootfs(args, plan, ch, &state, in_userns, got.bind_sources)?;
    rootfs::reopen_dev_null()?;

    if let Some(h) = spec.hostname.as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h)
            .map_err(|e| Error::field("hostname", format!("sethostname: {e}")).errno(e))?;
    }
    if let Some(d) = spec.domainname.as_deref().filter(|d| !d.is_empty()) {
        set_domainname(d)?;
    }
    if in_userns {
        // Non-dumpable /proc/self files belong to the host's root, which the
        // namespace's root cannot write.
        sys::set_dumpable(true)?;
    }
    write_sysctls(spec)?;
    if let Some(adj) = process.oom_score_adj {
        crate::procfs::write_oom_score_adj(adj)?;
    }
    if in_userns {
        sys::set_dumpable(false)?;
    }

    if process.terminal {
        let p = pty::open_pty(process.user.uid)?;
        rootfs::mount_console(&p.slave_proc_path())
            .map_err(|e| Error::from(e).in_field("process.terminal"))?;
        ch.wait_at_with_fd(Step::Console, p.master.as_raw_fd())?;
        pty::attach_slave(&p.slave, process.console_size)?;
    }

    // Read-only mounts first, as runc: a mask bound from a read-only /dev
    // (its /dev/null) is then read-only too.
    rootfs::remount_readonly(&readonly_later)?;
    if let Some(l) = &spec.linux {
        rootfs::readonly_paths(&l.readonly_paths)?;
        rootfs::mask_paths(&l.masked_paths, l.mount_label.as_deref())?;
    }
    if spec.root.as_ref().is_some_and(|r| r.readonly) {
        rootfs::make_root_readonly()?;
    }
    // Unbindable last: the masks and read-only paths are binds from the
    // root's own mounts, which an unbindable root would refuse.
    let linux = spec.linux_or_default();
    if matches!(
        linux.rootfs_propagation.as_deref(),
        Some("unbindable" | "runbindable")
    ) && plan.creates(NamespaceType::Mount)
    {
        rootfs::set_root_propagation(linux.rootfs_propagation.as_deref())?;
    }

    rlimits::apply(&process.rlimits)?;
    if !args.no_new_keyring {
        sys::join_session_keyring(&format!("_ses.{}", args.id))?;
    }

    identity::enter_cwd(process, true)?;
    let (program, env) = identity::program_and_env(process, &args.extra_env)?;
    // Dropped before `create` returns, as runc does: errors are create's,
    // and startContainer hooks run with the container's identity.
    // Scheduler, I/O priority, personality, memory policy, LSM label: while
    // the capabilities they may need are still held, and before the
    // seccomp filter (which may restrict personality()).
    crate::linux_attrs::before_init_exec(spec, process)?;
    identity::drop_privileges(process, args.seccomp, ch)?;

    ch.report_at(Step::Ready, None)?;

    // SAFETY: the caller passed us its listening socket; this process owns
    // its copy of the descriptor.
    let listener = unsafe { UnixListener::from_raw_fd(args.start_listener) };
    let mut conn = wait_for_start(&listener)?;
    drop(listener);

    // From here errors go to `start`, which is waiting on the connection.
    let r = finish(args, spec, process, &program, &env, &state);
    // Typed (crate::wire): `start` reads it back (husk_container's
    // StartFailed).
    let msg = match r {
        Ok(never) => match never {},
        Err(e) => crate::wire::Wire::encode(&e),
    };
    let _ = conn.write_all(&msg);
    sys::exit_now(1);
}

fn setup_rootfs(
    args: &InitArgs,
    plan: &Plan,
    ch: &ChildEnd,
    state: &State,
    in_userns: bool,
    bind_sources: &[(usize, RawFd)],
) -> Result<Vec<rootfs::ReadonlyLater>> {
    let spec = args.spec;
    let linux = spec.linux_or_default();
    // No mount namespace in the config: the container inherits husk's (the
    // spec), so the rootfs is set up there under a private bind of itself
    // and entered with chroot; delete detaches that bind.
    if plan.joins(NamespaceType::Mount) {
        // Refused with the config (husk_spec::check): pivot_root there
        // would move every process of that namespace. Kept as a guard.
        return Err(Error::protocol(
            "internal: a mount namespace joined by path reached the init",
        ));
    }
    let own_mntns = plan.creates(NamespaceType::Mount);
    let rootfs = args.rootfs.as_path();
    if !own_mntns && rootfs == Path::new("/") {
        return Err(Error::field("root.path", "without a mount namespace the rootfs cannot be \"/\" (it would change the host's own mounts)"));
    }
    let e = Error::from;
    if own_mntns {
        rootfs::prepare_root(rootfs, linux.rootfs_propagation.as_deref()).map_err(e)?;
    } else {
        rootfs::bind_root_privately(rootfs).map_err(e)?;
    }
    let ctx = rootfs::MountContext {
        rootfs,
        bundle: args.bundle,
        cgroup_v1: &args.cgroup_v1,
        cgroup_v2_dir: args.cgroup_v2_dir.as_deref(),
        new_cgroupns: plan.creates(NamespaceType::Cgroup),
        idmapped: &args.idmapped_mounts,
        bind_sources,
    };
    let readonly_later = rootfs::mount_all(&ctx, &spec.mounts).map_err(e)?;
    // The host-side bind sources are bound now: closed at once, not at
    // exec, so that no later step (hooks, the dumpable window of a user
    // namespace, the wait for start) holds a host directory open.
    for (_, fd) in bind_sources {
        let _ = nix::unistd::close(*fd);
    }
    let binds_dev = spec.mounts.iter().any(|m| {
        m.destination == Path::new("/dev") && m.options.iter().any(|o| o == "bind" || o == "rbind")
    });
    if !binds_dev {
        rootfs::create_default_devices(rootfs, in_userns).map_err(e)?;
    }
    rootfs::create_devices(rootfs, &linux.devices, in_userns).map_err(e)?;
    if !binds_dev {
        rootfs::setup_ptmx(rootfs).map_err(e)?;
    }

    ch.wait_at(Step::CreateHooks)?;
    if let Some(h) = &spec.hooks {
        hooks::run_all_in(
            "createContainer",
            &h.create_container,
            state.to_json().as_bytes(),
            Some(rootfs),
        )?;
    }

    if !own_mntns {
        rootfs::chroot_root(rootfs).map_err(e)?;
    } else if args.no_pivot {
        rootfs::move_root(rootfs).map_err(e)?;
    } else {
        rootfs::pivot_root(rootfs).map_err(e)?;
    }
    // Shared goes on the new root itself, once it is the root (prepare_root
    // says why); unbindable at the very end of setup (see setup).
    if own_mntns
        && matches!(
            linux.rootfs_propagation.as_deref(),
            Some("shared" | "rshared")
        )
    {
        rootfs::set_root_propagation(linux.rootfs_propagation.as_deref()).map_err(e)?;
    }
    Ok(readonly_later)
}

fn set_domainname(d: &str) -> Result<()> {
    // SAFETY: setdomainname reads exactly len bytes from the string, which
    // outlives the call.
    let r = unsafe { libc::setdomainname(d.as_ptr().cast(), d.len()) };
    if r != 0 {
        let e = std::io::Error::last_os_error();
        return Err(Error::field("domainname", format!("setdomainname: {e}")).errno(e));
    }
    Ok(())
}

fn write_sysctls(spec: &Spec) -> Result<()> {
    let Some(l) = &spec.linux else { return Ok(()) };
    for (key, value) in &l.sysctl {
        crate::procfs::write_sysctl(key, value)?;
    }
    Ok(())
}

fn wait_for_start(listener: &UnixListener) -> Result<UnixStream> {
    loop {
        match listener.accept() {
            Ok((s, _)) => return Ok(s),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::system(format!("waiting for start: {e}")).errno(e)),
        }
    }
}

/// After `start`: startContainer hooks, then exec.
fn finish(
    args: &InitArgs,
    spec: &Spec,
    process: &husk_spec::Process,
    program: &Path,
    env: &[String],
    state: &State,
) -> Result<std::convert::Infallible> {
    if let Some(h) = &spec.hooks {
        // After `start`: the container is "created" until its program runs.
        let created = state.with_status(Status::Created).to_json();
        hooks::run_all("startContainer", &h.start_container, created.as_bytes())?;
    }
    Err(identity::exec_program(
        process,
        program,
        env,
        args.preserve_fds,
    ))
}
