//! RFC 2822 mailbox parsing with the behaviour of Exim's `parse_extract_address`
//! (display names, `<route-addr>`, quoted local parts, comments, groups), plus the
//! address-list splitter used by `${addresses:}` and header scanning.

mod words;

/// Longest address (bytes between start and end offsets) Exim accepts.
pub const EMAILADDR_MAX: usize = 256;

/// Main-configuration options that change address parsing (Exim's defaults: all off).
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Accept `<>` as an empty address.
    pub allow_null: bool,
    /// `allow_domain_literals`: `[1.2.3.4]` domains inside `<...>`.
    pub allow_domain_literals: bool,
    /// `strip_trailing_dot`: `a@b.c.` becomes `a@b.c`.
    pub strip_trailing_dot: bool,
    /// `allow_utf8_domains`.
    pub allow_utf8_domains: bool,
    /// `strip_excess_angle_brackets`: `<<a@b>>` is accepted.
    pub strip_excess_angle_brackets: bool,
}

/// One extracted address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// The operative address, comments and display name removed, case preserved.
    pub address: Vec<u8>,
    /// Offset of the domain in `address`; 0 when there is no `@domain`.
    pub domain_offset: usize,
    /// Offsets in the input of the first and one past the last character of the address.
    pub start: usize,
    pub end: usize,
}

impl Address {
    /// The local part (the whole address when there is no domain).
    pub fn local_part(&self) -> &[u8] {
        if self.domain_offset > 0 {
            &self.address[..self.domain_offset - 1]
        } else {
            &self.address
        }
    }

    /// The domain, empty when there is none.
    pub fn domain(&self) -> &[u8] {
        if self.domain_offset > 0 {
            &self.address[self.domain_offset..]
        } else {
            b""
        }
    }
}

/// Extract the operative address from an RFC 2822 mailbox with Exim's default options
/// (as `${address:}` does): `Fred <a@b.example>` gives `a@b.example`.
pub fn extract(text: &[u8]) -> Result<Address, String> {
    Parser::new(Options::default()).extract(text)
}

/// Split an address list at the commas that end addresses (commas inside quotes,
/// comments and source routes do not count).
pub fn split(text: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = text;
    loop {
        let end = find_address_end(rest, false);
        out.push(&rest[..end]);
        if end >= rest.len() {
            return out;
        }
        rest = &rest[end + 1..];
    }
}

/// Offset of the comma (or end, or newline when `nl_ends`) that ends the address at the start of `s`.
pub fn find_address_end(s: &[u8], nl_ends: bool) -> usize {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut source_routing = at(0) == b'@';
    let mut no_term: i32 = i32::from(source_routing);
    let mut i = 0;
    let stop = |c: u8| c == 0 || (c == b'\n' && nl_ends);
    while !stop(at(i)) && (at(i) != b',' || no_term > 0) {
        let c = at(i);
        if c == b'\\' && at(i + 1) != 0 {
            i += 2;
        } else if c == b'"' || c == b'(' {
            let mut level = 1;
            loop {
                i += 1;
                let d = at(i);
                if stop(d) {
                    break;
                }
                if d == b'\\' && at(i + 1) != 0 {
                    i += 1;
                } else if c == b'"' && d == b'"' {
                    i += 1;
                    break;
                } else if c == b'(' && d == b'(' {
                    level += 1;
                } else if c == b'(' && d == b')' {
                    level -= 1;
                    if level <= 0 {
                        i += 1;
                        break;
                    }
                }
            }
        } else {
            if c == b'<' {
                source_routing = at(i + 1) == b'@';
                no_term = if source_routing { 2 } else { 1 };
            } else if c == b'>' || (source_routing && c == b':') {
                no_term -= 1;
            }
            i += 1;
        }
    }
    i.min(s.len())
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn is_special(c: u8) -> bool {
    c < 32 || b" ()<>@,;:\\\".[]\x7f".contains(&c)
}

/// Parser state: options plus the group flags that persist across the addresses of one header.
pub struct Parser<'a> {
    pub opts: Options,
    /// Accept `phrase:` group starts (set for header lists and `${addresses:}`).
    pub allow_group: bool,
    pub found_group: bool,
    s: &'a [u8],
    last_comment: usize,
}

type Step<T> = Result<T, (usize, String)>;

