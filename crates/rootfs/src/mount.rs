//! The config's mounts, in order, onto targets resolved inside the rootfs.

use crate::options::{parse_options, propagation};
use crate::resolve::{errno, resolve_in_root};
use crate::RootfsError;
use husk_spec::Mount;
use nix::fcntl::{open, OFlag};
use nix::mount::{mount, MsFlags};
use nix::sys::stat::Mode;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// A host cgroup directory to show at `<cgroup mount>/<name>` (cgroup v1).
#[derive(Debug, Clone)]
pub struct CgroupBind {
    pub name: String,
    pub host_dir: PathBuf,
}

pub struct MountContext<'a> {
    /// Absolute host path of the rootfs.
    pub rootfs: &'a Path,
    /// Relative bind sources are relative to the bundle, as with runc.
    pub bundle: &'a Path,
    /// v1 hierarchies to bind under a `cgroup` mount; empty means the host
    /// is cgroup v2.
    pub cgroup_v1: &'a [CgroupBind],
    /// The container's own v2 directory, bound when there is no cgroup
    /// namespace to make a fresh cgroup2 mount show the right subtree.
    pub cgroup_v2_dir: Option<&'a Path>,
    pub new_cgroupns: bool,
    /// Idmapped trees prepared by the caller (`prepare_idmapped`), by
    /// mount index, attached instead of a plain bind.
    pub idmapped: &'a [(usize, RawFd)],
    /// Bind sources opened (O_PATH) by a process with the host's privileges
    /// in the container's mount namespace, by mount index (`bind_sources`):
    /// bound through /proc/self/fd, so a container root in a user namespace
    /// need not be able to walk the source's path.
    pub bind_sources: &'a [(usize, RawFd)],
}

fn is_bind(m: &Mount) -> bool {
    m.typ.as_deref() == Some("bind") || m.options.iter().any(|o| o == "bind" || o == "rbind")
}

/// The host path of every bind mount's source but the idmapped ones (their
/// tree is already made on the host side), by mount index; a relative
/// source is relative to the bundle. A container init in a user namespace
/// gets these opened for it (runc 1.1 does the same): its root is an
/// unprivileged user on the host, which may not search the directories
/// above a source it was nevertheless given.
pub fn bind_sources(mounts: &[Mount], bundle: &Path) -> Vec<(usize, PathBuf)> {
    mounts
        .iter()
        .enumerate()
        .filter(|(_, m)| is_bind(m) && crate::idmap::wants_idmap(m).is_none())
        .filter_map(|(i, m)| {
            let s = m.source.as_ref()?;
            Some((
                i,
                if s.is_relative() {
                    bundle.join(s)
                } else {
                    s.clone()
                },
            ))
        })
        .collect()
}

/// Gives the namespace's mounts the configured propagation (slaves of the
/// host's by default, so nothing we do leaks back), makes the mount that
/// holds the rootfs private (or a slave) on its own, and binds the rootfs
/// onto itself, which pivot_root needs. The order is runc's, and it is what
/// makes two configurations work:
/// - `rshared`: "/" stays shared, so a host directory bound into the
///   container is a peer of the host's mount and mounts made below it in
///   the container reach the host (Kubernetes' Bidirectional propagation);
///   only the rootfs's own parent is private, so the rootfs bind neither
///   leaks to the host nor makes pivot_root fail.
/// - `unbindable`: nothing can be bound from an unbindable mount (the
///   rootfs, the host's cgroup directories), so the setup runs on slaves
///   and the new root is made unbindable after pivot_root
///   (`set_root_propagation`).
pub fn prepare_root(rootfs: &Path, rootfs_propagation: Option<&str>) -> Result<(), RootfsError> {
    // Always recursive: every mount of the namespace, not just "/".
    let flags = rootfs_propagation
        .and_then(propagation)
        .filter(|f| !f.contains(MsFlags::MS_UNBINDABLE))
        .unwrap_or(MsFlags::MS_SLAVE)
        | MsFlags::MS_REC;
    mount(None::<&str>, "/", None::<&str>, flags, None::<&str>)
        .map_err(|e| RootfsError::sys("set the propagation of /", "/", e))?;
    let parent = if flags.contains(MsFlags::MS_SLAVE) {
        MsFlags::MS_SLAVE
    } else {
        MsFlags::MS_PRIVATE
    };
    // The mount that holds the rootfs: mount(2) says EINVAL for a path that
    // is not a mount point, so walk up until one takes it.
    let mut dir = rootfs;
    loop {
        match mount(None::<&str>, dir, None::<&str>, parent, None::<&str>) {
            Ok(()) => break,
            Err(nix::errno::Errno::EINVAL) if dir.parent().is_some() => {
                dir = dir.parent().expect("checked");
            }
            Err(e) => {
                return Err(RootfsError::sys(
                    "make the rootfs's parent mount private",
                    dir,
                    e,
                ))
            }
        }
    }
    bind_onto_itself(rootfs)
}

