//! The `<id>-H` spool file: an in-memory form, its writer and its reader (Exim's layout).

use std::io::Write;

use super::SpoolError;

/// One `-name value` option line; `tainted` adds the second `-` (`--helo_name x`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionLine {
    pub name: String,
    pub value: Option<Vec<u8>>,
    pub tainted: bool,
}

/// An ACL variable saved as `-aclc REST LEN` / `-aclm REST LEN` plus its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclVar {
    /// `c` or `m`.
    pub scope: char,
    /// The name after `acl_c` / `acl_m` (`_foo`, `0`).
    pub rest: String,
    pub value: Vec<u8>,
    pub tainted: bool,
}

/// A recipient line: plain `addr`, or the DSN form `addr orcpt len,flags errors_to len,pno#3`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Recipient {
    pub address: Vec<u8>,
    pub orcpt: Option<Vec<u8>>,
    pub dsn_flags: u32,
    pub errors_to: Option<Vec<u8>>,
    pub pno: i32,
}

/// A header line with its type letter (`P` Received, `F` From, `*` deleted, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderLine {
    pub kind: u8,
    /// The full text, including its name and the trailing newline.
    pub text: Vec<u8>,
}

/// The content of an `-H` file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HeaderFile {
    pub id: String,
    pub login: String,
    pub uid: i64,
    pub gid: i64,
    /// Envelope sender, without angle brackets.
    pub sender: Vec<u8>,
    pub received_time: i64,
    pub warning_count: u32,
    pub options: Vec<OptionLine>,
    pub acl_vars: Vec<AclVar>,
    /// Addresses already delivered (the non-recipients tree, flattened).
    pub non_recipients: Vec<Vec<u8>>,
    pub recipients: Vec<Recipient>,
    pub headers: Vec<HeaderLine>,
}

/// Exim's header type letter for a header's name (` ` when it has none).
pub fn header_type(text: &[u8]) -> u8 {
    let name_end = text.iter().position(|&c| c == b':').unwrap_or(text.len());
    let name = text[..name_end].trim_ascii_end().to_ascii_lowercase();
    match name.as_slice() {
        b"bcc" => b'B',
        b"cc" => b'C',
        b"from" => b'F',
        b"message-id" => b'I',
        b"received" => b'P',
        b"reply-to" => b'R',
        b"sender" => b'S',
        b"to" => b'T',
        _ => b' ',
    }
}

impl HeaderFile {
    /// A named option's value (`received_protocol`), tainted or not.
    pub fn option(&self, name: &str) -> Option<&OptionLine> {
        self.options.iter().find(|o| o.name == name)
    }

    pub fn has_flag(&self, name: &str) -> bool {
        self.option(name).is_some()
    }

