//! Measures what compiling a linux.seccomp profile costs:
//! `cargo run --release -p husk-seccomp --example compile_cost -- PROFILE.json [N]`
//! where PROFILE.json holds a linux.seccomp object (hack/bench/seccomp.sh
//! makes one from containers-common's profile).

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: compile_cost PROFILE.json [N]");
    let n: u32 = args.next().map_or(200, |s| s.parse().expect("N"));
    let text = std::fs::read_to_string(&path).expect("read profile");
    let profile: husk_spec::Seccomp = serde_json::from_str(&text).expect("parse profile");
    let (p, skipped) = husk_seccomp::compile(&profile).expect("compile");
    let start = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(husk_seccomp::compile(&profile).expect("compile"));
    }
    let per = start.elapsed() / n;
    println!(
        "{} rules, {} BPF instructions, {} unknown names skipped: {:.3} ms per compile (mean of {n})",
        profile.syscalls.len(),
        p.instructions(),
        skipped.unknown_syscalls.len(),
        per.as_secs_f64() * 1e3
    );
}
