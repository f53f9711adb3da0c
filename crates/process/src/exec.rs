//! Finding and starting the user's program, with runc's error wording (the
//! engines match on it: podman turns it into exit code 127).

use crate::error::{Error, Result};
use nix::errno::Errno;
use nix::sys::stat::{stat, SFlag};
use nix::unistd::{access, AccessFlags};
use std::ffi::CString;
use std::path::{Path, PathBuf};

/// Resolves args[0] against PATH from the process environment, inside the
/// container's root.
pub fn find_executable(arg0: &str, env: &[String]) -> Result<PathBuf> {
    if arg0.contains('/') {
        check_executable(Path::new(arg0)).map_err(|e| {
            Error::system(format!("exec: \"{arg0}\": stat {arg0}: {}", errno_text(e))).errno(e)
        })?;
        return Ok(PathBuf::from(arg0));
    }
    let path = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("");
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(arg0);
        if check_executable(&candidate).is_ok() {
            return Ok(candidate);
        }
    }
    Err(Error::system(format!(
        "exec: \"{arg0}\": executable file not found in $PATH"
    )))
}

/// A directory is refused as EISDIR, whose text is Go's "is a directory".
fn check_executable(p: &Path) -> Result<(), Errno> {
    let st = stat(p)?;
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR {
        return Err(Errno::EISDIR);
    }
    access(p, AccessFlags::X_OK)
}

fn errno_text(e: Errno) -> String {
    // Go's wording, lower case: "no such file or directory".
    let s = std::io::Error::from(e).to_string();
    let s = s.split(" (os error").next().unwrap_or(&s).to_string();
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => s,
    }
}

pub fn cstrings(v: &[String], field: &str) -> Result<Vec<CString>> {
    v.iter()
        .map(|s| {
            CString::new(s.as_bytes())
                .map_err(|_| Error::field(field, format!("{s:?} contains a NUL byte")))
        })
        .collect()
}

/// Replaces the process image; returns only on failure.
pub fn exec(path: &Path, args: &[String], env: &[String]) -> Error {
    let run = || -> Result<std::convert::Infallible> {
        let p = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| Error::field("process.args[0]", "contains a NUL byte"))?;
        let a = cstrings(args, "process.args")?;
        let e = cstrings(env, "process.env")?;
        nix::unistd::execve(&p, &a, &e).map_err(|e| {
            Error::system(format!("exec: \"{}\": {}", args[0], errno_text(e))).errno(e)
        })
    };
    match run() {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_search_and_runc_wording() {
        let env = vec!["PATH=/nonexistent:/bin:/usr/bin".to_string()];
        assert!(find_executable("sh", &env).unwrap().ends_with("sh"));
        let e = find_executable("no-such-program-here", &env).unwrap_err();
        assert_eq!(
            e.to_string(),
            "exec: \"no-such-program-here\": executable file not found in $PATH"
        );
        let e = find_executable("/no/such", &env).unwrap_err();
        assert_eq!(
            e.to_string(),
            "exec: \"/no/such\": stat /no/such: no such file or directory"
        );
        assert_eq!(e.errno, Some(libc::ENOENT));
        let e = find_executable("/tmp", &env).unwrap_err();
        assert_eq!(e.to_string(), "exec: \"/tmp\": stat /tmp: is a directory");
        assert_eq!(e.errno, Some(libc::EISDIR));
    }

    #[test]
    fn a_nul_byte_names_its_field() {
        let e = cstrings(&["A=1".into(), "B=\0".into()], "process.env").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("process.env"));
        assert_eq!(e.to_string(), "process.env: \"B=\\0\" contains a NUL byte");
    }
}
