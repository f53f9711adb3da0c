//! What `husk check` reports: every problem of a config, each with the JSON
//! pointer of its field, a severity and one line of reason. `validate`
//! (what create runs) is the same rules stopping at the first error.

use crate::load::SpecError;
use crate::types::Spec;
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem. `field` is husk's dotted path (`linux.namespaces[1].type`),
/// as the one-line errors of create print it; `pointer()` is the JSON
/// pointer of the same field (`/linux/namespaces/1/type`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    pub severity: Severity,
    pub message: String,
}

impl Problem {
    pub fn pointer(&self) -> String {
        pointer(&self.field)
    }
}

/// The problems found so far.
#[derive(Debug, Default)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    pub fn error(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            field: field.into(),
            severity: Severity::Error,
            message: message.into(),
        });
    }

    pub fn warning(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            field: field.into(),
            severity: Severity::Warning,
            message: message.into(),
        });
    }

    /// Records the error of a rule written as a Result.
    pub fn take(&mut self, r: Result<(), SpecError>) {
        if let Err(e) = r {
            self.push_err(e);
        }
    }

    pub fn push_err(&mut self, e: SpecError) {
        match e {
            SpecError::Invalid { field, reason } | SpecError::Parse { field, reason } => {
                self.error(field, reason)
            }
            SpecError::Read { path, source } => {
                self.error("", format!("cannot read {}: {source}", path.display()))
            }
        }
    }

    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.0.iter().filter(|p| p.severity == Severity::Error)
    }

    /// The first error, as create reports it.
    pub fn first_error(&self) -> Option<SpecError> {
        self.errors()
            .next()
            .map(|p| SpecError::invalid(p.field.clone(), p.message.clone()))
    }
}

/// Parses config.json, reporting every type error rather than the first:
/// each top-level field (and each field of `linux`) that does not parse is
/// reported and left out, and the rest is checked.
pub fn parse_collecting(data: &[u8], out: &mut Problems) -> Option<Spec> {
    let mut v: Value = match serde_json::from_slice(data) {
        Ok(v) => v,
        Err(e) => {
            out.error("invalid JSON", e.to_string());
            return None;
        }
    };
    if crate::parse_config(data).is_ok() {
        return crate::parse_config(data).ok();
    }
    let Some(obj) = v.as_object_mut() else {
        out.error("invalid JSON", "the document is not a JSON object");
        return None;
    };
    let version = obj.get("ociVersion").cloned().unwrap_or(Value::Null);
    let alone = |key: &str, value: &Value| {
        let mut doc = serde_json::Map::new();
        doc.insert("ociVersion".into(), version.clone());
        doc.insert(key.into(), value.clone());
        crate::parse_config(Value::Object(doc).to_string().as_bytes())
    };
    let keys: Vec<String> = obj.keys().cloned().collect();
    for key in keys {
        // process and linux hold many independent fields: one level down.
        if key == "process" || key == "linux" {
            if let Some(sect) = obj.get_mut(&key).and_then(|l| l.as_object_mut()) {
                let sub: Vec<String> = sect.keys().cloned().collect();
                for k in sub {
                    let mut one = serde_json::Map::new();
                    one.insert(k.clone(), sect[&k].clone());
                    if key == "process" {
                        // The fields process needs to parse at all.
                        for (req, v) in [("cwd", "/"), ("args", "")] {
                            if k != req {
                                let v = if req == "args" {
                                    serde_json::json!(["x"])
                                } else {
                                    Value::from(v)
                                };
                                one.insert(req.into(), v);
                            }
                        }
                    }
                    if let Err(e) = alone(&key, &Value::Object(one)) {
                        out.push_err(e);
                        sect.remove(&k);
                    }
                }
                continue;
            }
        }
        if let Err(e) = alone(&key, &obj[&key]) {
            out.push_err(e);
            obj.remove(&key);
        }
    }
    match crate::parse_config(v.to_string().as_bytes()) {
        Ok(s) => Some(s),
        Err(e) => {
            // A whole that fails where no part did (ociVersion itself).
            out.push_err(e);
            None
        }
    }
}

/// `process.rlimits[0].type` -> `/process/rlimits/0/type`; a key holding a
/// dot (`linux.sysctl.net.ipv4.ip_forward`) keeps it after the first known
/// map (sysctl, annotations, netDevices, timeOffsets); `~` and `/` are
/// escaped as RFC 6901 says.
pub fn pointer(field: &str) -> String {
    if field.is_empty() || field == "invalid JSON" {
        return String::new();
    }
    let mut out = String::new();
    let mut rest = field;
    while !rest.is_empty() {
        // A map whose keys may hold dots: the rest up to the next "." that
        // starts a known sub-field is the key; for these maps, the key is
        // the remainder unless a later known sub-field follows.
        let (seg, tail) = match rest.find(['.', '[']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        push_seg(&mut out, seg);
        rest = tail;
        if ["sysctl", "annotations", "netDevices", "timeOffsets"].contains(&seg) {
            if let Some(key) = rest.strip_prefix('.') {
                // netDevices.<name>.name: the last ".name" is a sub-field.
                let (k, sub) = match (seg, key.rsplit_once('.')) {
                    ("netDevices", Some((k, "name"))) => (k, Some("name")),
                    _ => (key, None),
                };
                push_seg(&mut out, k);
                if let Some(s) = sub {
                    push_seg(&mut out, s);
                }
                return out;
            }
        }
        if let Some(r) = rest.strip_prefix('[') {
            let (idx, after) = r.split_once(']').unwrap_or((r, ""));
            push_seg(&mut out, idx);
            rest = after;
        }
        rest = rest.strip_prefix('.').unwrap_or(rest);
    }
    out
}

fn push_seg(out: &mut String, seg: &str) {
    if seg.is_empty() {
        return;
    }
    out.push('/');
    out.push_str(&seg.replace('~', "~0").replace('/', "~1"));
}

#[cfg(test)]
mod tests {
    use super::*;
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
    }
}
