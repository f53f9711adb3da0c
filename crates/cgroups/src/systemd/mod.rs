//! The systemd cgroup driver (`husk --systemd-cgroup`), as runc's: the
//! container gets a transient scope unit that systemd creates, and the
//! resources then go through the cgroupfs code on the scope's directory.
//!
//! - `linux.cgroupsPath` is `slice:prefix:name` (empty: `:husk:<id>`); the
//!   unit is `prefix-name.scope` in `slice` (empty: `system.slice`; `-`:
//!   the root slice), its directory `/sys/fs/cgroup/<expanded slice>/<unit>`
//!   (`a-b.slice` expands to `a.slice/a-b.slice`).
//! - The scope is started (StartTransientUnit, mode "replace") once the
//!   init exists, with Description, Slice, Delegate=yes,
//!   DefaultDependencies=no, the accounting switches, PIDs=[init] and the
//!   resources systemd itself knows (MemoryMax, MemoryLow, MemorySwapMax,
//!   CPUWeight, CPUQuotaPerSecUSec, CPUQuotaPeriodUSec, TasksMax,
//!   AllowedCPUs, AllowedMemoryNodes), so that systemd writes the same
//!   values when it re-applies its own settings; husk waits for the job's
//!   JobRemoved signal. `update` sets the same properties
//!   (SetUnitProperties, runtime) before writing the files.
//! - Delete stops the unit (StopUnit, waiting for its job), resets a failed
//!   state, and removes what is left of the directory.
//!
//! Only pure cgroup v2 hosts are supported.

pub(crate) mod dbus;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use husk_spec::Resources;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::resolve::{first, Hierarchy};
use crate::resources::{Limits, Mode};
use crate::v2::{self, shares_to_weight, swap_max};
use crate::CgroupError;
use dbus::{CallError, Conn, Message, Value};

/// systemd's own socket: peer-to-peer D-Bus, root only, no bus daemon.
pub const PRIVATE_SOCKET: &str = "/run/systemd/private";
/// The system bus, used when the private socket is not there (or we are
/// not root).
pub const SYSTEM_BUS: &str = "/run/dbus/system_bus_socket";

/// How long a D-Bus call or a unit's job may take (runc waits 30 s too).
const TIMEOUT: Duration = Duration::from_secs(30);

const DEST: &str = "org.freedesktop.systemd1";
const PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";

/// Where the container's scope lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Placement {
    pub slice: String,
    pub unit: String,
    /// The scope's directory relative to the cgroup2 mount point.
    pub rel_dir: PathBuf,
}

/// Parses `slice:prefix:name` (runc's systemd form of cgroupsPath).
pub(crate) fn placement(cgroups_path: Option<&str>, id: &str) -> Result<Placement, CgroupError> {
    let default = format!(":husk:{id}");
    let path = cgroups_path.filter(|p| !p.is_empty()).unwrap_or(&default);
    let bad = |reason: String| CgroupError::Invalid {
        field: "linux.cgroupsPath".into(),
        reason,
    };
    let parts: Vec<&str> = path.split(':').collect();
    let [slice, prefix, name] = parts[..] else {
        return Err(bad(format!(
            "{path:?} is not \"slice:prefix:name\", the form the systemd cgroup driver takes"
        )));
    };
    if name.is_empty() {
        return Err(bad(format!("{path:?} has an empty name")));
    }
    if name.ends_with(".slice") {
        return Err(bad(format!(
            "{path:?}: a slice as the container's unit is not supported; name a scope"
        )));
    }
    for (what, s) in [("prefix", prefix), ("name", name)] {
        if let Some(c) = s.chars().find(|c| !unit_char(*c)) {
            return Err(bad(format!(
                "{path:?}: the {what} {s:?} has {c:?}, which a unit name cannot"
            )));
        }
    }
    let unit = if prefix.is_empty() {
        format!("{name}.scope")
    } else {
        format!("{prefix}-{name}.scope")
    };
    if unit.len() > 255 {
        return Err(bad(format!("{path:?}: the unit name {unit:?} is too long")));
    }
    let slice = match slice {
        "" => "system.slice",
        "-" => "-.slice",
        s => s,
    };
    let rel_dir = expand_slice(slice)
        .map_err(|reason| bad(format!("{path:?}: {reason}")))?
        .join(&unit);
    Ok(Placement {
        slice: slice.to_string(),
        unit,
        rel_dir,
    })
}

