//! runtimetest: runs inside a container, as its process, and checks that the
//! runtime applied the OCI config: namespaces, hostname, process (args, env,
//! cwd, user, umask, rlimits, capabilities, noNewPrivileges, oomScoreAdj,
//! terminal), read-only root, mounts, devices, masked and read-only paths,
//! sysctls, and the scheduler, I/O priority, exec CPU affinity, personality,
//! memory policy, network devices, Intel RDT group and LSM labels. Only what
//! the config states, and only what can be known from inside the container,
//! is asserted.
//!
//! Usage: `runtimetest [-v] [--exec] [CONFIG]`. CONFIG defaults to
//! `/runtimetest.json` (the harness copies the bundle's config.json there).
//! `-v` prints each check as it passes; `--exec` says the process was started
//! by `exec`, not as the container's init (no pid 1 check). Exit status: 0
//! when all checks pass ("runtimetest: all checks passed" on stdout), 1 with
//! one line per mismatch on stderr, 2 on a usage or config read error.
//!
//! The rootfs is busybox only, so the binary must be static. Build it with:
//!
//! ```sh
//! RUSTFLAGS='-C target-feature=+crt-static' cargo build -p runtimetest --release --target x86_64-unknown-linux-gnu
//! ```
//!
//! which gives `target/x86_64-unknown-linux-gnu/release/runtimetest`.
//!
//! `runtimetest --dump [--hold] [SYSCTL_KEY...]` checks nothing: it prints
//! a deterministic report of what the process sees (namespaces, ids, caps,
//! limits, mounts, devices, network, fds, environment, sysctls, cgroups,
//! masked paths; see `dump.rs`), ending with `end`, so that the same config
//! run under two runtimes can be diffed. With `--hold` it then waits for
//! SIGTERM and exits 0. The SYSCTL_KEYs are printed besides a fixed set.
//! Other modes: `--notify MSG` (sd_notify) and `--syscall NAME [ARG...]`.

mod caps;
mod checks;
mod dump;
mod linux_attrs;
mod mounts;
mod procfs;
mod sys;
mod syscall;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

const DEFAULT_CONFIG: &str = "/runtimetest.json";
const USAGE: &str =
    "usage: runtimetest [-v|--verbose] [--exec] [CONFIG]\n       runtimetest --dump [--hold] [SYSCTL_KEY...]\n       runtimetest --notify MSG\n       runtimetest --syscall NAME [ARG...]";

#[derive(Debug, PartialEq)]
struct Options {
    verbose: bool,
    exec: bool,
    config: PathBuf,
    /// `--dump`: print the report instead of checking a config.
    dump: Option<dump::DumpOptions>,
}

fn parse_args(args: &[OsString]) -> Result<Option<Options>, String> {
    let mut opts = Options {
        verbose: false,
        exec: false,
        config: PathBuf::from(DEFAULT_CONFIG),
        dump: None,
    };
    let (mut dump, mut hold) = (false, false);
    let mut positional = Vec::new();
    for a in args {
        match a.to_str() {
            Some("-v" | "--verbose") => opts.verbose = true,
            Some("--exec") => opts.exec = true,
            Some("--dump") => dump = true,
            Some("--hold") => hold = true,
            Some("-h" | "--help") => return Ok(None),
            Some(s) if s.starts_with('-') && s.len() > 1 => {
                return Err(format!("unknown option {s:?}"))
            }
            _ => positional.push(a),
        }
    }
    if dump {
        // The check options mean nothing to the report.
        if opts.verbose || opts.exec {
            return Err("--dump takes no -v or --exec".to_string());
        }
        let mut sysctls = Vec::new();
        for a in positional {
            match a.to_str() {
                Some(k) if dump::valid_sysctl_key(k) => sysctls.push(k.to_string()),
                _ => return Err(format!("bad sysctl key {a:?}")),
            }
        }
        opts.dump = Some(dump::DumpOptions { hold, sysctls });
        return Ok(Some(opts));
    }
    if hold {
        return Err("--hold needs --dump".to_string());
    }
    match positional.as_slice() {
        [] => {}
        [c] => opts.config = PathBuf::from(c),
        [_, a, ..] => return Err(format!("unexpected argument {a:?}")),
    }
    Ok(Some(opts))
}

