//! The few fields of `/proc/self/mountinfo` that husk acts on: which mounts
//! sit where, of which filesystem type, and their ids.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    pub id: u64,
    /// The directory of the filesystem that is mounted ("/" for a whole
    /// filesystem, a subdirectory for a bind).
    pub root: String,
    pub mount_point: PathBuf,
    pub fstype: String,
}

/// This process's mounts, in mountinfo order (parents before children).
pub fn mounts() -> std::io::Result<Vec<MountEntry>> {
    Ok(parse(&std::fs::read_to_string("/proc/self/mountinfo")?))
}

/// The ids of the mounts stacked at exactly `path`.
pub fn mount_ids_at(path: &Path) -> Vec<u64> {
    mounts()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m.mount_point == path)
        .map(|m| m.id)
        .collect()
}

/// The id of the mount on top at `path` (statx STATX_MNT_ID: the same id
/// as mountinfo's first field).
pub fn mount_id_of(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statx>::zeroed();
    // SAFETY: statx fills the statx buffer, which lives across the call,
    // and reads the NUL-terminated path.
    let r = unsafe {
        libc::statx(
            libc::AT_FDCWD,
            c.as_ptr(),
            libc::AT_NO_AUTOMOUNT,
            libc::STATX_MNT_ID,
            st.as_mut_ptr(),
        )
    };
    if r != 0 {
        return None;
    }
    // SAFETY: statx succeeded, so the buffer is initialised.
    let st = unsafe { st.assume_init() };
    (st.stx_mask & libc::STATX_MNT_ID != 0).then_some(st.stx_mnt_id)
}

pub fn parse(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let dash = f.iter().position(|x| *x == "-")?;
            Some(MountEntry {
                id: f.first()?.parse().ok()?,
                root: unescape(f.get(3)?),
                mount_point: PathBuf::from(unescape(f.get(4)?)),
                fstype: (*f.get(dash + 1)?).to_string(),
            })
        })
        .collect()
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len());
    let mut rest = s.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        let octal = tail.get(..3).and_then(|o| std::str::from_utf8(o).ok());
        match octal.and_then(|o| u8::from_str_radix(o, 8).ok()) {
            Some(v) if b == b'\\' => {
                out.push(v);
                rest = &tail[3..];
            }
            _ => {
                out.push(b);
                rest = tail;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_escapes() {
        let m = parse(
            "36 35 98:0 /mnt1 /mnt\\040x rw,noatime master:1 - ext3 /dev/root rw\n\
             22 1 0:21 / /proc rw,nosuid - proc proc rw\n",
        );
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].id, 36);
        assert_eq!(m[0].root, "/mnt1");
        assert_eq!(m[0].mount_point, PathBuf::from("/mnt x"));
        assert_eq!(m[0].fstype, "ext3");
        assert_eq!(m[1].fstype, "proc");
        assert_eq!(unescape("/plain\\"), "/plain\\");
        assert_eq!(unescape("/a\\134b"), "/a\\b");
    }
}
