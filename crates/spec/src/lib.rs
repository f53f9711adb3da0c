//! husk-spec: reads `config.json` from an OCI bundle and checks it before any
//! work starts, so that a bad config fails with one line naming the field.

mod check;
mod linux_fields;
mod load;
mod state;
mod types;
mod validate;

pub use check::{parse_collecting, pointer, Problem, Problems, Severity};
pub use linux_fields::*;
pub use load::{load_bundle, parse_config, SpecError, CONFIG_FILE};
pub use state::{State, Status};
pub use types::*;
pub use validate::{check, validate};

/// The runtime-spec release husk implements.
pub const OCI_VERSION: &str = "1.3.0";
