//! `restore`: a container made again from a checkpoint image by CRIU, under
//! a (possibly new) id, with its cgroup made from the bundle's config.

use crate::checkpoint::{base_opts, criu_err, external_mounts, open_dir, with_log, CriuFlags};
use crate::state::{Container, StateData};
use crate::teardown::Provisioned;
use crate::ContainerError;
use husk_criu::{rpc, ReqType};
use husk_host::hooks;
use nix::mount::{mount, MsFlags};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Clone)]
pub struct RestoreOptions {
    pub id: String,
    pub bundle: PathBuf,
    pub root: PathBuf,
    pub flags: CriuFlags,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub systemd_cgroup: bool,
    /// `--lsm-profile` / `--lsm-mount-context` (CRIU 3.16 or later).
    pub lsm_profile: Option<String>,
    pub lsm_mount_context: Option<String>,
}

/// Restores the container and returns it (locked), its init running and a
/// child of this process. On error nothing is left: no process, cgroup,
/// mount or state directory.
pub fn restore(opts: &RestoreOptions) -> Result<Container, ContainerError> {
    crate::validate_id(&opts.id)?;
    let bundle = std::fs::canonicalize(&opts.bundle)
        .map_err(|e| ContainerError::io("bundle", &opts.bundle, e))?;
    let spec = husk_spec::load_bundle(&bundle)?;
    let terminal = spec.process.as_ref().is_some_and(|p| p.terminal);
    if terminal && opts.console_socket.is_none() {
        return Err(ContainerError::config(
            "process.terminal",
            "is true: restore needs --console-socket",
        ));
    }
    let root_path = &spec.root.as_ref().expect("validated").path;
    let rootfs = std::fs::canonicalize(bundle.join(root_path)).map_err(|e| {
        ContainerError::config("root.path", format!("{}: {e}", root_path.display()))
    })?;
    let criu = husk_criu::find().map_err(criu_err)?;
    let version = husk_criu::version(&criu).map_err(criu_err)?;
    version.require(30000, "3.0", "restore").map_err(criu_err)?;
    let f = &opts.flags;
    if !f.image_path.join("inventory.img").is_file() {
        return Err(ContainerError::Usage(format!(
            "--image-path {}: not a checkpoint image (no inventory.img)",
            f.image_path.display()
        )));
    }
    let images = open_dir(&f.image_path, "--image-path")?;
    let work = f
        .work_path
        .as_ref()
        .map(|w| {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(w)
                .map_err(|e| ContainerError::io("--work-path", w, e))?;
            open_dir(w, "--work-path")
        })
        .transpose()?;
    let log = f
        .work_path
        .as_ref()
        .unwrap_or(&f.image_path)
        .join("restore.log");
    // The flags are checked before anything is made.
    let mut o = base_opts(f, &images, work.as_ref(), "restore.log")?;
    if opts.lsm_profile.is_some() || opts.lsm_mount_context.is_some() {
        version
            .require(31600, "3.16", "--lsm-profile and --lsm-mount-context")
            .map_err(criu_err)?;
        o.lsm_profile = opts.lsm_profile.clone();
        o.lsm_mount_context = opts.lsm_mount_context.clone();
    }

    let linux = spec.linux_or_default();
    let cgroup =
        crate::state::resolve_cgroup(opts.systemd_cgroup, linux.cgroups_path.as_deref(), &opts.id)?;
    let state = StateData::creating(&opts.id, &bundle, &rootfs, &spec, &cgroup);
    // From here a failure tears down what the state records (the code
    // `delete` runs), as for create.
    let mut c = Provisioned::start(&opts.root, state)?;
    let dir = c.dir.clone();
    c.save()?;
    cgroup.create(linux.resources.as_ref())?;
    c.state.cgroup = Some(cgroup.clone());

    husk_rootfs::create_mountpoints(&rootfs, &spec.mounts, &bundle)
        .map_err(ContainerError::Rootfs)?;
    // CRIU wants the root as a mount point of its own (as runc binds it).
    // Whatever happens to husk from here, delete detaches it before it
    // removes the state directory (crate::teardown::remove_state_dir).
    let criu_root = dir.join(crate::state::CRIU_ROOT);
    std::fs::DirBuilder::new()
        .mode(0o755)
        .create(&criu_root)
        .map_err(|e| ContainerError::io("mkdir", &criu_root, e))?;
    mount(
        Some(&rootfs),
        &criu_root,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| ContainerError::io("bind for criu", &rootfs, e.into()))?;

    o.root = Some(criu_root.to_string_lossy().into_owned());
    o.rst_sibling = Some(true);
    o.evasive_devices = Some(true);
    let mut seen = std::collections::BTreeSet::new();
    for m in external_mounts(&spec, &c.state, None) {
        if seen.insert(m.name.clone()) {
            o.ext_mnt.push(rpc::ExtMountMap {
                key: m.name,
                val: m.host.to_string_lossy().into_owned(),
            });
        }
    }
    // Namespaces joined by path: net and pid are inherited descriptors,
    // the others joined by file.
    let mut extra: Vec<OwnedFd> = Vec::new();
    for n in &linux.namespaces {
        let Some(p) = &n.path else { continue };
        use husk_spec::NamespaceType as T;
        let name = match n.typ {
            T::Network | T::Pid => {
                let f = open_ns(p)?;
                o.inherit_fd.push(rpc::InheritFd {
                    key: if n.typ == T::Network {
                        "extRootNetNS".into()
                    } else {
                        "extRootPidNS".into()
                    },
                    fd: 4 + extra.len() as i32,
                });
                extra.push(f);
                continue;
            }
            T::Ipc => "ipc",
            T::Uts => "uts",
            T::Mount => "mnt",
            T::User => "user",
            _ => {
                return Err(ContainerError::config(
                    "linux.namespaces",
                    format!("{} given by path cannot be restored into", p.display()),
                ))
            }
        };
        o.join_ns.push(rpc::JoinNamespace {
            ns: name.into(),
            ns_file: p.to_string_lossy().into_owned(),
            extra_opt: None,
        });
    }
    // The init's stdio pipes (of the checkpointed container) become
    // ours: CRIU's stdio, which it gets from us.
    if let Ok(d) = std::fs::read(f.image_path.join(crate::checkpoint::DESCRIPTORS)) {
        let fds: Vec<String> = serde_json::from_slice(&d).unwrap_or_default();
        for (i, what) in fds.iter().enumerate().take(3) {
            if what.starts_with("pipe:") {
                o.inherit_fd.push(rpc::InheritFd {
                    key: what.clone(),
                    fd: i as i32,
                });
            }
        }
    }
    let extra_raw: Vec<i32> = extra.iter().map(|f| f.as_raw_fd()).collect();
    let session = husk_criu::Session::start(&criu, &extra_raw, false).map_err(criu_err)?;
    drop(extra);
    // CRIU puts the tasks it makes in its own cgroups: the container's.
    c.cgroup_in_use();
    cgroup.add_pid(session.pid())?;
    o.cg_root = cgroup_roots(session.pid());

    let own_netns = linux
        .namespaces
        .iter()
        .any(|n| n.typ == husk_spec::NamespaceType::Network && n.path.is_none());
    let own_pidns = linux
        .namespaces
        .iter()
        .any(|n| n.typ == husk_spec::NamespaceType::Pid && n.path.is_none());
    let req = rpc::Req {
        r#type: ReqType::Restore as i32,
        opts: Some(o),
        ..Default::default()
    };
    let mut restored_pid = 0;
    let mut notify_err = None;
    let result = session.run("restore", req, |script, pid, fd| {
        let r = on_notify(
            script,
            pid,
            fd,
            &mut c,
            &spec,
            own_netns,
            own_pidns,
            opts.console_socket.as_deref(),
        );
        if script == "post-restore" && pid > 0 {
            restored_pid = pid;
        }
        r.inspect_err(|e| notify_err = Some(e.clone()))
    });
    let resp = match result {
        Ok(r) => r,
        Err(e) => {
            return Err(match notify_err {
                Some(n) => ContainerError::Criu(n),
                None => with_log(e, &log),
            })
        }
    };
    let pid = match resp.restore.map(|r| r.pid) {
        Some(p) if p > 0 => p,
        _ => restored_pid,
    };
    if pid <= 0 {
        return Err(ContainerError::Criu(
            "criu restore: no pid in its reply".into(),
        ));
    }
    if c.state.pid != pid {
        record_pid(&mut c, pid, own_pidns).map_err(ContainerError::Criu)?;
    }
    c.state.creating = false;
    c.save()?;
    if let Some(p) = &opts.pid_file {
        crate::create::write_pid_file(p, pid)?;
    }
    // The restored tasks hold their own copy of the mount tree.
    crate::teardown::detach_mounts_below(&criu_root);
    let _ = std::fs::remove_dir(&criu_root);
    Ok(c.done())
}

