//! /dev: the default devices every container gets, linux.devices, the
//! /dev/* symlinks, and /dev/console for a terminal.

use crate::mount::{create_target, open_verified, proc_fd_path};
use crate::resolve::{errno, resolve_in_root};
use crate::RootfsError;
use husk_spec::Device;
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use nix::unistd::{chown, Gid, Uid};
use std::path::Path;

const DEFAULT_DEVICES: &[(&str, u64, u64)] = &[
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

/// The default devices' paths (checkpoint names them as possible binds).
pub const DEFAULT_DEVICE_PATHS: [&str; 6] = [
    DEFAULT_DEVICES[0].0,
    DEFAULT_DEVICES[1].0,
    DEFAULT_DEVICES[2].0,
    DEFAULT_DEVICES[3].0,
    DEFAULT_DEVICES[4].0,
    DEFAULT_DEVICES[5].0,
];

/// Creates the default devices and symlinks. Inside a user namespace mknod
/// is not allowed, so the host's device nodes are bind mounted instead.
pub fn create_default_devices(rootfs: &Path, bind: bool) -> Result<(), RootfsError> {
    for (path, major, minor) in DEFAULT_DEVICES {
        let d = Device {
            typ: "c".into(),
            path: (*path).into(),
            major: *major as i64,
            minor: *minor as i64,
            file_mode: Some(0o666),
            uid: Some(0),
            gid: Some(0),
        };
        make_device(rootfs, &d, bind, "default device")?;
    }
    let mut links = vec![
        ("/proc/self/fd", "/dev/fd"),
        ("/proc/self/fd/0", "/dev/stdin"),
        ("/proc/self/fd/1", "/dev/stdout"),
        ("/proc/self/fd/2", "/dev/stderr"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "/dev/core"));
    }
    for (target, link) in links {
        let at = resolve_in_root(rootfs, Path::new(link))?;
        match std::os::unix::fs::symlink(target, &at) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(RootfsError::sys("symlink", at, errno(&e))),
        }
    }
    Ok(())
}

pub fn create_devices(rootfs: &Path, devices: &[Device], bind: bool) -> Result<(), RootfsError> {
    for (i, d) in devices.iter().enumerate() {
        make_device(rootfs, d, bind, &format!("linux.devices[{i}]"))?;
    }
    Ok(())
}

/// `path` inside the rootfs with its directories resolved there but its
/// last component not followed: a node is made *at* the path, never at
/// whatever a symlink there points to.
fn in_root_no_follow(rootfs: &Path, path: &Path) -> Result<std::path::PathBuf, RootfsError> {
    let name = path.file_name().ok_or_else(|| {
        RootfsError::field(
            "linux.devices",
            format!("{} has no file name", path.display()),
        )
    })?;
    let parent = path.parent().unwrap_or(Path::new("/"));
    Ok(resolve_in_root(rootfs, parent)?.join(name))
}

/// /dev/ptmx → pts/ptmx, the container's own devpts instance; made after
/// linux.devices, as runc does, so a /dev/ptmx entry there (privileged
/// containers list one) does not end up as the device in use.
pub fn setup_ptmx(rootfs: &Path) -> Result<(), RootfsError> {
    let at = in_root_no_follow(rootfs, Path::new("/dev/ptmx"))?;
    match std::fs::remove_file(&at) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(RootfsError::sys("remove", &at, errno(&e))),
    }
    std::os::unix::fs::symlink("pts/ptmx", &at)
        .map_err(|e| RootfsError::sys("symlink", at, errno(&e)))
}

fn make_device(rootfs: &Path, d: &Device, bind: bool, field: &str) -> Result<(), RootfsError> {
    let target = in_root_no_follow(rootfs, &d.path)?;
    if !target.starts_with(rootfs.join("dev")) && d.path.starts_with("/dev") {
        return Err(RootfsError::field(
            format!("{field}.path"),
            format!("{} resolves outside /dev", d.path.display()),
        ));
    }
    let fail =
        |op, e| RootfsError::field(field.to_string(), format!("{op} {}: {e}", d.path.display()));
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(|e| fail("mkdir", errno(&e)))?;
    }
    let bind_host_node = || -> Result<(), RootfsError> {
        create_target(&target, false)?;
        let fd = open_verified(rootfs, &target)?;
        mount(
            Some(&d.path),
            &proc_fd_path(&fd),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| fail("bind", e))
    };
    if bind {
        return bind_host_node();
    }
    let kind = match d.typ.as_str() {
        "c" | "u" => SFlag::S_IFCHR,
        "b" => SFlag::S_IFBLK,
        "p" => SFlag::S_IFIFO,
        other => {
            return Err(RootfsError::field(
                format!("{field}.type"),
                format!("{other:?} is not a device type"),
            ))
        }
    };
    let mode = Mode::from_bits_truncate(d.file_mode.unwrap_or(0o666));
    match std::fs::remove_file(&target) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail("remove", errno(&e))),
    }
    match mknod(&target, kind, mode, makedev(d.major as u64, d.minor as u64)) {
        Ok(()) => {}
        // No CAP_MKNOD here though the config makes no user namespace
        // (husk itself runs in one: rootless podman): the host's node is
        // bound instead, as runc does.
        Err(nix::errno::Errno::EPERM) if kind != SFlag::S_IFIFO => return bind_host_node(),
        Err(e) => return Err(fail("mknod", e)),
    }
    // mknod applies the umask; chmod sets the exact mode asked for.
    nix::sys::stat::fchmodat(
        None,
        &target,
        mode,
        nix::sys::stat::FchmodatFlags::NoFollowSymlink,
    )
    .or_else(|_| {
        std::fs::set_permissions(
            &target,
            std::os::unix::fs::PermissionsExt::from_mode(mode.bits()),
        )
        .map_err(|e| errno(&e))
    })
    .map_err(|e| fail("chmod", e))?;
    chown(
        &target,
        Some(Uid::from_raw(d.uid.unwrap_or(0))),
        Some(Gid::from_raw(d.gid.unwrap_or(0))),
    )
    .map_err(|e| fail("chown", e))?;
    Ok(())
}

/// Bind mounts the terminal's pts onto /dev/console. Called after
/// pivot_root, so paths are the container's own.
pub fn mount_console(pts: &Path) -> Result<(), RootfsError> {
    let console = Path::new("/dev/console");
    // Never follow a planted symlink: replace whatever is there by a file.
    if let Ok(m) = console.symlink_metadata() {
        if !m.file_type().is_file() {
            std::fs::remove_file(console)
                .map_err(|e| RootfsError::sys("remove", console, errno(&e)))?;
        }
    }
    create_target(console, false)?;
    let fd = open_verified(Path::new("/dev"), console)?;
    mount(
        Some(pts),
        &proc_fd_path(&fd),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| RootfsError::sys("bind mount console", pts, e))
}
