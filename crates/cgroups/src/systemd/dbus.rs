//! A minimal D-Bus client: enough to call systemd's Manager methods and
//! read their replies and signals, over systemd's private socket
//! (peer-to-peer) or the system bus.
//!
//! - Authentication: SASL EXTERNAL with our uid (its decimal digits, hex
//!   encoded), then BEGIN. No fd passing.
//! - Messages: the D-Bus wire format in little-endian byte order, with the
//!   types systemd's Manager uses (`y b n q i u x t d s o g a ( ) { } v h`).
//!   Every value is aligned to its type's boundary counted from the start of
//!   the message; the body starts 8-aligned, so counting from the start of
//!   the body is the same thing.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

pub const METHOD_CALL: u8 = 1;
pub const METHOD_RETURN: u8 = 2;
pub const ERROR: u8 = 3;
pub const SIGNAL: u8 = 4;

/// Header flag: no reply wanted.
const NO_REPLY_EXPECTED: u8 = 0x1;

/// How long a read waits before [`Conn`] nudges the peer (see there).
const NUDGE_AFTER: Duration = Duration::from_millis(500);

/// A D-Bus value. Arrays carry their element signature so that an empty
/// one can be marshalled.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Byte(u8),
    Bool(bool),
    I16(i16),
    U16(u16),
    I32(i32),
    U32(u32),
    I64(i64),
    U64(u64),
    Double(f64),
    Str(String),
    ObjectPath(String),
    Signature(String),
    UnixFd(u32),
    Array(String, Vec<Value>),
    Struct(Vec<Value>),
    DictEntry(Box<Value>, Box<Value>),
    Variant(Box<Value>),
}

impl Value {
    pub fn str(s: &str) -> Value {
        Value::Str(s.to_string())
    }

    pub fn variant(v: Value) -> Value {
        Value::Variant(Box::new(v))
    }

    /// The value's D-Bus type signature.
    pub fn signature(&self) -> String {
        match self {
            Value::Byte(_) => "y".into(),
            Value::Bool(_) => "b".into(),
            Value::I16(_) => "n".into(),
            Value::U16(_) => "q".into(),
            Value::I32(_) => "i".into(),
            Value::U32(_) => "u".into(),
            Value::I64(_) => "x".into(),
            Value::U64(_) => "t".into(),
            Value::Double(_) => "d".into(),
            Value::Str(_) => "s".into(),
            Value::ObjectPath(_) => "o".into(),
            Value::Signature(_) => "g".into(),
            Value::UnixFd(_) => "h".into(),
            Value::Array(elem, _) => format!("a{elem}"),
            Value::Struct(fields) => {
                let inner: String = fields.iter().map(Value::signature).collect();
                format!("({inner})")
            }
            Value::DictEntry(k, v) => format!("{{{}{}}}", k.signature(), v.signature()),
            Value::Variant(_) => "v".into(),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::ObjectPath(s) | Value::Signature(s) => Some(s),
            Value::Variant(v) => v.as_str(),
            _ => None,
        }
    }
}

/// The alignment of a type, by the first character of its signature.
fn alignment(code: u8) -> usize {
    match code {
        b'y' | b'g' | b'v' => 1,
        b'n' | b'q' => 2,
        b'b' | b'i' | b'u' | b's' | b'o' | b'a' | b'h' => 4,
        _ => 8, // x t d ( {
    }
}

