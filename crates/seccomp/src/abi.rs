//! The numbers husk shares with libseccomp (seccomp.h) and the kernel
//! (linux/seccomp.h, linux/filter.h), each named as its header names it.
//! They are written out rather than generated so that building husk needs
//! no headers; `header_tests` checks every one against the installed
//! headers, and fails when a constant is added here or elsewhere in the
//! crate without being listed in its table.

use std::ffi::{c_int, c_uint, c_ulong};

// enum scmp_compare (seccomp.h).
pub const SCMP_CMP_NE: c_uint = 1;
pub const SCMP_CMP_LT: c_uint = 2;
pub const SCMP_CMP_LE: c_uint = 3;
pub const SCMP_CMP_EQ: c_uint = 4;
pub const SCMP_CMP_GE: c_uint = 5;
pub const SCMP_CMP_GT: c_uint = 6;
pub const SCMP_CMP_MASKED_EQ: c_uint = 7;

/// enum scmp_filter_attr: whether libseccomp sets no_new_privs when it
/// loads a filter.
pub const SCMP_FLTATR_CTL_NNP: c_int = 3;

// Actions (seccomp.h). ERRNO and TRACE are function-like macros there,
// SCMP_ACT_ERRNO(x); these are their values for x = 0, or'ed with the
// 16-bit errnoRet.
pub const SCMP_ACT_KILL_PROCESS: u32 = 0x8000_0000;
pub const SCMP_ACT_KILL_THREAD: u32 = 0x0000_0000;
pub const SCMP_ACT_TRAP: u32 = 0x0003_0000;
pub const SCMP_ACT_ERRNO: u32 = 0x0005_0000;
pub const SCMP_ACT_TRACE: u32 = 0x7ff0_0000;
pub const SCMP_ACT_LOG: u32 = 0x7ffc_0000;
pub const SCMP_ACT_ALLOW: u32 = 0x7fff_0000;
pub const SCMP_ACT_NOTIFY: u32 = 0x7fc0_0000;

/// What seccomp_syscall_resolve_name returns for an unknown name
/// (seccomp.h's __NR_SCMP_ERROR).
pub const NR_SCMP_ERROR: c_int = -1;

/// seccomp(2)'s operation (linux/seccomp.h).
pub const SECCOMP_SET_MODE_FILTER: c_ulong = 1;

// seccomp(2)'s filter flags (linux/seccomp.h).
pub const SECCOMP_FILTER_FLAG_TSYNC: u32 = 1 << 0;
pub const SECCOMP_FILTER_FLAG_LOG: u32 = 1 << 1;
pub const SECCOMP_FILTER_FLAG_SPEC_ALLOW: u32 = 1 << 2;
pub const SECCOMP_FILTER_FLAG_NEW_LISTENER: u32 = 1 << 3;
pub const SECCOMP_FILTER_FLAG_TSYNC_ESRCH: u32 = 1 << 4;
pub const SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: u32 = 1 << 5;

/// The part of a filter's return value that is the action's data (the
/// errno of ERRNO, the value of TRACE).
pub const SECCOMP_RET_DATA: u32 = 0x0000_ffff;

/// The kernel's limit on a filter's instructions (linux/bpf_common.h).
pub const BPF_MAXINSNS: usize = 4096;

/// sizeof(struct sock_filter) (linux/filter.h): one BPF instruction as
/// libseccomp exports it and seccomp(2) reads it.
pub const SOCK_FILTER_SIZE: usize = 8;
