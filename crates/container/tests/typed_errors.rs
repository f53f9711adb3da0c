//! A failure inside the create chain reaches the caller typed: the config
//! field, the errno and the kind the init saw, through the sync channel
//! (create) or the start connection (start), not only as text. Real
//! containers (busybox), as root; its own harness so that the process is
//! single-threaded when create forks, as the husk binary is.

use husk_container::{create, delete, start, ContainerError, CreateOptions};
use husk_process::{ErrorKind, LaunchError};
use std::path::{Path, PathBuf};

fn main() {
    if !nix::unistd::geteuid().is_root() {
        println!("SKIP typed_errors: needs root");
        return;
    }
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists());
    let Some(busybox) = busybox else {
        println!("SKIP typed_errors: needs busybox-static");
        return;
    };
    a_bad_cwd_arrives_with_its_field_and_errno(busybox);
    a_failing_start_container_hook_arrives_typed(busybox);
    println!("typed_errors: 2 passed");
}

struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new(name: &str, busybox: &Path, config: serde_json::Value) -> Scratch {
        let dir = std::env::temp_dir().join(format!("husk-typed-{}-{name}", std::process::id()));
        let bin = dir.join("bundle/rootfs/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(dir.join("bundle/rootfs/proc")).unwrap();
        std::fs::create_dir_all(dir.join("root")).unwrap();
        std::fs::copy(busybox, bin.join("busybox")).unwrap();
        for applet in ["sh", "true", "false"] {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
        }
        std::fs::write(
            dir.join("bundle/config.json"),
            serde_json::to_vec(&config).unwrap(),
        )
        .unwrap();
        Scratch { dir }
    }

    fn opts(&self, id: &str) -> CreateOptions {
        CreateOptions {
            id: id.into(),
            bundle: self.dir.join("bundle"),
            root: self.dir.join("root"),
            ..Default::default()
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn config(id: &str, cwd: &str, hooks: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "ociVersion": "1.3.0",
        "root": {"path": "rootfs"},
        "process": {
            "args": ["/bin/true"],
            "cwd": cwd,
            "env": ["PATH=/bin"],
            "user": {"uid": 0, "gid": 0}
        },
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
        "hooks": hooks,
        "linux": {
            "cgroupsPath": format!("/husk-typed-{}-{id}", std::process::id()),
            "namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}]
        }
    })
}

fn a_bad_cwd_arrives_with_its_field_and_errno(busybox: &Path) {
    // A cwd below a regular file: the init's mkdir fails with ENOTDIR.
    let s = Scratch::new(
        "cwd",
        busybox,
        config("cwd", "/bin/busybox/below", serde_json::json!({})),
    );
    let Err(err) = create(&s.opts("cwd")) else {
        panic!("create must fail");
    };
    let ContainerError::Launch(LaunchError::Container(e)) = &err else {
        panic!("expected the container side's error, got {err:?}");
    };
    assert_eq!(e.kind, ErrorKind::Config, "{e:?}");
    assert_eq!(e.field.as_deref(), Some("process.cwd"), "{e:?}");
    assert_eq!(e.errno, Some(libc::ENOTDIR), "{e:?}");
    assert!(
        err.to_string()
            .starts_with("process.cwd: create /bin/busybox/below: "),
        "{err}"
    );
    assert!(
        !s.dir.join("root/cwd").exists(),
        "create left its state directory"
    );
}

fn a_failing_start_container_hook_arrives_typed(busybox: &Path) {
    let hooks = serde_json::json!({
        "startContainer": [{"path": "/bin/false"}]
    });
    let s = Scratch::new("hook", busybox, config("hook", "/", hooks));
    let mut c = create(&s.opts("hook")).expect("create");
    let err = start(&mut c).expect_err("start must fail");
    drop(c);
    let ContainerError::StartFailed { error, .. } = &err else {
        panic!("expected StartFailed, got {err:?}");
    };
    assert_eq!(error.kind, ErrorKind::Hook, "{error:?}");
    assert_eq!(
        error.field.as_deref(),
        Some("hooks.startContainer[0]"),
        "{error:?}"
    );
    assert!(
        err.to_string()
            .contains("hooks.startContainer[0] (/bin/false)"),
        "{err}"
    );
    delete(&s.dir.join("root"), "hook", true).expect("delete");
}
