//! The word-level readers of the address parser: comments, domains, local parts, routes.

use super::{is_space, is_special, Parser, Step};

impl Parser<'_> {
    pub(super) fn skip_comment(&mut self, mut i: usize) -> usize {
        self.last_comment = i;
        while self.at(i) != 0 {
            while is_space(self.at(i)) {
                i += 1;
            }
            if self.at(i) != b'(' {
                break;
            }
            let mut level = 1;
            loop {
                i += 1;
                let c = self.at(i);
                if c == 0 {
                    break;
                }
                if c == b'(' {
                    level += 1;
                } else if c == b')' {
                    level -= 1;
                    if level <= 0 {
                        i += 1;
                        break;
                    }
                } else if c == b'\\' && self.at(i + 1) != 0 {
                    i += 1;
                }
            }
        }
        i
    }

    /// Read a domain onto `out`; on error `out` is cut back to where it started.
    pub(super) fn read_domain(
        &mut self,
        i: usize,
        out: &mut Vec<u8>,
        msg_id_literals: bool,
    ) -> (usize, Option<String>) {
        let tt = out.len();
        let mut i = self.skip_comment(i);
        let mut err = None;
        if self.at(i) == b'[' {
            out.push(b'[');
            i += 1;
            let head = self.s.get(i..i + 5).unwrap_or(b"");
            if head.eq_ignore_ascii_case(b"IPv6:") || head.eq_ignore_ascii_case(b"IPv4:") {
                out.extend_from_slice(head);
                i += 5;
            }
            loop {
                let c = self.at(i);
                let ok = if msg_id_literals {
                    (33..=90).contains(&c) || (94..=126).contains(&c)
                } else {
                    c == b'.' || c == b':' || c.is_ascii_hexdigit()
                };
                if !ok {
                    break;
                }
                out.push(c);
                i += 1;
            }
            if self.at(i) == b']' {
                out.push(b']');
                i += 1;
            } else {
                err = Some("malformed domain literal".to_string());
                out.truncate(tt);
            }
            if !self.opts.allow_domain_literals && !msg_id_literals {
                err = Some("domain literals not allowed".to_string());
                out.truncate(tt);
            }
            return (self.skip_comment(i), err);
        }
        loop {
            let tsave = out.len();
            if self.at(i) != b'-' {
                if !self.opts.allow_utf8_domains {
                    while self.at(i).is_ascii_alphanumeric() || self.at(i) == b'-' {
                        out.push(self.at(i));
                        i += 1;
                    }
                } else if let Err(j) = self.utf8_subdomain(&mut i, out) {
                    out.truncate(tt);
                    return (j, Some("invalid UTF-8 byte sequence".to_string()));
                }
            }
            i = self.skip_comment(i);
            if out.len() == tsave {
                if self.opts.strip_trailing_dot && out.len() > tt && self.at(i) != b'.' {
                    out.pop();
                } else {
                    out.truncate(tt);
                    err = Some("domain missing or malformed".to_string());
                }
                return (i, err);
            }
            if self.at(i) != b'.' {
                break;
            }
            out.push(b'.');
            i = self.skip_comment(i + 1);
        }
        (i, err)
    }

    fn utf8_subdomain(&self, i: &mut usize, out: &mut Vec<u8>) -> Result<(), usize> {
        loop {
            let c = self.at(*i);
            if c.is_ascii_alphanumeric() || c == b'-' {
                out.push(c);
                *i += 1;
                continue;
            }
            if c & 0xc0 != 0xc0 {
                return Ok(());
            }
            let extra = (c << 1).leading_ones() as usize;
            if extra >= 6 {
                return Err(*i);
            }
            out.push(c);
            *i += 1;
            for _ in 0..extra {
                let d = self.at(*i);
                if d & 0xc0 != 0x80 {
                    return Err(*i);
                }
                out.push(d);
                *i += 1;
            }
        }
    }

    /// Read dot-separated words (quoted strings or atoms with quoted pairs).
    pub(super) fn read_local_part(
        &mut self,
        mut i: usize,
        out: &mut Vec<u8>,
        allow_null: bool,
    ) -> Step<usize> {
        let tt = out.len();
        loop {
            let tsave = out.len();
            i = self.skip_comment(i);
            if self.at(i) == b'"' {
                out.push(b'"');
                loop {
                    i += 1;
                    let c = self.at(i);
                    if c == 0 || c == b'"' {
                        break;
                    }
                    out.push(c);
                    if c == b'\\' && self.at(i + 1) != 0 {
                        i += 1;
                        out.push(self.at(i));
                    }
                }
                if self.at(i) == b'"' {
                    i += 1;
                    out.push(b'"');
                } else {
                    return Err((i, "unmatched doublequote in local part".into()));
                }
            } else {
                while !is_special(self.at(i)) || self.at(i) == b'\\' {
                    let c = self.at(i);
                    out.push(c);
                    i += 1;
                    if c == b'\\' && self.at(i) != 0 {
                        out.push(self.at(i));
                        i += 1;
                    }
                }
            }
            i = self.skip_comment(i);
            if out.len() == tsave && self.at(i) != b'.' {
                if out.len() == tt && !allow_null {
                    return Err((i, "missing or malformed local part".into()));
                }
                return Ok(i);
            }
            if self.at(i) != b'.' {
                return Ok(i);
            }
            while self.at(i) == b'.' {
                out.push(b'.');
                i += 1;
            }
        }
    }

    /// Read (and discard) a source route `@a,@b:`.
    pub(super) fn read_route(&mut self, mut i: usize, out: &mut Vec<u8>) -> Step<usize> {
        let mut commas = false;
        while self.at(i) == b'@' {
            out.push(b'@');
            let (j, err) = self.read_domain(i + 1, out, false);
            i = j;
            if let Some(e) = err {
                return Err((i, e));
            }
            if self.at(i) != b',' {
                break;
            }
            out.push(b',');
            commas = true;
            i = self.skip_comment(i + 1);
        }
        if self.at(i) == b':' {
            i += 1;
        } else if commas {
            return Err((i, "colon expected after route list".into()));
        } else {
            return Err((i, "no local part".into()));
        }
        Ok(self.skip_comment(i))
    }

    /// local-part [@ domain] ending at `term`; returns the position and domain offset.
    pub(super) fn read_addr_spec(
        &mut self,
        i: usize,
        out: &mut Vec<u8>,
        term: u8,
    ) -> Step<(usize, usize)> {
        let i = self.read_local_part(i, out, false)?;
        if self.at(i) == term {
            return Ok((i, 0));
        }
        if self.at(i) != b'@' {
            let lp = String::from_utf8_lossy(out).into_owned();
            return Err((i, format!("\"@\" or \".\" expected after \"{lp}\"")));
        }
        out.push(b'@');
        let dom = out.len();
        let (j, err) = self.read_domain(i + 1, out, false);
        match err {
            Some(e) => Err((j, e)),
            None => Ok((j, dom)),
        }
    }
}
