//! Every number husk shares with libseccomp and the kernel, checked
//! against the installed headers (Debian's libseccomp-dev and
//! linux-libc-dev). The headers are read as text at test time, so building
//! husk needs neither; a value copied wrong, or a new constant nobody
//! listed, fails here instead of as a filter that does something else.

use crate::abi;
use crate::ffi::ArgCmp;
use std::collections::HashMap;

/// The headers, the kernel's first: seccomp.h includes linux/audit.h
/// (with linux/elf-em.h) and linux/seccomp.h before its own
/// `#ifndef X #define X` fallbacks, so the first definition of a name is
/// the one a compiler would use. linux/filter.h and linux/bpf_common.h give
/// struct sock_filter and BPF_MAXINSNS.
const HEADERS: [(&str, &str); 7] = [
    ("/usr/include/linux/elf-em.h", "linux-libc-dev"),
    ("/usr/include/linux/audit.h", "linux-libc-dev"),
    ("/usr/include/linux/bpf_common.h", "linux-libc-dev"),
    ("/usr/include/linux/filter.h", "linux-libc-dev"),
    ("/usr/include/linux/seccomp.h", "linux-libc-dev"),
    ("/usr/include/seccomp.h", "libseccomp-dev"),
    ("/usr/include/seccomp-syscalls.h", "libseccomp-dev"),
];

/// `(Rust name, header expression, value)`: the header expression is the
/// constant's own name unless given (`= "SCMP_ACT_ERRNO(0)"`).
macro_rules! abi_table {
    ($($name:ident $(= $expr:literal)?),* $(,)?) => {
        [$((
            stringify!($name),
            abi_table!(@expr $name $($expr)?),
            abi::$name as i128,
        )),*]
    };
    (@expr $name:ident) => { stringify!($name) };
    (@expr $name:ident $expr:literal) => { $expr };
}

/// Every numeric constant of the crate (see `every_const_is_checked`).
const ABI: &[(&str, &str, i128)] = &abi_table![
    SCMP_CMP_NE,
    SCMP_CMP_LT,
    SCMP_CMP_LE,
    SCMP_CMP_EQ,
    SCMP_CMP_GE,
    SCMP_CMP_GT,
    SCMP_CMP_MASKED_EQ,
    SCMP_FLTATR_CTL_NNP,
    SCMP_ACT_KILL_PROCESS,
    SCMP_ACT_KILL_THREAD,
    SCMP_ACT_TRAP,
    SCMP_ACT_ERRNO = "SCMP_ACT_ERRNO(0)",
    SCMP_ACT_TRACE = "SCMP_ACT_TRACE(0)",
    SCMP_ACT_LOG,
    SCMP_ACT_ALLOW,
    SCMP_ACT_NOTIFY,
    NR_SCMP_ERROR = "__NR_SCMP_ERROR",
    SECCOMP_SET_MODE_FILTER,
    SECCOMP_FILTER_FLAG_TSYNC,
    SECCOMP_FILTER_FLAG_LOG,
    SECCOMP_FILTER_FLAG_SPEC_ALLOW,
    SECCOMP_FILTER_FLAG_NEW_LISTENER,
    SECCOMP_FILTER_FLAG_TSYNC_ESRCH,
    SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
    SECCOMP_RET_DATA,
    BPF_MAXINSNS,
    SOCK_FILTER_SIZE = "sizeof(struct sock_filter)",
];

/// Constants that are not numbers shared with C, and why.
const NOT_ABI: &[(&str, &str)] = &[
    ("LIB_NAMES", "libseccomp's file names"),
    (
        "KNOWN_FLAGS",
        "names and values checked in known_names_have_the_headers_values",
    ),
    (
        "KNOWN_ACTIONS",
        "names checked in known_names_have_the_headers_values",
    ),
    (
        "KNOWN_OPERATORS",
        "names checked in known_names_have_the_headers_values",
    ),
    (
        "KNOWN_ARCHES",
        "names checked in known_names_have_the_headers_values",
    ),
    ("CACHE_DIR", "husk's own cache"),
    ("CACHE_MAGIC", "husk's own cache"),
    ("CACHE_MAX", "husk's own cache"),
];

/// What the headers define: object-like and function-like macros, enum
/// members (as object-like macros of their value) and structs.
#[derive(Default)]
struct Headers {
    macros: HashMap<String, Macro>,
    structs: HashMap<String, Vec<Field>>,
}

