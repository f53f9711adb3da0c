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

/// A failed step of linux.netDevices (or of bringing up lo in a new network
/// namespace): the config field it was for and what failed.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {what}")]
pub struct NetdevError {
    /// `linux.netDevices`, `linux.netDevices.<host name>` or
    /// `linux.namespaces`.
    pub field: String,
    pub what: Failure,
}

impl NetdevError {
    fn new(field: impl Into<String>, what: Failure) -> Self {
        NetdevError {
            field: field.into(),
            what,
        }
    }

    /// The errno of the failed system call or netlink request, if one.
    pub fn errno(&self) -> Option<i32> {
        self.what.errno()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("netlink socket: {0}")]
    Socket(std::io::Error),
    #[error(transparent)]
    Netlink(#[from] NetlinkError),
    #[error("no network device {0:?} on the host")]
    NoDevice(String),
    #[error("open {path}: {source}")]
    OpenNs {
        path: String,
        source: std::io::Error,
    },
    /// The kernel refused the RTM_NEWLINK that moves it.
    #[error("move into the container's network namespace as {name:?}: {source}")]
    Move {
        name: String,
        source: std::io::Error,
    },
    #[error("{0} is not in the container")]
    NotInContainer(String),
    /// A `%d` device whose index another device took in a joined namespace.
    #[error("the moved device is not at index {index} any more ({there:?} is there, not a {template:?})")]
    IndexTaken {
        index: i32,
        there: String,
        template: String,
    },
    /// The kernel refused the RTM_NEWADDR of a kept address.
    #[error("add its address again in the container: {0}")]
    AddAddress(std::io::Error),
    #[error("set {name} up: {source}")]
    SetUp { name: String, source: LinkUpError },
    #[error("network: bring up lo: {0}")]
    LoopbackUp(LinkUpError),
}

impl Failure {
    fn errno(&self) -> Option<i32> {
        match self {
            Failure::Socket(e)
            | Failure::OpenNs { source: e, .. }
            | Failure::Move { source: e, .. }
            | Failure::AddAddress(e) => e.raw_os_error(),
            Failure::Netlink(e) => e.errno(),
            Failure::SetUp { source: e, .. } | Failure::LoopbackUp(e) => e.errno(),
            Failure::NoDevice(_) | Failure::NotInContainer(_) | Failure::IndexTaken { .. } => None,
        }
    }
}

/// A netlink exchange that failed before the kernel answered the request
/// itself.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    #[error("netlink send: {0}")]
    Send(std::io::Error),
    #[error("netlink receive: {0}")]
    Receive(std::io::Error),
    #[error("short netlink reply ({0} bytes)")]
    ShortReply(usize),
    #[error("unexpected netlink reply type {0}")]
    ReplyType(u16),
    #[error("empty netlink reply")]
    EmptyReply,
    /// The kernel refused the RTM_GETADDR dump.
    #[error("list addresses: {0}")]
    ListAddresses(std::io::Error),
}

impl NetlinkError {
    fn errno(&self) -> Option<i32> {
        match self {
            NetlinkError::Send(e) | NetlinkError::Receive(e) | NetlinkError::ListAddresses(e) => {
                e.raw_os_error()
            }
            NetlinkError::ShortReply(_) | NetlinkError::ReplyType(_) | NetlinkError::EmptyReply => {
                None
            }
        }
    }
}

/// Why a link could not be set up (SIOCGIFFLAGS, then SIOCSIFFLAGS).
#[derive(Debug, thiserror::Error)]
pub enum LinkUpError {
    #[error("{op}: {source}")]
    Sys {
        op: &'static str,
        source: std::io::Error,
    },
    #[error("{0:?} is longer than an interface name can be")]
    NameTooLong(String),
}

