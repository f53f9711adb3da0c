//! Checks of process.scheduler, process.ioPriority, process.execCPUAffinity,
//! linux.personality, linux.memoryPolicy, linux.netDevices, linux.intelRdt
//! and the LSM labels, each read back through the kernel from inside the
//! container (sched_getattr, ioprio_get, personality, get_mempolicy,
//! sched_getaffinity, /proc/net/dev, /proc/self/attr/current).

use crate::checks::{Checker, Ctx};
use serde_json::Value;
use std::collections::BTreeSet;
use std::io;

pub fn run_all(c: &mut Checker, ctx: &Ctx) {
    check_scheduler(c, ctx);
    check_io_priority(c, ctx);
    check_exec_cpu_affinity(c, ctx);
    check_personality(c, ctx);
    check_memory_policy(c, ctx);
    check_net_devices(c, ctx);
    check_intel_rdt(c, ctx);
    check_lsm(c, ctx);
}

fn get<'a>(ctx: &Ctx<'a>, pointer: &str) -> Option<&'a Value> {
    ctx.cfg.pointer(pointer).filter(|v| !v.is_null())
}

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The members of a list like "0-3,7"; None if it does not parse.
pub fn parse_list(s: &str) -> Option<BTreeSet<u32>> {
    let mut out = BTreeSet::new();
    for part in s.trim().split(',') {
        match part.trim().split_once('-') {
            Some((a, b)) => out.extend(a.trim().parse::<u32>().ok()?..=b.trim().parse().ok()?),
            None => {
                out.insert(part.trim().parse().ok()?);
            }
        }
    }
    Some(out)
}

// ----------------------------------------------------------------- scheduler

#[repr(C)]
#[derive(Default, Debug)]
struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
    util_min: u32,
    util_max: u32,
}