/// Splits the first single complete type off a signature.
fn first_type(sig: &str) -> Result<(&str, &str), String> {
    let b = sig.as_bytes();
    let mut i = 0;
    while b.get(i) == Some(&b'a') {
        i += 1;
    }
    let end = match b.get(i) {
        None => return Err(format!("signature {sig:?} ends inside an array type")),
        Some(&open @ (b'(' | b'{')) => {
            let close = if open == b'(' { b')' } else { b'}' };
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match b.get(j) {
                    None => return Err(format!("unbalanced signature {sig:?}")),
                    Some(c) if *c == b'(' || *c == b'{' => depth += 1,
                    Some(c) if *c == b')' || *c == b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            if *c != close {
                                return Err(format!("unbalanced signature {sig:?}"));
                            }
                            break;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            j + 1
        }
        Some(c) if b"ybnqiuxtdsoghv".contains(c) => i + 1,
        Some(c) => {
            return Err(format!(
                "unknown type {:?} in signature {sig:?}",
                *c as char
            ))
        }
    };
    Ok((&sig[..end], &sig[end..]))
}

/// Marshals values into a buffer, little-endian.
#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    fn pad(&mut self, align: usize) {
        while !self.buf.len().is_multiple_of(align) {
            self.buf.push(0);
        }
    }

    fn u32(&mut self, v: u32) {
        self.pad(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn value(&mut self, v: &Value) {
        match v {
            Value::Byte(b) => self.buf.push(*b),
            Value::Bool(b) => self.u32(u32::from(*b)),
            Value::I16(n) => {
                self.pad(2);
                self.buf.extend_from_slice(&n.to_le_bytes());
            }
            Value::U16(n) => {
                self.pad(2);
                self.buf.extend_from_slice(&n.to_le_bytes());
            }
            Value::I32(n) => {
                self.pad(4);
                self.buf.extend_from_slice(&n.to_le_bytes());
            }
            Value::U32(n) | Value::UnixFd(n) => self.u32(*n),
            Value::I64(n) => {
                self.pad(8);
                self.buf.extend_from_slice(&n.to_le_bytes());
            }
            Value::U64(n) => {
                self.pad(8);
                self.buf.extend_from_slice(&n.to_le_bytes());
            }
            Value::Double(d) => {
                self.pad(8);
                self.buf.extend_from_slice(&d.to_le_bytes());
            }
            Value::Str(s) | Value::ObjectPath(s) => {
                self.u32(s.len() as u32);
                self.buf.extend_from_slice(s.as_bytes());
                self.buf.push(0);
            }
            Value::Signature(s) => {
                self.buf.push(s.len() as u8);
                self.buf.extend_from_slice(s.as_bytes());
                self.buf.push(0);
            }
            Value::Array(elem, items) => {
                self.u32(0);
                let len_at = self.buf.len() - 4;
                // The length excludes the padding before the first element.
                self.pad(alignment(elem.as_bytes().first().copied().unwrap_or(b'y')));
                let start = self.buf.len();
                for item in items {
                    self.value(item);
                }
                let len = (self.buf.len() - start) as u32;
                self.buf[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
            }
            Value::Struct(fields) => {
                self.pad(8);
                for f in fields {
                    self.value(f);
                }
            }
            Value::DictEntry(k, v) => {
                self.pad(8);
                self.value(k);
                self.value(v);
            }
            Value::Variant(inner) => {
                self.value(&Value::Signature(inner.signature()));
                self.value(inner);
            }
        }
    }
}

/// Unmarshals values from a little-endian buffer; `pos` counts from an
/// 8-aligned origin.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len());
        let end = end.ok_or_else(|| format!("message truncated at byte {}", self.pos))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn align(&mut self, a: usize) -> Result<(), String> {
        let pad = (a - self.pos % a) % a;
        self.take(pad).map(|_| ())
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], String> {
        self.align(N)?;
        Ok(self.take(N)?.try_into().expect("N bytes"))
    }

    fn text(&mut self, len: usize) -> Result<String, String> {
        let bytes = self.take(len + 1)?;
        String::from_utf8(bytes[..len].to_vec()).map_err(|_| "a string is not UTF-8".to_string())
    }

    /// Reads every complete type of `sig` in turn.
    pub fn values(&mut self, mut sig: &str) -> Result<Vec<Value>, String> {
        let mut out = Vec::new();
        while !sig.is_empty() {
            let (t, rest) = first_type(sig)?;
            out.push(self.value(t)?);
            sig = rest;
        }
        Ok(out)
    }

    /// Reads one value of the single complete type `t`.
    pub fn value(&mut self, t: &str) -> Result<Value, String> {
        Ok(match t.as_bytes()[0] {
            b'y' => Value::Byte(self.take(1)?[0]),
            b'b' => Value::Bool(u32::from_le_bytes(self.fixed()?) != 0),
            b'n' => Value::I16(i16::from_le_bytes(self.fixed()?)),
            b'q' => Value::U16(u16::from_le_bytes(self.fixed()?)),
            b'i' => Value::I32(i32::from_le_bytes(self.fixed()?)),
            b'u' => Value::U32(u32::from_le_bytes(self.fixed()?)),
            b'h' => Value::UnixFd(u32::from_le_bytes(self.fixed()?)),
            b'x' => Value::I64(i64::from_le_bytes(self.fixed()?)),
            b't' => Value::U64(u64::from_le_bytes(self.fixed()?)),
            b'd' => Value::Double(f64::from_le_bytes(self.fixed()?)),
            b's' | b'o' => {
                let len = u32::from_le_bytes(self.fixed()?) as usize;
                let s = self.text(len)?;
                if t == "o" {
                    Value::ObjectPath(s)
                } else {
                    Value::Str(s)
                }
            }
            b'g' => {
                let len = self.take(1)?[0] as usize;
                Value::Signature(self.text(len)?)
            }
            b'v' => {
                let len = self.take(1)?[0] as usize;
                let sig = self.text(len)?;
                let (one, rest) = first_type(&sig)?;
                if !rest.is_empty() {
                    return Err(format!("variant signature {sig:?} is not one type"));
                }
                Value::Variant(Box::new(self.value(one)?))
            }
            b'a' => {
                let len = u32::from_le_bytes(self.fixed()?) as usize;
                let elem = &t[1..];
                self.align(alignment(elem.as_bytes()[0]))?;
                let end = self.pos + len;
                if end > self.buf.len() {
                    return Err(format!("array of {len} bytes overruns the message"));
                }
                let mut items = Vec::new();
                while self.pos < end {
                    items.push(self.value(elem)?);
                }
                Value::Array(elem.to_string(), items)
            }
            b'(' => {
                self.align(8)?;
                Value::Struct(self.values(&t[1..t.len() - 1])?)
            }
            b'{' => {
                self.align(8)?;
                let mut kv = self.values(&t[1..t.len() - 1])?;
                if kv.len() != 2 {
                    return Err(format!("dict entry {t:?} does not hold two types"));
                }
                let v = kv.pop().expect("two");
                let k = kv.pop().expect("two");
                Value::DictEntry(Box::new(k), Box::new(v))
            }
            c => return Err(format!("unknown type {:?}", c as char)),
        })
    }
}

/// One D-Bus message.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Message {
    pub kind: u8,
    pub flags: u8,
    pub serial: u32,
    pub path: Option<String>,
    pub interface: Option<String>,
    pub member: Option<String>,
    pub error_name: Option<String>,
    pub reply_serial: Option<u32>,
    pub destination: Option<String>,
    pub sender: Option<String>,
    pub body: Vec<Value>,
}

