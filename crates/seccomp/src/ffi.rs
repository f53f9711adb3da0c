//! The few libseccomp calls the compiler needs, behind one owning wrapper.
//! libseccomp is opened with dlopen on first use (see `Lib`).
//! libseccomp only builds the filter here; husk loads the exported BPF
//! itself (see `load`), so the library never touches the calling process's
//! seccomp state.

use crate::abi;
use std::ffi::{c_char, c_int, c_uint, c_void, CString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArgCmp {
    pub arg: c_uint,
    pub op: c_uint,
    pub datum_a: u64,
    pub datum_b: u64,
}

type InitFn = unsafe extern "C" fn(u32) -> *mut c_void;
type ReleaseFn = unsafe extern "C" fn(*mut c_void);
type ResolveFn = unsafe extern "C" fn(*const c_char) -> u32;
type ArchAddFn = unsafe extern "C" fn(*mut c_void, u32) -> c_int;
type AttrSetFn = unsafe extern "C" fn(*mut c_void, c_int, u32) -> c_int;
type SyscallFn = unsafe extern "C" fn(*const c_char) -> c_int;
type RuleAddFn = unsafe extern "C" fn(*mut c_void, u32, c_int, c_uint, *const ArgCmp) -> c_int;
type ExportFn = unsafe extern "C" fn(*mut c_void, c_int) -> c_int;

/// libseccomp's entry points. The library is opened on first use, not
/// linked: only a create or exec that compiles a profile (a cache miss)
/// pays for loading and relocating it; `state`, `start`, `delete` and the
/// rest never map it.
struct Lib {
    init: InitFn,
    release: ReleaseFn,
    arch_resolve_name: ResolveFn,
    arch_add: ArchAddFn,
    attr_set: AttrSetFn,
    syscall_resolve_name: SyscallFn,
    rule_add_array: RuleAddFn,
    export_bpf: ExportFn,
}

const LIB_NAMES: [&std::ffi::CStr; 2] = [c"libseccomp.so.2", c"libseccomp.so"];

/// Loads libseccomp if it is not yet; the error says what to install.
pub fn ensure_loaded() -> std::io::Result<()> {
    lib().map(|_| ())
}

fn lib() -> std::io::Result<&'static Lib> {
    static LIB: std::sync::OnceLock<Result<Lib, String>> = std::sync::OnceLock::new();
    LIB.get_or_init(open_lib)
        .as_ref()
        .map_err(|e| std::io::Error::other(e.clone()))
}

fn open_lib() -> Result<Lib, String> {
    let handle = LIB_NAMES
        .iter()
        // SAFETY: a valid NUL-terminated name; dlopen returns a handle or
        // NULL. The library stays loaded for the life of the process.
        .map(|n| unsafe { libc::dlopen(n.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) })
        .find(|h| !h.is_null())
        .ok_or_else(|| "cannot load libseccomp.so.2 (install Debian's libseccomp2)".to_string())?;
    let sym = |name: &std::ffi::CStr| -> Result<*mut c_void, String> {
        // SAFETY: `handle` is a live dlopen handle, `name` a valid C string.
        let p = unsafe { libc::dlsym(handle, name.as_ptr()) };
        if p.is_null() {
            Err(format!("libseccomp lacks {}", name.to_string_lossy()))
        } else {
            Ok(p)
        }
    };
    // SAFETY: for each transmute, the symbol is libseccomp's function of that
    // name, whose C prototype (seccomp.h, API level 2.5) the fn type
    // matches exactly.
    unsafe {
        Ok(Lib {
            init: std::mem::transmute::<*mut c_void, InitFn>(sym(c"seccomp_init")?),
            release: std::mem::transmute::<*mut c_void, ReleaseFn>(sym(c"seccomp_release")?),
            arch_resolve_name: std::mem::transmute::<*mut c_void, ResolveFn>(sym(
                c"seccomp_arch_resolve_name",
            )?),
            arch_add: std::mem::transmute::<*mut c_void, ArchAddFn>(sym(c"seccomp_arch_add")?),
            attr_set: std::mem::transmute::<*mut c_void, AttrSetFn>(sym(c"seccomp_attr_set")?),
            syscall_resolve_name: std::mem::transmute::<*mut c_void, SyscallFn>(sym(
                c"seccomp_syscall_resolve_name",
            )?),
            rule_add_array: std::mem::transmute::<*mut c_void, RuleAddFn>(sym(
                c"seccomp_rule_add_array",
            )?),
            export_bpf: std::mem::transmute::<*mut c_void, ExportFn>(sym(c"seccomp_export_bpf")?),
        })
    }
}

