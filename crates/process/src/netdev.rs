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
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_MULTI: u16 = 0x2;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const IFLA_IFNAME: u16 = 3;
const IFLA_NET_NS_FD: u16 = 28;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_BROADCAST: u16 = 4;
const IFA_FLAGS: u16 = 8;
const IFA_F_PERMANENT: u32 = 0x80;
/// The flags an address keeps when it is added again: how it was
/// configured (nodad, noprefixroute …), not its state (tentative, …).
const IFA_KEEP_FLAGS: u32 = 0x02 | 0x04 | 0x10 | 0x100 | 0x200 | 0x400;
const RT_SCOPE_UNIVERSE: u8 = 0;

/// One address of a device, as the kernel reported it: the ifaddrmsg
/// fields and the attributes that make it again.
#[derive(Debug, Clone, PartialEq)]
pub struct Address {
    family: u8,
    prefix_len: u8,
    flags: u32,
    scope: u8,
    attrs: Vec<(u16, Vec<u8>)>,
}

/// A device's permanent global addresses, read on the host before the
/// move (which drops them all), to add again in the container.
#[derive(Debug, Clone)]
pub struct DeviceAddresses {
    /// linux.netDevices key (the host's name), for messages.
    pub host: String,
    /// The name in the container (may be a `%d` template).
    pub name: String,
    /// The host's ifindex, which a move keeps unless the namespace already
    /// uses it.
    pub index: i32,
    pub addresses: Vec<Address>,
}

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
    nl_header(&mut b, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, seq);
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
    finish(b)
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

fn nl_header(b: &mut Vec<u8>, typ: u16, flags: u16, seq: u32) {
    // struct nlmsghdr: length (set by `finish`), type, flags, seq, port id.
    b.extend_from_slice(&0u32.to_ne_bytes());
    b.extend_from_slice(&typ.to_ne_bytes());
    b.extend_from_slice(&flags.to_ne_bytes());
    b.extend_from_slice(&seq.to_ne_bytes());
    b.extend_from_slice(&0u32.to_ne_bytes());
}

fn finish(mut b: Vec<u8>) -> Vec<u8> {
    let len = b.len() as u32;
    b[0..4].copy_from_slice(&len.to_ne_bytes());
    b
}

/// struct ifaddrmsg: family, prefix length, flags, scope, index.
fn ifaddrmsg(b: &mut Vec<u8>, family: u8, prefix_len: u8, flags: u8, scope: u8, index: i32) {
    b.extend_from_slice(&[family, prefix_len, flags, scope]);
    b.extend_from_slice(&index.to_ne_bytes());
}

/// The netlink messages in one datagram: (type, flags, payload).
fn messages(mut buf: &[u8]) -> Vec<(u16, u16, &[u8])> {
    let mut out = Vec::new();
    while buf.len() >= 16 {
        let len = u32::from_ne_bytes(buf[0..4].try_into().expect("4 bytes")) as usize;
        if len < 16 || len > buf.len() {
            break;
        }
        let typ = u16::from_ne_bytes([buf[4], buf[5]]);
        let flags = u16::from_ne_bytes([buf[6], buf[7]]);
        out.push((typ, flags, &buf[16..len]));
        buf = &buf[len.next_multiple_of(4).min(buf.len())..];
    }
    out
}

/// The rtattrs of a payload: (type, data).
fn attributes(mut buf: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while buf.len() >= 4 {
        let len = u16::from_ne_bytes([buf[0], buf[1]]) as usize;
        if len < 4 || len > buf.len() {
            break;
        }
        out.push((u16::from_ne_bytes([buf[2], buf[3]]), &buf[4..len]));
        buf = &buf[len.next_multiple_of(4).min(buf.len())..];
    }
    out
}

/// From one RTM_NEWADDR payload of a dump: the address, if it belongs to
/// link `index`, is permanent and has global scope (runtime-spec 1.3.0:
/// IFA_F_PERMANENT, RT_SCOPE_UNIVERSE).
fn permanent_global(payload: &[u8], index: i32) -> Option<Address> {
    if payload.len() < 8 {
        return None;
    }
    let idx = i32::from_ne_bytes(payload[4..8].try_into().ok()?);
    let (family, prefix_len, scope) = (payload[0], payload[1], payload[3]);
    let mut flags = payload[2] as u32;
    let mut attrs = Vec::new();
    for (typ, data) in attributes(&payload[8..]) {
        match typ {
            IFA_FLAGS if data.len() >= 4 => flags = u32::from_ne_bytes(data[0..4].try_into().ok()?),
            IFA_ADDRESS | IFA_LOCAL | IFA_BROADCAST => attrs.push((typ, data.to_vec())),
            _ => {}
        }
    }
    (idx == index && scope == RT_SCOPE_UNIVERSE && flags & IFA_F_PERMANENT != 0).then_some(
        Address {
            family,
            prefix_len,
            flags: flags & IFA_KEEP_FLAGS,
            scope,
            attrs,
        },
    )
}

