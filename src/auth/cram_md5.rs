//! The `cram_md5` server (RFC 2195): a `334` challenge `<pid.time@primary_hostname>`, then
//! the client's `user digest`; `server_secret` is expanded with `$auth1`/`$1` = the user
//! name and the HMAC-MD5 of the challenge under it must equal the digest. Then
//! `server_condition`, if set, authorises. Sans-IO like `plaintext`.

use hmac::{Hmac, Mac};

use super::{check_condition, Authenticator, Items, Outcome, Step};
use crate::expand::operators::codecs::decode64;
use crate::expand::Context;
use crate::ErrorKind;

/// One CRAM-MD5 exchange: the challenge sent, and the user name once answered.
#[derive(Debug, Clone, Default)]
pub struct Exchange {
    challenge: Vec<u8>,
    pub items: Items,
}

/// The challenge as Exim builds it: `<pid.time@primary_hostname>`.
pub fn challenge(ctx: &mut Context) -> Vec<u8> {
    let host = crate::listmatch::string::primary_hostname(ctx);
    let mut c = format!("<{}.{}@", std::process::id(), ctx.now()).into_bytes();
    c.extend_from_slice(&host);
    c.push(b'>');
    c
}

/// HMAC-MD5 of `challenge` keyed by `secret` (RFC 2104 hashes keys over 64 bytes first).
pub fn digest(secret: &[u8], challenge: &[u8]) -> [u8; 16] {
    let mut m =
        <Hmac<md5::Md5> as hmac::digest::KeyInit>::new_from_slice(secret).expect("any key length");
    m.update(challenge);
    m.finalize().into_bytes().into()
}

/// Exim compares the 32 received characters as lower-case hex with plain arithmetic, so
/// upper-case digits never match: mirror it byte for byte.
fn digest_matches(hex: &[u8], digest: &[u8; 16]) -> bool {
    let nibble = |c: u8| -> i32 {
        if c >= b'a' {
            i32::from(c) - i32::from(b'a') + 10
        } else {
            i32::from(c) - i32::from(b'0')
        }
    };
    hex.chunks(2)
        .zip(digest)
        .all(|(p, &d)| (nibble(p[0]) << 4) + nibble(p[1]) == i32::from(d))
}

/// C `isspace` in the "C" locale.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

impl Exchange {
    /// Begin: no data may come with the AUTH command (`553 Initial data not expected`).
    pub fn start(data: &[u8], ctx: &mut Context) -> (Exchange, Step) {
        if !data.is_empty() {
            return (Exchange::default(), Step::Done(Outcome::Unexpected));
        }
        let challenge = challenge(ctx);
        let step = Step::Prompt(challenge.clone());
        (
            Exchange {
                challenge,
                items: Items::default(),
            },
            step,
        )
    }

    /// Begin with a given challenge (tests that need a known one).
    pub fn with_challenge(challenge: &[u8]) -> Exchange {
        Exchange {
            challenge: challenge.to_vec(),
            items: Items::default(),
        }
    }

    /// The client's `base64(user SP hexdigest)`, or `*` to cancel.
    pub fn answer(&mut self, au: &Authenticator, line: &[u8], ctx: &mut Context) -> Step {
        if line == b"*" {
            return Step::Done(Outcome::Cancelled);
        }
        let Some(clear) = decode64(line) else {
            return Step::Done(Outcome::Bad64);
        };
        // The text up to the first NUL is what Exim's C string holds.
        let clear = match clear.iter().position(|&c| c == 0) {
            Some(n) => clear[..n].to_vec(),
            None => clear,
        };
        let Some(space) = clear.iter().position(|&c| is_space(c)) else {
            self.items = Items(vec![clear]);
            return Step::Done(Outcome::Fail);
        };
        self.items = Items(vec![clear[..space].to_vec()]);
        let hex = &clear[space + 1..];
        if hex.len() != 32 {
            return Step::Done(Outcome::Fail);
        }
        let Some(secret_exp) = &au.server_secret else {
            return Step::Done(Outcome::Fail);
        };
        let secret = match self.items.expand(secret_exp, ctx) {
            Ok(v) => v.bytes,
            Err(e) if e.kind == ErrorKind::Forced => return Step::Done(Outcome::Fail),
            Err(e) => {
                return Step::Done(Outcome::Defer {
                    log: e.into_message(),
                    user: None,
                })
            }
        };
        let expected = digest(&secret, &self.challenge);
        trace_exchange(&self.items.0[0], &self.challenge, hex, &expected, ctx);
        if !digest_matches(hex, &expected) {
            return Step::Done(Outcome::Fail);
        }
        match &au.server_condition {
            Some(c) => Step::Done(check_condition(c, &self.items, ctx)),
            None => Step::Done(Outcome::Ok),
        }
    }
}

/// The `-bh` trace Exim prints once the secret is known: user, challenge, the client's
/// digest and the one expected.
fn trace_exchange(user: &[u8], challenge: &[u8], got: &[u8], want: &[u8; 16], ctx: &mut Context) {
    let Some(t) = ctx.trace.as_mut() else {
        return;
    };
    let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let want: String = want.iter().map(|b| format!("{b:02x}")).collect();
    t.plain(&format!("CRAM-MD5: user name = {}", lossy(user)));
    t.plain(&format!("          challenge = {}", lossy(challenge)));
    t.plain(&format!("          received  = {}", lossy(got)));
    t.plain(&format!("          digest    = {want}"));
}
