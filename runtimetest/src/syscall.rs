//! `runtimetest --syscall NAME [ARG...]`: makes one system call with
//! numeric arguments and prints `ret=R errno=E`, so that tests can see what
//! a seccomp filter (or anything else) did to it.

use std::ffi::OsString;
use std::process::ExitCode;

/// The calls tests probe: harmless with any arguments.
const CALLS: [(&str, libc::c_long); 6] = [
    ("getpgid", libc::SYS_getpgid),
    ("getpriority", libc::SYS_getpriority),
    ("getppid", libc::SYS_getppid),
    ("personality", libc::SYS_personality),
    ("syslog", libc::SYS_syslog),
    ("umask", libc::SYS_umask),
];

fn parse_arg(a: &OsString) -> Option<libc::c_long> {
    let s = a.to_str()?;
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok().map(|v| v as libc::c_long),
        None => s.parse::<i64>().ok(),
    }
}

pub fn run(args: &[OsString]) -> ExitCode {
    let Some(nr) = args
        .first()
        .and_then(|n| CALLS.iter().find(|(name, _)| n == *name))
        .map(|(_, nr)| *nr)
    else {
        eprintln!(
            "runtimetest: --syscall: want one of {:?}",
            CALLS.map(|c| c.0)
        );
        return ExitCode::from(2);
    };
    let mut a = [0 as libc::c_long; 3];
    for (slot, arg) in a.iter_mut().zip(&args[1..]) {
        match parse_arg(arg) {
            Some(v) => *slot = v,
            None => {
                eprintln!("runtimetest: --syscall: bad argument {arg:?}");
                return ExitCode::from(2);
            }
        }
    }
    // SAFETY: every call in CALLS takes integers only (syslog's buffer is
    // only written for actions the tests do not use; size 0 otherwise).
    let ret = unsafe { libc::syscall(nr, a[0], a[1], a[2]) };
    let errno = if ret < 0 {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
    } else {
        0
    };
    println!("ret={ret} errno={errno}");
    ExitCode::SUCCESS
}