    /// The bytes of the file, in Exim's order.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut o = Vec::with_capacity(1024);
        let _ = writeln!(o, "{}-H", self.id);
        let _ = writeln!(o, "{} {} {}", self.login, self.uid, self.gid);
        o.push(b'<');
        push_zapped(&mut o, &self.sender);
        o.extend_from_slice(b">\n");
        let _ = writeln!(o, "{} {}", self.received_time, self.warning_count);
        // Exim writes connection options, then the ACL variables, then the rest; the
        // builder keeps `options` in that order with ACL variables after `received_protocol`.
        let split = self
            .options
            .iter()
            .position(|x| !CONNECTION_OPTIONS.contains(&x.name.as_str()))
            .unwrap_or(self.options.len());
        for opt in &self.options[..split] {
            write_option(&mut o, opt);
        }
        for v in &self.acl_vars {
            o.push(b'-');
            if v.tainted {
                o.push(b'-');
            }
            let _ = writeln!(o, "acl{} {} {}", v.scope, v.rest, v.value.len());
            o.extend_from_slice(&v.value);
            o.push(b'\n');
        }
        for opt in &self.options[split..] {
            write_option(&mut o, opt);
        }
        write_tree(&mut o, &self.non_recipients);
        let _ = writeln!(o, "{}", self.recipients.len());
        for r in &self.recipients {
            push_zapped(&mut o, &r.address);
            // As Exim: an ORCPT without NOTIFY flags is not written.
            if r.errors_to.is_some() || r.dsn_flags != 0 || r.pno >= 0 {
                let orcpt = r.orcpt.as_deref().unwrap_or_default();
                let errors_to = r.errors_to.as_deref().unwrap_or_default();
                o.push(b' ');
                push_zapped(&mut o, orcpt);
                let _ = write!(o, " {},{} ", orcpt.len(), r.dsn_flags);
                push_zapped(&mut o, errors_to);
                let _ = write!(o, " {},{}#3", errors_to.len(), r.pno);
            }
            o.push(b'\n');
        }
        o.push(b'\n');
        for h in &self.headers {
            let _ = write!(o, "{:03}", h.text.len());
            o.push(h.kind);
            o.push(b' ');
            o.extend_from_slice(&h.text);
        }
        o
    }

    /// Parse an `-H` file. `Err` names what is wrong (Exim's "spool format error").
    pub fn parse(bytes: &[u8]) -> Result<HeaderFile, SpoolError> {
        let mut r = Reader { b: bytes, pos: 0 };
        let mut h = HeaderFile::default();
        let first = r.line()?;
        h.id = String::from_utf8_lossy(
            first
                .strip_suffix(b"-H")
                .ok_or_else(|| r.bad("first line is not <id>-H"))?,
        )
        .into_owned();
        let who = String::from_utf8_lossy(r.line()?).into_owned();
        let mut parts = who.rsplitn(3, ' ');
        h.gid = num(parts.next(), &r, "gid")?;
        h.uid = num(parts.next(), &r, "uid")?;
        h.login = parts
            .next()
            .ok_or_else(|| r.bad("missing originator login"))?
            .to_string();
        let sender = r.line()?;
        h.sender = sender
            .strip_prefix(b"<")
            .and_then(|s| s.strip_suffix(b">"))
            .ok_or_else(|| r.bad("sender line is not <address>"))?
            .to_vec();
        let times = String::from_utf8_lossy(r.line()?).into_owned();
        let mut t = times.split(' ');
        h.received_time = num(t.next(), &r, "received time")?;
        h.warning_count = num(t.next(), &r, "warning count")?;
        loop {
            if r.peek() != Some(b'-') {
                break;
            }
            let line = r.line()?;
            let tainted = line.starts_with(b"--");
            let body = &line[if tainted { 2 } else { 1 }..];
            let (name, value) = match body.iter().position(|&c| c == b' ') {
                Some(p) => (&body[..p], Some(body[p + 1..].to_vec())),
                None => (body, None),
            };
            let name = String::from_utf8_lossy(name).into_owned();
            if let Some(scope @ ('c' | 'm')) = name.strip_prefix("acl").and_then(|s| {
                let mut c = s.chars();
                let first = c.next();
                if c.next().is_none() {
                    first
                } else {
                    None
                }
            }) {
                let v = String::from_utf8_lossy(value.as_deref().unwrap_or_default()).into_owned();
                let (rest, len) = v
                    .rsplit_once(' ')
                    .ok_or_else(|| r.bad("bad ACL variable line"))?;
                let len: usize = len.parse().map_err(|_| r.bad("bad ACL variable length"))?;
                let value = r.take(len)?.to_vec();
                if r.take(1)? != b"\n" {
                    return Err(r.bad("ACL variable value not followed by a newline"));
                }
                h.acl_vars.push(AclVar {
                    scope,
                    rest: rest.to_string(),
                    value,
                    tainted,
                });
                continue;
            }
            h.options.push(OptionLine {
                name,
                value,
                tainted,
            });
        }
        read_tree(&mut r, &mut h.non_recipients, 0)?;
        let count: usize = num(
            Some(&String::from_utf8_lossy(r.line()?)),
            &r,
            "recipient count",
        )?;
        for _ in 0..count {
            let line = r.line()?;
            h.recipients
                .push(parse_recipient(line).ok_or_else(|| r.bad("bad recipient line"))?);
        }
        if !r.line()?.is_empty() {
            return Err(r.bad("no blank line before the headers"));
        }
        while r.pos < r.b.len() {
            let digits = r.b[r.pos..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            if digits == 0 {
                return Err(r.bad("header line without a length"));
            }
            let len: usize = String::from_utf8_lossy(r.take(digits)?)
                .parse()
                .map_err(|_| r.bad("bad header length"))?;
            let kind = r.take(1)?[0];
            if r.take(1)? != b" " {
                return Err(r.bad("header type not followed by a space"));
            }
            let text = r.take(len)?.to_vec();
            h.headers.push(HeaderLine { kind, text });
        }
        Ok(h)
    }

    /// Size of the transmitted headers (deleted `*` ones excluded), as `-bp` counts it.
    pub fn header_size(&self) -> u64 {
        self.headers
            .iter()
            .filter(|h| h.kind != b'*')
            .map(|h| h.text.len() as u64)
            .sum()
    }
}

/// Options Exim writes before the ACL variables.
const CONNECTION_OPTIONS: &[&str] = &[
    "received_time_usec",
    "received_time_complete",
    "helo_name",
    "host_address",
    "host_name",
    "host_auth",
    "host_auth_pubname",
    "interface_address",
    "active_hostname",
    "ident",
    "received_protocol",
];

