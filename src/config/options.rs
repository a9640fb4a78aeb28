//! Option types: parsing a setting's text as Exim does, and printing it as `-bP` does.

use crate::expand::Expansion;

/// How Exim stores (and therefore reads and prints) an option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptType {
    Str,
    Bool,
    /// Boolean that may instead hold a string containing `$`, expanded at use.
    ExpandBool,
    Int,
    /// Integer printed with a K/M suffix when a multiple of 1024.
    MkInt,
    /// Integer held in KiB (`check_spool_space`).
    KInt,
    OctInt,
    Fixed,
    Time,
    TimeList,
    Uid,
    Gid,
    ExpandUid,
    ExpandGid,
    UidList,
    GidList,
    Rewrite,
}

/// One row of an option table.
#[derive(Debug, Clone, Copy)]
pub struct OptDef {
    pub name: &'static str,
    pub ty: OptType,
    /// Marked `string†` (expanded at use) in Exim's specification.
    pub expanded: bool,
    /// A synonym kept for compatibility: settable, not shown by `-bP all`.
    pub hidden: bool,
    /// Router `condition`: repeated settings are combined with `and`.
    pub combine_cond: bool,
    /// `headers_add`/`headers_remove`/`set`: repeated settings are joined.
    pub repeat_sep: Option<u8>,
    /// The default, written as `-bP` shows it (empty = unset).
    pub default: &'static str,
}

/// A typed option value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Unset,
    Str(String),
    Bool(bool),
    Int(i64),
    Times(Vec<i64>),
    /// A user or group given by name or number (resolved when printed).
    Id(String),
    Ids(String),
}

/// A value as read from the configuration, with its parsed expansion when the option is expanded.
#[derive(Debug, Clone)]
pub struct Setting {
    pub value: Value,
    pub expansion: Option<Expansion>,
    pub hidden: bool,
    /// Set as a side effect (a `group` from the passwd entry of `user`), not by its own line.
    pub derived: bool,
    /// The logical line that set it (the last one, for repeated settings).
    pub span: crate::config::Span,
}

/// Exim's `readconf_readtime`: `1h30m`, `90s`; fractions of a second only when `msec`.
pub fn read_time(s: &str, msec: bool) -> Option<i64> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut total: i64 = 0;
    if b.is_empty() {
        return None;
    }
    loop {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return None;
        }
        let mut v: i64 = s[start..i].parse::<i32>().ok()?.into();
        let mut frac = 0i64;
        match b.get(i) {
            Some(b'w') => v = v.checked_mul(7 * 24 * 3600)?,
            Some(b'd') => v = v.checked_mul(24 * 3600)?,
            Some(b'h') => v = v.checked_mul(3600)?,
            Some(b'm') => v = v.checked_mul(60)?,
            Some(b's') => {}
            Some(b'.') if msec => {
                let fs = i;
                i += 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                let f: f64 = format!("0{}", &s[fs..i]).parse().ok()?;
                frac = (f * 1000.0) as i64;
                if b.get(i) != Some(&b's') {
                    return None;
                }
            }
            _ => return None,
        }
        i += 1;
        if msec {
            v = v.checked_mul(1000)?;
        }
        total = total.checked_add(v)?.checked_add(frac)?;
        if i >= b.len() {
            return i32::try_from(total).ok().map(i64::from);
        }
    }
}

