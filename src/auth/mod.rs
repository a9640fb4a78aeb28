//! Server-side SMTP authenticators (`begin authenticators`): their settings and the checks
//! Exim's drivers share (`server_condition`, `server_set_id`, `$auth<n>`/`$<n>`).
//!
//! The `plaintext` and `cram_md5` drivers have server sides; other drivers are refused
//! with a named error when the session configuration is built, and client-only instances
//! are ignored (rexim does not deliver yet). [`Exchange`] runs either driver's dialogue.

pub mod cram_md5;
pub mod exchange;
pub mod plaintext;

pub use exchange::Exchange;

use crate::expand::{parse, Context, Eval, Expansion, Val};
use crate::ErrorKind;

/// `EXPAND_MAXN`: the most `$<n>` values an authenticator collects.
pub const EXPAND_MAXN: usize = 20;
/// `AUTH_VARS`: `$auth1`..`$auth4`.
pub const AUTH_VARS: usize = 4;

/// The driver of an authenticator instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    Plaintext,
    CramMd5,
}

/// One `begin authenticators` instance with a server side.
#[derive(Debug, Clone)]
pub struct Authenticator {
    /// The instance name (`$sender_host_authenticated`, the `A=` log element).
    pub name: String,
    pub driver: Driver,
    /// The SASL mechanism (`public_name`, default the instance name); matched caselessly.
    pub public_name: String,
    pub server_condition: Option<Expansion>,
    pub server_set_id: Option<Expansion>,
    pub server_advertise_condition: Option<Expansion>,
    pub server_mail_auth_condition: Option<Expansion>,
    /// `plaintext`: the prompts sent for data not given on the AUTH command.
    pub server_prompts: Option<Expansion>,
    /// `cram_md5`: the user's shared secret, expanded with `$auth1` = the user name.
    pub server_secret: Option<Expansion>,
}

/// What the session does next in an exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send `334 <base64 of this>` and read one line.
    Prompt(Vec<u8>),
    Done(Outcome),
}

/// The result of a server exchange, as Exim's driver return codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Fail,
    /// Temporary failure: the text for the log (`auth_defer_msg`) and, when the condition
    /// gave a text, for the client (`auth_defer_user_msg`).
    Defer {
        log: String,
        user: Option<String>,
    },
    Bad64,
    Cancelled,
    /// Data came with the AUTH command where the mechanism takes none (cram_md5).
    Unexpected,
}

/// A string option of a driver instance, `None` when not set.
fn option(d: &crate::config::Driver, name: &str) -> Option<String> {
    use crate::config::Value;
    match d.options.get(name).map(|s| &s.value) {
        Some(Value::Str(s)) | Some(Value::Id(s)) | Some(Value::Ids(s)) => Some(s.clone()),
        _ => None,
    }
}

