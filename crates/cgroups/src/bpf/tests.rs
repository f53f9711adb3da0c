//! The compiler without a kernel: instruction encoding, program shapes, and
//! an interpreter for the eBPF subset compile() emits, checked against the
//! v1 semantics on tables of rule sets and accesses.

use super::*;

const B: u32 = DEV_BLOCK;
const C: u32 = DEV_CHAR;
const R: u8 = ACC_READ;
const W: u8 = ACC_WRITE;
const M: u8 = ACC_MKNOD;

/// Runs `prog` on a `struct bpf_cgroup_dev_ctx`; returns r0 at exit. Panics
/// on anything compile() should never emit, or on a bad jump, or on reading
/// a register that was never written, so that the verifier's basic rules
/// are checked too.
fn run(prog: &[Insn], typ: u32, major: u32, minor: u32, access: u8) -> u64 {
    let ctx = [(u32::from(access) << 16) | typ, major, minor];
    let mut regs: [Option<u64>; 11] = [None; 11];
    regs[1] = Some(0xc0de_0000); // the ctx pointer, opaque
    let mut pc = 0usize;
    for _ in 0..=prog.len() {
        let insn = prog
            .get(pc)
            .unwrap_or_else(|| panic!("pc {pc} out of the program"));
        let (d, s) = (insn.dst() as usize, insn.src() as usize);
        let get = |r: usize| regs[r].unwrap_or_else(|| panic!("pc {pc}: r{r} read before set"));
        let imm64 = i64::from(insn.imm) as u64;
        let mut next = pc + 1;
        match insn.code {
            0x61 => {
                assert_eq!(get(s), 0xc0de_0000, "pc {pc}: load not from ctx");
                assert!(
                    insn.off >= 0 && insn.off % 4 == 0 && insn.off < 12,
                    "pc {pc}"
                );
                regs[d] = Some(u64::from(ctx[insn.off as usize / 4]));
            }
            0x54 => regs[d] = Some(u64::from(get(d) as u32 & insn.imm as u32)),
            0x74 => regs[d] = Some(u64::from((get(d) as u32) >> insn.imm)),
            0xbc => regs[d] = Some(u64::from(get(s) as u32)),
            0xb7 => regs[d] = Some(imm64),
            0x55 | 0x15 | 0x5d => {
                let rhs = if insn.code == 0x5d { get(s) } else { imm64 };
                let taken = (get(d) == rhs) == (insn.code == 0x15);
                if taken {
                    next = (pc as i64 + 1 + i64::from(insn.off)) as usize;
                    assert!(next > pc, "pc {pc}: backward jump");
                }
            }
            0x95 => return get(0),
            c => panic!("pc {pc}: unexpected opcode {c:#04x}"),
        }
        pc = next;
    }
    panic!("no exit");
}

fn rule(allow: bool, line: &str) -> DeviceCgroup {
    let r = parse_line(allow, line).unwrap();
    let num = |n: Option<u32>| n.map(i64::from);
    DeviceCgroup {
        allow,
        typ: Some(
            match r.typ {
                None => "a",
                Some(B) => "b",
                Some(_) => "c",
            }
            .into(),
        ),
        major: num(r.major),
        minor: num(r.minor),
        access: Some(line.rsplit(' ').next().unwrap().into()),
    }
}
fn allow(line: &str) -> DeviceCgroup {
    rule(true, line)
}
fn deny(line: &str) -> DeviceCgroup {
    rule(false, line)
}

/// The OCI default: `{"allow": false, "access": "rwm"}`.
fn deny_all() -> DeviceCgroup {
    DeviceCgroup {
        allow: false,
        access: Some("rwm".into()),
        ..Default::default()
    }
}

/// Every access mask and a spread of devices, incl. the defaults' and
/// numbers near the edges.
fn cases() -> Vec<(u32, u32, u32, u8)> {
    let mut v = Vec::new();
    for typ in [B, C] {
        for major in [0, 1, 5, 7, 8, 10, 136, 4095] {
            for minor in [0, 1, 2, 3, 5, 7, 8, 9, 200, 229, 1 << 19] {
                for access in 1..=7 {
                    v.push((typ, major, minor, access));
                }
            }
        }
    }
    v
}

