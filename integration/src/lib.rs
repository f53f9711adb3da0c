//! Test harness for husk's integration suite.
//!
//! The suite drives a runc-compatible runtime binary taken from `HUSK_BIN`
//! (default: `<workspace>/target/release/husk`), so it can be validated
//! against runc itself: `HUSK_BIN=$(which runc) cargo test -p husk-integration`.
//!
//! * [`Bundle`] owns a per-test temporary directory
//!   (`/tmp/husk-it-<pid>-<n>`) holding the OCI bundle (`bundle/config.json`
//!   and a busybox `bundle/rootfs`), the runtime's state root (`root/`), a
//!   scratch directory for files the test shares with the container
//!   (`host/`) and captured command output (`io/`). Dropping it force-deletes
//!   every container in its root, kills stray processes, detaches stray
//!   mounts, removes its cgroups and the directory, so a failing test leaves
//!   nothing behind.
//! * [`Runtime`] runs the binary with `--root <per-test dir>`.
//! * [`assert_no_leftovers`] checks that a container left no mount, state
//!   directory, cgroup or process behind.

use serde_json::{json, Value};
use std::ffi::{CString, OsStr, OsString};
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Parent of every container cgroup the suite creates (`linux.cgroupsPath`
/// is `/husk-it/<id>`).
pub const CGROUP_PARENT: &str = "husk-it";

/// How long polling helpers wait for a condition before failing.
pub const POLL_BOUND: Duration = Duration::from_secs(10);

/// Safety net: a runtime command still running after this is killed and the
/// test fails (a hang must not block the whole suite).
pub const COMMAND_BOUND: Duration = Duration::from_secs(120);

const POLL_STEP: Duration = Duration::from_millis(25);

static DIR_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The workspace root (parent of this crate).
pub fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("integration crate has a parent directory")
        .to_path_buf()
}

/// The runtime under test: `$HUSK_BIN`, else `<workspace>/target/release/husk`.
pub fn husk_bin() -> PathBuf {
    match std::env::var_os("HUSK_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => workspace_dir().join("target/release/husk"),
    }
}

/// The runtime binary, which must exist (a clear failure otherwise).
pub fn require_runtime_bin() -> PathBuf {
    let bin = husk_bin();
    assert!(
        bin.is_file(),
        "runtime binary {} not found: build husk (cargo build --release -p husk) \
         or point HUSK_BIN at a runc-compatible runtime",
        bin.display()
    );
    bin
}

/// File name of the runtime binary (`husk`, or `runc` when validating).
pub fn runtime_name() -> String {
    husk_bin()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "husk".into())
}

/// A bundle create accepted: check (run just before) must not have
/// reported an error.
#[track_caller]
fn assert_no_check_error((code, list, out): (i32, Vec<Value>, Output)) {
    let errors: Vec<&Value> = list.iter().filter(|p| p["severity"] == "error").collect();
    assert!(
        code == 0 && errors.is_empty(),
        "create accepted this bundle but `husk check` reports errors: {errors:?}\n{}",
        out.describe()
    );
}

/// A dotted field (`linux.netDevices.eth0.name`) as a JSON pointer, the
/// way husk check prints it (a non-field text maps to itself).
pub fn pointer_of(field: &str) -> String {
    let mut out = String::new();
    for part in field.split('.') {
        let (name, idx) = match part.split_once('[') {
            Some((n, rest)) => (n, Some(rest.trim_end_matches(']'))),
            None => (part, None),
        };
        out.push('/');
        out.push_str(name);
        if let Some(i) = idx {
            out.push('/');
            out.push_str(i);
        }
    }
    out
}

/// True when the suite runs against runc rather than husk.
pub fn is_runc() -> bool {
    runtime_name() == "runc"
}

/// For tests of husk-only behaviour: under runc, prints a SKIP note saying
/// why and returns true (the test then returns before making anything).
pub fn skip_under_runc(test: &str, why: &str) -> bool {
    if is_runc() {
        eprintln!("SKIP {test}: husk-only test ({why})");
        return true;
    }
    false
}

/// The statically linked runtimetest checker, if it has been built
/// (`$RUNTIMETEST_BIN` overrides the default location).
pub fn runtimetest_bin() -> Option<PathBuf> {
    let p = match std::env::var_os("RUNTIMETEST_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => workspace_dir().join("target/x86_64-unknown-linux-gnu/release/runtimetest"),
    };
    p.is_file().then_some(p)
}

/// A container id unique to this test and this test process: `name-pid`.
pub fn unique_id(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{clean}-{}", std::process::id())
}

/// Polls `f` every few milliseconds until it returns `Some`, for at most
/// [`POLL_BOUND`]; `None` when the bound was reached.
pub fn poll<T>(mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + POLL_BOUND;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(POLL_STEP);
    }
}

// ---------------------------------------------------------------------------
// Command output

/// The result of one runtime invocation.
#[derive(Debug)]
pub struct Output {
    /// The command line, for messages.
    pub cmd: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Everything needed to understand a failed expectation.
    pub fn describe(&self) -> String {
        format!(
            "command: {}\nstatus: {}\nstdout:\n{}\nstderr:\n{}",
            self.cmd, self.status, self.stdout, self.stderr
        )
    }

    /// Panics unless the command exited 0.
    #[track_caller]
    pub fn ok(&self) -> &Self {
        assert!(
            self.success(),
            "expected the command to succeed, it failed\n{}",
            self.describe()
        );
        self
    }

    /// Panics unless the command exited non-zero.
    #[track_caller]
    pub fn failed(&self) -> &Self {
        assert!(
            !self.success(),
            "expected the command to fail, it succeeded\n{}",
            self.describe()
        );
        self
    }

    /// Panics unless the command exited non-zero with a non-empty stderr.
    #[track_caller]
    pub fn failed_with_message(&self) -> &Self {
        self.failed();
        assert!(
            !self.stderr.trim().is_empty(),
            "expected an error message on stderr, stderr is empty\n{}",
            self.describe()
        );
        self
    }

