//! config.json loading and validation must never panic, whatever the bytes:
//! parse, validate, and render every error message (which walks the field
//! paths the errors carry).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match husk_spec::parse_config(data) {
        Ok(spec) => {
            if let Err(e) = husk_spec::validate(&spec) {
                let _ = e.to_string();
            }
            // What husk state/hooks serialise back must serialise.
            let _ = serde_json::to_vec(&spec);
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
