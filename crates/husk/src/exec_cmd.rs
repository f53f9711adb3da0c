//! `husk exec`: the process comes from --process FILE, or from the
//! bundle's process with the command line and flags on top (runc's rules).

use anyhow::{bail, Context, Result};
use husk_container::{self as container, ExecOptions};
use husk_spec::Process;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct ExecArgs {
    /// A process JSON document (as in config.json's "process").
    #[arg(short = 'p', long)]
    pub process: Option<PathBuf>,
    #[arg(short = 't', long)]
    pub tty: bool,
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// KEY=VALUE, repeatable.
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// UID[:GID].
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// A capability to add (CAP_NAME), repeatable.
    #[arg(short = 'c', long = "cap")]
    pub cap: Vec<String>,
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    #[arg(long)]
    pub apparmor: Option<String>,
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    #[arg(short = 'd', long)]
    pub detach: bool,
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// Run in an existing sub-cgroup of the container: `[CONTROLLERS:]PATH`
    /// (runc 1.1's --cgroup; CONTROLLERS like `cpu,cpuacct` on cgroup v1).
    #[arg(long = "cgroup")]
    pub cgroup: Vec<String>,
    pub id: String,
    /// The command and its arguments (without --process).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

fn read_process(path: &Path) -> Result<Process> {
    let data = std::fs::read(path).with_context(|| format!("--process {}", path.display()))?;
    let mut de = serde_json::Deserializer::from_slice(&data);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = e.path().to_string();
        anyhow::anyhow!("--process {}: {field}: {}", path.display(), e.into_inner())
    })
}

pub fn build_process(a: &ExecArgs, bundle: &Path) -> Result<Process> {
    if let Some(p) = &a.process {
        let mut p = read_process(p)?;
        if a.tty {
            p.terminal = true;
        }
        if p.args.is_empty() {
            bail!("--process: args must not be empty");
        }
        return Ok(p);
    }
    if a.command.is_empty() {
        bail!("exec: no command given (husk exec ID COMMAND [ARGS...], or --process FILE)");
    }
    let config = std::fs::read(bundle.join(husk_spec::CONFIG_FILE))
        .with_context(|| format!("exec: read the container's config in {}", bundle.display()))?;
    let spec = husk_spec::parse_config(&config)?;
    let mut p = spec.process.unwrap_or_default();
    p.args = a.command.clone();
    p.terminal = a.tty;
    p.env.extend(a.env.iter().cloned());
    if let Some(cwd) = &a.cwd {
        p.cwd = cwd.clone();
    }
    if let Some(u) = &a.user {
        let (uid, gid) = match u.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (u.as_str(), None),
        };
        p.user.uid = uid
            .parse()
            .with_context(|| format!("--user {u:?}: not a numeric uid[:gid]"))?;
        if let Some(g) = gid {
            p.user.gid = g
                .parse()
                .with_context(|| format!("--user {u:?}: not a numeric uid[:gid]"))?;
        }
    }
    if !a.additional_gids.is_empty() {
        p.user.additional_gids = a.additional_gids.clone();
    }
    if !a.cap.is_empty() {
        let c = p.capabilities.get_or_insert_with(Default::default);
        for set in [&mut c.bounding, &mut c.effective, &mut c.permitted] {
            set.get_or_insert_with(Vec::new)
                .extend(a.cap.iter().cloned());
        }
    }
    if a.no_new_privs {
        p.no_new_privileges = true;
    }
    if a.apparmor.is_some() {
        p.apparmor_profile = a.apparmor.clone();
    }
    if a.process_label.is_some() {
        p.selinux_label = a.process_label.clone();
    }
    Ok(p)
}

pub fn exec(root: &Path, a: &ExecArgs) -> Result<i32> {
    let c = container::load_for_read(root, &a.id)?;
    let process = build_process(a, &c.state.bundle)?;
    if !a.detach {
        container::become_subreaper().map_err(anyhow::Error::msg)?;
        container::block_forwarded_signals();
    }
    let opts = ExecOptions {
        process,
        pid_file: a.pid_file.clone(),
        console_socket: a.console_socket.clone(),
        preserve_fds: a.preserve_fds,
        ignore_paused: a.ignore_paused,
        relay_console: !a.detach && a.console_socket.is_none(),
        sub_cgroups: a
            .cgroup
            .iter()
            .map(|s| husk_cgroups::SubCgroup::parse(s))
            .collect::<Result<_, _>>()
            .map_err(|e| anyhow::anyhow!("--cgroup: {e}"))?,
    };
    let started = container::exec(&c, &opts)?;
    if a.detach {
        return Ok(0);
    }
    Ok(match started.console {
        Some(master) => container::relay_and_wait(master, started.pid),
        None => container::wait_and_forward(started.pid),
    })
}
