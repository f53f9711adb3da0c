//! husk-process: the chain of processes that becomes a container.
//!
//! The caller (`launch`) forks an intermediate process that joins and
//! creates namespaces (asking the caller to write its id maps when it makes a
//! user namespace), then forks the container init, which becomes pid 1 of a
//! new pid namespace. The init sets up the rootfs and the process, tells the
//! caller it is ready, and waits on the start socket before exec'ing the
//! user's program. There is no re-exec of the husk binary: every step runs
//! in forked copies of the caller, which is single-threaded.

mod affinity;
mod bind_sources;
mod caps;
mod chain;
mod exec;
mod exec_into;
mod fork_close;
pub mod hooks;
mod identity;
mod idmap;
mod init;
mod intelrdt;
mod launch;
mod linux_attrs;
mod lsm;
mod mempolicy;
mod namespaces;
mod netdev;
mod personality;
mod procfs;
mod pty;
mod rlimits;
mod sched;
mod sync;
mod sys;
mod user;

pub use exec::find_executable;
pub use exec_into::{exec_into, ExecArgs, ExecParent};
pub use fork_close::{close_in_chain, CloseInChain};
pub use intelrdt::{remove as remove_intel_rdt, resctrl_mounted};
pub use launch::{launch, InitArgs, LaunchError, Parent};
pub use linux_attrs::{after_init_exists, check_host};
pub use netdev::loopback_up;
pub use sys::{in_user_namespace, pidfd_open, process_start_time, wait_pidfd};