/// Without a mount namespace of its own (none in linux.namespaces), the
/// container's root is set up in husk's mount namespace, the host's: the
/// rootfs is first bound onto itself and made private, so that nothing
/// mounted below it propagates anywhere, and delete detaches that one
/// mount (with everything below it) again.
pub fn bind_root_privately(rootfs: &Path) -> Result<(), RootfsError> {
    bind_onto_itself(rootfs)?;
    mount(
        None::<&str>,
        rootfs,
        None::<&str>,
        MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| RootfsError::sys("make rootfs private", rootfs, e))
}

fn bind_onto_itself(rootfs: &Path) -> Result<(), RootfsError> {
    mount(
        Some(rootfs),
        rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| RootfsError::sys("bind mount rootfs", rootfs, e))
}

/// procfs and sysfs only on ordinary directories (the CVE-2019-19921
/// class): a /proc that is a symlink, even one that stays inside the rootfs,
/// would redirect what husk later writes through /proc (the LSM label,
/// sysctls, oom_score_adj) and what the container's masks cover. Every
/// component of the destination, taken literally inside the rootfs, must be
/// a directory or not exist yet; runc checks the last one.
fn check_plain_dirs(rootfs: &Path, dest: &Path) -> Result<(), String> {
    let mut p = rootfs.to_path_buf();
    for c in dest.components() {
        let std::path::Component::Normal(c) = c else {
            continue;
        };
        p.push(c);
        match std::fs::symlink_metadata(&p) {
            Err(_) => return Ok(()),
            Ok(m) if m.file_type().is_symlink() => {
                return Err(format!(
                    "{} must be mounted on an ordinary directory, and {} is a symlink",
                    dest.display(),
                    p.strip_prefix(rootfs).unwrap_or(&p).display()
                ))
            }
            Ok(m) if !m.is_dir() => {
                return Err(format!(
                    "{} must be mounted on an ordinary directory, and {} is not a directory",
                    dest.display(),
                    p.strip_prefix(rootfs).unwrap_or(&p).display()
                ))
            }
            Ok(_) => {}
        }
    }
    Ok(())
}

/// A read-only mount made read-write for the setup, to be made read-only
/// once everything below it exists (`remount_readonly`): held by an O_PATH
/// descriptor of its root, so that the flag lands on this very mount even
/// if another is stacked on the same path later.
#[derive(Debug)]
pub struct ReadonlyLater {
    pub field: String,
    pub destination: PathBuf,
    pub mount: OwnedFd,
}

/// Mounts `mounts` in order; returns the read-only ones whose read-only
/// flag waits for the end of setup: /dev (device nodes, ptmx, the console
/// go below it), tmpfs (as runc), sysfs, procfs and mqueue (their
/// superblock is shared by the namespace), and any other new filesystem
/// that a later mount sits strictly below (its mount point must be made).
/// Never a bind: its mount points would be made in the host directory that was
/// asked to be read-only (runc fails those with EROFS too).
pub fn mount_all(ctx: &MountContext, mounts: &[Mount]) -> Result<Vec<ReadonlyLater>, RootfsError> {
    let mut later = Vec::new();
    for (i, m) in mounts.iter().enumerate() {
        let below = |d: &Path| {
            mounts[i + 1..]
                .iter()
                .any(|n| n.destination.starts_with(d) && n.destination != d)
        };
        let typ = m.typ.as_deref().unwrap_or("");
        let bind = is_bind(m);
        // A read-only sysfs, procfs or mqueue is always mounted read-write
        // and made read-only per mount: their superblock is the one of the
        // network, pid or IPC namespace, which a pod's other containers
        // share, and a read-only superblock would make /sys read-only for a
        // privileged container joining it (runc's known trouble with pods).
        let per_namespace_sb = matches!(typ, "sysfs" | "proc" | "mqueue");
        let defer = !bind
            && !matches!(typ, "cgroup" | "cgroup2")
            && (per_namespace_sb
                || m.destination == Path::new("/dev")
                || typ == "tmpfs"
                || below(&m.destination));
        if let Some(mount) = mount_one(ctx, i, m, defer)? {
            later.push(ReadonlyLater {
                field: format!("mounts[{i}]"),
                destination: m.destination.clone(),
                mount,
            });
        }
    }
    Ok(later)
}

