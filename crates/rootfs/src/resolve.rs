//! Resolving a path from config.json inside the rootfs: symlinks are
//! followed as if the rootfs were `/`, so `..` and absolute link targets can
//! never lead out of it.

use crate::RootfsError;
use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

const MAX_SYMLINKS: usize = 255;

pub fn resolve_in_root(root: &Path, unsafe_path: &Path) -> Result<PathBuf, RootfsError> {
    let mut resolved = PathBuf::new();
    let mut todo: VecDeque<OsString> = components(unsafe_path);
    let mut links = 0;
    while let Some(c) = todo.pop_front() {
        if c == ".." {
            resolved.pop();
            continue;
        }
        let candidate = resolved.join(&c);
        let full = root.join(&candidate);
        match std::fs::symlink_metadata(&full) {
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(RootfsError::sys(
                        "resolve",
                        unsafe_path,
                        nix::errno::Errno::ELOOP,
                    ));
                }
                let target = std::fs::read_link(&full)
                    .map_err(|e| RootfsError::sys("readlink", &full, errno(&e)))?;
                if target.is_absolute() {
                    resolved = PathBuf::new();
                }
                let mut rest = components(&target);
                rest.extend(todo);
                todo = rest;
            }
            _ => resolved = candidate,
        }
    }
    Ok(root.join(resolved))
}

fn components(p: &Path) -> VecDeque<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

pub(crate) fn errno(e: &std::io::Error) -> nix::errno::Errno {
    nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn symlinks_stay_inside_the_root() {
        let root = std::env::temp_dir().join(format!("husk-resolve-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        symlink("/etc", root.join("abs")).unwrap();
        symlink("../../../../..", root.join("a/b/up")).unwrap();
        symlink("loop2", root.join("loop1")).unwrap();
        symlink("loop1", root.join("loop2")).unwrap();
        let r = |p: &str| resolve_in_root(&root, Path::new(p));
        assert_eq!(r("/abs/passwd").unwrap(), root.join("etc/passwd"));
        assert_eq!(r("/a/b/up/etc").unwrap(), root.join("etc"));
        assert_eq!(r("/../../x").unwrap(), root.join("x"));
        assert_eq!(r("/a/./b/../b").unwrap(), root.join("a/b"));
        assert!(r("/loop1").is_err());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
