//! One AUTH dialogue in progress, whichever driver runs it: the session starts it,
//! sends each `334` prompt and feeds back the client's answers.

use super::{cram_md5, plaintext, Authenticator, Driver, Items, Step};
use crate::expand::Context;

#[derive(Debug, Clone)]
pub enum Exchange {
    Plaintext(plaintext::Exchange),
    CramMd5(cram_md5::Exchange),
}

impl Exchange {
    /// Begin with the AUTH command's data (after the mechanism; may be empty).
    pub fn start(au: &Authenticator, data: &[u8], ctx: &mut Context) -> (Exchange, Step) {
        match au.driver {
            Driver::Plaintext => {
                let (x, step) = plaintext::Exchange::start(au, data, ctx);
                (Exchange::Plaintext(x), step)
            }
            Driver::CramMd5 => {
                let (x, step) = cram_md5::Exchange::start(data, ctx);
                (Exchange::CramMd5(x), step)
            }
        }
    }

    /// The client's answer to the last prompt (the line without its CRLF).
    pub fn answer(&mut self, au: &Authenticator, line: &[u8], ctx: &mut Context) -> Step {
        match self {
            Exchange::Plaintext(x) => x.answer(au, line, ctx),
            Exchange::CramMd5(x) => x.answer(au, line, ctx),
        }
    }

    /// `$auth1..` / `$1..` for `server_set_id` after the exchange.
    pub fn items(&self) -> &Items {
        match self {
            Exchange::Plaintext(x) => &x.items,
            Exchange::CramMd5(x) => &x.items,
        }
    }
}
