//! linux.resources.devices on cgroup v2: an eBPF program of type
//! `BPF_PROG_TYPE_CGROUP_DEVICE` attached to the container's cgroup, as
//! runc and crun do it (cgroup v2 has no devices.allow / devices.deny).
//!
//! # Semantics (runc's devices emulator, libcontainer/cgroups/devices)
//!
//! runc does not translate the rule list into "first/last match wins" code
//! directly. It replays the rules through an emulator of the cgroup v1
//! device controller, then compiles the emulator's final state
//! (`devicefilter.go`). We do the same, so that a config means the same on
//! v1 (where husk writes the rules to devices.allow/deny and the kernel
//! keeps that state) and on v2:
//!
//! - The state is a default (allow or deny) plus a set of exceptions, each
//!   a (type, major|*, minor|*) with some of r, w, m. The state starts as
//!   **deny all, no exceptions** (runc's `Emulator{}` is a "white-list").
//! - A rule of type "a" (or with no type) resets the state, whatever its
//!   numbers and access say, exactly as the kernel treats any "a ..." line:
//!   allow → allow all; deny → deny all; the exceptions are dropped. So a
//!   list that starts with `{"allow": false, "access": "rwm"}` is "default
//!   deny".
//! - Any other rule whose action differs from the default adds its access
//!   to the exception with the same (type, major, minor), creating it if
//!   needed.
//! - A rule whose action equals the default removes its access from the
//!   exception with *exactly* the same (type, major, minor): like the kernel,
//!   a narrower or wider exception is not touched. If that would be silently
//!   ignored because a wildcard exception with the same type (`T *:m`,
//!   `T M:*`, `T *:*`) grants part of that access, runc refuses the config
//!   ("cannot punch hole in existing wildcard rule") instead of giving a
//!   false sense of security, and so do we.
//!
//! For the common configs this is "the last matching rule wins": deny all,
//! then allows; or allow all, then denies. It is not exactly that when a
//! later rule is broader than an earlier one of the opposite action: after
//! "allow all, deny b 8:0 rwm", runc's default "b *:* m" does *not* allow
//! mknod of b 8:0 again (the kernel and runc keep the exact exception).
//!
//! runc's default allow list (the same as [`crate::devices`] writes on v1)
//! is applied after the config's rules.
//!
//! # The check, per exception
//!
//! The kernel calls the program once per access with `access_type =
//! (access << 16) | type`, where the access bits may be combined (an
//! O_RDWR open asks for r and w at once). As in the v1 controller:
//!
//! - default deny: an exception allows the access only if it covers *all*
//!   the requested bits (kernel `match_exception`; runc emits the same);
//! - default allow: an exception denies the access if it covers *any* of
//!   them (kernel `match_exception_partial`). runc's filter uses the
//!   "covers all" test here too, so that a deny of "c 1:3 r" does not stop
//!   an O_RDWR open; we follow the kernel instead.
//!
//! Exceptions are tried in order and the first match returns the opposite
//! of the default, since after emulation every exception has that action;
//! otherwise the program returns the default.

// Wired into the v2 path of Cgroup::create by the crate's owners; until then
// only the tests call it.

#[path = "bpf/sys.rs"]
mod sys;

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use husk_spec::DeviceCgroup;

use crate::CgroupError;

use crate::default_devices::DEFAULT_ALLOW;

/// The name the program is loaded under; it is how apply_device_rules()
/// finds the program it attached before (BPF_OBJ_NAME_LEN is 16 with NUL).
const PROG_NAME: &[u8] = b"husk_devices";

/// No GPL-only helper is called (no helper at all), so any license does.
const LICENSE: &CStr = c"Apache-2.0";

/// `struct bpf_insn`: opcode, dst_reg (low nibble) and src_reg (high
/// nibble), signed offset, signed immediate.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Insn {
    pub code: u8,
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

impl std::fmt::Debug for Insn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{{{:#04x} dst=r{} src=r{} off={} imm={}}}",
            self.code,
            self.dst(),
            self.src(),
            self.off,
            self.imm
        )
    }
}

