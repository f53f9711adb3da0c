//! Sealing the husk binary before anything runs in a container.
//!
//! Every container-side process of husk (the intermediate, the init, an
//! exec'd process, a startContainer hook's parent) is a fork of the husk that
//! runs `create`, `run` or `exec`, so its `/proc/self/exe` is that husk's
//! executable. A container program that execs `/proc/self/exe` (directly, by
//! a symlink, or as a `#!` interpreter) at the moment the init execs it runs
//! that executable, and once it exits, a process in the container can reopen
//! it for writing through `/proc/PID/exe` (CVE-2019-5736). So these commands
//! first re-exec themselves from a copy that cannot be written:
//!
//! 1. a private overlayfs with two lower layers and no upper one (the
//!    binary's directory on top), made with fsopen/fsmount and never attached
//!    to any path: the kernel marks such a superblock read-only and no mount
//!    flag can change that. Zero-copy, so the page cache is shared with the
//!    binary itself. Needs CAP_SYS_ADMIN, so root only.
//! 2. otherwise (rootless, no overlayfs) a memfd copy of the binary with
//!    F_SEAL_WRITE, F_SEAL_SHRINK, F_SEAL_GROW and F_SEAL_SEAL: nobody can
//!    write it, or take the seals off, ever.
//!
//! The container can still execute that copy, which is as harmless as any
//! program of its own; it can never write it, nor reach the host's file.
//! `state`, `list`, `--version` and the other verbs never run anything in a
//! container and are not re-executed.

use std::ffi::{CString, OsString};
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Set by the re-exec: the identity of the original binary (its device,
/// inode, size and mtime), which also tells the sealed copy that it was
/// started by husk itself. Removed from the environment at once.
const MARKER: &str = "_HUSK_SEALED_FROM";

const OVERLAYFS_SUPER_MAGIC: i64 = 0x794c_7630;
const SEALS: libc::c_int =
    libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

/// Returns once this process runs from a sealed copy of husk, with the
/// identity of the original binary (for caches keyed by the build). The
/// first call re-execs and does not return. `scratch` is a directory of
/// husk's own (the state root), overlayfs's second layer below the binary's
/// directory (the top layer wins, so nothing in it can stand in for husk).
pub fn ensure(scratch: &Path) -> Result<String, String> {
    let exe = File::open("/proc/self/exe").map_err(|e| format!("open /proc/self/exe: {e}"))?;
    let from = std::env::var_os(MARKER);
    if is_sealed(&exe) {
        if from.is_some() {
            // Single-threaded here (the very start of main): nothing reads
            // the environment concurrently.
            std::env::remove_var(MARKER);
        }
        return Ok(from
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| identity(&exe)));
    }
    if from.is_some() {
        return Err("seal the husk binary: /proc/self/exe is still the writable binary after re-executing from a sealed copy".into());
    }
    let id = identity(&exe);
    let sealed = match overlay_copy(scratch).and_then(|fd| same_file(&exe, fd)) {
        Ok(fd) => fd,
        Err(overlay_err) => memfd_copy(&exe).map_err(|e| {
            format!("seal the husk binary: overlayfs: {overlay_err}; memfd copy: {e}")
        })?,
    };
    drop(exe);
    Err(reexec(&sealed, &id))
}

/// The original binary's identity when not sealed (tests, or a husk
/// already running from a read-only overlay).
fn identity(exe: &File) -> String {
    exe.metadata()
        .map(|m| husk_container::binary_identity(&m))
        .unwrap_or_default()
}

/// The overlay opens the binary by its path: if that file was replaced since
/// husk started (an upgrade), re-executing it would run another build under
/// the running one's identity. Same size and modification time, or the
/// memfd copy of the running file is used instead.
fn same_file(exe: &File, fd: OwnedFd) -> Result<OwnedFd, String> {
    let a = exe.metadata().map_err(|e| format!("fstat: {e}"))?;
    let b = nix::sys::stat::fstat(fd.as_raw_fd()).map_err(|e| format!("fstat: {e}"))?;
    use std::os::unix::fs::MetadataExt;
    if a.size() as i64 == b.st_size && a.mtime() == b.st_mtime && a.mtime_nsec() == b.st_mtime_nsec
    {
        Ok(fd)
    } else {
        Err("the binary at the path is not the running one (replaced since husk started)".into())
    }
}