/// Returns the new mount's root when its read-only flag was held back
/// (`defer` and "ro").
fn mount_one(
    ctx: &MountContext,
    i: usize,
    m: &Mount,
    defer: bool,
) -> Result<Option<OwnedFd>, RootfsError> {
    let mut o = parse_options(&m.options);
    let deferred = defer && o.flags.contains(MsFlags::MS_RDONLY);
    if deferred {
        o.flags -= MsFlags::MS_RDONLY;
    }
    let typ = m.typ.as_deref().unwrap_or("");
    let bind = o.is_bind() || typ == "bind";
    let field = format!("mounts[{i}]");

    let source = m.source.as_ref().map(|s| {
        if bind && s.is_relative() {
            ctx.bundle.join(s)
        } else {
            s.clone()
        }
    });
    // What the mount calls use for the source: the descriptor opened on the
    // host side when there is one; messages name the configured path.
    let held = ctx
        .bind_sources
        .iter()
        .find(|(n, _)| bind && *n == i)
        .map(|(_, fd)| PathBuf::from(format!("/proc/self/fd/{fd}")));
    let src_is_dir = if bind {
        let s = source.as_ref().ok_or_else(|| {
            RootfsError::field(format!("{field}.source"), "a bind mount needs a source")
        })?;
        let md = std::fs::metadata(held.as_ref().unwrap_or(s)).map_err(|e| {
            RootfsError::field(
                format!("{field}.source"),
                format!("{}: {}", s.display(), io_text(&e)),
            )
        })?;
        md.is_dir()
    } else {
        true
    };

    if matches!(typ, "proc" | "sysfs") {
        check_plain_dirs(ctx.rootfs, &m.destination)
            .map_err(|r| RootfsError::field(format!("{field}.destination"), r))?;
    }
    let target = resolve_in_root(ctx.rootfs, &m.destination)?;
    create_target(&target, src_is_dir).map_err(|e| match e {
        RootfsError::Sys { op, path, source } => RootfsError::field(
            format!("{field}.destination"),
            format!("{op} {}: {source}", path.display()),
        ),
        other => other,
    })?;
    let target_fd = open_verified(ctx.rootfs, &target)?;
    let target_proc = proc_fd_path(&target_fd);

    let named = |e: nix::errno::Errno, what: &str| {
        RootfsError::field(
            field.clone(),
            format!(
                "{what} {} on {}: {e}",
                typ_or_bind(typ, bind),
                m.destination.display()
            ),
        )
    };

    if bind {
        let src = held.as_ref().or(source.as_ref()).expect("checked above");
        match ctx.idmapped.iter().find(|(n, _)| *n == i) {
            Some((_, tree)) => crate::idmap::attach(*tree, target_fd.as_raw_fd())
                .map_err(|e| named(errno(&e), "attach the idmapped mount"))?,
            None => mount(
                Some(src.as_path()),
                &target_proc,
                None::<&str>,
                o.flags & (MsFlags::MS_BIND | MsFlags::MS_REC),
                None::<&str>,
            )
            .map_err(|e| named(e, "mount"))?,
        }
        let extra = o.flags - (MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
        if !extra.is_empty() {
            // A bind mount takes its flags only on a remount; locked flags
            // of the source (in a user namespace) must be kept or the kernel
            // refuses the remount.
            // The fd still names the mount *under* the new bind mount, so
            // the remount re-resolves the (already verified) path to reach
            // the bind mount on top.
            drop(target_fd);
            let verified = open_verified(ctx.rootfs, &target)?;
            let top = proc_fd_path(&verified);
            let keep = current_flags(&top) - o.cleared;
            mount(
                None::<&str>,
                &top,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | extra | keep,
                None::<&str>,
            )
            .map_err(|e| named(e, "remount"))?;
        }
    } else if typ == "cgroup" || typ == "cgroup2" {
        drop(target_fd);
        mount_cgroup(ctx, &target, &o.flags, &field)?;
    } else {
        let src = source
            .as_ref()
            .map(|s| s.as_os_str().to_owned())
            .unwrap_or_else(|| typ.into());
        let data = (!o.data.is_empty()).then_some(o.data.as_str());
        // Opened before the tmpfs covers it: through this fd the old
        // contents stay reachable for the copy.
        let covered = if o.tmpcopyup && typ == "tmpfs" {
            Some(open_dir(&target_proc).map_err(|e| named(e, "open for tmpcopyup"))?)
        } else {
            None
        };
        mount(
            Some(src.as_os_str()),
            &target_proc,
            Some(typ),
            o.flags - MsFlags::MS_REMOUNT,
            data,
        )
        .map_err(|e| named(e, "mount"))?;
        if let Some(old) = covered {
            let top = open_verified(ctx.rootfs, &target)?;
            crate::copyup::copy_tree(&proc_fd_path(&old), &proc_fd_path(&top)).map_err(|e| {
                RootfsError::field(
                    format!("{field}.options"),
                    format!("tmpcopyup into {}: {e}", m.destination.display()),
                )
            })?;
        }
    }
    for p in &o.propagation {
        mount(None::<&str>, &target, None::<&str>, *p, None::<&str>)
            .map_err(|e| named(e, "set propagation of"))?;
    }
    if o.rec_set != 0 || o.rec_clr != 0 {
        // On the mount now at the target (re-resolved and verified, as for
        // the remount above) and every mount below it.
        let top = open_verified(ctx.rootfs, &target)?;
        crate::mount_attr::setattr(
            top.as_raw_fd(),
            c"",
            libc::AT_EMPTY_PATH as libc::c_uint | crate::mount_attr::AT_RECURSIVE,
            (o.rec_set, o.rec_clr),
            -1,
        )
        .map_err(|e| named(errno(&e), "set recursive attributes (mount_setattr) of"))?;
    }
    if !deferred {
        return Ok(None);
    }
    // The mount just made is the one on top at the (verified) target.
    open_verified(ctx.rootfs, &target).map(Some)
}

fn typ_or_bind(typ: &str, bind: bool) -> &str {
    if bind {
        "bind"
    } else {
        typ
    }
}

fn io_text(e: &std::io::Error) -> String {
    nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0))
        .desc()
        .to_lowercase()
}