    /// Panics unless the command exited non-zero with exactly one error
    /// line on stderr (husk's error format). Warning lines (`level=warning`,
    /// or starting with `warning` or `<name>: warning`) are not counted.
    #[track_caller]
    pub fn failed_with_one_line(&self) -> &Self {
        self.failed_with_message();
        let lines: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty() && !is_warning_line(l))
            .collect();
        assert_eq!(
            lines.len(),
            1,
            "expected exactly one error line on stderr, got {}\n{}",
            lines.len(),
            self.describe()
        );
        self
    }

    /// Panics unless stderr contains at least one of `needles`
    /// (case-insensitive).
    #[track_caller]
    pub fn stderr_mentions_any(&self, needles: &[&str]) -> &Self {
        let err = self.stderr.to_lowercase();
        assert!(
            needles.iter().any(|n| err.contains(&n.to_lowercase())),
            "expected stderr to mention one of {needles:?}\n{}",
            self.describe()
        );
        self
    }

    /// Panics unless stdout equals `want` exactly.
    #[track_caller]
    pub fn stdout_is(&self, want: &str) -> &Self {
        assert_eq!(self.stdout, want, "unexpected stdout\n{}", self.describe());
        self
    }
}

// ---------------------------------------------------------------------------
// Runtime

/// Runs the runtime binary with `--root <dir>`.
#[derive(Debug)]
pub struct Runtime {
    bin: PathBuf,
    root: PathBuf,
    io_dir: PathBuf,
    seq: AtomicUsize,
}

impl Runtime {
    /// `root` is passed as `--root`; `io_dir` receives captured output.
    pub fn new(root: impl Into<PathBuf>, io_dir: impl Into<PathBuf>) -> Runtime {
        Runtime::with_bin(require_runtime_bin(), root, io_dir)
    }

    /// The same with another runtime binary (runc, for the differential
    /// tests).
    pub fn with_bin(bin: PathBuf, root: impl Into<PathBuf>, io_dir: impl Into<PathBuf>) -> Runtime {
        let io_dir = io_dir.into();
        fs::create_dir_all(&io_dir).expect("create io dir");
        Runtime {
            bin,
            root: root.into(),
            io_dir,
            seq: AtomicUsize::new(0),
        }
    }

    pub fn bin(&self) -> &Path {
        &self.bin
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The full argv: `BIN --root ROOT ARGS...`.
    pub fn argv<S: AsRef<OsStr>>(&self, args: &[S]) -> Vec<OsString> {
        let mut v: Vec<OsString> = vec![
            self.bin.clone().into(),
            "--root".into(),
            self.root.clone().into(),
        ];
        v.extend(args.iter().map(|a| a.as_ref().to_os_string()));
        v
    }

    /// A `Command` for `BIN --root ROOT ARGS...`, with a clean activation
    /// environment (no inherited `LISTEN_FDS`/`LISTEN_PID`/`NOTIFY_SOCKET`).
    pub fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let argv = self.argv(args);
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]);
        scrub_env(&mut cmd);
        cmd
    }

    /// Runs `BIN --root ROOT ARGS...` with stdin from /dev/null.
    pub fn exec<S: AsRef<OsStr>>(&self, args: &[S]) -> Output {
        self.spawn(self.command(args), None)
    }

    /// Runs `BIN --root ROOT ARGS...` with `input` on stdin.
    pub fn exec_stdin<S: AsRef<OsStr>>(&self, args: &[S], input: &[u8]) -> Output {
        self.spawn(self.command(args), Some(input))
    }

    /// Runs a prepared command. stdout and stderr go to files, not pipes:
    /// a detached container inherits them and would hold a pipe open.
    pub fn spawn(&self, mut cmd: Command, input: Option<&[u8]>) -> Output {
        let n = self.seq.fetch_add(1, Ordering::SeqCst);
        let base = self.io_dir.join(format!("cmd-{n}"));
        let out_path = base.with_extension("out");
        let err_path = base.with_extension("err");
        let stdin = match input {
            Some(data) => {
                let in_path = base.with_extension("in");
                fs::write(&in_path, data).expect("write stdin file");
                Stdio::from(File::open(&in_path).expect("open stdin file"))
            }
            None => Stdio::null(),
        };
        cmd.stdin(stdin)
            .stdout(File::create(&out_path).expect("create stdout file"))
            .stderr(File::create(&err_path).expect("create stderr file"));
        let cmdline = describe_command(&cmd);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {cmdline}: {e}"));
        let deadline = Instant::now() + COMMAND_BOUND;
        let status = loop {
            match child.try_wait() {
                Ok(Some(st)) => break st,
                Ok(None) if Instant::now() < deadline => std::thread::sleep(POLL_STEP),
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "{cmdline} did not finish within {}s: killed it (a runtime hang)\n\
                         stdout:\n{}\nstderr:\n{}",
                        COMMAND_BOUND.as_secs(),
                        read_lossy(&out_path),
                        read_lossy(&err_path)
                    );
                }
                Err(e) => panic!("waiting for {cmdline}: {e}"),
            }
        };
        Output {
            cmd: cmdline,
            status,
            stdout: read_lossy(&out_path),
            stderr: read_lossy(&err_path),
        }
    }

    /// `state ID`, parsed; `Err` carries the failed output.
    pub fn try_state(&self, id: &str) -> Result<Value, Box<Output>> {
        let out = self.exec(&["state", id]);
        if !out.success() {
            return Err(Box::new(out));
        }
        match serde_json::from_str(&out.stdout) {
            Ok(v) => Ok(v),
            Err(e) => panic!("state output is not JSON: {e}\n{}", out.describe()),
        }
    }

    /// `state ID`, parsed; panics if the command fails.
    #[track_caller]
    pub fn state(&self, id: &str) -> Value {
        match self.try_state(id) {
            Ok(v) => v,
            Err(out) => panic!(
                "expected state of {id} to succeed, it failed\n{}",
                out.describe()
            ),
        }
    }

    /// The `status` field of `state ID`.
    #[track_caller]
    pub fn status(&self, id: &str) -> String {
        let st = self.state(id);
        st["status"]
            .as_str()
            .unwrap_or_else(|| panic!("state of {id} has no string status: {st}"))
            .to_string()
    }

    /// The `pid` field of `state ID`.
    #[track_caller]
    pub fn pid(&self, id: &str) -> i32 {
        let st = self.state(id);
        st["pid"]
            .as_i64()
            .unwrap_or_else(|| panic!("state of {id} has no numeric pid: {st}")) as i32
    }

    /// Polls `state ID` until its status is `want` (up to [`POLL_BOUND`]).
    #[track_caller]
    pub fn wait_for_status(&self, id: &str, want: &str) -> Value {
        let mut last = String::new();
        let got = poll(|| match self.try_state(id) {
            Ok(st) if st["status"] == want => Some(st),
            Ok(st) => {
                last = st.to_string();
                None
            }
            Err(out) => {
                last = out.describe();
                None
            }
        });
        got.unwrap_or_else(|| {
            panic!(
                "container {id} never reached status {want:?} within {}s; last seen:\n{last}",
                POLL_BOUND.as_secs()
            )
        })
    }

    /// Asserts that `state ID` fails (the container does not exist).
    #[track_caller]
    pub fn assert_gone(&self, id: &str) {
        if let Ok(st) = self.try_state(id) {
            panic!("expected container {id} to be gone, state still reports: {st}");
        }
    }
}

