//! Finding and starting the user's program, with runc's error wording (the
//! engines match on it: podman turns it into exit code 127).

use nix::sys::stat::{stat, SFlag};
use nix::unistd::{access, AccessFlags};
use std::ffi::CString;
use std::path::{Path, PathBuf};

/// Resolves args[0] against PATH from the process environment, inside the
/// container's root.
pub fn find_executable(arg0: &str, env: &[String]) -> Result<PathBuf, String> {
    if arg0.contains('/') {
        check_executable(Path::new(arg0))
            .map_err(|e| format!("exec: \"{arg0}\": stat {arg0}: {e}"))?;
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
    Err(format!(
        "exec: \"{arg0}\": executable file not found in $PATH"
    ))
}

fn check_executable(p: &Path) -> Result<(), String> {
    let st = stat(p).map_err(errno_text)?;
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR {
        return Err("is a directory".into());
    }
    access(p, AccessFlags::X_OK).map_err(errno_text)
}

fn errno_text(e: nix::errno::Errno) -> String {
    // Go's wording, lower case: "no such file or directory".
    let s = std::io::Error::from(e).to_string();
    let s = s.split(" (os error").next().unwrap_or(&s).to_string();
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => s,
    }
}

pub fn cstrings(v: &[String], field: &str) -> Result<Vec<CString>, String> {
    v.iter()
        .map(|s| {
            CString::new(s.as_bytes()).map_err(|_| format!("{field}: {s:?} contains a NUL byte"))
        })
        .collect()
}

/// Replaces the process image; returns only on failure.
pub fn exec(path: &Path, args: &[String], env: &[String]) -> String {
    let run = || -> Result<std::convert::Infallible, String> {
        let p = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| "process.args[0]: contains a NUL byte".to_string())?;
        let a = cstrings(args, "process.args")?;
        let e = cstrings(env, "process.env")?;
        nix::unistd::execve(&p, &a, &e)
            .map_err(|e| format!("exec: \"{}\": {}", args[0], errno_text(e)))
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
            e,
            "exec: \"no-such-program-here\": executable file not found in $PATH"
        );
        let e = find_executable("/no/such", &env).unwrap_err();
        assert_eq!(
            e,
            "exec: \"/no/such\": stat /no/such: no such file or directory"
        );
        assert!(find_executable("/tmp", &env)
            .unwrap_err()
            .contains("is a directory"));
    }
}