// Opcode parts (linux/bpf_common.h, linux/bpf.h).
const BPF_LDX: u8 = 0x01;
const BPF_ALU: u8 = 0x04;
const BPF_JMP: u8 = 0x05;
const BPF_ALU64: u8 = 0x07;
const BPF_W: u8 = 0x00;
const BPF_MEM: u8 = 0x60;
const BPF_K: u8 = 0x00;
const BPF_X: u8 = 0x08;
const BPF_AND: u8 = 0x50;
const BPF_RSH: u8 = 0x70;
const BPF_MOV: u8 = 0xb0;
const BPF_JEQ: u8 = 0x10;
const BPF_JNE: u8 = 0x50;
const BPF_EXIT: u8 = 0x90;

/// `struct bpf_cgroup_dev_ctx` fields and values.
const CTX_ACCESS_TYPE: i16 = 0;
const CTX_MAJOR: i16 = 4;
const CTX_MINOR: i16 = 8;
pub(crate) const DEV_BLOCK: u32 = 1;
pub(crate) const DEV_CHAR: u32 = 2;
pub(crate) const ACC_MKNOD: u8 = 1;
pub(crate) const ACC_READ: u8 = 2;
pub(crate) const ACC_WRITE: u8 = 4;
const ACC_ALL: u8 = ACC_MKNOD | ACC_READ | ACC_WRITE;

// Registers the prologue fills: r1 is the context, then scratch.
const R0: u8 = 0;
const R1: u8 = 1;
const R2_TYPE: u8 = 2;
const R3_ACCESS: u8 = 3;
const R4_MAJOR: u8 = 4;
const R5_MINOR: u8 = 5;

impl Insn {
    const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Self {
        Insn {
            code,
            regs: (src << 4) | (dst & 0x0f),
            off,
            imm,
        }
    }
    pub(crate) fn dst(&self) -> u8 {
        self.regs & 0x0f
    }
    pub(crate) fn src(&self) -> u8 {
        self.regs >> 4
    }
    /// dst = *(u32 *)(src + off)
    const fn ldx_w(dst: u8, src: u8, off: i16) -> Self {
        Self::new(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0)
    }
    /// (u32) dst &= imm
    const fn and32_imm(dst: u8, imm: i32) -> Self {
        Self::new(BPF_ALU | BPF_AND | BPF_K, dst, 0, 0, imm)
    }
    /// (u32) dst >>= imm
    const fn rsh32_imm(dst: u8, imm: i32) -> Self {
        Self::new(BPF_ALU | BPF_RSH | BPF_K, dst, 0, 0, imm)
    }
    /// (u32) dst = src
    const fn mov32_reg(dst: u8, src: u8) -> Self {
        Self::new(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0)
    }
    /// dst = imm (sign-extended)
    const fn mov64_imm(dst: u8, imm: i32) -> Self {
        Self::new(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm)
    }
    /// if dst != imm (imm sign-extended to 64 bits) goto pc + 1 + off
    const fn jne_imm(dst: u8, imm: i32, off: i16) -> Self {
        Self::new(BPF_JMP | BPF_JNE | BPF_K, dst, 0, off, imm)
    }
    /// if dst == imm goto pc + 1 + off
    const fn jeq_imm(dst: u8, imm: i32, off: i16) -> Self {
        Self::new(BPF_JMP | BPF_JEQ | BPF_K, dst, 0, off, imm)
    }
    /// if dst != src goto pc + 1 + off
    const fn jne_reg(dst: u8, src: u8, off: i16) -> Self {
        Self::new(BPF_JMP | BPF_JNE | BPF_X, dst, src, off, 0)
    }
    const fn exit() -> Self {
        Self::new(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
    }
}

/// One device rule after validation; `None` numbers are wildcards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rule {
    pub allow: bool,
    /// `None` for "a".
    pub typ: Option<u32>,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: u8,
}

/// An exception's (type, major, minor); `None` is "*".
pub(crate) type Key = (u32, Option<u32>, Option<u32>);

/// The v1 controller's state, as runc's emulator keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Emulator {
    pub default_allow: bool,
    /// (type, major, minor) → access bits, in first-insertion order so that
    /// the same rules always give the same program.
    pub exceptions: Vec<(Key, u8)>,
}

impl Default for Emulator {
    /// Deny all: what runc starts from on both v1 and v2.
    fn default() -> Self {
        Emulator {
            default_allow: false,
            exceptions: Vec::new(),
        }
    }
}

