//! husk-rootfs: builds the container's filesystem view inside its new mount
//! namespace: the config's mounts, devices, pivot_root, then masked and
//! read-only paths. Runs in the container init, before the user's program.

mod copyup;
mod devices;
mod error;
mod finalize;
mod idmap;
mod mount;
mod mount_attr;
pub mod mountinfo;
mod options;
mod pivot;
mod resolve;

pub use devices::{
    create_default_devices, create_devices, mount_console, setup_ptmx, DEFAULT_DEVICE_PATHS,
};
pub use error::RootfsError;
pub use finalize::{
    make_root_readonly, mask_paths, readonly_paths, remount_readonly, reopen_dev_null,
    set_root_propagation,
};
pub use idmap::{prepare_idmapped, wants_idmap};
pub use mount::{
    bind_root_privately, bind_sources, create_mountpoints, mount_all, prepare_root, CgroupBind,
    MountContext, ReadonlyLater,
};
pub use options::{parse_options, MountOptions, SUPPORTED_OPTIONS};
pub use pivot::{chroot_root, move_root, pivot_root};
pub use resolve::resolve_in_root;
