//! The `plaintext` server (PLAIN, LOGIN and the like): data from the AUTH command, then one
//! `334` prompt per `server_prompts` item not yet answered, then `server_condition`.
//!
//! Sans-IO: [`Exchange::start`] and [`Exchange::answer`] return the next [`Step`]; the session
//! sends the prompt and feeds back the client's line.

pub use super::Step;
use super::{check_condition, Authenticator, Items, Outcome, EXPAND_MAXN};
use crate::expand::operators::codecs::decode64;
use crate::expand::{expand, Context};

/// One plaintext exchange in progress.
#[derive(Debug, Clone, Default)]
pub struct Exchange {
    prompts: Vec<Vec<u8>>,
    /// Index of the next prompt to consider (Exim's `number - 1`).
    next: usize,
    pub items: Items,
}

impl Exchange {
    /// Begin with the AUTH command's data (after the mechanism; may be empty).
    pub fn start(au: &Authenticator, data: &[u8], ctx: &mut Context) -> (Exchange, Step) {
        let mut x = Exchange::default();
        if let Some(p) = &au.server_prompts {
            match expand(p, ctx) {
                Ok(v) => {
                    x.prompts = crate::expand::lists::iter(&v.bytes)
                        .map(|i| i.to_vec())
                        .collect()
                }
                Err(e) => {
                    let step = Step::Done(Outcome::Defer {
                        log: e.into_message(),
                        user: None,
                    });
                    return (x, step);
                }
            }
        }
        if !data.is_empty() {
            if data == b"=" {
                x.items.0.push(Vec::new());
            } else {
                match decode64(data) {
                    Some(clear) => x.items.push_split(&clear, false),
                    None => return (x, Step::Done(Outcome::Bad64)),
                }
            }
        }
        let step = x.advance(au, ctx);
        (x, step)
    }

    /// The client's answer to the last prompt (the line without its CRLF).
    pub fn answer(&mut self, au: &Authenticator, line: &[u8], ctx: &mut Context) -> Step {
        if line == b"*" {
            return Step::Done(Outcome::Cancelled);
        }
        match decode64(line) {
            Some(clear) => self.items.push_split(&clear, true),
            None => return Step::Done(Outcome::Bad64),
        }
        self.advance(au, ctx)
    }

    /// Prompt for the first item not yet given, or check the condition.
    fn advance(&mut self, au: &Authenticator, ctx: &mut Context) -> Step {
        while self.next < self.prompts.len() && self.items.len() < EXPAND_MAXN {
            let i = self.next;
            self.next += 1;
            if i + 1 > self.items.len() {
                return Step::Prompt(self.prompts[i].clone());
            }
        }
        match &au.server_condition {
            Some(c) => {
                if ctx.tracing() {
                    trace_items(&au.name, &self.items, ctx);
                }
                Step::Done(check_condition(c, &self.items, ctx))
            }
            None => Step::Done(Outcome::Ok),
        }
    }
}

/// The `-bh` trace Exim prints before checking `server_condition`: the driver and the
/// `$auth<n>` and `$<n>` values.
fn trace_items(name: &str, items: &crate::auth::Items, ctx: &mut Context) {
    let Some(t) = ctx.trace.as_mut() else {
        return;
    };
    t.plain(&format!("{name} authenticator server_condition:"));
    for (i, v) in items.0.iter().take(crate::auth::AUTH_VARS).enumerate() {
        t.plain(&format!(
            "  $auth{} = {}",
            i + 1,
            String::from_utf8_lossy(v)
        ));
    }
    for (i, v) in items.0.iter().enumerate() {
        t.plain(&format!("  ${} = {}", i + 1, String::from_utf8_lossy(v)));
    }
}
