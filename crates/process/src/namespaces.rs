//! Which namespaces to join by path and which to create, in the order the
//! kernel needs: the user namespace first, because it owns the others.

use crate::error::{Error, Result};
use husk_spec::{Namespace, NamespaceType};
use nix::sched::{setns, unshare, CloneFlags};
use std::fs::File;
use std::path::PathBuf;

pub fn clone_flag(t: NamespaceType) -> CloneFlags {
    match t {
        NamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        NamespaceType::Network => CloneFlags::CLONE_NEWNET,
        NamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        NamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        NamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        NamespaceType::User => CloneFlags::CLONE_NEWUSER,
        NamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        // nix 0.29 has no constant for it; the kernel's value.
        NamespaceType::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
    }
}

/// The namespaces of one container, split into "join" and "create".
pub struct Plan {
    /// Opened before anything changes, so a path like /proc/PID/ns/net still
    /// names the namespace the config meant.
    pub join: Vec<(NamespaceType, PathBuf, File)>,
    pub create: Vec<NamespaceType>,
}

impl Plan {
    pub fn new(namespaces: &[Namespace]) -> Result<Plan> {
        let mut join = Vec::new();
        let mut create = Vec::new();
        for ns in namespaces {
            match &ns.path {
                Some(p) => {
                    let f = File::open(p).map_err(|e| {
                        Error::field(
                            "linux.namespaces",
                            format!(
                                "cannot open {} namespace {}: {e}",
                                ns.typ.spec_name(),
                                p.display()
                            ),
                        )
                        .errno(e)
                    })?;
                    join.push((ns.typ, p.clone(), f));
                }
                None => create.push(ns.typ),
            }
        }
        // setns(user) must come first: it changes which other namespaces we
        // may join.
        join.sort_by_key(|(t, _, _)| *t != NamespaceType::User);
        Ok(Plan { join, create })
    }

    pub fn creates(&self, t: NamespaceType) -> bool {
        self.create.contains(&t)
    }

    pub fn joins(&self, t: NamespaceType) -> bool {
        self.join.iter().any(|(j, _, _)| *j == t)
    }

    pub fn join_all(&self) -> Result<()> {
        for (t, path, f) in &self.join {
            setns(f, clone_flag(*t)).map_err(|e| {
                Error::field(
                    "linux.namespaces",
                    format!(
                        "cannot join {} namespace {}: {e}",
                        t.spec_name(),
                        path.display()
                    ),
                )
                .errno(e)
            })?;
        }
        Ok(())
    }

    /// Creates every namespace in `types` with one unshare.
    pub fn unshare(types: &[NamespaceType]) -> Result<()> {
        if types.is_empty() {
            return Ok(());
        }
        let flags = types
            .iter()
            .fold(CloneFlags::empty(), |acc, t| acc | clone_flag(*t));
        unshare(flags).map_err(|e| {
            let names: Vec<_> = types.iter().map(|t| t.spec_name()).collect();
            Error::system(format!("cannot create namespaces {}: {e}", names.join(","))).errno(e)
        })
    }
}
