//! husk: an OCI container runtime with runc's command line.

/// println! that ignores a closed stdout (`husk --version | head -1`):
/// println! would panic on EPIPE.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

mod cgroup_cmds;
mod exec_cmd;
mod features;
mod list;
mod logging;
mod spec_cmd;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use husk_container::{self as container, CreateOptions};
use logging::{LogFormat, Logger};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "husk",
    about = "An OCI container runtime (runc-compatible)",
    disable_version_flag = true
)]
struct Cli {
    /// Directory for container state (runc: --root).
    #[arg(long, global = true)]
    root: Option<PathBuf>,
    /// Log file (default: stderr).
    #[arg(long, global = true)]
    log: Option<PathBuf>,
    #[arg(long = "log-format", global = true, value_enum, default_value = "text")]
    log_format: LogFormat,
    #[arg(long, global = true)]
    debug: bool,
    /// Use the systemd cgroup driver.
    #[arg(long = "systemd-cgroup", global = true)]
    systemd_cgroup: bool,
    /// auto, true or false (before the command, as with runc: `spec` has
    /// a --rootless of its own).
    #[arg(long, value_enum, default_value = "auto")]
    rootless: Rootless,
    /// Print the version.
    #[arg(short = 'v', long = "version")]
    version: bool,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

/// runc's --rootless values. Accepted now; rootless operation itself comes
/// with the user-namespace work.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
enum Rootless {
    Auto,
    True,
    False,
}

#[derive(clap::Args)]
struct CreateArgs {
    /// Bundle directory (default: the current directory).
    #[arg(short = 'b', long, default_value = ".")]
    bundle: PathBuf,
    #[arg(long = "console-socket")]
    console_socket: Option<PathBuf>,
    #[arg(long = "pid-file")]
    pid_file: Option<PathBuf>,
    #[arg(long = "no-pivot")]
    no_pivot: bool,
    #[arg(long = "no-new-keyring")]
    no_new_keyring: bool,
    /// Pass N more fds (3..3+N) to the container process.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    preserve_fds: u32,
    id: String,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create a container; its process waits for `start`.
    Create(CreateArgs),
    /// Run the user's program of a created container.
    Start { id: String },
    /// Print the state of a container as JSON.
    State { id: String },
    /// Send a signal (default SIGTERM) to the container's init.
    Kill {
        /// Signal every process in the container.
        #[arg(short = 'a', long)]
        all: bool,
        id: String,
        #[arg(default_value = "SIGTERM")]
        signal: String,
    },
    /// Delete a container and everything it holds.
    Delete {
        /// Kill a running container first.
        #[arg(short = 'f', long)]
        force: bool,
        id: String,
    },
    /// Create and start a container, then wait for it (unless detached).
    Run {
        #[command(flatten)]
        create: CreateArgs,
        #[arg(short = 'd', long)]
        detach: bool,
        /// Keep the container's state after it exits.
        #[arg(long)]
        keep: bool,
    },
    /// List containers.
    #[command(alias = "ls")]
    List {
        #[arg(short = 'f', long, default_value = "table")]
        format: String,
        /// Print only the ids.
        #[arg(short = 'q', long)]
        quiet: bool,
    },
    /// Write a starting config.json.
    Spec {
        #[arg(short = 'b', long, default_value = ".")]
        bundle: PathBuf,
        #[arg(long)]
        rootless: bool,
    },
    /// Print what this runtime implements, as JSON.
    Features,
    /// Run another process in a running container.
    Exec(exec_cmd::ExecArgs),
    /// Freeze every process of a container.
    Pause { id: String },
    /// Thaw a paused container.
    Resume { id: String },
    /// List the container's processes (`ps -ef` filtered, or pids as JSON).
    Ps {
        #[arg(short = 'f', long, default_value = "table")]
        format: String,
        id: String,
        /// Arguments for ps (after --).
        #[arg(last = true)]
        ps_args: Vec<String>,
    },
    /// Change a running container's resource limits.
    Update(cgroup_cmds::UpdateArgs),
    /// Stream resource statistics and OOM events as JSON lines.
    Events {
        /// Print one stats event and exit.
        #[arg(long)]
        stats: bool,
        /// Time between stats events (5s, 100ms, ...).
        #[arg(long, default_value = "5s")]
        interval: String,
        id: String,
    },
}

fn main() {
    let cli = Cli::parse();
    if cli.version {
        outln!(
            "husk version {}\ncommit: {}\nspec: {}",
            env!("CARGO_PKG_VERSION"),
            env!("HUSK_COMMIT"),
            husk_spec::OCI_VERSION
        );
        return;
    }
    let logger = match Logger::new(cli.log.as_deref(), cli.log_format, cli.debug) {
        Ok(l) => Arc::new(l),
        Err(e) => {
            eprintln!(
                "husk: --log {}: {e}",
                cli.log.as_deref().unwrap_or_else(|| "".as_ref()).display()
            );
            std::process::exit(1);
        }
    };
    let _ = tracing::subscriber::set_global_default(ArcLogger(logger.clone()));
    match dispatch(&cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            let msg = one_line(&e);
            if cli.log.is_some() {
                logger.write(tracing::Level::ERROR, &msg);
            }
            eprintln!("husk: {msg}");
            std::process::exit(1);
        }
    }
}

