//! `linux.seccomp` → a BPF program, with runc's reading of the profile:
//! unknown syscall names are skipped, rules whose action is the default
//! are no-ops, and several conditions on one argument become one rule each
//! (seccomp can only AND conditions within a rule).

use crate::abi::*;
use crate::ffi::{self, ArgCmp, Filter};
use crate::SeccompError;
use husk_spec::{Seccomp, SeccompArg, SeccompSyscall};

/// The filter flags the spec names, as `husk features` reports them.
pub const KNOWN_FLAGS: [(&str, u32); 4] = [
    ("SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC),
    ("SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG),
    (
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        SECCOMP_FILTER_FLAG_SPEC_ALLOW,
    ),
    (
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
        SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
    ),
];

pub const KNOWN_ACTIONS: [&str; 9] = [
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
];

pub const KNOWN_OPERATORS: [&str; 7] = [
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
];

/// The architectures libseccomp 2.5 knows, as the spec spells them.
pub const KNOWN_ARCHES: [&str; 19] = [
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64",
    "SCMP_ARCH_RISCV64",
];

/// A compiled filter, ready for the container side to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    /// struct sock_filter[]: 8 bytes an instruction.
    pub bpf: Vec<u8>,
    /// seccomp(2) flags (NEW_LISTENER included when the profile notifies).
    pub flags: u32,
}

impl Program {
    pub fn notifies(&self) -> bool {
        self.flags & SECCOMP_FILTER_FLAG_NEW_LISTENER != 0
    }

    pub fn instructions(&self) -> usize {
        self.bpf.len() / SOCK_FILTER_SIZE
    }
}

/// An action's value; `errno` is errnoRet (EPERM when absent, as runc).
pub(crate) fn action(name: &str, errno: Option<u32>, field: &str) -> Result<u32, SeccompError> {
    let ret = |base: u32| -> Result<u32, SeccompError> {
        let e = errno.unwrap_or(libc::EPERM as u32);
        if e > SECCOMP_RET_DATA {
            return Err(SeccompError::Field {
                field: field.replace("action", "errnoRet"),
                reason: format!("{e} does not fit seccomp's 16-bit return value"),
            });
        }
        Ok(base | e)
    };
    Ok(match name {
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => SCMP_ACT_KILL_THREAD,
        "SCMP_ACT_KILL_PROCESS" => SCMP_ACT_KILL_PROCESS,
        "SCMP_ACT_TRAP" => SCMP_ACT_TRAP,
        "SCMP_ACT_ERRNO" => ret(SCMP_ACT_ERRNO)?,
        "SCMP_ACT_TRACE" => ret(SCMP_ACT_TRACE)?,
        "SCMP_ACT_ALLOW" => SCMP_ACT_ALLOW,
        "SCMP_ACT_LOG" => SCMP_ACT_LOG,
        "SCMP_ACT_NOTIFY" => SCMP_ACT_NOTIFY,
        other => {
            return Err(SeccompError::Field {
                field: field.to_string(),
                reason: format!("unknown action {other:?}"),
            })
        }
    })
}

pub(crate) fn operator(name: &str, field: &str) -> Result<u32, SeccompError> {
    Ok(match name {
        "SCMP_CMP_NE" => SCMP_CMP_NE,
        "SCMP_CMP_LT" => SCMP_CMP_LT,
        "SCMP_CMP_LE" => SCMP_CMP_LE,
        "SCMP_CMP_EQ" => SCMP_CMP_EQ,
        "SCMP_CMP_GE" => SCMP_CMP_GE,
        "SCMP_CMP_GT" => SCMP_CMP_GT,
        "SCMP_CMP_MASKED_EQ" => SCMP_CMP_MASKED_EQ,
        other => {
            return Err(SeccompError::Field {
                field: field.to_string(),
                reason: format!("unknown operator {other:?}"),
            })
        }
    })
}

pub(crate) fn arch(name: &str, field: &str) -> Result<u32, SeccompError> {
    name.strip_prefix("SCMP_ARCH_")
        .and_then(|a| ffi::arch_token(&a.to_ascii_lowercase()))
        .ok_or_else(|| SeccompError::Field {
            field: field.to_string(),
            reason: format!("unknown architecture {name:?}"),
        })
}

fn flags(s: &Seccomp, notify: bool) -> Result<u32, SeccompError> {
    let mut out = 0;
    for (i, f) in s.flags.iter().enumerate() {
        let bit = KNOWN_FLAGS
            .iter()
            .find(|(n, _)| n == f)
            .map(|(_, b)| *b)
            .ok_or_else(|| SeccompError::Field {
                field: format!("linux.seccomp.flags[{i}]"),
                reason: format!("unknown flag {f:?}"),
            })?;
        out |= bit;
    }
    if !notify {
        // Only meaningful for a listener; the kernel refuses it without one.
        out &= !SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
    }
    if notify {
        out |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
        // The kernel refuses TSYNC with a listener unless a failed thread
        // sync is reported as ESRCH instead of a thread id.
        if out & SECCOMP_FILTER_FLAG_TSYNC != 0 {
            out |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
        }
    }
    Ok(out)
}

/// The conditions of one rule entry: one list when every condition is on a
/// different argument (ANDed), else one single-condition list each (ORed,
/// by separate rules), as runc does.
fn conditions(args: &[SeccompArg], field: &str) -> Result<Vec<Vec<ArgCmp>>, SeccompError> {
    let mut cmps = Vec::with_capacity(args.len());
    for (j, a) in args.iter().enumerate() {
        let f = format!("{field}.args[{j}]");
        if a.index > 5 {
            return Err(SeccompError::Field {
                field: format!("{f}.index"),
                reason: format!(
                    "{} is out of range (a syscall has 6 arguments, 0-5)",
                    a.index
                ),
            });
        }
        cmps.push(ArgCmp {
            arg: a.index,
            op: operator(&a.op, &format!("{f}.op"))?,
            datum_a: a.value,
            datum_b: a.value_two,
        });
    }
    let mut seen = [0u8; 6];
    for c in &cmps {
        seen[c.arg as usize] += 1;
    }
    if seen.iter().any(|&n| n > 1) {
        Ok(cmps.into_iter().map(|c| vec![c]).collect())
    } else {
        Ok(vec![cmps])
    }
}

/// What compiling skipped, for one warning line.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Skipped {
    pub unknown_syscalls: Vec<String>,
}