fn is_warning_line(line: &str) -> bool {
    let l = line.trim().to_lowercase();
    let after_name = l.split_once(": ").map(|(_, rest)| rest).unwrap_or("");
    l.contains("level=warning")
        || l.contains("\"level\":\"warning\"")
        || l.starts_with("warning")
        || after_name.starts_with("warning")
}

fn scrub_env(cmd: &mut Command) {
    for var in [
        "LISTEN_FDS",
        "LISTEN_PID",
        "LISTEN_FDNAMES",
        "NOTIFY_SOCKET",
    ] {
        cmd.env_remove(var);
    }
}

fn describe_command(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        let a = a.to_string_lossy();
        if a.is_empty() || a.contains(char::is_whitespace) {
            let _ = write!(s, "'{a}'");
        } else {
            s.push_str(&a);
        }
    }
    s
}

fn read_lossy(p: &Path) -> String {
    let mut buf = Vec::new();
    if let Ok(mut f) = File::open(p) {
        let _ = f.read_to_end(&mut buf);
    }
    String::from_utf8_lossy(&buf).into_owned()
}

// ---------------------------------------------------------------------------
// Bundle

/// A per-test OCI bundle and runtime state root. See the crate docs.
pub struct Bundle {
    id: String,
    dir: PathBuf,
    path: PathBuf,
    rootfs: PathBuf,
    rootfs_key: (u64, u64),
    host: PathBuf,
    config: Value,
    runtimetest: bool,
    rt: Runtime,
    _lock: CgroupParentLock,
}

impl Bundle {
    /// A bundle whose container id is `unique_id(name)` and whose process
    /// runs `args`.
    pub fn new(name: &str, args: &[&str]) -> Bundle {
        Bundle::with_runtime_bin(name, args, require_runtime_bin())
    }

    /// The same, driven by another runtime binary.
    pub fn with_runtime_bin(name: &str, args: &[&str], bin: PathBuf) -> Bundle {
        // Preconditions first, so a failure leaves no directory behind.
        assert_eq!(
            // SAFETY: geteuid has no arguments and cannot fail.
            unsafe { libc::geteuid() },
            0,
            "the integration tests must run as root"
        );
        assert!(
            Path::new("/bin/busybox").is_file(),
            "/bin/busybox not found: install busybox-static (apt-get install busybox-static)"
        );
        let lock = CgroupParentLock::shared();
        let n = DIR_COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = PathBuf::from(format!("/tmp/husk-it-{}-{n}", std::process::id()));
        if dir.exists() {
            // A previous run with a recycled pid: only ever our own layout.
            cleanup_dir(&dir);
        }
        let path = dir.join("bundle");
        let rootfs = path.join("rootfs");
        let host = dir.join("host");
        fs::create_dir_all(&host).expect("create host scratch dir");
        build_rootfs(&rootfs);
        let meta = fs::metadata(&rootfs).expect("stat rootfs");
        let rt = Runtime::with_bin(bin, dir.join("root"), dir.join("io"));
        let config = default_config(args);
        let b = Bundle {
            id: unique_id(name),
            dir,
            path,
            rootfs,
            rootfs_key: (meta.dev(), meta.ino()),
            host,
            config,
            runtimetest: false,
            rt,
            _lock: lock,
        };
        b.save();
        b
    }

    /// The container id this bundle is meant for.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The per-test directory holding everything.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The bundle directory (holds config.json and rootfs).
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn path_str(&self) -> &str {
        self.path.to_str().expect("utf-8 bundle path")
    }

    pub fn rootfs(&self) -> &Path {
        &self.rootfs
    }

    /// A scratch directory on the host, outside the bundle, that tests use
    /// for bind-mount sources and marker files.
    pub fn host_dir(&self) -> &Path {
        &self.host
    }

    pub fn runtime(&self) -> &Runtime {
        &self.rt
    }

    pub fn config(&self) -> &Value {
        &self.config
    }

    pub fn config_mut(&mut self) -> &mut Value {
        &mut self.config
    }

    /// Replaces the whole config (e.g. with the output of `spec`).
    pub fn set_config(&mut self, config: Value) {
        self.config = config;
    }

    pub fn edit(&mut self, f: impl FnOnce(&mut Value)) -> &mut Self {
        f(&mut self.config);
        self
    }

    pub fn set_args(&mut self, args: &[&str]) -> &mut Self {
        self.config["process"]["args"] = json!(args);
        self
    }

    pub fn add_mount(&mut self, mount: Value) -> &mut Self {
        self.config["mounts"]
            .as_array_mut()
            .expect("mounts is an array")
            .push(mount);
        self
    }

    /// Adds `hook` to `hooks.<kind>`.
    pub fn add_hook(&mut self, kind: &str, hook: Value) -> &mut Self {
        if !self.config["hooks"].is_object() {
            self.config["hooks"] = json!({});
        }
        let list = &mut self.config["hooks"][kind];
        if !list.is_array() {
            *list = json!([]);
        }
        list.as_array_mut().unwrap().push(hook);
        self
    }

