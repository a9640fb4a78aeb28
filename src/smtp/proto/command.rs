//! ESMTP parameters of MAIL and RCPT, taken from the end of the argument as Exim does.

/// What the server advertised, which decides the parameters it recognises.
#[derive(Debug, Clone, Copy, Default)]
pub struct Offered {
    pub esmtp: bool,
    pub dsn: bool,
    pub smtputf8: bool,
    pub auth: bool,
    pub eightbitmime: bool,
}

/// The parameters of `MAIL FROM:` and what is left for the address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailArgs {
    /// The text still holding the address (and any parameter not recognised).
    pub rest: Vec<u8>,
    pub size: Option<u64>,
    pub body: Option<Vec<u8>>,
    pub smtputf8: bool,
    /// `PRDR` (any value is ignored, as Exim does).
    pub prdr: bool,
    pub ret: Option<Vec<u8>>,
    pub envid: Option<Vec<u8>>,
    pub auth: Option<Vec<u8>>,
    /// A recognised parameter with a bad value: the 501 text.
    pub error: Option<String>,
}

/// The parameters of `RCPT TO:`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RcptArgs {
    pub rest: Vec<u8>,
    /// `NOTIFY=` as Exim's `rf_notify_*` bits (0 when absent).
    pub notify: u32,
    pub orcpt: Option<Vec<u8>>,
    /// A DSN parameter given twice or with a bad value: the 501 text.
    pub error: Option<String>,
}

/// Exim's recipient DSN flags (`rf_notify_never` ...), as written in `-H` files.
pub const NOTIFY_NEVER: u32 = 0x02;
pub const NOTIFY_SUCCESS: u32 = 0x04;
pub const NOTIFY_FAILURE: u32 = 0x08;
pub const NOTIFY_DELAY: u32 = 0x10;

/// `RET=FULL` / `RET=HDRS` as Exim's `dsn_ret` (`-dsn_ret` in `-H` files).
pub const DSN_RET_FULL: u8 = 1;
pub const DSN_RET_HDRS: u8 = 2;

/// `NOTIFY=` value: `NEVER`, or a comma list of `SUCCESS`, `FAILURE`, `DELAY`.
pub fn parse_notify(value: &[u8]) -> Option<u32> {
    if value.eq_ignore_ascii_case(b"NEVER") {
        return Some(NOTIFY_NEVER);
    }
    let mut flags = 0;
    let mut rest = value;
    while !rest.is_empty() {
        let end = rest.iter().position(|&c| c == b',').unwrap_or(rest.len());
        let word = &rest[..end];
        flags |= if word.eq_ignore_ascii_case(b"SUCCESS") {
            NOTIFY_SUCCESS
        } else if word.eq_ignore_ascii_case(b"FAILURE") {
            NOTIFY_FAILURE
        } else if word.eq_ignore_ascii_case(b"DELAY") {
            NOTIFY_DELAY
        } else {
            return None;
        };
        rest = rest.get(end + 1..).unwrap_or_default();
    }
    Some(flags)
}

/// Take the last ` NAME=VALUE` (or ` NAME`) off `text`, as Exim's `extract_option`.
fn extract_option(text: &mut Vec<u8>) -> Option<(Vec<u8>, Vec<u8>)> {
    while text.last().is_some_and(|c| c.is_ascii_whitespace()) {
        text.pop();
    }
    if text.is_empty() {
        return None;
    }
    let mut v = text.len() - 1;
    while v > 0 && text[v] != b'=' && !text[v].is_ascii_whitespace() {
        if text[v] == b'"' {
            loop {
                v = v.checked_sub(1)?;
                if v == 0 || text[v] == b'"' {
                    break;
                }
            }
            if v == 0 {
                return None;
            }
        }
        v -= 1;
    }
    if v == 0 {
        return None;
    }
    let (name, value, cut);
    if text[v] == b'=' {
        let mut n = v;
        while n > 0 && text[n - 1].is_ascii_alphabetic() {
            n -= 1;
        }
        if n == 0 || !text[n - 1].is_ascii_whitespace() {
            return None;
        }
        name = text[n..v].to_vec();
        value = text[v + 1..].to_vec();
        cut = n - 1;
    } else {
        name = text[v + 1..].to_vec();
        value = Vec::new();
        cut = v;
    }
    text.truncate(cut);
    Some((name, value))
}