/// The mount points of `mounts` in `rootfs`, made where missing, for
/// `restore`: CRIU mounts onto the tree as it finds it, and a rootfs
/// unpacked afresh (a checkpoint restored elsewhere) lacks the points
/// create made (an empty /etc/resolv.conf for a file bind, …). Points
/// below a tmpfs of the config come with the tmpfs; cgroup points are
/// CRIU's. Each path is resolved inside the rootfs.
pub fn create_mountpoints(
    rootfs: &Path,
    mounts: &[Mount],
    bundle: &Path,
) -> Result<(), RootfsError> {
    let tmpfs: Vec<&Path> = mounts
        .iter()
        .filter(|m| m.typ.as_deref() == Some("tmpfs"))
        .map(|m| m.destination.as_path())
        .collect();
    for m in mounts {
        if matches!(m.typ.as_deref(), Some("cgroup" | "cgroup2")) {
            continue;
        }
        let d = m.destination.as_path();
        if tmpfs.iter().any(|t| d != *t && d.starts_with(t)) {
            continue;
        }
        let file = is_bind(m)
            && m.source.as_ref().is_some_and(|s| {
                let s = if s.is_relative() {
                    bundle.join(s)
                } else {
                    s.clone()
                };
                s.metadata().is_ok_and(|md| !md.is_dir())
            });
        let target = crate::resolve_in_root(rootfs, d)?;
        create_target(&target, !file)?;
    }
    Ok(())
}

/// Creates the mount target (a directory, or an empty file for a file bind
/// mount) and its parents, each component resolved inside the rootfs.
pub(crate) fn create_target(target: &Path, dir: bool) -> Result<(), RootfsError> {
    if target.symlink_metadata().is_ok() {
        return Ok(());
    }
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| RootfsError::sys("mkdir", parent, errno(&e)))?;
    }
    let r = if dir {
        std::fs::create_dir(target)
    } else {
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(target)
            .map(|_| ())
    };
    match r {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(RootfsError::sys("create", target, errno(&e))),
    }
}