/// The server-side authenticators of a configuration, in configuration order.
pub fn from_config(cfg: &crate::config::Config) -> Result<Vec<Authenticator>, Vec<String>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for d in &cfg.authenticators {
        let parsed = |name: &str| option(d, name).map(|s| parse(&s));
        match d.driver.as_deref() {
            Some("plaintext") => {
                let Some(cond) = parsed("server_condition") else {
                    continue; // client-only: no server side
                };
                out.push(Authenticator {
                    name: d.name.clone(),
                    driver: Driver::Plaintext,
                    public_name: option(d, "public_name").unwrap_or_else(|| d.name.clone()),
                    server_condition: Some(cond),
                    server_set_id: parsed("server_set_id"),
                    server_advertise_condition: parsed("server_advertise_condition"),
                    server_mail_auth_condition: parsed("server_mail_auth_condition"),
                    server_prompts: parsed("server_prompts"),
                    server_secret: None,
                });
            }
            Some("cram_md5") => {
                let Some(secret) = parsed("server_secret") else {
                    continue; // client-only: no server side
                };
                out.push(Authenticator {
                    name: d.name.clone(),
                    driver: Driver::CramMd5,
                    public_name: option(d, "public_name").unwrap_or_else(|| d.name.clone()),
                    server_condition: parsed("server_condition"),
                    server_set_id: parsed("server_set_id"),
                    server_advertise_condition: parsed("server_advertise_condition"),
                    server_mail_auth_condition: parsed("server_mail_auth_condition"),
                    server_prompts: None,
                    server_secret: Some(secret),
                });
            }
            other => errors.push(format!(
                "authenticator \"{}\": driver {:?} is not supported by rexim",
                d.name,
                other.unwrap_or("")
            )),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// The data items of one exchange: `$auth1..` and `$1..` while the checks run.
#[derive(Debug, Clone, Default)]
pub struct Items(pub Vec<Vec<u8>>);

impl Items {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Split decoded data at NULs into further items, as Exim's `auth_read_input`
    /// (`at_least_one`: `auth_prompt` always adds one item, even for empty data).
    pub fn push_split(&mut self, data: &[u8], at_least_one: bool) {
        if data.is_empty() {
            if at_least_one && self.0.len() < EXPAND_MAXN {
                self.0.push(Vec::new());
            }
            return;
        }
        let mut rest = data;
        while !rest.is_empty() && self.0.len() < EXPAND_MAXN {
            let end = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
            self.0.push(rest[..end].to_vec());
            rest = rest.get(end + 1..).unwrap_or_default();
        }
    }

    /// Expand `e` with `$auth<n>` and `$<n>` set to the items (`$0` empty).
    pub fn expand(&self, e: &Expansion, ctx: &mut Context) -> crate::error::ExpResult<Val> {
        for n in 1..=AUTH_VARS {
            match self.0.get(n - 1) {
                Some(v) => {
                    ctx.set(&format!("auth{n}"), Val::tainted(v.clone()));
                }
                None => ctx.unset(&format!("auth{n}")),
            }
        }
        let result = {
            let mut ev = Eval::new(ctx);
            ev.captures = std::iter::once(Val::default())
                .chain(self.0.iter().map(|v| Val::tainted(v.clone())))
                .collect();
            ev.seq(&e.body)
        };
        for n in 1..=AUTH_VARS {
            ctx.unset(&format!("auth{n}"));
        }
        result
    }
}

/// Exim's `auth_check_some_cond`: expand a condition; empty/`0`/`no`/`false` fail,
/// `1`/`yes`/`true` pass, a forced failure fails, anything else defers.
pub fn check_condition(e: &Expansion, items: &Items, ctx: &mut Context) -> Outcome {
    let r = items.expand(e, ctx);
    if let Some(t) = ctx.trace.as_mut() {
        match &r {
            Ok(v) => t.plain(&format!("expanded string: {}", v.as_str_lossy())),
            Err(err) => t.plain(&format!("expansion failed: {}", err.message)),
        }
    }
    let v = match r {
        Ok(v) => v,
        Err(err) if err.kind == ErrorKind::Forced => return Outcome::Fail,
        Err(err) => {
            return Outcome::Defer {
                log: err.into_message(),
                user: None,
            }
        }
    };
    let text = String::from_utf8_lossy(&v.bytes).into_owned();
    let lower = text.to_ascii_lowercase();
    if text.is_empty() || text == "0" || lower == "no" || lower == "false" {
        Outcome::Fail
    } else if text == "1" || lower == "yes" || lower == "true" {
        Outcome::Ok
    } else {
        Outcome::Defer {
            log: text.clone(),
            user: Some(text),
        }
    }
}

/// Exim's `expand_check_condition` for `server_advertise_condition` and
/// `server_mail_auth_condition`: true unless the result is empty, `0`, `no` or `false`;
/// an expansion failure counts as false.
pub fn condition_true(e: &Expansion, ctx: &mut Context) -> bool {
    match crate::expand::expand(e, ctx) {
        Ok(v) => {
            let t = String::from_utf8_lossy(&v.bytes).to_ascii_lowercase();
            !(t.is_empty() || t == "0" || t == "no" || t == "false")
        }
        Err(_) => false,
    }
}

/// RFC 3461 xtext (`AUTH=` on MAIL): `+XX` hex escapes; `None` for bad input, as Exim's
/// `auth_xtextdecode` (no byte below 33, above 127, or `=`).
pub fn xtext_decode(code: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(code.len());
    let mut i = 0;
    while i < code.len() {
        let c = code[i];
        if !(33..=127).contains(&c) || c == b'=' {
            return None;
        }
        if c == b'+' {
            let hex = code.get(i + 1..i + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests;
