//! The last steps before exec, shared by the container init and `exec`:
//! the working directory, the environment and program, then the drop to
//! process.json's identity in the order the kernel allows.

use crate::error::{Error, Result};
use crate::sync::{ChildEnd, Step};
use crate::{caps, exec, sys, user};
use husk_spec::Process;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// chdir to process.cwd and check it did not lead out of the root: a cwd
/// like /proc/self/fd/N can go through an inherited host fd (the
/// CVE-2024-21626 class); the kernel then reports the directory as
/// unreachable, which getcwd turns into an error.
pub fn enter_cwd(p: &Process, create: bool) -> Result<()> {
    let cwd = &p.cwd;
    let field = |what: String, e: &std::io::Error| Error::field("process.cwd", what).errno(e);
    if create {
        std::fs::create_dir_all(cwd)
            .map_err(|e| field(format!("create {}: {e}", cwd.display()), &e))?;
    }
    std::env::set_current_dir(cwd)
        .map_err(|e| field(format!("chdir to {}: {e}", cwd.display()), &e))?;
    match std::env::current_dir() {
        Ok(d) if d.is_absolute() => Ok(()),
        _ => Err(Error::field(
            "process.cwd",
            format!("{} resolves outside the container's root", cwd.display()),
        )),
    }
}

/// The environment (HOME added as runc does) and the program found in its
/// PATH, inside the container.
pub fn program_and_env(p: &Process, extra_env: &[String]) -> Result<(PathBuf, Vec<String>)> {
    let mut env = p.env.clone();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", user::home_dir(p.user.uid)));
    }
    env.extend(extra_env.iter().cloned());
    let arg0 = p
        .args
        .first()
        .ok_or_else(|| Error::field("process.args", "must not be empty"))?;
    let program = exec::find_executable(arg0, &env)?;
    Ok((program, env))
}

/// The drop to process.json's identity, in the order the kernel allows:
/// bounding set (needs CAP_SETPCAP, so first), user and groups with the
/// capabilities kept across the uid change, the capability sets,
/// no_new_privs. Seccomp goes in as runc puts it: without noNewPrivileges
/// loading needs CAP_SYS_ADMIN, so before anything is dropped; with it, as
/// late as possible. A NOTIFY listener is handed to the caller over `ch`
/// (it forwards it to listenerPath) before anything else is done.
pub fn drop_privileges(
    p: &Process,
    seccomp: Option<&husk_seccomp::Program>,
    ch: &ChildEnd,
) -> Result<()> {
    let load_seccomp = || -> Result<()> {
        let Some(prog) = seccomp else { return Ok(()) };
        if let Some(listener) = husk_seccomp::load(prog).map_err(Error::seccomp_line)? {
            ch.report_at(Step::SeccompListener, Some(listener.as_raw_fd()))
                .map_err(|e| {
                    Error::field("linux.seccomp", format!("hand over the listener: {e}"))
                })?;
            drop(listener);
            ch.expect_proceed()?;
        }
        Ok(())
    };
    if !p.no_new_privileges {
        load_seccomp()?;
    }
    // No capabilities object, or lists left out, mean none: runc's
    // reading, and the only safe one (podman's --cap-drop ALL sends {}).
    let c = p.capabilities.clone().unwrap_or_default();
    caps::drop_bounding(&c)?;
    sys::set_keepcaps(true)?;
    user::switch(&p.user, user::setgroups_allowed())?;
    sys::set_keepcaps(false)?;
    caps::apply(&c)?;
    if p.no_new_privileges {
        sys::set_no_new_privs()?;
        load_seccomp()?;
    }
    Ok(())
}

/// Default signal dispositions, every fd above 3+N close-on-exec, then
/// exec. Returns only on failure.
pub fn exec_program(p: &Process, program: &Path, env: &[String], preserve_fds: u32) -> Error {
    sys::reset_signals();
    if let Err(e) = sys::cloexec_from(3 + preserve_fds) {
        return e;
    }
    // The preserved fds must survive exec whatever their flags were.
    for fd in 3..3 + preserve_fds as i32 {
        let _ = nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
        );
    }
    exec::exec(program, &p.args, env)
}
