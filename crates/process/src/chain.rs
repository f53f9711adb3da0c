//! The fork of the intermediate process that `create` and `exec` share.

use crate::error::{Error, LaunchError, Result};
use crate::sync::{self, CallerEnd, ChildEnd, Report};
use crate::sys::exit_now;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult, Pid};

/// Forks the intermediate, which runs `intermediate` on its end of a sync
/// pair (an error goes to the caller as `Report::Failed`), while the caller
/// runs `drive` on the other end with the intermediate's pid and a slot for
/// the pid of the process it starts. If `drive` fails, both processes are
/// SIGKILLed; the intermediate is always reaped.
pub(crate) fn run_chain(
    intermediate: impl FnOnce(&ChildEnd) -> Result<()>,
    drive: impl FnOnce(&CallerEnd, Pid, &mut Option<i32>) -> Result<i32, LaunchError>,
) -> Result<i32, LaunchError> {
    let (ours, theirs) = sync::pair()
        .map_err(|e| LaunchError::Runtime(Error::system(format!("socketpair: {e}")).errno(e)))?;
    // SAFETY: husk is single-threaded whenever it starts a container process
    // (no thread is ever started before this point), so the child may run
    // any code, allocation included, without inheriting a held lock.
    let child = match unsafe { fork() } {
        Err(e) => {
            return Err(LaunchError::Runtime(
                Error::system(format!("fork: {e}")).errno(e),
            ))
        }
        Ok(ForkResult::Child) => {
            drop(ours);
            crate::fork_close::close_inherited();
            if let Err(e) = intermediate(&theirs) {
                let _ = theirs.send(&Report::Failed(e));
                exit_now(1);
            }
            exit_now(0);
        }
        Ok(ForkResult::Parent { child }) => child,
    };
    drop(theirs);
    let mut started = None;
    let r = drive(&ours, child, &mut started);
    if r.is_err() {
        let _ = kill(child, Signal::SIGKILL);
        if let Some(p) = started {
            let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
        }
    }
    let _ = waitpid(child, None);
    r
}
