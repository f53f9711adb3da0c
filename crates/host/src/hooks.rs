//! Runs OCI hooks: argv and env exactly as configured, the container state
//! on stdin, a timeout, and the hook's output in the error when it fails.

use husk_spec::Hook;
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
#[error("hooks.{kind}[{index}] ({path}): {reason}")]
pub struct HookError {
    pub kind: &'static str,
    pub index: usize,
    pub path: String,
    pub reason: Reason,
}

/// Why one hook failed.
#[derive(Debug, thiserror::Error)]
pub enum Reason {
    /// The file that takes the hook's output.
    #[error("memfd_create: {0}")]
    OutputFile(nix::errno::Errno),
    #[error("{0}")]
    DupOutput(std::io::Error),
    #[error("cannot run: {0}")]
    Spawn(std::io::Error),
    #[error("{0}")]
    Wait(std::io::Error),
    #[error("timed out after {0}s")]
    TimedOut(i64),
    /// It ran and failed: how it ended, then the tail of its output.
    #[error("{}", failed_text(.status, .output))]
    Failed {
        status: std::process::ExitStatus,
        output: String,
    },
}

impl Reason {
    /// The errno of the system call that failed, if one did (not for a
    /// hook that ran and failed).
    pub fn errno(&self) -> Option<i32> {
        match self {
            Reason::OutputFile(e) => Some(*e as i32),
            Reason::DupOutput(e) | Reason::Spawn(e) | Reason::Wait(e) => e.raw_os_error(),
            Reason::TimedOut(_) | Reason::Failed { .. } => None,
        }
    }
}

fn failed_text(status: &std::process::ExitStatus, output: &str) -> String {
    let mut reason = match status.code() {
        Some(c) => format!("exit status {c}"),
        None => format!("{status}"),
    };
    if !output.is_empty() {
        reason.push_str(": ");
        reason.push_str(output);
    }
    reason
}

/// Runs `hooks` in order, stopping at the first failure.
pub fn run_all(kind: &'static str, hooks: &[Hook], state: &[u8]) -> Result<(), HookError> {
    run_all_in(kind, hooks, state, None)
}

/// The same, with `cwd` as the hooks' working directory (createContainer
/// hooks run in the container's rootfs, as runc runs them; the spec is
/// silent).
pub fn run_all_in(
    kind: &'static str,
    hooks: &[Hook],
    state: &[u8],
    cwd: Option<&std::path::Path>,
) -> Result<(), HookError> {
    for (index, h) in hooks.iter().enumerate() {
        run_one(h, state, cwd).map_err(|reason| HookError {
            kind,
            index,
            path: h.path.display().to_string(),
            reason,
        })?;
    }
    Ok(())
}

/// Runs every hook, logging failures as warnings: the spec's rule for
/// poststart and poststop.
pub fn run_all_warn(kind: &'static str, hooks: &[Hook], state: &[u8]) {
    for (index, h) in hooks.iter().enumerate() {
        if let Err(reason) = run_one(h, state, None) {
            tracing::warn!("hooks.{kind}[{index}] ({}): {reason}", h.path.display());
        }
    }
}

fn run_one(h: &Hook, state: &[u8], cwd: Option<&std::path::Path>) -> Result<(), Reason> {
    let mut cmd = Command::new(&h.path);
    if let Some(d) = cwd {
        cmd.current_dir(d);
    }
    if let Some((arg0, rest)) = h.args.split_first() {
        cmd.arg0(arg0).args(rest);
    }
    cmd.env_clear();
    // Only stdin, stdout and stderr reach a hook: whatever descriptors the
    // caller of husk leaked into it (and, for hooks run in the container,
    // the fds kept for the container's program) must not reach a program
    // that runs in the container or with the host's privileges.
    // SAFETY: runs in the forked child before exec; it only changes that
    // child's descriptor flags (husk is single-threaded, so the /proc
    // fallback may allocate).
    unsafe {
        cmd.pre_exec(|| crate::fds::cloexec_from(3).map_err(std::io::Error::other));
    }
    for kv in &h.env {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    // Output goes to an anonymous file rather than a pipe: a chatty hook
    // cannot block on a full pipe while we wait for it.
    let out = output_file()?;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::from(out.try_clone().map_err(Reason::DupOutput)?))
        .stderr(Stdio::from(out.try_clone().map_err(Reason::DupOutput)?));
    let mut child = cmd.spawn().map_err(Reason::Spawn)?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine.
        let _ = stdin.write_all(state);
    }
    let deadline = h
        .timeout
        .map(|t| Instant::now() + Duration::from_secs(t.max(1) as u64));
    let status = loop {
        match child.try_wait().map_err(Reason::Wait)? {
            Some(s) => break s,
            None if deadline.is_some_and(|d| Instant::now() >= d) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Reason::TimedOut(h.timeout.unwrap_or(0)));
            }
            None => std::thread::sleep(Duration::from_millis(2)),
        }
    };
    if status.success() {
        return Ok(());
    }
    Err(Reason::Failed {
        status,
        output: read_tail(out),
    })
}

fn output_file() -> Result<File, Reason> {
    let fd = nix::sys::memfd::memfd_create(
        c"husk-hook-output",
        nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC,
    )
    .map_err(Reason::OutputFile)?;
    Ok(File::from(fd))
}

/// The last line or so of the hook's output, flattened to one line.
fn read_tail(mut f: File) -> String {
    let mut s = String::new();
    let _ = f.rewind();
    let _ = f.take(64 * 1024).read_to_string(&mut s);
    let joined = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let n = joined.chars().count();
    if n > 300 {
        joined.chars().skip(n - 300).collect()
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(script: &str, timeout: Option<i64>) -> Hook {
        Hook {
            path: "/bin/sh".into(),
            args: vec!["sh".into(), "-c".into(), script.into()],
            env: vec!["GREETING=hi".into()],
            timeout,
        }
    }

    #[test]
    fn state_on_stdin_and_env_as_given() {
        let dir = std::env::temp_dir().join(format!("husk-hook-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("out");
        let h = hook(
            &format!(
                "cat > {}; echo $GREETING >> {}",
                out.display(),
                out.display()
            ),
            None,
        );
        run_all("prestart", &[h], b"{\"id\":\"x\"}").unwrap();
        let got = std::fs::read_to_string(&out).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(got, "{\"id\":\"x\"}hi\n");
    }

    #[test]
    fn failure_names_hook_and_output() {
        let e = run_all(
            "createRuntime",
            &[hook("echo boom >&2; exit 3", None)],
            b"{}",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(e, "hooks.createRuntime[0] (/bin/sh): exit status 3: boom");
    }

    #[test]
    fn timeout_kills_the_hook() {
        let e = run_all("prestart", &[hook("sleep 30", Some(1))], b"{}")
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("timed out after 1s"), "{e}");
    }
}
