// libseccomp (Debian's libseccomp-dev) is linked statically: no shared
// library to load on every husk invocation, and no run-time dependency.
// HUSK_SECCOMP_DYNAMIC=1 links the shared library instead;
// LIBSECCOMP_LIB_PATH names the directory holding libseccomp.a.
use std::path::PathBuf;

fn lib_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("LIBSECCOMP_LIB_PATH") {
        return Some(d.into());
    }
    // Debian's multiarch directory for the target, then the usual ones.
    let target = std::env::var("TARGET").unwrap_or_default();
    let multiarch = target.replacen("-unknown", "", 1);
    [
        format!("/usr/lib/{multiarch}"),
        "/usr/lib64".into(),
        "/usr/lib".into(),
        "/usr/local/lib".into(),
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|d| d.join("libseccomp.a").exists())
}

fn main() {
    println!("cargo:rerun-if-env-changed=HUSK_SECCOMP_DYNAMIC");
    println!("cargo:rerun-if-env-changed=LIBSECCOMP_LIB_PATH");
    if std::env::var_os("HUSK_SECCOMP_DYNAMIC").is_some() {
        println!("cargo:rustc-link-lib=dylib=seccomp");
        return;
    }
    match lib_dir() {
        Some(d) => println!("cargo:rustc-link-search=native={}", d.display()),
        None => panic!(
            "libseccomp.a not found: install libseccomp-dev (hack/deps.sh does) \
             or set LIBSECCOMP_LIB_PATH"
        ),
    }
    println!("cargo:rustc-link-lib=static=seccomp");
}