fn unit_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || ":-_.\\".contains(c)
}

/// runc's ExpandSlice: `a-b-c.slice` is `a.slice/a-b.slice/a-b-c.slice`
/// below the root; `-.slice` is the root itself.
pub(crate) fn expand_slice(slice: &str) -> Result<PathBuf, String> {
    let Some(base) = slice.strip_suffix(".slice") else {
        return Err(format!("the slice {slice:?} does not end in \".slice\""));
    };
    if base == "-" {
        return Ok(PathBuf::new());
    }
    if base.contains('/') || base.is_empty() {
        return Err(format!("{slice:?} is not a slice name"));
    }
    if let Some(c) = base.chars().find(|c| !unit_char(*c)) {
        return Err(format!(
            "the slice {slice:?} has {c:?}, which a unit name cannot"
        ));
    }
    let mut path = PathBuf::new();
    let mut prefix = String::new();
    for part in base.split('-') {
        if part.is_empty() {
            return Err(format!(
                "the slice {slice:?} has an empty component between dashes"
            ));
        }
        prefix.push_str(part);
        path.push(format!("{prefix}.slice"));
        prefix.push('-');
    }
    Ok(path)
}

/// The unit's properties for the resources systemd knows, from limits that
/// were already checked. Converted as runc converts them.
pub(crate) fn resource_properties(l: &Limits) -> Result<Vec<(&'static str, Value)>, CgroupError> {
    let inf = |v: i64| if v < 0 { u64::MAX } else { v as u64 };
    let mut p = Vec::new();
    if let Some(m) = l.memory_limit {
        p.push(("MemoryMax", Value::U64(inf(m))));
    }
    if let Some(r) = l.memory_reservation {
        p.push(("MemoryLow", Value::U64(inf(r))));
    }
    if let Some(s) = swap_max(l.memory_swap, l.memory_limit) {
        p.push(("MemorySwapMax", Value::U64(inf(s))));
    }
    if let Some(shares) = l.cpu_shares.filter(|_| l.cpu_idle != Some(1)) {
        p.push(("CPUWeight", Value::U64(shares_to_weight(shares))));
    }
    if l.cpu_quota.is_some() || l.cpu_period.is_some() {
        // systemd keeps the quota per second of CPU time, in whole percent:
        // rounded up to 10 ms so that cpu.max is never below what was asked.
        let mut per_sec = u64::MAX;
        if let Some(q) = l.cpu_quota.filter(|q| *q > 0) {
            let period = l.cpu_period.filter(|p| *p > 0).unwrap_or(100_000);
            per_sec = (q as u64).saturating_mul(1_000_000) / period;
            if !per_sec.is_multiple_of(10_000) {
                per_sec = (per_sec / 10_000 + 1) * 10_000;
            }
        }
        p.push(("CPUQuotaPerSecUSec", Value::U64(per_sec)));
        if let Some(period) = l.cpu_period.filter(|p| *p > 0) {
            p.push(("CPUQuotaPeriodUSec", Value::U64(period)));
        }
    }
    if let Some(limit) = l.pids_limit {
        p.push((
            "TasksMax",
            // systemd refuses TasksMax=0; 1 is the same limit for a
            // container whose init is its one task (runc maps it so too).
            Value::U64(match limit {
                0 => 1,
                l if l > 0 => l as u64,
                _ => u64::MAX,
            }),
        ));
    }
    if let Some(cpus) = &l.cpus {
        let bits = list_to_bits(cpus).map_err(|reason| CgroupError::Invalid {
            field: "linux.resources.cpu.cpus".into(),
            reason,
        })?;
        p.push(("AllowedCPUs", bytes(bits)));
    }
    if let Some(mems) = &l.mems {
        let bits = list_to_bits(mems).map_err(|reason| CgroupError::Invalid {
            field: "linux.resources.cpu.mems".into(),
            reason,
        })?;
        p.push(("AllowedMemoryNodes", bytes(bits)));
    }
    Ok(p)
}

