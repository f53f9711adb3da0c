//! mount_setattr(2): mount attributes set through an fd or path, on one
//! mount or a whole tree, which the mount(2) remount API cannot do.

use nix::mount::MsFlags;
use std::ffi::CStr;
use std::os::fd::RawFd;
use std::path::Path;

pub(crate) const AT_RECURSIVE: libc::c_uint = 0x8000;
pub(crate) const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

/// struct mount_attr, its first (32-byte) version.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// Sets `attr_set` on the mount at `dirfd`/`path` (with `at` flags such as
/// AT_EMPTY_PATH, AT_RECURSIVE); `userns` is used by MOUNT_ATTR_IDMAP.
pub(crate) fn setattr(
    dirfd: RawFd,
    path: &CStr,
    at: libc::c_uint,
    attr_set: u64,
    userns: RawFd,
) -> std::io::Result<()> {
    let attr = MountAttr {
        attr_set,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns as u64,
    };
    // SAFETY: `path` is a valid C string and `attr` a repr(C) mount_attr of
    // the size passed; both outlive the call, which only reads them.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            dirfd,
            path.as_ptr(),
            at,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Sets ro/nosuid/nodev/noexec (as in `flags`) on the mount at `path` and
/// every mount below it, which a bind remount cannot do.
pub fn restrict_recursively(path: &Path, flags: MsFlags) -> std::io::Result<()> {
    let mut set = 0u64;
    for (f, a) in [
        (MsFlags::MS_RDONLY, 0x1),
        (MsFlags::MS_NOSUID, 0x2),
        (MsFlags::MS_NODEV, 0x4),
        (MsFlags::MS_NOEXEC, 0x8),
    ] {
        if flags.contains(f) {
            set |= a;
        }
    }
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    setattr(libc::AT_FDCWD, &c, AT_RECURSIVE, set, -1)
}
