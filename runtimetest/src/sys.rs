//! The few libc calls std has no wrapper for.

use std::io;

/// Real and effective user and group ids.
#[derive(Debug, Clone, Copy)]
pub struct Ids {
    pub uid: u32,
    pub euid: u32,
    pub gid: u32,
    pub egid: u32,
}

pub fn ids() -> Ids {
    // SAFETY: these calls take no arguments, touch no memory of ours and
    // cannot fail (see getuid(2), getgid(2)).
    unsafe {
        Ids {
            uid: libc::getuid(),
            euid: libc::geteuid(),
            gid: libc::getgid(),
            egid: libc::getegid(),
        }
    }
}

pub fn getpid() -> i32 {
    std::process::id() as i32
}

/// Supplementary group ids (getgroups(2)).
pub fn getgroups() -> io::Result<Vec<u32>> {
    loop {
        // SAFETY: with size 0 getgroups only returns the number of groups and
        // does not write through the (null) list pointer.
        let n = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut groups: Vec<libc::gid_t> = vec![0; n as usize];
        // SAFETY: `groups` has room for exactly `n` gid_t values and we pass
        // that length, so the kernel writes at most `n` entries.
        let got = unsafe { libc::getgroups(n, groups.as_mut_ptr()) };
        if got >= 0 {
            groups.truncate(got as usize);
            return Ok(groups);
        }
        let err = io::Error::last_os_error();
        // EINVAL: the list grew between the calls; ask again.
        if err.raw_os_error() != Some(libc::EINVAL) {
            return Err(err);
        }
    }
}

/// Resource number of an `RLIMIT_*` name.
pub fn rlimit_resource(name: &str) -> Option<i32> {
    let r = match name {
        "RLIMIT_CPU" => libc::RLIMIT_CPU,
        "RLIMIT_FSIZE" => libc::RLIMIT_FSIZE,
        "RLIMIT_DATA" => libc::RLIMIT_DATA,
        "RLIMIT_STACK" => libc::RLIMIT_STACK,
        "RLIMIT_CORE" => libc::RLIMIT_CORE,
        "RLIMIT_RSS" => libc::RLIMIT_RSS,
        "RLIMIT_NPROC" => libc::RLIMIT_NPROC,
        "RLIMIT_NOFILE" => libc::RLIMIT_NOFILE,
        "RLIMIT_MEMLOCK" => libc::RLIMIT_MEMLOCK,
        "RLIMIT_AS" => libc::RLIMIT_AS,
        "RLIMIT_LOCKS" => libc::RLIMIT_LOCKS,
        "RLIMIT_SIGPENDING" => libc::RLIMIT_SIGPENDING,
        "RLIMIT_MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => libc::RLIMIT_NICE,
        "RLIMIT_RTPRIO" => libc::RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => libc::RLIMIT_RTTIME,
        _ => return None,
    };
    // The constants' type differs between C libraries; all are small.
    #[allow(clippy::unnecessary_cast)]
    Some(r as i32)
}

/// (soft, hard) limits of a resource; RLIM_INFINITY is u64::MAX.
pub fn getrlimit(resource: i32) -> io::Result<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit for the call's duration.
    let rc = unsafe { libc::getrlimit(resource as _, &mut lim) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    #[allow(clippy::unnecessary_cast)]
    Ok((lim.rlim_cur as u64, lim.rlim_max as u64))
}

pub fn isatty(fd: i32) -> bool {
    // SAFETY: isatty only inspects the descriptor number; an invalid one
    // just makes it return 0.
    unsafe { libc::isatty(fd) == 1 }
}

/// (nodename, domainname) from uname(2).
pub fn uname() -> io::Result<(String, String)> {
    // SAFETY: utsname is plain old data (arrays of c_char), for which all
    // zeroes is a valid value.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname for the call's duration.
    if unsafe { libc::uname(&mut u) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((c_chars(&u.nodename), c_chars(&u.domainname)))
}

fn c_chars(field: &[libc::c_char]) -> String {
    let bytes: Vec<u8> = field
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Major number of a dev_t (glibc's gnu_dev_major).
pub fn major(dev: u64) -> u64 {
    ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff)
}

/// Minor number of a dev_t (glibc's gnu_dev_minor).
pub fn minor(dev: u64) -> u64 {
    (dev & 0xff) | ((dev >> 12) & !0xff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_numbers() {
        // makedev(1, 3) = 0x103; makedev(136, 5) = 0x8805;
        // makedev(259, 70000) puts the high minor bits above bit 20.
        assert_eq!((major(0x103), minor(0x103)), (1, 3));
        assert_eq!((major(0x8805), minor(0x8805)), (136, 5));
        fn makedev(ma: u64, mi: u64) -> u64 {
            ((ma & 0xfff) << 8) | ((ma & !0xfff) << 32) | (mi & 0xff) | ((mi & !0xff) << 12)
        }
        let dev = makedev(259, 70000);
        assert_eq!((major(dev), minor(dev)), (259, 70000));
    }

    #[test]
    fn rlimit_names() {
        assert_eq!(
            rlimit_resource("RLIMIT_NOFILE"),
            Some(libc::RLIMIT_NOFILE as i32)
        );
        assert_eq!(
            rlimit_resource("RLIMIT_RTTIME"),
            Some(libc::RLIMIT_RTTIME as i32)
        );
        assert_eq!(rlimit_resource("NOFILE"), None);
        let (soft, hard) = getrlimit(rlimit_resource("RLIMIT_NOFILE").unwrap()).unwrap();
        assert!(soft <= hard);
    }
}