fn bytes(b: Vec<u8>) -> Value {
    Value::Array("y".into(), b.into_iter().map(Value::Byte).collect())
}

/// A cpuset list ("0-3,8") as systemd's bitmask: byte i holds CPUs 8i to
/// 8i+7, lowest bit first.
pub(crate) fn list_to_bits(list: &str) -> Result<Vec<u8>, String> {
    let mut bits = Vec::new();
    let num = |s: &str| {
        s.trim()
            .parse::<usize>()
            .ok()
            .filter(|n| *n < 1 << 16)
            .ok_or_else(|| format!("{list:?} is not a list such as \"0-3,8\""))
    };
    for part in list.split(',').filter(|p| !p.trim().is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => (num(part)?, num(part)?),
        };
        if lo > hi {
            return Err(format!("{list:?}: the range {part:?} is backwards"));
        }
        for n in lo..=hi {
            if bits.len() <= n / 8 {
                bits.resize(n / 8 + 1, 0);
            }
            bits[n / 8] |= 1 << (n % 8);
        }
    }
    Ok(bits)
}

/// The container's scope, as saved in its state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Unit {
    pub name: String,
    pub slice: String,
    pub description: String,
    /// Set once StartTransientUnit succeeded: only then does destroy() stop
    /// the unit (one of that name that we did not start is not ours).
    /// Shared between clones: create saves clones of the cgroup before the
    /// init, and so the scope, exists.
    #[serde(default, with = "shared_flag")]
    pub started: Arc<AtomicBool>,
    /// The checked resources, from create() until the scope is started.
    #[serde(skip)]
    pub pending: Arc<Mutex<Option<Limits>>>,
}

mod shared_flag {
    use super::*;

    pub fn serialize<S: Serializer>(f: &Arc<AtomicBool>, s: S) -> Result<S::Ok, S::Error> {
        f.load(Ordering::SeqCst).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<AtomicBool>, D::Error> {
        Ok(Arc::new(AtomicBool::new(bool::deserialize(d)?)))
    }
}

impl Unit {
    pub fn new(p: &Placement, id: &str) -> Self {
        Unit {
            name: p.unit.clone(),
            slice: p.slice.clone(),
            description: format!("husk container {id}"),
            started: Arc::default(),
            pending: Arc::default(),
        }
    }

    pub fn is_started(&self) -> bool {
        self.started.load(Ordering::SeqCst)
    }

    /// [`crate::Cgroup::create`]: systemd makes the directory when
    /// add_pid() starts the scope, so the checked resources wait for that.
    pub fn defer(&self, limits: Limits) {
        *self.pending.lock().unwrap_or_else(|e| e.into_inner()) = Some(limits);
    }

    /// [`crate::Cgroup::add_pid`] before the scope runs: starts it with
    /// `pid` in it, then writes what create() deferred to its directory.
    pub fn start_with(&self, pid: i32, hs: &[Hierarchy]) -> Result<(), CgroupError> {
        let limits = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let limits = limits.unwrap_or_default();
        self.start(pid, &limits)?;
        v2::set(first(hs)?, &limits, Mode::Create)
    }

    /// [`crate::Cgroup::update`]: the unit's properties first, else systemd
    /// would write its old values back whenever it re-applies the unit's
    /// settings; then the files, as on v2.
    pub fn update(&self, hs: &[Hierarchy], resources: &Resources) -> Result<(), CgroupError> {
        let limits = v2::limits(resources)?;
        self.set(&limits)?;
        v2::set(first(hs)?, &limits, Mode::Update)
    }