/// Exim's `readconf_printtime`.
pub fn print_time(t: i64) -> String {
    let mut out = String::new();
    let mut t = t;
    if t < 0 {
        out.push('-');
        t = -t;
    }
    let (s, m, h, d, w) = (
        t % 60,
        t / 60 % 60,
        t / 3600 % 24,
        t / 86400 % 7,
        t / 604800,
    );
    let base = out.len();
    for (n, u) in [(w, 'w'), (d, 'd'), (h, 'h'), (m, 'm')] {
        if n > 0 {
            out.push_str(&format!("{n}{u}"));
        }
    }
    if s > 0 || out.len() == base {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// C `strtol` with base 0 (or 8): returns the value and the bytes consumed.
fn strtol(s: &str, octal: bool) -> Option<(i64, usize, bool)> {
    let b = s.as_bytes();
    let mut i = 0;
    let neg = match b.first() {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let (radix, start) = if octal {
        (8, i)
    } else if b.get(i) == Some(&b'0')
        && matches!(b.get(i + 1), Some(b'x' | b'X'))
        && b.get(i + 2).is_some_and(|c| c.is_ascii_hexdigit())
    {
        (16, i + 2)
    } else if b.get(i) == Some(&b'0') {
        (8, i)
    } else {
        (10, i)
    };
    let mut j = start;
    let mut v: i64 = 0;
    let mut overflow = false;
    while let Some(d) = b.get(j).and_then(|c| (*c as char).to_digit(radix)) {
        match v
            .checked_mul(radix as i64)
            .and_then(|x| x.checked_add(d as i64))
        {
            Some(x) => v = x,
            None => overflow = true,
        }
        j += 1;
    }
    if j == start {
        return None;
    }
    Some((if neg { -v } else { v }, j, overflow))
}

/// Exim's `string_interpret_escape` on the bytes after a backslash; returns bytes consumed.
fn unescape(b: &[u8], out: &mut Vec<u8>) -> usize {
    let Some(&c) = b.first() else { return 0 };
    match c {
        b'0'..=b'7' => {
            let n = b
                .iter()
                .take(3)
                .take_while(|c| (b'0'..=b'7').contains(c))
                .count();
            let v = b[..n].iter().fold(0u32, |a, d| a * 8 + u32::from(d - b'0'));
            out.push(v as u8);
            n
        }
        b'x' => {
            let n = b[1..]
                .iter()
                .take(2)
                .take_while(|c| c.is_ascii_hexdigit())
                .count();
            let v = b[1..=n]
                .iter()
                .fold(0u32, |a, d| a * 16 + (*d as char).to_digit(16).unwrap_or(0));
            out.push(v as u8);
            n + 1
        }
        b'b' => {
            out.push(8);
            1
        }
        b'f' => {
            out.push(12);
            1
        }
        b'n' => {
            out.push(b'\n');
            1
        }
        b'r' => {
            out.push(b'\r');
            1
        }
        b't' => {
            out.push(b'\t');
            1
        }
        b'v' => {
            out.push(11);
            1
        }
        c => {
            out.push(c);
            1
        }
    }
}

fn extra_chars(rest: &str, t1: &str, t2: &str, t3: &str) -> String {
    let comment = if rest.starts_with('#') {
        " (# is comment only at line start)"
    } else {
        ""
    };
    format!("extra characters follow {t1}{t2}{t3}{comment}")
}

/// Exim's `string_dequote`: a `"quoted"` string (escapes interpreted, the closing quote
/// optional) or text up to white space; returns it and the rest of the line.
pub fn dequote(s: &str) -> (String, &str) {
    let b = s.as_bytes();
    if b.first() != Some(&b'"') {
        let n = b.iter().take_while(|c| !c.is_ascii_whitespace()).count();
        return (s[..n].to_string(), &s[n..]);
    }
    let mut out = Vec::new();
    let mut i = 1;
    while i < b.len() && b[i] != b'"' {
        if b[i] == b'\\' && i + 1 < b.len() {
            i += 1 + unescape(&b[i + 1..], &mut out);
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    if i < b.len() {
        i += 1;
    }
    (String::from_utf8_lossy(&out).into_owned(), &s[i..])
}

/// Process a `"quoted"` value (Exim's `string_dequote` + escapes) or return the text verbatim.
pub fn read_string(s: &str, name: &str) -> Result<String, String> {
    if !s.starts_with('"') {
        return Ok(s.to_string());
    }
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 1;
    let mut closed = false;
    while i < b.len() {
        match b[i] {
            b'"' => {
                closed = true;
                i += 1;
                break;
            }
            b'\\' if i + 1 < b.len() => {
                i += 1 + unescape(&b[i + 1..], &mut out);
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    if !closed {
        return Err(format!("missing quote at end of string value for {name}"));
    }
    if i < b.len() {
        return Err(extra_chars(&s[i..], "string value for ", name, ""));
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Parse the text after `=` (or the whole remainder for booleans) for option `def`.
/// `negated` is true for `no_`/`not_` prefixes.
pub fn parse_value(def: &OptDef, name: &str, s: &str, negated: bool) -> Result<Value, String> {
    use OptType::*;
    match def.ty {
        Str | Rewrite => Ok(Value::Str(read_string(s, name)?)),
        Uid | Gid | ExpandUid | ExpandGid => {
            let v = read_string(s, name)?;
            if def.ty == Uid || (def.ty == ExpandUid && !v.contains('$')) {
                if crate::config::ids::find_user(&v).is_none() {
                    return Err(format!("user {v} was not found"));
                }
            } else if (def.ty == Gid || def.ty == ExpandGid && !v.contains('$'))
                && crate::config::ids::find_group(&v).is_none()
            {
                return Err(format!("group {v} was not found"));
            }
            Ok(Value::Id(v))
        }
        UidList | GidList => Ok(Value::Ids(read_string(s, name)?)),
        ExpandBool if s.contains('$') => Ok(Value::Str(read_string(s, name)?)),
        Bool | ExpandBool => {
            if s.is_empty() {
                return Ok(Value::Bool(!negated));
            }
            let w: String = s
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let rest = s[w.len()..].trim_start();
            let v = match w.to_ascii_lowercase().as_str() {
                "true" | "yes" => true,
                "false" | "no" => false,
                _ => {
                    return Err(format!(
                        "\"{w}\" is not a valid value for the \"{name}\" option"
                    ))
                }
            };
            if !rest.is_empty() {
                return Err(extra_chars(
                    rest,
                    &format!("\"{w}\" "),
                    "for boolean option ",
                    name,
                ));
            }
            Ok(Value::Bool(v))
        }
        Int | MkInt | OctInt => {
            let octal = def.ty == OctInt;
            let inttype = if octal { "octal " } else { "" };
            let (mut v, used, mut overflow) =
                strtol(s, octal).ok_or_else(|| format!("{inttype}integer expected for {name}"))?;
            let mut rest = &s[used..];
            if !overflow {
                let mult = match rest.bytes().next() {
                    Some(b'K' | b'k') => 1,
                    Some(b'M' | b'm') => 2,
                    Some(b'G' | b'g') => 3,
                    Some(b'T' | b't') => 4,
                    _ => 0,
                };
                if mult > 0 {
                    rest = &rest[1..];
                    for _ in 0..mult {
                        if v > i64::from(i32::MAX) / 1024 || v < i64::from(i32::MIN) / 1024 {
                            overflow = true;
                            break;
                        }
                        v *= 1024;
                    }
                }
            }
            if overflow || v > i64::from(i32::MAX) || v < i64::from(i32::MIN) {
                return Err(format!(
                    "absolute value of integer \"{s}\" is too large (overflow)"
                ));
            }
            let rest = rest.trim_start();
            if !rest.is_empty() {
                return Err(extra_chars(rest, inttype, "integer value for ", name));
            }
            Ok(Value::Int(v))
        }
        KInt => {
            let (mut v, used, mut overflow) =
                strtol(s, false).ok_or_else(|| format!("integer expected for {name}"))?;
            let mut rest = &s[used..];
            if !overflow && !rest.is_empty() {
                const SUFFIX: &[u8] = b"ZzEePpTtGgMmKk";
                match rest
                    .bytes()
                    .next()
                    .and_then(|c| SUFFIX.iter().position(|x| *x == c))
                {
                    Some(pos) => {
                        rest = &rest[1..];
                        let times = (SUFFIX.len() - pos - 1) / 2;
                        for _ in 0..times {
                            match v.checked_mul(1024) {
                                Some(x) => v = x,
                                None => {
                                    overflow = true;
                                    break;
                                }
                            }
                        }
                    }
                    None => v = (v + 512) / 1024,
                }
            }
            if overflow {
                return Err(format!(
                    "absolute value of integer \"{s}\" is too large (overflow)"
                ));
            }
            let rest = rest.trim_start();
            if !rest.is_empty() {
                return Err(extra_chars(rest, "", "integer value for ", name));
            }
            Ok(Value::Int(v))
        }
        Fixed => {
            let (v, used, overflow) =
                strtol_dec(s).ok_or_else(|| format!("fixed-point number expected for {name}"))?;
            if v < 0 || overflow || v > i64::from(i32::MAX) / 1000 {
                return Err(format!("integer \"{s}\" is too large (overflow)"));
            }
            let mut v = v * 1000;
            let b = s.as_bytes();
            let mut i = used;
            if b.get(i) == Some(&b'.') {
                let mut d = 100;
                i += 1;
                while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
                    v += i64::from(c - b'0') * d;
                    d /= 10;
                    i += 1;
                }
            }
            let rest = s[i..].trim_start();
            if !rest.is_empty() {
                return Err(extra_chars(rest, "fixed-point value for ", name, ""));
            }
            Ok(Value::Int(v))
        }
        Time => read_time(s, false)
            .map(Value::Int)
            .ok_or_else(|| format!("invalid time value for {name}")),
        TimeList => {
            let mut out: Vec<i64> = Vec::new();
            if !s.is_empty() {
                for part in s.split(':') {
                    if out.len() >= 18 {
                        return Err(format!("too many time values for {name}"));
                    }
                    let v = read_time(part.trim(), false)
                        .ok_or_else(|| format!("invalid time value for {name}"))?;
                    if out.last().is_some_and(|l| v <= *l) {
                        return Err(format!("time value out of order for {name}"));
                    }
                    out.push(v);
                }
            }
            if out.first() == Some(&0) {
                out.clear();
            }
            Ok(Value::Times(out))
        }
    }
}

/// `sscanf("%d")`: optional sign, decimal digits.
fn strtol_dec(s: &str) -> Option<(i64, usize, bool)> {
    let t = s.trim_start();
    let skip = s.len() - t.len();
    let b = t.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    let start = i;
    while b.get(i).is_some_and(|c| c.is_ascii_digit()) {
        i += 1;
    }
    if i == start {
        return None;
    }
    match t[..i].parse::<i32>() {
        Ok(v) => Some((v.into(), skip + i, false)),
        Err(_) => Some((0, skip + i, true)),
    }
}

/// Exim's `string_printing`: bytes outside printable ASCII as C escapes (`\n`, `\t`, `\303`).
pub fn printing(s: &str, _allow_tab: bool) -> String {
    let mut out = String::new();
    for &c in s.as_bytes() {
        match c {
            0x20..=0x7e => out.push(c as char),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0b => out.push_str("\\v"),
            0x0c => out.push_str("\\f"),
            c => out.push_str(&format!("\\{c:03o}")),
        }
    }
    out
}

/// One `-bP` line for option `name` holding `v` (`labels = false` for `-n`).
pub fn print_option(def: &OptDef, v: &Value, labels: bool) -> String {
    use OptType::*;
    let name = def.name;
    let lab = |s: String| if labels { format!("{name} = {s}") } else { s };
    match (def.ty, v) {
        (Bool | ExpandBool, Value::Bool(b)) => format!("{}{name}", if *b { "" } else { "no_" }),
        (ExpandBool, Value::Str(s)) => lab(printing(s, false)),
        (Str | Rewrite, Value::Str(s)) => lab(printing(s, true)),
        (Str | Rewrite, _) => lab(String::new()),
        (Int, Value::Int(x)) => lab(x.to_string()),
        (MkInt, Value::Int(x)) => {
            let x = *x;
            if x != 0 && x & 1023 == 0 {
                if (x >> 10) & 1023 == 0 {
                    lab(format!("{}M", x >> 20))
                } else {
                    lab(format!("{}K", x >> 10))
                }
            } else {
                lab(x.to_string())
            }
        }
        (KInt, Value::Int(x)) => {
            let x = *x;
            lab(if x == 0 {
                "0".into()
            } else if x & ((1 << 30) - 1) == 0 {
                format!("{}T", x >> 30)
            } else if x & ((1 << 20) - 1) == 0 {
                format!("{}G", x >> 20)
            } else if x & ((1 << 10) - 1) == 0 {
                format!("{}M", x >> 10)
            } else {
                format!("{x}K")
            })
        }
        (OctInt, Value::Int(x)) => lab(if *x == 0 {
            "0".into()
        } else {
            format!("0{:o}", x)
        }),
        (Fixed, Value::Int(x)) if *x >= 0 => {
            let mut s = format!("{}.", x / 1000);
            let (mut f, mut d) = (x % 1000, 100);
            loop {
                s.push_str(&(f / d).to_string());
                f %= d;
                d /= 10;
                if f == 0 || d == 0 {
                    break;
                }
            }
            lab(s)
        }
        (Fixed, _) => format!("{name} ="),
        (Time, Value::Int(x)) => lab(print_time(*x)),
        (TimeList, Value::Times(l)) => lab(l
            .iter()
            .map(|t| print_time(*t))
            .collect::<Vec<_>>()
            .join(":")),
        (ExpandUid | ExpandGid, Value::Id(s)) if s.contains('$') => lab(printing(s, false)),
        (Uid | ExpandUid, Value::Id(s)) => lab(crate::config::ids::user_name(s)),
        (Gid | ExpandGid, Value::Id(s)) => lab(crate::config::ids::group_name(s)),
        (UidList | GidList, Value::Ids(s)) if !s.is_empty() => {
            let names: Vec<String> = crate::expand::lists::iter(s.as_bytes())
                .map(|i| {
                    let i = String::from_utf8_lossy(&i).into_owned();
                    if def.ty == UidList {
                        crate::config::ids::user_name(&i)
                    } else {
                        crate::config::ids::group_name(&i)
                    }
                })
                .collect();
            if labels {
                format!("{name} = {}", names.join(":"))
            } else {
                names.join(":")
            }
        }
        (UidList | GidList, _) => {
            if labels {
                format!("{name} =")
            } else {
                String::new()
            }
        }
        (_, _) => lab(String::new()),
    }
}

/// The default value of an option, parsed from its table text.
pub fn default_value(def: &OptDef) -> Value {
    use OptType::*;
    if def.default.is_empty() {
        return match def.ty {
            Str | Rewrite | Uid | Gid | ExpandUid | ExpandGid | UidList | GidList | Fixed => {
                Value::Unset
            }
            TimeList => Value::Times(Vec::new()),
            Bool | ExpandBool => Value::Bool(false),
            _ => Value::Int(0),
        };
    }
    match def.ty {
        Str | Rewrite => Value::Str(def.default.to_string()),
        Uid | Gid | ExpandUid | ExpandGid => Value::Id(def.default.to_string()),
        UidList | GidList => Value::Ids(def.default.to_string()),
        Bool | ExpandBool => Value::Bool(def.default == "true"),
        _ => parse_value(def, def.name, def.default, false).unwrap_or(Value::Unset),
    }
}
