//! Running as an unprivileged user (`husk spec --rootless` bundles): what
//! differs from root is decided here.

use crate::ContainerError;
use husk_cgroups::CgroupError;
use husk_spec::Resources;

/// True when husk runs without root's privileges on the host: as an
/// unprivileged user, or as the root of a user namespace, which is where
/// rootless podman runs its runtime (runc's `--rootless auto`).
pub fn is_rootless() -> bool {
    !nix::unistd::geteuid().is_root() || in_user_namespace()
}

pub use husk_process::in_user_namespace;

/// runc's rule for the default state root: `$XDG_RUNTIME_DIR/husk` for an
/// unprivileged user, and for the root of a user namespace unless `$USER`
/// is root (rootless podman: the user's runtime dir, as the namespace's
/// root cannot write /run); the host's root keeps /run/husk.
pub fn honours_xdg_runtime_dir(euid_is_root: bool, in_userns: bool, user: Option<&str>) -> bool {
    !euid_is_root || (in_userns && user != Some("root"))
}

/// An unprivileged user whose cgroup could not be made (no delegated
/// subtree, or cgroup v1) runs without one, as runc's rootless mode does,
/// unless the config asks for limits: those would silently not apply.
pub(crate) fn tolerate_cgroup_error(
    e: CgroupError,
    resources: Option<&Resources>,
) -> Result<(), ContainerError> {
    if !is_rootless() || !e.is_permission_denied() {
        return Err(e.into());
    }
    if asks_for_limits(resources) {
        return Err(ContainerError::config(
            "linux.resources",
            format!(
                "{e}: an unprivileged user can only set limits in a cgroup \
                 delegated to it (cgroup v2); remove linux.resources or run as root"
            ),
        ));
    }
    tracing::debug!("rootless: running without a cgroup ({e})");
    Ok(())
}

/// Any limit besides device rules (which a user namespace enforces anyway:
/// its root cannot mknod or open host devices it was not given).
fn asks_for_limits(resources: Option<&Resources>) -> bool {
    let Some(r) = resources else { return false };
    let Ok(serde_json::Value::Object(mut fields)) = serde_json::to_value(r) else {
        return true;
    };
    fields.remove("devices");
    fields.values().any(|v| !v.is_null())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xdg_rule() {
        assert!(honours_xdg_runtime_dir(false, false, Some("root")));
        assert!(!honours_xdg_runtime_dir(true, false, Some("alice")));
        assert!(honours_xdg_runtime_dir(true, true, Some("alice")));
        assert!(honours_xdg_runtime_dir(true, true, None));
        assert!(!honours_xdg_runtime_dir(true, true, Some("root")));
    }

    #[test]
    fn device_rules_alone_are_not_limits() {
        let r: Resources =
            serde_json::from_str(r#"{"devices":[{"allow":false,"access":"rwm"}]}"#).unwrap();
        assert!(!asks_for_limits(Some(&r)));
        assert!(!asks_for_limits(None));
        let r: Resources = serde_json::from_str(r#"{"pids":{"limit":10}}"#).unwrap();
        assert!(asks_for_limits(Some(&r)));
    }
}
