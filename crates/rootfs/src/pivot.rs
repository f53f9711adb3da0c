use crate::RootfsError;
use nix::fcntl::{open, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::Mode;
use nix::unistd::{chdir, fchdir};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

/// pivot_root(".", ".") in the new root, then detach the old root that got
/// stacked on top: no directory for the old root is needed in the rootfs.
pub fn pivot_root(rootfs: &Path) -> Result<(), RootfsError> {
    let dir = |p: &Path| -> Result<OwnedFd, RootfsError> {
        let fd = open(
            p,
            OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| RootfsError::sys("open", p, e))?;
        // SAFETY: `open` just returned this descriptor; we are its only owner.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    };
    let old = dir(Path::new("/"))?;
    let new = dir(rootfs)?;
    fchdir(new.as_raw_fd()).map_err(|e| RootfsError::sys("chdir", rootfs, e))?;
    nix::unistd::pivot_root(".", ".").map_err(|e| RootfsError::sys("pivot_root", rootfs, e))?;
    fchdir(old.as_raw_fd()).map_err(|e| RootfsError::sys("chdir", "old root", e))?;
    // The old root must not propagate the unmount back to the host.
    mount(
        None::<&str>,
        ".",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| RootfsError::sys("make old root slave", "/", e))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(|e| RootfsError::sys("unmount old root", "/", e))?;
    chdir("/").map_err(|e| RootfsError::sys("chdir", "/", e))
}

/// --no-pivot: move the rootfs over / and chroot into it (for ramfs roots
/// where pivot_root is impossible).
pub fn move_root(rootfs: &Path) -> Result<(), RootfsError> {
    chdir(rootfs).map_err(|e| RootfsError::sys("chdir", rootfs, e))?;
    mount(
        Some(rootfs),
        "/",
        None::<&str>,
        MsFlags::MS_MOVE,
        None::<&str>,
    )
    .map_err(|e| RootfsError::sys("move mount", rootfs, e))?;
    nix::unistd::chroot(".").map_err(|e| RootfsError::sys("chroot", rootfs, e))?;
    chdir("/").map_err(|e| RootfsError::sys("chdir", "/", e))
}