/// Every permanent global address of link `index` (one RTM_GETADDR dump).
fn dump_addresses(sock: &mut File, index: i32) -> Result<Vec<Address>, String> {
    let mut req = Vec::with_capacity(24);
    nl_header(&mut req, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 1);
    ifaddrmsg(&mut req, libc::AF_UNSPEC as u8, 0, 0, 0, 0);
    sock.write_all(&finish(req))
        .map_err(|e| format!("netlink send: {e}"))?;
    let mut found = Vec::new();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = sock
            .read(&mut buf)
            .map_err(|e| format!("netlink receive: {e}"))?;
        let msgs = messages(&buf[..n]);
        if msgs.is_empty() {
            return Err("empty netlink reply".into());
        }
        for (typ, flags, payload) in msgs {
            match typ {
                NLMSG_DONE => return Ok(found),
                NLMSG_ERROR => {
                    let err = payload
                        .get(0..4)
                        .map(|b| -i32::from_ne_bytes(b.try_into().expect("4 bytes")))
                        .unwrap_or(libc::EIO);
                    return Err(format!(
                        "list addresses: {}",
                        std::io::Error::from_raw_os_error(err)
                    ));
                }
                RTM_NEWADDR => found.extend(permanent_global(payload, index)),
                _ => {}
            }
            if flags & NLM_F_MULTI == 0 {
                return Ok(found);
            }
        }
    }
}

/// RTM_NEWADDR for `a` on link `index`.
fn add_request(seq: u32, index: i32, a: &Address) -> Vec<u8> {
    let mut b = Vec::with_capacity(64);
    nl_header(
        &mut b,
        RTM_NEWADDR,
        NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        seq,
    );
    ifaddrmsg(
        &mut b,
        a.family,
        a.prefix_len,
        a.flags as u8,
        a.scope,
        index,
    );
    for (typ, data) in &a.attrs {
        push_attr(&mut b, *typ, data);
    }
    push_attr(&mut b, IFA_FLAGS, &a.flags.to_ne_bytes());
    finish(b)
}