    /// Adds a namespace (with optional path) or replaces the one of that type.
    pub fn set_namespace(&mut self, kind: &str, path: Option<&str>) -> &mut Self {
        let list = self.config["linux"]["namespaces"]
            .as_array_mut()
            .expect("linux.namespaces is an array");
        list.retain(|n| n["type"] != kind);
        let mut ns = json!({ "type": kind });
        if let Some(p) = path {
            ns["path"] = json!(p);
        }
        list.push(ns);
        self
    }

    pub fn remove_namespace(&mut self, kind: &str) -> &mut Self {
        self.config["linux"]["namespaces"]
            .as_array_mut()
            .expect("linux.namespaces is an array")
            .retain(|n| n["type"] != kind);
        self
    }

    /// Makes the container run the runtimetest checker: copies it to
    /// `rootfs/bin/runtimetest`, sets `process.args` to it and, on every
    /// save, writes the config to `rootfs/runtimetest.json`. Returns false
    /// (after printing why) when the binary has not been built: the caller
    /// skips its runtimetest part.
    pub fn use_runtimetest(&mut self) -> bool {
        let Some(bin) = runtimetest_bin() else {
            eprintln!(
                "SKIP runtimetest check: binary not found (build it with \
                 RUSTFLAGS='-C target-feature=+crt-static' cargo build -p runtimetest \
                 --release --target x86_64-unknown-linux-gnu, or set RUNTIMETEST_BIN)"
            );
            return false;
        };
        let dst = self.rootfs.join("bin/runtimetest");
        let _ = fs::remove_file(&dst);
        fs::copy(&bin, &dst).expect("copy runtimetest into rootfs");
        fs::set_permissions(&dst, fs::Permissions::from_mode(0o755)).expect("chmod runtimetest");
        self.runtimetest = true;
        self.set_args(&["/bin/runtimetest"]);
        true
    }

    /// The config as written for container `id`: `linux.cgroupsPath` is
    /// `/husk-it/<id>` unless the test set one itself.
    pub fn config_for(&self, id: &str) -> Value {
        let mut c = self.config.clone();
        if c["linux"].is_object() && c["linux"].get("cgroupsPath").is_none() {
            c["linux"]["cgroupsPath"] = json!(format!("/{CGROUP_PARENT}/{id}"));
        }
        c
    }

    /// Writes a bundle directory of its own for container `id`,
    /// `<dir>/bundles/<id>/config.json`: the config for `id` (see
    /// [`Bundle::config_for`]) with `root.path` set to this bundle's rootfs
    /// by absolute path, and returns that directory. Containers made from
    /// separate bundle directories can be created concurrently, which
    /// [`Bundle::create_as`] (one config.json, rewritten per id) cannot.
    pub fn separate_bundle(&self, id: &str) -> PathBuf {
        let dir = self.dir.join("bundles").join(id);
        fs::create_dir_all(&dir).expect("create separate bundle dir");
        let mut c = self.config_for(id);
        c["root"]["path"] = json!(self.rootfs);
        let text = serde_json::to_string_pretty(&c).unwrap();
        fs::write(dir.join("config.json"), text).expect("write config.json");
        dir
    }

    /// Writes config.json for this bundle's own id.
    pub fn save(&self) {
        self.save_for(&self.id);
    }

    /// Writes config.json for container `id` (and runtimetest.json when
    /// runtimetest is in use).
    pub fn save_for(&self, id: &str) {
        let c = self.config_for(id);
        let text = serde_json::to_string_pretty(&c).unwrap();
        fs::write(self.path.join("config.json"), &text).expect("write config.json");
        if self.runtimetest {
            let p = self.rootfs.join("runtimetest.json");
            fs::write(&p, &text).expect("write runtimetest.json");
            fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        }
    }

    /// `create --bundle DIR ID` for this bundle's id.
    pub fn create(&self) -> Output {
        self.create_as(&self.id, &[])
    }

