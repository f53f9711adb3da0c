//! `process.scheduler` (sched_setattr) and `process.ioPriority`
//! (ioprio_set), applied to the calling process just before exec; both are
//! kept across execve and inherited by the program's children.

use crate::error::{Error, Result};
use husk_spec::{IoPriority, Scheduler};

/// The kernel's `struct sched_attr` (SCHED_ATTR_SIZE_VER1, 56 bytes).
#[repr(C)]
#[derive(Default)]
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

pub fn set_scheduler(s: &Scheduler) -> Result<()> {
    let policy = s.policy_value().ok_or_else(|| {
        Error::field(
            "process.scheduler.policy",
            format!("unknown policy {:?}", s.policy),
        )
    })?;
    let flags = s
        .flags_value()
        .ok_or_else(|| Error::field("process.scheduler.flags", "unknown flag"))?;
    let attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy,
        flags,
        nice: s.nice.unwrap_or(0),
        priority: s.priority.unwrap_or(0) as u32,
        runtime: s.runtime.unwrap_or(0),
        deadline: s.deadline.unwrap_or(0),
        period: s.period.unwrap_or(0),
        ..SchedAttr::default()
    };
    // SAFETY: sched_setattr(pid 0 = the caller, attr, flags 0) only reads
    // `attr.size` bytes from `attr`, a live, initialised struct of exactly
    // that size.
    let r = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) };
    if r != 0 {
        let e = std::io::Error::last_os_error();
        return Err(Error::field(
            "process.scheduler",
            format!("sched_setattr({}): {e}", s.policy),
        )
        .errno(e));
    }
    Ok(())
}

const IOPRIO_WHO_PROCESS: libc::c_int = 1;
const IOPRIO_CLASS_SHIFT: u32 = 13;

pub fn set_io_priority(io: &IoPriority) -> Result<()> {
    let class = io.class_value().ok_or_else(|| {
        Error::field(
            "process.ioPriority.class",
            format!("unknown class {:?}", io.class),
        )
    })?;
    let value = (class << IOPRIO_CLASS_SHIFT) | (io.priority as u32 & 0x7);
    // SAFETY: ioprio_set takes three integers (who, which = 0 for the
    // caller, the priority) and touches no memory of ours.
    let r = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, value) };
    if r != 0 {
        let e = std::io::Error::last_os_error();
        return Err(Error::field(
            "process.ioPriority",
            format!("ioprio_set({} {}): {e}", io.class, io.priority),
        )
        .errno(e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn sched_attr_has_the_kernels_size() {
        assert_eq!(std::mem::size_of::<super::SchedAttr>(), 56);
    }
}
