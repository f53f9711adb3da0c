//! The cache serves a program only for the very profile and binary it was
//! compiled for, and keeps the on-disk format of earlier husk builds.

use super::*;
use std::cell::Cell;

const PROFILE: &[u8] = br#"{"defaultAction":"SCMP_ACT_ALLOW"}"#;
const OTHER_PROFILE: &[u8] = br#"{"defaultAction":"SCMP_ACT_LOG"}"#;
const EXE: &str = "2049:1234:5678:1700000000.5";

/// A fresh cache directory under the system's temporary one (removed on
/// drop), and a stand-in compiler that counts its calls.
struct Fixture {
    dir: PathBuf,
    compiles: Cell<u32>,
}

impl Fixture {
    fn new(name: &str) -> Fixture {
        let dir =
            std::env::temp_dir().join(format!("husk-seccomp-cache-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Fixture {
            dir,
            compiles: Cell::new(0),
        }
    }

    /// `cached`, compiling to `program(seed)` on a miss.
    fn get(&self, exe: &str, json: &[u8], seed: u8) -> Program {
        self.get_skipping(exe, json, seed, &[])
    }

    fn get_skipping(&self, exe: &str, json: &[u8], seed: u8, skipped: &[&str]) -> Program {
        cached::<std::convert::Infallible>(&self.dir, exe, json, || {
            self.compiles.set(self.compiles.get() + 1);
            let skipped = Skipped {
                unknown_syscalls: skipped.iter().map(|s| s.to_string()).collect(),
            };
            Ok((program(seed), skipped))
        })
        .unwrap()
    }

    fn entries(&self) -> Vec<PathBuf> {
        let mut v: Vec<_> = std::fs::read_dir(&self.dir)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    fn only_entry(&self) -> PathBuf {
        let [entry] = self.entries().try_into().expect("one entry");
        entry
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A stand-in for libseccomp's output: two instructions that differ by
/// `seed`, so programs of different profiles can be told apart.
fn program(seed: u8) -> Program {
    Program {
        bpf: vec![seed; 2 * crate::abi::SOCK_FILTER_SIZE],
        flags: 8,
    }
}

#[test]
fn a_hit_returns_the_same_program_without_compiling() {
    let f = Fixture::new("hit");
    assert_eq!(f.get(EXE, PROFILE, 1), program(1));
    // The compiler would now answer differently: a hit never asks it.
    assert_eq!(f.get(EXE, PROFILE, 2), program(1));
    assert_eq!(f.compiles.get(), 1);
    assert_eq!(f.entries().len(), 1);
}

#[test]
fn a_compile_error_is_returned_and_nothing_cached() {
    let f = Fixture::new("error");
    let r = cached(&f.dir, EXE, PROFILE, || Err("bad profile"));
    assert_eq!(r, Err("bad profile"));
    assert!(f.entries().is_empty());
}

#[test]
fn a_corrupt_entry_is_a_miss_and_rewritten() {
    let f = Fixture::new("corrupt");
    f.get(EXE, PROFILE, 1);
    let entry = f.only_entry();
    let good = std::fs::read(&entry).unwrap();
    let damaged: [&[u8]; 4] = [
        b"huskbpf1\xff\xff\xff\xffjunk", // a key longer than the file
        b"not a cache entry at all",     // no magic
        &good[..good.len() - 3],         // BPF cut mid-instruction
        &good[..good.len() - 2 * 8],     // no instructions left
    ];
    for (i, bytes) in damaged.into_iter().enumerate() {
        std::fs::write(&entry, bytes).unwrap();
        assert_eq!(f.get(EXE, PROFILE, 1), program(1), "{i}");
        assert_eq!(f.compiles.get(), 2 + i as u32, "{i}: recompiled");
        assert_eq!(std::fs::read(&entry).unwrap(), good, "{i}: rewritten");
    }
}

#[test]
fn another_binary_or_profile_misses() {
    let f = Fixture::new("identity");
    f.get(EXE, PROFILE, 1);
    assert_eq!(f.get("2049:1234:5678:1700000001.0", PROFILE, 2), program(2));
    assert_eq!(f.get(EXE, OTHER_PROFILE, 3), program(3));
    assert_eq!(f.compiles.get(), 3);
    assert_eq!(f.entries().len(), 3);
}

#[test]
fn an_entry_under_another_keys_name_is_a_miss() {
    // As if two keys hashed alike: the stored key is compared whole.
    let f = Fixture::new("collision");
    f.get(EXE, PROFILE, 1);
    let other_entry = entry_path(&f.dir, &cache_key(OTHER_PROFILE, EXE));
    std::fs::copy(f.only_entry(), other_entry).unwrap();
    assert_eq!(f.get(EXE, OTHER_PROFILE, 2), program(2));
    assert_eq!(f.compiles.get(), 2);
}

#[test]
fn a_full_cache_starts_over() {
    let f = Fixture::new("full");
    for i in 0..CACHE_MAX {
        f.get(&format!("exe{i}"), PROFILE, 1);
    }
    assert_eq!(f.entries().len(), CACHE_MAX);
    f.get("one more", PROFILE, 1);
    assert_eq!(f.entries().len(), 1);
}

/// The name and bytes an entry has always had (husk before the cache moved
/// here wrote exactly these): a change would silently turn every cache
/// on every host into misses.
#[test]
fn the_on_disk_format_is_unchanged() {
    let f = Fixture::new("format");
    f.get_skipping(EXE, PROFILE, 7, &["a", "bc"]);
    let entry = f.only_entry();
    assert_eq!(entry, f.dir.join("3b2b2dad04f47bb4"));
    let key = [PROFILE, b"\n", EXE.as_bytes()].concat();
    let mut want = b"huskbpf1".to_vec();
    want.extend_from_slice(&(key.len() as u32).to_le_bytes());
    want.extend_from_slice(&key);
    want.extend_from_slice(b"\x05\0\0\0a, bc");
    want.extend_from_slice(b"\x08\0\0\0");
    want.extend_from_slice(&[7; 16]);
    assert_eq!(std::fs::read(&entry).unwrap(), want);
    // The directory under --root, which the integration tests read too.
    assert_eq!(CACHE_DIR, ".cache:seccomp");
}
