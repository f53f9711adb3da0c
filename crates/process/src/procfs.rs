//! Writes to /proc through a verified procfs handle (the CVE-2025-52881
//! class): a path under /proc is only as trustworthy as the mounts along
//! it, and a container config (or a container sharing mounts with another)
//! can put a tmpfs or a bind of some other file over /proc/sys/..., so that
//! a write meant for one sysctl lands somewhere else.
//!
//! Every write here starts from a descriptor for `/proc` that is checked to
//! be the root of a procfs mount (fstatfs PROC_SUPER_MAGIC, root inode),
//! opens the file beneath it with openat2 RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV (so no
//! symlink is followed and no mount point, bind or overmount, is crossed),
//! checks the opened file is on procfs too, and writes with one write(2).
//! `/proc/self` is a symlink, so it is read with readlinkat and the pid
//! directory is named explicitly.

use nix::sys::statfs::{fstatfs, PROC_SUPER_MAGIC};
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// The inode number of the root directory of every procfs mount.
const PROC_ROOT_INO: u64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ProcfsError {
    #[error("{field}: open /proc: {source}")]
    OpenRoot {
        field: String,
        source: std::io::Error,
    },
    #[error("{field}: /proc is not the root of a procfs mount: refusing to write through it")]
    NotProcRoot { field: String },
    #[error("{field}: read /proc/self: {source}")]
    SelfLink {
        field: String,
        source: std::io::Error,
    },
    #[error("{field}: {path} crosses a symlink or a mount point (something is mounted over /proc): refusing to write it")]
    Crosses { field: String, path: String },
    #[error("{field}: open {path}: {source}")]
    Open {
        field: String,
        path: String,
        source: std::io::Error,
    },
    #[error("{field}: {path} is not a procfs file: refusing to write it")]
    NotProcfs { field: String, path: String },
    #[error("{field}: write {path}: {source}")]
    Write {
        field: String,
        path: String,
        source: std::io::Error,
    },
    #[error("{field}: invalid sysctl name {key:?}: empty, \".\" or \"..\" component")]
    BadKey { field: String, key: String },
}

impl ProcfsError {
    /// The config field the write was for, and the errno if a system call
    /// failed (crate::error keeps both).
    pub(crate) fn field_and_errno(&self) -> (String, Option<i32>) {
        use ProcfsError::*;
        match self {
            OpenRoot { field, source } | SelfLink { field, source } => {
                (field.clone(), source.raw_os_error())
            }
            Open { field, source, .. } | Write { field, source, .. } => {
                (field.clone(), source.raw_os_error())
            }
            NotProcRoot { field }
            | Crosses { field, .. }
            | NotProcfs { field, .. }
            | BadKey { field, .. } => (field.clone(), None),
        }
    }
}

/// `/proc`, opened once and verified.
struct ProcRoot {
    fd: OwnedFd,
}

impl ProcRoot {
    fn open(field: &str) -> Result<ProcRoot, ProcfsError> {
        let fd = nix::fcntl::open(
            "/proc",
            nix::fcntl::OFlag::O_PATH
                | nix::fcntl::OFlag::O_DIRECTORY
                | nix::fcntl::OFlag::O_NOFOLLOW
                | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| ProcfsError::OpenRoot {
            field: field.into(),
            source: e.into(),
        })?;
        // SAFETY: open just returned this descriptor; nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let on_proc = fstatfs(&fd).is_ok_and(|s| s.filesystem_type() == PROC_SUPER_MAGIC);
        let is_root =
            nix::sys::stat::fstat(fd.as_raw_fd()).is_ok_and(|s| s.st_ino == PROC_ROOT_INO);
        if !on_proc || !is_root {
            return Err(ProcfsError::NotProcRoot {
                field: field.into(),
            });
        }
        Ok(ProcRoot { fd })
    }

    /// The pid directory of the calling process in this procfs (the target
    /// of its `self` link, read rather than followed).
    fn self_pid(&self, field: &str) -> Result<String, ProcfsError> {
        let link = nix::fcntl::readlinkat(Some(self.fd.as_raw_fd()), "self").map_err(|e| {
            ProcfsError::SelfLink {
                field: field.into(),
                source: e.into(),
            }
        })?;
        let s = link.to_string_lossy().into_owned();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ProcfsError::SelfLink {
                field: field.into(),
                source: std::io::Error::other(format!("unexpected target {s:?}")),
            });
        }
        Ok(s)
    }

    /// Opens `rel` (relative to /proc) for writing, never following a
    /// symlink or crossing a mount, and checks the result is on procfs.
    fn open_write(&self, rel: &str, field: &str) -> Result<File, ProcfsError> {
        let path = format!("/proc/{rel}");
        let fd = openat2_beneath(&self.fd, rel).map_err(|e| match e.raw_os_error() {
            Some(libc::EXDEV) | Some(libc::ELOOP) => ProcfsError::Crosses {
                field: field.into(),
                path: path.clone(),
            },
            _ => ProcfsError::Open {
                field: field.into(),
                path: path.clone(),
                source: e,
            },
        })?;
        if !fstatfs(&fd).is_ok_and(|s| s.filesystem_type() == PROC_SUPER_MAGIC) {
            return Err(ProcfsError::NotProcfs {
                field: field.into(),
                path,
            });
        }
        Ok(File::from(fd))
    }

    fn write(&self, rel: &str, data: &[u8], field: &str) -> Result<(), ProcfsError> {
        let mut f = self.open_write(rel, field)?;
        let path = format!("/proc/{rel}");
        // One write(2): uid_map, gid_map and timens_offsets take the whole
        // text in one call or not at all.
        let n = f.write(data).map_err(|source| ProcfsError::Write {
            field: field.into(),
            path: path.clone(),
            source,
        })?;
        if n != data.len() {
            return Err(ProcfsError::Write {
                field: field.into(),
                path,
                source: std::io::Error::other(format!("short write: {n} of {}", data.len())),
            });
        }
        Ok(())
    }
}

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

