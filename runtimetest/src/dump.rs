//! `runtimetest --dump [--hold] [SYSCTL_KEY...]`: prints what the process
//! sees, one fact a line (`SECTION KEY VALUE...`), so that a harness can run
//! one config under two runtimes and diff the two reports.
//!
//! The report holds nothing that differs between two runs of the same
//! config on the same host, apart from the namespace inodes (`ns`) and the
//! cgroup paths (`cgroup`), which the harness maps itself: no pids, mount
//! ids, other inode numbers or times. Values are whitespace-squashed; an
//! empty value prints as `-`, an unreadable one as `error ENAME`. Sections
//! come in a fixed order and the report ends with `end`.

use std::ffi::{CStr, CString, OsStr};
use std::fs;
use std::io::{self, Write};
use std::net::Ipv4Addr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::checks::sysctl_path;
use crate::procfs;
use crate::sys;

/// What `--dump` was asked for.
#[derive(Debug, Default, PartialEq)]
pub struct DumpOptions {
    /// `--hold`: after the report, wait for SIGTERM.
    pub hold: bool,
    /// Sysctl keys to print before the default ones.
    pub sysctls: Vec<String>,
}

const NAMESPACES: [&str; 9] = [
    "cgroup",
    "ipc",
    "mnt",
    "net",
    "pid",
    "pid_for_children",
    "time",
    "user",
    "uts",
];

const STATUS_FIELDS: [&str; 14] = [
    "Uid",
    "Gid",
    "Groups",
    "Umask",
    "CapInh",
    "CapPrm",
    "CapEff",
    "CapBnd",
    "CapAmb",
    "NoNewPrivs",
    "Seccomp",
    "Seccomp_filters",
    "Cpus_allowed_list",
    "Mems_allowed_list",
];

const DEFAULT_SYSCTLS: [&str; 5] = [
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ping_group_range",
    "kernel.shmmax",
    "net.core.somaxconn",
    "net.ipv4.ip_forward",
];

const CGROUP_V2_FILES: [&str; 12] = [
    "memory.max",
    "memory.swap.max",
    "memory.low",
    "memory.high",
    "pids.max",
    "cpu.max",
    "cpu.weight",
    "cpuset.cpus",
    "cpuset.mems",
    "io.weight",
    "cgroup.type",
    "cgroup.controllers",
];

const CGROUP_V1_FILES: [&str; 11] = [
    "memory/memory.limit_in_bytes",
    "memory/memory.memsw.limit_in_bytes",
    "memory/memory.soft_limit_in_bytes",
    "memory/memory.swappiness",
    "pids/pids.max",
    "cpu/cpu.cfs_quota_us",
    "cpu/cpu.cfs_period_us",
    "cpu/cpu.shares",
    "cpuset/cpuset.cpus",
    "cpuset/cpuset.mems",
    "blkio/blkio.weight",
];

/// Paths runtimes usually mask or make read-only (runc's defaults).
const ACCESS_PATHS: [&str; 12] = [
    "/proc/kcore",
    "/proc/keys",
    "/proc/timer_list",
    "/proc/sched_debug",
    "/sys/firmware",
    "/proc/acpi",
    "/proc/sys",
    "/proc/sysrq-trigger",
    "/proc/irq",
    "/proc/bus",
    "/proc/fs",
    "/sys/fs/cgroup",
];

/// A sysctl key is usable on the command line when it names a file under
/// /proc/sys without leaving it, and fits in one field of the report.
pub fn valid_sysctl_key(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with('-')
        && !key.chars().any(|c| c.is_whitespace() || c.is_control())
        && !key.split('/').any(|c| c == "..")
}

/// Set by the SIGTERM handler; read by the hold loop.
static TERMINATED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigterm(_: libc::c_int) {
    // Only an atomic store: anything more is not async-signal-safe.
    TERMINATED.store(true, Ordering::SeqCst);
}