impl Message {
    pub fn method_call(
        destination: Option<&str>,
        path: &str,
        interface: &str,
        member: &str,
        body: Vec<Value>,
    ) -> Self {
        Message {
            kind: METHOD_CALL,
            path: Some(path.into()),
            interface: Some(interface.into()),
            member: Some(member.into()),
            destination: destination.map(Into::into),
            body,
            ..Default::default()
        }
    }

    pub fn signature(&self) -> String {
        self.body.iter().map(Value::signature).collect()
    }

    /// The wire form: fixed header, header fields, padding to 8, body.
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Writer::default();
        for v in &self.body {
            body.value(v);
        }
        let mut fields = Vec::new();
        let mut field = |code: u8, v: Value| {
            fields.push(Value::Struct(vec![Value::Byte(code), Value::variant(v)]));
        };
        let s = |o: &Option<String>| o.clone().map(Value::Str);
        if let Some(p) = &self.path {
            field(1, Value::ObjectPath(p.clone()));
        }
        for (code, v) in [
            (2, s(&self.interface)),
            (3, s(&self.member)),
            (4, s(&self.error_name)),
        ] {
            if let Some(v) = v {
                field(code, v);
            }
        }
        if let Some(r) = self.reply_serial {
            field(5, Value::U32(r));
        }
        for (code, v) in [(6, s(&self.destination)), (7, s(&self.sender))] {
            if let Some(v) = v {
                field(code, v);
            }
        }
        let sig = self.signature();
        if !sig.is_empty() {
            field(8, Value::Signature(sig));
        }
        let mut w = Writer::default();
        w.buf.extend_from_slice(&[b'l', self.kind, self.flags, 1]);
        w.u32(body.buf.len() as u32);
        w.u32(self.serial);
        w.value(&Value::Array("(yv)".into(), fields));
        w.pad(8);
        w.buf.extend_from_slice(&body.buf);
        w.buf
    }

    /// The total length of the message that starts `buf`, once its first
    /// 16 bytes are there.
    pub fn wire_len(buf: &[u8]) -> Result<Option<usize>, String> {
        if buf.len() < 16 {
            return Ok(None);
        }
        if buf[0] != b'l' {
            return Err(format!(
                "message in byte order {:?}: only little-endian is supported",
                buf[0] as char
            ));
        }
        let word = |at: usize| u32::from_le_bytes(buf[at..at + 4].try_into().expect("4")) as usize;
        let fields = word(12);
        let header = (16 + fields).div_ceil(8) * 8;
        Ok(Some(header + word(4)))
    }

    /// Parses one complete message (as long as [`Message::wire_len`] says).
    pub fn decode(buf: &[u8]) -> Result<Message, String> {
        let total = Self::wire_len(buf)?.ok_or("message shorter than its fixed header")?;
        if buf.len() < total {
            return Err("message truncated".into());
        }
        let mut r = Reader::new(&buf[..total]);
        let head = r.values("yyyyuua(yv)")?;
        let byte = |i: usize| match head[i] {
            Value::Byte(b) => b,
            _ => unreachable!("y"),
        };
        let word = |i: usize| match head[i] {
            Value::U32(n) => n,
            _ => unreachable!("u"),
        };
        let mut m = Message {
            kind: byte(1),
            flags: byte(2),
            serial: word(5),
            ..Default::default()
        };
        let mut sig = String::new();
        if let Value::Array(_, fields) = &head[6] {
            for f in fields {
                let Value::Struct(f) = f else { continue };
                let (Value::Byte(code), Value::Variant(v)) = (&f[0], &f[1]) else {
                    continue;
                };
                let text = v.as_str().map(str::to_string);
                match code {
                    1 => m.path = text,
                    2 => m.interface = text,
                    3 => m.member = text,
                    4 => m.error_name = text,
                    5 => {
                        if let Value::U32(n) = **v {
                            m.reply_serial = Some(n);
                        }
                    }
                    6 => m.destination = text,
                    7 => m.sender = text,
                    8 => sig = text.unwrap_or_default(),
                    _ => {}
                }
            }
        }
        r.align(8)?;
        let body_len = word(4) as usize;
        let body = r.take(body_len)?;
        m.body = Reader::new(body).values(&sig)?;
        Ok(m)
    }

    /// An error reply's name and first string argument.
    pub fn error_text(&self) -> String {
        let name = self.error_name.as_deref().unwrap_or("unknown error");
        match self.body.first().and_then(Value::as_str) {
            Some(msg) => format!("{msg} ({name})"),
            None => name.to_string(),
        }
    }
}

