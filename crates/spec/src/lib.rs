//! husk-spec: reads `config.json` from an OCI bundle and checks it before any
//! work starts, so that a bad config fails with one line naming the field.

mod check;
mod error;
mod linux_fields;
mod load;
mod problems;
mod state;
mod types;
mod validate;

pub use check::parse_collecting;
pub use error::SpecError;
pub use linux_fields::*;
pub use load::{load_bundle, parse_config, CONFIG_FILE};
pub use problems::{pointer, Problem, Problems, Severity};
pub use state::{State, Status};
pub use types::*;
pub use validate::{check, validate};

/// The runtime-spec release husk implements.
pub const OCI_VERSION: &str = "1.3.0";