pub fn run(opts: &DumpOptions) -> ExitCode {
    // With --hold, catch and block SIGTERM before the report: as pid 1 of a
    // pid namespace the process would otherwise not be killable by it (the
    // kernel drops signals init has no handler for), and a SIGTERM that
    // comes while the report is being written stays pending instead of
    // being lost.
    let old_mask = if opts.hold {
        match catch_and_block_sigterm() {
            Ok(m) => Some(m),
            Err(e) => {
                eprintln!("runtimetest: --dump: SIGTERM handler: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };

    let report = report(&opts.sysctls);
    let mut out = io::stdout().lock();
    if let Err(e) = out.write_all(report.as_bytes()).and_then(|()| out.flush()) {
        eprintln!("runtimetest: --dump: write: {e}");
        return ExitCode::FAILURE;
    }
    drop(out);

    if let Some(mask) = old_mask {
        // sigsuspend is pause() with SIGTERM unblocked atomically, so a
        // SIGTERM between the flag check and the wait cannot be missed.
        while !TERMINATED.load(Ordering::SeqCst) {
            // SAFETY: `mask` is a valid sigset_t; sigsuspend only reads it
            // and returns (-1, EINTR) after a handler ran.
            unsafe { libc::sigsuspend(&mask) };
        }
    }
    ExitCode::SUCCESS
}

/// Installs the SIGTERM handler and blocks SIGTERM; returns the signal mask
/// from before, without SIGTERM, to wait with.
fn catch_and_block_sigterm() -> io::Result<libc::sigset_t> {
    // SAFETY: sigaction and sigset_t are plain data for which all zeroes is
    // valid; every pointer passed is to a live local; the handler only
    // stores to an atomic.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigterm as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut sa.sa_mask);
        if libc::sigaction(libc::SIGTERM, &sa, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
        let mut term: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut term);
        libc::sigaddset(&mut term, libc::SIGTERM);
        let mut old: libc::sigset_t = std::mem::zeroed();
        if libc::sigprocmask(libc::SIG_BLOCK, &term, &mut old) != 0 {
            return Err(io::Error::last_os_error());
        }
        libc::sigdelset(&mut old, libc::SIGTERM);
        Ok(old)
    }
}

/// The lines of the report, built in memory and written at once, so that
/// nothing is written (and no descriptor but stdout's is used) while the
/// `fd` section looks at the open descriptors.
#[derive(Default)]
struct Report {
    text: String,
}

impl Report {
    /// Appends `section` and `fields`, space-separated; an empty field
    /// prints as `-` so that every line keeps its field count.
    fn line(&mut self, section: &str, fields: &[&str]) {
        self.text.push_str(section);
        for f in fields {
            self.text.push(' ');
            self.text.push_str(if f.is_empty() { "-" } else { f });
        }
        self.text.push('\n');
    }
}

fn report(extra_sysctls: &[String]) -> String {
    let mut r = Report::default();
    namespaces(&mut r);
    r.line("pid1", &[&(sys::getpid() == 1).to_string()]);
    status(&mut r);
    idmaps(&mut r);
    limits(&mut r);
    mounts(&mut r);
    devices(&mut r);
    net_devices(&mut r);
    addresses(&mut r);
    fds(&mut r);
    ttys(&mut r);
    process(&mut r);
    sysctls(&mut r, extra_sysctls);
    cgroups(&mut r);
    proc_files(&mut r);
    access(&mut r);
    r.line("end", &[]);
    r.text
}

// ---- pure helpers (unit tested) ----

/// Collapse every run of whitespace (newlines included) to one space.
pub fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Escape what would break a field or a line: control bytes, backslash and,
/// with `space`, the space, as `\ooo` like the kernel does in mountinfo.
/// Invalid UTF-8 is replaced (lossy), which is stable too.
fn escape(bytes: &[u8], space: bool) -> String {
    let s = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_control() || c == '\\' || (space && c == ' ') {
            out.push_str(&format!("\\{:03o}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// A path or name as one report field.
fn field(s: &OsStr) -> String {
    escape(s.as_bytes(), true)
}

/// `error ENAME` for a failed read (`error errno N` / the message when the
/// error has no name in the table).
fn err_text(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => match errno_name(n) {
            Some(name) => format!("error {name}"),
            None => format!("error errno {n}"),
        },
        None => format!("error {}", squash(&e.to_string())),
    }
}

/// Names of the errnos a read of /proc, /sys or /dev can give.
fn errno_name(n: i32) -> Option<&'static str> {
    Some(match n {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::E2BIG => "E2BIG",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::EXDEV => "EXDEV",
        libc::ENODEV => "ENODEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::ENOTTY => "ENOTTY",
        libc::EFBIG => "EFBIG",
        libc::ENOSPC => "ENOSPC",
        libc::ESPIPE => "ESPIPE",
        libc::EROFS => "EROFS",
        libc::EPIPE => "EPIPE",
        libc::ERANGE => "ERANGE",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        libc::ENOSYS => "ENOSYS",
        libc::ELOOP => "ELOOP",
        libc::ENODATA => "ENODATA",
        libc::EOVERFLOW => "EOVERFLOW",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::ESTALE => "ESTALE",
        _ => return None,
    })
}

/// The number in a namespace link target (`net:[4026531840]`).
fn ns_inode(target: &str) -> Option<&str> {
    target.split_once(":[")?.1.strip_suffix(']')
}

/// One row of /proc/self/limits -> (name with `_` for spaces, soft, hard).
/// The name is the words before the first value; a value is a number or
/// `unlimited`; the units column is optional (`Max nice priority 0 0`).
pub fn parse_limit_row(line: &str) -> Option<(String, String, String)> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let is_value = |w: &&str| *w == "unlimited" || w.bytes().all(|b| b.is_ascii_digit());
    let at = words.iter().position(is_value)?;
    if at == 0 || at + 1 >= words.len() || !is_value(&words[at + 1]) {
        return None;
    }
    Some((
        words[..at].join("_"),
        words[at].to_string(),
        words[at + 1].to_string(),
    ))
}

/// The propagation of a mount from mountinfo's optional fields, group
/// numbers removed (they differ between runs): `shared:12 master:3` ->
/// `shared,master`; none -> `private`.
pub fn propagation(optional: &[&str]) -> String {
    if optional.is_empty() {
        return "private".to_string();
    }
    optional
        .iter()
        .map(|f| f.split_once(':').map_or(*f, |(tag, _)| tag))
        .collect::<Vec<_>>()
        .join(",")
}

/// Overlay options whose values are paths or ids chosen per run; only their
/// key is kept. `datadir` is overlay's other per-run path list (not in the
/// original list, but it varies the same way).
const VOLATILE_OPTIONS: [&str; 6] = [
    "lowerdir", "upperdir", "workdir", "index", "xino", "datadir",
];

/// The super options with the values of VOLATILE_OPTIONS dropped. Splits on
/// commas not escaped by a backslash (overlay escapes commas in its paths);
/// `lowerdir+=` (new-style overlay layers) counts as `lowerdir`.
pub fn normalise_super_options(opts: &str) -> String {
    split_unescaped_commas(opts)
        .into_iter()
        .map(|o| match o.split_once('=') {
            Some((key, _)) if VOLATILE_OPTIONS.contains(&key.trim_end_matches('+')) => key,
            _ => o,
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn split_unescaped_commas(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, b) in s.bytes().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' => escaped = true,
            b',' => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// One mountinfo line -> the fields after `mount`: mount point, fstype,
/// source, per-mount options, normalised super options, propagation. The
/// mount ids, device number and root are left out; escapes are kept as the
/// kernel printed them.
pub fn mount_fields(line: &str) -> Option<Vec<String>> {
    let f: Vec<&str> = line.split_ascii_whitespace().collect();
    let sep = f.iter().position(|&x| x == "-")?;
    if sep < 6 || f.len() < sep + 3 {
        return None;
    }
    Some(vec![
        f[4].to_string(),
        f[sep + 1].to_string(),
        f[sep + 2].to_string(),
        f[5].to_string(),
        normalise_super_options(f.get(sep + 3).copied().unwrap_or("")),
        propagation(&f[6..sep]),
    ])
}

/// A /proc/self/fd link target without the inode numbers that differ per
/// run: `pipe:[N]` -> `pipe`, `socket:[N]`, `net:[N]` ... -> the type;
/// `anon_inode:[eventfd]` (a name, not a number) and paths stay.
pub fn normalise_fd_target(target: &str) -> String {
    if let Some((kind, rest)) = target.split_once(":[") {
        if let Some(num) = rest.strip_suffix(']') {
            if !kind.starts_with('/') && !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit())
            {
                return kind.to_string();
            }
        }
    }
    target.to_string()
}

/// /proc/net/if_inet6 row without its interface index (column 2), which
/// depends on how many interfaces the host made before.
fn inet6_row(line: &str) -> Option<String> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 2 {
        return None;
    }
    let mut keep = vec![f[0]];
    keep.extend(&f[2..]);
    Some(keep.join(" "))
}

// ---- sections ----

/// Reads a text file (lossy UTF-8), or `error ENAME`.
fn read(path: impl AsRef<Path>) -> Result<String, String> {
    fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|e| err_text(&e))
}

/// A file's content squashed, or its error text.
fn read_squashed(path: impl AsRef<Path>) -> String {
    read(path).map_or_else(|e| e, |t| squash(&t.replace('\0', " ")))
}

fn namespaces(r: &mut Report) {
    for ns in NAMESPACES {
        let target = fs::read_link(format!("/proc/self/ns/{ns}")).ok();
        let target = target.as_ref().map(|t| t.to_string_lossy());
        let inode = target.as_deref().and_then(ns_inode).unwrap_or("absent");
        r.line("ns", &[ns, inode]);
    }
}

fn status(r: &mut Report) {
    let text = match read("/proc/self/status") {
        Ok(t) => t,
        Err(e) => return r.line("status", &["-", &e]),
    };
    for key in STATUS_FIELDS {
        let v = procfs::status_field(&text, key).map_or("absent".to_string(), squash);
        r.line("status", &[key, &v]);
    }
}

fn idmaps(r: &mut Report) {
    for name in ["uid_map", "gid_map"] {
        let v = read(format!("/proc/self/{name}")).map_or_else(
            |e| e,
            |t| t.lines().map(squash).collect::<Vec<_>>().join(";"),
        );
        r.line("idmap", &[name, &v]);
    }
    r.line(
        "idmap",
        &["setgroups", &read_squashed("/proc/self/setgroups")],
    );
}

fn limits(r: &mut Report) {
    let text = match read("/proc/self/limits") {
        Ok(t) => t,
        Err(e) => return r.line("limit", &["-", &e]),
    };
    // The first row is the column header ("Limit Soft Limit ...").
    for row in text.lines().skip(1).filter_map(parse_limit_row) {
        r.line("limit", &[&row.0, &row.1, &row.2]);
    }
}

fn mounts(r: &mut Report) {
    let text = match read("/proc/self/mountinfo") {
        Ok(t) => t,
        Err(e) => return r.line("mount", &["-", &e]),
    };
    for line in text.lines() {
        match mount_fields(line) {
            Some(f) => r.line("mount", &f.iter().map(String::as_str).collect::<Vec<_>>()),
            None => r.line("mount", &["-", "unparsable"]),
        }
    }
}

/// `dev` lines: every entry of /dev, /dev/pts and /dev/mqueue, sorted.
fn devices(r: &mut Report) {
    let mut paths = Vec::new();
    for dir in ["/dev", "/dev/pts", "/dev/mqueue"] {
        // The two subdirectories are optional; /dev is not.
        if dir != "/dev" && !fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        match fs::read_dir(dir) {
            Ok(entries) => paths.extend(entries.flatten().map(|e| e.path())),
            Err(e) => r.line("dev", &[dir, &err_text(&e)]),
        }
    }
    paths.sort();
    for p in paths {
        let name = field(p.as_os_str());
        match fs::symlink_metadata(&p) {
            Ok(m) => r.line("dev", &[&name, &dev_fields(&p, &m)]),
            Err(e) => r.line("dev", &[&name, &err_text(&e)]),
        }
    }
}

/// `<type> <major:minor or -> <mode> <uid:gid>[ -> target]` of an lstat.
fn dev_fields(p: &Path, m: &fs::Metadata) -> String {
    let t = m.file_type();
    let kind = file_type_letter(&t);
    let num = if t.is_char_device() || t.is_block_device() {
        format!("{}:{}", sys::major(m.rdev()), sys::minor(m.rdev()))
    } else {
        "-".to_string()
    };
    let mut s = format!(
        "{kind} {num} {:04o} {}:{}",
        m.mode() & 0o7777,
        m.uid(),
        m.gid()
    );
    if t.is_symlink() {
        let target = fs::read_link(p).map_or_else(|e| err_text(&e), |t| field(t.as_os_str()));
        s.push_str(&format!(" -> {target}"));
    }
    s
}

fn file_type_letter(t: &fs::FileType) -> &'static str {
    if t.is_char_device() {
        "c"
    } else if t.is_block_device() {
        "b"
    } else if t.is_dir() {
        "d"
    } else if t.is_symlink() {
        "l"
    } else if t.is_file() {
        "f"
    } else if t.is_socket() {
        "s"
    } else if t.is_fifo() {
        "p"
    } else {
        "?"
    }
}

fn net_devices(r: &mut Report) {
    let mut names = match fs::read_dir("/sys/class/net") {
        Ok(d) => d.flatten().map(|e| e.file_name()).collect::<Vec<_>>(),
        Err(e) => return r.line("net", &["-", &err_text(&e)]),
    };
    names.sort();
    for n in names {
        let dir = Path::new("/sys/class/net").join(&n);
        let attrs = ["flags", "operstate", "mtu"].map(|a| read_squashed(dir.join(a)));
        r.line("net", &[&field(&n), &attrs[0], &attrs[1], &attrs[2]]);
    }
}

fn addresses(r: &mut Report) {
    match read("/proc/net/if_inet6") {
        Ok(text) => {
            let mut rows: Vec<String> = text.lines().filter_map(inet6_row).collect();
            rows.sort();
            for row in rows {
                r.line("addr6", &[&row]);
            }
        }
        Err(e) => r.line("addr6", &["-", &e]),
    }
    match ipv4_addresses() {
        Ok(mut list) => {
            list.sort();
            for (name, addr) in list {
                r.line("addr4", &[&name, &addr]);
            }
        }
        Err(e) => r.line("addr4", &["-", &err_text(&e)]),
    }
}

/// (interface, `ip/prefix`) of every IPv4 address, from getifaddrs(3).
fn ipv4_addresses() -> io::Result<Vec<(String, String)>> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: `head` is a valid out pointer; on success it owns a list that
    // is freed below with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut out = Vec::new();
    let mut p = head;
    while !p.is_null() {
        // SAFETY: `p` is a node of the list getifaddrs returned, alive until
        // freeifaddrs; its name is a NUL-terminated string and its address
        // pointers are null or point to sockaddrs of the stated family
        // (sockaddr_in for AF_INET).
        unsafe {
            let ifa = &*p;
            let addr = ifa.ifa_addr;
            if !addr.is_null() && i32::from((*addr).sa_family) == libc::AF_INET {
                let sin = &*(addr as *const libc::sockaddr_in);
                let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
                let prefix = if ifa.ifa_netmask.is_null() {
                    32
                } else {
                    let mask = &*(ifa.ifa_netmask as *const libc::sockaddr_in);
                    mask.sin_addr.s_addr.count_ones()
                };
                let name = field(OsStr::from_bytes(CStr::from_ptr(ifa.ifa_name).to_bytes()));
                out.push((name, format!("{ip}/{prefix}")));
            }
            p = ifa.ifa_next;
        }
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    Ok(out)
}

fn fds(r: &mut Report) {
    let list = match open_fds() {
        Ok(l) => l,
        Err(e) => return r.line("fd", &["-", &err_text(&e)]),
    };
    for fd in list {
        let target = fs::read_link(format!("/proc/self/fd/{fd}")).map_or_else(
            |e| err_text(&e),
            |t| field(OsStr::new(&normalise_fd_target(&t.to_string_lossy()))),
        );
        r.line("fd", &[&fd.to_string(), &target]);
    }
}

/// The open descriptors, sorted, without the one used to list them: that
/// is why this uses opendir/dirfd and not std's read_dir, which hides it.
fn open_fds() -> io::Result<Vec<i32>> {
    let path = CString::new("/proc/self/fd").expect("no NUL in a literal");
    // SAFETY: `path` is a valid C string; the DIR is closed below.
    let dir = unsafe { libc::opendir(path.as_ptr()) };
    if dir.is_null() {
        return Err(io::Error::last_os_error());
    }
    let mut fds = Vec::new();
    // SAFETY: `dir` is a live DIR from opendir; readdir's entries stay valid
    // until the next readdir or closedir, and are only read before then.
    unsafe {
        let own = libc::dirfd(dir);
        loop {
            let ent = libc::readdir(dir);
            if ent.is_null() {
                break;
            }
            let name = CStr::from_ptr((*ent).d_name.as_ptr());
            if let Some(fd) = name.to_str().ok().and_then(|n| n.parse::<i32>().ok()) {
                if fd != own {
                    fds.push(fd);
                }
            }
        }
        libc::closedir(dir);
    }
    fds.sort_unstable();
    Ok(fds)
}

fn ttys(r: &mut Report) {
    for fd in 0..3 {
        let is_tty = sys::isatty(fd);
        let name = if is_tty { ttyname(fd) } else { None };
        r.line(
            "tty",
            &[
                &fd.to_string(),
                &is_tty.to_string(),
                name.as_deref().unwrap_or("-"),
            ],
        );
    }
}

fn ttyname(fd: i32) -> Option<String> {
    let mut buf = [0 as libc::c_char; 256];
    // SAFETY: `buf` is writable for its full length, which is passed;
    // ttyname_r NUL-terminates on success.
    let rc = unsafe { libc::ttyname_r(fd, buf.as_mut_ptr(), buf.len()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: on success `buf` holds a NUL-terminated string.
    let name = unsafe { CStr::from_ptr(buf.as_ptr()) };
    Some(field(OsStr::from_bytes(name.to_bytes())))
}

/// cwd, environment and uname.
fn process(r: &mut Report) {
    let cwd = std::env::current_dir().map_or_else(|e| err_text(&e), |p| field(p.as_os_str()));
    r.line("cwd", &[&cwd]);
    let mut env: Vec<String> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            // The rest of the line: spaces may stay, newlines may not.
            escape(&kv, false)
        })
        .collect();
    env.sort();
    for kv in env {
        r.line("env", &[&kv]);
    }
    match sys::uname() {
        Ok((node, domain)) => {
            r.line("uname", &["nodename", &field(OsStr::new(&node))]);
            r.line("uname", &["domainname", &field(OsStr::new(&domain))]);
        }
        Err(e) => r.line("uname", &["-", &err_text(&e)]),
    }
}

/// The keys from the command line, then the defaults not already given.
fn sysctls(r: &mut Report, extra: &[String]) {
    let mut keys: Vec<&str> = extra.iter().map(String::as_str).collect();
    for k in DEFAULT_SYSCTLS {
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    for k in keys {
        r.line("sysctl", &[k, &read_squashed(sysctl_path(k))]);
    }
}

fn cgroups(r: &mut Report) {
    match read("/proc/self/cgroup") {
        Ok(t) => {
            for line in t.lines() {
                r.line("cgroup", &[line]);
            }
        }
        Err(e) => r.line("cgroup", &["-", &e]),
    }
    let root = Path::new("/sys/fs/cgroup");
    // cgroup v1 hosts often mount cpu and cpuacct together as cpu,cpuacct
    // (with cpu/ a symlink to it, but not always).
    let cpu_dir = if root.join("cpu").exists() {
        "cpu/"
    } else {
        "cpu,cpuacct/"
    };
    let v1 = CGROUP_V1_FILES
        .iter()
        .map(|f| match f.strip_prefix("cpu/") {
            Some(rest) => format!("{cpu_dir}{rest}"),
            None => f.to_string(),
        });
    for rel in CGROUP_V2_FILES.iter().map(|f| f.to_string()).chain(v1) {
        let path = root.join(&rel);
        if fs::symlink_metadata(&path).is_ok() {
            r.line("cgroupfile", &[&rel, &read_squashed(&path)]);
        }
    }
}

fn proc_files(r: &mut Report) {
    for (name, file) in [
        ("oom_score_adj", "oom_score_adj"),
        ("attr_current", "attr/current"),
        ("personality", "personality"),
    ] {
        r.line(
            "proc",
            &[name, &read_squashed(format!("/proc/self/{file}"))],
        );
    }
}

/// `access <path> <type> <major:minor or -> readable <bool> <ro|rw>
/// entries <n or ->`, or `access <path> absent`: what masking and
/// read-only paths did. access(W_OK) would say nothing useful (root passes
/// it on a read-only mount), so the mount's ST_RDONLY is shown instead.
fn access(r: &mut Report) {
    for path in ACCESS_PATHS {
        let m = match fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                r.line("access", &[path, "absent"]);
                continue;
            }
            Err(e) => {
                r.line("access", &[path, &err_text(&e)]);
                continue;
            }
        };
        let t = m.file_type();
        let num = if t.is_char_device() || t.is_block_device() {
            format!("{}:{}", sys::major(m.rdev()), sys::minor(m.rdev()))
        } else {
            "-".to_string()
        };
        let (readable, entries) = if t.is_dir() {
            // Listed to the end: a masked directory is an empty tmpfs.
            match fs::read_dir(path).and_then(|d| d.collect::<io::Result<Vec<_>>>()) {
                Ok(list) => (true, list.len().to_string()),
                Err(_) => (false, "-".to_string()),
            }
        } else {
            // Only opened, never read: /proc/kcore is huge, and reading
            // /proc/sysrq-trigger or the like says nothing more.
            let opened = fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
                .open(path);
            (opened.is_ok(), "-".to_string())
        };
        r.line(
            "access",
            &[
                path,
                file_type_letter(&t),
                &num,
                "readable",
                &readable.to_string(),
                &mount_ro(path),
                "entries",
                &entries,
            ],
        );
    }
}

/// `ro` or `rw` from the statvfs flags of the mount holding `path`.
fn mount_ro(path: &str) -> String {
    let Ok(c) = CString::new(path) else {
        return "error EINVAL".to_string();
    };
    // SAFETY: statvfs is plain data (all zeroes valid).
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid C string and `st` a writable statvfs for the
    // call's duration.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return err_text(&io::Error::last_os_error());
    }
    if st.f_flag & libc::ST_RDONLY != 0 {
        "ro".to_string()
    } else {
        "rw".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The report line without its section name and newline.
    fn mount(line: &str) -> String {
        let f = mount_fields(line).unwrap();
        let mut r = Report::default();
        r.line("mount", &f.iter().map(String::as_str).collect::<Vec<_>>());
        r.text
            .trim_end()
            .strip_prefix("mount ")
            .unwrap()
            .to_string()
    }

    #[test]
    fn mount_lines() {
        assert_eq!(
            mount("36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 shared:2 - ext3 /dev/root rw,errors=continue"),
            "/mnt2 ext3 /dev/root rw,noatime rw,errors=continue master,shared"
        );
        assert_eq!(
            mount("812 790 0:67 / /my\\040dir ro,nosuid - tmpfs tmpfs ro,size=65536k,nr_inodes=4096,mode=755"),
            "/my\\040dir tmpfs tmpfs ro,nosuid ro,size=65536k,nr_inodes=4096,mode=755 private"
        );
        assert_eq!(
            mount("60 1 0:50 / / rw,relatime unbindable - overlay overlay rw,lowerdir=/a:/b,upperdir=/u,workdir=/w,index=off,xino=auto,redirect_dir=on"),
            "/ overlay overlay rw,relatime rw,lowerdir,upperdir,workdir,index,xino,redirect_dir=on unbindable"
        );
        assert_eq!(
            mount("61 1 0:51 / /o rw shared:5 propagate_from:3 - overlay none rw,lowerdir+=/x\\,y,lowerdir+=/z,datadir+=/d"),
            "/o overlay none rw rw,lowerdir+,lowerdir+,datadir+ shared,propagate_from"
        );
        // No super options at all, and lines that do not parse.
        assert_eq!(
            mount("22 27 0:21 / /proc rw - proc proc"),
            "/proc proc proc rw - private"
        );
        assert!(mount_fields("").is_none());
        assert!(mount_fields("1 2 0:1 / / rw shared:1").is_none());
        assert!(mount_fields("1 2 0:1 / / rw - proc").is_none());
    }

    #[test]
    fn propagation_tags() {
        assert_eq!(propagation(&[]), "private");
        assert_eq!(propagation(&["shared:12", "master:3"]), "shared,master");
        assert_eq!(propagation(&["unbindable"]), "unbindable");
    }

    #[test]
    fn fd_targets() {
        assert_eq!(normalise_fd_target("pipe:[123456]"), "pipe");
        assert_eq!(normalise_fd_target("socket:[42]"), "socket");
        assert_eq!(normalise_fd_target("net:[4026531840]"), "net");
        assert_eq!(
            normalise_fd_target("anon_inode:[eventpoll]"),
            "anon_inode:[eventpoll]"
        );
        assert_eq!(
            normalise_fd_target("anon_inode:inotify"),
            "anon_inode:inotify"
        );
        assert_eq!(normalise_fd_target("/dev/null"), "/dev/null");
        assert_eq!(normalise_fd_target("/tmp/a:[1]"), "/tmp/a:[1]");
        assert_eq!(normalise_fd_target("pipe:[]"), "pipe:[]");
    }

    #[test]
    fn limit_rows() {
        let row = |l| parse_limit_row(l).map(|(n, s, h)| format!("{n} {s} {h}"));
        assert_eq!(
            row("Max cpu time              unlimited            unlimited            seconds   "),
            Some("Max_cpu_time unlimited unlimited".into())
        );
        assert_eq!(
            row("Max open files            1024                 1048576              files     "),
            Some("Max_open_files 1024 1048576".into())
        );
        assert_eq!(
            row("Max nice priority         0                    0                    "),
            Some("Max_nice_priority 0 0".into())
        );
        assert_eq!(
            row("Limit                     Soft Limit           Hard Limit           Units     "),
            None
        );
        assert_eq!(row("Max cpu time 5"), None);
        assert_eq!(row(""), None);
    }

    #[test]
    fn helpers() {
        assert_eq!(squash("  a\t b\n\nc  "), "a b c");
        assert_eq!(squash("\n"), "");
        assert_eq!(ns_inode("mnt:[4026531841]"), Some("4026531841"));
        assert_eq!(ns_inode("garbage"), None);
        assert_eq!(
            inet6_row("00000000000000000000000000000001 01 80 10 80       lo").as_deref(),
            Some("00000000000000000000000000000001 80 10 80 lo")
        );
        assert_eq!(escape(b"a b\nc\\", true), "a\\040b\\012c\\134");
        assert_eq!(escape(b"K=a b", false), "K=a b");
        assert_eq!(
            err_text(&io::Error::from_raw_os_error(libc::ENOENT)),
            "error ENOENT"
        );
        assert_eq!(
            err_text(&io::Error::from_raw_os_error(4000)),
            "error errno 4000"
        );
        let mut r = Report::default();
        r.line("status", &["Groups", ""]);
        assert_eq!(r.text, "status Groups -\n");
    }

    #[test]
    fn sysctl_keys() {
        assert!(valid_sysctl_key("net.ipv4.ip_forward"));
        assert!(valid_sysctl_key("net/ipv4/conf/eth0.1/forwarding"));
        assert!(!valid_sysctl_key(""));
        assert!(!valid_sysctl_key("-x"));
        assert!(!valid_sysctl_key("a b"));
        assert!(!valid_sysctl_key("../../etc/passwd"));
        assert!(!valid_sysctl_key("net/../../etc"));
    }
}
