//! husk-process: the chain of processes that becomes a container.
//!
//! The caller (`launch`) forks an intermediate process that joins and
//! creates namespaces (asking the caller to write its id maps when it makes a
//! user namespace), then forks the container init, which becomes pid 1 of a
//! new pid namespace. The init sets up the rootfs and the process, tells the
//! caller it is ready, and waits on the start socket before exec'ing the
//! user's program. There is no re-exec of the husk binary: every step runs
//! in forked copies of the caller, which is single-threaded.
//!
//! The steps husk takes as the host (hooks, linux.netDevices, Intel RDT)
//! are husk-host's; the init calls into it for those it runs itself.

mod affinity;
mod args;
mod bind_sources;
mod caps;
mod chain;
mod error;
mod exec;
mod exec_into;
mod fork_close;
mod identity;
mod idmap;
mod init;
mod launch;
mod linux_attrs;
mod lsm;
mod mempolicy;
mod namespaces;
mod personality;
mod procfs;
mod pty;
mod rlimits;
mod sched;
mod sync;
mod sys;
mod user;
mod wire;

pub use args::{ExecArgs, InitArgs, Parent};
pub use error::{Error, ErrorData, ErrorKind, LaunchError};
pub use exec::find_executable;
pub use exec_into::exec_into;
pub use fork_close::{close_in_chain, CloseInChain};
pub use launch::launch;
pub use linux_attrs::check_host;
pub use sys::{in_user_namespace, pidfd_open, process_start_time, wait_pidfd};
pub use wire::Wire;