impl LinkUpError {
    fn errno(&self) -> Option<i32> {
        match self {
            LinkUpError::Sys { source, .. } => source.raw_os_error(),
            LinkUpError::NameTooLong(_) => None,
        }
    }
}

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
fn ack_errno(reply: &[u8]) -> Result<i32, NetlinkError> {
    if reply.len() < 20 {
        return Err(NetlinkError::ShortReply(reply.len()));
    }
    let typ = u16::from_ne_bytes([reply[4], reply[5]]);
    if typ != NLMSG_ERROR {
        return Err(NetlinkError::ReplyType(typ));
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
fn dump_addresses(sock: &mut File, index: i32) -> Result<Vec<Address>, NetlinkError> {
    let mut req = Vec::with_capacity(24);
    nl_header(&mut req, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 1);
    ifaddrmsg(&mut req, libc::AF_UNSPEC as u8, 0, 0, 0, 0);
    sock.write_all(&finish(req)).map_err(NetlinkError::Send)?;
    let mut found = Vec::new();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = sock.read(&mut buf).map_err(NetlinkError::Receive)?;
        let msgs = messages(&buf[..n]);
        if msgs.is_empty() {
            return Err(NetlinkError::EmptyReply);
        }
        for (typ, flags, payload) in msgs {
            match typ {
                NLMSG_DONE => return Ok(found),
                NLMSG_ERROR => {
                    let err = payload
                        .get(0..4)
                        .map(|b| -i32::from_ne_bytes(b.try_into().expect("4 bytes")))
                        .unwrap_or(libc::EIO);
                    return Err(NetlinkError::ListAddresses(
                        std::io::Error::from_raw_os_error(err),
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
fn request(sock: &mut File, req: &[u8]) -> Result<i32, NetlinkError> {
    sock.write_all(req).map_err(NetlinkError::Send)?;
    let mut reply = [0u8; 1024];
    let n = sock.read(&mut reply).map_err(NetlinkError::Receive)?;
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
pub fn loopback_up() -> Result<(), NetdevError> {
    set_up("lo").map_err(|e| NetdevError::new("linux.namespaces", Failure::LoopbackUp(e)))
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
) -> Result<Vec<DeviceAddresses>, NetdevError> {
    if devices.is_empty() {
        return Ok(Vec::new());
    }
    let mut sock =
        netlink_socket().map_err(|e| NetdevError::new("linux.netDevices", Failure::Socket(e)))?;
    let mut out = Vec::new();
    for (host, dev) in devices {
        let field = format!("linux.netDevices.{host}");
        let index = if_index(host)
            .ok_or_else(|| NetdevError::new(&field, Failure::NoDevice(host.clone())))?;
        let addresses =
            dump_addresses(&mut sock, index).map_err(|e| NetdevError::new(&field, e.into()))?;
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
pub fn moved_devices_up(devices: &[DeviceAddresses]) -> Result<(), NetdevError> {
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
                return Err(NetdevError::new(
                    field,
                    Failure::IndexTaken {
                        index: d.index,
                        there,
                        template: d.name.clone(),
                    },
                ));
            }
            d.index
        } else {
            if_index(&d.name)
                .ok_or_else(|| NetdevError::new(&field, Failure::NotInContainer(d.name.clone())))?
        };
        for a in &d.addresses {
            if sock.is_none() {
                sock = Some(
                    netlink_socket().map_err(|e| NetdevError::new(&field, Failure::Socket(e)))?,
                );
            }
            let s = sock.as_mut().expect("just made");
            match request(s, &add_request(seq as u32 + 1, index, a))
                .map_err(|e| NetdevError::new(&field, e.into()))?
            {
                0 | libc::EEXIST => {}
                errno => {
                    return Err(NetdevError::new(
                        field,
                        Failure::AddAddress(std::io::Error::from_raw_os_error(errno)),
                    ))
                }
            }
        }
        let name = if_indextoname(index).unwrap_or_else(|| d.name.clone());
        if let Err(source) = set_up(&name) {
            return Err(NetdevError::new(field, Failure::SetUp { name, source }));
        }
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
fn set_up(name: &str) -> Result<(), LinkUpError> {
    let os = |op: &'static str| LinkUpError::Sys {
        op,
        source: std::io::Error::last_os_error(),
    };
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
        return Err(LinkUpError::NameTooLong(name.to_string()));
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
pub(crate) fn move_all(pid: i32, devices: &BTreeMap<String, NetDevice>) -> Result<(), NetdevError> {
    if devices.is_empty() {
        return Ok(());
    }
    let ns_path = format!("/proc/{pid}/ns/net");
    let ns = File::open(&ns_path).map_err(|source| {
        NetdevError::new(
            "linux.netDevices",
            Failure::OpenNs {
                path: ns_path.clone(),
                source,
            },
        )
    })?;
    let mut sock =
        netlink_socket().map_err(|e| NetdevError::new("linux.netDevices", Failure::Socket(e)))?;
    for (seq, (host, dev)) in devices.iter().enumerate() {
        let field = format!("linux.netDevices.{host}");
        let name = dev
            .name
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or(host);
        let index = if_index(host)
            .ok_or_else(|| NetdevError::new(&field, Failure::NoDevice(host.clone())))?;
        let req = move_request(seq as u32 + 1, index, ns.as_raw_fd(), name);
        match request(&mut sock, &req).map_err(|e| NetdevError::new(&field, e.into()))? {
            0 => tracing::debug!("{field}: moved into the container as {name}"),
            errno => {
                return Err(NetdevError::new(
                    field,
                    Failure::Move {
                        name: name.to_string(),
                        source: std::io::Error::from_raw_os_error(errno),
                    },
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

    /// The typed error says what the text said before it was typed.
    #[test]
    fn errors_keep_their_line() {
        let eperm = || std::io::Error::from_raw_os_error(libc::EPERM);
        let e = NetdevError::new(
            "linux.namespaces",
            Failure::LoopbackUp(LinkUpError::Sys {
                op: "SIOCSIFFLAGS",
                source: eperm(),
            }),
        );
        assert_eq!(
            e.to_string(),
            format!(
                "linux.namespaces: network: bring up lo: SIOCSIFFLAGS: {}",
                eperm()
            )
        );
        assert_eq!(e.errno(), Some(libc::EPERM));
        let e = NetdevError::new("linux.netDevices.eth1", NetlinkError::ShortReply(4).into());
        assert_eq!(
            e.to_string(),
            "linux.netDevices.eth1: short netlink reply (4 bytes)"
        );
        assert_eq!(e.errno(), None);
    }

    #[test]
    fn acks() {
        let mut ok = vec![0u8; 36];
        ok[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        assert_eq!(ack_errno(&ok).unwrap(), 0);
        ok[16..20].copy_from_slice(&(-libc::ENODEV).to_ne_bytes());
        assert_eq!(ack_errno(&ok).unwrap(), libc::ENODEV);
        assert!(matches!(
            ack_errno(&ok[..10]),
            Err(NetlinkError::ShortReply(10))
        ));
    }
}