/// Compiles `linux.seccomp`. Returns the program and the syscall names
/// skipped because this libseccomp does not know them.
pub fn compile(s: &Seccomp) -> Result<(Program, Skipped), SeccompError> {
    ffi::ensure_loaded().map_err(|e| SeccompError::Compile(e.to_string()))?;
    let default = action(
        &s.default_action,
        s.default_errno_ret,
        "linux.seccomp.defaultAction",
    )?;
    if default == SCMP_ACT_NOTIFY {
        return Err(SeccompError::Field {
            field: "linux.seccomp.defaultAction".into(),
            reason: "SCMP_ACT_NOTIFY cannot be the default action".into(),
        });
    }
    let mut filter = Filter::new(default).map_err(|e| SeccompError::Field {
        field: "linux.seccomp.defaultAction".into(),
        reason: format!("libseccomp refused {:?}: {e}", s.default_action),
    })?;
    for (i, a) in s.architectures.iter().enumerate() {
        let field = format!("linux.seccomp.architectures[{i}]");
        let token = arch(a, &field)?;
        match filter.add_arch(token) {
            Ok(()) => {}
            // An architecture of the other endianness cannot share a
            // filter with the native one, and cannot run here either.
            Err(e) if e.raw_os_error() == Some(libc::EDOM) => {
                tracing::debug!("{field}: {a} skipped: not compatible with this machine");
            }
            Err(e) => {
                return Err(SeccompError::Field {
                    field,
                    reason: format!("add {a}: {e}"),
                })
            }
        }
    }
    let mut skipped = Skipped::default();
    let mut notify = false;
    for (i, sc) in s.syscalls.iter().enumerate() {
        notify |= add_syscall_rules(&mut filter, sc, i, default, &mut skipped)?;
    }
    if notify
        && s.listener_path
            .as_deref()
            .is_none_or(|p| p.as_os_str().is_empty())
    {
        return Err(SeccompError::Field {
            field: "linux.seccomp.listenerPath".into(),
            reason: "must be set when a rule uses SCMP_ACT_NOTIFY".into(),
        });
    }
    let bpf = filter
        .export_bpf()
        .map_err(|e| SeccompError::Compile(format!("export the filter: {e}")))?;
    let program = Program {
        bpf,
        flags: flags(s, notify)?,
    };
    if program.instructions() > BPF_MAXINSNS {
        return Err(SeccompError::Compile(format!(
            "the filter has {} instructions, over the kernel's limit of {BPF_MAXINSNS}",
            program.instructions()
        )));
    }
    Ok((program, skipped))
}

/// Adds one `syscalls[i]` entry; true when its action is NOTIFY.
fn add_syscall_rules(
    filter: &mut Filter,
    sc: &SeccompSyscall,
    i: usize,
    default: u32,
    skipped: &mut Skipped,
) -> Result<bool, SeccompError> {
    let field = format!("linux.seccomp.syscalls[{i}]");
    let act = action(&sc.action, sc.errno_ret, &format!("{field}.action"))?;
    let conds = conditions(&sc.args, &field)?;
    if act == default {
        return Ok(false); // a no-op, which libseccomp would refuse
    }
    if act == SCMP_ACT_NOTIFY {
        // husk's init reports the listener over its channel with sendmsg
        // after loading the filter: notifying that call would deadlock.
        if let Some(n) = sc.names.iter().find(|n| n.as_str() == "sendmsg") {
            return Err(SeccompError::Field {
                field: format!("{field}.names"),
                reason: format!("SCMP_ACT_NOTIFY cannot be used for {n} (husk needs it to hand over the listener)"),
            });
        }
    }
    for name in &sc.names {
        let Some(nr) = ffi::syscall_number(name) else {
            skipped.unknown_syscalls.push(name.clone());
            continue;
        };
        for c in &conds {
            filter
                .add_rule(act, nr, c)
                .map_err(|e| SeccompError::Field {
                    field: format!("{field}.names"),
                    reason: format!("add a rule for {name}: {e}"),
                })?;
        }
    }
    Ok(act == SCMP_ACT_NOTIFY)
}
