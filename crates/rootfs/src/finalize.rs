//! Steps after pivot_root: read-only and masked paths, a read-only root,
//! the root's final propagation.

use crate::mount::current_flags;
use crate::options::propagation;
use crate::RootfsError;
use nix::mount::{mount, MsFlags};
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
                Some("/dev/null"),
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