/// Sends one request on `sock` and returns the errno of its acknowledgement.
fn request(sock: &mut File, req: &[u8]) -> Result<i32, String> {
    sock.write_all(req)
        .map_err(|e| format!("netlink send: {e}"))?;
    let mut reply = [0u8; 1024];
    let n = sock
        .read(&mut reply)
        .map_err(|e| format!("netlink receive: {e}"))?;
    ack_errno(&reply[..n])
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

fn container_name<'a>(host: &'a str, dev: &'a NetDevice) -> &'a str {
    dev.name
        .as_deref()
        .filter(|n| !n.is_empty())
        .unwrap_or(host)
}

/// Host side, before anything is made: the permanent global addresses of
/// every linux.netDevices device, which the move will drop.
pub fn addresses_to_keep(
    devices: &BTreeMap<String, NetDevice>,
) -> Result<Vec<DeviceAddresses>, String> {
    if devices.is_empty() {
        return Ok(Vec::new());
    }
    let mut sock =
        netlink_socket().map_err(|e| format!("linux.netDevices: netlink socket: {e}"))?;
    let mut out = Vec::new();
    for (host, dev) in devices {
        let field = format!("linux.netDevices.{host}");
        let index = if_index(host)
            .ok_or_else(|| format!("{field}: no network device {host:?} on the host"))?;
        let addresses = dump_addresses(&mut sock, index).map_err(|e| format!("{field}: {e}"))?;
        out.push(DeviceAddresses {
            host: host.clone(),
            name: container_name(host, dev).to_string(),
            index,
            addresses,
        });
    }
    Ok(out)
}

/// In the container's network namespace, once the host has moved them
/// there (runtime-spec 1.3.0): each device's kept addresses added again,
/// then the device up.
pub fn moved_devices_up(devices: &[DeviceAddresses]) -> Result<(), String> {
    let mut sock = None;
    for (seq, d) in devices.iter().enumerate() {
        let field = format!("linux.netDevices.{}", d.host);
        // A `%d` template names the device only once the kernel has picked
        // the number: then it is found by the index the move kept.
        let index = if d.name.contains('%') {
            // In a joined namespace the index may have clashed and changed:
            // the device there must then at least answer to the template.
            let there = if_indextoname(d.index).unwrap_or_default();
            if !matches_template(&d.name, &there) {
                return Err(format!(
                    "{field}: the moved device is not at index {} any more ({:?} is there, not a {:?})",
                    d.index, there, d.name
                ));
            }
            d.index
        } else {
            if_index(&d.name)
                .ok_or_else(|| format!("{field}: {} is not in the container", d.name))?
        };
        for a in &d.addresses {
            if sock.is_none() {
                sock = Some(netlink_socket().map_err(|e| format!("{field}: netlink socket: {e}"))?);
            }
            let s = sock.as_mut().expect("just made");
            match request(s, &add_request(seq as u32 + 1, index, a))
                .map_err(|e| format!("{field}: {e}"))?
            {
                0 | libc::EEXIST => {}
                errno => {
                    return Err(format!(
                        "{field}: add its address again in the container: {}",
                        std::io::Error::from_raw_os_error(errno)
                    ))
                }
            }
        }
        let name = if_indextoname(index).unwrap_or_else(|| d.name.clone());
        set_up(&name).map_err(|e| format!("{field}: set {name} up: {e}"))?;
    }
    Ok(())
}

/// True when `name` is what the kernel makes of template `t` (`eth%d`:
/// the part before `%d`, decimal digits, the part after).
fn matches_template(t: &str, name: &str) -> bool {
    let Some((pre, post)) = t.split_once("%d") else {
        return false;
    };
    name.strip_prefix(pre)
        .and_then(|r| r.strip_suffix(post))
        .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
}

fn if_indextoname(index: i32) -> Option<String> {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: the buffer has the IF_NAMESIZE bytes the call may write.
    let p = unsafe { libc::if_indextoname(index as libc::c_uint, buf.as_mut_ptr()) };
    if p.is_null() {
        return None;
    }
    // SAFETY: on success the buffer holds a NUL-terminated name.
    let name = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
    Some(name.to_string_lossy().into_owned())
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
        match request(&mut sock, &req).map_err(|e| format!("{field}: {e}"))? {
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

    fn addr_payload(index: i32, scope: u8, flags: u32) -> Vec<u8> {
        let mut b = Vec::new();
        ifaddrmsg(&mut b, libc::AF_INET as u8, 24, flags as u8, scope, index);
        push_attr(&mut b, IFA_LOCAL, &[192, 0, 2, 10]);
        push_attr(&mut b, IFA_ADDRESS, &[192, 0, 2, 10]);
        push_attr(&mut b, 3, b"eth0\0"); // IFA_LABEL: not carried
        push_attr(&mut b, IFA_FLAGS, &flags.to_ne_bytes());
        b
    }

    #[test]
    fn only_permanent_global_addresses_of_the_device_are_kept() {
        // nodad | permanent, global: kept, state flags dropped.
        let a = permanent_global(&addr_payload(5, RT_SCOPE_UNIVERSE, 0x82 | 0x40), 5).unwrap();
        assert_eq!(a.flags, 0x02);
        assert_eq!(a.prefix_len, 24);
        assert_eq!(a.attrs.len(), 2);
        // Another device, link scope (253), not permanent.
        assert!(permanent_global(&addr_payload(6, 0, 0x80), 5).is_none());
        assert!(permanent_global(&addr_payload(5, 253, 0x80), 5).is_none());
        assert!(permanent_global(&addr_payload(5, 0, 0x00), 5).is_none());
        assert!(permanent_global(&[1, 2], 5).is_none());
    }

    #[test]
    fn add_request_carries_the_address() {
        let a = permanent_global(&addr_payload(5, 0, 0x80), 5).unwrap();
        let r = add_request(3, 9, &a);
        assert_eq!(u16::from_ne_bytes(r[4..6].try_into().unwrap()), RTM_NEWADDR);
        let msgs = messages(&r);
        assert_eq!(msgs.len(), 1);
        let payload = msgs[0].2;
        assert_eq!(i32::from_ne_bytes(payload[4..8].try_into().unwrap()), 9);
        let attrs = attributes(&payload[8..]);
        assert!(attrs.contains(&(IFA_LOCAL, &[192u8, 0, 2, 10][..])));
        assert!(attrs.iter().any(|(t, _)| *t == IFA_FLAGS));
    }

    #[test]
    fn templates() {
        assert!(matches_template("eth%d", "eth0"));
        assert!(matches_template("eth%d", "eth12"));
        assert!(matches_template("v%dx", "v3x"));
        assert!(!matches_template("eth%d", "eth"));
        assert!(!matches_template("eth%d", "lo"));
        assert!(!matches_template("eth0", "eth0"));
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