impl Emulator {
    /// One write to devices.allow / devices.deny. The error is the reason
    /// a hole cannot be punched in a wildcard exception.
    pub(crate) fn apply(&mut self, rule: &Rule) -> Result<(), String> {
        let Some(typ) = rule.typ else {
            self.default_allow = rule.allow;
            self.exceptions.clear();
            return Ok(());
        };
        let key = (typ, rule.major, rule.minor);
        if rule.allow != self.default_allow {
            match self.exceptions.iter_mut().find(|(k, _)| *k == key) {
                Some((_, acc)) => *acc |= rule.access,
                None => self.exceptions.push((key, rule.access)),
            }
            return Ok(());
        }
        for wider in [
            (typ, None, rule.minor),
            (typ, rule.major, None),
            (typ, None, None),
        ] {
            if wider == key {
                continue;
            }
            if let Some((_, acc)) = self.exceptions.iter().find(|(k, _)| *k == wider) {
                if acc & rule.access != 0 {
                    return Err(format!(
                        "cannot punch a hole in the wildcard rule \"{}\" (cgroup v1 would ignore it)",
                        text(!rule.allow, wider, *acc)
                    ));
                }
            }
        }
        if let Some(i) = self.exceptions.iter().position(|(k, _)| *k == key) {
            self.exceptions[i].1 &= !rule.access;
            if self.exceptions[i].1 == 0 {
                self.exceptions.remove(i);
            }
        }
        Ok(())
    }

    /// Whether the v1 controller in this state allows `access` (one or more
    /// bits) to the device: the reference the program must agree with.
    #[cfg(test)]
    pub(crate) fn permits(&self, typ: u32, major: u32, minor: u32, access: u8) -> bool {
        let covers = |(t, ma, mi): Key| {
            t == typ && ma.is_none_or(|m| m == major) && mi.is_none_or(|m| m == minor)
        };
        if self.default_allow {
            !self
                .exceptions
                .iter()
                .any(|&(k, acc)| covers(k) && acc & access != 0)
        } else {
            self.exceptions
                .iter()
                .any(|&(k, acc)| covers(k) && acc & access == access)
        }
    }
}

/// A rule as its devices.list line, for messages.
fn text(allow: bool, (typ, major, minor): Key, acc: u8) -> String {
    let num = |n: Option<u32>| n.map_or("*".to_string(), |n| n.to_string());
    let t = if typ == DEV_BLOCK { 'b' } else { 'c' };
    let a: String = [(ACC_READ, 'r'), (ACC_WRITE, 'w'), (ACC_MKNOD, 'm')]
        .iter()
        .filter(|(bit, _)| acc & bit != 0)
        .map(|(_, c)| *c)
        .collect();
    let verb = if allow { "allow" } else { "deny" };
    format!("{verb} {t} {}:{} {a}", num(major), num(minor))
}

fn invalid(field: &str, reason: String) -> CgroupError {
    CgroupError::Invalid {
        field: field.to_string(),
        reason,
    }
}

/// Validates one config rule, with the same messages as devices.rs.
/// Negative numbers are wildcards (runc's -1); numbers beyond u32 are
/// refused, as the v1 kernel refuses them.
fn from_spec(r: &DeviceCgroup, field: &str) -> Result<Rule, CgroupError> {
    let typ = match r.typ.as_deref().unwrap_or("a") {
        "a" => None,
        "b" => Some(DEV_BLOCK),
        "c" => Some(DEV_CHAR),
        t => {
            return Err(invalid(
                &format!("{field}.type"),
                format!("{t:?} is not one of a, b, c"),
            ))
        }
    };
    let access_text = r.access.as_deref().unwrap_or("rwm");
    let access = parse_access(access_text).ok_or_else(|| {
        invalid(
            &format!("{field}.access"),
            format!("{access_text:?} is not a combination of r, w, m"),
        )
    })?;
    let num = |n: Option<i64>, name: &str| match n {
        None => Ok(None),
        Some(n) if n < 0 => Ok(None),
        Some(n) => u32::try_from(n).map(Some).map_err(|_| {
            invalid(
                &format!("{field}.{name}"),
                format!("{n} is not a device number"),
            )
        }),
    };
    Ok(Rule {
        allow: r.allow,
        typ,
        major: num(r.major, "major")?,
        minor: num(r.minor, "minor")?,
        access,
    })
}

