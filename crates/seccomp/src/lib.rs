//! The seccomp compiler: `linux.seccomp` to a BPF program (with
//! libseccomp, opened with dlopen on first use), loading it on the container side, and
//! handing SCMP_ACT_NOTIFY listeners to their agent.
//!
//! The split matters: compiling allocates and may fail on bad input, so it
//! runs in husk before any process is forked; the container side only
//! makes one seccomp(2) call.

pub(crate) mod compile;
mod ffi;
mod load;
mod notify;

pub use compile::{
    compile, Program, Skipped, KNOWN_ACTIONS, KNOWN_ARCHES, KNOWN_FLAGS, KNOWN_OPERATORS,
};
pub use load::{load, supported_flags};
pub use notify::{process_state, send_listener};

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// A field of linux.seccomp is wrong; `field` is its JSON path.
    #[error("{field}: {reason}")]
    Field { field: String, reason: String },
    #[error("linux.seccomp: {0}")]
    Compile(String),
}

#[cfg(test)]
mod tests;