/// A D-Bus error reply, or a transport failure.
#[derive(Debug)]
pub enum CallError {
    Reply { name: String, text: String },
    Io(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Reply { text, .. } => f.write_str(text),
            CallError::Io(e) => f.write_str(e),
        }
    }
}

impl CallError {
    pub fn name(&self) -> Option<&str> {
        match self {
            CallError::Reply { name, .. } => Some(name),
            CallError::Io(_) => None,
        }
    }
}

/// The SASL line we send: EXTERNAL with the uid's decimal digits in hex.
pub fn auth_line(uid: u32) -> String {
    let hex: String = uid
        .to_string()
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("AUTH EXTERNAL {hex}\r\n")
}

/// A connection to systemd (direct) or to a bus.
///
/// systemd (sd-bus, seen with v252) can leave a message that reached it in
/// the same read as our BEGIN unprocessed until more bytes arrive: when it
/// was busy as we connected, our first call then gets no reply. So while
/// waiting, the connection sends a Peer.Ping (no reply wanted) every
/// [`NUDGE_AFTER`] without input, which wakes it up.
pub struct Conn {
    stream: UnixStream,
    serial: u32,
    /// Bytes read but not yet parsed.
    inbuf: Vec<u8>,
    /// Messages read while waiting for something else (signals).
    queued: VecDeque<Message>,
    timeout: Duration,
}

