//! Compiled filters, by profile: libseccomp takes about 10 ms for
//! containers-common's profile, more than the rest of `create`; reading a
//! cached program takes microseconds.
//!
//! An entry is keyed by the profile's JSON and the identity of the husk
//! binary (another build may compile differently), and carries the whole
//! key, so a damaged or foreign entry is a miss, never the wrong filter.
//! The file names, the layout and the key are what husk has always written:
//! changing any of them turns every existing entry into a miss.

use crate::{Program, SeccompError, Skipped};
use std::path::{Path, PathBuf};

/// Under --root, named so that it can never be a container id.
const CACHE_DIR: &str = ".cache:seccomp";
const CACHE_MAGIC: &[u8; 8] = b"huskbpf1";
/// Beyond this many cached programs the cache starts over.
const CACHE_MAX: usize = 64;

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

fn this_binary() -> String {
    match BINARY_IDENTITY.get() {
        Some(id) => id.clone(),
        None => std::fs::metadata("/proc/self/exe")
            .map(|m| binary_identity(&m))
            .unwrap_or_default(),
    }
}

/// The program for the profile `json`, from the cache under `root` (a hit
/// needs no parsing at all) or else from `compile`, whose result is then
/// cached. Skipped syscall names get one warning either way, as runc
/// warns about them; failing to write the cache is only logged.
pub fn compile_cached<E>(
    root: &Path,
    json: &[u8],
    compile: impl FnOnce() -> Result<(Program, Skipped), E>,
) -> Result<Program, E> {
    let program = cached(&root.join(CACHE_DIR), &this_binary(), json, compile)?;
    tracing::debug!(
        "linux.seccomp: {} BPF instructions, flags {:#x}",
        program.instructions(),
        program.flags
    );
    Ok(program)
}

/// [`compile_cached`] with the directory and the binary's identity given.
fn cached<E>(
    dir: &Path,
    exe: &str,
    json: &[u8],
    compile: impl FnOnce() -> Result<(Program, Skipped), E>,
) -> Result<Program, E> {
    let key = cache_key(json, exe);
    let path = entry_path(dir, &key);
    let (program, skipped) = match read_cached(&path, &key) {
        Some(hit) => hit,
        None => {
            let (p, skipped) = compile()?;
            let skipped = skipped.unknown_syscalls.join(", ");
            if let Err(e) = write_cached(dir, &path, &key, &skipped, &p) {
                tracing::debug!("{e}");
            }
            (p, skipped)
        }
    };
    if !skipped.is_empty() {
        tracing::warn!("linux.seccomp: skipped syscalls this libseccomp does not know: {skipped}");
    }
    Ok(program)
}

/// The profile's JSON, a newline, and the binary's identity.
fn cache_key(json: &[u8], exe: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(json.len() + exe.len() + 1);
    key.extend_from_slice(json);
    key.push(b'\n');
    key.extend_from_slice(exe.as_bytes());
    key
}

/// The entry's file: the key's hash (std's SipHash with fixed keys, so the
/// same in every run) in 16 hex digits.
fn entry_path(dir: &Path, key: &[u8]) -> PathBuf {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    dir.join(format!("{:016x}", h.finish()))
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
    if bpf.is_empty() || bpf.len() % crate::abi::SOCK_FILTER_SIZE != 0 {
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
) -> Result<(), SeccompError> {
    write_entry(dir, path, key, skipped, p).map_err(|source| SeccompError::Cache {
        path: path.to_path_buf(),
        source,
    })
}

fn write_entry(
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

#[cfg(test)]
mod tests;