fn write_option(o: &mut Vec<u8>, opt: &OptionLine) {
    o.push(b'-');
    if opt.tainted {
        o.push(b'-');
    }
    o.extend_from_slice(opt.name.as_bytes());
    if let Some(v) = &opt.value {
        o.push(b' ');
        push_zapped(o, v);
    }
    o.push(b'\n');
}

/// Newlines would break the line format; Exim turns them into spaces.
fn push_zapped(o: &mut Vec<u8>, v: &[u8]) {
    o.extend(v.iter().map(|&c| if c == b'\n' { b' ' } else { c }));
}

/// Exim's balanced-tree dump: `XX` when empty, else pre-order `YN addr` lines where the
/// two letters say whether a left and a right child follow. Any balanced shape reads back.
fn write_tree(o: &mut Vec<u8>, items: &[Vec<u8>]) {
    fn node(o: &mut Vec<u8>, items: &[Vec<u8>]) {
        let mid = items.len() / 2;
        let (left, rest) = items.split_at(mid);
        let Some((me, right)) = rest.split_first() else {
            return;
        };
        o.push(if left.is_empty() { b'N' } else { b'Y' });
        o.push(if right.is_empty() { b'N' } else { b'Y' });
        o.push(b' ');
        push_zapped(o, me);
        o.push(b'\n');
        node(o, left);
        node(o, right);
    }
    if items.is_empty() {
        o.extend_from_slice(b"XX\n");
    } else {
        let mut sorted = items.to_vec();
        sorted.sort();
        node(o, &sorted);
    }
}

fn read_tree(r: &mut Reader, out: &mut Vec<Vec<u8>>, depth: u32) -> Result<(), SpoolError> {
    if depth > 64 {
        return Err(r.bad("non-recipients tree too deep"));
    }
    let line = r.line()?;
    if depth == 0 && line == b"XX" {
        return Ok(());
    }
    if line.len() < 3 || line[2] != b' ' {
        return Err(r.bad("bad non-recipients tree line"));
    }
    let (left, right) = (line[0] == b'Y', line[1] == b'Y');
    out.push(line[3..].to_vec());
    if left {
        read_tree(r, out, depth + 1)?;
    }
    if right {
        read_tree(r, out, depth + 1)?;
    }
    Ok(())
}

/// Parse a recipient line from the right, as Exim does (the address may contain spaces).
fn parse_recipient(line: &[u8]) -> Option<Recipient> {
    let mut rcpt = Recipient {
        pno: -1,
        ..Recipient::default()
    };
    let (rest, form) = match line {
        [rest @ .., b'#', d] if d.is_ascii_digit() => (rest, d - b'0'),
        _ => {
            rcpt.address = line.to_vec();
            return Some(rcpt);
        }
    };
    // `<len>,<n>` before the `#`; the field of that length precedes it after a space.
    fn field(rest: &[u8]) -> Option<(&[u8], Vec<u8>, i64)> {
        let sp = rest.iter().rposition(|&c| c == b' ')?;
        let nums = String::from_utf8_lossy(&rest[sp + 1..]).into_owned();
        let (len, n) = nums.split_once(',')?;
        let len: usize = len.parse().ok()?;
        let n: i64 = n.parse().ok()?;
        let before = &rest[..sp];
        let start = before.len().checked_sub(len)?;
        let value = before[start..].to_vec();
        let head = before[..start].strip_suffix(b" ")?;
        Some((head, value, n))
    }
    let (head, errors_to, pno) = field(rest)?;
    rcpt.pno = i32::try_from(pno).ok()?;
    rcpt.errors_to = (!errors_to.is_empty()).then_some(errors_to);
    let head = if form == 3 {
        let (h, orcpt, flags) = field(head)?;
        rcpt.orcpt = (!orcpt.is_empty()).then_some(orcpt);
        rcpt.dsn_flags = u32::try_from(flags).ok()?;
        h
    } else {
        head
    };
    rcpt.address = head.to_vec();
    Some(rcpt)
}

fn num<T: std::str::FromStr>(s: Option<&str>, r: &Reader, what: &str) -> Result<T, SpoolError> {
    s.and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| r.bad(&format!("bad {what}")))
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn bad(&self, what: &str) -> SpoolError {
        SpoolError::Format {
            offset: self.pos,
            what: what.to_string(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn line(&mut self) -> Result<&'a [u8], SpoolError> {
        let rest = &self.b[self.pos..];
        let n = rest
            .iter()
            .position(|&c| c == b'\n')
            .ok_or_else(|| self.bad("unexpected end of file"))?;
        self.pos += n + 1;
        Ok(&rest[..n])
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], SpoolError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| self.bad("unexpected end of file"))?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }
}