impl Conn {
    /// Connects and authenticates; on a bus (`bus`), also says Hello.
    pub fn connect(path: &Path, bus: bool, timeout: Duration) -> io::Result<Conn> {
        let stream = UnixStream::connect(path)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        let mut c = Conn {
            stream,
            serial: 0,
            inbuf: Vec::new(),
            queued: VecDeque::new(),
            timeout,
        };
        c.auth()?;
        if bus {
            c.call(Message::method_call(
                Some("org.freedesktop.DBus"),
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus",
                "Hello",
                vec![],
            ))
            .map_err(|e| io::Error::other(format!("Hello: {e}")))?;
        }
        Ok(c)
    }

    fn auth(&mut self) -> io::Result<()> {
        let uid = nix::unistd::geteuid().as_raw();
        self.stream.write_all(b"\0")?;
        self.stream.write_all(auth_line(uid).as_bytes())?;
        let line = self.read_line()?;
        if !line.starts_with("OK ") {
            return Err(io::Error::other(format!(
                "authentication refused: {:?}",
                line.trim_end()
            )));
        }
        self.stream.write_all(b"BEGIN\r\n")
    }

    /// One "\r\n"-terminated line of the SASL exchange; byte by byte, so
    /// that nothing after it is consumed.
    fn read_line(&mut self) -> io::Result<String> {
        let mut line = Vec::new();
        let mut b = [0u8; 1];
        while !line.ends_with(b"\r\n") {
            if self.stream.read(&mut b)? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            line.push(b[0]);
            if line.len() > 4096 {
                return Err(io::Error::other("SASL line too long"));
            }
        }
        Ok(String::from_utf8_lossy(&line).into_owned())
    }

    pub fn send(&mut self, mut m: Message) -> io::Result<u32> {
        self.serial += 1;
        m.serial = self.serial;
        self.stream.write_all(&m.encode())?;
        Ok(m.serial)
    }

    /// Calls a method and returns its reply; signals that arrive meanwhile
    /// are kept for [`Conn::wait_signal`].
    pub fn call(&mut self, m: Message) -> Result<Message, CallError> {
        let what = m.member.clone().unwrap_or_default();
        let serial = self
            .send(m)
            .map_err(|e| CallError::Io(format!("{what}: {e}")))?;
        let deadline = Instant::now() + self.timeout;
        loop {
            let r = self
                .read_message(deadline)
                .map_err(|e| CallError::Io(format!("{what}: {e}")))?;
            tracing::trace!(
                "dbus: {what} (serial {serial}): got kind {} serial {} reply to {:?} {:?}",
                r.kind,
                r.serial,
                r.reply_serial,
                r.member
            );
            if r.reply_serial == Some(serial) && r.kind == ERROR {
                return Err(CallError::Reply {
                    name: r.error_name.clone().unwrap_or_default(),
                    text: r.error_text(),
                });
            }
            if r.reply_serial == Some(serial) && r.kind == METHOD_RETURN {
                return Ok(r);
            }
            if r.kind == SIGNAL {
                self.queued.push_back(r);
            }
        }
    }

    /// Waits until `deadline` for a signal that `want` accepts, consuming
    /// signals (kept ones first) as it goes.
    pub fn wait_signal(
        &mut self,
        deadline: Instant,
        mut want: impl FnMut(&Message) -> bool,
    ) -> io::Result<Message> {
        while let Some(m) = self.queued.pop_front() {
            if want(&m) {
                return Ok(m);
            }
        }
        loop {
            let m = self.read_message(deadline)?;
            if m.kind == SIGNAL && want(&m) {
                return Ok(m);
            }
        }
    }