fn parse_access(s: &str) -> Option<u8> {
    if s.is_empty() {
        return None;
    }
    s.chars().try_fold(0, |acc, c| match c {
        'r' => Some(acc | ACC_READ),
        'w' => Some(acc | ACC_WRITE),
        'm' => Some(acc | ACC_MKNOD),
        _ => None,
    })
}

/// Parses a devices.list style line, "c 1:3 rwm" (DEFAULT_ALLOW, tests).
pub(crate) fn parse_line(allow: bool, line: &str) -> Option<Rule> {
    let mut parts = line.split(' ');
    let typ = match parts.next()? {
        "a" => None,
        "b" => Some(DEV_BLOCK),
        "c" => Some(DEV_CHAR),
        _ => return None,
    };
    let (major, minor) = parts.next()?.split_once(':')?;
    let num = |s: &str| match s {
        "*" => Some(None),
        n => n.parse().ok().map(Some),
    };
    let rule = Rule {
        allow,
        typ,
        major: num(major)?,
        minor: num(minor)?,
        access: parse_access(parts.next()?)?,
    };
    parts.next().is_none().then_some(rule)
}

/// Replays the config's rules then runc's defaults through the emulator.
pub(crate) fn emulate(rules: &[DeviceCgroup]) -> Result<Emulator, CgroupError> {
    let mut emu = Emulator::default();
    for (i, r) in rules.iter().enumerate() {
        let field = format!("linux.resources.devices[{i}]");
        let rule = from_spec(r, &field)?;
        emu.apply(&rule).map_err(|reason| invalid(&field, reason))?;
    }
    for line in DEFAULT_ALLOW {
        let rule = parse_line(true, line).expect("DEFAULT_ALLOW parses");
        emu.apply(&rule).map_err(|reason| {
            invalid(
                "linux.resources.devices",
                format!("with runc's default rule \"{line}\": {reason}"),
            )
        })?;
    }
    Ok(emu)
}

/// Compiles linux.resources.devices into a cgroup device program.
///
/// The rules (in order) and then runc's default allow list are replayed
/// through the v1 emulator described in the module docs (state starts as
/// deny all; "a" rules reset it; later rules add or remove exact
/// exceptions; holes in wildcard exceptions are refused), and its final
/// state becomes the program:
///
/// ```text
///   r2 = ctx->access_type & 0xffff      // device type
///   r3 = ctx->access_type >> 16         // requested access bits
///   r4 = ctx->major; r5 = ctx->minor
///   per exception:                      // skip to the next on mismatch
///     if r2 != type goto next
///     if r4 != major goto next          // unless major is *
///     if r5 != minor goto next          // unless minor is *
///     r1 = r3 & access                  // unless access is rwm
///     if r1 != r3 goto next             // default deny: must cover all
///     if r1 == 0 goto next              // default allow: covers any
///     return !default
///   return default
/// ```
///
/// Numbers are compared as 64-bit registers against sign-extended
/// immediates, as runc does; a number of 2^31 or more thus never matches,
/// which is right since Linux majors have 12 bits and minors 20.
pub(crate) fn compile(rules: &[DeviceCgroup]) -> Result<Vec<Insn>, CgroupError> {
    Ok(compile_state(&emulate(rules)?))
}

pub(crate) fn compile_state(emu: &Emulator) -> Vec<Insn> {
    let mut prog = vec![
        Insn::ldx_w(R2_TYPE, R1, CTX_ACCESS_TYPE),
        Insn::and32_imm(R2_TYPE, 0xffff),
        Insn::ldx_w(R3_ACCESS, R1, CTX_ACCESS_TYPE),
        Insn::rsh32_imm(R3_ACCESS, 16),
        Insn::ldx_w(R4_MAJOR, R1, CTX_MAJOR),
        Insn::ldx_w(R5_MINOR, R1, CTX_MINOR),
    ];
    let verdict = |allow: bool| i32::from(allow);
    for &((typ, major, minor), access) in &emu.exceptions {
        // Jumps are made with off = 0 and pointed at the next block below.
        let mut block = vec![Insn::jne_imm(R2_TYPE, typ as i32, 0)];
        if let Some(m) = major {
            block.push(Insn::jne_imm(R4_MAJOR, m as i32, 0));
        }
        if let Some(m) = minor {
            block.push(Insn::jne_imm(R5_MINOR, m as i32, 0));
        }
        if access != ACC_ALL {
            block.push(Insn::mov32_reg(R1, R3_ACCESS));
            block.push(Insn::and32_imm(R1, i32::from(access)));
            block.push(if emu.default_allow {
                Insn::jeq_imm(R1, 0, 0)
            } else {
                Insn::jne_reg(R1, R3_ACCESS, 0)
            });
        }
        block.push(Insn::mov64_imm(R0, verdict(!emu.default_allow)));
        block.push(Insn::exit());
        let len = block.len();
        for (i, insn) in block.iter_mut().enumerate() {
            if insn.code & 0x07 == BPF_JMP && insn.code != BPF_JMP | BPF_EXIT {
                // Blocks are a handful of instructions: always fits.
                insn.off = (len - i - 1) as i16;
            }
        }
        prog.extend(block);
    }
    prog.push(Insn::mov64_imm(R0, verdict(emu.default_allow)));
    prog.push(Insn::exit());
    prog
}

