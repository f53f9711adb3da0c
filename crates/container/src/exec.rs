//! `exec`: another process in a running container.

use crate::{Container, ContainerError, Status};
use husk_process::{exec_into, ExecArgs};
use husk_spec::Process;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    pub process: Process,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub preserve_fds: u32,
    pub ignore_paused: bool,
    /// Without --console-socket, return the pty master for husk to relay.
    pub relay_console: bool,
    /// --cgroup: existing sub-cgroups of the container's to run in.
    pub sub_cgroups: Vec<husk_cgroups::SubCgroup>,
}

/// The started process, and the pty master when husk relays it.
pub struct Execed {
    pub pid: i32,
    pub console: Option<OwnedFd>,
}

/// Starts the process and returns its host pid once it has exec'd.
pub fn exec(c: &Container, opts: &ExecOptions) -> Result<Execed, ContainerError> {
    match c.status() {
        Status::Running | Status::Created => {}
        Status::Paused if opts.ignore_paused => {}
        Status::Paused => {
            return Err(ContainerError::transition(
                c.id(),
                "cannot exec in a paused container (use --ignore-paused to override)",
            ))
        }
        _ => {
            return Err(ContainerError::transition(
                c.id(),
                "cannot exec in a stopped container",
            ))
        }
    }
    if opts.process.terminal && opts.console_socket.is_none() && !opts.relay_console {
        return Err(ContainerError::Usage(
            "exec: a detached process with a terminal needs --console-socket".into(),
        ));
    }
    // The container's filter applies to every process in it, as in runc.
    let profile = crate::seccomp::load_profile(c)?;
    let root = c.dir.parent().unwrap_or(&c.dir);
    let seccomp = profile
        .as_ref()
        .map(|j| crate::seccomp::compile(root, j))
        .transpose()?;
    let args = ExecArgs {
        init_pid: c.state.pid,
        process: &opts.process,
        preserve_fds: opts.preserve_fds,
        extra_env: Vec::new(),
        seccomp: seccomp.as_ref(),
        chrooted: c.state.host_mounts_before.is_some(),
    };
    let mut parent = Parent {
        c,
        opts,
        profile: profile.as_deref(),
        console: crate::console::Target::new(opts.console_socket.as_deref()),
    };
    let pid = exec_into(&args, &mut parent)?;
    if let Some(p) = &opts.pid_file {
        crate::create::write_pid_file(p, pid)?;
    }
    Ok(Execed {
        pid,
        console: parent.console.relayed,
    })
}

struct Parent<'a> {
    c: &'a Container,
    opts: &'a ExecOptions,
    /// The container's linux.seccomp as JSON, parsed only for a listener.
    profile: Option<&'a [u8]>,
    console: crate::console::Target<'a>,
}

type StepResult<T = ()> = Result<T, husk_process::Error>;

impl husk_process::Parent for Parent<'_> {
    fn intermediate_started(&mut self, pid: i32) -> StepResult {
        match &self.c.state.cgroup {
            Some(cg) if !self.opts.sub_cgroups.is_empty() => cg
                .add_pid_to_sub(pid, &self.opts.sub_cgroups)
                .map_err(|e| husk_process::Error::system(format!("--cgroup: {e}"))),
            Some(cg) => Ok(cg.add_pid(pid).map_err(ContainerError::from)?),
            None if !self.opts.sub_cgroups.is_empty() => Err(husk_process::Error::system(
                "--cgroup: the container has no cgroup of its own",
            )),
            None => Ok(()),
        }
    }

    fn seccomp_listener(&mut self, pid: i32, listener: OwnedFd) -> StepResult {
        let json = self.profile.ok_or_else(|| {
            husk_process::Error::protocol("seccomp listener without linux.seccomp")
        })?;
        let s = crate::seccomp::parse(json)?;
        let state = self.c.oci_state_json(self.c.status());
        crate::seccomp::forward_listener(&s, pid, &state, listener)
            .map_err(husk_process::Error::system)
    }

    fn console(&mut self, master: OwnedFd) -> StepResult {
        self.console.take(master)
    }
}