#[allow(clippy::too_many_arguments)]
fn on_notify(
    script: &str,
    pid: i32,
    fd: Option<OwnedFd>,
    c: &mut Container,
    spec: &husk_spec::Spec,
    own_netns: bool,
    own_pidns: bool,
    console_socket: Option<&Path>,
) -> Result<(), String> {
    match script {
        "setup-namespaces" => {
            // A network namespace of the container's own is left empty by
            // CRIU: lo comes up here, as create brings it up.
            if own_netns {
                in_netns(pid, || {
                    husk_host::netdev::loopback_up().map_err(|e| e.to_string())
                })?;
            }
            record_pid(c, pid, own_pidns)?;
            if let Some(h) = &spec.hooks {
                let state = c.oci_state_json(crate::Status::Creating);
                hooks::run_all("prestart", &h.prestart, state.as_bytes())
                    .map_err(|e| e.to_string())?;
                hooks::run_all("createRuntime", &h.create_runtime, state.as_bytes())
                    .map_err(|e| e.to_string())?;
            }
            Ok(())
        }
        "post-restore" => record_pid(c, pid, own_pidns),
        "orphan-pts-master" => {
            let master = fd.ok_or("criu sent orphan-pts-master without a descriptor")?;
            let sock = console_socket
                .ok_or("the checkpoint has a terminal: restore needs --console-socket")?;
            crate::console::send_master(sock, &master)
        }
        _ => Ok(()),
    }
}

