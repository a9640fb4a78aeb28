//! Reads ACL text (logical lines) into statements, with Exim's error wording.

use crate::acl::conditions::{self, Kind};
use crate::acl::model::{Acl, Arg, Item, Statement, Verb};
use crate::expand::ast::Span;
use crate::expand::parse;

/// One logical line of ACL text and its byte offset in the source.
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    pub text: &'a str,
    pub offset: usize,
}

/// An error found while reading an ACL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    pub message: String,
    pub span: Span,
}

fn read_name(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    let n = s
        .bytes()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
        .count();
    (&s[..n], s[n..].trim_start())
}

/// Parse the statements of one ACL. Every error is collected, not just the first.
pub fn read_acl(name: &str, lines: &[Line]) -> Result<Acl, Vec<ReadError>> {
    let mut statements: Vec<Statement> = Vec::new();
    let mut errors = Vec::new();
    for line in lines {
        let text = line.text.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let span = Span::new(line.offset, line.offset + line.text.len());
        let err = |m: String| ReadError { message: m, span };
        let (mut negated, mut rest) = match text.strip_prefix('!') {
            Some(r) => (true, r),
            None => (false, text),
        };
        let (mut word, mut after) = read_name(rest);
        if let Some(verb) = Verb::from_name(word) {
            if negated {
                errors.push(err(format!("malformed ACL line \"{text}\"")));
                continue;
            }
            statements.push(Statement {
                verb,
                items: Vec::new(),
                span,
                origin: None,
            });
            if after.is_empty() {
                continue;
            }
            rest = after;
            negated = false;
            if let Some(r) = rest.strip_prefix('!') {
                negated = true;
                rest = r;
            }
            (word, after) = read_name(rest);
        } else if statements.is_empty() {
            errors.push(err(format!("unknown ACL verb \"{word}\" in \"{text}\"")));
            continue;
        }
        let verb = statements.last().map(|s| s.verb).unwrap_or(Verb::Accept);
        match read_item(verb, word, negated, after, span) {
            Ok(item) => statements.last_mut().expect("statement").items.push(item),
            Err(m) => errors.push(err(m.replace("%LINE%", text))),
        }
    }
    if errors.is_empty() {
        Ok(Acl {
            name: name.to_string(),
            statements,
        })
    } else {
        Err(errors)
    }
}

fn read_item(
    verb: Verb,
    word: &str,
    negated: bool,
    after: &str,
    span: Span,
) -> Result<Item, String> {
    let def = conditions::find(word).ok_or("unknown ACL condition/modifier in \"%LINE%\"")?;
    if negated && def.kind == Kind::Modifier {
        return Err(format!(
            "ACL error: negation is not allowed with \"{}\"",
            def.name
        ));
    }
    if def.name == "endpass" {
        if verb != Verb::Accept && verb != Verb::Discard {
            return Err(format!(
                "ACL error: \"endpass\" is not allowed with \"{}\"",
                verb.name()
            ));
        }
        return Ok(Item {
            def,
            negated,
            arg: Arg::None,
            span,
        });
    }
    if def.name == "set" {
        return read_set(after, def, span);
    }
    let value = after
        .strip_prefix('=')
        .ok_or_else(|| {
            let what = if def.kind == Kind::Modifier {
                "modifier"
            } else {
                "condition"
            };
            format!("\"=\" missing after ACL \"{word}\" {what}")
        })?
        .trim_start();
    let arg = if def.expand {
        Arg::Expand(parse(value))
    } else {
        Arg::Raw(value.to_string())
    };
    Ok(Item {
        def,
        negated,
        arg,
        span,
    })
}

fn read_set(after: &str, def: &'static conditions::AclCondDef, span: Span) -> Result<Item, String> {
    let s = after;
    // Exim lets the DKIM ACL overwrite these two verification results.
    for name in ["dkim_verify_status", "dkim_verify_reason"] {
        if let Some(rest) = s.strip_prefix(name) {
            if rest.starts_with(|c: char| c.is_ascii_alphanumeric()) {
                return Err(format!(
                    "invalid variable name after \"set\" in ACL modifier \"set {s}\" (only \"dkim_verify_status\" or \"dkim_verify_reason\" permitted)"
                ));
            }
            let value = rest
                .trim_start()
                .strip_prefix('=')
                .ok_or_else(|| "\"=\" missing after ACL \"set\" modifier".to_string())?
                .trim_start();
            return Ok(Item {
                def,
                negated: false,
                arg: Arg::Set(name.to_string(), parse(value)),
                span,
            });
        }
    }
    if !(s.starts_with("acl_c") || s.starts_with("acl_m")) {
        return Err(format!(
            "invalid variable name after \"set\" in ACL modifier \"set {s}\" (must start \"acl_c\" or \"acl_m\")"
        ));
    }
    let b = s.as_bytes();
    if !(b.get(5).is_some_and(|c| c.is_ascii_digit() || *c == b'_')) {
        return Err(format!(
            "invalid variable name after \"set\" in ACL modifier \"set {s}\" (digit or underscore must follow acl_c or acl_m)"
        ));
    }
    let mut end = 5;
    while end < b.len() && b[end] != b'=' && !b[end].is_ascii_whitespace() {
        if !(b[end].is_ascii_alphanumeric() || b[end] == b'_') {
            return Err(format!(
                "invalid character \"{}\" in variable name in ACL modifier \"set {s}\"",
                b[end] as char
            ));
        }
        end += 1;
    }
    let name = s[..end].to_string();
    let value = s[end..]
        .trim_start()
        .strip_prefix('=')
        .ok_or_else(|| "\"=\" missing after ACL \"set\" modifier".to_string())?
        .trim_start();
    Ok(Item {
        def,
        negated: false,
        arg: Arg::Set(name, parse(value)),
        span,
    })
}

/// Inline ACL text (an `acl_smtp_*` value containing spaces): lines separated by newlines.
pub fn read_inline(text: &str) -> Result<Acl, Vec<ReadError>> {
    let mut lines = Vec::new();
    let mut offset = 0;
    for l in text.split('\n') {
        lines.push(Line { text: l, offset });
        offset += l.len() + 1;
    }
    read_acl("inline", &lines)
}