/// A sealed memfd, or a file on a read-only overlayfs (the kernel refuses
/// any write to it whatever the mount flags say).
fn is_sealed(exe: &File) -> bool {
    // SAFETY: F_GET_SEALS on our own descriptor takes no pointer.
    let seals = unsafe { libc::fcntl(exe.as_raw_fd(), libc::F_GET_SEALS) };
    if seals >= 0 && seals & SEALS == SEALS {
        return true;
    }
    let overlay = nix::sys::statfs::fstatfs(exe)
        .is_ok_and(|s| s.filesystem_type().0 == OVERLAYFS_SUPER_MAGIC);
    overlay
        && nix::sys::statvfs::fstatvfs(exe)
            .is_ok_and(|s| s.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
}

/// An O_PATH descriptor of the binary through a detached, lower-only
/// overlayfs.
fn overlay_copy(scratch: &Path) -> Result<OwnedFd, String> {
    // First, so that a caller without the privilege bails out at once.
    let ctx = sys::fsopen(c"overlay")?;
    let real = std::fs::read_link("/proc/self/exe").map_err(|e| format!("readlink: {e}"))?;
    let (Some(dir), Some(name)) = (real.parent(), real.file_name()) else {
        return Err(format!("{}: no directory and name", real.display()));
    };
    // Made as create makes it (0700): create keeps a root that exists.
    std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
        .create(scratch)
        .map_err(|e| format!("{}: {e}", scratch.display()))?;
    if dir.starts_with(scratch) || scratch.starts_with(dir) {
        return Err(format!(
            "{} and {} overlap",
            dir.display(),
            scratch.display()
        ));
    }
    // The binary's directory on top, so that nothing in the scratch layer
    // can stand in for it.
    let lower = format!("{}:{}", escape(dir), escape(scratch));
    sys::fsconfig_string(&ctx, c"lowerdir", &lower)?;
    // Spares the kernel log a line when the layers are on different
    // filesystems; we do not need stable inode numbers.
    let _ = sys::fsconfig_string(&ctx, c"xino", "off");
    sys::fsconfig_create(&ctx)?;
    let mnt = sys::fsmount(&ctx)?;
    let name = CString::new(name.as_bytes()).map_err(|_| "binary name has a NUL byte")?;
    sys::open_path(&mnt, &name)
}

/// overlayfs's lowerdir list separates with ':' and escapes with '\'.
fn escape(p: &Path) -> String {
    p.to_string_lossy()
        .replace('\\', "\\\\")
        .replace(':', "\\:")
}

/// A sealed memfd holding a copy of the running binary.
fn memfd_copy(exe: &File) -> Result<OwnedFd, String> {
    let fd = sys::memfd_exec(c"husk")?;
    let mut dst = File::from(fd);
    let mut src = exe;
    std::io::copy(&mut src, &mut dst).map_err(|e| format!("copy into memfd: {e}"))?;
    // SAFETY: F_ADD_SEALS on our own memfd takes an integer.
    let r = unsafe { libc::fcntl(dst.as_raw_fd(), libc::F_ADD_SEALS, SEALS) };
    if r < 0 {
        return Err(format!("F_ADD_SEALS: {}", std::io::Error::last_os_error()));
    }
    Ok(OwnedFd::from(dst))
}

/// execveat(fd, "", argv, env + marker, AT_EMPTY_PATH). Returns the error.
fn reexec(fd: &OwnedFd, from: &str) -> String {
    let to_c = |s: OsString| CString::new(s.as_bytes()).ok();
    let argv: Vec<CString> = std::env::args_os().filter_map(to_c).collect();
    let mut env: Vec<CString> = std::env::vars_os()
        .filter(|(k, _)| k != MARKER)
        .filter_map(|(k, v)| {
            let mut kv = k;
            kv.push("=");
            kv.push(v);
            to_c(kv)
        })
        .collect();
    env.extend(CString::new(format!("{MARKER}={from}")).ok());
    let e = sys::execveat_empty(fd, &argv, &env);
    format!("seal the husk binary: execveat: {e}")
}

/// The raw syscalls, each in the smallest wrapper.
mod sys {
    use super::*;

    fn fd_or_err(r: libc::c_long, what: &str) -> Result<OwnedFd, String> {
        if r < 0 {
            return Err(format!("{what}: {}", std::io::Error::last_os_error()));
        }
        // SAFETY: the kernel returned a new descriptor that nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(r as i32) })
    }

    pub fn fsopen(fs: &std::ffi::CStr) -> Result<OwnedFd, String> {
        const FSOPEN_CLOEXEC: libc::c_uint = 1;
        // SAFETY: fsopen reads the NUL-terminated name, which outlives the call.
        let r = unsafe { libc::syscall(libc::SYS_fsopen, fs.as_ptr(), FSOPEN_CLOEXEC) };
        fd_or_err(r, "fsopen")
    }

    pub fn fsconfig_string(ctx: &OwnedFd, key: &std::ffi::CStr, value: &str) -> Result<(), String> {
        const FSCONFIG_SET_STRING: libc::c_uint = 1;
        let v = CString::new(value).map_err(|_| format!("{key:?}: value has a NUL byte"))?;
        // SAFETY: both strings are NUL-terminated and outlive the call.
        let r = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                ctx.as_raw_fd(),
                FSCONFIG_SET_STRING,
                key.as_ptr(),
                v.as_ptr(),
                0,
            )
        };
        if r < 0 {
            return Err(format!(
                "fsconfig {}={value}: {}",
                key.to_string_lossy(),
                std::io::Error::last_os_error()
            ));
        }
        Ok(())
    }

    pub fn fsconfig_create(ctx: &OwnedFd) -> Result<(), String> {
        const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
        // SAFETY: FSCONFIG_CMD_CREATE takes no pointers.
        let r = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                ctx.as_raw_fd(),
                FSCONFIG_CMD_CREATE,
                std::ptr::null::<libc::c_char>(),
                std::ptr::null::<libc::c_void>(),
                0,
            )
        };
        if r < 0 {
            return Err(format!(
                "fsconfig create: {}",
                std::io::Error::last_os_error()
            ));
        }
        Ok(())
    }

    pub fn fsmount(ctx: &OwnedFd) -> Result<OwnedFd, String> {
        const FSMOUNT_CLOEXEC: libc::c_uint = 1;
        const MOUNT_ATTR_RDONLY: libc::c_uint = 0x1;
        const MOUNT_ATTR_NOSUID: libc::c_uint = 0x2;
        const MOUNT_ATTR_NODEV: libc::c_uint = 0x4;
        // SAFETY: fsmount takes a descriptor and two flag words.
        let r = unsafe {
            libc::syscall(
                libc::SYS_fsmount,
                ctx.as_raw_fd(),
                FSMOUNT_CLOEXEC,
                MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
            )
        };
        fd_or_err(r, "fsmount")
    }

    pub fn open_path(dir: &OwnedFd, name: &std::ffi::CStr) -> Result<OwnedFd, String> {
        // SAFETY: openat reads the NUL-terminated name, which outlives the call.
        let r = unsafe {
            libc::openat(
                dir.as_raw_fd(),
                name.as_ptr(),
                libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        };
        fd_or_err(r as libc::c_long, "open the binary in the overlay")
    }

    /// An executable, sealable, close-on-exec memfd. MFD_EXEC (Linux 6.3)
    /// keeps it executable where vm.memfd_noexec=1; older kernels refuse the
    /// flag and are executable by default.
    pub fn memfd_exec(name: &std::ffi::CStr) -> Result<OwnedFd, String> {
        const MFD_EXEC: libc::c_uint = 0x10;
        let base = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
        for flags in [base | MFD_EXEC, base] {
            // SAFETY: memfd_create reads the NUL-terminated name.
            let r = unsafe { libc::memfd_create(name.as_ptr(), flags) };
            if r >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
                return fd_or_err(r as libc::c_long, "memfd_create");
            }
        }
        Err("memfd_create: EINVAL".into())
    }

    pub fn execveat_empty(fd: &OwnedFd, argv: &[CString], env: &[CString]) -> std::io::Error {
        let mut a: Vec<*const libc::c_char> = argv.iter().map(|s| s.as_ptr()).collect();
        a.push(std::ptr::null());
        let mut e: Vec<*const libc::c_char> = env.iter().map(|s| s.as_ptr()).collect();
        e.push(std::ptr::null());
        // SAFETY: the two arrays are NULL-terminated and point at strings
        // that live until the call returns (it only returns on failure).
        unsafe {
            libc::syscall(
                libc::SYS_execveat,
                fd.as_raw_fd(),
                c"".as_ptr(),
                a.as_ptr(),
                e.as_ptr(),
                libc::AT_EMPTY_PATH,
            )
        };
        std::io::Error::last_os_error()
    }
}
