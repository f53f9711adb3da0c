//! `exec`: a new process inside a running container. The intermediate joins
//! the init's namespaces (the user namespace first: it decides what may be
//! joined next), then forks the process, which lands in the container's pid
//! and time namespaces, takes on process.json's identity and execs.

use crate::args::{ExecArgs, Parent};
use crate::error::{Error, LaunchError, Result};
use crate::sync::{CallerEnd, ChildEnd, Report, Step};
use crate::sys::exit_now;
use crate::{identity, pty, rlimits, sys};
use husk_spec::NamespaceType;
use nix::sched::setns;
use nix::unistd::{fork, ForkResult, Pid};
use std::fs::File;
use std::os::fd::AsRawFd;

/// The namespaces of `pid` that differ from ours, opened before anything
/// changes, user namespace first.
fn namespaces_to_join(pid: i32) -> Result<Vec<(NamespaceType, File)>> {
    let mut out = Vec::new();
    for t in NamespaceType::ALL {
        let theirs = format!("/proc/{pid}/ns/{}", t.proc_name());
        let mine = format!("/proc/self/ns/{}", t.proc_name());
        let (Ok(a), Ok(b)) = (std::fs::read_link(&theirs), std::fs::read_link(&mine)) else {
            continue; // a kernel without this namespace type
        };
        if a != b {
            let f = File::open(&theirs)
                .map_err(|e| Error::system(format!("open {theirs}: {e}")).errno(&e))?;
            out.push((t, f));
        }
    }
    out.sort_by_key(|(t, _)| *t != NamespaceType::User);
    Ok(out)
}

/// Starts the process and returns its host pid once it has exec'd (or the
/// reason it could not).
pub fn exec_into(args: &ExecArgs, parent: &mut dyn Parent) -> Result<i32, LaunchError> {
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
            Some(
                File::open(&r)
                    .map_err(|e| rt(Error::system(format!("exec: open {r}: {e}")).errno(&e)))?,
            )
        }
    };
    crate::chain::run_chain(
        |ch| intermediate(args, &namespaces, root.as_ref(), ch),
        |ch, child, pid| {
            crate::linux_attrs::exec_started(child.as_raw(), args.process).map_err(rt)?;
            drive(args, parent, ch, child, pid)
        },
    )
}

/// The caller's side of exec, step by step in the order the intermediate
/// and the process take them.
fn drive(
    args: &ExecArgs,
    parent: &mut dyn Parent,
    ch: &CallerEnd,
    child: Pid,
    pid: &mut Option<i32>,
) -> Result<i32, LaunchError> {
    // What the process side reports is passed on as it is; a channel that
    // broke is said as exec's.
    let ct = |e: Error| match e.kind {
        crate::error::ErrorKind::Exited => LaunchError::Container(e.context("exec")),
        _ => LaunchError::Container(e),
    };
    parent
        .intermediate_started(child.as_raw())
        .map_err(LaunchError::Runtime)?;
    ch.proceed().map_err(ct)?;
    let p = ch.expect_pid().map_err(|e| match e.kind {
        crate::error::ErrorKind::Exited => {
            LaunchError::Container(Error::exited("exec: the process exited before it started"))
        }
        _ => ct(e),
    })?;
    *pid = Some(p);
    crate::launch::terminal_and_listener(ch, parent, p, Some(args.process), args.seccomp).map_err(
        |e| match e {
            LaunchError::Container(e) => ct(e),
            rt => rt,
        },
    )?;
    // Then nothing until both ends are closed: the intermediate exited and
    // the process exec'd (its end is close-on-exec).
    match ch.recv() {
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(p),
        Err(e) => Err(ct(Error::exited(e.to_string()).errno(e))),
        Ok((Report::Failed(e), _)) => Err(LaunchError::Container(e)),
        Ok((m, _)) => Err(ct(Error::protocol(format!(
            "protocol error: expected the exec, got {}",
            m.name()
        )))),
    }
}

fn intermediate(
    args: &ExecArgs,
    namespaces: &[(NamespaceType, File)],
    root: Option<&File>,
    ch: &ChildEnd,
) -> Result<()> {
    sys::set_dumpable(false)?;
    ch.expect_proceed()?;
    let join = |t: &NamespaceType, f: &File| {
        setns(f, crate::namespaces::clone_flag(*t)).map_err(|e| {
            Error::system(format!(
                "exec: join the container's {} namespace: {e}",
                t.spec_name()
            ))
            .errno(e)
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
            .map_err(|e| {
                Error::system(format!("exec: enter the container's root: {e}")).errno(e)
            })?;
    }
    for (t, f) in namespaces {
        if root.is_some() && *t == NamespaceType::Mount {
            continue;
        }
        join(t, f)?;
    }
    // The caller expects the pid before anything the process reports (its
    // terminal, its seccomp listener), and both write to one socket: a
    // process that will report waits until its pid has gone out.
    let reports = args.process.terminal || args.seccomp.is_some_and(|s| s.notifies());
    let pid_sent = match reports {
        true => Some(
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
                .map_err(|e| Error::system(format!("exec: pipe: {e}")).errno(e))?,
        ),
        false => None,
    };
    // SAFETY: a fork of the single-threaded caller is single-threaded too.
    match unsafe { fork() } {
        Err(e) => Err(Error::system(format!("exec: fork: {e}")).errno(e)),
        Ok(ForkResult::Child) => {
            if let Some((r, w)) = pid_sent {
                drop(w);
                // One byte once the pid is out; none if the intermediate
                // died first, when the caller is failing the exec anyway.
                let mut b = [0u8; 1];
                if !matches!(nix::unistd::read(r.as_raw_fd(), &mut b), Ok(1)) {
                    exit_now(127);
                }
            }
            let e = match process(args, ch) {
                Ok(never) => match never {},
                Err(e) => e,
            };
            let _ = ch.send(&Report::Failed(e));
            exit_now(127);
        }
        Ok(ForkResult::Parent { child }) => {
            ch.send(&Report::Pid(child.as_raw()))
                .map_err(|e| Error::exited(format!("exec: report the pid: {e}")).errno(e))?;
            if let Some((r, w)) = pid_sent {
                drop(r);
                nix::unistd::write(&w, &[1]).map_err(|e| {
                    Error::system(format!("exec: release the process: {e}")).errno(e)
                })?;
            }
            Ok(())
        }
    }
}

fn process(args: &ExecArgs, ch: &ChildEnd) -> Result<std::convert::Infallible> {
    let p = args.process;
    if p.terminal {
        nix::unistd::setsid().map_err(|e| Error::system(format!("setsid: {e}")).errno(e))?;
        let t = pty::open_pty(p.user.uid)?;
        ch.wait_at_with_fd(Step::Console, t.master.as_raw_fd())?;
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