fn record_pid(c: &mut Container, pid: i32, own_pidns: bool) -> Result<(), String> {
    if pid <= 0 {
        return Ok(());
    }
    let (start, _) = husk_process::process_start_time(pid)
        .ok_or_else(|| format!("restored process {pid} is gone"))?;
    c.state.pid = pid;
    c.state.pid_start = start;
    if own_pidns {
        c.state.pid_ns = crate::procs::pid_ns_of(pid);
    }
    c.save().map_err(|e| e.to_string())
}

/// Runs `f` in the network namespace of `pid` (husk is single-threaded:
/// setns moves the whole process, and back).
fn in_netns(pid: i32, f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    use nix::sched::{setns, CloneFlags};
    let own =
        std::fs::File::open("/proc/self/ns/net").map_err(|e| format!("open own netns: {e}"))?;
    let target = std::fs::File::open(format!("/proc/{pid}/ns/net"))
        .map_err(|e| format!("open netns of {pid}: {e}"))?;
    setns(&target, CloneFlags::CLONE_NEWNET).map_err(|e| format!("setns: {e}"))?;
    let r = f();
    setns(&own, CloneFlags::CLONE_NEWNET).map_err(|e| format!("setns back: {e}"))?;
    r
}

fn open_ns(p: &Path) -> Result<OwnedFd, ContainerError> {
    std::fs::File::open(p)
        .map(OwnedFd::from)
        .map_err(|e| ContainerError::config("linux.namespaces", format!("{}: {e}", p.display())))
}

/// CRIU's cgroup roots: where each hierarchy's tasks go, read from the
/// cgroups the CRIU process was just put in (runc's way).
fn cgroup_roots(criu_pid: i32) -> Vec<rpc::CgroupRoot> {
    let text = std::fs::read_to_string(format!("/proc/{criu_pid}/cgroup")).unwrap_or_default();
    let mut out = Vec::new();
    for line in text.lines() {
        let mut it = line.splitn(3, ':');
        let (_, ctrls, path) = match (it.next(), it.next(), it.next()) {
            (Some(a), Some(b), Some(c)) => (a, b, c),
            _ => continue,
        };
        if ctrls.is_empty() {
            out.push(rpc::CgroupRoot {
                ctrl: Some(String::new()),
                path: path.into(),
            });
            continue;
        }
        for ctrl in ctrls.split(',') {
            out.push(rpc::CgroupRoot {
                ctrl: Some(ctrl.into()),
                path: path.into(),
            });
        }
    }
    out
}