struct Macro {
    params: Option<Vec<String>>,
    body: Vec<String>,
}

struct Field {
    ty: String,
    name: String,
    /// The array length's expression, "1" for a scalar.
    count: String,
}

impl Headers {
    fn read() -> Headers {
        let mut h = Headers::default();
        for (path, package) in HEADERS {
            let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
                panic!(
                    "{path}: {e}: these tests need Debian's {package} \
                     (apt-get install {package})"
                )
            });
            h.add(&text);
        }
        h
    }

    fn add(&mut self, text: &str) {
        let text = strip_comments(&text.replace("\\\n", " "));
        for line in text.lines() {
            let directive = line.trim().strip_prefix('#').map(str::trim_start);
            if let Some(def) = directive.and_then(|d| d.strip_prefix("define")) {
                self.add_define(def);
            }
        }
        for (kind, name, body) in blocks(&text) {
            match kind {
                "enum" => self.add_enum(body),
                _ => {
                    self.structs
                        .entry(name.to_string())
                        .or_insert_with(|| fields(body));
                }
            }
        }
    }

    fn add_define(&mut self, def: &str) {
        let def = def.trim_start();
        let name_end = def
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(def.len());
        let (name, rest) = def.split_at(name_end);
        // A function-like macro has its '(' right after the name.
        let (params, body) = match rest.strip_prefix('(') {
            Some(r) => {
                let (p, b) = r.split_once(')').expect("a macro's parameter list ends");
                let p = p.split(',').map(|s| s.trim().to_string()).collect();
                (Some(p), b)
            }
            None => (None, rest),
        };
        let m = Macro {
            params,
            body: tokens(body),
        };
        self.macros.entry(name.to_string()).or_insert(m);
    }

    /// Members count up from the last explicit value, as in C. Kept as
    /// expressions, evaluated only when asked for.
    fn add_enum(&mut self, body: &str) {
        let mut prev: Option<String> = None;
        for member in body.split(',').map(str::trim).filter(|m| !m.is_empty()) {
            let (name, value) = match (member.split_once('='), &prev) {
                (Some((n, v)), _) => (n.trim(), tokens(v)),
                (None, Some(p)) => (member, vec![p.clone(), "+".into(), "1".into()]),
                (None, None) => (member, vec!["0".into()]),
            };
            prev = Some(name.to_string());
            let m = Macro {
                params: None,
                body: value,
            };
            self.macros.entry(name.to_string()).or_insert(m);
        }
    }

    /// The value of a C constant expression over these macros.
    fn eval(&self, expr: &str) -> i128 {
        let toks = self.expand(&tokens(expr), 0);
        let mut p = Parser { toks: &toks, at: 0 };
        let v = p.or();
        assert_eq!(p.at, toks.len(), "{expr}: cannot evaluate {toks:?}");
        v
    }

    /// Replaces macros by their bodies, and `sizeof(struct x)` by its size.
    fn expand(&self, toks: &[String], depth: usize) -> Vec<String> {
        assert!(depth < 32, "macro expansion too deep: {toks:?}");
        let mut out = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            let t = &toks[i];
            i += 1;
            if t == "sizeof" {
                let [open, kw, name, close] = &toks[i..i + 4] else {
                    unreachable!()
                };
                assert!(
                    open == "(" && kw == "struct" && close == ")",
                    "sizeof {toks:?}"
                );
                out.push(self.layout(name).0.to_string());
                i += 4;
                continue;
            }
            let Some(m) = self.macros.get(t) else {
                out.push(t.clone());
                continue;
            };
            let body = match &m.params {
                None => m.body.clone(),
                Some(params) => {
                    let (args, end) = call_args(toks, i, t);
                    i = end;
                    assert_eq!(args.len(), params.len(), "{t}: argument count");
                    let mut body = Vec::new();
                    for b in &m.body {
                        match params.iter().position(|p| p == b) {
                            Some(k) => body.extend(args[k].iter().cloned()),
                            None => body.push(b.clone()),
                        }
                    }
                    body
                }
            };
            out.push("(".into());
            out.extend(self.expand(&body, depth + 1));
            out.push(")".into());
        }
        out
    }

    /// A struct's size and alignment, and its fields' offsets, by C's rules
    /// for x86_64 and the other LP64 targets husk builds for.
    fn layout(&self, name: &str) -> (usize, usize, Vec<(String, usize)>) {
        let fields = self
            .structs
            .get(name)
            .unwrap_or_else(|| panic!("struct {name} is not in the headers"));
        let (mut size, mut align, mut offsets) = (0usize, 1, Vec::new());
        for f in fields {
            let (fsize, falign) = self.type_layout(&f.ty);
            size = size.next_multiple_of(falign);
            offsets.push((f.name.clone(), size));
            size += fsize * usize::try_from(self.eval(&f.count)).expect("an array length");
            align = align.max(falign);
        }
        (size.next_multiple_of(align), align, offsets)
    }

    fn type_layout(&self, ty: &str) -> (usize, usize) {
        let scalar = |n: usize| (n, n);
        match ty {
            _ if ty.ends_with('*') => scalar(std::mem::size_of::<usize>()),
            "__u8" | "__s8" | "char" | "unsigned char" => scalar(1),
            "__u16" | "__s16" | "unsigned short" => scalar(2),
            "__u32" | "__s32" | "int" | "unsigned int" => scalar(4),
            "__u64" | "__s64" | "uint64_t" | "scmp_datum_t" => scalar(8),
            _ if ty.starts_with("enum ") => scalar(4),
            _ => match ty.strip_prefix("struct ") {
                Some(s) => {
                    let (size, align, _) = self.layout(s);
                    (size, align)
                }
                None => panic!("unknown C type {ty:?}"),
            },
        }
    }
}

fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("/*") {
        out.push_str(&rest[..i]);
        rest = rest[i..].split_once("*/").map_or("", |(_, r)| r);
        out.push(' ');
    }
    out.push_str(rest);
    out.lines()
        .map(|l| l.split_once("//").map_or(l, |(code, _)| code))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `enum NAME { ... };` and `struct NAME { ... };` definitions: kind, name,
/// body.
fn blocks(text: &str) -> Vec<(&'static str, &str, &str)> {
    let mut out = Vec::new();
    for kind in ["enum", "struct"] {
        let mut rest = text;
        while let Some(i) = rest.find(&format!("{kind} ")) {
            let inside_a_word = rest[..i]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
            rest = &rest[i + kind.len() + 1..];
            if inside_a_word {
                continue;
            }
            let head_end = rest.find(['{', ';', ')', ',']).unwrap_or(rest.len());
            if !rest[head_end..].starts_with('{') {
                continue; // a use of the type, not its definition
            }
            let name = rest[..head_end].trim();
            let close = rest.find('}').expect("a block ends");
            out.push((kind, name, &rest[head_end + 1..close]));
            rest = &rest[close..];
        }
    }
    out
}

/// A struct's members: `TYPE NAME;` or `TYPE NAME[N];`. Declarations of
/// other forms (nested unions, bit fields) are left out: a struct that has
/// them is one husk does not share.
fn fields(body: &str) -> Vec<Field> {
    body.split(';')
        .map(|d| d.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter_map(|d| {
            let (decl, count) = match d.strip_suffix(']').and_then(|d| d.split_once('[')) {
                Some((decl, n)) => (decl.trim().to_string(), n.trim().to_string()),
                None => (d, "1".to_string()),
            };
            let (ty, name) = decl.split_at(decl.rfind([' ', '*'])? + 1);
            Some(Field {
                ty: ty.trim().to_string(),
                name: name.to_string(),
                count,
            })
        })
        .collect()
}

/// Identifiers, numbers and the operators of constant expressions.
fn tokens(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        let mut end = i + c.len_utf8();
        if c.is_ascii_alphanumeric() || c == '_' {
            while let Some(&(j, d)) = chars.peek() {
                if !(d.is_ascii_alphanumeric() || d == '_') {
                    break;
                }
                end = j + d.len_utf8();
                chars.next();
            }
        } else if (c == '<' || c == '>') && chars.peek().map(|&(_, d)| d) == Some(c) {
            chars.next();
            end += 1;
        }
        out.push(s[i..end].to_string());
    }
    out
}

/// The arguments of a function-like macro called at `toks[at]` (its '('),
/// split at top-level commas; and where the call ends.
fn call_args(toks: &[String], at: usize, name: &str) -> (Vec<Vec<String>>, usize) {
    assert_eq!(
        toks.get(at).map(String::as_str),
        Some("("),
        "{name} without arguments"
    );
    let (mut args, mut cur, mut depth) = (Vec::new(), Vec::new(), 0);
    for (i, t) in toks.iter().enumerate().skip(at + 1) {
        match t.as_str() {
            ")" if depth == 0 => {
                args.push(cur);
                return (args, i + 1);
            }
            "," if depth == 0 => args.push(std::mem::take(&mut cur)),
            _ => {
                depth += i32::from(t == "(") - i32::from(t == ")");
                cur.push(t.clone());
            }
        }
    }
    panic!("{name}: unclosed argument list")
}

