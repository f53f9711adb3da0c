//! `exec`: a new process inside a running container. The intermediate joins
//! the init's namespaces (the user namespace first: it decides what may be
//! joined next), then forks the process, which lands in the container's pid
//! and time namespaces, takes on process.json's identity and execs.

use crate::launch::LaunchError;
use crate::sync::{Channel, Msg};
use crate::sys::exit_now;
use crate::{identity, pty, rlimits, sys};
use husk_spec::{NamespaceType, Process};
use nix::sched::setns;
use nix::unistd::{fork, ForkResult, Pid};
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};

pub struct ExecArgs<'a> {
    /// Host pid of the container's init, whose namespaces are joined.
    pub init_pid: i32,
    pub process: &'a Process,
    /// Extra fds (3..3+N) passed to the process.
    pub preserve_fds: u32,
    pub extra_env: Vec<String>,
    /// linux.seccomp, compiled by the caller.
    pub seccomp: Option<&'a husk_seccomp::Program>,
    /// The container has no mount namespace of its own: it lives chroot'ed
    /// in its rootfs, and so must the process, whatever mount namespace
    /// the caller is in.
    pub chrooted: bool,
}

/// What the caller does while the process is being made.
pub trait ExecParent {
    /// Put the intermediate in the container's cgroup.
    fn intermediate_started(&mut self, pid: i32) -> Result<(), String>;
    /// The pty master, for --console-socket.
    fn console(&mut self, master: OwnedFd) -> Result<(), String>;
    /// The seccomp NOTIFY listener of process `pid`, for listenerPath.
    fn seccomp_listener(&mut self, pid: i32, listener: OwnedFd) -> Result<(), String>;
}

/// The namespaces of `pid` that differ from ours, opened before anything
/// changes, user namespace first.
fn namespaces_to_join(pid: i32) -> Result<Vec<(NamespaceType, File)>, String> {
    let mut out = Vec::new();
    for t in NamespaceType::ALL {
        let theirs = format!("/proc/{pid}/ns/{}", t.proc_name());
        let mine = format!("/proc/self/ns/{}", t.proc_name());
        let (Ok(a), Ok(b)) = (std::fs::read_link(&theirs), std::fs::read_link(&mine)) else {
            continue; // a kernel without this namespace type
        };
        if a != b {
            let f = File::open(&theirs).map_err(|e| format!("open {theirs}: {e}"))?;
            out.push((t, f));
        }
    }
    out.sort_by_key(|(t, _)| *t != NamespaceType::User);
    Ok(out)
}

/// Starts the process and returns its host pid once it has exec'd (or the
/// reason it could not).
pub fn exec_into(args: &ExecArgs, parent: &mut dyn ExecParent) -> Result<i32, LaunchError> {
    let rt = LaunchError::Runtime;
    crate::linux_attrs::check_exec(args.process).map_err(LaunchError::Container)?;
    let namespaces = namespaces_to_join(args.init_pid).map_err(rt)?;
    // A container without a mount namespace of its own lives chroot'ed in
    // its rootfs: the process goes there too (joining a mount namespace
    // made for a container sets the root on its own).
    let joins_mnt = namespaces.iter().any(|(t, _)| *t == NamespaceType::Mount);
    let root = match joins_mnt && !args.chrooted {
        true => None,
        false => {
            let r = format!("/proc/{}/root", args.init_pid);
            Some(File::open(&r).map_err(|e| rt(format!("exec: open {r}: {e}")))?)
        }
    };
    crate::chain::run_chain(
        |ch| intermediate(args, &namespaces, root.as_ref(), ch),
        |ch, child, pid| {
            crate::linux_attrs::exec_started(child.as_raw(), args.process).map_err(rt)?;
            drive(parent, ch, child, pid)
        },
    )
}

