//! `linux.netDevices`: moves named host links into the container's network
//! namespace (renamed when the config says so), from the host side once the
//! init exists, with one small hand-written rtnetlink RTM_NEWLINK request
//! per device (IFLA_NET_NS_FD plus IFLA_IFNAME).
//!
//! Nothing is moved back on delete, as runc 1.3: the namespace's owner
//! controls the device's lifecycle. When a network namespace the container
//! made dies with it, the kernel returns physical devices to the host's
//! initial namespace and deletes virtual ones (dummy, veth ...).

use husk_spec::NetDevice;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const RTM_NEWLINK: u16 = 16;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLMSG_ERROR: u16 = 2;
const IFLA_IFNAME: u16 = 3;
const IFLA_NET_NS_FD: u16 = 28;

fn push_attr(buf: &mut Vec<u8>, typ: u16, data: &[u8]) {
    let len = 4 + data.len();
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&typ.to_ne_bytes());
    buf.extend_from_slice(data);
    buf.resize(buf.len().next_multiple_of(4), 0);
}

/// RTM_NEWLINK for link `index`: move to the namespace behind `ns_fd`,
/// named `name` there.
fn move_request(seq: u32, index: i32, ns_fd: i32, name: &str) -> Vec<u8> {
    let mut b = Vec::with_capacity(64);
    // struct nlmsghdr: length (filled in below), type, flags, seq, port id.
    b.extend_from_slice(&0u32.to_ne_bytes());
    b.extend_from_slice(&RTM_NEWLINK.to_ne_bytes());
    b.extend_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    b.extend_from_slice(&seq.to_ne_bytes());
    b.extend_from_slice(&0u32.to_ne_bytes());
    // struct ifinfomsg: family AF_UNSPEC, pad, type, index, flags, change.
    b.extend_from_slice(&[0u8, 0]);
    b.extend_from_slice(&0u16.to_ne_bytes());
    b.extend_from_slice(&index.to_ne_bytes());
    b.extend_from_slice(&0u32.to_ne_bytes());
    b.extend_from_slice(&0u32.to_ne_bytes());
    push_attr(&mut b, IFLA_NET_NS_FD, &(ns_fd as u32).to_ne_bytes());
    let mut cname = name.as_bytes().to_vec();
    cname.push(0);
    push_attr(&mut b, IFLA_IFNAME, &cname);
    let len = b.len() as u32;
    b[0..4].copy_from_slice(&len.to_ne_bytes());
    b
}

/// The errno of the NLMSG_ERROR acknowledgement in `reply` (0: success).
fn ack_errno(reply: &[u8]) -> Result<i32, String> {
    if reply.len() < 20 {
        return Err(format!("short netlink reply ({} bytes)", reply.len()));
    }
    let typ = u16::from_ne_bytes([reply[4], reply[5]]);
    if typ != NLMSG_ERROR {
        return Err(format!("unexpected netlink reply type {typ}"));
    }
    let err = i32::from_ne_bytes([reply[16], reply[17], reply[18], reply[19]]);
    Ok(-err)
}

fn netlink_socket() -> std::io::Result<File> {
    // SAFETY: socket takes three integers and returns a new fd or -1.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel returned a fresh descriptor that nothing else owns.
    Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

fn if_index(name: &str) -> Option<i32> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: if_nametoindex reads the NUL-terminated name, which outlives
    // the call.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (i != 0).then_some(i as i32)
}

/// Brings `lo` up in the network namespace the container just made, as
/// runc and crun do: a new namespace starts with it down, and a server on
/// 127.0.0.1 could not be reached by its own container, nor by the other
/// containers of a pod that join the namespace. Never called for a
/// namespace joined by path (its owner set it up).
pub fn loopback_up() -> Result<(), String> {
    set_up("lo").map_err(|e| format!("linux.namespaces: network: bring up lo: {e}"))
}

/// In the container's network namespace, once the host has moved them
/// there: every linux.netDevices device up (runtime-spec 1.3.0).
pub fn moved_devices_up(devices: &BTreeMap<String, NetDevice>) -> Result<(), String> {
    for (host, dev) in devices {
        let name = dev
            .name
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or(host);
        set_up(name).map_err(|e| format!("linux.netDevices.{host}: set {name} up: {e}"))?;
    }
    Ok(())
}