/// C's `|`, `^`, `&`, shifts, `+ -`, `*`, unary `- ~` and parentheses over
/// integer literals (with their U/L suffixes).
struct Parser<'a> {
    toks: &'a [String],
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&str> {
        self.toks.get(self.at).map(String::as_str)
    }

    fn binary(&mut self, ops: &[&str], next: fn(&mut Self) -> i128) -> i128 {
        let mut v = next(self);
        while let Some(op) = self.peek().filter(|t| ops.contains(t)) {
            let op = op.to_string();
            self.at += 1;
            let r = next(self);
            v = match op.as_str() {
                "|" => v | r,
                "^" => v ^ r,
                "&" => v & r,
                "<<" => v << r,
                ">>" => v >> r,
                "+" => v + r,
                "-" => v - r,
                _ => v * r,
            };
        }
        v
    }

    fn or(&mut self) -> i128 {
        self.binary(&["|"], Self::xor)
    }
    fn xor(&mut self) -> i128 {
        self.binary(&["^"], Self::and)
    }
    fn and(&mut self) -> i128 {
        self.binary(&["&"], Self::shift)
    }
    fn shift(&mut self) -> i128 {
        self.binary(&["<<", ">>"], Self::sum)
    }
    fn sum(&mut self) -> i128 {
        self.binary(&["+", "-"], Self::product)
    }
    fn product(&mut self) -> i128 {
        self.binary(&["*"], Self::unary)
    }

    fn unary(&mut self) -> i128 {
        let t = self.peek().expect("an operand").to_string();
        self.at += 1;
        match t.as_str() {
            "-" => -self.unary(),
            "~" => !self.unary(),
            "(" => {
                let v = self.or();
                assert_eq!(self.peek(), Some(")"), "unbalanced parentheses");
                self.at += 1;
                v
            }
            lit => literal(lit),
        }
    }
}

/// 0x7fff0000U, 1UL, 0755, 4096.
fn literal(t: &str) -> i128 {
    let digits = t.trim_end_matches(['u', 'U', 'l', 'L']);
    let (digits, radix) = match digits.strip_prefix("0x").or(digits.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None if digits.len() > 1 && digits.starts_with('0') => (&digits[1..], 8),
        None => (digits, 10),
    };
    i128::from_str_radix(digits, radix)
        .unwrap_or_else(|_| panic!("{t:?} is not a number (an undefined macro?)"))
}

fn check(h: &Headers, what: &str, header: &str, ours: i128) -> Option<String> {
    let theirs = h.eval(header);
    (theirs != ours)
        .then(|| format!("{what}: husk has {ours:#x}, the headers' {header} is {theirs:#x}"))
}

