//! NOTIFY_SOCKET passthrough (sd_notify from inside the container, podman's
//! --sdnotify=container), as runc does it: `create` shows the state dir's
//! notify/ directory at /run/notify in the container and points
//! NOTIFY_SOCKET there; `start` listens on notify/notify.sock and passes
//! READY=1 (with MAINPID) on to the caller's socket.

use crate::{Container, ContainerError};
use husk_spec::{Mount, Spec};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::Duration;

const DIR: &str = "notify";
const SOCKET: &str = "notify.sock";
const IN_CONTAINER_DIR: &str = "/run/notify";

fn host_socket() -> Option<String> {
    std::env::var("NOTIFY_SOCKET")
        .ok()
        .filter(|s| !s.is_empty())
}

/// At create: when the caller has a NOTIFY_SOCKET, adds the mount and the
/// variable to the container's spec.
pub(crate) fn setup_spec(spec: &mut Spec, state_dir: &Path) -> Result<(), ContainerError> {
    if host_socket().is_none() {
        return Ok(());
    }
    let Some(process) = spec.process.as_mut() else {
        return Ok(());
    };
    let dir = state_dir.join(DIR);
    std::fs::create_dir(&dir).map_err(|e| ContainerError::io("create", &dir, e))?;
    process
        .env
        .push(format!("NOTIFY_SOCKET={IN_CONTAINER_DIR}/{SOCKET}"));
    spec.mounts.push(Mount {
        destination: IN_CONTAINER_DIR.into(),
        typ: Some("bind".into()),
        source: Some(dir),
        options: ["bind", "nosuid", "noexec", "nodev", "ro"]
            .map(String::from)
            .to_vec(),
        ..Default::default()
    });
    Ok(())
}

/// At start, before the init is released: the socket the container's
/// process will notify.
pub(crate) fn listen(c: &Container) -> Result<Option<UnixDatagram>, ContainerError> {
    if host_socket().is_none() || !c.dir.join(DIR).is_dir() {
        return Ok(None);
    }
    let path = c.dir.join(DIR).join(SOCKET);
    let _ = std::fs::remove_file(&path);
    let short = c.short_path(&format!("{DIR}/{SOCKET}"));
    let sock = UnixDatagram::bind(&short).map_err(|e| ContainerError::io("bind", &path, e))?;
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .map_err(|e| ContainerError::io("configure", &path, e))?;
    Ok(Some(sock))
}

/// Waits for READY=1 from the container (as long as it lives) and passes it
/// on to the caller's NOTIFY_SOCKET with the container's MAINPID.
pub(crate) fn forward_ready(c: &Container, sock: UnixDatagram) -> Result<(), ContainerError> {
    let Some(host) = host_socket() else {
        return Ok(());
    };
    let mut buf = [0u8; 4096];
    loop {
        match sock.recv(&mut buf) {
            Ok(n) => {
                let msg = String::from_utf8_lossy(&buf[..n]);
                if msg.lines().any(|l| l == "READY=1") {
                    let out = format!("READY=1\nMAINPID={}\n", c.state.pid);
                    return send_to_host(&host, out.as_bytes())
                        .map_err(|e| ContainerError::io("NOTIFY_SOCKET", &host, e));
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if !c.init_alive() {
                    return Ok(());
                }
            }
            Err(e) => return Err(ContainerError::io("receive", c.dir.join(DIR), e)),
        }
    }
}

/// `@name` is an abstract socket, anything else a path.
fn send_to_host(host: &str, msg: &[u8]) -> std::io::Result<()> {
    let s = UnixDatagram::unbound()?;
    if let Some(name) = host.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
        s.send_to_addr(msg, &addr)?;
    } else {
        s.send_to(msg, host)?;
    }
    Ok(())
}
