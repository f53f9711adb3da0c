//! tmpcopyup: the contents of a directory copied into the tmpfs mounted
//! over it, keeping modes, owners and symlinks.

use std::os::unix::fs::{lchown, MetadataExt, PermissionsExt};
use std::path::Path;

pub fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    // `from` may be a /proc/self/fd/N link: follow it to the directory. The
    // directory's mode and owner carry over to the new tmpfs root.
    let md = std::fs::metadata(from)?;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(md.mode() & 0o7777))?;
    lchown(to, Some(md.uid()), Some(md.gid()))?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let md = entry.metadata()?;
        let ft = md.file_type();
        if ft.is_dir() {
            std::fs::create_dir(&dst)?;
            copy_tree(&src, &dst)?;
            continue;
        }
        if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src)?, &dst)?;
        } else if ft.is_file() {
            std::fs::copy(&src, &dst)?;
            std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(md.mode() & 0o7777))?;
        } else {
            // Sockets, fifos and device nodes are not copied, as with runc.
            continue;
        }
        lchown(&dst, Some(md.uid()), Some(md.gid()))?;
    }
    Ok(())
}