/// compile() and the emulator agree on every case; returns the program.
fn check_agrees(rules: &[DeviceCgroup]) -> (Vec<Insn>, Emulator) {
    let emu = emulate(rules).unwrap();
    let prog = compile(rules).unwrap();
    for (typ, major, minor, access) in cases() {
        let got = run(&prog, typ, major, minor, access);
        let want = u64::from(emu.permits(typ, major, minor, access));
        assert_eq!(
            got, want,
            "{typ} {major}:{minor} access {access:03b} with {rules:?}"
        );
    }
    (prog, emu)
}

fn ok(prog: &[Insn], typ: u32, major: u32, minor: u32, access: u8) -> bool {
    match run(prog, typ, major, minor, access) {
        0 => false,
        1 => true,
        r => panic!("r0 = {r}"),
    }
}

#[test]
fn encoding_matches_struct_bpf_insn() {
    // Bytes as in the kernel's struct bpf_insn on little-endian x86-64.
    let bytes = |i: Insn| -> [u8; 8] {
        let mut b = [0; 8];
        b[0] = i.code;
        b[1] = i.regs;
        b[2..4].copy_from_slice(&i.off.to_le_bytes());
        b[4..8].copy_from_slice(&i.imm.to_le_bytes());
        b
    };
    // r2 = *(u32 *)(r1 + 4): dst in the low nibble, src in the high one.
    assert_eq!(bytes(Insn::ldx_w(2, 1, 4)), [0x61, 0x12, 4, 0, 0, 0, 0, 0]);
    assert_eq!(
        bytes(Insn::and32_imm(2, 0xffff)),
        [0x54, 0x02, 0, 0, 0xff, 0xff, 0, 0]
    );
    assert_eq!(bytes(Insn::rsh32_imm(3, 16)), [0x74, 3, 0, 0, 16, 0, 0, 0]);
    assert_eq!(bytes(Insn::mov32_reg(1, 3)), [0xbc, 0x31, 0, 0, 0, 0, 0, 0]);
    assert_eq!(bytes(Insn::mov64_imm(0, 1)), [0xb7, 0, 0, 0, 1, 0, 0, 0]);
    assert_eq!(
        bytes(Insn::jne_imm(4, 136, -2)),
        [0x55, 4, 0xfe, 0xff, 136, 0, 0, 0]
    );
    assert_eq!(bytes(Insn::jeq_imm(1, 0, 3)), [0x15, 1, 3, 0, 0, 0, 0, 0]);
    assert_eq!(
        bytes(Insn::jne_reg(1, 3, 2)),
        [0x5d, 0x31, 2, 0, 0, 0, 0, 0]
    );
    assert_eq!(bytes(Insn::exit()), [0x95, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(std::mem::size_of::<Insn>(), 8);
}

#[test]
fn default_list_parses() {
    for line in DEFAULT_ALLOW {
        assert!(parse_line(true, line).is_some(), "{line}");
    }
}

#[test]
fn deny_all_plus_defaults() {
    let (prog, emu) = check_agrees(&[deny_all()]);
    assert!(!emu.default_allow);
    assert_eq!(emu.exceptions.len(), DEFAULT_ALLOW.len());
    // Prologue: 6; "c *:* m": type + 3 access + 2; "c 1:3 rwm": 3 + 2;
    // "c 136:* rwm": 2 + 2; final 2.
    assert_eq!(&prog[..6], &compile_state(&Emulator::default())[..6]);
    assert_eq!(prog[6..12].len(), 6);
    assert_eq!(prog[6], Insn::jne_imm(2, 2, 5));
    assert_eq!(prog[7], Insn::mov32_reg(1, 3));
    assert_eq!(prog[8], Insn::and32_imm(1, 1));
    assert_eq!(prog[9], Insn::jne_reg(1, 3, 2));
    assert_eq!(prog[10], Insn::mov64_imm(0, 1));
    assert_eq!(prog[11], Insn::exit());
    assert_eq!(
        prog[prog.len() - 2..],
        [Insn::mov64_imm(0, 0), Insn::exit()]
    );
    assert_eq!(prog.len(), 6 + 2 * 6 + 8 * 5 + 4 + 2);

    assert!(ok(&prog, C, 1, 3, R | W)); // /dev/null
    assert!(ok(&prog, C, 136, 4, R | W)); // a pty
    assert!(ok(&prog, C, 10, 200, R)); // tun
    assert!(ok(&prog, B, 8, 0, M)); // mknod of any node
    assert!(!ok(&prog, B, 8, 0, R)); // but no disk access
    assert!(!ok(&prog, C, 10, 229, R | W)); // fuse
    assert!(!ok(&prog, C, 4, 0, R));
}

#[test]
fn no_rules_is_deny_all_too() {
    // runc starts from deny all: an empty list means the defaults only.
    assert_eq!(compile(&[]).unwrap(), compile(&[deny_all()]).unwrap());
}

#[test]
fn allow_all() {
    let a = DeviceCgroup {
        allow: true,
        ..Default::default()
    };
    let (prog, emu) = check_agrees(&[a]);
    assert!(emu.default_allow);
    // Every default is an allow on top of allow all: nothing left.
    assert!(emu.exceptions.is_empty());
    assert_eq!(prog[6..], [Insn::mov64_imm(0, 1), Insn::exit()]);
    assert!(ok(&prog, B, 8, 0, R | W | M));
}

#[test]
fn block_device_denied_after_allow_all() {
    let a = DeviceCgroup {
        allow: true,
        access: Some("rwm".into()),
        ..Default::default()
    };
    let (prog, _) = check_agrees(&[a, deny("b 8:0 rw")]);
    assert!(!ok(&prog, B, 8, 0, R));
    assert!(!ok(&prog, B, 8, 0, W));
    // O_RDWR asks r and w at once: denied though only "partly" covered.
    assert!(!ok(&prog, B, 8, 0, R | W | M));
    assert!(ok(&prog, B, 8, 0, M));
    assert!(ok(&prog, B, 8, 1, R | W));
    assert!(ok(&prog, C, 8, 0, R | W));
    // The shape: type, major, minor, access (any overlap), deny.
    assert_eq!(
        prog[6..14],
        [
            Insn::jne_imm(2, 1, 7),
            Insn::jne_imm(4, 8, 6),
            Insn::jne_imm(5, 0, 5),
            Insn::mov32_reg(1, 3),
            Insn::and32_imm(1, i32::from(R | W)),
            Insn::jeq_imm(1, 0, 2),
            Insn::mov64_imm(0, 0),
            Insn::exit(),
        ]
    );
}

#[test]
fn table_of_v1_semantics() {
    let a_allow = DeviceCgroup {
        allow: true,
        ..Default::default()
    };
    /// (rules, device, access, allowed)
    type Case = (Vec<DeviceCgroup>, (u32, u32, u32), u8, bool);
    let table: Vec<Case> = vec![
        // Later allow overrides the reset.
        (
            vec![deny_all(), allow("c 10:229 rw")],
            (C, 10, 229),
            R | W,
            true,
        ),
        (
            vec![deny_all(), allow("c 10:229 rw")],
            (C, 10, 229),
            M,
            true,
        ), // c *:* m
        (
            vec![deny_all(), allow("c 10:229 r")],
            (C, 10, 229),
            R | W,
            false,
        ),
        // Allows for one device merge: r then w covers O_RDWR.
        (
            vec![deny_all(), allow("c 10:229 r"), allow("c 10:229 w")],
            (C, 10, 229),
            R | W,
            true,
        ),
        // An exact deny removes access from an exact allow.
        (
            vec![deny_all(), allow("c 10:229 rw"), deny("c 10:229 w")],
            (C, 10, 229),
            W,
            false,
        ),
        (
            vec![deny_all(), allow("c 10:229 rw"), deny("c 10:229 w")],
            (C, 10, 229),
            R,
            true,
        ),
        // A later "a" resets whatever came before.
        (
            vec![deny_all(), allow("c 10:229 rw"), deny_all()],
            (C, 10, 229),
            R,
            false,
        ),
        (vec![deny_all(), a_allow.clone()], (B, 8, 0), R | W, true),
        (vec![a_allow.clone(), deny_all()], (B, 8, 0), R, false),
        // Wildcards.
        (vec![deny_all(), allow("b 8:* r")], (B, 8, 17), R, true),
        (vec![deny_all(), allow("b 8:* r")], (B, 9, 17), R, false),
        (vec![deny_all(), allow("b *:0 r")], (B, 253, 0), R, true),
        (vec![deny_all(), allow("b *:0 r")], (C, 253, 0), R, false),
        (
            vec![a_allow.clone(), deny("c 4:* w")],
            (C, 4, 1),
            R | W,
            false,
        ),
        (vec![a_allow.clone(), deny("c 4:* w")], (C, 4, 1), R, true),
        (vec![a_allow.clone(), deny("c 4:* w")], (C, 1, 3), W, true),
        // Allow-all, deny a disk: runc's "b *:* m" default does not undo the
        // exact exception (the kernel keeps it too).
        (
            vec![a_allow.clone(), deny("b 8:0 rwm")],
            (B, 8, 0),
            M,
            false,
        ),
        // The defaults themselves, after a deny all.
        (vec![deny_all()], (C, 5, 2), R | W, true),
        (vec![deny_all()], (C, 1, 9), R, true),
        (vec![deny_all()], (C, 1, 4), R, false),
        // A deny of a default device in the config is overridden by the
        // defaults, exactly as on v1 where they are written after.
        (vec![deny_all(), deny("c 1:3 rwm")], (C, 1, 3), R, true),
        // Negative major/minor are wildcards (runc's -1).
        (
            vec![
                deny_all(),
                DeviceCgroup {
                    allow: true,
                    typ: Some("b".into()),
                    major: Some(7),
                    minor: Some(-1),
                    access: Some("r".into()),
                },
            ],
            (B, 7, 12),
            R,
            true,
        ),
    ];
    for (i, (rules, (typ, major, minor), access, want)) in table.into_iter().enumerate() {
        let (prog, emu) = check_agrees(&rules);
        assert_eq!(
            emu.permits(typ, major, minor, access),
            want,
            "case {i}: emulator"
        );
        assert_eq!(ok(&prog, typ, major, minor, access), want, "case {i}");
    }
}

#[test]
fn punching_a_hole_in_a_wildcard_is_refused() {
    // cgroup v1 would ignore the deny and keep 8:1 readable; runc refuses.
    let e = compile(&[deny_all(), allow("b 8:* r"), deny("b 8:1 r")]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "linux.resources.devices[2]: cannot punch a hole in the wildcard rule \
         \"allow b 8:* r\" (cgroup v1 would ignore it)"
    );
    // No overlap in access: fine.
    compile(&[deny_all(), allow("b 8:* r"), deny("b 8:1 w")]).unwrap();
    // The defaults can be the hole: allow all, deny every char device, then
    // runc's "c 1:3 rwm".
    let a = DeviceCgroup {
        allow: true,
        ..Default::default()
    };
    let e = compile(&[a, deny("c *:* rwm")]).unwrap_err().to_string();
    assert!(e.contains("default rule \"c 1:3 rwm\""), "{e}");
}

#[test]
fn bad_rules_name_the_field() {
    let bad = DeviceCgroup {
        allow: true,
        typ: Some("x".into()),
        ..Default::default()
    };
    let e = compile(&[deny_all(), bad]).unwrap_err().to_string();
    assert_eq!(
        e,
        "linux.resources.devices[1].type: \"x\" is not one of a, b, c"
    );
    let bad = DeviceCgroup {
        allow: true,
        typ: Some("c".into()),
        access: Some("rx".into()),
        ..Default::default()
    };
    let e = compile(&[bad]).unwrap_err().to_string();
    assert_eq!(
        e,
        "linux.resources.devices[0].access: \"rx\" is not a combination of r, w, m"
    );
    let bad = DeviceCgroup {
        allow: true,
        typ: Some("c".into()),
        major: Some(1 << 32),
        ..Default::default()
    };
    let e = compile(&[bad]).unwrap_err().to_string();
    assert_eq!(
        e,
        "linux.resources.devices[0].major: 4294967296 is not a device number"
    );
}

#[test]
fn big_numbers_never_match() {
    // 2^31 and up are sign-extended in the compare: never equal, which is
    // right as no Linux device has such a number.
    let big = DeviceCgroup {
        allow: true,
        typ: Some("c".into()),
        major: Some(1 << 31),
        minor: Some(0),
        access: Some("rwm".into()),
    };
    let prog = compile(&[deny_all(), big]).unwrap();
    assert!(!ok(&prog, C, 1 << 31, 0, R));
}

#[test]
fn same_rules_same_program() {
    let rules = [deny_all(), allow("c 10:229 rw"), allow("b 8:* r")];
    assert_eq!(compile(&rules).unwrap(), compile(&rules).unwrap());
}