fn drive(
    parent: &mut dyn ExecParent,
    ch: &Channel,
    child: Pid,
    pid: &mut Option<i32>,
) -> Result<i32, LaunchError> {
    let rt = LaunchError::Runtime;
    parent.intermediate_started(child.as_raw()).map_err(rt)?;
    ch.send(&Msg::Proceed)
        .map_err(|e| LaunchError::Container(format!("exec: {e}")))?;
    loop {
        match ch.recv() {
            Ok((Msg::InitPid(p), _)) => *pid = Some(p),
            Ok((Msg::Console, Some(fd))) => {
                parent.console(fd).map_err(rt)?;
                ch.send(&Msg::Proceed)
                    .map_err(|e| LaunchError::Container(format!("exec: {e}")))?;
            }
            Ok((Msg::SeccompListener, Some(fd))) => {
                let p = pid.ok_or_else(|| rt("seccomp listener before the pid".into()))?;
                parent.seccomp_listener(p, fd).map_err(rt)?;
                ch.send(&Msg::Proceed)
                    .map_err(|e| LaunchError::Container(format!("exec: {e}")))?;
            }
            Ok((Msg::Error(e), _)) => return Err(LaunchError::Container(e)),
            Ok((m, _)) => return Err(rt(format!("protocol error: unexpected {m:?}"))),
            // Both ends closed: the intermediate exited and the process
            // exec'd (its end is close-on-exec).
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return pid.ok_or_else(|| {
                    LaunchError::Container("exec: the process exited before it started".into())
                })
            }
            Err(e) => return Err(LaunchError::Container(format!("exec: {e}"))),
        }
    }
}

fn intermediate(
    args: &ExecArgs,
    namespaces: &[(NamespaceType, File)],
    root: Option<&File>,
    ch: &Channel,
) -> Result<(), String> {
    sys::set_dumpable(false)?;
    ch.expect_proceed()?;
    let join = |t: &NamespaceType, f: &File| {
        setns(f, crate::namespaces::clone_flag(*t)).map_err(|e| {
            format!(
                "exec: join the container's {} namespace: {e}",
                t.spec_name()
            )
        })
    };
    if let Some(r) = root {
        // The init's mount namespace first (the caller may be in another),
        // then its root, all before the user namespace is joined: both
        // need the privilege over that (the host's) mount namespace.
        for (t, f) in namespaces
            .iter()
            .filter(|(t, _)| *t == NamespaceType::Mount)
        {
            join(t, f)?;
        }
        nix::unistd::fchdir(r.as_raw_fd())
            .and_then(|()| nix::unistd::chroot("."))
            .map_err(|e| format!("exec: enter the container's root: {e}"))?;
    }
    for (t, f) in namespaces {
        if root.is_some() && *t == NamespaceType::Mount {
            continue;
        }
        join(t, f)?;
    }
    // SAFETY: a fork of the single-threaded caller is single-threaded too.
    match unsafe { fork() } {
        Err(e) => Err(format!("exec: fork: {e}")),
        Ok(ForkResult::Child) => {
            let e = match process(args, ch) {
                Ok(never) => match never {},
                Err(e) => e,
            };
            let _ = ch.send(&Msg::Error(e));
            exit_now(127);
        }
        Ok(ForkResult::Parent { child }) => {
            ch.send(&Msg::InitPid(child.as_raw()))
                .map_err(|e| e.to_string())?;
            Ok(())
        }
    }
}

fn process(args: &ExecArgs, ch: &Channel) -> Result<std::convert::Infallible, String> {
    let p = args.process;
    if p.terminal {
        nix::unistd::setsid().map_err(|e| format!("setsid: {e}"))?;
        let t = pty::open_pty(p.user.uid)?;
        ch.send_with_fd(&Msg::Console, Some(t.master.as_raw_fd()))
            .map_err(|e| e.to_string())?;
        ch.expect_proceed()?;
        pty::attach_slave(&t.slave, p.console_size)?;
    }
    rlimits::apply(&p.rlimits)?;
    if let Some(adj) = p.oom_score_adj {
        crate::procfs::write_oom_score_adj(adj)?;
    }
    identity::enter_cwd(p, false)?;
    let (program, env) = identity::program_and_env(p, &args.extra_env)?;
    crate::linux_attrs::before_exec(p)?;
    identity::drop_privileges(p, args.seccomp, ch)?;
    Err(identity::exec_program(p, &program, &env, args.preserve_fds))
}
