//! `begin rewrite`: rules read as Exim's `readconf_one_rewrite`, kept typed (the replacement
//! parsed once) for the rewriting code and `-brw`.

use super::options::dequote;
use crate::expand::Expansion;

/// Which addresses a rule applies to, and how (Exim's `rewrite_*` bits).
pub mod flags {
    pub const SENDER: u32 = 0x0001;
    pub const FROM: u32 = 0x0002;
    pub const TO: u32 = 0x0004;
    pub const CC: u32 = 0x0008;
    pub const BCC: u32 = 0x0010;
    pub const REPLY_TO: u32 = 0x0020;
    pub const ALL_HEADERS: u32 = 0x003F;
    pub const ENV_FROM: u32 = 0x0040;
    pub const ENV_TO: u32 = 0x0080;
    pub const ALL_ENVELOPE: u32 = 0x00C0;
    pub const ALL: u32 = ALL_HEADERS | ALL_ENVELOPE;
    pub const SMTP: u32 = 0x0100;
    pub const QUALIFY: u32 = 0x0400;
    pub const REPEAT: u32 = 0x0800;
    pub const WHOLE: u32 = 0x1000;
    pub const QUIT: u32 = 0x2000;
}

/// One line of the rewrite section.
#[derive(Debug, Clone)]
pub struct RewriteRule {
    /// An address-list item (or a regex starting `^` for `S` rules).
    pub pattern: String,
    pub replacement: String,
    /// The replacement, parsed once (`None` for the literal `*`, which means "leave it").
    pub expansion: Option<Expansion>,
    pub flags: u32,
    pub span: super::Span,
}

fn flag_bit(c: char) -> Option<u32> {
    use flags::*;
    Some(match c {
        'q' => QUIT,
        'w' => WHOLE,
        'h' => ALL_HEADERS,
        's' => SENDER,
        'f' => FROM,
        't' => TO,
        'c' => CC,
        'b' => BCC,
        'r' => REPLY_TO,
        'E' => ALL_ENVELOPE,
        'F' => ENV_FROM,
        'T' => ENV_TO,
        'Q' => QUALIFY,
        'R' => REPEAT,
        'S' => SMTP,
        _ => return None,
    })
}

/// Parse one rule. `global` is true in the rewrite section (rules without address flags
/// then apply everywhere); transports' `headers_rewrite` rules default to headers only.
pub fn parse_rule(text: &str, global: bool, span: super::Span) -> Result<RewriteRule, String> {
    let (pattern, rest) = dequote(text);
    let rest = rest.trim_start();
    if rest.is_empty() {
        return Err("missing rewrite replacement string".into());
    }
    let (replacement, rest) = dequote(rest);
    let mut bits = 0;
    for c in rest.chars() {
        if c == ' ' || c == '\t' {
            continue;
        }
        let Some(bit) = flag_bit(c) else {
            return Err(format!(
                "unknown rewrite flag character '{c}' (could be missing quotes round replacement item)"
            ));
        };
        if bit == flags::SMTP && !pattern.starts_with('^') && !pattern.starts_with("\\N^") {
            return Err("rewrite rule has the S flag but is not a regular expression".into());
        }
        bits |= bit;
    }
    if bits & (flags::ALL | flags::SMTP) == 0 {
        bits |= if global {
            flags::ALL
        } else {
            flags::ALL_HEADERS
        };
    }
    let expansion = (replacement != "*").then(|| crate::expand::parse(&replacement));
    Ok(RewriteRule {
        pattern,
        replacement,
        expansion,
        flags: bits,
        span,
    })
}

/// A transport's `headers_rewrite`: a list of rules that may rewrite headers only, read at
/// load time as Exim does.
pub fn check_header_rewrites(rules: &str) -> Result<(), String> {
    let mut all = 0;
    for item in crate::expand::lists::iter(rules.as_bytes()) {
        let text = String::from_utf8_lossy(&item);
        all |= parse_rule(&text, false, super::Span::default())?.flags;
    }
    if all & (flags::ALL_ENVELOPE | flags::SMTP) != 0 {
        return Err(
            "rewrite rule specifies a non-header rewrite - not allowed at transport time -".into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(s: &str) -> Result<RewriteRule, String> {
        parse_rule(s, true, super::super::Span::default())
    }

    #[test]
    fn rules() {
        let r = rule("*@old.example  $1@new.example  Ffr").unwrap();
        assert_eq!(r.pattern, "*@old.example");
        assert_eq!(r.flags, flags::ENV_FROM | flags::FROM | flags::REPLY_TO);
        assert_eq!(rule("a b").unwrap().flags, flags::ALL);
        assert_eq!(
            parse_rule("a b", false, Default::default()).unwrap().flags,
            flags::ALL_HEADERS
        );
        let r = rule("\"a b\" \"c d\" q").unwrap();
        assert_eq!((r.pattern.as_str(), r.replacement.as_str()), ("a b", "c d"));
        assert_eq!(r.flags, flags::QUIT | flags::ALL);
        assert!(rule("^x y S").is_ok());
        assert!(rule("x y S").is_err());
        assert!(rule("x").is_err());
        assert!(rule("x y z").is_err());
        assert!(rule("x *").unwrap().expansion.is_none());
    }
}
