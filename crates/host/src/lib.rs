//! husk-host: the steps around the container that husk takes as the host,
//! outside the create chain of husk-process: OCI hooks, moving
//! linux.netDevices into the container's network namespace, and
//! linux.intelRdt's resctrl groups. The chain's init calls back in for
//! what must happen inside: createContainer and startContainer hooks,
//! bringing lo and the moved devices up.

pub mod fds;
pub mod hooks;
pub mod intelrdt;
pub mod netdev;

use husk_spec::Spec;

/// What [`after_init_exists`] failed at; each names its config field.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    NetDevice(#[from] netdev::NetdevError),
    #[error(transparent)]
    IntelRdt(#[from] intelrdt::IntelRdtError),
}

/// In `create`, once the init exists and before it goes on: network
/// devices into its network namespace, the init into its resctrl group.
pub fn after_init_exists(id: &str, pid: i32, spec: &Spec) -> Result<(), Error> {
    let Some(linux) = &spec.linux else {
        return Ok(());
    };
    if let Some(devs) = &linux.net_devices {
        netdev::move_all(pid, devs)?;
    }
    if let Some(rdt) = &linux.intel_rdt {
        intelrdt::apply(id, pid, rdt)?;
    }
    Ok(())
}