    /// [`crate::Cgroup::destroy`]: a scope never started (or of that name
    /// but not ours) is left alone; one started by a create that died
    /// before saving that it did goes away by itself once its processes are
    /// killed.
    pub fn destroy(&self, hs: &[Hierarchy]) -> Result<(), CgroupError> {
        if !self.is_started() {
            return Ok(());
        }
        self.stop()?;
        // Sub-cgroups the container made may outlive the scope.
        crate::fs::remove_tree(&first(hs)?.dir)
    }

    /// Starts the scope with `pid` in it and waits for the job to finish.
    /// On failure no unit is left (a failed one is reset).
    pub fn start(&self, pid: i32, limits: &Limits) -> Result<(), CgroupError> {
        let mut props = vec![
            ("Description", Value::str(&self.description)),
            ("Slice", Value::str(&self.slice)),
            ("Delegate", Value::Bool(true)),
            ("DefaultDependencies", Value::Bool(false)),
            ("MemoryAccounting", Value::Bool(true)),
            ("CPUAccounting", Value::Bool(true)),
            ("IOAccounting", Value::Bool(true)),
            ("TasksAccounting", Value::Bool(true)),
            (
                "PIDs",
                Value::Array("u".into(), vec![Value::U32(pid as u32)]),
            ),
        ];
        props.extend(resource_properties(limits)?);
        let mut sd = Systemd::connect()?;
        let body = vec![
            Value::str(&self.name),
            Value::str("replace"),
            prop_array(props),
            Value::Array("(sa(sv))".into(), vec![]),
        ];
        let reply = sd
            .manager("StartTransientUnit", body)
            .map_err(|e| self.error("start", &e.to_string()))?;
        let job = sd.wait_job(&reply).map_err(|e| self.error("start", &e))?;
        if job != "done" {
            sd.reset_failed(&self.name);
            return Err(self.error("start", &format!("its job ended as {job:?}")));
        }
        self.started.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Sets the resource properties of a running scope (for `update`).
    pub fn set(&self, limits: &Limits) -> Result<(), CgroupError> {
        let props = resource_properties(limits)?;
        if props.is_empty() {
            return Ok(());
        }
        let mut sd = Systemd::connect()?;
        let body = vec![Value::str(&self.name), Value::Bool(true), prop_array(props)];
        sd.manager("SetUnitProperties", body)
            .map(|_| ())
            .map_err(|e| self.error("set properties of", &e.to_string()))
    }

    /// Stops the scope and waits for it; a unit that is already gone is
    /// fine. Nothing is done for a scope that was never started.
    pub fn stop(&self) -> Result<(), CgroupError> {
        if !self.is_started() {
            return Ok(());
        }
        let mut sd = Systemd::connect()?;
        let body = vec![Value::str(&self.name), Value::str("replace")];
        match sd.manager("StopUnit", body) {
            Ok(reply) => {
                let job = sd.wait_job(&reply).map_err(|e| self.error("stop", &e))?;
                if job != "done" {
                    tracing::debug!("stopping {}: its job ended as {job:?}", self.name);
                }
            }
            Err(e) if e.name() == Some("org.freedesktop.systemd1.NoSuchUnit") => {}
            Err(e) => return Err(self.error("stop", &e.to_string())),
        }
        sd.reset_failed(&self.name);
        self.started.store(false, Ordering::SeqCst);
        Ok(())
    }

    fn error(&self, verb: &str, reason: &str) -> CgroupError {
        CgroupError::Host(format!(
            "systemd: cannot {verb} unit {}: {reason}",
            self.name
        ))
    }
}

fn prop_array(props: Vec<(&'static str, Value)>) -> Value {
    Value::Array(
        "(sv)".into(),
        props
            .into_iter()
            .map(|(k, v)| Value::Struct(vec![Value::str(k), Value::variant(v)]))
            .collect(),
    )
}

/// The socket husk would talk to systemd through, if any.
pub fn socket() -> Option<&'static Path> {
    let private = Path::new(PRIVATE_SOCKET);
    if nix::unistd::geteuid().is_root() && private.exists() {
        return Some(private);
    }
    Some(Path::new(SYSTEM_BUS)).filter(|p| p.exists())
}

/// A connection to systemd's Manager, subscribed to its signals.
struct Systemd {
    conn: Conn,
    bus: bool,
}

impl Systemd {
    fn connect() -> Result<Self, CgroupError> {
        let path = socket().ok_or_else(|| {
            CgroupError::Host(format!(
                "systemd: cannot connect: neither {PRIVATE_SOCKET} nor {SYSTEM_BUS} exists (is systemd running?)"
            ))
        })?;
        let bus = path == Path::new(SYSTEM_BUS);
        let conn = Conn::connect(path, bus, TIMEOUT).map_err(|e| {
            CgroupError::Host(format!(
                "systemd: cannot connect to {}: {e}",
                path.display()
            ))
        })?;
        let mut sd = Systemd { conn, bus };
        if bus {
            let rule = format!(
                "type='signal',sender='{DEST}',path='{PATH}',interface='{MANAGER}',member='JobRemoved'"
            );
            let m = Message::method_call(
                Some("org.freedesktop.DBus"),
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus",
                "AddMatch",
                vec![Value::Str(rule)],
            );
            sd.conn.call(m).map_err(|e| {
                CgroupError::Host(format!("systemd: AddMatch on {SYSTEM_BUS}: {e}"))
            })?;
        }
        // Without a subscriber systemd sends no JobRemoved signals.
        if let Err(e) = sd.manager("Subscribe", vec![]) {
            tracing::debug!("systemd Subscribe: {e}");
        }
        Ok(sd)
    }