    /// `create [EXTRA...] --bundle DIR ID`. Under husk, a create that
    /// succeeds is also checked with `husk check`, which must report no
    /// error for it (issue 18: check and create agree).
    pub fn create_as(&self, id: &str, extra: &[&str]) -> Output {
        self.save_for(id);
        let mut args = vec!["create"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--bundle", self.path_str(), id]);
        // Checked as create sees it: before (create may change the host,
        // e.g. move a network device into the container).
        let checked = self.check();
        let out = self.rt.exec(&args);
        if out.success() {
            if let Some(c) = checked {
                assert_no_check_error(c);
            }
        }
        out
    }

    /// `husk check --format json` of this bundle as the runtime under test
    /// (None when that is not husk): exit code and problems.
    pub fn check(&self) -> Option<(i32, Vec<Value>, Output)> {
        if self.rt.bin().file_name().and_then(|n| n.to_str()) != Some("husk") {
            return None;
        }
        let out = self
            .rt
            .exec(&["check", "--bundle", self.path_str(), "--format", "json"]);
        let code = out.code().unwrap_or(-1);
        let list: Vec<Value> = serde_json::from_str(&out.stdout).unwrap_or_default();
        Some((code, list, out))
    }

    /// A bundle create refused for a reason naming one of `mention`:
    /// check must report it too (an error or a warning whose pointer, or
    /// message, names it), or say it cannot read the bundle.
    #[track_caller]
    pub fn assert_check_agrees(&self, mention: &[&str]) {
        let Some((code, list, out)) = self.check() else {
            return;
        };
        if code == 2 {
            out.stderr_mentions_any(mention);
            return;
        }
        let hit = list.iter().any(|p| {
            let ptr = p["pointer"].as_str().unwrap_or("");
            let msg = p["message"].as_str().unwrap_or("");
            mention.iter().any(|m| {
                // "FIELD: TEXT": that field, with that text in its message.
                let by_field = |f: &str| !ptr.is_empty() && ptr.starts_with(&pointer_of(f));
                msg.contains(m)
                    || ptr.contains(m)
                    || by_field(m)
                    || m.split_once(": ")
                        .is_some_and(|(f, t)| by_field(f) && msg.contains(t))
            })
        });
        assert!(
            hit,
            "create refused this bundle (naming one of {mention:?}) but `husk check` does not report it: {list:?}\n{}",
            out.describe()
        );
    }

    /// `run [EXTRA...] --bundle DIR ID` for this bundle's id.
    pub fn run(&self, extra: &[&str]) -> Output {
        self.run_as(&self.id, extra, None)
    }

    /// `run [EXTRA...] --bundle DIR ID` with optional stdin.
    pub fn run_as(&self, id: &str, extra: &[&str], input: Option<&[u8]>) -> Output {
        self.save_for(id);
        let mut args = vec!["run"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--bundle", self.path_str(), id]);
        self.rt.spawn(self.rt.command(&args), input)
    }

    /// `run` that must succeed and leave no state behind; returns stdout.
    #[track_caller]
    pub fn run_ok(&self) -> String {
        let out = self.run(&[]);
        out.ok();
        self.runtime().assert_gone(self.id());
        out.stdout
    }

    /// Creates and starts this bundle's container, asserting both succeed.
    #[track_caller]
    pub fn create_and_start(&self) {
        self.create().ok();
        self.start().ok();
    }

    pub fn start(&self) -> Output {
        self.rt.exec(&["start", &self.id])
    }

    pub fn kill(&self, signal: &str) -> Output {
        self.rt.exec(&["kill", &self.id, signal])
    }

    pub fn delete(&self) -> Output {
        self.rt.exec(&["delete", &self.id])
    }

    pub fn delete_force(&self) -> Output {
        self.rt.exec(&["delete", "--force", &self.id])
    }

    #[track_caller]
    pub fn state(&self) -> Value {
        self.rt.state(&self.id)
    }

    #[track_caller]
    pub fn status(&self) -> String {
        self.rt.status(&self.id)
    }

    #[track_caller]
    pub fn pid(&self) -> i32 {
        self.rt.pid(&self.id)
    }

    #[track_caller]
    pub fn wait_for_status(&self, want: &str) -> Value {
        self.rt.wait_for_status(&self.id, want)
    }

    /// Kills (SIGKILL), waits for "stopped" and deletes this bundle's
    /// container, asserting each step.
    #[track_caller]
    pub fn stop_and_delete(&self) {
        self.kill("KILL").ok();
        self.wait_for_status("stopped");
        self.delete().ok();
        self.rt.assert_gone(&self.id);
    }

    /// Host processes whose root directory is this bundle's rootfs.
    pub fn processes_in_rootfs(&self) -> Vec<(i32, String)> {
        processes_with_root(&self.rootfs, self.rootfs_key)
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        // Every container the test may have made in this root.
        let mut ids = vec![self.id.clone()];
        if let Ok(rd) = fs::read_dir(self.rt.root()) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if !ids.contains(&name) {
                    ids.push(name);
                }
            }
        }
        for id in &ids {
            let mut cmd = self.rt.command(&["delete", "--force", id.as_str()]);
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            let _ = cmd.status();
        }
        // Whatever the runtime left behind.
        let procs = || processes_with_root(&self.rootfs, self.rootfs_key);
        for (pid, _) in procs() {
            // SAFETY: kill takes two integers and touches no memory of ours.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let _ = poll(|| procs().is_empty().then_some(()));
        for id in &ids {
            remove_cgroup(id);
        }
        cleanup_dir(&self.dir);
        self._lock.release_and_prune();
    }
}

/// Detaches stray mounts under `dir`, then removes it unless a mount remains
/// (never recurse into a mount: it may be a bind of a host directory).
fn cleanup_dir(dir: &Path) {
    let mut points = mounts_under(dir);
    points.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
    for p in &points {
        if let Ok(c) = CString::new(p.as_os_str().as_bytes()) {
            // SAFETY: `c` is a NUL-terminated path that outlives the call.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
    }
    let left = mounts_under(dir);
    if left.is_empty() {
        let _ = fs::remove_dir_all(dir);
    } else {
        eprintln!(
            "WARNING: not removing {}: mounts remain under it: {left:?}",
            dir.display()
        );
    }
}

fn remove_cgroup(id: &str) {
    for mp in cgroup_mountpoints() {
        let cg = mp.join(CGROUP_PARENT).join(id);
        if !cg.exists() {
            continue;
        }
        for file in ["cgroup.procs", "tasks"] {
            if let Ok(s) = fs::read_to_string(cg.join(file)) {
                for pid in s.split_whitespace().filter_map(|p| p.parse::<i32>().ok()) {
                    // SAFETY: kill takes two integers and touches no memory of ours.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
        let _ = poll(|| match fs::remove_dir(&cg) {
            Ok(()) => Some(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(()),
            Err(_) => None,
        });
    }
}

/// Shared flock on /tmp held by every live [`Bundle`]; whoever drops the
/// last one (in any test process) can take it exclusively and remove the
/// empty `/husk-it` parent cgroups without racing a runtime creating a
/// child under them.
struct CgroupParentLock {
    file: Option<File>,
}

const LOCK_PATH: &str = "/tmp";

impl CgroupParentLock {
    fn shared() -> CgroupParentLock {
        let file = File::open(LOCK_PATH).ok();
        if let Some(f) = &file {
            // SAFETY: flock on a descriptor `f` owns for the whole call.
            unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_SH) };
        }
        CgroupParentLock { file }
    }

    fn release_and_prune(&mut self) {
        drop(self.file.take());
        let Ok(f) = File::open(LOCK_PATH) else { return };
        // SAFETY: flock on a descriptor `f` owns for the whole call.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            return; // another bundle is alive somewhere
        }
        for mp in cgroup_mountpoints() {
            // Fails harmlessly (EBUSY/ENOTEMPTY) if anything is still there.
            let _ = fs::remove_dir(mp.join(CGROUP_PARENT));
        }
        // the lock is released when `f` is closed
    }
}

// ---------------------------------------------------------------------------
// rootfs and default config

fn build_rootfs(rootfs: &Path) {
    let busybox = Path::new("/bin/busybox");
    assert!(
        busybox.is_file(),
        "/bin/busybox not found: install busybox-static (apt-get install busybox-static)"
    );
    for d in ["bin", "proc", "sys", "dev", "tmp", "etc", "root"] {
        fs::create_dir_all(rootfs.join(d)).expect("create rootfs dir");
    }
    fs::set_permissions(rootfs.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    fs::set_permissions(rootfs.join("root"), fs::Permissions::from_mode(0o700)).unwrap();
    let bb = rootfs.join("bin/busybox");
    fs::copy(busybox, &bb).expect("copy busybox");
    fs::set_permissions(&bb, fs::Permissions::from_mode(0o755)).unwrap();
    // Equivalent of `busybox --install -s rootfs/bin`, with relative links so
    // they resolve both in the container and from the host.
    let list = Command::new(busybox)
        .arg("--list")
        .output()
        .expect("busybox --list");
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let applet = applet.trim();
        if applet.is_empty() || applet == "busybox" || applet.contains('/') {
            continue;
        }
        let _ = symlink("busybox", rootfs.join("bin").join(applet));
    }
    fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    )
    .unwrap();
    fs::write(rootfs.join("etc/group"), "root:x:0:\nnobody:x:65534:\n").unwrap();
}

/// `runc spec`'s default, except: terminal false, the given args, hostname
/// `husk-it`, namespaces pid/ipc/uts/mount/network.
pub fn default_config(args: &[&str]) -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    json!({
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": false,
            "user": { "uid": 0, "gid": 0 },
            "args": args,
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": caps,
                "effective": caps,
                "permitted": caps,
                "ambient": caps
            },
            "rlimits": [ { "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 } ],
            "noNewPrivileges": true
        },
        "root": { "path": "rootfs", "readonly": true },
        "hostname": "husk-it",
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
              "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
              "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
            { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
              "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
              "options": ["nosuid", "noexec", "nodev"] },
            { "destination": "/sys", "type": "sysfs", "source": "sysfs",
              "options": ["nosuid", "noexec", "nodev", "ro"] },
            { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
              "options": ["nosuid", "noexec", "nodev", "relatime", "ro"] }
        ],
        "linux": {
            "resources": { "devices": [ { "allow": false, "access": "rwm" } ] },
            "namespaces": [
                { "type": "pid" },
                { "type": "ipc" },
                { "type": "uts" },
                { "type": "mount" },
                { "type": "network" }
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    })
}

/// A hook running `/bin/sh -c SCRIPT` (the host's sh, or the container's for
/// startContainer), with an optional timeout in seconds.
pub fn sh_hook(script: &str, timeout: Option<u64>) -> Value {
    let mut h = json!({ "path": "/bin/sh", "args": ["sh", "-c", script] });
    if let Some(t) = timeout {
        h["timeout"] = json!(t);
    }
    h
}

/// A bind mount entry.
pub fn bind_mount(source: &Path, destination: &str, options: &[&str]) -> Value {
    json!({
        "destination": destination,
        "type": "bind",
        "source": source,
        "options": options,
    })
}

// ---------------------------------------------------------------------------
// Leftover checks

/// A parsed /proc/self/mountinfo line.
#[derive(Debug, Clone)]
pub struct MountInfo {
    pub root: String,
    pub mount_point: PathBuf,
    pub options: String,
    /// The optional fields (`shared:N`, `master:N`, `propagate_from:N`,
    /// `unbindable`); empty for a private mount.
    pub optional: Vec<String>,
    pub fstype: String,
    pub source: String,
    pub super_options: String,
}

fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let oct = &b[i + 1..i + 4];
            if oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                let v = oct
                    .iter()
                    .fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
                out.push(v as u8);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses mountinfo text (from `/proc/self/mountinfo` or a container's).
pub fn parse_mountinfo(text: &str) -> Vec<MountInfo> {
    let mut v = Vec::new();
    for line in text.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let f: Vec<&str> = pre.split(' ').collect();
        let g: Vec<&str> = post.split(' ').collect();
        if f.len() < 6 || g.len() < 3 {
            continue;
        }
        v.push(MountInfo {
            root: unescape_mountinfo(f[3]),
            mount_point: PathBuf::from(unescape_mountinfo(f[4])),
            options: f[5].to_string(),
            optional: f[6..].iter().map(|o| o.to_string()).collect(),
            fstype: g[0].to_string(),
            source: unescape_mountinfo(g[1]),
            super_options: g[2].to_string(),
        });
    }
    v
}

/// The test process's mounts.
pub fn host_mounts() -> Vec<MountInfo> {
    parse_mountinfo(&fs::read_to_string("/proc/self/mountinfo").expect("read mountinfo"))
}

/// The host's mount points, without those of the suite's own bundles
/// (other tests run in parallel): for "the host's mounts did not change".
pub fn host_mount_points_outside_tests() -> Vec<PathBuf> {
    host_mounts()
        .into_iter()
        .map(|m| m.mount_point)
        .filter(|p| !p.to_string_lossy().starts_with("/tmp/husk-it-"))
        .collect()
}

/// Mount points at or under `dir` in the test's mount namespace.
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    host_mounts()
        .into_iter()
        .map(|m| m.mount_point)
        .filter(|p| p.starts_with(dir))
        .collect()
}

/// Mount points of every cgroup (v1) and cgroup2 hierarchy.
pub fn cgroup_mountpoints() -> Vec<PathBuf> {
    host_mounts()
        .into_iter()
        .filter(|m| m.fstype == "cgroup" || m.fstype == "cgroup2")
        .map(|m| m.mount_point)
        .collect()
}

/// Existing cgroup directories named `/husk-it/<id>` in any hierarchy.
pub fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    cgroup_mountpoints()
        .into_iter()
        .map(|mp| mp.join(CGROUP_PARENT).join(id))
        .filter(|p| p.exists())
        .collect()
}

