//! mount_setattr(2): mount attributes set through an fd or path, on one
//! mount or a whole tree, which the mount(2) remount API cannot do.

use nix::mount::MsFlags;
use std::ffi::CStr;
use std::os::fd::RawFd;
use std::path::Path;

pub(crate) const AT_RECURSIVE: libc::c_uint = 0x8000;

/// mount_setattr(2)'s MOUNT_ATTR_* bits.
pub(crate) mod attr {
    pub const RDONLY: u64 = 0x1;
    pub const NOSUID: u64 = 0x2;
    pub const NODEV: u64 = 0x4;
    pub const NOEXEC: u64 = 0x8;
    /// The access-time mode field: setting one mode needs the field cleared.
    pub const ATIME_MASK: u64 = 0x70;
    pub const RELATIME: u64 = 0x0;
    pub const NOATIME: u64 = 0x10;
    pub const STRICTATIME: u64 = 0x20;
    pub const NODIRATIME: u64 = 0x80;
    pub const IDMAP: u64 = 0x0010_0000;
    pub const NOSYMFOLLOW: u64 = 0x0020_0000;
}

/// struct mount_attr, its first (32-byte) version.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// Sets `attr_set` and clears `attr_clr` on the mount at `dirfd`/`path`
/// (with `at` flags such as AT_EMPTY_PATH, AT_RECURSIVE); `userns` is used by
/// MOUNT_ATTR_IDMAP.
pub(crate) fn setattr(
    dirfd: RawFd,
    path: &CStr,
    at: libc::c_uint,
    (attr_set, attr_clr): (u64, u64),
    userns: RawFd,
) -> std::io::Result<()> {
    let attr = MountAttr {
        attr_set,
        attr_clr,
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
        (MsFlags::MS_RDONLY, attr::RDONLY),
        (MsFlags::MS_NOSUID, attr::NOSUID),
        (MsFlags::MS_NODEV, attr::NODEV),
        (MsFlags::MS_NOEXEC, attr::NOEXEC),
    ] {
        if flags.contains(f) {
            set |= a;
        }
    }
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    setattr(libc::AT_FDCWD, &c, AT_RECURSIVE, (set, 0), -1)
}
