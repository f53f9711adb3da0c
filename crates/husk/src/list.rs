//! `husk list`: runc's table (tabwriter with min width 12, padding 3), its
//! JSON array, or ids only.

use anyhow::{bail, Result};
use husk_container::{self as container, Status};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

pub fn list(root: &Path, format: &str, quiet: bool) -> Result<()> {
    let all = container::list(root)?;
    if quiet {
        for (c, _) in &all {
            outln!("{}", c.id());
        }
        return Ok(());
    }
    match format {
        "json" => {
            let v: Vec<_> = all
                .iter()
                .map(|(c, s)| {
                    let mut v = c.oci_state(*s);
                    v.owner = owner(&c.dir);
                    v
                })
                .collect();
            outln!("{}", serde_json::to_string(&v)?);
        }
        "table" => {
            let mut rows =
                vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from)];
            for (c, s) in &all {
                let pid = if *s == Status::Stopped {
                    0
                } else {
                    c.state.pid
                };
                rows.push([
                    c.id().to_string(),
                    pid.to_string(),
                    s.as_str().to_string(),
                    c.state.bundle.display().to_string(),
                    c.state.created.clone(),
                    owner(&c.dir),
                ]);
            }
            outln!("{}", table(&rows).trim_end_matches('\n'));
        }
        other => bail!("invalid --format {other:?}: use table or json"),
    }
    Ok(())
}

fn owner(dir: &Path) -> String {
    let uid = std::fs::metadata(dir).map(|m| m.uid()).unwrap_or(0);
    nix::unistd::User::from_uid(uid.into())
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| format!("#{uid}"))
}

fn table(rows: &[[String; 6]]) -> String {
    let mut widths = [0usize; 6];
    for r in rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.len() + 3).max(12);
        }
    }
    let mut out = String::new();
    for r in rows {
        let line: String = r
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (cell, w))| {
                if i == 5 {
                    cell.clone()
                } else {
                    format!("{cell:<w$}")
                }
            })
            .collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_line_up() {
        let rows = [
            ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from),
            ["a-long-container-id", "1", "running", "/b", "t", "root"].map(String::from),
        ];
        let t = super::table(&rows);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0].find("PID"), lines[1].find('1'));
        assert_eq!(lines[0].find("PID"), Some(22));
    }
}