fn sched_getattr() -> io::Result<SchedAttr> {
    let mut a = SchedAttr::default();
    let size = std::mem::size_of::<SchedAttr>() as u32;
    // SAFETY: the kernel writes at most `size` bytes into `a`, a live,
    // writable struct of exactly that size.
    let r = unsafe {
        libc::syscall(
            libc::SYS_sched_getattr,
            0,
            &mut a as *mut SchedAttr,
            size,
            0,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(a)
}

const POLICIES: [(&str, u32); 7] = [
    ("SCHED_OTHER", 0),
    ("SCHED_FIFO", 1),
    ("SCHED_RR", 2),
    ("SCHED_BATCH", 3),
    ("SCHED_ISO", 4),
    ("SCHED_IDLE", 5),
    ("SCHED_DEADLINE", 6),
];
const SCHED_RESET_ON_FORK: u64 = 0x01;

fn check_scheduler(c: &mut Checker, ctx: &Ctx) {
    let Some(s) = get(ctx, "/process/scheduler") else {
        return;
    };
    let name = "process.scheduler";
    let Some(policy) = str_at(s, "policy") else {
        c.fail("config", "process.scheduler.policy: want a string");
        return;
    };
    let Some(want) = POLICIES.iter().find(|(n, _)| *n == policy).map(|p| p.1) else {
        c.fail(
            "config",
            format!("process.scheduler.policy: unknown {policy:?}"),
        );
        return;
    };
    let got = match sched_getattr() {
        Ok(a) => a,
        Err(e) => return c.fail(name, format!("sched_getattr: {e}")),
    };
    c.expect("process.scheduler.policy", want, got.policy);
    let int = |k: &str| s.get(k).and_then(Value::as_i64).unwrap_or(0);
    if matches!(policy, "SCHED_OTHER" | "SCHED_BATCH" | "SCHED_IDLE") {
        c.expect("process.scheduler.nice", int("nice"), got.nice as i64);
    }
    if matches!(policy, "SCHED_FIFO" | "SCHED_RR") {
        c.expect(
            "process.scheduler.priority",
            int("priority"),
            got.priority as i64,
        );
    }
    if policy == "SCHED_DEADLINE" {
        let u = |k: &str| s.get(k).and_then(Value::as_u64).unwrap_or(0);
        let period = if u("period") == 0 {
            u("deadline")
        } else {
            u("period")
        };
        c.expect(
            "process.scheduler.runtime/deadline/period",
            (u("runtime"), u("deadline"), period),
            (got.runtime, got.deadline, got.period),
        );
    }
    // The only flag the kernel keeps and reports back.
    let reset = strings(s, "flags")
        .iter()
        .any(|f| f == "SCHED_FLAG_RESET_ON_FORK");
    c.expect(
        "process.scheduler.flags: SCHED_FLAG_RESET_ON_FORK",
        reset,
        got.flags & SCHED_RESET_ON_FORK != 0,
    );
}

// --------------------------------------------------------------- ioPriority

fn check_io_priority(c: &mut Checker, ctx: &Ctx) {
    let Some(io_) = get(ctx, "/process/ioPriority") else {
        return;
    };
    let classes = [
        ("IOPRIO_CLASS_RT", 1),
        ("IOPRIO_CLASS_BE", 2),
        ("IOPRIO_CLASS_IDLE", 3),
    ];
    let class = str_at(io_, "class").unwrap_or("");
    let Some(want_class) = classes.iter().find(|(n, _)| *n == class).map(|c| c.1) else {
        c.fail(
            "config",
            format!("process.ioPriority.class: unknown {class:?}"),
        );
        return;
    };
    let want_level = io_.get("priority").and_then(Value::as_i64).unwrap_or(0);
    const IOPRIO_WHO_PROCESS: libc::c_int = 1;
    // SAFETY: ioprio_get takes two integers and returns the priority or -1.
    let r = unsafe { libc::syscall(libc::SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0) };
    if r < 0 {
        return c.fail(
            "process.ioPriority",
            format!("ioprio_get: {}", io::Error::last_os_error()),
        );
    }
    c.expect(
        "process.ioPriority (class, priority)",
        (want_class, want_level),
        ((r >> 13) & 0x7, r & 0x7),
    );
}

// ---------------------------------------------------------- execCPUAffinity

fn getaffinity() -> io::Result<BTreeSet<u32>> {
    // SAFETY: cpu_set_t is a plain bit array; all zeroes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: the kernel writes at most `size` bytes into `set`.
    if unsafe { libc::sched_getaffinity(0, size, &mut set) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((0..8 * size as u32)
        // SAFETY: CPU_ISSET reads one bit of `set`; `i` is within its size.
        .filter(|&i| unsafe { libc::CPU_ISSET(i as usize, &set) })
        .collect())
}

fn check_exec_cpu_affinity(c: &mut Checker, ctx: &Ctx) {
    let name = "process.execCPUAffinity.final";
    let Some(fin) = get(ctx, "/process/execCPUAffinity").and_then(|a| str_at(a, "final")) else {
        return;
    };
    if !ctx.exec {
        return c.skip(name, "not applicable to the container's init");
    }
    let Some(want) = parse_list(fin) else {
        return c.fail("config", format!("{name}: {fin:?} is not a CPU list"));
    };
    match getaffinity() {
        Ok(got) => c.expect(name, want, got),
        Err(e) => c.fail(name, format!("sched_getaffinity: {e}")),
    }
}

// -------------------------------------------------------------- personality

fn check_personality(c: &mut Checker, ctx: &Ctx) {
    let Some(p) = get(ctx, "/linux/personality") else {
        return;
    };
    let domain = str_at(p, "domain").unwrap_or("");
    let want = match domain {
        "LINUX" => 0,
        "LINUX32" => 8,
        _ => return c.fail("config", format!("linux.personality.domain: {domain:?}")),
    };
    // SAFETY: personality(0xffffffff) only queries the current value.
    let got = unsafe { libc::personality(0xffff_ffff) };
    c.expect("linux.personality.domain", want, got & 0xff);
    if domain == "LINUX32" && cfg!(target_arch = "x86_64") {
        // SAFETY: utsname is plain old data; all zeroes is valid.
        let mut u: libc::utsname = unsafe { std::mem::zeroed() };
        // SAFETY: `u` is a valid, writable utsname for the call.
        if unsafe { libc::uname(&mut u) } == 0 {
            let m: String = u
                .machine
                .iter()
                .take_while(|&&b| b != 0)
                .map(|&b| b as u8 as char)
                .collect();
            c.expect("linux.personality: uname machine", "i686", m.as_str());
        }
    }
}

// ------------------------------------------------------------- memoryPolicy

fn check_memory_policy(c: &mut Checker, ctx: &Ctx) {
    let Some(m) = get(ctx, "/linux/memoryPolicy") else {
        return;
    };
    let modes = [
        ("MPOL_DEFAULT", 0),
        ("MPOL_PREFERRED", 1),
        ("MPOL_BIND", 2),
        ("MPOL_INTERLEAVE", 3),
        ("MPOL_LOCAL", 4),
        ("MPOL_PREFERRED_MANY", 5),
        ("MPOL_WEIGHTED_INTERLEAVE", 6),
    ];
    let flag_bits = [
        ("MPOL_F_NUMA_BALANCING", 1 << 13),
        ("MPOL_F_RELATIVE_NODES", 1 << 14),
        ("MPOL_F_STATIC_NODES", 1 << 15),
    ];
    let mode = str_at(m, "mode").unwrap_or("");
    let Some(mut want_mode) = modes.iter().find(|(n, _)| *n == mode).map(|x| x.1) else {
        return c.fail("config", format!("linux.memoryPolicy.mode: {mode:?}"));
    };
    let nodes = str_at(m, "nodes");
    if mode == "MPOL_PREFERRED" && nodes.is_none() {
        want_mode = 4; // the kernel's "local allocation"
    }
    let want_flags: i32 = strings(m, "flags")
        .iter()
        .filter_map(|f| flag_bits.iter().find(|(n, _)| n == f).map(|x| x.1))
        .fold(0, |a, b| a | b);
    let mut got_mode: libc::c_int = 0;
    let mut mask = [0 as libc::c_ulong; 16];
    let maxnode = mask.len() * libc::c_ulong::BITS as usize;
    // SAFETY: the kernel writes one int to `got_mode` and at most `maxnode`
    // bits into `mask`, both live and writable; addr 0 with flags 0 asks
    // for the thread's policy.
    let r = unsafe {
        libc::syscall(
            libc::SYS_get_mempolicy,
            &mut got_mode as *mut libc::c_int,
            mask.as_mut_ptr(),
            maxnode,
            0usize,
            0,
        )
    };
    if r != 0 {
        return c.fail(
            "linux.memoryPolicy",
            format!("get_mempolicy: {}", io::Error::last_os_error()),
        );
    }
    c.expect(
        "linux.memoryPolicy (mode, flags)",
        (want_mode, want_flags),
        (got_mode & 0xff, got_mode & !0xff),
    );
    if let Some(n) = nodes {
        let Some(want) = parse_list(n) else {
            return c.fail("config", format!("linux.memoryPolicy.nodes: {n:?}"));
        };
        let bits = libc::c_ulong::BITS;
        let got: BTreeSet<u32> = (0..maxnode as u32)
            .filter(|i| mask[(i / bits) as usize] & (1 << (i % bits)) != 0)
            .collect();
        c.expect("linux.memoryPolicy.nodes", want, got);
    }
}

// --------------------------------------------------------------- netDevices

/// Interface names from /proc/net/dev.
pub fn net_dev_names(text: &str) -> Vec<String> {
    text.lines()
        .skip(2)
        .filter_map(|l| l.split_once(':').map(|(n, _)| n.trim().to_string()))
        .collect()
}

fn check_net_devices(c: &mut Checker, ctx: &Ctx) {
    let Some(devs) = get(ctx, "/linux/netDevices").and_then(Value::as_object) else {
        return;
    };
    let text = match std::fs::read_to_string("/proc/net/dev") {
        Ok(t) => t,
        Err(e) => {
            return c.fail(
                "linux.netDevices",
                format!("cannot read /proc/net/dev: {e}"),
            )
        }
    };
    let have = net_dev_names(&text);
    for (host, d) in devs {
        let name = str_at(d, "name").unwrap_or(host);
        let field = format!("linux.netDevices.{host}");
        if !have.iter().any(|h| h == name) {
            c.fail(
                &field,
                format!("no interface {name:?} in the container: {have:?}"),
            );
        } else if name != host && have.iter().any(|h| h == host) {
            c.fail(&field, format!("{host:?} is still there beside {name:?}"));
        } else {
            c.ok(&field);
        }
    }
}

// ----------------------------------------------------------------- intelRdt

fn check_intel_rdt(c: &mut Checker, ctx: &Ctx) {
    let Some(rdt) = get(ctx, "/linux/intelRdt") else {
        return;
    };
    let name = "linux.intelRdt";
    match std::fs::read_to_string("/proc/self/cpu_resctrl_groups") {
        Ok(text) => match str_at(rdt, "closID") {
            Some(clos) => {
                let want = format!("res:/{clos}");
                if text.lines().any(|l| l.trim() == want) {
                    c.ok(name);
                } else {
                    c.fail(
                        name,
                        format!("want {want:?} in cpu_resctrl_groups, got {text:?}"),
                    );
                }
            }
            None => c.skip(name, "the group is the container's id, unknown inside"),
        },
        Err(_) => c.skip(name, "no /proc/self/cpu_resctrl_groups in this kernel"),
    }
}

// --------------------------------------------------------------------- LSMs

fn check_lsm(c: &mut Checker, ctx: &Ctx) {
    let current = || {
        std::fs::read_to_string("/proc/self/attr/current")
            .map(|l| l.trim_end_matches(['\0', '\n']).to_string())
    };
    let set = |p: &str| {
        get(ctx, p)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    if let Some(profile) = set("/process/apparmorProfile") {
        let name = "process.apparmorProfile";
        let enabled = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
            .is_ok_and(|s| s.starts_with('Y'));
        if !enabled {
            c.skip(
                name,
                "AppArmor is not enabled: the runtime ignores the profile",
            );
        } else {
            let label = std::fs::read_to_string("/proc/self/attr/apparmor/current")
                .map(|l| l.trim_end_matches(['\0', '\n']).to_string())
                .or_else(|_| current());
            match label {
                // "profile (enforce)"
                Ok(l) if l.split(' ').next() == Some(profile) => c.ok(name),
                Ok(l) => c.fail(name, format!("want profile {profile:?}, got {l:?}")),
                Err(e) => c.fail(name, format!("cannot read the current label: {e}")),
            }
        }
    }
    if let Some(label) = set("/process/selinuxLabel") {
        let name = "process.selinuxLabel";
        match current() {
            Ok(l) => c.expect(name, label, l.as_str()),
            Err(e) => c.fail(
                name,
                format!("cannot read /proc/self/attr/current ({e}): without SELinux the runtime should have refused the label"),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_net_dev() {
        let l = parse_list("0-2,5").unwrap();
        assert_eq!(l.into_iter().collect::<Vec<_>>(), [0, 1, 2, 5]);
        assert!(parse_list("x").is_none());
        let text = "Inter-|   Receive\n face |bytes\n    lo:  0 0\n  ctr0: 1 2\n";
        assert_eq!(net_dev_names(text), ["lo", "ctr0"]);
    }

    #[test]
    fn sched_attr_size() {
        assert_eq!(std::mem::size_of::<SchedAttr>(), 56);
        assert!(sched_getattr().is_ok());
    }
}
