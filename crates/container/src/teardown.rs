//! Tearing a container down: what `delete` does, and what a failed `create`
//! or `restore` does, in one order, from what the container's state
//! records: the init (killed and waited for), husk's bind of the rootfs
//! (without a mount namespace), the Intel RDT group, the cgroup, the
//! poststop hooks, the state directory.

use crate::{Container, ContainerError, Status};
use husk_cgroups::Cgroup;
use husk_host::hooks;
use std::path::Path;

/// Tears down `c`, whose status is `status`. `Creating` is a create or
/// restore that failed (or was killed) half way: its init, if it got one,
/// is killed, and the poststop hooks run only if it got one (the spec's
/// lifecycle goes on at "delete" once the container exists). A cgroup that
/// cannot be removed stops `delete` with the state kept, so that it can be
/// run again.
pub(crate) fn teardown(c: &Container, status: Status) -> Result<(), ContainerError> {
    teardown_as(c, status, By::Delete)
}

/// Who tears down, which decides two things.
#[derive(Clone, Copy)]
enum By {
    /// `delete` (or checkpoint), from the saved state: the cgroup may hold
    /// processes of the container's that the state does not name (a create
    /// killed before it saved its init's pid), killed with everything else
    /// in it; a cgroup that cannot be removed stops it, state kept.
    Delete,
    /// A create or restore undoing itself (Provisioned). `may_hold_ours`:
    /// as for delete, once something of the container's may be in its
    /// cgroup unnamed (restore: CRIU and what it restores); a create knows
    /// better: with no init yet, nothing there is its own, and another
    /// container's processes are left alone. A cgroup that cannot be
    /// removed is reported and the rest goes on, so that no state
    /// directory is left for a container that never was.
    Undo { may_hold_ours: bool },
}

fn teardown_as(c: &Container, status: Status, by: By) -> Result<(), ContainerError> {
    let started = c.state.pid > 0;
    let (may_hold_ours, best_effort) = match by {
        By::Delete => (true, false),
        By::Undo { may_hold_ours } => (may_hold_ours, true),
    };
    if status != Status::Stopped && started {
        if status == Status::Paused {
            if let Some(cg) = &c.state.cgroup {
                let _ = cg.thaw();
            }
        }
        crate::procs::kill_and_wait(c.state.pid);
    }
    if let Some(before) = &c.state.host_mounts_before {
        let root = c.dir.parent().unwrap_or(&c.dir);
        detach_host_mounts(root, &c.state.rootfs, before, c.state.host_mount);
    }
    if let Some(rdt) = &c.state.intel_rdt {
        husk_host::intelrdt::remove(&c.state.id, rdt);
    }
    if let Some(cg) = &c.state.cgroup {
        let removed = if started || may_hold_ours {
            remove_cgroup(cg, c.state.pid_ns.as_deref())
        } else {
            // Only the directories this create made go.
            cg.destroy().map_err(ContainerError::from)
        };
        match removed {
            Err(e) if best_effort => tracing::warn!("cleanup after a failed create: {e}"),
            other => other?,
        }
    }
    if let Some(h) = &c.state.hooks {
        if !h.poststop.is_empty() && (started || status != Status::Creating) {
            let state = c.oci_state_json(Status::Stopped);
            hooks::run_all_warn("poststop", &h.poststop, state.as_bytes());
        }
    }
    remove_state_dir(&c.dir)
}

/// A container being made (create, restore): until [`Provisioned::done`],
/// dropping it tears down whatever its state records by then. The state
/// is kept up to date as things are made, so that this and a later
/// `delete --force` (after a create that was killed) undo the same.
pub(crate) struct Provisioned {
    c: Option<Container>,
    /// See [`By::Undo`]. False until something of the container's may
    /// be in its cgroup without the state naming it: never for create,
    /// whose in-memory state names its init as soon as it exists; for
    /// restore, from when CRIU joins the cgroup.
    may_hold_ours: bool,
}

impl Provisioned {
    /// Makes and locks `<root>/<id>` for the record `state` (not yet
    /// saved): from here, dropping the value undoes what the record says.
    pub(crate) fn start(
        root: &Path,
        state: crate::state::StateData,
    ) -> Result<Self, ContainerError> {
        let dir = crate::state::make_dir(root, &state.id)?;
        let lock = match crate::state::lock_dir(&dir, &state.id) {
            Ok(l) => l,
            Err(e) => {
                let _ = remove_state_dir(&dir);
                return Err(e);
            }
        };
        Ok(Provisioned {
            c: Some(Container::new(dir, lock, state)),
            may_hold_ours: false,
        })
    }

    /// Processes of the container's may now be in its cgroup before their
    /// pid is in the state (restore: CRIU and what it restores).
    pub(crate) fn cgroup_in_use(&mut self) {
        self.may_hold_ours = true;
    }

    /// Made: nothing is undone any more.
    pub(crate) fn done(mut self) -> Container {
        self.c.take().expect("taken only here")
    }
}

impl std::ops::Deref for Provisioned {
    type Target = Container;
    fn deref(&self) -> &Container {
        self.c.as_ref().expect("taken only by done()")
    }
}