/// A negative errno from libseccomp, as an io::Error.
fn check(rc: c_int) -> std::io::Result<()> {
    if rc < 0 {
        Err(std::io::Error::from_raw_os_error(-rc))
    } else {
        Ok(())
    }
}

/// The audit architecture token for a libseccomp name such as "x86_64";
/// None when libseccomp does not know it.
pub fn arch_token(name: &str) -> Option<u32> {
    let c = CString::new(name).ok()?;
    let lib = lib().ok()?;
    // SAFETY: `c` is a valid NUL-terminated string for the whole call; the
    // function only reads it.
    let t = unsafe { (lib.arch_resolve_name)(c.as_ptr()) };
    (t != 0).then_some(t)
}

/// The native syscall number of `name`; None when unknown.
pub fn syscall_number(name: &str) -> Option<c_int> {
    let c = CString::new(name).ok()?;
    let lib = lib().ok()?;
    // SAFETY: as in `arch_token`.
    let n = unsafe { (lib.syscall_resolve_name)(c.as_ptr()) };
    // Other negative numbers are libseccomp's pseudo-syscalls for names
    // that exist on another architecture.
    (n != abi::NR_SCMP_ERROR).then_some(n)
}

/// An owned libseccomp filter context.
pub struct Filter {
    lib: &'static Lib,
    ctx: std::ptr::NonNull<c_void>,
}

impl Filter {
    pub fn new(default_action: u32) -> std::io::Result<Filter> {
        let lib = lib()?;
        // SAFETY: seccomp_init has no preconditions; it returns NULL on a
        // bad action or out of memory, and otherwise a context we own.
        let ctx = unsafe { (lib.init)(default_action) };
        let ctx = std::ptr::NonNull::new(ctx)
            .ok_or_else(|| std::io::Error::from_raw_os_error(libc::EINVAL))?;
        let f = Filter { lib, ctx };
        // libseccomp must not set no_new_privs (it never loads here, but
        // the attribute is part of the filter's state).
        // SAFETY: `ctx` is a live context owned by `f`.
        check(unsafe { (lib.attr_set)(f.ctx.as_ptr(), abi::SCMP_FLTATR_CTL_NNP, 0) })?;
        Ok(f)
    }

    /// Adds an architecture; the native one is already there.
    pub fn add_arch(&mut self, token: u32) -> std::io::Result<()> {
        // SAFETY: live context owned by self.
        match unsafe { (self.lib.arch_add)(self.ctx.as_ptr(), token) } {
            rc if rc == -libc::EEXIST => Ok(()),
            rc => check(rc),
        }
    }

    pub fn add_rule(
        &mut self,
        action: u32,
        syscall: c_int,
        args: &[ArgCmp],
    ) -> std::io::Result<()> {
        // SAFETY: live context owned by self; `args` points to args.len()
        // initialised comparisons (repr(C), the layout of scmp_arg_cmp), read
        // only during the call.
        check(unsafe {
            (self.lib.rule_add_array)(
                self.ctx.as_ptr(),
                action,
                syscall,
                args.len() as c_uint,
                args.as_ptr(),
            )
        })
    }

    /// The filter as the kernel's sock_filter array (8 bytes an
    /// instruction), ready for seccomp(2).
    pub fn export_bpf(&self) -> std::io::Result<Vec<u8>> {
        let name = c"husk-seccomp";
        // SAFETY: a valid NUL-terminated name; memfd_create returns a new fd
        // or -1.
        let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: live context; `fd` is open for writing during the call.
        check(unsafe { (self.lib.export_bpf)(self.ctx.as_ptr(), fd.as_raw_fd()) })?;
        let mut file = std::fs::File::from(fd);
        use std::io::{Read, Seek};
        file.seek(std::io::SeekFrom::Start(0))?;
        let mut out = Vec::new();
        file.read_to_end(&mut out)?;
        Ok(out)
    }
}

impl Drop for Filter {
    fn drop(&mut self) {
        // SAFETY: the context is owned by self and released exactly once.
        unsafe { (self.lib.release)(self.ctx.as_ptr()) }
    }
}