impl<'a> Parser<'a> {
    pub fn new(opts: Options) -> Parser<'a> {
        Parser {
            opts,
            allow_group: false,
            found_group: false,
            s: b"",
            last_comment: 0,
        }
    }

    fn at(&self, i: usize) -> u8 {
        self.s.get(i).copied().unwrap_or(0)
    }

    /// Extract one address (see [`extract`]); group flags are updated as Exim does.
    pub fn extract(&mut self, text: &'a [u8]) -> Result<Address, String> {
        // Exim strings end at NUL.
        let text = match text.iter().position(|&c| c == 0) {
            Some(n) => &text[..n],
            None => text,
        };
        self.s = text;
        self.last_comment = 0;
        match self.parse() {
            Ok(a) => Ok(a),
            Err((pos, msg)) => {
                if self.found_group && self.at(pos) == b';' {
                    self.found_group = false;
                    self.allow_group = true;
                }
                Err(msg)
            }
        }
    }

    fn malformed(&self, i: usize) -> String {
        let rest = &self.s[i.min(self.s.len())..];
        let rest = &rest[..rest.len().min(32)];
        format!(
            "malformed address: {} may not follow {}",
            String::from_utf8_lossy(rest),
            String::from_utf8_lossy(&self.s[..i.min(self.s.len())])
        )
    }

    fn parse(&mut self) -> Step<Address> {
        let mut out = Vec::new();
        let mut i = 0;
        let (startptr, endptr, domain);
        loop {
            i = self.skip_comment(i);
            let start = i;
            out.clear();
            i = self.read_local_part(i, &mut out, true)?;
            let c = self.at(i);
            if c != b'@' && c != b'<' {
                if c == 0 || c == b';' {
                    if out.is_empty() {
                        return Err((i, "empty address".into()));
                    }
                    startptr = start;
                    endptr = self.last_comment;
                    domain = 0;
                    break;
                }
                while self.at(i) != b'<' && (!self.allow_group || self.at(i) != b':') {
                    out.clear();
                    i = self
                        .read_local_part(i, &mut out, false)
                        .map_err(|(p, e)| (p, format!("{e} (expected word or \"<\")")))?;
                }
                if self.at(i) == b':' {
                    self.found_group = true;
                    self.allow_group = false;
                    i += 1;
                    continue;
                }
            }
            if self.at(i) == b'<' {
                let mut brackets = 1;
                i += 1;
                if self.opts.strip_excess_angle_brackets {
                    while self.at(i) == b'<' {
                        if brackets > 5 {
                            return Err((i, "angle-brackets nested too deep".into()));
                        }
                        brackets += 1;
                        i += 1;
                    }
                }
                out.clear();
                startptr = i;
                i = self.skip_comment(i);
                let mut routed = false;
                if self.at(i) == b'@' {
                    i = self.read_route(i, &mut out)?;
                    out.clear();
                    routed = true;
                }
                if self.opts.allow_null && !routed && self.at(i) == b'>' {
                    domain = 0;
                } else {
                    let (j, d) = self.read_addr_spec(i, &mut out, b'>')?;
                    i = j;
                    if routed && d == 0 {
                        return Err((i, "domain missing in source-routed address".into()));
                    }
                    domain = d;
                }
                endptr = i;
                for _ in 0..brackets {
                    let c = self.at(i);
                    i += 1;
                    if c != b'>' {
                        let msg = if c == 0 {
                            "'>' missing at end of address".to_string()
                        } else {
                            self.malformed(i - 1)
                        };
                        return Err((i.min(self.s.len()), msg));
                    }
                }
                i = self.skip_comment(i);
            } else if out.is_empty() {
                i = self.read_route(i, &mut out)?;
                out.clear();
                let (j, d) = self.read_addr_spec(i, &mut out, 0)?;
                i = j;
                endptr = self.last_comment;
                if d == 0 {
                    return Err((i, "domain missing in source-routed address".into()));
                }
                startptr = start;
                domain = d;
            } else {
                out.push(b'@');
                domain = out.len();
                let (j, err) = self.read_domain(i + 1, &mut out, true);
                i = j;
                if out.len() == domain {
                    return Err((i, err.unwrap_or_default()));
                }
                startptr = start;
                endptr = self.last_comment;
            }
            break;
        }
        if self.at(i) != 0 {
            if self.found_group && self.at(i) == b';' {
                self.found_group = false;
                self.allow_group = true;
            } else {
                return Err((i, self.malformed(i)));
            }
        }
        let mut end = endptr;
        while end > 0 && is_space(self.at(end - 1)) {
            end -= 1;
        }
        if end.saturating_sub(startptr) > EMAILADDR_MAX {
            let shown = &out[..out.len().min(64)];
            // Position past the end: the group flags are left alone, as in Exim.
            return Err((
                usize::MAX,
                format!(
                    "address is ridiculously long: {}...",
                    String::from_utf8_lossy(shown)
                ),
            ));
        }
        Ok(Address {
            address: out,
            domain_offset: domain,
            start: startptr,
            end,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> (String, String, String) {
        let a = extract(s.as_bytes()).unwrap_or_else(|e| panic!("{s}: {e}"));
        let f = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (f(&a.address), f(a.local_part()), f(a.domain()))
    }

    #[test]
    fn forms() {
        assert_eq!(ok("Fred <A.b@X.example>").0, "A.b@X.example");
        assert_eq!(ok("a@b (comment)").0, "a@b");
        assert_eq!(ok("\"a b\"@c").1, "\"a b\"");
        assert_eq!(ok("<@r1,@r2:x@y>").0, "x@y");
        assert_eq!(ok("local").2, "");
        assert!(extract(b"").is_err());
        assert!(extract(b"a@b c").is_err());
    }

    #[test]
    fn groups_and_split() {
        let parts = split(b"a@b, \"x,y\" <c@d>, (q,r) e@f");
        assert_eq!(parts.len(), 3);
        let mut p = Parser::new(Options::default());
        p.allow_group = true;
        assert_eq!(
            p.extract(b"grp: a@b").map(|a| a.address),
            Ok(b"a@b".to_vec())
        );
        assert!(p.found_group);
    }
}
