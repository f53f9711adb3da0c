//! The encoding of the chain's messages (sync.rs) and of the error the init
//! sends `start`: a tag byte per variant, integers little-endian, strings
//! length-prefixed. Both ends are the same binary, so nothing needs to be
//! self-describing; a fixed hand-written codec is a fraction of the code
//! serde's derives make for these few types.

use crate::error::{Error, ErrorKind};

/// A value that crosses the chain's socket.
pub trait Wire: Sized {
    fn put(&self, out: &mut Vec<u8>);
    fn get(r: &mut Reader) -> Option<Self>;

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.put(&mut out);
        out
    }

    /// The value, if `data` is exactly one well-formed encoding of it.
    fn decode(data: &[u8]) -> Option<Self> {
        let mut r = Reader(data);
        let v = Self::get(&mut r)?;
        r.0.is_empty().then_some(v)
    }
}

pub struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    pub fn u8(&mut self) -> Option<u8> {
        let (b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*b)
    }

    pub fn u32(&mut self) -> Option<u32> {
        let (b, rest) = self.0.split_first_chunk::<4>()?;
        self.0 = rest;
        Some(u32::from_le_bytes(*b))
    }

    /// A length-prefixed run of bytes.
    pub fn bytes(&mut self) -> Option<&[u8]> {
        let n = self.u32()? as usize;
        if n > self.0.len() {
            return None;
        }
        let (s, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(s)
    }

    pub fn str(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }

    pub fn path(&mut self) -> Option<std::path::PathBuf> {
        use std::os::unix::ffi::OsStringExt;
        Some(std::ffi::OsString::from_vec(self.bytes()?.to_vec()).into())
    }
}

pub fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub fn put_str(out: &mut Vec<u8>, s: &str) {
    put_bytes(out, s.as_bytes());
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_u32(out, b.len() as u32);
    out.extend_from_slice(b);
}

const KINDS: [ErrorKind; 5] = [
    ErrorKind::Config,
    ErrorKind::System,
    ErrorKind::Hook,
    ErrorKind::Exited,
    ErrorKind::Protocol,
];

impl Wire for Error {
    fn put(&self, out: &mut Vec<u8>) {
        out.push(KINDS.iter().position(|k| *k == self.kind).unwrap_or(1) as u8);
        // errno + 1, 0 for none (errnos are positive; anything else is
        // sent as none).
        let errno = self
            .errno
            .and_then(|e| u32::try_from(e).ok()?.checked_add(1));
        put_u32(out, errno.unwrap_or(0));
        match &self.field {
            Some(f) => {
                out.push(1);
                put_str(out, f);
            }
            None => out.push(0),
        }
        put_str(out, &self.detail);
    }

    fn get(r: &mut Reader) -> Option<Self> {
        let kind = *KINDS.get(r.u8()? as usize)?;
        let errno = r.u32()?.checked_sub(1).map(|e| e as i32);
        let field = match r.u8()? {
            0 => None,
            1 => Some(r.str()?),
            _ => return None,
        };
        let detail = r.str()?;
        Some(Error::new(kind, field, detail).with_errno(errno))
    }
}

const STATUSES: [husk_spec::Status; 5] = [
    husk_spec::Status::Creating,
    husk_spec::Status::Created,
    husk_spec::Status::Running,
    husk_spec::Status::Paused,
    husk_spec::Status::Stopped,
];

/// The state document, typed, for the init's hooks (it writes the JSON
/// itself, for each status it runs hooks in).
impl Wire for husk_spec::State {
    fn put(&self, out: &mut Vec<u8>) {
        use std::os::unix::ffi::OsStrExt;
        put_str(out, &self.oci_version);
        put_str(out, &self.id);
        put_u32(out, self.pid as u32);
        out.push(STATUSES.iter().position(|s| *s == self.status).unwrap_or(0) as u8);
        put_bytes(out, self.bundle.as_os_str().as_bytes());
        put_bytes(out, self.rootfs.as_os_str().as_bytes());
        put_str(out, &self.created);
        put_str(out, &self.owner);
        put_u32(out, self.annotations.len() as u32);
        for (k, v) in &self.annotations {
            put_str(out, k);
            put_str(out, v);
        }
    }

    fn get(r: &mut Reader) -> Option<Self> {
        let oci_version = r.str()?;
        let id = r.str()?;
        let pid = r.u32()? as i32;
        let status = *STATUSES.get(r.u8()? as usize)?;
        let bundle = r.path()?;
        let rootfs = r.path()?;
        let created = r.str()?;
        let owner = r.str()?;
        let mut annotations = std::collections::BTreeMap::new();
        for _ in 0..r.u32()? {
            let k = r.str()?;
            annotations.insert(k, r.str()?);
        }
        Some(husk_spec::State {
            oci_version,
            id,
            pid,
            status,
            bundle,
            rootfs,
            created,
            owner,
            annotations,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_round_trips() {
        for e in [
            Error::field("linux.sysctl", "write: EPERM").errno(nix::errno::Errno::EPERM),
            Error::system("fork: EAGAIN"),
            Error::protocol(""),
        ] {
            assert_eq!(Error::decode(&e.encode()), Some(e));
        }
    }

    #[test]
    fn a_state_round_trips() {
        let s = husk_spec::State {
            oci_version: "1.3.0".into(),
            id: "c1".into(),
            pid: 4242,
            status: husk_spec::Status::Creating,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "2026-12-05T00:00:00Z".into(),
            owner: String::new(),
            annotations: [("k".to_string(), "v".repeat(100_000))].into(),
        };
        assert_eq!(husk_spec::State::decode(&s.encode()), Some(s));
    }

    #[test]
    fn a_negative_errno_is_sent_as_none() {
        let e = Error::system("netlink").with_errno(Some(-1));
        assert_eq!(Error::decode(&e.encode()).unwrap().errno, None);
    }

    #[test]
    fn short_or_long_input_is_refused() {
        let e = Error::field("process.cwd", "chdir: ENOENT").encode();
        for n in 0..e.len() {
            assert_eq!(Error::decode(&e[..n]), None, "{n} bytes");
        }
        let mut long = e.clone();
        long.push(0);
        assert_eq!(Error::decode(&long), None);
        assert_eq!(Error::decode(b"process.cwd: chdir: ENOENT"), None);
    }
}