/// "<dir>: cannot <what>: <reason>", the errno as in error.rs.
fn host_error(dir: &Path, what: &str, err: io::Error) -> CgroupError {
    let reason = match err.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_string(),
        None => err.to_string(),
    };
    CgroupError::Host(format!("{}: cannot {what}: {reason}", dir.display()))
}

/// Loads the program; on failure loads it again with the verifier log on,
/// so that the error says why.
fn load(dir: &Path, insns: &[Insn]) -> Result<OwnedFd, CgroupError> {
    let err = match sys::prog_load(insns, LICENSE, PROG_NAME, None) {
        Ok(fd) => return Ok(fd),
        Err(err) => err,
    };
    let mut log = vec![0u8; 1 << 16];
    if let Ok(fd) = sys::prog_load(insns, LICENSE, PROG_NAME, Some(&mut log)) {
        tracing::debug!("BPF_PROG_LOAD failed once ({err}), then worked");
        return Ok(fd);
    }
    let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
    let log = String::from_utf8_lossy(&log[..end]);
    let what = match log.trim() {
        "" => "load the device filter (bpf BPF_PROG_LOAD)".to_string(),
        log => format!(
            "load the device filter (bpf BPF_PROG_LOAD; verifier: {})",
            log.replace('\n', "; ")
        ),
    };
    Err(host_error(dir, &what, err))
}

/// The programs husk attached to this very cgroup before (by name), each
/// with its info. Programs that vanish meanwhile are skipped.
fn ours(dir: &Path, cgroup: &OwnedFd) -> Result<Vec<(OwnedFd, sys::ProgInfo)>, CgroupError> {
    let ids = sys::prog_query(cgroup.as_fd(), sys::BPF_CGROUP_DEVICE).map_err(|e| {
        let what = match e.raw_os_error() {
            Some(libc::EBADF) => "list its device programs (not a cgroup v2 directory?)",
            _ => "list its device programs (bpf BPF_PROG_QUERY)",
        };
        host_error(dir, what, e)
    })?;
    let mut found = Vec::new();
    for id in ids {
        let fd = match sys::prog_get_fd_by_id(id) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            Err(e) => return Err(host_error(dir, &format!("open device program id {id}"), e)),
        };
        let info = sys::prog_info(fd.as_fd())
            .map_err(|e| host_error(dir, &format!("inspect device program id {id}"), e))?;
        let name_end = info.name.iter().position(|&b| b == 0).unwrap_or(16);
        if &info.name[..name_end] == PROG_NAME {
            found.push((fd, info));
        } else {
            tracing::debug!(
                "{}: leaving device program id {id} alone (not husk's)",
                dir.display()
            );
        }
    }
    Ok(found)
}

/// Loads the program for `rules` (see [`compile`]) and attaches it to the
/// cgroup v2 directory `cgroup_dir` with BPF_F_ALLOW_MULTI.
///
/// If husk attached a program there before (found by BPF_PROG_QUERY and its
/// name "husk_devices"), the new one replaces it atomically with
/// BPF_F_REPLACE: there is no moment with no filter, nor with both. On a
/// kernel without BPF_F_REPLACE (before 5.6, EINVAL) it attaches the new
/// one and then detaches the old one; in between both run, and since the
/// kernel allows an access only if every program does, the window is
/// stricter, never looser. Further stale copies (left by a crash in that
/// window) are detached after. Programs attached by others are left alone;
/// they can only restrict further.
///
/// Calling it again with the same rules is a no-op if the attached program
/// has the same tag (hash of its instructions).
pub(crate) fn apply_device_rules(
    cgroup_dir: &Path,
    rules: &[DeviceCgroup],
) -> Result<(), CgroupError> {
    apply_with(cgroup_dir, rules, true)
}