    fn read_message(&mut self, deadline: Instant) -> io::Result<Message> {
        loop {
            if let Some(len) = Message::wire_len(&self.inbuf).map_err(io::Error::other)? {
                if self.inbuf.len() >= len {
                    let m = Message::decode(&self.inbuf[..len]).map_err(io::Error::other)?;
                    self.inbuf.drain(..len);
                    return Ok(m);
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            self.stream.set_read_timeout(Some(left.min(NUDGE_AFTER)))?;
            let mut chunk = [0u8; 4096];
            let n = match self.stream.read(&mut chunk) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    tracing::debug!("dbus: no input for {NUDGE_AFTER:?}; pinging the peer");
                    let mut ping = Message::method_call(
                        None,
                        "/",
                        "org.freedesktop.DBus.Peer",
                        "Ping",
                        vec![],
                    );
                    ping.flags = NO_REPLY_EXPECTED;
                    self.send(ping)?;
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.inbuf.extend_from_slice(&chunk[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(v: &Value) -> Vec<u8> {
        let mut w = Writer::default();
        w.value(v);
        w.buf
    }

    #[test]
    fn auth_line_hex_encodes_the_uid_digits() {
        assert_eq!(auth_line(0), "AUTH EXTERNAL 30\r\n");
        assert_eq!(auth_line(1000), "AUTH EXTERNAL 31303030\r\n");
    }

    #[test]
    fn basic_types_are_aligned_little_endian() {
        // string: u32 length, bytes, NUL
        assert_eq!(bytes(&Value::str("ab")), b"\x02\0\0\0ab\0");
        // signature: u8 length, bytes, NUL
        assert_eq!(bytes(&Value::Signature("au".into())), b"\x02au\0");
        assert_eq!(bytes(&Value::Bool(true)), [1, 0, 0, 0]);
        // struct (y t): the u64 is aligned to 8 within the struct
        assert_eq!(
            bytes(&Value::Struct(vec![Value::Byte(7), Value::U64(0x0102)])),
            [7, 0, 0, 0, 0, 0, 0, 0, 2, 1, 0, 0, 0, 0, 0, 0]
        );
    }

    #[test]
    fn array_length_excludes_the_padding_before_the_first_element() {
        // at: u32 length 8, then 4 bytes of padding to the u64's 8-byte
        // boundary (not counted), then the element
        assert_eq!(
            bytes(&Value::Array("t".into(), vec![Value::U64(5)])),
            [8, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0]
        );
        // an empty a(sv) still pads to the struct boundary, length 0
        assert_eq!(
            bytes(&Value::Array("(sv)".into(), vec![])),
            [0, 0, 0, 0, 0, 0, 0, 0]
        );
        // au [1234]
        assert_eq!(
            bytes(&Value::Array("u".into(), vec![Value::U32(1234)])),
            [4, 0, 0, 0, 0xd2, 0x04, 0, 0]
        );
    }

    #[test]
    fn variant_carries_its_signature() {
        // v of u64 at offset 0: sig "t" (3 bytes), pad to 8, value
        assert_eq!(
            bytes(&Value::variant(Value::U64(1))),
            [1, b't', 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
        );
        // v of au [7]: sig "au" (4 bytes), u32 len 4, value
        assert_eq!(
            bytes(&Value::variant(Value::Array(
                "u".into(),
                vec![Value::U32(7)]
            ))),
            [2, b'a', b'u', 0, 4, 0, 0, 0, 7, 0, 0, 0]
        );
    }

    /// StartTransientUnit's body, `ssa(sv)a(sa(sv))`, laid out by hand
    /// from the specification's rules.
    #[test]
    fn start_transient_unit_body_layout() {
        let body = [
            Value::str("a.scope"),
            Value::str("replace"),
            Value::Array(
                "(sv)".into(),
                vec![Value::Struct(vec![
                    Value::str("Delegate"),
                    Value::variant(Value::Bool(true)),
                ])],
            ),
            Value::Array("(sa(sv))".into(), vec![]),
        ];
        let mut w = Writer::default();
        for v in &body {
            w.value(v);
        }
        let mut want: Vec<u8> = Vec::new();
        want.extend(b"\x07\0\0\0a.scope\0"); // 0..12
        want.extend(b"\x07\0\0\0replace\0"); // 12..24
                                             // a(sv) at 24: length, then struct at 32 (already 8-aligned)
        want.extend([20, 0, 0, 0, 0, 0, 0, 0]); // 24..32
        want.extend(b"\x08\0\0\0Delegate\0"); // 32..45: "Delegate"
        want.extend([1, b'b', 0]); // 45..48: variant signature "b"
        want.extend([1, 0, 0, 0]); // 48..52: true; struct = 52 - 32 = 20
                                   // a(sa(sv)) at 52: length 0; 56 is already 8-aligned
        want.extend([0, 0, 0, 0]);
        assert_eq!(w.buf, want);
        let mut r = Reader::new(&want);
        assert_eq!(r.values("ssa(sv)a(sa(sv))").unwrap(), body);
    }

    #[test]
    fn method_call_header_layout() {
        let mut m = Message::method_call(None, "/o", "i.f", "M", vec![Value::str("x")]);
        m.serial = 3;
        let b = m.encode();
        let mut want: Vec<u8> = vec![b'l', 1, 0, 1, 6, 0, 0, 0, 3, 0, 0, 0];
        // header fields a(yv): length then structs at 16
        let mut fields: Vec<u8> = Vec::new();
        fields.extend([1, 1, b'o', 0, 2, 0, 0, 0, b'/', b'o', 0]); // PATH: 16..27
        fields.extend([0; 5]); // pad to 32
        fields.extend([2, 1, b's', 0, 3, 0, 0, 0, b'i', b'.', b'f', 0]); // INTERFACE 32..44
        fields.extend([0; 4]); // pad to 48
        fields.extend([3, 1, b's', 0, 1, 0, 0, 0, b'M', 0]); // MEMBER 48..58
        fields.extend([0; 6]); // pad to 64
        fields.extend([8, 1, b'g', 0, 1, b's', 0]); // SIGNATURE 64..71
        want.extend((fields.len() as u32).to_le_bytes());
        want.extend(&fields);
        want.push(0); // header padded to 72
        want.extend(b"\x01\0\0\0x\0"); // body
        assert_eq!(b, want);
        assert_eq!(Message::wire_len(&b).unwrap(), Some(b.len()));
        let back = Message::decode(&b).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn decodes_a_signal_with_nested_types() {
        let m = Message {
            kind: SIGNAL,
            serial: 9,
            path: Some("/org/freedesktop/systemd1".into()),
            interface: Some("org.freedesktop.systemd1.Manager".into()),
            member: Some("JobRemoved".into()),
            sender: Some(":1.0".into()),
            body: vec![
                Value::U32(42),
                Value::ObjectPath("/org/freedesktop/systemd1/job/42".into()),
                Value::str("husk-x.scope"),
                Value::str("done"),
                Value::Array(
                    "{sv}".into(),
                    vec![Value::DictEntry(
                        Box::new(Value::str("k")),
                        Box::new(Value::variant(Value::Array(
                            "y".into(),
                            vec![Value::Byte(1), Value::Byte(2)],
                        ))),
                    )],
                ),
                Value::I64(-5),
                Value::Double(0.5),
                Value::I16(-2),
            ],
            ..Default::default()
        };
        let b = m.encode();
        assert_eq!(Message::decode(&b).unwrap(), m);
        // a partial message waits for more bytes
        assert_eq!(Message::wire_len(&b[..10]).unwrap(), None);
        assert!(Message::decode(&b[..b.len() - 1]).is_err());
    }

    #[test]
    fn signatures_split_into_complete_types() {
        assert_eq!(first_type("a(sv)s").unwrap(), ("a(sv)", "s"));
        assert_eq!(first_type("a{sa(ii)}u").unwrap(), ("a{sa(ii)}", "u"));
        assert!(first_type("a").is_err());
        assert!(first_type("(s").is_err());
        assert!(first_type("z").is_err());
        assert_eq!(
            Value::Array("(sa(sv))".into(), vec![]).signature(),
            "a(sa(sv))"
        );
    }
}