const RESOLVE_NO_XDEV: u64 = 0x01;
const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_NO_SYMLINKS: u64 = 0x04;
const RESOLVE_BENEATH: u64 = 0x08;

/// openat2(dir, rel, O_WRONLY) confined beneath `dir`, with no symlink
/// (magic or not) and no mount crossing.
fn openat2_beneath(dir: &OwnedFd, rel: &str) -> std::io::Result<OwnedFd> {
    let c =
        std::ffi::CString::new(rel).map_err(|_| std::io::Error::other("path has a NUL byte"))?;
    let how = OpenHow {
        flags: (libc::O_WRONLY | libc::O_CLOEXEC | libc::O_NOCTTY) as u64,
        mode: 0,
        resolve: RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
    };
    loop {
        // SAFETY: `c` is NUL-terminated and `how` is a properly laid out
        // open_how; both outlive the call, and its size is passed.
        let r = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir.as_raw_fd(),
                c.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        if r >= 0 {
            // SAFETY: the kernel returned a fresh descriptor nothing else owns.
            return Ok(unsafe { OwnedFd::from_raw_fd(r as i32) });
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            // openat2 asks for a retry when a rename or mount raced it.
            Some(libc::EAGAIN) | Some(libc::EINTR) => continue,
            Some(libc::ENOSYS) => return Err(std::io::Error::other(
                "openat2 is not available (Linux 5.6 or later is needed to write to /proc safely)",
            )),
            _ => return Err(e),
        }
    }
}

/// Writes `data` to /proc/self/`file` (as named by this procfs), for
/// config field `field`.
pub fn write_self(file: &str, data: &[u8], field: &str) -> Result<(), ProcfsError> {
    let root = ProcRoot::open(field)?;
    let pid = root.self_pid(field)?;
    root.write(&format!("{pid}/{file}"), data, field)
}

/// Writes `data` to /proc/`pid`/`file`, for config field `field`.
pub fn write_pid(pid: i32, file: &str, data: &[u8], field: &str) -> Result<(), ProcfsError> {
    ProcRoot::open(field)?.write(&format!("{pid}/{file}"), data, field)
}

/// The path of sysctl `key` under /proc/sys (dots or slashes as separators,
/// as runc accepts), refusing empty, `.` and `..` components.
fn sysctl_rel(key: &str, field: &str) -> Result<String, ProcfsError> {
    let parts: Vec<&str> = key.split(['.', '/']).collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(ProcfsError::BadKey {
            field: field.into(),
            key: key.into(),
        });
    }
    Ok(format!("sys/{}", parts.join("/")))
}

/// Writes process.oomScoreAdj to /proc/self/oom_score_adj.
pub fn write_oom_score_adj(adj: i32) -> Result<(), ProcfsError> {
    write_self(
        "oom_score_adj",
        adj.to_string().as_bytes(),
        "process.oomScoreAdj",
    )
}

/// Writes sysctl `key` (`linux.sysctl.<key>`).
pub fn write_sysctl(key: &str, value: &str) -> Result<(), ProcfsError> {
    let field = format!("linux.sysctl.{key}");
    let rel = sysctl_rel(key, &field)?;
    ProcRoot::open(&field)?.write(&rel, value.as_bytes(), &field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysctl_names_map_to_proc_sys() {
        assert_eq!(
            sysctl_rel("net.ipv4.ip_forward", "f").unwrap(),
            "sys/net/ipv4/ip_forward"
        );
        assert_eq!(
            sysctl_rel("kernel/shm_rmid_forced", "f").unwrap(),
            "sys/kernel/shm_rmid_forced"
        );
        for bad in [
            "",
            "kernel..x",
            ".kernel",
            "kernel.",
            "kernel/../../1/oom_score_adj",
        ] {
            let e = sysctl_rel(bad, "linux.sysctl.x").unwrap_err().to_string();
            assert!(e.starts_with("linux.sysctl.x: invalid sysctl name"), "{e}");
        }
    }

    #[test]
    fn the_hosts_proc_is_a_verified_root() {
        let root = ProcRoot::open("t").unwrap();
        let me = root.self_pid("t").unwrap();
        assert_eq!(me, std::process::id().to_string());
    }

    /// Writing our own oom_score_adj to its current value works through
    /// the verified handle (any user may keep its value).
    #[test]
    fn write_self_oom_score_adj() {
        let cur = std::fs::read_to_string("/proc/self/oom_score_adj").unwrap();
        write_self(
            "oom_score_adj",
            cur.trim().as_bytes(),
            "process.oomScoreAdj",
        )
        .unwrap();
    }

    #[test]
    fn symlinks_under_proc_are_refused() {
        let root = ProcRoot::open("f").unwrap();
        // /proc/self is a symlink: never followed.
        let e = root.open_write("self/oom_score_adj", "f").unwrap_err();
        assert!(matches!(e, ProcfsError::Crosses { .. }), "{e}");
        // Neither is ..: RESOLVE_BENEATH keeps the walk under /proc.
        let e = root.open_write("../etc/passwd", "f").unwrap_err();
        assert!(
            matches!(e, ProcfsError::Crosses { .. } | ProcfsError::Open { .. }),
            "{e}"
        );
    }
}
