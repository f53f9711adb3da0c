//! Holds README.md's "Where each config.json field is handled" table (in its
//! Layout section) to the code, so that it cannot drift:
//!
//! - every file a row names exists (paths from the repository's root) and
//!   mentions the row's field, by its JSON name or its Rust name;
//! - every row names a real config.json field;
//! - every config.json field of the config types (`pub` fields of the
//!   `pub struct`s in crates/spec/src/types.rs and linux_fields.rs, reached
//!   from `Spec`) falls under some row, or is on [`ALLOWLIST`] with a reason.
//!
//! The parse of the types is deliberately simple (one field per line,
//! `#[serde(rename = "...")]` honoured, `rename_all = "camelCase"`
//! assumed and checked); anything it does not understand fails the test
//! with a request to teach it, rather than being skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Config fields no file applies, each with the reason.
const ALLOWLIST: &[(&str, &str)] = &[
    (
        "process.user.username",
        "Windows only in the runtime-spec; husk parses and ignores it",
    ),
    (
        "linux.mountLabel",
        "parsed and passed to rootfs::mask_paths, which ignores it: no SELinux mount labels yet",
    ),
];

const HEADING: &str = "### Where each config.json field is handled";
const HEADER: &str = "| field | checked in | applied in |";
/// The files the config types are read from (relative to this crate).
const TYPE_FILES: &[&str] = &["src/types.rs", "src/linux_fields.rs"];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Row {
    line: usize,
    field: String,
    checked: Vec<String>,
    applied: Vec<String>,
}

/// One cell: `—` (nothing) or a comma-separated list of `backticked` items.
fn cell(text: &str, line: usize, what: &str) -> Result<Vec<String>, String> {
    let text = text.trim();
    if text == "—" {
        return Ok(Vec::new());
    }
    text.split(", ")
        .map(|item| {
            item.strip_prefix('`')
                .and_then(|i| i.strip_suffix('`'))
                .filter(|i| !i.is_empty() && !i.contains('`'))
                .map(str::to_string)
                .ok_or_else(|| {
                    format!(
                        "README.md:{line}: the {what} cell {text:?} must be `—` or a list of \
                         `backticked` items separated by \", \""
                    )
                })
        })
        .collect()
}

/// The table, from the subsection of README.md's Layout section.
fn table(readme: &str) -> Vec<Row> {
    let lines: Vec<&str> = readme.lines().collect();
    let layout = lines
        .iter()
        .position(|l| *l == "## Layout")
        .expect("README.md has no \"## Layout\" section");
    let end = lines[layout + 1..]
        .iter()
        .position(|l| l.starts_with("## "))
        .map_or(lines.len(), |i| layout + 1 + i);
    let heading = lines[layout..end]
        .iter()
        .position(|l| *l == HEADING)
        .map(|i| layout + i)
        .unwrap_or_else(|| panic!("README.md's Layout section has no {HEADING:?} subsection"));
    let start = lines[heading..end]
        .iter()
        .position(|l| l.starts_with('|'))
        .map(|i| heading + i)
        .unwrap_or_else(|| panic!("README.md: no table under {HEADING:?}"));
    assert_eq!(
        lines[start],
        HEADER,
        "README.md:{}: the table's header must be {HEADER:?}",
        start + 1
    );
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (i, l) in lines.iter().enumerate().take(end).skip(start + 2) {
        if !l.starts_with('|') {
            break;
        }
        let line = i + 1;
        let cells: Vec<&str> = l.split('|').collect();
        // "| a | b | c |" splits into "", a, b, c, "".
        if cells.len() != 5 || !cells[0].is_empty() || !cells[4].trim().is_empty() {
            errors.push(format!(
                "README.md:{line}: a row must be \"| field | checked in | applied in |\": {l:?}"
            ));
            continue;
        }
        let parsed = (
            cell(cells[1], line, "field"),
            cell(cells[2], line, "checked in"),
            cell(cells[3], line, "applied in"),
        );
        match parsed {
            (Ok(f), Ok(checked), Ok(applied)) if f.len() == 1 => rows.push(Row {
                line,
                field: f.into_iter().next().unwrap_or_default(),
                checked,
                applied,
            }),
            (Ok(_), Ok(_), Ok(_)) => errors.push(format!(
                "README.md:{line}: the field cell must name exactly one `field`"
            )),
            (f, c, a) => errors.extend([f.err(), c.err(), a.err()].into_iter().flatten()),
        }
    }
    assert!(errors.is_empty(), "\n{}\n", errors.join("\n"));
    assert!(
        !rows.is_empty(),
        "README.md: the table under {HEADING:?} has no rows"
    );
    rows
}

