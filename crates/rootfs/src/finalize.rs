//! Steps after pivot_root: read-only and masked paths, a read-only root,
//! the root's final propagation.

use crate::mount::{current_flags, proc_fd_path};
use crate::options::propagation;
use crate::RootfsError;
use nix::fcntl::{open, OFlag};
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{fstat, major, minor, Mode, SFlag};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

fn exists(p: &Path) -> bool {
    p.symlink_metadata().is_ok()
}

pub fn readonly_paths(paths: &[PathBuf]) -> Result<(), RootfsError> {
    for (i, p) in paths.iter().enumerate() {
        if !exists(p) {
            continue;
        }
        let field = format!("linux.readonlyPaths[{i}]");
        mount(
            Some(p.as_path()),
            p.as_path(),
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(|e| RootfsError::field(&field, format!("bind {}: {e}", p.display())))?;
        let f = MsFlags::MS_BIND
            | MsFlags::MS_REMOUNT
            | MsFlags::MS_RDONLY
            | MsFlags::MS_REC
            | current_flags(p);
        mount(None::<&str>, p.as_path(), None::<&str>, f, None::<&str>).map_err(|e| {
            RootfsError::field(&field, format!("remount {} read-only: {e}", p.display()))
        })?;
    }
    Ok(())
}

pub fn mask_paths(paths: &[PathBuf], mount_label: Option<&str>) -> Result<(), RootfsError> {
    let _ = mount_label;
    if paths.is_empty() {
        return Ok(());
    }
    let null = verified_dev_null()?;
    let null_path = proc_fd_path(&null);
    for (i, p) in paths.iter().enumerate() {
        let Ok(md) = p.metadata() else { continue };
        let field = format!("linux.maskedPaths[{i}]");
        let r = if md.is_dir() {
            mount(
                Some("tmpfs"),
                p.as_path(),
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                None::<&str>,
            )
        } else {
            mount(
                Some(&null_path),
                p.as_path(),
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
        };
        r.map_err(|e| RootfsError::field(field, format!("mask {}: {e}", p.display())))?;
    }
    Ok(())
}

/// Replaces each of the stdio descriptors that is a null device (the host's
/// /dev/null an engine passed down, as conmon and the shims do) with the
/// container's own /dev/null, as runc does: the container then holds no
/// file of a host mount, and CRIU can dump it (a descriptor on a mount
/// outside the container's tree cannot be). After pivot_root, with /dev
/// made. Left alone when the container's /dev/null is not the null device.
pub fn reopen_dev_null() -> Result<(), RootfsError> {
    let is_null = |st: &nix::sys::stat::FileStat| {
        SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFCHR
            && major(st.st_rdev) == 1
            && minor(st.st_rdev) == 3
    };
    // Looked at (O_PATH, no symlink followed) before it is opened: a
    // planted node that is not the null device is never opened at all.
    let Ok(path_fd) = open(
        Path::new("/dev/null"),
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) else {
        return Ok(());
    };
    // SAFETY: `open` just returned this descriptor; nothing else owns it.
    let path_fd = unsafe { OwnedFd::from_raw_fd(path_fd) };
    match fstat(path_fd.as_raw_fd()) {
        Ok(st) if is_null(&st) => {}
        _ => return Ok(()),
    }
    let Ok(null) = open(
        proc_fd_path(&path_fd).as_path(),
        OFlag::O_RDWR | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) else {
        return Ok(());
    };
    // SAFETY: `open` just returned this descriptor; nothing else owns it.
    let null = unsafe { OwnedFd::from_raw_fd(null) };
    let Ok(own) = fstat(null.as_raw_fd()) else {
        return Ok(());
    };
    for fd in 0..3 {
        let Ok(st) = fstat(fd) else { continue };
        if is_null(&st) && (st.st_dev, st.st_ino) != (own.st_dev, own.st_ino) {
            nix::unistd::dup2(null.as_raw_fd(), fd).map_err(|e| {
                RootfsError::field("process", format!("reopen /dev/null as fd {fd}: {e}"))
            })?;
        }
    }
    Ok(())
}

/// The container's /dev/null, opened without following symlinks and
/// checked to be the 1:3 character device: masking must never turn into a
/// writable bind mount of whatever a planted /dev/null points at (the
/// CVE-2025-31133 class).
fn verified_dev_null() -> Result<OwnedFd, RootfsError> {
    let path = Path::new("/dev/null");
    let fd = open(
        path,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| RootfsError::field("linux.maskedPaths", format!("open /dev/null: {e}")))?;
    // SAFETY: `open` just returned this descriptor; nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let st = fstat(fd.as_raw_fd())
        .map_err(|e| RootfsError::field("linux.maskedPaths", format!("stat /dev/null: {e}")))?;
    let is_char = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFCHR;
    if !is_char || major(st.st_rdev) != 1 || minor(st.st_rdev) != 3 {
        return Err(RootfsError::field(
            "linux.maskedPaths",
            "/dev/null in the container is not the null device (1:3); refusing to mask with it",
        ));
    }
    Ok(fd)
}

/// After pivot_root and everything below them: the read-only flag of the
/// mounts `mount_all` held it back from, as runc does for /dev.
pub fn remount_readonly(later: &[crate::ReadonlyLater]) -> Result<(), RootfsError> {
    // Through each mount's own descriptor (mount_setattr), so the flag
    // lands on that mount and not on whatever may sit on top of it.
    for l in later {
        crate::mount_attr::setattr(
            l.mount.as_raw_fd(),
            c"",
            libc::AT_EMPTY_PATH as libc::c_uint,
            (crate::mount_attr::attr::RDONLY, 0),
            -1,
        )
        .map_err(|e| {
            RootfsError::field(
                l.field.clone(),
                format!("make {} read-only: {e}", l.destination.display()),
            )
        })?;
    }
    Ok(())
}

pub fn make_root_readonly() -> Result<(), RootfsError> {
    let f =
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | current_flags(Path::new("/"));
    mount(None::<&str>, "/", None::<&str>, f, None::<&str>)
        .map_err(|e| RootfsError::field("root.readonly", format!("remount / read-only: {e}")))
}

/// Applies linux.rootfsPropagation to the new root (shared needs to wait
/// until after pivot_root).
pub fn set_root_propagation(name: Option<&str>) -> Result<(), RootfsError> {
    let Some(flags) = name.and_then(propagation) else {
        return Ok(());
    };
    mount(None::<&str>, "/", None::<&str>, flags, None::<&str>)
        .map_err(|e| RootfsError::field("linux.rootfsPropagation", format!("{e}")))
}
