//! The seccomp compiler: `linux.seccomp` to a BPF program (with
//! libseccomp, opened with dlopen on first use), loading it on the container side, and
//! handing SCMP_ACT_NOTIFY listeners to their agent.
//!
//! The split matters: compiling allocates and may fail on bad input, so it
//! runs in husk before any process is forked; the container side only
//! makes one seccomp(2) call.

mod abi;
mod cache;
pub(crate) mod compile;
mod ffi;
mod load;
mod notify;

pub use cache::{binary_identity, compile_cached, set_binary_identity};
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
    /// The compiled-program cache could not be written (a miss still
    /// compiles, so this is only ever logged).
    #[error("seccomp cache: write {}: {source}", path.display())]
    Cache {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

#[cfg(test)]
mod header_tests;
#[cfg(test)]
mod tests;