    fn manager(&mut self, member: &str, body: Vec<Value>) -> Result<Message, CallError> {
        let dest = self.bus.then_some(DEST);
        self.conn
            .call(Message::method_call(dest, PATH, MANAGER, member, body))
    }

    /// Waits for the JobRemoved signal of the job a Start/StopUnit reply
    /// names; returns the job's result ("done", "failed", "canceled"...).
    fn wait_job(&mut self, reply: &Message) -> Result<String, String> {
        let Some(Value::ObjectPath(job)) = reply.body.first() else {
            return Err("the reply names no job".into());
        };
        let t0 = Instant::now();
        let deadline = t0 + TIMEOUT;
        let m = self
            .conn
            .wait_signal(deadline, |m| {
                m.member.as_deref() == Some("JobRemoved")
                    && matches!(m.body.get(1), Some(Value::ObjectPath(p)) if p == job)
            })
            .map_err(|e| format!("waiting for job {job}: {e}"))?;
        let result = m.body.get(3).and_then(Value::as_str).unwrap_or("");
        tracing::debug!(
            "systemd: job {job} of {} ended as {result:?} after {:?}",
            m.body.get(2).and_then(dbus::Value::as_str).unwrap_or("?"),
            t0.elapsed()
        );
        Ok(result.to_string())
    }

