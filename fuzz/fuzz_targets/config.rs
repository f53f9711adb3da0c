//! config.json loading and validation must never panic, whatever the bytes:
//! parse, validate, and render every error message (which walks the field
//! paths the errors carry); and `husk check`'s config layer: the parse that
//! collects every type error, every rule, every problem's JSON pointer.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut out = husk_spec::Problems::default();
    if let Some(spec) = husk_spec::parse_collecting(data, &mut out) {
        husk_spec::check(&spec, &mut out);
    }
    for p in &out.0 {
        let _ = p.pointer();
    }
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
