//! The few bpf(2) commands the device filter needs, as safe functions.
//!
//! `union bpf_attr` is modelled as one small `#[repr(C)]` struct per
//! command, each padded with zeros to [`ATTR_SIZE`] bytes. The kernel copies
//! `min(size, sizeof(union bpf_attr))` bytes in, requires anything beyond
//! its own union to be zero, and may write results back into fields of the
//! union that a newer kernel knows and we do not (e.g. `query.revision`,
//! `log_true_size`): the padding makes those writes land in our memory.
//!
//! Every pointer placed in an attribute (instructions, license, log buffer,
//! id array, info struct) comes from a borrow held by the function that
//! makes the call, so it outlives the syscall.

use std::ffi::CStr;
use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::Insn;

const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_ATTACH: libc::c_int = 8;
const BPF_PROG_DETACH: libc::c_int = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_int = 13;
const BPF_OBJ_GET_INFO_BY_FD: libc::c_int = 15;
const BPF_PROG_QUERY: libc::c_int = 16;

/// `enum bpf_prog_type`.
pub(super) const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
/// `enum bpf_attach_type`.
pub(super) const BPF_CGROUP_DEVICE: u32 = 6;
/// Attach flags.
pub(super) const BPF_F_ALLOW_MULTI: u32 = 1 << 1;
pub(super) const BPF_F_REPLACE: u32 = 1 << 2;

/// Larger than `union bpf_attr` on any kernel so far (about 150 bytes in
/// 6.x) and well under the page the kernel accepts.
const ATTR_SIZE: usize = 256;

/// Marks the structs that are laid out as `union bpf_attr` for a command.
///
/// # Safety
/// Implementors must be `#[repr(C)]`, exactly [`ATTR_SIZE`] bytes, and valid
/// for any bytes the kernel writes back into them (plain integers only).
unsafe trait Attr {}

#[repr(C)]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
    _zero: [u8; ATTR_SIZE - 72],
}

#[repr(C)]
struct ProgAttach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
    _zero: [u8; ATTR_SIZE - 20],
}

#[repr(C)]
struct ProgQuery {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _zero: [u8; ATTR_SIZE - 28],
}

#[repr(C)]
struct GetFdById {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
    _zero: [u8; ATTR_SIZE - 12],
}

#[repr(C)]
struct InfoByFd {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
    _zero: [u8; ATTR_SIZE - 16],
}

// SAFETY: each is #[repr(C)], made only of integers and byte arrays, and
// the assertions below check the size.
unsafe impl Attr for ProgLoad {}
// SAFETY: as above.
unsafe impl Attr for ProgAttach {}
// SAFETY: as above.
unsafe impl Attr for ProgQuery {}
// SAFETY: as above.
unsafe impl Attr for GetFdById {}
// SAFETY: as above.
unsafe impl Attr for InfoByFd {}

const _: () = {
    assert!(size_of::<ProgLoad>() == ATTR_SIZE);
    assert!(size_of::<ProgAttach>() == ATTR_SIZE);
    assert!(size_of::<ProgQuery>() == ATTR_SIZE);
    assert!(size_of::<GetFdById>() == ATTR_SIZE);
    assert!(size_of::<InfoByFd>() == ATTR_SIZE);
    assert!(size_of::<ProgInfo>() == 80);
    assert!(size_of::<Insn>() == 8);
};

/// The head of `struct bpf_prog_info` (up to `name`), all we read.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ProgInfo {
    pub typ: u32,
    pub id: u32,
    pub tag: [u8; 8],
    jited_prog_len: u32,
    xlated_prog_len: u32,
    jited_prog_insns: u64,
    xlated_prog_insns: u64,
    load_time: u64,
    created_by_uid: u32,
    nr_map_ids: u32,
    map_ids: u64,
    pub name: [u8; 16],
}

