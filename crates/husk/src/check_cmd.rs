//! `husk check`: every problem of a bundle, before anything is created.

use anyhow::Result;
use clap::Args;
use husk_container as container;
use husk_spec::Severity;
use std::path::PathBuf;

#[derive(Args)]
pub struct CheckArgs {
    /// Bundle directory (default: the current directory).
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// text (one line per problem) or json (a list of {pointer, severity, message}).
    #[arg(long, default_value = "text")]
    pub format: String,
    /// Check the config on this host too (the default as root).
    #[arg(long, overrides_with = "no_host")]
    pub host: bool,
    /// Check the config alone.
    #[arg(long = "no-host", overrides_with = "host")]
    pub no_host: bool,
}

/// Exit status: 0 when create would pass these checks, 1 when there are
/// errors, 2 when config.json cannot be read.
pub fn check(a: &CheckArgs, systemd_cgroup: bool) -> Result<i32> {
    if a.format != "text" && a.format != "json" {
        anyhow::bail!("--format {:?}: expected text or json", a.format);
    }
    // SAFETY: geteuid takes no arguments and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let host = if a.no_host { false } else { a.host || root };
    let opts = container::CheckOptions {
        bundle: a.bundle.clone(),
        host,
        systemd_cgroup,
    };
    let problems = match container::check_bundle(&opts) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("husk: {e}");
            return Ok(2);
        }
    };
    let mut list = problems.0;
    // Errors first, then warnings, each in the config's order.
    list.sort_by_key(|p| p.severity);
    if a.format == "json" {
        #[derive(serde::Serialize)]
        struct Item<'a> {
            pointer: String,
            severity: Severity,
            message: &'a str,
        }
        let v: Vec<Item> = list
            .iter()
            .map(|p| Item {
                pointer: p.pointer(),
                severity: p.severity,
                message: &p.message,
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        for p in &list {
            let sev = match p.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            let at = p.pointer();
            outln!(
                "{sev}: {}: {}",
                if at.is_empty() { "/" } else { &at },
                p.message
            );
        }
    }
    Ok(if list.iter().any(|p| p.severity == Severity::Error) {
        1
    } else {
        0
    })
}
