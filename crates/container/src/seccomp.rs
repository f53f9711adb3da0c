//! linux.seccomp for create and exec: compiled here, before anything is
//! forked, and the profile kept in the state directory so that `exec`
//! applies the container's filter whatever happens to the bundle.

use crate::{Container, ContainerError};
use husk_seccomp::Program;
use husk_spec::Seccomp;
use std::os::fd::OwnedFd;
use std::path::Path;

const PROFILE_FILE: &str = "seccomp.json";

/// Compiled filters, by profile: libseccomp takes about 10 ms for
/// containers-common's profile, more than the rest of `create`; reading a
/// cached program takes microseconds. Under --root, named so that it can
/// never be a container id.
const CACHE_DIR: &str = ".cache:seccomp";
const CACHE_MAGIC: &[u8; 8] = b"huskbpf1";
/// Beyond this many cached programs the cache starts over.
const CACHE_MAX: usize = 64;

/// A profile as JSON: what `create` saves for `exec`, and (with the husk
/// binary's identity) the cache key. Made once per command.
pub(crate) fn profile_json(s: &Seccomp) -> Vec<u8> {
    serde_json::to_vec(s).unwrap_or_default()
}

/// Compiles the profile (`json`, from [`profile_json`] or the state
/// directory), or takes it from the cache under `root`, where a hit needs no
/// parsing at all; unknown syscall names are skipped with one warning, as
/// runc skips them.
pub(crate) fn compile(root: &Path, json: &[u8]) -> Result<Program, ContainerError> {
    let key = cache_key(json);
    let dir = root.join(CACHE_DIR);
    let path = dir.join(format!("{:016x}", hash(&key)));
    let (program, skipped) = match read_cached(&path, &key) {
        Some(hit) => hit,
        None => {
            let (p, skipped) = husk_seccomp::compile(&parse(json)?)?;
            let skipped = skipped.unknown_syscalls.join(", ");
            if let Err(e) = write_cached(&dir, &path, &key, &skipped, &p) {
                tracing::debug!("seccomp cache: write {}: {e}", path.display());
            }
            (p, skipped)
        }
    };
    if !skipped.is_empty() {
        tracing::warn!("linux.seccomp: skipped syscalls this libseccomp does not know: {skipped}");
    }
    tracing::debug!(
        "linux.seccomp: {} BPF instructions, flags {:#x}",
        program.instructions(),
        program.flags
    );
    Ok(program)
}

pub(crate) fn parse(json: &[u8]) -> Result<Seccomp, ContainerError> {
    serde_json::from_slice(json)
        .map_err(|e| ContainerError::Other(format!("linux.seccomp (as saved by create): {e}")))
}

/// The identity of the husk binary as the caller saw it before sealing (the
/// sealed copy's own device and inode change with every run); set once by
/// the binary at start-up. Without it, /proc/self/exe's metadata.
static BINARY_IDENTITY: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Records the build identity that keys the seccomp cache.
pub fn set_binary_identity(id: String) {
    let _ = BINARY_IDENTITY.set(id);
}

/// A binary's identity: device, inode, size and mtime of its file.
pub fn binary_identity(m: &std::fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt;
    format!(
        "{}:{}:{}:{}.{}",
        m.dev(),
        m.ino(),
        m.size(),
        m.mtime(),
        m.mtime_nsec()
    )
}

/// The profile's JSON plus the identity of this husk binary (another build
/// may compile differently).
fn cache_key(json: &[u8]) -> Vec<u8> {
    let exe = match BINARY_IDENTITY.get() {
        Some(id) => id.clone(),
        None => std::fs::metadata("/proc/self/exe")
            .map(|m| binary_identity(&m))
            .unwrap_or_default(),
    };
    let mut key = Vec::with_capacity(json.len() + exe.len() + 1);
    key.extend_from_slice(json);
    key.push(b'\n');
    key.extend_from_slice(exe.as_bytes());
    key
}

fn hash(key: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    h.finish()
}

/// Layout: magic, key length (u32 LE), key, skipped-names length, names,
/// flags (u32 LE), BPF. The whole key is compared, so a hash collision is
/// a miss, never the wrong filter.
fn read_cached(path: &Path, key: &[u8]) -> Option<(Program, String)> {
    let data = std::fs::read(path).ok()?;
    let rest = data.strip_prefix(CACHE_MAGIC.as_slice())?;
    let (stored_key, rest) = take_sized(rest)?;
    if stored_key != key {
        return None;
    }
    let (skipped, rest) = take_sized(rest)?;
    let (flags, bpf) = rest.split_first_chunk::<4>()?;
    if bpf.is_empty() || bpf.len() % 8 != 0 {
        return None;
    }
    let program = Program {
        bpf: bpf.to_vec(),
        flags: u32::from_le_bytes(*flags),
    };
    Some((program, String::from_utf8(skipped.to_vec()).ok()?))
}

fn take_sized(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = b.split_first_chunk::<4>()?;
    let len = u32::from_le_bytes(*len) as usize;
    (rest.len() >= len).then(|| rest.split_at(len))
}

fn write_cached(
    dir: &Path,
    path: &Path,
    key: &[u8],
    skipped: &str,
    p: &Program,
) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    if std::fs::read_dir(dir)?.count() >= CACHE_MAX {
        for e in std::fs::read_dir(dir)?.flatten() {
            let _ = std::fs::remove_file(e.path());
        }
    }
    let mut data = Vec::with_capacity(CACHE_MAGIC.len() + key.len() + p.bpf.len() + 64);
    data.extend_from_slice(CACHE_MAGIC);
    for part in [key, skipped.as_bytes()] {
        data.extend_from_slice(&(part.len() as u32).to_le_bytes());
        data.extend_from_slice(part);
    }
    data.extend_from_slice(&p.flags.to_le_bytes());
    data.extend_from_slice(&p.bpf);
    // Written aside and renamed in: concurrent creates never read half a
    // program.
    let tmp = dir.join(format!(".tmp.{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    std::io::Write::write_all(&mut f, &data)?;
    drop(f);
    std::fs::rename(&tmp, path)
}

pub(crate) fn save_profile(dir: &Path, json: &[u8]) -> Result<(), ContainerError> {
    let path = dir.join(PROFILE_FILE);
    std::fs::write(&path, json).map_err(|e| ContainerError::io("write", path, e))
}

/// The profile JSON saved at create, if the container has one.
pub(crate) fn load_profile(c: &Container) -> Result<Option<Vec<u8>>, ContainerError> {
    let path = c.dir.join(PROFILE_FILE);
    match std::fs::read(&path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ContainerError::io("read", path, e)),
    }
}

/// Hands a NOTIFY listener of process `pid` to listenerPath, with the
/// container's state, in runc's format.
pub(crate) fn forward_listener(
    s: &Seccomp,
    pid: i32,
    state_json: &str,
    listener: OwnedFd,
) -> Result<(), String> {
    let Some(path) = s.listener_path.as_deref() else {
        return Err("linux.seccomp.listenerPath: not set".into());
    };
    let doc = husk_seccomp::process_state(
        husk_spec::OCI_VERSION,
        pid,
        s.listener_metadata.as_deref(),
        state_json,
    );
    husk_seccomp::send_listener(path, &doc, &listener).map_err(|e| e.to_string())
}
