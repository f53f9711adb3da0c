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
    make_rslave(".").map_err(|e| RootfsError::sys("make old root slave", "/", e))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(|e| RootfsError::sys("unmount old root", "/", e))?;
    chdir("/").map_err(|e| RootfsError::sys("chdir", "/", e))
}

/// --no-pivot: move the rootfs over / and chroot into it (for ramfs roots
/// where pivot_root is impossible).
pub fn move_root(rootfs: &Path) -> Result<(), RootfsError> {
    // With rootfsPropagation (r)shared, "/" is still a peer of the host's:
    // the move onto it, and the detaches below, would reach the host.
    make_rslave("/").map_err(|e| RootfsError::sys("make / a slave", "/", e))?;
    hide_host_proc_and_sys(rootfs)?;
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

/// Without pivot_root the host's mounts stay in the container's mount
/// namespace, shadowed but counted by the kernel: a full host procfs or
/// sysfs there would let a nested user namespace mount a new, unmasked
/// procfs or sysfs (the kernel allows that only while an instance is fully
/// visible in the namespace). So every procfs and sysfs outside the rootfs
/// is detached, or, where that is refused, covered with an empty tmpfs.
/// Parents come before children in mountinfo, so a child of a detached
/// mount is gone (ENOENT) by the time its turn comes.
fn hide_host_proc_and_sys(rootfs: &Path) -> Result<(), RootfsError> {
    let targets: Vec<String> = crate::mountinfo::mounts()
        .map_err(|e| RootfsError::field("--no-pivot", format!("read mountinfo: {e}")))?
        .into_iter()
        .filter(|m| {
            m.root == "/"
                && matches!(m.fstype.as_str(), "proc" | "sysfs")
                && !m.mount_point.starts_with(rootfs)
        })
        .map(|m| m.mount_point.to_string_lossy().into_owned())
        .collect();
    let still_there = |point: &str| {
        crate::mountinfo::mounts().map_or(true, |ms| {
            ms.iter().any(|m| {
                m.mount_point.as_os_str() == point && matches!(m.fstype.as_str(), "proc" | "sysfs")
            })
        })
    };
    for point in targets {
        match make_rslave(point.as_str()) {
            Err(nix::errno::Errno::ENOENT) => continue,
            // Unmounted meanwhile on the host (another container without a
            // mount namespace was deleted), which reached this copy of the
            // mount table through the slave link: nothing left to hide.
            Err(nix::errno::Errno::EINVAL) if !still_there(&point) => continue,
            r => r.map_err(|e| RootfsError::sys("make host mount slave", &point, e))?,
        }
        match umount2(point.as_str(), MntFlags::MNT_DETACH) {
            Ok(()) => {}
            Err(nix::errno::Errno::EINVAL | nix::errno::Errno::EPERM) => mount(
                Some("tmpfs"),
                point.as_str(),
                Some("tmpfs"),
                MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
                Some("size=0"),
            )
            .map_err(|e| RootfsError::sys("cover host mount", &point, e))?,
            Err(e) => return Err(RootfsError::sys("detach host mount", &point, e)),
        }
    }
    Ok(())
}

/// Without a mount namespace: chroot into the rootfs. pivot_root and
/// MS_MOVE would act on the host's own root.
pub fn chroot_root(rootfs: &Path) -> Result<(), RootfsError> {
    chdir(rootfs).map_err(|e| RootfsError::sys("chdir", rootfs, e))?;
    nix::unistd::chroot(".").map_err(|e| RootfsError::sys("chroot", rootfs, e))?;
    chdir("/").map_err(|e| RootfsError::sys("chdir", "/", e))
}

/// `path` and every mount below it become slaves: unmounts and mounts made
/// here no longer reach the peers they came from.
fn make_rslave(path: &str) -> nix::Result<()> {
    mount(
        None::<&str>,
        path,
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
}
