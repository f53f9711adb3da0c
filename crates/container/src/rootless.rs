//! Running as an unprivileged user (`husk spec --rootless` bundles): what
//! differs from root is decided here.

use crate::ContainerError;
use husk_cgroups::CgroupError;
use husk_spec::Resources;

/// True when husk runs without root's privileges on the host.
pub fn is_rootless() -> bool {
    !nix::unistd::geteuid().is_root()
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
        return Err(ContainerError::Other(format!(
            "linux.resources: {e}: an unprivileged user can only set limits in a cgroup \
             delegated to it (cgroup v2); remove linux.resources or run as root"
        )));
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
    fn device_rules_alone_are_not_limits() {
        let r: Resources =
            serde_json::from_str(r#"{"devices":[{"allow":false,"access":"rwm"}]}"#).unwrap();
        assert!(!asks_for_limits(Some(&r)));
        assert!(!asks_for_limits(None));
        let r: Resources = serde_json::from_str(r#"{"pids":{"limit":10}}"#).unwrap();
        assert!(asks_for_limits(Some(&r)));
    }
}