/// Processes (other than this one) whose `/proc/PID/root` is `rootfs`:
/// same device and inode (works across mount namespaces, where the link
/// text reads "/"), or a link text inside `rootfs`.
fn processes_with_root(rootfs: &Path, key: (u64, u64)) -> Vec<(i32, String)> {
    let me = std::process::id() as i32;
    let mut found = Vec::new();
    let Ok(rd) = fs::read_dir("/proc") else {
        return found;
    };
    for e in rd.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        let root = e.path().join("root");
        let same_inode = fs::metadata(&root)
            .map(|m| (m.dev(), m.ino()) == key)
            .unwrap_or(false);
        let inside = fs::read_link(&root)
            .map(|l| l.starts_with(rootfs))
            .unwrap_or(false);
        if same_inode || inside {
            let comm = fs::read_to_string(e.path().join("comm"))
                .unwrap_or_default()
                .trim()
                .to_string();
            found.push((pid, comm));
        }
    }
    found
}

/// Asserts that container `id` of `bundle` left nothing behind: no mount
/// under the test directory (bundle, rootfs, state root), no state
/// directory `<root>/<id>`, no cgroup `/husk-it/<id>` in any hierarchy, no
/// process whose root is the bundle's rootfs (processes get up to
/// [`POLL_BOUND`] to finish exiting).
#[track_caller]
pub fn assert_no_leftovers(bundle: &Bundle, id: &str) {
    let mut problems = Vec::new();
    let mounts = mounts_under(bundle.dir());
    if !mounts.is_empty() {
        problems.push(format!(
            "mounts under {}: {mounts:?}",
            bundle.dir().display()
        ));
    }
    let state_dir = bundle.runtime().root().join(id);
    if fs::symlink_metadata(&state_dir).is_ok() {
        problems.push(format!("state directory {} exists", state_dir.display()));
    }
    let cgroups = cgroup_dirs(id);
    if !cgroups.is_empty() {
        problems.push(format!("cgroups left: {cgroups:?}"));
    }
    let mut procs = Vec::new();
    let gone = poll(|| {
        procs = bundle.processes_in_rootfs();
        procs.is_empty().then_some(())
    });
    if gone.is_none() {
        problems.push(format!(
            "processes still running in {} after {}s (pid, comm): {procs:?}",
            bundle.rootfs().display(),
            POLL_BOUND.as_secs()
        ));
    }
    assert!(
        problems.is_empty(),
        "container {id} left things behind:\n  {}",
        problems.join("\n  ")
    );
}