/// Split `MAIL FROM:` argument text into the address and the parameters, as Exim 4.96
/// does: an unknown parameter stops the scan and stays with the address (so the address
/// parser reports it); a known one with a value Exim cannot use stops the scan but is
/// removed; DSN parameters when DSN was not offered are dropped silently.
pub fn parse_mail_args(arg: &[u8], offered: Offered) -> MailArgs {
    let mut out = MailArgs::default();
    let mut text = arg.to_vec();
    if !offered.esmtp {
        out.rest = text;
        return out;
    }
    loop {
        let save = text.clone();
        let Some((name, value)) = extract_option(&mut text) else {
            break;
        };
        let n = name.to_ascii_uppercase();
        let needs_value = matches!(
            n.as_slice(),
            b"SIZE" | b"BODY" | b"AUTH" | b"RET" | b"ENVID"
        );
        let known = needs_value || matches!(n.as_slice(), b"PRDR" | b"SMTPUTF8");
        if !known {
            text = save;
            break;
        }
        if needs_value && value.is_empty() {
            break;
        }
        let err = |m: &str| Some(m.to_string());
        match n.as_slice() {
            b"SIZE" => match std::str::from_utf8(&value)
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
            {
                Some(s) => out.size = Some(s.min(i32::MAX as u64)),
                None => break,
            },
            b"BODY" => {
                if !offered.eightbitmime {
                    break;
                }
                let v = value.to_ascii_uppercase();
                if v == b"7BIT" || v == b"8BITMIME" {
                    out.body = Some(v);
                } else {
                    out.error = err("invalid data for BODY");
                    break;
                }
            }
            b"AUTH" => out.auth = Some(value),
            b"RET" if offered.dsn => {
                let v = value.to_ascii_uppercase();
                if out.ret.is_some() {
                    out.error = err("RET can be specified once only");
                    break;
                }
                if v != b"HDRS" && v != b"FULL" {
                    out.error = err("Value for RET is invalid");
                    break;
                }
                out.ret = Some(v);
            }
            b"ENVID" if offered.dsn => {
                if out.envid.is_some() {
                    out.error = err("ENVID can be specified once only");
                    break;
                }
                out.envid = Some(value);
            }
            b"PRDR" => out.prdr = true,
            b"SMTPUTF8" => {
                if !offered.smtputf8 {
                    out.error = err("SMTPUTF8 used when not advertised");
                    break;
                }
                out.smtputf8 = true;
            }
            _ => {}
        }
    }
    out.rest = text;
    out
}

/// Split `RCPT TO:` argument text into the address and the DSN parameters, as Exim 4.96:
/// without DSN advertised (or after HELO) `NOTIFY`/`ORCPT` stay with the address.
pub fn parse_rcpt_args(arg: &[u8], offered: Offered) -> RcptArgs {
    let mut out = RcptArgs::default();
    let mut text = arg.to_vec();
    if !offered.esmtp {
        out.rest = text;
        return out;
    }
    loop {
        let save = text.clone();
        let Some((name, value)) = extract_option(&mut text) else {
            break;
        };
        let name = name.to_ascii_uppercase();
        if offered.dsn && name == b"ORCPT" {
            if out.orcpt.is_some() {
                out.error = Some("ORCPT can be specified once only".into());
                break;
            }
            out.orcpt = Some(value);
        } else if offered.dsn && name == b"NOTIFY" {
            if out.notify > 0 {
                out.error = Some("NOTIFY can be specified once only".into());
                break;
            }
            match parse_notify(&value) {
                Some(f) => out.notify = f,
                None => {
                    out.error = Some("Invalid value for NOTIFY parameter".into());
                    break;
                }
            }
        } else {
            text = save;
            break;
        }
    }
    out.rest = text;
    out
}

/// `BDAT n [LAST]`: the size and whether this is the last chunk.
pub fn parse_bdat(arg: &[u8]) -> Option<(usize, bool)> {
    let s = std::str::from_utf8(arg).ok()?;
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let n: usize = s[..digits].parse().ok()?;
    let rest = s[digits..].trim_start();
    Some((n, rest.eq_ignore_ascii_case("LAST")))
}
