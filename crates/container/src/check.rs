//! `husk check`: every problem of a bundle, found before anything is
//! created. Layer 1 is the config alone (husk_spec::check, the same rules
//! create validates with); layer 2 is the config on this host
//! ([`host_problems`], which create also runs, before it forks, stopping
//! at the first error).

use crate::ContainerError;
use husk_cgroups::Cgroup;
use husk_spec::{Problems, Spec};
use std::path::{Path, PathBuf};
use std::str::FromStr;

#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    pub bundle: PathBuf,
    /// Look at this host too (layer 2).
    pub host: bool,
    /// `--systemd-cgroup`: the cgroup is a systemd scope.
    pub systemd_cgroup: bool,
}

/// Every problem of the bundle's config. `Err` only when config.json
/// cannot be read at all.
pub fn check_bundle(opts: &CheckOptions) -> Result<Problems, ContainerError> {
    let path = opts.bundle.join(husk_spec::CONFIG_FILE);
    let data = std::fs::read(&path).map_err(|e| ContainerError::Unreadable {
        path: path.clone(),
        reason: crate::error::io_text(&e),
    })?;
    let mut out = Problems::default();
    let Some(spec) = husk_spec::parse_collecting(&data, &mut out) else {
        return Ok(out);
    };
    husk_spec::check(&spec, &mut out);
    seccomp_problems(&spec, &mut out);
    if opts.host {
        let bundle = std::fs::canonicalize(&opts.bundle).unwrap_or(opts.bundle.clone());
        host_problems(&spec, &bundle, &mut out);
        cgroup_problems(&spec, opts.systemd_cgroup, &mut out);
        idmap_problems(&spec, &bundle, &mut out);
        capability_problems(&spec, &mut out);
        executable_problems(&spec, &bundle, &mut out);
    }
    Ok(out)
}

/// The seccomp profile compiled as create compiles it: its errors, and the
/// syscall names this libseccomp does not know (create skips them).
fn seccomp_problems(spec: &Spec, out: &mut Problems) {
    let Some(s) = spec.linux.as_ref().and_then(|l| l.seccomp.as_ref()) else {
        return;
    };
    match husk_seccomp::compile(s) {
        Ok((_, skipped)) if !skipped.unknown_syscalls.is_empty() => out.warning(
            "linux.seccomp.syscalls",
            format!(
                "syscalls this libseccomp does not know are skipped: {}",
                skipped.unknown_syscalls.join(", ")
            ),
        ),
        Ok(_) => {}
        Err(e) => {
            let msg = e.to_string();
            match msg.split_once(": ") {
                Some((f, r)) if f.starts_with("linux.seccomp") => out.error(f, r),
                _ => out.error("linux.seccomp", msg),
            }
        }
    }
}

/// The config on this host: what create checks before it forks (it stops
/// at the first error of these), in one place. (The cgroup's controllers
/// are checked by Cgroup::create in create, by [`cgroup_problems`] here:
/// the same Cgroup::check underneath.)
pub(crate) fn host_problems(spec: &Spec, bundle: &Path, out: &mut Problems) {
    if let Some(root) = &spec.root {
        let cfg = bundle.join(&root.path);
        match std::fs::canonicalize(&cfg) {
            Err(e) => out.error(
                "root.path",
                format!("{}: {}", cfg.display(), crate::error::io_text(&e)),
            ),
            Ok(p) if !p.is_dir() => {
                out.error("root.path", format!("{} is not a directory", p.display()))
            }
            Ok(_) => {}
        }
    }
    if let Some(p) = &spec.process {
        if let Err(e) = husk_process::check_host(p) {
            match e.field.as_deref() {
                Some(f) if f.starts_with("process.") => out.error(f, &e.detail),
                _ => out.error("process", e.to_string()),
            }
        }
    }
    // Bind sources: a missing one fails the mount in the init (as root;
    // a user namespace's own reach is checked there).
    for (i, src) in husk_rootfs::bind_sources(&spec.mounts, bundle) {
        if let Err(e) = src.symlink_metadata() {
            if e.kind() == std::io::ErrorKind::NotFound {
                out.error(
                    format!("mounts[{i}].source"),
                    format!(
                        "{}: no such file or directory (the bind onto {} needs it)",
                        src.display(),
                        spec.mounts[i].destination.display()
                    ),
                );
            }
        }
    }
    let linux = spec.linux_or_default();
    for (i, ns) in linux.namespaces.iter().enumerate() {
        match &ns.path {
            Some(p) => {
                if std::fs::symlink_metadata(p).is_err() {
                    out.error(
                        format!("linux.namespaces[{i}].path"),
                        format!(
                            "the {} namespace to join, {}, does not exist",
                            ns.typ.spec_name(),
                            p.display()
                        ),
                    );
                }
            }
            None => {
                let f = format!("/proc/self/ns/{}", ns.typ.proc_name());
                if std::fs::symlink_metadata(&f).is_err() {
                    out.error(
                        format!("linux.namespaces[{i}].type"),
                        format!(
                            "this kernel has no {} namespace ({f} is missing)",
                            ns.typ.spec_name()
                        ),
                    );
                }
            }
        }
    }
    if let Some(devs) = &linux.net_devices {
        for host in devs.keys() {
            if !Path::new("/sys/class/net").join(host).exists() {
                out.error(
                    format!("linux.netDevices.{host}"),
                    "no such network device on this host",
                );
            }
        }
    }
    if linux.intel_rdt.is_some() && !husk_host::intelrdt::resctrl_mounted() {
        out.error(
            "linux.intelRdt",
            "no resctrl filesystem is mounted at /sys/fs/resctrl (Intel RDT is not available)",
        );
    }
    if !nix::unistd::geteuid().is_root() {
        rootless_problems(linux, out);
    }
}

