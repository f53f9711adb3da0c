//! What `husk check` reports: every problem of a config, each with the JSON
//! pointer of its field, a severity and one line of reason. `validate`
//! (what create runs) is the same rules stopping at the first error.

use crate::problems::Problems;
use crate::types::Spec;
use serde_json::Value;

/// Parses config.json, reporting every type error rather than the first:
/// each top-level field (and each field of `linux`) that does not parse is
/// reported and left out, and the rest is checked.
pub fn parse_collecting(data: &[u8], out: &mut Problems) -> Option<Spec> {
    let strict = match crate::parse_config(data) {
        Ok(spec) => return Some(spec),
        Err(e) => e,
    };
    let mut v: Value = match serde_json::from_slice(data) {
        Ok(v) => v,
        Err(_) => {
            out.push_err(strict);
            return None;
        }
    };
    let Some(obj) = v.as_object_mut() else {
        out.error("invalid JSON", "the document is not a JSON object");
        return None;
    };
    let before = out.0.len();
    if !obj.contains_key("ociVersion") {
        out.error("ociVersion", "is required");
        obj.insert("ociVersion".into(), Value::from("1.0.0"));
    }
    // Each part is parsed with a version of its own, so that a bad
    // ociVersion is reported once, not with every part.
    let alone = |key: &str, value: &Value| {
        let mut doc = serde_json::Map::new();
        doc.insert("ociVersion".into(), Value::from("1.0.0"));
        doc.insert(key.into(), value.clone());
        crate::parse_config(Value::Object(doc).to_string().as_bytes())
    };
    let keys: Vec<String> = obj.keys().cloned().collect();
    for key in keys {
        if key == "ociVersion" {
            let doc = serde_json::json!({"ociVersion": obj[&key].clone()});
            if let Err(e) = crate::parse_config(doc.to_string().as_bytes()) {
                out.push_err(e);
                obj.insert(key, Value::from("1.0.0"));
            }
            continue;
        }
        // process and linux hold many independent fields: one level down.
        if key == "process" || key == "linux" {
            if let Some(sect) = obj.get_mut(&key).and_then(|l| l.as_object_mut()) {
                let sub: Vec<String> = sect.keys().cloned().collect();
                for k in sub {
                    let mut one = serde_json::Map::new();
                    one.insert(k.clone(), sect[&k].clone());
                    if key == "process" {
                        // What process needs to parse at all.
                        if k != "cwd" {
                            one.insert("cwd".into(), Value::from("/"));
                        }
                        if k != "args" {
                            one.insert("args".into(), serde_json::json!(["x"]));
                        }
                    }
                    if let Err(e) = alone(&key, &Value::Object(one)) {
                        out.push_err(e);
                        out.1.push(format!("{key}.{k}"));
                        sect.remove(&k);
                    }
                }
                continue;
            }
        }
        if let Err(e) = alone(&key, &obj[&key]) {
            out.push_err(e);
            out.1.push(key.clone());
            obj.remove(&key);
        }
    }
    if out.0.len() == before {
        // Wrong only as a whole (a duplicate key, which a Value hides).
        out.push_err(strict);
        return None;
    }
    match crate::parse_config(v.to_string().as_bytes()) {
        Ok(s) => Some(s),
        Err(e) => {
            out.push_err(e);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problems::*;
    use serde_json::json;

    fn base() -> Value {
        json!({
            "ociVersion": "1.2.0",
            "root": {"path": "rootfs"},
            "process": {"args": ["sh"], "cwd": "/"},
            "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}
        })
    }

    fn problems(v: &Value) -> Vec<(String, Severity)> {
        let mut out = Problems::default();
        if let Some(spec) = parse_collecting(v.to_string().as_bytes(), &mut out) {
            crate::check(&spec, &mut out);
        }
        out.0.iter().map(|p| (p.pointer(), p.severity)).collect()
    }

    #[test]
    fn a_valid_config_has_no_problems() {
        assert_eq!(problems(&base()), vec![]);
    }

    #[test]
    fn every_independent_problem_is_reported() {
        let mut v = base();
        v["process"]["cwd"] = json!("relative");
        v["process"]["rlimits"] = json!([{"type": "RLIMIT_NOPE", "soft": 1, "hard": 1}]);
        v["mounts"] = json!([{"destination": "x", "type": "tmpfs"}]);
        v["hooks"] = json!({"prestart": [{"path": "rel"}]});
        v["linux"]["sysctl"] = json!({"/bad": "1"});
        v["linux"]["timeOffsets"] = json!({"realtime": {"secs": 1}});
        let got: Vec<String> = problems(&v).into_iter().map(|(p, _)| p).collect();
        for want in [
            "/process/cwd",
            "/process/rlimits/0/type",
            "/mounts/0/destination",
            "/hooks/prestart/0/path",
            "/linux/sysctl/~1bad",
            "/linux/timeOffsets",
            "/linux/timeOffsets/realtime",
        ] {
            assert!(
                got.contains(&want.to_string()),
                "{want} missing from {got:?}"
            );
        }
        assert_eq!(got.len(), 7, "{got:?}");
    }

    #[test]
    fn type_errors_in_several_places_are_all_reported_and_the_rest_checked() {
        let mut v = base();
        v["process"]["user"] = json!({"uid": "root"});
        v["linux"]["resources"] = json!({"memory": {"limit": "lots"}});
        v["hostname"] = json!(7);
        v["process"]["cwd"] = json!("rel");
        let mut got: Vec<String> = problems(&v).into_iter().map(|(p, _)| p).collect();
        got.sort();
        assert_eq!(
            got,
            [
                "/hostname",
                "/linux/resources/memory/limit",
                "/process/cwd",
                "/process/user/uid"
            ],
            "{got:?}"
        );
    }

    #[test]
    fn a_duplicate_key_is_reported() {
        let text =
            r#"{"ociVersion": "1.2.0", "hostname": "a", "hostname": "b", "root": {"path": "r"}}"#;
        let mut out = Problems::default();
        assert!(parse_collecting(text.as_bytes(), &mut out).is_none());
        assert_eq!(out.0.len(), 1, "{:?}", out.0);
        assert!(out.0[0].message.contains("duplicate"), "{:?}", out.0);
    }

    #[test]
    fn a_bad_version_is_one_problem_and_a_bad_field_hides_no_other() {
        let mut v = base();
        v.as_object_mut().unwrap().remove("ociVersion");
        v["linux"]["namespaces"] = json!([{"type": "pid"}, {"type": "bogus"}]);
        v["hostname"] = json!("h");
        v["linux"]["maskedPaths"] = json!(["/proc/kcore"]);
        v["process"]["cwd"] = json!(5);
        v["process"]["env"] = json!(["NOEQUALS"]);
        let got: Vec<String> = problems(&v).into_iter().map(|(p, _)| p).collect();
        let mut sorted = got.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            [
                "/linux/namespaces/1/type",
                "/ociVersion",
                "/process/cwd",
                "/process/env/0"
            ],
            "{got:?}"
        );
    }

    #[test]
    fn validate_is_the_first_error_of_check() {
        let mut v = base();
        v["process"]["cwd"] = json!("rel");
        v["mounts"] = json!([{"destination": "x"}]);
        let spec = crate::parse_config(v.to_string().as_bytes()).unwrap();
        let e = crate::validate(&spec).unwrap_err().to_string();
        assert!(e.contains("mounts[0].destination"), "{e}");
    }

    #[test]
    fn pointers() {
        assert_eq!(
            pointer("process.rlimits[0].type"),
            "/process/rlimits/0/type"
        );
        assert_eq!(
            pointer("linux.resources.memory.limit"),
            "/linux/resources/memory/limit"
        );
        assert_eq!(pointer("mounts[3]"), "/mounts/3");
        assert_eq!(pointer("root"), "/root");
        assert_eq!(
            pointer("linux.sysctl.net.ipv4.ip_forward"),
            "/linux/sysctl/net.ipv4.ip_forward"
        );
        assert_eq!(
            pointer("linux.netDevices.eth.1.name"),
            "/linux/netDevices/eth.1/name"
        );
        assert_eq!(
            pointer("linux.timeOffsets.monotonic"),
            "/linux/timeOffsets/monotonic"
        );
        assert_eq!(pointer("annotations.a/b"), "/annotations/a~1b");
        assert_eq!(pointer("invalid JSON"), "");
        assert_eq!(pointer("hooks.prestart[0].path"), "/hooks/prestart/0/path");
        assert_eq!(
            pointer("linux.resources.unified[\"memory.max\"]"),
            "/linux/resources/unified/memory.max"
        );
        assert_eq!(
            pointer("linux.resources.unified.memory.max"),
            "/linux/resources/unified/memory.max"
        );
    }
}