fn assert_none_wrong(wrong: Vec<String>) {
    assert!(
        wrong.is_empty(),
        "values differ from the headers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn constants_equal_the_headers() {
    let h = Headers::read();
    let wrong = ABI
        .iter()
        .filter_map(|(name, header, ours)| check(&h, &format!("abi::{name}"), header, *ours))
        .collect();
    assert_none_wrong(wrong);
}

/// The names husk accepts in a profile map to the values the headers give
/// them, and every one of them exists there.
#[test]
fn known_names_have_the_headers_values() {
    let h = Headers::read();
    let mut wrong = Vec::new();
    for (name, bit) in crate::KNOWN_FLAGS {
        wrong.extend(check(&h, name, name, bit.into()));
    }
    for name in crate::KNOWN_ACTIONS {
        let ours = crate::compile::action(name, Some(5), "test").unwrap();
        let m = h.macros.get(name);
        let m = m.unwrap_or_else(|| panic!("{name} is not in the headers"));
        let header = match m.params {
            Some(_) => format!("{name}(5)"),
            None => name.to_string(),
        };
        wrong.extend(check(&h, name, &header, ours.into()));
    }
    for name in crate::KNOWN_OPERATORS {
        let ours = crate::compile::operator(name, "test").unwrap();
        wrong.extend(check(&h, name, name, ours.into()));
    }
    // Resolved by libseccomp at run time from the lowercased name: the
    // token it gives must be the header's.
    for name in crate::KNOWN_ARCHES {
        let ours = crate::compile::arch(name, "test").unwrap_or_else(|e| panic!("{e}"));
        wrong.extend(check(&h, name, name, ours.into()));
    }
    assert_none_wrong(wrong);
}

/// ArgCmp is passed to libseccomp as an array of struct scmp_arg_cmp.
#[test]
fn arg_cmp_has_the_layout_of_scmp_arg_cmp() {
    let h = Headers::read();
    let (size, align, offsets) = h.layout("scmp_arg_cmp");
    assert_eq!(std::mem::size_of::<ArgCmp>(), size);
    assert_eq!(std::mem::align_of::<ArgCmp>(), align);
    let ours = [
        ("arg", std::mem::offset_of!(ArgCmp, arg)),
        ("op", std::mem::offset_of!(ArgCmp, op)),
        ("datum_a", std::mem::offset_of!(ArgCmp, datum_a)),
        ("datum_b", std::mem::offset_of!(ArgCmp, datum_b)),
    ];
    let ours: Vec<_> = ours.iter().map(|(n, o)| (n.to_string(), *o)).collect();
    assert_eq!(ours, offsets, "field names and offsets");
}

/// Each `const` item in the crate's sources is in `ABI` (so checked above)
/// or in `NOT_ABI`: a constant added without a check fails here.
#[test]
fn every_const_is_checked() {
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let mut unlisted = Vec::new();
    let mut seen = Vec::new();
    for path in rust_files(std::path::Path::new(src)) {
        let file = path.file_name().unwrap().to_string_lossy();
        if file == "tests.rs" || file == "header_tests.rs" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            let Some(k) = words.iter().position(|w| *w == "const") else {
                continue;
            };
            // `const NAME: TYPE = ...`, possibly after pub / pub(crate).
            if !words[..k].iter().all(|w| w.starts_with("pub")) {
                continue;
            }
            let Some(name) = words.get(k + 1).and_then(|w| w.strip_suffix(':')) else {
                continue;
            };
            seen.push(name.to_string());
            let listed =
                ABI.iter().any(|(n, ..)| *n == name) || NOT_ABI.iter().any(|(n, _)| *n == name);
            if !listed {
                unlisted.push(format!("{}: {name}", path.display()));
            }
        }
    }
    assert!(
        unlisted.is_empty(),
        "constants neither checked against the headers nor listed as husk's own \
         (move a number shared with C to abi.rs and list it in header_tests::ABI; \
         list any other in NOT_ABI):\n{}",
        unlisted.join("\n")
    );
    let stale: Vec<_> = NOT_ABI
        .iter()
        .filter(|(n, _)| !seen.iter().any(|s| s == n))
        .collect();
    assert!(
        stale.is_empty(),
        "NOT_ABI names constants that are gone: {stale:?}"
    );
}

fn rust_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out
}

/// The parser itself, on the forms the headers use.
#[test]
fn the_header_parser_reads_the_forms_in_use() {
    let mut h = Headers::default();
    h.add(
        "#define A 0x7fff0000U /* a comment */\n\
         #define B (1UL << 3)\n\
         #define F(x) (0x00050000U | ((x) & 0x0000ffffU))\n\
         #define G\t\t(A|\\\n B)\n\
         #define N -1\n\
         enum e {\n _MIN = 0,\n ONE = 1, // one\n TWO,\n _MAX,\n};\n\
         struct s { __u16 code; __u8 jt; __u8 jf; __u32 k; };\n\
         struct t { int nr; __u64 args[6]; struct s f; };\n",
    );
    assert_eq!(h.eval("A"), 0x7fff_0000);
    assert_eq!(h.eval("B"), 8);
    assert_eq!(h.eval("F(5)"), 0x0005_0005);
    assert_eq!(h.eval("F(0x10005)"), 0x0005_0005);
    assert_eq!(h.eval("G"), 0x7fff_0008);
    assert_eq!(h.eval("N"), -1);
    assert_eq!((h.eval("TWO"), h.eval("_MAX")), (2, 3));
    assert_eq!(h.eval("sizeof(struct s)"), 8);
    let (size, align, offsets) = h.layout("t");
    assert_eq!((size, align), (64, 8));
    assert_eq!(offsets[1], ("args".to_string(), 8));
    assert_eq!(offsets[2], ("f".to_string(), 56));
}