// ---------------------------------------------------------------------------
// Small helpers for tests

/// `readlink /proc/<pid>/ns/<kind>` as seen by the test process.
pub fn ns_link(pid: i32, kind: &str) -> String {
    fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .unwrap_or_else(|e| panic!("readlink /proc/{pid}/ns/{kind}: {e}"))
        .to_string_lossy()
        .into_owned()
}

/// Writes `content` to `path` and returns the path, creating parent dirs.
pub fn write_file(path: &Path, content: &str) -> PathBuf {
    if let Some(p) = path.parent() {
        fs::create_dir_all(p).unwrap();
    }
    let mut f = File::create(path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    f.write_all(content.as_bytes()).unwrap();
    path.to_path_buf()
}

/// Normalises whitespace runs to single spaces and trims each line.
pub fn squash_ws(s: &str) -> String {
    s.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The value of `Key:` in /proc/<pid>/status-like text.
pub fn status_field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim())
    })
}

/// Polls until process `pid` has a handler installed for `sig` (its
/// `SigCgt` mask has the bit), e.g. before sending SIGTERM to a container
/// init, which ignores signals it has no handler for.
#[track_caller]
pub fn wait_for_signal_handler(pid: i32, sig: i32) {
    let bit = 1u64 << (sig - 1);
    let mut last = String::new();
    let ok = poll(|| {
        last = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let mask = status_field(&last, "SigCgt").and_then(|m| u64::from_str_radix(m, 16).ok())?;
        (mask & bit != 0).then_some(())
    });
    assert!(
        ok.is_some(),
        "process {pid} never installed a handler for signal {sig} within {}s; status:\n{last}",
        POLL_BOUND.as_secs()
    );
}

/// Re-runs the bundle's container with the runtimetest checker as its
/// process (same config otherwise) and asserts that it exits 0, i.e. that
/// runtimetest found the whole config applied. Prints a SKIP message and
/// returns when runtimetest has not been built. Uses `run`, so the
/// container id must be free.
#[track_caller]
pub fn check_with_runtimetest(bundle: &mut Bundle) {
    check_with_runtimetest_using(bundle, &[]);
}

/// [`check_with_runtimetest`] with extra `run` arguments (`--no-pivot`).
#[track_caller]
pub fn check_with_runtimetest_using(bundle: &mut Bundle, run_args: &[&str]) {
    if !bundle.use_runtimetest() {
        return;
    }
    let out = bundle.run(run_args);
    assert!(
        out.success(),
        "expected runtimetest to find the config applied (exit 0)\n{}",
        out.describe()
    );
    bundle.runtime().assert_gone(bundle.id());
}

// --- terminals (--console-socket) ---------------------------------------

/// Receives one message on `stream` and returns the descriptor it carries
/// in an SCM_RIGHTS control message.
pub fn recv_fd(stream: &UnixStream) -> std::io::Result<OwnedFd> {
    let mut data = [0u8; 256];
    recv_with_fd(stream, &mut data).map(|(_, fd)| fd)
}

/// Receives one message into `data` and returns its length and the one
/// descriptor it carries in an SCM_RIGHTS control message.
pub fn recv_with_fd(stream: &UnixStream, data: &mut [u8]) -> std::io::Result<(usize, OwnedFd)> {
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // Room for a few control messages, aligned as cmsghdr requires.
    let mut control = [0u64; 16];
    // SAFETY: msghdr is plain data for which all zeroes (null pointers,
    // zero lengths) is a valid value; the fields used are set below.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control);
    // SAFETY: `msg` points at `iov` and `control`, which live on this stack
    // frame for the whole call, with their true lengths; the kernel writes
    // only within them.
    let n = unsafe { libc::recvmsg(stream.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut fds = Vec::new();
    // SAFETY: the CMSG_* macros walk the control buffer the kernel filled in
    // (msg_controllen was updated to the length it wrote), never past it;
    // CMSG_DATA may be unaligned for an int, hence read_unaligned. Each
    // descriptor received is owned by this process from here on.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let len = (*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                let p = libc::CMSG_DATA(c).cast::<libc::c_int>();
                for i in 0..len / std::mem::size_of::<libc::c_int>() {
                    fds.push(OwnedFd::from_raw_fd(std::ptr::read_unaligned(p.add(i))));
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    if msg.msg_flags & libc::MSG_CTRUNC != 0 {
        return Err(std::io::Error::other("control message truncated"));
    }
    match fds.len() {
        1 => Ok((n as usize, fds.pop().unwrap())),
        count => Err(std::io::Error::other(format!(
            "expected exactly one descriptor, got {count} (with data {:?})",
            String::from_utf8_lossy(&data[..(n as usize).min(data.len())])
        ))),
    }
}

/// Listens on `sock` and, in a thread, accepts one connection (waiting at
/// most [`POLL_BOUND`]) and receives the descriptor sent on it.
pub fn console_receiver(sock: &Path) -> JoinHandle<Result<OwnedFd, String>> {
    let listener =
        UnixListener::bind(sock).unwrap_or_else(|e| panic!("bind {}: {e}", sock.display()));
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let mut last_err = String::new();
        let stream = poll(|| match listener.accept() {
            Ok((s, _)) => Some(s),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
            Err(e) => {
                last_err = e.to_string();
                None
            }
        })
        .ok_or_else(|| {
            format!(
                "no connection on the console socket within {}s {last_err}",
                POLL_BOUND.as_secs()
            )
        })?;
        stream.set_nonblocking(false).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(POLL_BOUND))
            .map_err(|e| e.to_string())?;
        recv_fd(&stream).map_err(|e| format!("receiving the pty master: {e}"))
    })
}