/// A `pub` field of a config struct.
struct Field {
    json: String,
    rust: String,
    typ: String,
}

/// `snake_case` -> `camelCase` (serde's rename_all = "camelCase").
fn camel(snake: &str) -> String {
    let mut out = String::new();
    let mut up = false;
    for c in snake.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.extend(c.to_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `rename = "X"` in the attributes of one field.
fn rename(attrs: &str) -> Option<String> {
    let at = attrs.find("rename = \"")? + "rename = \"".len();
    let rest = &attrs[at..];
    Some(rest[..rest.find('"')?].to_string())
}

/// The `pub struct`s of the type files, by name, with their fields.
fn structs() -> BTreeMap<String, Vec<Field>> {
    let mut out = BTreeMap::new();
    for file in TYPE_FILES {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // Test modules hold no config types.
        let text = text.split("#[cfg(test)]").next().unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let mut i = 0;
        while i < lines.len() {
            let Some(name) = lines[i]
                .strip_prefix("pub struct ")
                .and_then(|r| r.strip_suffix(" {"))
            else {
                i += 1;
                continue;
            };
            let attrs: Vec<&str> = lines[..i]
                .iter()
                .rev()
                .take_while(|l| l.starts_with('#') || l.starts_with("///"))
                .copied()
                .collect();
            assert!(
                attrs
                    .iter()
                    .any(|a| a.contains("rename_all = \"camelCase\"")),
                "{file}:{}: struct {name} is not rename_all = \"camelCase\": teach \
                 crates/spec/tests/readme_fields.rs its naming",
                i + 1
            );
            let mut fields = Vec::new();
            let mut pending = String::new();
            i += 1;
            while i < lines.len() && lines[i] != "}" {
                let l = lines[i].trim();
                if let Some((rust, typ)) = l.strip_prefix("pub ").and_then(|r| r.split_once(": ")) {
                    assert!(
                        !pending.contains("flatten"),
                        "{file}:{}: #[serde(flatten)] on {name}::{rust}: teach \
                         crates/spec/tests/readme_fields.rs to inline it",
                        i + 1
                    );
                    if !pending.contains("serde(skip)") {
                        fields.push(Field {
                            json: rename(&pending).unwrap_or_else(|| camel(rust)),
                            rust: rust.to_string(),
                            typ: typ.trim_end_matches(',').to_string(),
                        });
                    }
                    pending.clear();
                } else if l.split_once(": ").is_some_and(|(n, _)| {
                    !n.is_empty() && n.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                }) {
                    panic!(
                        "{file}:{}: {name} has a field that is not `pub <name>: <type>` on one \
                         line ({l:?}): teach crates/spec/tests/readme_fields.rs to read it",
                        i + 1
                    );
                } else {
                    pending.push_str(l);
                    pending.push('\n');
                }
                i += 1;
            }
            assert!(!fields.is_empty(), "{file}: struct {name}: no fields read");
            out.insert(name.to_string(), fields);
        }
    }
    assert!(
        out.contains_key("Spec"),
        "no `pub struct Spec` in {TYPE_FILES:?}"
    );
    out
}

/// Every config.json field, as a dotted JSON path (`linux.resources.memory.limit`;
/// list elements and map keys leave no segment), with its Rust name and
/// whether it holds further fields.
fn config_fields() -> BTreeMap<String, (String, bool)> {
    fn walk(
        structs: &BTreeMap<String, Vec<Field>>,
        name: &str,
        prefix: &str,
        seen: &mut Vec<String>,
        out: &mut BTreeMap<String, (String, bool)>,
    ) {
        assert!(
            !seen.iter().any(|s| s == name),
            "the config types nest {name} in itself ({}): teach \
             crates/spec/tests/readme_fields.rs about recursion",
            seen.join(" > ")
        );
        seen.push(name.to_string());
        for f in &structs[name] {
            let path = if prefix.is_empty() {
                f.json.clone()
            } else {
                format!("{prefix}.{}", f.json)
            };
            let inner: Vec<&str> = f
                .typ
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|t| structs.contains_key(*t))
                .collect();
            assert!(
                inner.len() <= 1,
                "{name}::{} ({}) names several config structs: teach \
                 crates/spec/tests/readme_fields.rs to tell them apart",
                f.rust,
                f.typ
            );
            out.insert(path.clone(), (f.rust.clone(), !inner.is_empty()));
            if let Some(inner) = inner.first() {
                walk(structs, inner, &path, seen, out);
            }
        }
        seen.pop();
    }
    let structs = structs();
    let mut out = BTreeMap::new();
    walk(&structs, "Spec", "", &mut Vec::new(), &mut out);
    out
}

/// `field` is `row` or lies below it.
fn under(field: &str, row: &str) -> bool {
    field == row || field.strip_prefix(row).is_some_and(|r| r.starts_with('.'))
}

#[test]
fn readme_field_table_matches_the_code() {
    let root = repo_root();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("read README.md");
    let rows = table(&readme);
    let fields = config_fields();
    let mut errors = Vec::new();

    let mut seen = BTreeSet::new();
    for row in &rows {
        let at = format!("README.md:{} (row `{}`)", row.line, row.field);
        if !seen.insert(&row.field) {
            errors.push(format!("{at}: the field has another row above; merge them"));
        }
        let Some((rust, _)) = fields.get(&row.field) else {
            errors.push(format!(
                "{at}: `{}` is not a config.json field of the types in crates/spec/src \
                 (renamed or removed?): fix the row's field or drop the row",
                row.field
            ));
            continue;
        };
        if row.checked.is_empty() && row.applied.is_empty() {
            errors.push(format!(
                "{at}: names no file; name one, or move the field to ALLOWLIST in \
                 crates/spec/tests/readme_fields.rs with a reason"
            ));
        }
        let json = row.field.rsplit('.').next().unwrap_or_default();
        for (column, files) in [("checked in", &row.checked), ("applied in", &row.applied)] {
            for file in files {
                let path = root.join(file);
                let text = match std::fs::read_to_string(&path) {
                    Ok(t) => t,
                    Err(e) => {
                        errors.push(format!(
                            "{at}: {column} `{file}`: {e}: the file moved or was renamed? \
                             put its new path in the row"
                        ));
                        continue;
                    }
                };
                if !text.contains(json) && !text.contains(rust.as_str()) {
                    let names = if json == rust {
                        format!("`{json}`")
                    } else {
                        format!("either `{json}` or `{rust}`")
                    };
                    errors.push(format!(
                        "{at}: {column} `{file}` does not mention {names}: the handling moved \
                         elsewhere? name the file that handles it now"
                    ));
                }
            }
        }
    }

    for (field, reason) in ALLOWLIST {
        if !fields.contains_key(*field) {
            errors.push(format!(
                "ALLOWLIST: `{field}` ({reason}) is not a config.json field any more: remove it"
            ));
        }
        if let Some(row) = rows.iter().find(|r| under(field, &r.field)) {
            errors.push(format!(
                "ALLOWLIST: `{field}` is also covered by README.md:{} (row `{}`): if it is \
                 handled now, remove it from ALLOWLIST; if not, make the row more specific",
                row.line, row.field
            ));
        }
    }

    for (field, (rust, nested)) in &fields {
        if *nested {
            continue; // covered through the fields it holds
        }
        let covered = rows.iter().any(|r| under(field, &r.field))
            || ALLOWLIST.iter().any(|(a, _)| under(field, a));
        if !covered {
            errors.push(format!(
                "config.json field `{field}` (Rust `{rust}`) is in no row of README.md's \
                 {HEADING:?} table: add a row naming the files that check and apply it, or \
                 add it to ALLOWLIST in crates/spec/tests/readme_fields.rs with a reason"
            ));
        }
    }

    assert!(
        errors.is_empty(),
        "README.md's field table has drifted from the code:\n  {}\n",
        errors.join("\n  ")
    );
}

/// The parse of the types is what the coverage check stands on: it must
/// find the fields everyone knows, with their JSON names.
#[test]
fn the_types_parse_finds_known_fields() {
    let fields = config_fields();
    for (path, rust) in [
        ("ociVersion", "oci_version"),
        ("process.execCPUAffinity", "exec_cpu_affinity"),
        ("process.execCPUAffinity.final", "final_"),
        ("process.user.additionalGids", "additional_gids"),
        (
            "linux.resources.blockIO.throttleReadIOPSDevice.rate",
            "rate",
        ),
        (
            "linux.resources.memory.disableOOMKiller",
            "disable_oom_killer",
        ),
        ("linux.netDevices.name", "name"),
        ("linux.uidMappings.containerID", "container_id"),
        ("linux.devices.type", "typ"),
        ("hooks.createRuntime.timeout", "timeout"),
        ("linux.intelRdt.closID", "clos_id"),
    ] {
        assert_eq!(
            fields.get(path).map(|(r, _)| r.as_str()),
            Some(rust),
            "{path}"
        );
    }
    assert!(fields.len() > 150, "only {} fields read", fields.len());
}
