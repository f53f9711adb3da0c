//! The command line (runc's), and parsing it cheaply.
//!
//! clap builds its whole command tree before it parses. For husk that tree
//! (every subcommand with every flag) cost each invocation about 150 KB of heap
//! and a 64 KB stack frame, a fifth of `husk state`'s peak RSS. So when the
//! subcommand can be read off the command line, only that subcommand is built
//! (from the same `Args` types, so it parses the same); help, errors about the
//! subcommand itself and anything unusual go through the full tree.

use crate::cgroup_cmds::UpdateArgs;
use crate::check_cmd::CheckArgs;
use crate::criu_cmds::{CheckpointArgs, RestoreArgs};
use crate::exec_cmd::ExecArgs;
use crate::logging::LogFormat;
use clap::{Args, Command, FromArgMatches, Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "husk",
    about = "An OCI container runtime (runc-compatible)",
    disable_version_flag = true
)]
pub struct Cli {
    #[command(flatten)]
    pub g: Globals,
    #[command(subcommand)]
    pub cmd: Option<Cmd>,
}

/// runc's global options.
#[derive(Args)]
pub struct Globals {
    /// Directory for container state (runc: --root).
    #[arg(long, global = true)]
    pub root: Option<PathBuf>,
    /// Log file (default: stderr).
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    #[arg(long = "log-format", global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    #[arg(long, global = true)]
    pub debug: bool,
    /// Use the systemd cgroup driver.
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// auto, true or false (before the command, as with runc: `spec` has
    /// a --rootless of its own).
    #[arg(long, value_enum, default_value = "auto")]
    pub rootless: Rootless,
    /// Print the version.
    #[arg(short = 'v', long = "version")]
    pub version: bool,
}

/// runc's --rootless values. Accepted; husk decides from the effective uid
/// as runc's "auto" does.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum Rootless {
    Auto,
    True,
    False,
}

#[derive(Args)]
pub struct CreateArgs {
    /// Bundle directory (default: the current directory).
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass N more fds (3..3+N) to the container process.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    pub id: String,
}

#[derive(Args)]
pub struct IdArgs {
    pub id: String,
}

#[derive(Args)]
pub struct KillArgs {
    /// Signal every process in the container.
    #[arg(short = 'a', long)]
    pub all: bool,
    pub id: String,
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

#[derive(Args)]
pub struct DeleteArgs {
    /// Kill a running container first.
    #[arg(short = 'f', long)]
    pub force: bool,
    pub id: String,
}

#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keep the container's state after it exits.
    #[arg(long)]
    pub keep: bool,
}