/// The controllers linux.resources needs, on this host (Cgroup::validate:
/// the checks of Cgroup::create, nothing made).
fn cgroup_problems(spec: &Spec, systemd: bool, out: &mut Problems) {
    let linux = spec.linux_or_default();
    if let Some(res) = &linux.resources {
        let cg = match systemd {
            true => Cgroup::resolve_systemd(linux.cgroups_path.as_deref(), "husk-check"),
            false => Cgroup::resolve(linux.cgroups_path.as_deref(), "husk-check"),
        };
        match cg.and_then(|c| c.validate(res)) {
            Ok(()) => {}
            Err(husk_cgroups::CgroupError::ControllerMissing { field, controller }) => out.error(
                field,
                format!(
                    "the {controller} controller is not available on this host: remove the field or enable the controller"
                ),
            ),
            Err(e) => {
                let msg = e.to_string();
                match msg.split_once(": ") {
                    Some((f, r)) if f.starts_with("linux.") => out.error(f, r),
                    _ => out.error("linux.cgroupsPath", msg),
                }
            }
        }
    }
}

/// Idmapped mounts made as create makes them (on the host side, before
/// the fork), then dropped: the filesystem's support shows here.
fn idmap_problems(spec: &Spec, bundle: &Path, out: &mut Problems) {
    if !spec
        .mounts
        .iter()
        .any(|m| husk_rootfs::wants_idmap(m).is_some())
    {
        return;
    }
    let linux = spec.linux_or_default();
    if let Err(e) = husk_rootfs::prepare_idmapped(
        &spec.mounts,
        bundle,
        &linux.uid_mappings,
        &linux.gid_mappings,
    ) {
        let msg = e.to_string();
        match msg.split_once(": ") {
            Some((f, r)) if f.starts_with("mounts[") => out.error(f, r),
            _ => out.error("mounts", msg),
        }
    }
}