impl std::ops::DerefMut for Provisioned {
    fn deref_mut(&mut self) -> &mut Container {
        self.c.as_mut().expect("taken only by done()")
    }
}

impl Drop for Provisioned {
    fn drop(&mut self) {
        if let Some(c) = &self.c {
            if let Err(e) = teardown_as(
                c,
                Status::Creating,
                By::Undo {
                    may_hold_ours: self.may_hold_ours,
                },
            ) {
                tracing::warn!("cleanup after a failed create: {e}");
            }
        }
    }
}

/// Detaches every mount at or below `dir` (deepest first).
pub(crate) fn detach_mounts_below(dir: &Path) {
    let mut points: Vec<std::path::PathBuf> = husk_rootfs::mountinfo::mounts()
        .unwrap_or_default()
        .into_iter()
        .map(|m| m.mount_point)
        .filter(|p| p.starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
    for p in points {
        let _ = nix::mount::umount2(&p, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// Removes a container's state directory, never through a mount: a bind
/// left below it (restore's criu-root of a restore that was killed) is
/// detached first, and if one cannot be, nothing is removed (else
/// remove_dir_all would empty the bound rootfs).
pub(crate) fn remove_state_dir(dir: &Path) -> Result<(), ContainerError> {
    // Only restore mounts below a state directory: without its directory
    // (the common case) no mount table is read.
    if !dir.join(crate::state::CRIU_ROOT).exists() {
        return std::fs::remove_dir_all(dir).map_err(|e| ContainerError::io("remove", dir, e));
    }
    detach_mounts_below(dir);
    let left = husk_rootfs::mountinfo::mounts()
        .unwrap_or_default()
        .into_iter()
        .any(|m| m.mount_point.starts_with(dir));
    if left {
        return Err(ContainerError::MountBelow {
            dir: dir.to_path_buf(),
        });
    }
    std::fs::remove_dir_all(dir).map_err(|e| ContainerError::io("remove", dir, e))
}

/// SIGKILLs the container's stragglers in the cgroup and removes it.
///
/// With its own pid namespace the container's processes died with its
/// init; only those still in that namespace are waited for, and processes
/// of other containers sharing the cgroup (a pod) are left alone, as is the
/// cgroup while they use it. Without one (host or shared pid namespace),
/// everything in the cgroup is the container's, as runc counts it.
pub(crate) fn remove_cgroup(cg: &Cgroup, pid_ns: Option<&str>) -> Result<(), ContainerError> {
    for pid in cg.pids().unwrap_or_default() {
        if pid_ns.is_none() || crate::procs::pid_ns_of(pid).as_deref() == pid_ns {
            crate::procs::kill_and_wait(pid);
        }
    }
    let others = cg.pids().unwrap_or_default();
    if !others.is_empty() {
        tracing::debug!(
            "cgroup still holds {} processes of other containers; left in place",
            others.len()
        );
        return Ok(());
    }
    cg.destroy()?;
    // A cgroup this container joined rather than made (shared with a
    // container deleted before it) is removed once empty, as runc does; a
    // busy or non-empty one simply stays (rmdir refuses).
    for dir in cg.dirs() {
        let _ = std::fs::remove_dir(dir);
    }
    Ok(())
}

/// A container without a mount namespace: detaches husk's private bind of
/// the rootfs (`ours`), with everything below it. umount2 only reaches the
/// mount on top of a path, so:
/// - while the top is ours, or a husk bind that no container in this state
///   root claims any more (one whose container was deleted while another
///   sat on it), it is detached;
/// - another live container's bind on top stops the walk: ours goes with
///   that container's delete;
/// - the mounts that stood at the rootfs before create (an engine's
///   overlay) are never touched.
///
/// Where create died before learning its bind's id (`ours` None), every
/// unclaimed mount stacked since create began goes.
pub(crate) fn detach_host_mounts(root: &Path, rootfs: &Path, before: &[u64], ours: Option<u64>) {
    use husk_rootfs::mountinfo::mount_ids_at;
    let claimed: Vec<u64> = claimed_host_mounts(root)
        .into_iter()
        .filter(|id| Some(*id) != ours)
        .collect();
    while let Some(top) = mount_ids_at(rootfs).last().copied() {
        if before.contains(&top) || claimed.contains(&top) {
            if ours.is_some_and(|id| mount_ids_at(rootfs).contains(&id)) {
                tracing::debug!(
                    "{}: another container's mount sits on husk's bind (id {top}); it goes with that container",
                    rootfs.display()
                );
            }
            break;
        }
        if let Err(e) = nix::mount::umount2(rootfs, nix::mount::MntFlags::MNT_DETACH) {
            tracing::warn!("detach {}: {e}", rootfs.display());
            break;
        }
    }
}

/// The private rootfs binds of the containers in this state root that
/// still exist: never another's to detach, nor part of what stood at a
/// rootfs "before" (they go with their own container).
pub(crate) fn claimed_host_mounts(root: &Path) -> Vec<u64> {
    crate::state::list(root)
        .unwrap_or_default()
        .iter()
        .filter_map(|(c, _)| c.state.host_mount)
        .collect()
}