/// SIOCGIFFLAGS, then SIOCSIFFLAGS with IFF_UP, on link `name` of this
/// process's network namespace.
fn set_up(name: &str) -> Result<(), String> {
    let os = |what: &str| format!("{what}: {}", std::io::Error::last_os_error());
    // SAFETY: socket takes three integers and returns a new fd or -1.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(os("socket"));
    }
    // SAFETY: the kernel returned a fresh descriptor that nothing else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: ifreq is plain data; all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    if name.len() >= req.ifr_name.len() {
        return Err(format!("{name:?} is longer than an interface name can be"));
    }
    for (d, s) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *d = s as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS fills the ifreq, which lives across the call.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) } < 0 {
        return Err(os("SIOCGIFFLAGS"));
    }
    // SAFETY: SIOCGIFFLAGS just set the flags member of the union.
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: SIOCSIFFLAGS reads the ifreq, which lives across the call.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) } < 0 {
        return Err(os("SIOCSIFFLAGS"));
    }
    Ok(())
}

/// Moves every device into the network namespace of `pid`.
pub fn move_all(pid: i32, devices: &BTreeMap<String, NetDevice>) -> Result<(), String> {
    if devices.is_empty() {
        return Ok(());
    }
    let ns_path = format!("/proc/{pid}/ns/net");
    let ns = File::open(&ns_path).map_err(|e| format!("linux.netDevices: open {ns_path}: {e}"))?;
    let mut sock =
        netlink_socket().map_err(|e| format!("linux.netDevices: netlink socket: {e}"))?;
    for (seq, (host, dev)) in devices.iter().enumerate() {
        let field = format!("linux.netDevices.{host}");
        let name = dev
            .name
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or(host);
        let index = if_index(host)
            .ok_or_else(|| format!("{field}: no network device {host:?} on the host"))?;
        let req = move_request(seq as u32 + 1, index, ns.as_raw_fd(), name);
        sock.write_all(&req)
            .map_err(|e| format!("{field}: netlink send: {e}"))?;
        let mut reply = [0u8; 1024];
        let n = sock
            .read(&mut reply)
            .map_err(|e| format!("{field}: netlink receive: {e}"))?;
        match ack_errno(&reply[..n]).map_err(|e| format!("{field}: {e}"))? {
            0 => tracing::debug!("{field}: moved into the container as {name}"),
            errno => {
                return Err(format!(
                    "{field}: move into the container's network namespace as {name:?}: {}",
                    std::io::Error::from_raw_os_error(errno)
                ))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_layout() {
        let r = move_request(7, 42, 9, "ctr0");
        // 16 header + 16 ifinfomsg + 8 (fd attr) + 12 ("ctr0\0" padded).
        assert_eq!(r.len(), 52);
        assert_eq!(u32::from_ne_bytes(r[0..4].try_into().unwrap()), 52);
        assert_eq!(u16::from_ne_bytes(r[4..6].try_into().unwrap()), RTM_NEWLINK);
        assert_eq!(u32::from_ne_bytes(r[8..12].try_into().unwrap()), 7);
        assert_eq!(i32::from_ne_bytes(r[20..24].try_into().unwrap()), 42);
        assert_eq!(
            u16::from_ne_bytes(r[34..36].try_into().unwrap()),
            IFLA_NET_NS_FD
        );
        assert_eq!(u32::from_ne_bytes(r[36..40].try_into().unwrap()), 9);
        assert_eq!(u16::from_ne_bytes(r[40..42].try_into().unwrap()), 9); // 4 + "ctr0\0"
        assert_eq!(&r[44..49], b"ctr0\0");
    }

    #[test]
    fn acks() {
        let mut ok = vec![0u8; 36];
        ok[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        assert_eq!(ack_errno(&ok), Ok(0));
        ok[16..20].copy_from_slice(&(-libc::ENODEV).to_ne_bytes());
        assert_eq!(ack_errno(&ok), Ok(libc::ENODEV));
        assert!(ack_errno(&ok[..10]).is_err());
    }
}
