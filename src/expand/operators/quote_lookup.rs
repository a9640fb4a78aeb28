//! `${quote_<lookuptype>[_opt]:...}`: quoting rules of the query-style lookups.

use crate::error::{ExpResult, ExpandError};
use crate::expand::operators::cstr;
use crate::expand::operators::Input;

/// Lookup types of Exim 4.96 (as built by Debian) that rexim may not provide as drivers;
/// `quote_<type>` accepts them too, so quoting works without the driver.
const EXIM_TYPES: &[&str] = &[
    "cdb",
    "dbm",
    "dbmjz",
    "dbmnz",
    "dnsdb",
    "dsearch",
    "iplsearch",
    "ldap",
    "ldapdn",
    "ldapm",
    "lsearch",
    "mysql",
    "nis",
    "nis0",
    "nwildlsearch",
    "passwd",
    "pgsql",
    "readsock",
    "spf",
    "sqlite",
    "wildlsearch",
];

type QuoteFn = fn(&[u8], Option<&str>) -> Option<Vec<u8>>;

fn quoter(ty: &str) -> Option<QuoteFn> {
    Some(match ty {
        "mysql" => mysql,
        "pgsql" => pgsql,
        "sqlite" => sqlite,
        "ldap" | "ldapdn" | "ldapm" => ldap,
        "redis" => redis,
        _ => return None,
    })
}

/// Quote `v` for lookup type `arg` (`mysql`, `ldap_dn` ...).
pub fn quote(arg: &str, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    let (ty, opt) = match arg.split_once('_') {
        Some((t, o)) => (t, Some(o)),
        None => (arg, None),
    };
    if crate::lookup::find_type(ty).is_none() && !EXIM_TYPES.contains(&ty) {
        return Err(ExpandError::hard(format!("unknown lookup type \"{ty}\"")));
    }
    let s = cstr(v.bytes);
    let quoted = match (quoter(ty), opt) {
        (Some(f), _) => f(s, opt),
        (None, Some(_)) => None,
        (None, None) => Some(s.to_vec()),
    };
    match quoted {
        Some(q) => Ok(v.emit(out, q)),
        None => Err(ExpandError::hard(format!(
            "\"{}\" unrecognized after \"${{quote_{ty}\"",
            opt.unwrap_or_default()
        ))),
    }
}

fn backslash_escape(c: u8, out: &mut Vec<u8>) {
    out.push(b'\\');
    out.push(match c {
        b'\n' => b'n',
        b'\t' => b't',
        b'\r' => b'r',
        0x08 => b'b',
        _ => c,
    });
}

/// `${quote_mysql:it's}` gives `it\'s`.
fn mysql(s: &[u8], opt: Option<&str>) -> Option<Vec<u8>> {
    if opt.is_some() {
        return None;
    }
    let mut out = Vec::with_capacity(s.len());
    for &c in s {
        if b"\n\t\r\x08'\"\\".contains(&c) {
            backslash_escape(c, &mut out);
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// `${quote_pgsql:it's}` gives `it''s`.
fn pgsql(s: &[u8], opt: Option<&str>) -> Option<Vec<u8>> {
    if opt.is_some() {
        return None;
    }
    let mut out = Vec::with_capacity(s.len());
    for &c in s {
        if c == b'\'' {
            out.extend_from_slice(b"''");
        } else if b"\n\t\r\x08\"\\".contains(&c) {
            backslash_escape(c, &mut out);
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// `${quote_sqlite:it's}` gives `it''s`.
fn sqlite(s: &[u8], opt: Option<&str>) -> Option<Vec<u8>> {
    if opt.is_some() {
        return None;
    }
    let mut out = Vec::with_capacity(s.len());
    for &c in s {
        if c == b'\'' {
            out.push(b'\'');
        }
        out.push(c);
    }
    Some(out)
}

/// `${quote_redis:a b}` gives `a\ b`.
fn redis(s: &[u8], opt: Option<&str>) -> Option<Vec<u8>> {
    if opt.is_some() {
        return None;
    }
    let mut out = Vec::with_capacity(s.len());
    for &c in s {
        if matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | b'\\') {
            out.push(b'\\');
        }
        out.push(c);
    }
    Some(out)
}

const URL_NONQUOTE: &[u8] = b"!$'-._()*+";

/// `${quote_ldap:a*b}` gives `a%5C2Ab`; `${quote_ldap_dn:...}` quotes a DN component.
fn ldap(s: &[u8], opt: Option<&str>) -> Option<Vec<u8>> {
    let dn = match opt {
        None => false,
        Some("dn") => true,
        Some(_) => return None,
    };
    let mut out = Vec::with_capacity(s.len() * 2);
    let hex = |out: &mut Vec<u8>, c: u8| out.extend_from_slice(format!("%{c:02X}").as_bytes());
    if !dn {
        for &c in s {
            if !c.is_ascii_alphanumeric() {
                if b"*()\\".contains(&c) {
                    out.extend_from_slice(format!("%5C{c:02X}").as_bytes());
                    continue;
                }
                if !URL_NONQUOTE.contains(&c) {
                    hex(&mut out, c);
                    continue;
                }
            }
            out.push(c);
        }
        return Some(out);
    }
    let mut end = s.len();
    while end > 0 && s[end - 1] == b' ' {
        end -= 1;
    }
    let mut i = 0;
    while i < end && (s[i] == b' ' || s[i] == b'#') {
        out.extend_from_slice(format!("%5C%{:02X}", s[i]).as_bytes());
        i += 1;
    }
    for &c in &s[i..end] {
        if !c.is_ascii_alphanumeric() {
            if b",+\"\\<>;".contains(&c) {
                out.extend_from_slice(b"%5C");
            }
            if !URL_NONQUOTE.contains(&c) {
                hex(&mut out, c);
                continue;
            }
        }
        out.push(c);
    }
    for _ in end..s.len() {
        out.extend_from_slice(b"%5C%20");
    }
    Some(out)
}