/// Opens the target without following a final symlink and checks, through
/// the fd, that it still lies inside the rootfs: mounting onto
/// /proc/self/fd/N then cannot be redirected by a swapped path component.
pub(crate) fn open_verified(rootfs: &Path, target: &Path) -> Result<OwnedFd, RootfsError> {
    let fd = open(
        target,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| RootfsError::sys("open", target, e))?;
    // SAFETY: `open` just returned this descriptor and nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let real = std::fs::read_link(proc_fd_path(&fd))
        .map_err(|e| RootfsError::sys("readlink", target, errno(&e)))?;
    if !real.starts_with(rootfs) {
        return Err(RootfsError::field(
            "mounts",
            format!(
                "{} resolves to {}, outside the rootfs",
                target.display(),
                real.display()
            ),
        ));
    }
    Ok(fd)
}

fn open_dir(path: &Path) -> Result<OwnedFd, nix::errno::Errno> {
    let fd = open(
        path,
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    // SAFETY: `open` just returned this descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub(crate) fn proc_fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// The flags of the mount at `path` that a bind remount must carry over.
pub(crate) fn current_flags(path: &Path) -> MsFlags {
    use nix::sys::statvfs::{statvfs, FsFlags};
    let Ok(st) = statvfs(path) else {
        return MsFlags::empty();
    };
    let f = st.flags();
    let mut m = MsFlags::empty();
    for (fs, ms) in [
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(fs) {
            m |= ms;
        }
    }
    m
}

/// v1: a tmpfs with one bind per hierarchy of the container's own cgroup.
/// v2: a fresh cgroup2 mount in a new cgroup namespace, else a bind of the
/// container's directory.
fn mount_cgroup(
    ctx: &MountContext,
    target: &Path,
    flags: &MsFlags,
    field: &str,
) -> Result<(), RootfsError> {
    let base = *flags & (MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC);
    let ro = flags.contains(MsFlags::MS_RDONLY);
    let err =
        |e, what: &str, p: &Path| RootfsError::field(field, format!("{what} {}: {e}", p.display()));
    if !ctx.cgroup_v1.is_empty() {
        mount(Some("tmpfs"), target, Some("tmpfs"), base, Some("mode=755"))
            .map_err(|e| err(e, "mount tmpfs on", target))?;
        for b in ctx.cgroup_v1 {
            let dir = target.join(&b.name);
            std::fs::create_dir_all(&dir).map_err(|e| err(errno(&e), "mkdir", &dir))?;
            mount(
                Some(&b.host_dir),
                &dir,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(|e| err(e, "bind cgroup onto", &dir))?;
            let f = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | base | current_flags(&dir);
            let f = if ro { f | MsFlags::MS_RDONLY } else { f };
            mount(None::<&str>, &dir, None::<&str>, f, None::<&str>)
                .map_err(|e| err(e, "remount", &dir))?;
        }
        if ro {
            let f = MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | base;
            mount(None::<&str>, target, None::<&str>, f, Some("mode=755"))
                .map_err(|e| err(e, "remount", target))?;
        }
        return Ok(());
    }
    let f = if ro { base | MsFlags::MS_RDONLY } else { base };
    match (ctx.new_cgroupns, ctx.cgroup_v2_dir) {
        (false, Some(dir)) => {
            mount(
                Some(dir),
                target,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(|e| err(e, "bind cgroup onto", target))?;
            mount(
                None::<&str>,
                target,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | f,
                None::<&str>,
            )
            .map_err(|e| err(e, "remount", target))
        }
        (new_ns, dir) => match mount(Some("cgroup2"), target, Some("cgroup2"), f, None::<&str>) {
            // As runc, a bind instead of a fresh mount where the kernel
            // refuses one: EPERM for a container without a cgroup of its
            // own (rootless) in a user namespace but no cgroup namespace;
            // EBUSY when the same cgroup2 is already mounted right there
            // (a config that names /sys/fs/cgroup twice). The container's
            // own directory when known, else the host's tree, read-only if
            // asked.
            Err(e @ (nix::errno::Errno::EPERM | nix::errno::Errno::EBUSY))
                if e == nix::errno::Errno::EBUSY || (!new_ns && dir.is_none()) =>
            {
                let host = dir.unwrap_or(Path::new("/sys/fs/cgroup"));
                mount(
                    Some(host),
                    target,
                    None::<&str>,
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    None::<&str>,
                )
                .map_err(|e| err(e, "bind the host's cgroups onto", target))?;
                // The hierarchies are submounts: the flags go on every one.
                crate::mount_attr::restrict_recursively(target, f)
                    .map_err(|e| err(errno(&e), "restrict", target))
            }
            r => r.map_err(|e| err(e, "mount cgroup2 on", target)),
        },
    }
}
