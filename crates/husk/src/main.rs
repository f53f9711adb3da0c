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
mod check_cmd;
mod cli;
mod criu_cmds;
mod exec_cmd;
mod features;
mod list;
mod logging;
mod seal;
mod spec_cmd;

use anyhow::{bail, Context, Result};
use cli::{Cli, Cmd, CreateArgs};
use husk_container::{self as container, CreateOptions};
use logging::Logger;
use std::path::PathBuf;
use std::sync::Arc;

fn main() {
    let cli = cli::parse();
    if cli.g.version {
        outln!(
            "husk version {}\ncommit: {}\nspec: {}",
            env!("CARGO_PKG_VERSION"),
            env!("HUSK_COMMIT"),
            husk_spec::OCI_VERSION
        );
        return;
    }
    let logger = match Logger::new(cli.g.log.as_deref(), cli.g.log_format, cli.g.debug) {
        Ok(l) => Arc::new(l),
        Err(e) => {
            eprintln!(
                "husk: --log {}: {e}",
                cli.g
                    .log
                    .as_deref()
                    .unwrap_or_else(|| "".as_ref())
                    .display()
            );
            std::process::exit(1);
        }
    };
    let _ = tracing::subscriber::set_global_default(ArcLogger(logger.clone()));
    match seal_if_needed(&cli).and_then(|()| dispatch(&cli)) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            let msg = one_line(&e);
            if cli.g.log.is_some() {
                logger.write(tracing::Level::ERROR, &msg);
            }
            eprintln!("husk: {msg}");
            // runc's codes: `exec` fails with 255 of its own, so that an
            // engine can tell husk's failure from the program exiting 1.
            let code = if matches!(cli.cmd, Some(Cmd::Exec(_))) {
                255
            } else {
                1
            };
            std::process::exit(code);
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
    if let Some(r) = &cli.g.root {
        return r.clone();
    }
    if let Some(x) = std::env::var_os("XDG_RUNTIME_DIR").filter(|x| !x.is_empty()) {
        let root = nix::unistd::geteuid().is_root();
        // Only root reads uid_map: the common case stays one syscall.
        let in_userns = root && husk_container::in_user_namespace();
        let user = std::env::var("USER").ok();
        if husk_container::honours_xdg_runtime_dir(root, in_userns, user.as_deref()) {
            return PathBuf::from(x).join("husk");
        }
    }
    PathBuf::from("/run/husk")
}

/// The systemd driver needs systemd to talk to; say so before anything is
/// made rather than half way through create.
fn check_cgroup_driver(cli: &Cli) -> Result<()> {
    if cli.g.systemd_cgroup && husk_cgroups::Cgroup::systemd_socket().is_none() {
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
        systemd_cgroup: cli.g.systemd_cgroup,
    }
}

/// The verbs that start processes inside a container first re-exec husk
/// from a copy that cannot be written (seal.rs); the others never do.
fn seal_if_needed(cli: &Cli) -> Result<()> {
    if matches!(cli.cmd, Some(Cmd::Create(_) | Cmd::Run(_) | Cmd::Exec(_))) {
        let id = seal::ensure(&state_root(cli)).map_err(anyhow::Error::msg)?;
        container::set_binary_identity(id);
    }
    Ok(())
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
        Cmd::Start(a) => {
            let mut c = container::load(&root, &a.id)?;
            container::start(&mut c)?;
        }
        Cmd::State(a) => {
            let c = container::load_for_read(&root, &a.id)?;
            outln!(
                "{}",
                serde_json::to_string_pretty(&c.oci_state(c.status()))?
            );
        }
        Cmd::Kill(a) => {
            let sig = container::parse_signal(&a.signal).map_err(anyhow::Error::msg)?;
            let c = container::load(&root, &a.id)?;
            container::kill(&c, sig, a.all)?;
        }
        Cmd::Delete(a) => container::delete(&root, &a.id, a.force)?,
        Cmd::Run(a) => {
            check_cgroup_driver(cli)?;
            return run(cli, &a.create, a.detach, a.keep);
        }
        Cmd::List(a) => list::list(&root, &a.format, a.quiet)?,
        Cmd::Spec(a) => spec_cmd::write_spec(&a.bundle, a.rootless)?,
        Cmd::Features(_) => outln!("{}", serde_json::to_string_pretty(&features::features())?),
        Cmd::Exec(a) => return exec_cmd::exec(&root, a),
        Cmd::Pause(a) => container::pause(&container::load(&root, &a.id)?)?,
        Cmd::Resume(a) => container::resume(&container::load(&root, &a.id)?)?,
        Cmd::Ps(a) => cgroup_cmds::ps(&root, &a.id, &a.format, &a.ps_args)?,
        Cmd::Update(a) => {
            let resources = cgroup_cmds::update_resources(a)?;
            container::update(&mut container::load(&root, &a.id)?, &resources)?;
        }
        Cmd::Checkpoint(a) => criu_cmds::checkpoint(&root, a)?,
        Cmd::Check(a) => return check_cmd::check(a, cli.g.systemd_cgroup),
        Cmd::Restore(a) => {
            check_cgroup_driver(cli)?;
            return criu_cmds::restore(&root, cli.g.systemd_cgroup, a);
        }
        Cmd::Events(a) => {
            let every = cgroup_cmds::parse_duration(&a.interval)?;
            let mut out = std::io::stdout().lock();
            container::events(&root, &a.id, every, a.stats, &mut |line| {
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