/// `runtimetest --notify MSG`: sends MSG as one datagram to $NOTIFY_SOCKET
/// (sd_notify), for testing the runtime's NOTIFY_SOCKET passthrough.
fn notify(msg: &OsString) -> ExitCode {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        eprintln!("runtimetest: --notify: NOTIFY_SOCKET is not set");
        return ExitCode::from(2);
    };
    let sent = std::os::unix::net::UnixDatagram::unbound()
        .and_then(|s| s.send_to(msg.as_encoded_bytes(), &path));
    match sent {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "runtimetest: --notify: send to {}: {e}",
                path.to_string_lossy()
            );
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    if args.len() == 2 && args[0] == "--notify" {
        return notify(&args[1]);
    }
    if args.first().is_some_and(|a| a == "--syscall") {
        return syscall::run(&args[1..]);
    }
    let opts = match parse_args(&args) {
        Ok(Some(o)) => o,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("runtimetest: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if let Some(d) = &opts.dump {
        return dump::run(d);
    }
    let text = match std::fs::read_to_string(&opts.config) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("runtimetest: cannot read {}: {e}", opts.config.display());
            return ExitCode::from(2);
        }
    };
    let cfg: serde_json::Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("runtimetest: cannot parse {}: {e}", opts.config.display());
            return ExitCode::from(2);
        }
    };
    if !cfg.is_object() {
        eprintln!("runtimetest: {}: want a JSON object", opts.config.display());
        return ExitCode::from(2);
    }

    let ctx = checks::Ctx::read(&cfg, opts.exec);
    let mut c = checks::Checker::new(opts.verbose);
    checks::run_all(&mut c, &ctx);
    linux_attrs::run_all(&mut c, &ctx);

    if c.failed == 0 {
        println!("runtimetest: all checks passed");
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "runtimetest: {} of {} checks failed",
            c.failed,
            c.failed + c.passed
        );
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Options>, String> {
        let v: Vec<OsString> = args.iter().map(OsString::from).collect();
        parse_args(&v)
    }

    #[test]
    fn args() {
        let o = parse(&[]).unwrap().unwrap();
        assert_eq!(o.config, PathBuf::from(DEFAULT_CONFIG));
        assert!(!o.verbose && !o.exec);
        let o = parse(&["-v", "/x.json", "--exec"]).unwrap().unwrap();
        assert_eq!(o.config, PathBuf::from("/x.json"));
        assert!(o.verbose && o.exec);
        assert!(parse(&["--help"]).unwrap().is_none());
        assert!(parse(&["--bogus"]).is_err());
        assert!(parse(&["a", "b"]).is_err());
        assert!(o.dump.is_none());
    }

    #[test]
    fn dump_args() {
        let d = |args: &[&str]| parse(args).unwrap().unwrap().dump.unwrap();
        assert_eq!(d(&["--dump"]), dump::DumpOptions::default());
        let o = d(&["--dump", "--hold", "kernel.pid_max", "net/ipv4/ip_forward"]);
        assert!(o.hold);
        assert_eq!(o.sysctls, vec!["kernel.pid_max", "net/ipv4/ip_forward"]);
        // Flags may come after the keys.
        let o = d(&["kernel.pid_max", "--hold", "--dump"]);
        assert!(o.hold);
        assert_eq!(o.sysctls, vec!["kernel.pid_max"]);
        assert!(parse(&["--dump", "--help"]).unwrap().is_none());
        assert!(parse(&["--hold"]).is_err());
        assert!(parse(&["--hold", "/x.json"]).is_err());
        assert!(parse(&["--dump", "-v"]).is_err());
        assert!(parse(&["--dump", "--exec"]).is_err());
        assert!(parse(&["--dump", "--bogus"]).is_err());
        assert!(parse(&["--dump", "a b"]).is_err());
        assert!(parse(&["--dump", "../etc/passwd"]).is_err());
        assert!(parse(&["--dump", ""]).is_err());
    }
}
