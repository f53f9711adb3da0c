//! `checkpoint` and `restore`: runc's flags, handed to husk-container.
//! A flag given twice is accepted (Go's flag package takes the last):
//! podman passes `--leave-running` twice.

use anyhow::{Context, Result};
use clap::Args;
use husk_container as container;
use std::path::{Path, PathBuf};

/// The flags both commands take (runc's names and defaults).
#[derive(Args)]
pub struct CriuArgs {
    /// Where the image is written (checkpoint) or read (restore).
    #[arg(long = "image-path", default_value = "checkpoint")]
    pub image_path: PathBuf,
    /// CRIU's work directory, for its log (default: the image path).
    #[arg(long = "work-path")]
    pub work_path: Option<PathBuf>,
    #[arg(long = "tcp-established", overrides_with = "tcp_established")]
    pub tcp_established: bool,
    #[arg(long = "ext-unix-sk", overrides_with = "ext_unix_sk")]
    pub ext_unix_sk: bool,
    #[arg(long = "shell-job", overrides_with = "shell_job")]
    pub shell_job: bool,
    #[arg(long = "file-locks", overrides_with = "file_locks")]
    pub file_locks: bool,
    #[arg(long = "lazy-pages", overrides_with = "lazy_pages")]
    pub lazy_pages: bool,
    #[arg(long = "auto-dedup", overrides_with = "auto_dedup")]
    pub auto_dedup: bool,
    /// soft, full, strict or ignore.
    #[arg(long = "manage-cgroups-mode")]
    pub manage_cgroups_mode: Option<String>,
    /// Namespaces CRIU leaves empty (only "network").
    #[arg(long = "empty-ns")]
    pub empty_ns: Vec<String>,
}

#[derive(Args)]
pub struct CheckpointArgs {
    #[command(flatten)]
    pub criu: CriuArgs,
    /// A previous pre-dump's image, relative to the image path.
    #[arg(long = "parent-path")]
    pub parent_path: Option<PathBuf>,
    #[arg(long = "leave-running", overrides_with = "leave_running")]
    pub leave_running: bool,
    /// Dump memory only, leaving the container running.
    #[arg(long = "pre-dump", overrides_with = "pre_dump")]
    pub pre_dump: bool,
    #[arg(long = "status-fd")]
    pub status_fd: Option<i32>,
    /// ADDRESS:PORT of a CRIU page server.
    #[arg(long = "page-server")]
    pub page_server: Option<String>,
    pub id: String,
}

#[derive(Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub criu: CriuArgs,
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    #[arg(short = 'd', long, overrides_with = "detach")]
    pub detach: bool,
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    #[arg(long = "no-subreaper", overrides_with = "no_subreaper")]
    pub no_subreaper: bool,
    /// Accepted for runc's command line; CRIU makes the root itself.
    #[arg(long = "no-pivot", overrides_with = "no_pivot")]
    pub no_pivot: bool,
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// The LSM profile of the restored processes (CRIU 3.16 or later).
    #[arg(long = "lsm-profile")]
    pub lsm_profile: Option<String>,
    /// The SELinux mount context of the restored mounts (CRIU 3.16 or later).
    #[arg(long = "lsm-mount-context")]
    pub lsm_mount_context: Option<String>,
    pub id: String,
}

fn absolute(p: &Path) -> Result<PathBuf> {
    if p.is_absolute() {
        return Ok(p.to_path_buf());
    }
    Ok(std::env::current_dir().context("getcwd")?.join(p))
}

fn flags(a: &CriuArgs) -> Result<container::CriuFlags> {
    Ok(container::CriuFlags {
        image_path: absolute(&a.image_path)?,
        work_path: a.work_path.as_deref().map(absolute).transpose()?,
        tcp_established: a.tcp_established,
        ext_unix_sk: a.ext_unix_sk,
        shell_job: a.shell_job,
        file_locks: a.file_locks,
        lazy_pages: a.lazy_pages,
        auto_dedup: a.auto_dedup,
        manage_cgroups_mode: a.manage_cgroups_mode.clone(),
        empty_ns: a.empty_ns.clone(),
    })
}

pub fn checkpoint(root: &Path, a: &CheckpointArgs) -> Result<()> {
    let opts = container::CheckpointOptions {
        flags: flags(&a.criu)?,
        parent_path: a.parent_path.clone(),
        leave_running: a.leave_running,
        pre_dump: a.pre_dump,
        status_fd: a.status_fd,
        page_server: a.page_server.clone(),
    };
    container::checkpoint(root, &a.id, &opts)?;
    Ok(())
}

pub fn restore(root: &Path, systemd_cgroup: bool, a: &RestoreArgs) -> Result<i32> {
    if !a.detach && !a.no_subreaper {
        container::become_subreaper().map_err(anyhow::Error::msg)?;
    }
    let opts = container::RestoreOptions {
        id: a.id.clone(),
        bundle: a.bundle.clone(),
        root: root.to_path_buf(),
        flags: flags(&a.criu)?,
        pid_file: a.pid_file.as_deref().map(absolute).transpose()?,
        console_socket: a.console_socket.clone(),
        systemd_cgroup,
        lsm_profile: a.lsm_profile.clone(),
        lsm_mount_context: a.lsm_mount_context.clone(),
    };
    if !a.detach {
        container::block_forwarded_signals();
    }
    let c = container::restore(&opts)?;
    if a.detach {
        return Ok(0);
    }
    let pid = c.state.pid;
    drop(c);
    let code = container::wait_and_forward(pid);
    container::delete(root, &a.id, true)
        .with_context(|| format!("delete container {:?} after it exited", a.id))?;
    Ok(code)
}
