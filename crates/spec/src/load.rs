use crate::error::SpecError;
use crate::types::Spec;
use std::path::Path;

pub const CONFIG_FILE: &str = "config.json";

/// Reads and validates `BUNDLE/config.json`.
pub fn load_bundle(bundle: &Path) -> Result<Spec, SpecError> {
    let path = bundle.join(CONFIG_FILE);
    let data = std::fs::read(&path).map_err(|source| SpecError::Read { path, source })?;
    let spec = parse_config(&data)?;
    crate::validate(&spec)?;
    Ok(spec)
}

/// Parses config.json bytes; a type error names the JSON path of the value.
pub fn parse_config(data: &[u8]) -> Result<Spec, SpecError> {
    let mut de = serde_json::Deserializer::from_slice(data);
    let spec: Spec = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        // A syntax error has no meaningful field; its line and column say
        // where the document broke.
        let field = if field.is_empty() || inner.is_syntax() || inner.is_eof() {
            "invalid JSON".to_string()
        } else {
            field
        };
        SpecError::Parse {
            field,
            reason: strip_position(&inner),
        }
    })?;
    de.end().map_err(|e| SpecError::Parse {
        field: "invalid JSON".into(),
        reason: strip_position(&e),
    })?;
    Ok(spec)
}

/// serde_json appends " at line L column C"; keep it only for syntax errors,
/// where the path says nothing useful.
fn strip_position(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    if e.is_syntax() || e.is_eof() {
        return msg;
    }
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg,
    }
}
