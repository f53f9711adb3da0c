//! What a caller gives a chain (create's [`InitArgs`], exec's
//! [`ExecArgs`]) and what it does at the chain's steps ([`Parent`]). Kept
//! apart from the chains themselves, which only read them.

use crate::error::{Error, Result};
use husk_rootfs::CgroupBind;
use husk_spec::{Process, Spec};
use std::os::fd::{OwnedFd, RawFd};
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

/// What the caller does at the steps of a chain. `create` and `exec` each
/// implement the steps their chain has; the two steps both have (the
/// terminal, the seccomp listener) are driven by one piece of code
/// (`launch::terminal_and_listener`).
pub trait Parent {
    /// exec: the intermediate exists, before it joins anything: put it in
    /// the container's cgroup.
    fn intermediate_started(&mut self, _pid: i32) -> Result<()> {
        Ok(())
    }
    /// create: the init exists (host pid) and waits. Returns the state
    /// document for the init's hooks. The init is placed in its cgroup here or at
    /// [`Parent::init_ready`], as the caller decides in one place.
    fn init_started(&mut self, _pid: i32) -> Result<husk_spec::State> {
        Err(Error::protocol(
            "protocol error: an init in a chain without one",
        ))
    }
    /// create: mounts are done, pivot_root is not: prestart and
    /// createRuntime hooks.
    fn create_hooks(&mut self) -> Result<()> {
        Ok(())
    }
    /// create: the init is set up and about to wait for `start`.
    fn init_ready(&mut self, _pid: i32) -> Result<()> {
        Ok(())
    }
    /// The terminal's master side, for --console-socket.
    fn console(&mut self, master: OwnedFd) -> Result<()>;
    /// The seccomp NOTIFY listener of process `pid`, for listenerPath.
    fn seccomp_listener(&mut self, pid: i32, listener: OwnedFd) -> Result<()>;
}
