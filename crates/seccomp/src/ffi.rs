//! The few libseccomp calls the compiler needs, behind one owning wrapper.
//! libseccomp only builds the filter here; husk loads the exported BPF
//! itself (see `load`), so the library never touches the calling process's
//! seccomp state.

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

pub const CMP_NE: c_uint = 1;
pub const CMP_LT: c_uint = 2;
pub const CMP_LE: c_uint = 3;
pub const CMP_EQ: c_uint = 4;
pub const CMP_GE: c_uint = 5;
pub const CMP_GT: c_uint = 6;
pub const CMP_MASKED_EQ: c_uint = 7;

/// SCMP_FLTATR_CTL_NNP: libseccomp must not set no_new_privs (it never
/// loads here, but the attribute is part of the filter's state).
const ATTR_CTL_NNP: c_int = 3;

extern "C" {
    fn seccomp_init(def_action: u32) -> *mut c_void;
    fn seccomp_release(ctx: *mut c_void);
    fn seccomp_arch_resolve_name(name: *const c_char) -> u32;
    fn seccomp_arch_add(ctx: *mut c_void, arch: u32) -> c_int;
    fn seccomp_attr_set(ctx: *mut c_void, attr: c_int, value: u32) -> c_int;
    fn seccomp_syscall_resolve_name(name: *const c_char) -> c_int;
    fn seccomp_rule_add_array(
        ctx: *mut c_void,
        action: u32,
        syscall: c_int,
        arg_cnt: c_uint,
        arg_array: *const ArgCmp,
    ) -> c_int;
    fn seccomp_export_bpf(ctx: *mut c_void, fd: c_int) -> c_int;
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
    // SAFETY: `c` is a valid NUL-terminated string for the whole call; the
    // function only reads it.
    let t = unsafe { seccomp_arch_resolve_name(c.as_ptr()) };
    (t != 0).then_some(t)
}

/// The native syscall number of `name`; None when unknown.
pub fn syscall_number(name: &str) -> Option<c_int> {
    let c = CString::new(name).ok()?;
    // SAFETY: as in `arch_token`.
    let n = unsafe { seccomp_syscall_resolve_name(c.as_ptr()) };
    // __NR_SCMP_ERROR is -1; other negative numbers are libseccomp's
    // pseudo-syscalls for names that exist on another architecture.
    (n != -1).then_some(n)
}

/// An owned libseccomp filter context.
pub struct Filter {
    ctx: std::ptr::NonNull<c_void>,
}

impl Filter {
    pub fn new(default_action: u32) -> std::io::Result<Filter> {
        // SAFETY: seccomp_init has no preconditions; it returns NULL on a
        // bad action or out of memory, and otherwise a context we own.
        let ctx = unsafe { seccomp_init(default_action) };
        let ctx = std::ptr::NonNull::new(ctx)
            .ok_or_else(|| std::io::Error::from_raw_os_error(libc::EINVAL))?;
        let f = Filter { ctx };
        // SAFETY: `ctx` is a live context owned by `f`.
        check(unsafe { seccomp_attr_set(f.ctx.as_ptr(), ATTR_CTL_NNP, 0) })?;
        Ok(f)
    }

    /// Adds an architecture; the native one is already there.
    pub fn add_arch(&mut self, token: u32) -> std::io::Result<()> {
        // SAFETY: live context owned by self.
        match unsafe { seccomp_arch_add(self.ctx.as_ptr(), token) } {
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
            seccomp_rule_add_array(
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
        check(unsafe { seccomp_export_bpf(self.ctx.as_ptr(), fd.as_raw_fd()) })?;
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
        unsafe { seccomp_release(self.ctx.as_ptr()) }
    }
}
