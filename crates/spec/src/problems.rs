//! A config's problems as `husk check` reports them (each with the JSON
//! pointer of its field, a severity and one line of reason), shared by the
//! rules (validate.rs, linux_fields.rs) and the collecting parse (check.rs).

use crate::error::SpecError;
use serde::Serialize;

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

/// The problems found so far, and the fields left out because they did
/// not parse (rules that read them stay silent).
#[derive(Debug, Default)]
pub struct Problems(pub Vec<Problem>, pub Vec<String>);

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

/// Whether a rule's problem at `field` follows from a field left out
/// because it did not parse (its second error, or a rule that reads it).
pub(crate) fn follows_from_removed(field: &str, removed: &[String]) -> bool {
    removed.iter().any(|r| {
        let own = field == r
            || field.starts_with(&format!("{r}."))
            || field.starts_with(&format!("{r}["));
        let reads = match r.as_str() {
            "linux.namespaces" | "linux" => [
                "hostname",
                "linux.maskedPaths",
                "linux.readonlyPaths",
                "linux.timeOffsets",
                "linux.uidMappings",
                "linux.netDevices",
            ]
            .iter()
            .any(|d| field == *d || field.starts_with(&format!("{d}."))),
            "root" => field == "root",
            "process" => field.starts_with("process"),
            _ => false,
        };
        own || reads
    })
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
        if [
            "sysctl",
            "annotations",
            "netDevices",
            "timeOffsets",
            "unified",
            "rdma",
        ]
        .contains(&seg)
        {
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
            // [3], or a quoted map key: ["memory.max"]
            let (idx, after) = match r.strip_prefix('"').and_then(|q| q.split_once("\"]")) {
                Some((key, after)) => (key, after),
                None => r.split_once(']').unwrap_or((r, "")),
            };
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
