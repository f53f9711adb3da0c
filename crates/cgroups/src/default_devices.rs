//! runc's default device allow list (measured from runc 1.1.5's
//! devices.list): appended after the config's rules, on v1 as writes to
//! devices.allow, on v2 compiled into the eBPF program. Devices every
//! container may use whatever its rules say: mknod of any node (access is
//! still checked on open), null, zero, full, random, urandom, tty, ptmx,
//! tun, and the container's own ptys.

pub(crate) const DEFAULT_ALLOW: &[&str] = &[
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:8 rwm",
    "c 1:7 rwm",
    "c 5:0 rwm",
    "c 1:5 rwm",
    "c 1:9 rwm",
    "c 136:* rwm",
    "c 5:2 rwm",
    "c 10:200 rwm",
];
