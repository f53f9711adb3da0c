use std::path::PathBuf;

fn main() {
    record_commit();
    lay_out_release_text();
}

// Records the git commit for `husk --version` (runc prints one; engines
// show it). Falls back to "unknown" outside a git checkout.
fn record_commit() {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=HUSK_COMMIT={commit}");
    println!("cargo:rerun-if-changed=../../.git/HEAD");
    println!("cargo:rerun-if-changed=../../.git/refs/heads");
}

// Peak RSS of a short command is mostly the file pages it maps, and the kernel
// maps code 64 KiB at a time around each fault: scattered hot functions pull in
// nearly all of the 1.2 MB of text. `hot-text.ld` (written by `make layout`
// from traced runs, see hack/layout/README.md) gathers the functions the
// lifecycle commands run at the start of the text. The link map it is
// generated and checked against is written next to the build's other outputs.
// Packed relative relocations shrink the relocation table every exec reads.
fn lay_out_release_text() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let script = manifest.join("hot-text.ld");
    println!("cargo:rerun-if-changed={}", script.display());
    if std::env::var("PROFILE").as_deref() != Ok("release")
        || std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux")
    {
        return;
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    println!(
        "cargo:rustc-link-arg-bins=-Wl,-Map={}",
        out.join("husk.map").display()
    );
    println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    if script.is_file() {
        println!("cargo:rustc-link-arg-bins=-Wl,-T,{}", script.display());
    }
}