/// Reads from the pty master until the output contains `marker` (for at
/// most [`POLL_BOUND`]); returns everything read.
pub fn read_until(master: OwnedFd, marker: &str) -> String {
    // SAFETY: fcntl on a descriptor this function owns; F_GETFL/F_SETFL
    // touch no memory of ours.
    let r = unsafe {
        let fl = libc::fcntl(master.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(master.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK)
    };
    assert!(
        r >= 0,
        "set O_NONBLOCK on the pty master: {}",
        std::io::Error::last_os_error()
    );
    let mut f = File::from(master);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let found = poll(|| {
        // EAGAIN: nothing yet; EIO: the container side is closed. Either
        // way, look at what has arrived so far.
        while let Ok(n @ 1..) = f.read(&mut buf) {
            out.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&out).contains(marker).then_some(())
    });
    let text = String::from_utf8_lossy(&out).into_owned();
    assert!(
        found.is_some(),
        "no {marker:?} from the container's terminal within {}s; read so far: {text:?}",
        POLL_BOUND.as_secs()
    );
    text
}

// ---------------------------------------------------------------------------
// Attack helpers (escapes.rs, rootless.rs)

/// Compiles an attacker (tests/attacker/FILE, std only) statically, as
/// the rootfs has no libc.
pub fn build_attacker(dst: &Path) {
    build_attacker_from("main.rs", dst)
}

pub fn build_attacker_from(file: &str, dst: &Path) {
    let src = workspace_dir()
        .join("integration/tests/attacker")
        .join(file);
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = std::process::Command::new(rustc)
        .args([
            "--edition",
            "2021",
            "-O",
            "-C",
            "target-feature=+crt-static",
        ])
        .arg(&src)
        .arg("-o")
        .arg(dst)
        .output()
        .expect("run rustc");
    assert!(
        out.status.success(),
        "compiling the attacker failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn sha256(p: &Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(p)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The verdict on tests/attacker/self_exe.rs's first result line: the
/// victim did not run `bin` itself, nothing could write what it ran, and
/// `bin` still hashes to `before`.
#[track_caller]
pub fn assert_self_exe_attack_failed(what: &str, result: &str, bin: &Path, before: &str) {
    eprintln!("{what}: {}", result.trim());
    let line = result.lines().next().unwrap_or_default();
    assert!(
        line.contains("host=false"),
        "{what}: the container executed the husk binary itself: {line}"
    );
    assert!(
        !line.contains("reopen=ok") || !line.contains("write=ok"),
        "{what}: the container could write the binary it executed: {line}"
    );
    assert_eq!(sha256(bin), before, "{what}: the husk binary changed");
}

/// Copies the shared libraries the husk binary needs into the rootfs, so
/// that the container can run it (any real image has a libc).
pub fn copy_husk_libraries(rootfs: &Path) {
    let out = std::process::Command::new("ldd")
        .arg(husk_bin())
        .output()
        .expect("ldd");
    for word in String::from_utf8_lossy(&out.stdout).split_whitespace() {
        if word.starts_with('/') {
            let dst = rootfs.join(word.trim_start_matches('/'));
            fs::create_dir_all(dst.parent().unwrap()).unwrap();
            fs::copy(word, &dst).unwrap();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_parsing_unescapes_paths() {
        let text = "36 35 98:0 /mnt1 /mnt/with\\040space rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n\
                    37 35 0:40 / /proc/sys ro,relatime - proc proc rw\n";
        let m = parse_mountinfo(text);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].mount_point, Path::new("/mnt/with space"));
        assert_eq!(m[0].root, "/mnt1");
        assert_eq!(m[0].options, "rw,noatime");
        assert_eq!(m[0].optional, ["master:1"]);
        assert_eq!(m[0].fstype, "ext3");
        assert_eq!(m[0].source, "/dev/root");
        assert_eq!(m[0].super_options, "rw,errors=continue");
        assert_eq!(m[1].mount_point, Path::new("/proc/sys"));
        assert_eq!(m[1].options, "ro,relatime");
        assert!(m[1].optional.is_empty(), "{:?}", m[1].optional);
    }

    #[test]
    fn warning_lines_are_recognised() {
        assert!(is_warning_line(
            r#"time="x" level=warning msg="devices ignored""#
        ));
        assert!(is_warning_line("husk: warning: poststart hook failed"));
        assert!(is_warning_line("WARNING: something"));
        assert!(!is_warning_line("husk: container \"x\" does not exist"));
        assert!(!is_warning_line(
            r#"time="x" level=error msg="warning-free failure""#
        ));
    }

    #[test]
    fn unique_ids_are_valid_runc_ids() {
        let id = unique_id("some test/name");
        assert!(id.starts_with("some-test-name-"), "{id}");
        assert!(id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)));
    }

    #[test]
    fn status_fields() {
        let s = "Name:\tsh\nUid:\t1000\t1000\t1000\t1000\nSigCgt:\t0000000000004002\n";
        assert_eq!(
            status_field(s, "Uid").map(squash_ws).as_deref(),
            Some("1000 1000 1000 1000")
        );
        assert_eq!(status_field(s, "SigCgt"), Some("0000000000004002"));
        assert_eq!(status_field(s, "Gid"), None);
    }
}
