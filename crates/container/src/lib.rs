//! husk-container: the container lifecycle (create, start, kill, delete,
//! run) over a state store under `--root`, one directory per container.

mod cgroup_verbs;
mod check;
mod checkpoint;
mod console;
mod create;
mod delete;
mod error;
mod exec;
mod id;
mod kill;
mod notify;
mod procs;
mod relay;
mod restore;
mod rootless;
mod run;
mod seccomp;
mod signal;
mod start;
mod state;
mod teardown;
pub mod time;

pub use cgroup_verbs::{events, pause, pids, resume, update};
pub use check::{check_bundle, CheckOptions};
pub use checkpoint::{checkpoint, criu_path, CheckpointOptions, CriuFlags};
pub use create::{create, CreateOptions};
pub use delete::delete;
pub use error::ContainerError;
pub use exec::{exec, ExecOptions, Execed};
pub use id::validate_id;
pub use kill::kill;
pub use relay::relay_and_wait;
pub use restore::{restore, RestoreOptions};
pub use rootless::{honours_xdg_runtime_dir, in_user_namespace};
pub use run::{become_subreaper, block_forwarded_signals, wait_and_forward};
pub use seccomp::{binary_identity, set_binary_identity};
pub use signal::parse_signal;
pub use start::start;
pub use state::{list, load, load_for_read, Container, OciState, Status};