    /// A failed unit stays loaded until reset; leave none behind.
    fn reset_failed(&mut self, unit: &str) {
        if let Err(e) = self.manager("ResetFailedUnit", vec![Value::str(unit)]) {
            tracing::debug!("ResetFailedUnit {unit}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroups_path_forms() {
        let p = placement(Some("system.slice:docker:abc"), "x").unwrap();
        assert_eq!(p.unit, "docker-abc.scope");
        assert_eq!(p.slice, "system.slice");
        assert_eq!(p.rel_dir, Path::new("system.slice/docker-abc.scope"));
        let p = placement(None, "c1").unwrap();
        assert_eq!(p.unit, "husk-c1.scope");
        assert_eq!(p.rel_dir, Path::new("system.slice/husk-c1.scope"));
        let p = placement(Some("machine-pod-1.slice:crio:x"), "x").unwrap();
        assert_eq!(
            p.rel_dir,
            Path::new("machine.slice/machine-pod.slice/machine-pod-1.slice/crio-x.scope")
        );
        let p = placement(Some("-:p:n"), "x").unwrap();
        assert_eq!(
            (p.slice.as_str(), p.rel_dir.as_path()),
            ("-.slice", Path::new("p-n.scope"))
        );
        let p = placement(Some("user.slice::n"), "x").unwrap();
        assert_eq!(p.unit, "n.scope");
    }

    #[test]
    fn bad_cgroups_paths_name_the_field() {
        for (path, why) in [
            ("/a/b", "is not \"slice:prefix:name\""),
            ("a:b:c:d", "is not \"slice:prefix:name\""),
            ("system.slice:p:", "has an empty name"),
            ("system:p:n", "does not end in \".slice\""),
            ("a--b.slice:p:n", "empty component"),
            ("a/b.slice:p:n", "is not a slice name"),
            ("system.slice:p:a/b", "the name \"a/b\" has '/'"),
            ("system.slice:p:x.slice", "a slice as the container's unit"),
        ] {
            let e = placement(Some(path), "x").unwrap_err().to_string();
            assert!(e.starts_with("linux.cgroupsPath: "), "{e}");
            assert!(e.contains(why), "{path}: {e}");
        }
    }

    #[test]
    fn cpu_lists_become_little_endian_bitmasks() {
        assert_eq!(list_to_bits("0").unwrap(), [1]);
        assert_eq!(list_to_bits("0-3,8").unwrap(), [0x0f, 0x01]);
        assert_eq!(list_to_bits("1,3, 9-10").unwrap(), [0x0a, 0x06]);
        assert!(list_to_bits("3-1").is_err());
        assert!(list_to_bits("a").is_err());
    }

    #[test]
    fn resources_convert_as_runc_does() {
        let l = Limits {
            memory_limit: Some(64 << 20),
            memory_reservation: Some(-1),
            memory_swap: Some(96 << 20),
            cpu_shares: Some(1024),
            cpu_quota: Some(12_345),
            cpu_period: Some(100_000),
            pids_limit: Some(-1),
            cpus: Some("0-1".into()),
            ..Default::default()
        };
        let p = resource_properties(&l).unwrap();
        let get = |k: &str| p.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
        assert_eq!(get("MemoryMax"), Some(Value::U64(64 << 20)));
        assert_eq!(get("MemoryLow"), Some(Value::U64(u64::MAX)));
        assert_eq!(get("MemorySwapMax"), Some(Value::U64(32 << 20)));
        assert_eq!(get("CPUWeight"), Some(Value::U64(39)));
        // 12.345% rounds up to 13% of a second
        assert_eq!(get("CPUQuotaPerSecUSec"), Some(Value::U64(130_000)));
        assert_eq!(get("CPUQuotaPeriodUSec"), Some(Value::U64(100_000)));
        assert_eq!(get("TasksMax"), Some(Value::U64(u64::MAX)));
        assert_eq!(get("AllowedCPUs"), Some(bytes(vec![3])));
        assert_eq!(get("AllowedMemoryNodes"), None);
        // only what is set
        assert!(resource_properties(&Limits::default()).unwrap().is_empty());
    }

    #[test]
    fn the_started_flag_is_shared_by_clones_and_saved() {
        let p = placement(None, "c").unwrap();
        let u = Unit::new(&p, "c");
        let c = u.clone();
        u.started.store(true, Ordering::SeqCst);
        assert!(c.is_started());
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.contains("\"started\":true"), "{json}");
        let back: Unit = serde_json::from_str(&json).unwrap();
        assert!(back.is_started());
        assert_eq!(back.name, "husk-c.scope");
    }
}