/// The error chain on one line: "context: cause: cause".
fn one_line(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for c in e.chain() {
        let s = c.to_string();
        if !parts.last().is_some_and(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ").replace('\n', " ")
}

struct ArcLogger(Arc<Logger>);

impl tracing::Subscriber for ArcLogger {
    fn enabled(&self, m: &tracing::Metadata<'_>) -> bool {
        self.0.enabled(m)
    }
    fn new_span(&self, a: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        self.0.new_span(a)
    }
    fn record(&self, s: &tracing::span::Id, r: &tracing::span::Record<'_>) {
        self.0.record(s, r)
    }
    fn record_follows_from(&self, a: &tracing::span::Id, b: &tracing::span::Id) {
        self.0.record_follows_from(a, b)
    }
    fn event(&self, e: &tracing::Event<'_>) {
        self.0.event(e)
    }
    fn enter(&self, s: &tracing::span::Id) {
        self.0.enter(s)
    }
    fn exit(&self, s: &tracing::span::Id) {
        self.0.exit(s)
    }
}

fn state_root(cli: &Cli) -> PathBuf {
    if let Some(r) = &cli.root {
        return r.clone();
    }
    if !nix::unistd::geteuid().is_root() {
        if let Some(x) = std::env::var_os("XDG_RUNTIME_DIR") {
            return PathBuf::from(x).join("husk");
        }
    }
    PathBuf::from("/run/husk")
}

/// The systemd driver needs systemd to talk to; say so before anything is
/// made rather than half way through create.
fn check_cgroup_driver(cli: &Cli) -> Result<()> {
    if cli.systemd_cgroup && husk_cgroups::Cgroup::systemd_socket().is_none() {
        bail!("--systemd-cgroup: systemd is not reachable on this host (no /run/systemd/private nor /run/dbus/system_bus_socket); use the cgroupfs driver (drop the flag)");
    }
    Ok(())
}

fn create_options(cli: &Cli, a: &CreateArgs) -> CreateOptions {
    CreateOptions {
        id: a.id.clone(),
        bundle: a.bundle.clone(),
        root: state_root(cli),
        pid_file: a.pid_file.clone(),
        console_socket: a.console_socket.clone(),
        preserve_fds: a.preserve_fds,
        no_pivot: a.no_pivot,
        no_new_keyring: a.no_new_keyring,
        relay_console: false,
        systemd_cgroup: cli.systemd_cgroup,
    }
}

fn dispatch(cli: &Cli) -> Result<i32> {
    let Some(cmd) = &cli.cmd else {
        bail!("no command given; see husk --help");
    };
    let root = state_root(cli);
    match cmd {
        Cmd::Create(a) => {
            check_cgroup_driver(cli)?;
            container::create(&create_options(cli, a))?;
        }
        Cmd::Start { id } => {
            let mut c = container::load(&root, id)?;
            container::start(&mut c)?;
        }
        Cmd::State { id } => {
            let c = container::load_for_read(&root, id)?;
            outln!(
                "{}",
                serde_json::to_string_pretty(&c.oci_state(c.status()))?
            );
        }
        Cmd::Kill { all, id, signal } => {
            let sig = container::parse_signal(signal).map_err(anyhow::Error::msg)?;
            let c = container::load(&root, id)?;
            container::kill(&c, sig, *all)?;
        }
        Cmd::Delete { force, id } => container::delete(&root, id, *force)?,
        Cmd::Run {
            create,
            detach,
            keep,
        } => {
            check_cgroup_driver(cli)?;
            return run(cli, create, *detach, *keep);
        }
        Cmd::List { format, quiet } => list::list(&root, format, *quiet)?,
        Cmd::Spec { bundle, rootless } => spec_cmd::write_spec(bundle, *rootless)?,
        Cmd::Features => outln!("{}", serde_json::to_string_pretty(&features::features())?),
        Cmd::Exec(a) => return exec_cmd::exec(&root, a),
        Cmd::Pause { id } => container::pause(&container::load(&root, id)?)?,
        Cmd::Resume { id } => container::resume(&container::load(&root, id)?)?,
        Cmd::Ps {
            format,
            id,
            ps_args,
        } => cgroup_cmds::ps(&root, id, format, ps_args)?,
        Cmd::Update(a) => {
            let resources = cgroup_cmds::update_resources(a)?;
            container::update(&container::load(&root, &a.id)?, &resources)?;
        }
        Cmd::Events {
            stats,
            interval,
            id,
        } => {
            let every = cgroup_cmds::parse_duration(interval)?;
            let mut out = std::io::stdout().lock();
            container::events(&root, id, every, *stats, &mut |line| {
                use std::io::Write;
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            })?;
        }
    }
    Ok(0)
}

fn run(cli: &Cli, a: &CreateArgs, detach: bool, keep: bool) -> Result<i32> {
    if !detach {
        container::become_subreaper().map_err(anyhow::Error::msg)?;
    }
    let mut opts = create_options(cli, a);
    // In the foreground without a console socket, husk relays the terminal.
    opts.relay_console = !detach && opts.console_socket.is_none();
    let mut c = container::create(&opts)?;
    if !detach {
        container::block_forwarded_signals();
    }
    if let Err(e) = container::start(&mut c) {
        drop(c);
        let _ = container::delete(&opts.root, &opts.id, true);
        return Err(e.into());
    }
    if detach {
        return Ok(0);
    }
    let pid = c.state.pid;
    let console = c.console.take();
    // Let other commands (state, kill, exec) in while we wait.
    drop(c);
    let code = match console {
        Some(master) => container::relay_and_wait(master, pid),
        None => container::wait_and_forward(pid),
    };
    if !keep {
        container::delete(&opts.root, &opts.id, true)
            .with_context(|| format!("delete container {:?} after it exited", opts.id))?;
    }
    Ok(code)
}