/// apply_device_rules(), with BPF_F_REPLACE off to test the fallback.
pub(crate) fn apply_with(
    cgroup_dir: &Path,
    rules: &[DeviceCgroup],
    use_replace: bool,
) -> Result<(), CgroupError> {
    let insns = compile(rules)?;
    let cgroup = open_dir(cgroup_dir)?;
    let prog = load(cgroup_dir, &insns)?;
    let old = ours(cgroup_dir, &cgroup)?;

    if let [(_, info)] = old.as_slice() {
        let new = sys::prog_info(prog.as_fd())
            .map_err(|e| host_error(cgroup_dir, "inspect the new device filter", e))?;
        if new.tag == info.tag {
            tracing::debug!(
                "{}: device filter unchanged (program id {})",
                cgroup_dir.display(),
                info.id
            );
            return Ok(());
        }
    }

    let attach = |flags, replace: Option<&OwnedFd>| {
        sys::prog_attach(
            cgroup.as_fd(),
            prog.as_fd(),
            sys::BPF_CGROUP_DEVICE,
            sys::BPF_F_ALLOW_MULTI | flags,
            replace.map(|fd| fd.as_fd()),
        )
    };
    let mut stale: &[(OwnedFd, sys::ProgInfo)] = &old;
    match old.first() {
        None => attach(0, None).map_err(|e| {
            host_error(
                cgroup_dir,
                "attach the device filter (bpf BPF_PROG_ATTACH)",
                e,
            )
        })?,
        Some((first, _)) => match if use_replace {
            attach(sys::BPF_F_REPLACE, Some(first))
        } else {
            Err(io::Error::from_raw_os_error(libc::EINVAL))
        } {
            Ok(()) => stale = &old[1..],
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                tracing::debug!(
                    "{}: BPF_F_REPLACE refused ({e}); attaching, then detaching the old filter",
                    cgroup_dir.display()
                );
                attach(0, None).map_err(|e| {
                    host_error(
                        cgroup_dir,
                        "attach the device filter (bpf BPF_PROG_ATTACH)",
                        e,
                    )
                })?;
            }
            Err(e) => {
                return Err(host_error(
                    cgroup_dir,
                    "replace the device filter (BPF_F_REPLACE)",
                    e,
                ))
            }
        },
    }
    for (fd, info) in stale {
        match sys::prog_detach(cgroup.as_fd(), fd.as_fd(), sys::BPF_CGROUP_DEVICE) {
            Ok(()) => {}
            // Detached by someone else meanwhile.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => {
                return Err(host_error(
                    cgroup_dir,
                    &format!("detach the old device filter (program id {})", info.id),
                    e,
                ))
            }
        }
    }
    Ok(())
}

fn open_dir(dir: &Path) -> Result<OwnedFd, CgroupError> {
    std::fs::File::open(dir)
        .map(OwnedFd::from)
        .map_err(|err| CgroupError::Read {
            path: dir.to_path_buf(),
            err,
        })
}

/// The ids of the programs husk attached to `cgroup_dir`, in run order.
// Used by tests/bpf.rs, which compiles this module in with #[path].
#[allow(dead_code)]
pub(crate) fn attached(cgroup_dir: &Path) -> Result<Vec<u32>, CgroupError> {
    let cgroup = open_dir(cgroup_dir)?;
    Ok(ours(cgroup_dir, &cgroup)?
        .iter()
        .map(|(_, info)| info.id)
        .collect())
}

/// Detaches every program husk attached to `cgroup_dir` (removing the
/// cgroup detaches them too).
// Used by tests/bpf.rs, which compiles this module in with #[path].
#[allow(dead_code)]
pub(crate) fn detach_device_rules(cgroup_dir: &Path) -> Result<(), CgroupError> {
    let cgroup = open_dir(cgroup_dir)?;
    for (fd, _) in ours(cgroup_dir, &cgroup)? {
        sys::prog_detach(cgroup.as_fd(), fd.as_fd(), sys::BPF_CGROUP_DEVICE)
            .map_err(|e| host_error(cgroup_dir, "detach the device filter", e))?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "bpf/tests.rs"]
mod tests;