/// An unprivileged user maps more than its own id only through newuidmap
/// and newgidmap, within the ranges /etc/subuid and /etc/subgid grant it.
fn rootless_problems(linux: &husk_spec::Linux, out: &mut Problems) {
    let uid = nix::unistd::geteuid().as_raw();
    let gid = nix::unistd::getegid().as_raw();
    let name = nix::unistd::User::from_uid(uid.into())
        .ok()
        .flatten()
        .map(|u| u.name);
    for (field, maps, own, helper, file) in [
        (
            "linux.uidMappings",
            &linux.uid_mappings,
            uid,
            "newuidmap",
            "/etc/subuid",
        ),
        (
            "linux.gidMappings",
            &linux.gid_mappings,
            gid,
            "newgidmap",
            "/etc/subgid",
        ),
    ] {
        if maps.is_empty() || matches!(maps.as_slice(), [m] if m.size == 1 && m.host_id == own) {
            continue;
        }
        if husk_process::find_executable(helper, &["PATH=/usr/sbin:/usr/bin:/sbin:/bin".into()])
            .is_err()
        {
            out.error(
                field,
                format!("more than your own id needs {helper} (apt-get install uidmap)"),
            );
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if text.trim().is_empty() {
            // Ranges may come from elsewhere (NSS, libsubid): newuidmap
            // decides.
            continue;
        }
        let mut ranges: Vec<(u64, u64)> = text
            .lines()
            .filter_map(|l| {
                let mut f = l.split(':');
                let who = f.next()?;
                let start: u64 = f.next()?.trim().parse().ok()?;
                let count: u64 = f.next()?.trim().parse().ok()?;
                (who == uid.to_string() || Some(who) == name.as_deref())
                    .then_some((start, start + count))
            })
            .collect();
        // Adjacent or overlapping grants count as one (as shadow's newuidmap
        // takes them).
        ranges.sort();
        let mut merged: Vec<(u64, u64)> = Vec::new();
        for (lo, hi) in ranges {
            match merged.last_mut() {
                Some(last) if lo <= last.1 => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        for (i, m) in maps.iter().enumerate() {
            if m.size == 1 && m.host_id == own {
                continue;
            }
            let (lo, hi) = (m.host_id as u64, m.host_id as u64 + m.size as u64);
            if !merged.iter().any(|(s, e)| *s <= lo && hi <= *e) {
                out.error(
                    format!("{field}[{i}]"),
                    format!(
                        "host ids {lo}..{} are not granted to you in {file}",
                        hi.saturating_sub(1)
                    ),
                );
            }
        }
    }
}

/// Capabilities create ignores: unknown names, and those the host's
/// bounding set lacks (they cannot be granted).
fn capability_problems(spec: &Spec, out: &mut Problems) {
    let Some(c) = spec.process.as_ref().and_then(|p| p.capabilities.as_ref()) else {
        return;
    };
    let bounding = caps::read(None, caps::CapSet::Bounding).unwrap_or_default();
    for (set, names) in [
        ("bounding", &c.bounding),
        ("effective", &c.effective),
        ("permitted", &c.permitted),
        ("inheritable", &c.inheritable),
        ("ambient", &c.ambient),
    ] {
        for (i, n) in names.iter().flatten().enumerate() {
            let field = format!("process.capabilities.{set}[{i}]");
            match caps::Capability::from_str(n) {
                Err(_) => out.warning(field, format!("unknown capability {n:?}: ignored")),
                Ok(cap) if !bounding.is_empty() && !bounding.contains(&cap) => out.warning(
                    field,
                    format!("{n} is not in this host's bounding set: the container cannot have it"),
                ),
                Ok(_) => {}
            }
        }
    }
}

/// `process.args[0]` looked for in the rootfs along the process's PATH. A
/// warning: a mount may still provide it.
fn executable_problems(spec: &Spec, bundle: &Path, out: &mut Problems) {
    let (Some(p), Some(root)) = (&spec.process, &spec.root) else {
        return;
    };
    let Some(arg0) = p.args.first() else { return };
    let rootfs = bundle.join(&root.path);
    if !rootfs.is_dir() {
        return;
    }
    let candidates: Vec<PathBuf> = if arg0.contains('/') {
        vec![PathBuf::from(arg0)]
    } else {
        let path = p
            .env
            .iter()
            .rev()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or("");
        path.split(':')
            .filter(|d| d.starts_with('/'))
            .map(|d| Path::new(d).join(arg0))
            .collect()
    };
    let covered = |c: &Path| spec.mounts.iter().any(|m| c.starts_with(&m.destination));
    let found = candidates.iter().any(|c| {
        covered(c)
            || husk_rootfs::resolve_in_root(&rootfs, c).is_ok_and(|h| {
                use std::os::unix::fs::PermissionsExt;
                h.metadata()
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            })
    });
    if !found {
        let msg = if arg0.contains('/') {
            format!(
                "{arg0:?}: no such file or directory in the rootfs (unless a mount provides it)"
            )
        } else {
            format!(
                "{arg0:?}: executable file not found in $PATH of the rootfs (unless a mount provides it)"
            )
        };
        out.warning("process.args[0]", msg);
    }
}

/// For create: the host problems, the first error as create's error.
pub(crate) fn host_first_error(spec: &Spec, bundle: &Path) -> Result<(), ContainerError> {
    let mut out = Problems::default();
    host_problems(spec, bundle, &mut out);
    let first = out
        .errors()
        .next()
        .map(|p| ContainerError::config(p.field.clone(), p.message.clone()));
    first.map_or(Ok(()), Err)
}