#[derive(Args)]
pub struct ListArgs {
    #[arg(short = 'f', long, default_value = "table")]
    pub format: String,
    /// Print only the ids.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Args)]
pub struct SpecArgs {
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    #[arg(long)]
    pub rootless: bool,
}

#[derive(Args)]
pub struct NoArgs {}

#[derive(Args)]
pub struct PsArgs {
    #[arg(short = 'f', long, default_value = "table")]
    pub format: String,
    pub id: String,
    /// Arguments for ps: everything after the id (runc's reading), with or
    /// without `--`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

#[derive(Args)]
pub struct EventsArgs {
    /// Print one stats event and exit.
    #[arg(long)]
    pub stats: bool,
    /// Time between stats events (5s, 100ms, ...).
    #[arg(long, default_value = "5s")]
    pub interval: String,
    pub id: String,
}

#[derive(Subcommand)]
pub enum Cmd {
    /// Create a container; its process waits for `start`.
    Create(CreateArgs),
    /// Run the user's program of a created container.
    Start(IdArgs),
    /// Print the state of a container as JSON.
    State(IdArgs),
    /// Send a signal (default SIGTERM) to the container's init.
    Kill(KillArgs),
    /// Delete a container and everything it holds.
    Delete(DeleteArgs),
    /// Create and start a container, then wait for it (unless detached).
    Run(RunArgs),
    /// List containers.
    #[command(alias = "ls")]
    List(ListArgs),
    /// Write a starting config.json.
    Spec(SpecArgs),
    /// Print what this runtime implements, as JSON.
    Features(NoArgs),
    /// Run another process in a running container.
    Exec(ExecArgs),
    /// Freeze every process of a container.
    Pause(IdArgs),
    /// Thaw a paused container.
    Resume(IdArgs),
    /// List the container's processes (`ps -ef` filtered, or pids as JSON).
    Ps(PsArgs),
    /// Change a running container's resource limits.
    Update(UpdateArgs),
    /// Stream resource statistics and OOM events as JSON lines.
    Events(EventsArgs),
    /// Dump a running container with CRIU into an image directory.
    Checkpoint(CheckpointArgs),
    /// Make a container again from a checkpoint image.
    Restore(RestoreArgs),
    /// Report every problem of a bundle, before anything is created.
    Check(CheckArgs),
}

type Augment = fn(Command) -> Command;

/// Each subcommand's name (as clap derives it from `Cmd`), its aliases, and
/// its arguments. A unit test keeps this in step with `Cmd`.
const SUBCOMMANDS: &[(&str, &[&str], Augment)] = &[
    ("create", &[], CreateArgs::augment_args),
    ("start", &[], IdArgs::augment_args),
    ("state", &[], IdArgs::augment_args),
    ("kill", &[], KillArgs::augment_args),
    ("delete", &[], DeleteArgs::augment_args),
    ("run", &[], RunArgs::augment_args),
    ("list", &["ls"], ListArgs::augment_args),
    ("spec", &[], SpecArgs::augment_args),
    ("features", &[], NoArgs::augment_args),
    ("exec", &[], ExecArgs::augment_args),
    ("pause", &[], IdArgs::augment_args),
    ("resume", &[], IdArgs::augment_args),
    ("ps", &[], PsArgs::augment_args),
    ("update", &[], UpdateArgs::augment_args),
    ("events", &[], EventsArgs::augment_args),
    ("checkpoint", &[], CheckpointArgs::augment_args),
    ("restore", &[], RestoreArgs::augment_args),
    ("check", &[], CheckArgs::augment_args),
];

/// Parses the process's command line; prints help or an error and exits as
/// clap does.
pub fn parse() -> Cli {
    parse_from(std::env::args_os().collect())
}

fn parse_from(args: Vec<OsString>) -> Cli {
    let args = runc_single_dash(args);
    let Some(cmd) = lean_command(&args) else {
        return Cli::parse_from(args);
    };
    match cmd
        .try_get_matches_from(&args)
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    }
}

/// runc's flag parser takes long options with one dash too, and callers
/// rely on it: containerd's go-runc passes `-no-subreaper` to restore. The
/// long options husk knows callers to send that way get their second dash.
fn runc_single_dash(args: Vec<OsString>) -> Vec<OsString> {
    const SINGLE_DASH: &[&str] = &["-no-subreaper"];
    args.into_iter()
        .map(|a| match a.to_str() {
            Some(s) if SINGLE_DASH.contains(&s) => OsString::from(format!("-{s}")),
            _ => a,
        })
        .collect()
}

/// The root command with only the subcommand named on the command line, or
/// None where the full tree is needed (help, no or an unknown subcommand).
fn lean_command(args: &[OsString]) -> Option<Command> {
    if args
        .iter()
        .skip(1)
        .any(|a| a == "-h" || a == "--help" || a == "help")
    {
        return None;
    }
    let root = Globals::augment_args(
        Command::new("husk")
            .about("An OCI container runtime (runc-compatible)")
            .disable_version_flag(true),
    );
    let name = subcommand_name(&root, args)?;
    let &(canonical, aliases, augment) = SUBCOMMANDS
        .iter()
        .find(|(n, aliases, _)| *n == name || aliases.contains(&name))?;
    let sub = augment(Command::new(canonical)).aliases(aliases.iter().copied());
    Some(root.subcommand(sub))
}

/// The first argument that is neither one of `root`'s options nor the value
/// of one given as the next argument ("--root DIR").
fn subcommand_name<'a>(root: &Command, args: &'a [OsString]) -> Option<&'a str> {
    let takes_value = |a: &str| {
        let long = a.strip_prefix("--");
        let short = a
            .strip_prefix('-')
            .filter(|c| c.len() == 1)
            .and_then(|c| c.chars().next());
        root.get_arguments().any(|o| {
            o.get_action().takes_values()
                && ((long.is_some() && o.get_long() == long)
                    || (short.is_some() && o.get_short() == short))
        })
    };
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let a = a.to_str()?;
        if takes_value(a) {
            it.next();
        } else if !a.starts_with('-') {
            return Some(a);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    fn arg_shape(c: &Command) -> Vec<String> {
        let mut v: Vec<String> = c
            .get_arguments()
            .map(|a| {
                format!(
                    "{} {:?} {:?} {:?} {:?} {:?}",
                    a.get_id(),
                    a.get_long(),
                    a.get_short(),
                    a.get_num_args(),
                    a.get_default_values(),
                    a.is_last_set()
                )
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn table_matches_the_derived_tree() {
        let full = Cli::command();
        let mut derived: Vec<&str> = full.get_subcommands().map(|s| s.get_name()).collect();
        let mut table: Vec<&str> = SUBCOMMANDS.iter().map(|(n, _, _)| *n).collect();
        derived.sort();
        table.sort();
        assert_eq!(derived, table);
        for (name, aliases, augment) in SUBCOMMANDS {
            let d = full.find_subcommand(name).unwrap();
            let lean = augment(Command::new(*name));
            assert_eq!(arg_shape(d), arg_shape(&lean), "arguments of {name}");
            let mut da: Vec<&str> = d.get_all_aliases().collect();
            da.sort();
            assert_eq!(da, aliases.to_vec(), "aliases of {name}");
        }
        let lean = lean_command(&os(&["husk", "state", "x"])).unwrap();
        let lean_globals: Vec<String> = arg_shape(&lean);
        assert_eq!(lean_globals, arg_shape(&full), "global options");
    }

    #[test]
    fn subcommand_is_found_after_global_options() {
        let root = Globals::augment_args(Command::new("husk"));
        let find = |a: &[&str]| subcommand_name(&root, &os(a)).map(str::to_string);
        assert_eq!(find(&["husk", "state", "x"]).as_deref(), Some("state"));
        assert_eq!(
            find(&["husk", "--root", "/r", "--log", "l", "--debug", "kill", "x"]).as_deref(),
            Some("kill")
        );
        assert_eq!(
            find(&["husk", "--root=/r", "delete", "x"]).as_deref(),
            Some("delete")
        );
        assert_eq!(
            find(&["husk", "--log-format", "json", "ls"]).as_deref(),
            Some("ls")
        );
        assert_eq!(
            find(&["husk", "--rootless", "false", "state", "x"]).as_deref(),
            Some("state")
        );
        assert_eq!(find(&["husk", "--version"]), None);
        assert_eq!(find(&["husk"]), None);
    }

    #[test]
    fn help_and_unknown_commands_take_the_full_tree() {
        assert!(lean_command(&os(&["husk", "state", "--help"])).is_none());
        assert!(lean_command(&os(&["husk", "help", "state"])).is_none());
        assert!(lean_command(&os(&["husk", "frobnicate", "x"])).is_none());
        assert!(lean_command(&os(&["husk", "-v"])).is_none());
        assert!(lean_command(&os(&["husk", "ls"])).is_some());
    }

    /// Parses with both trees and returns what each gave (Debug of the
    /// interesting fields), or the error kind.
    fn both(args: &[&str]) -> (String, String) {
        let show = |r: Result<Cli, clap::Error>| match r {
            Ok(c) => format!(
                "root={:?} log={:?} fmt={:?} debug={} sd={} rl={:?} v={} cmd={}",
                c.g.root,
                c.g.log,
                c.g.log_format,
                c.g.debug,
                c.g.systemd_cgroup,
                c.g.rootless,
                c.g.version,
                c.cmd.as_ref().map(describe).unwrap_or_default()
            ),
            Err(e) => format!("error {:?}", e.kind()),
        };
        let args = os(args);
        let full = show(Cli::try_parse_from(&args));
        let lean = show(
            lean_command(&args)
                .expect("a lean tree")
                .try_get_matches_from(&args)
                .and_then(|m| Cli::from_arg_matches(&m)),
        );
        (full, lean)
    }

    fn describe(c: &Cmd) -> String {
        match c {
            Cmd::Create(a) => format!(
                "create {} {:?} {:?} {:?} {} {} {}",
                a.id,
                a.bundle,
                a.console_socket,
                a.pid_file,
                a.no_pivot,
                a.no_new_keyring,
                a.preserve_fds
            ),
            Cmd::Start(a) => format!("start {}", a.id),
            Cmd::State(a) => format!("state {}", a.id),
            Cmd::Kill(a) => format!("kill {} {} {}", a.all, a.id, a.signal),
            Cmd::Delete(a) => format!("delete {} {}", a.force, a.id),
            Cmd::Run(a) => format!(
                "run {} {} {} {:?}",
                a.create.id, a.detach, a.keep, a.create.bundle
            ),
            Cmd::List(a) => format!("list {} {}", a.format, a.quiet),
            Cmd::Spec(a) => format!("spec {:?} {}", a.bundle, a.rootless),
            Cmd::Features(_) => "features".into(),
            Cmd::Exec(a) => format!(
                "exec {} {:?} {} {:?} {:?}",
                a.id, a.command, a.tty, a.env, a.process
            ),
            Cmd::Pause(a) => format!("pause {}", a.id),
            Cmd::Resume(a) => format!("resume {}", a.id),
            Cmd::Ps(a) => format!("ps {} {} {:?}", a.format, a.id, a.ps_args),
            Cmd::Update(a) => format!("update {} {:?} {:?}", a.id, a.memory, a.pids_limit),
            Cmd::Events(a) => format!("events {} {} {}", a.stats, a.interval, a.id),
            Cmd::Checkpoint(a) => format!(
                "checkpoint {} {:?} {:?} {} {} {:?}",
                a.id,
                a.criu.image_path,
                a.parent_path,
                a.leave_running,
                a.pre_dump,
                a.criu.empty_ns
            ),
            Cmd::Check(a) => format!("check {:?} {} {} {}", a.bundle, a.format, a.host, a.no_host),
            Cmd::Restore(a) => format!(
                "restore {} {:?} {:?} {} {:?} {}",
                a.id,
                a.criu.image_path,
                a.bundle,
                a.detach,
                a.console_socket,
                a.criu.tcp_established
            ),
        }
    }

    /// containerd's go-runc passes `-no-subreaper` with one dash.
    #[test]
    fn runc_single_dash_long_options() {
        let cli = parse_from(os(&["husk", "restore", "-d", "-no-subreaper", "c1"]));
        match cli.cmd {
            Some(Cmd::Restore(a)) => assert!(a.no_subreaper && a.detach),
            _ => panic!("not a restore"),
        }
    }

    #[test]
    fn lean_and_full_trees_parse_alike() {
        let cases: &[&[&str]] = &[
            &["husk", "state", "c1"],
            &[
                "husk",
                "checkpoint",
                "--image-path",
                "/i",
                "--pre-dump",
                "--empty-ns",
                "network",
                "c1",
            ],
            &[
                "husk",
                "restore",
                "-d",
                "--tcp-established",
                "-b",
                "/b",
                "--console-socket",
                "/s",
                "c1",
            ],
            &[
                "husk",
                "--root",
                "/run/x",
                "--log",
                "/l",
                "--log-format",
                "json",
                "create",
                "--bundle",
                "/b",
                "--pid-file",
                "/p",
                "c1",
            ],
            &["husk", "create", "c1", "--root", "/late"],
            &[
                "husk",
                "--systemd-cgroup",
                "--rootless",
                "true",
                "run",
                "-d",
                "--keep",
                "-b",
                "/b",
                "c1",
            ],
            &["husk", "kill", "--all", "c1", "KILL"],
            &["husk", "kill", "c1"],
            &["husk", "delete", "-f", "c1"],
            &["husk", "ls", "-q"],
            &["husk", "list", "--format", "json"],
            &["husk", "spec", "--rootless", "-b", "/b"],
            &["husk", "features"],
            &[
                "husk", "exec", "-t", "-e", "A=1", "--env", "B=2", "c1", "sh", "-c", "echo --x",
            ],
            &["husk", "exec", "--process", "/p.json", "c1"],
            &["husk", "ps", "-f", "json", "c1", "--", "-o", "pid"],
            &[
                "husk",
                "update",
                "--memory",
                "1000000",
                "--pids-limit",
                "-1",
                "c1",
            ],
            &["husk", "events", "--stats", "--interval", "1s", "c1"],
            &["husk", "pause", "c1"],
            &["husk", "resume", "c1"],
            &["husk", "start", "c1"],
            // errors must be the same errors
            &["husk", "state"],
            &["husk", "state", "a", "b"],
            &["husk", "kill", "--bogus", "c1"],
            &["husk", "--log-format", "xml", "state", "c1"],
            &["husk", "create", "--preserve-fds", "x", "c1"],
        ];
        for c in cases {
            let (full, lean) = both(c);
            assert_eq!(full, lean, "{c:?}");
        }
    }
}
