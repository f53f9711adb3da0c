//! File operations on cgroupfs, each mapped to a [`CgroupError`] that names
//! the path.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::Duration;

use crate::resolve::Hierarchy;
use crate::CgroupError;

pub(crate) fn read(path: &Path) -> Result<String, CgroupError> {
    fs::read_to_string(path).map_err(|err| CgroupError::Read {
        path: path.to_path_buf(),
        err,
    })
}

/// Reads a cgroup file and trims the trailing newline.
pub(crate) fn read_value(dir: &Path, file: &str) -> Result<String, CgroupError> {
    Ok(read(&dir.join(file))?.trim().to_string())
}

/// Writes `value` in one write(2), which is what cgroupfs parses. The file
/// is not created: a missing file must fail with ENOENT, not EACCES.
pub(crate) fn write(dir: &Path, file: &str, value: &str) -> Result<(), CgroupError> {
    let path = dir.join(file);
    fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .and_then(|mut f| f.write_all(value.as_bytes()))
        .map_err(|err| CgroupError::Write {
            path,
            value: value.to_string(),
            err,
        })
}

/// The directories `mkdir_p(&h.dir)` would create now, top-down.
pub(crate) fn missing(h: &Hierarchy) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = h
        .dir
        .ancestors()
        .take_while(|d| d.starts_with(&h.mount_point) && !d.exists())
        .map(Path::to_path_buf)
        .collect();
    out.reverse();
    out
}

/// `mkdir -p` that appends to `made` exactly the directories it created, in
/// creation order. A directory that appears concurrently is someone else's;
/// one that vanishes concurrently (another container's delete removing a
/// parent it had made, now empty) is made again.
pub(crate) fn mkdir_p(dir: &Path, made: &mut Vec<PathBuf>) -> Result<(), CgroupError> {
    let mut attempts = 0;
    loop {
        match mkdir_p_once(dir, made) {
            Err(CgroupError::Create { err, .. })
                if err.kind() == io::ErrorKind::NotFound && attempts < 20 =>
            {
                attempts += 1;
            }
            other => return other,
        }
    }
}

/// [`mkdir_p`] of the container's directory in every hierarchy.
pub(crate) fn mkdir_all(hs: &[Hierarchy], made: &mut Vec<PathBuf>) -> Result<(), CgroupError> {
    for h in hs {
        mkdir_p(&h.dir, made)?;
    }
    Ok(())
}

fn mkdir_p_once(dir: &Path, made: &mut Vec<PathBuf>) -> Result<(), CgroupError> {
    let mut missing = Vec::new();
    let mut d = dir;
    while !d.exists() {
        missing.push(d);
        match d.parent() {
            Some(p) => d = p,
            None => break,
        }
    }
    for d in missing.into_iter().rev() {
        match fs::create_dir(d) {
            Ok(()) => made.push(d.to_path_buf()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(err) => {
                return Err(CgroupError::Create {
                    path: d.to_path_buf(),
                    err,
                })
            }
        }
    }
    Ok(())
}

/// Removes a container's cgroup and any cgroups the container made below
/// it. EBUSY is retried for a short while because the kernel may still be
/// tearing down a process that was just killed.
pub(crate) fn remove_tree(dir: &Path) -> Result<(), CgroupError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(err) => {
            return Err(CgroupError::Read {
                path: dir.to_path_buf(),
                err,
            })
        }
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_tree(&entry.path())?;
        }
    }
    let mut delay = Duration::from_millis(10);
    for attempt in 0.. {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && attempt < 7 => {
                sleep(delay);
                delay *= 2;
            }
            Err(err) => {
                return Err(CgroupError::Remove {
                    path: dir.to_path_buf(),
                    err,
                })
            }
        }
    }
    unreachable!("the retry loop returns")
}

/// Removes a parent directory create() made, unless it is in use by now
/// (another container's cgroup below it, or processes in it): then it is
/// shared and must stay. Returns whether it is gone.
pub(crate) fn remove_parent(dir: &Path) -> Result<bool, CgroupError> {
    match fs::remove_dir(dir) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(true),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EBUSY | libc::ENOTEMPTY)) => {
            tracing::debug!("keeping {}: still in use", dir.display());
            Ok(false)
        }
        Err(err) => Err(CgroupError::Remove {
            path: dir.to_path_buf(),
            err,
        }),
    }
}

/// Pids in `dir`'s cgroup.procs and in every cgroup below it.
pub(crate) fn procs_recursive(dir: &Path, out: &mut Vec<i32>) -> Result<(), CgroupError> {
    let path = dir.join("cgroup.procs");
    let text = read(&path)?;
    for (idx, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let pid = line.parse().map_err(|_| CgroupError::Parse {
            path: path.clone(),
            line: idx + 1,
            reason: format!("{line:?} is not a pid"),
        })?;
        out.push(pid);
    }
    let entries = fs::read_dir(dir).map_err(|err| CgroupError::Read {
        path: dir.to_path_buf(),
        err,
    })?;
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            match procs_recursive(&entry.path(), out) {
                // A child cgroup removed while we walk has no pids left.
                Err(CgroupError::Read { err, .. }) if err.kind() == io::ErrorKind::NotFound => {}
                r => r?,
            }
        }
    }
    Ok(())
}

/// The errno of a failed read or write, if any.
pub(crate) fn errno(e: &CgroupError) -> Option<i32> {
    match e {
        CgroupError::Read { err, .. } | CgroupError::Write { err, .. } => err.raw_os_error(),
        _ => None,
    }
}

/// Reads a cgroup file holding one unsigned number.
pub(crate) fn read_u64(dir: &Path, file: &str) -> Result<u64, CgroupError> {
    let value = read_value(dir, file)?;
    value.parse().map_err(|_| CgroupError::Parse {
        path: dir.join(file),
        line: 1,
        reason: format!("{value:?} is not a number"),
    })
}

/// Writes each non-empty line of `value` separately: cgroupfs parses one
/// setting per write(2) (io.max, devices.allow, ...).
pub(crate) fn write_lines(dir: &Path, file: &str, value: &str) -> Result<(), CgroupError> {
    let mut lines = value.lines().filter(|l| !l.trim().is_empty()).peekable();
    if lines.peek().is_none() {
        return write(dir, file, value);
    }
    for line in lines {
        write(dir, file, line)?;
    }
    Ok(())
}