/// bpf(cmd, attr, sizeof attr); the result is an fd or 0.
fn bpf<A: Attr>(cmd: libc::c_int, attr: &mut A) -> io::Result<libc::c_long> {
    // SAFETY: `attr` is a live, exclusive, ATTR_SIZE-byte #[repr(C)] struct
    // laid out as union bpf_attr (trait contract), so the kernel reads and
    // writes only inside it; the addresses stored in it point to buffers
    // the calling function borrows for the duration of this call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut A as *mut libc::c_void,
            size_of::<A>() as libc::c_uint,
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn into_fd(ret: libc::c_long) -> io::Result<OwnedFd> {
    let fd = i32::try_from(ret).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: the kernel just returned this fd to us (PROG_LOAD,
    // PROG_GET_FD_BY_ID) and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn fd_u32(fd: BorrowedFd<'_>) -> u32 {
    // fds are never negative.
    fd.as_raw_fd() as u32
}

/// BPF_PROG_LOAD of a BPF_PROG_TYPE_CGROUP_DEVICE program. With `log`, the
/// verifier's messages go there (NUL-terminated).
pub(super) fn prog_load(
    insns: &[Insn],
    license: &CStr,
    name: &[u8],
    log: Option<&mut [u8]>,
) -> io::Result<OwnedFd> {
    let mut prog_name = [0u8; 16];
    let n = name.len().min(15);
    prog_name[..n].copy_from_slice(&name[..n]);
    let (log_level, log_size, log_buf) = match log {
        Some(buf) => (1, buf.len() as u32, buf.as_mut_ptr() as u64),
        None => (0, 0, 0),
    };
    let mut attr = ProgLoad {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: u32::try_from(insns.len())
            .map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level,
        log_size,
        log_buf,
        kern_version: 0,
        prog_flags: 0,
        prog_name,
        prog_ifindex: 0,
        expected_attach_type: 0,
        _zero: [0; ATTR_SIZE - 72],
    };
    into_fd(bpf(BPF_PROG_LOAD, &mut attr)?)
}

/// BPF_PROG_ATTACH of `prog` to the cgroup `target`; with `replace`, the
/// kernel swaps that program for `prog` in place (needs BPF_F_REPLACE in
/// `flags`).
pub(super) fn prog_attach(
    target: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
    attach_type: u32,
    flags: u32,
    replace: Option<BorrowedFd<'_>>,
) -> io::Result<()> {
    let mut attr = ProgAttach {
        target_fd: fd_u32(target),
        attach_bpf_fd: fd_u32(prog),
        attach_type,
        attach_flags: flags,
        replace_bpf_fd: replace.map_or(0, fd_u32),
        _zero: [0; ATTR_SIZE - 20],
    };
    bpf(BPF_PROG_ATTACH, &mut attr).map(drop)
}

/// BPF_PROG_DETACH of `prog` from the cgroup `target`.
pub(super) fn prog_detach(
    target: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
    attach_type: u32,
) -> io::Result<()> {
    let mut attr = ProgAttach {
        target_fd: fd_u32(target),
        attach_bpf_fd: fd_u32(prog),
        attach_type,
        attach_flags: 0,
        replace_bpf_fd: 0,
        _zero: [0; ATTR_SIZE - 20],
    };
    bpf(BPF_PROG_DETACH, &mut attr).map(drop)
}

/// BPF_PROG_QUERY: the ids of the programs attached to `target` itself
/// (not inherited ones), in run order.
pub(super) fn prog_query(target: BorrowedFd<'_>, attach_type: u32) -> io::Result<Vec<u32>> {
    let mut ids: Vec<u32> = Vec::new();
    loop {
        let mut attr = ProgQuery {
            target_fd: fd_u32(target),
            attach_type,
            query_flags: 0,
            attach_flags: 0,
            prog_ids: if ids.is_empty() {
                0
            } else {
                ids.as_mut_ptr() as u64
            },
            prog_cnt: ids.len() as u32,
            _zero: [0; ATTR_SIZE - 28],
        };
        match bpf(BPF_PROG_QUERY, &mut attr) {
            Ok(_) if ids.is_empty() && attr.prog_cnt > 0 => {
                // First call: only the count came back.
                ids = vec![0; attr.prog_cnt as usize];
            }
            Ok(_) => {
                ids.truncate(attr.prog_cnt as usize);
                return Ok(ids);
            }
            // Attached meanwhile: ask again with room for all.
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => {
                ids = vec![0; (attr.prog_cnt as usize).max(ids.len() + 1)];
            }
            Err(e) => return Err(e),
        }
    }
}

/// BPF_PROG_GET_FD_BY_ID.
pub(super) fn prog_get_fd_by_id(id: u32) -> io::Result<OwnedFd> {
    let mut attr = GetFdById {
        prog_id: id,
        next_id: 0,
        open_flags: 0,
        _zero: [0; ATTR_SIZE - 12],
    };
    into_fd(bpf(BPF_PROG_GET_FD_BY_ID, &mut attr)?)
}

/// BPF_OBJ_GET_INFO_BY_FD for a program.
pub(super) fn prog_info(prog: BorrowedFd<'_>) -> io::Result<ProgInfo> {
    let mut info = ProgInfo::default();
    let mut attr = InfoByFd {
        bpf_fd: fd_u32(prog),
        info_len: size_of::<ProgInfo>() as u32,
        info: &mut info as *mut ProgInfo as u64,
        _zero: [0; ATTR_SIZE - 16],
    };
    bpf(BPF_OBJ_GET_INFO_BY_FD, &mut attr)?;
    Ok(info)
}
