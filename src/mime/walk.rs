//! Walking a message's MIME structure in Exim's order (`mime_acl_check`): the message
//! itself is part 0, then each part of a multipart entity, depth first; `message/rfc822`
//! parts are decoded and queued for a pass of their own. Nesting depth and the number of
//! parts are bounded, so hostile input cannot exhaust the stack or run forever.

use crate::mime::decode::{decode_part, is_boundary, next_line};
use crate::mime::header::{read_part_headers, PartHeaders, MAX_HEADER};

/// Deepest multipart nesting followed.
pub const MAX_DEPTH: u32 = 64;
/// Most parts (all passes together) handed to the visitor.
pub const MAX_PARTS: u32 = 10_000;
/// Most `message/rfc822` parts queued for a pass (Exim's limit of 128 files).
pub const MAX_RFC822: usize = 128;
/// Decoded `message/rfc822` parts may hold at most this many times the size of the
/// message (nested ones are decoded again for each level).
pub const RFC822_BUDGET_FACTOR: usize = 4;

/// One part as the MIME ACL sees it.
#[derive(Debug, Clone)]
pub struct Part {
    pub headers: PartHeaders,
    /// `$mime_part_count`: 0 for the message itself.
    pub count: u32,
    pub is_multipart: bool,
    pub is_coverletter: bool,
    /// Where the part's body starts in the data, and the boundary that ends it.
    pub body: usize,
    pub boundary: Option<Vec<u8>>,
}

/// What the visitor wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

/// The structure exceeds a bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Limit {
    TooDeep,
    TooManyParts,
    TooMuchRfc822,
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Limit::TooDeep => write!(f, "MIME parts nested more than {MAX_DEPTH} deep"),
            Limit::TooManyParts => write!(f, "more than {MAX_PARTS} MIME parts"),
            Limit::TooMuchRfc822 => write!(
                f,
                "message/rfc822 parts larger than {RFC822_BUDGET_FACTOR} times the message"
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    Attachment,
    CoverletterAll,
    CoverletterOneshot,
}

struct Level {
    boundary: Vec<u8>,
    context: Context,
}

/// The state of a walk over one message (and its `message/rfc822` parts).
#[derive(Debug, Default)]
pub struct Walk {
    /// Parts visited, over all passes.
    pub visited: u32,
    /// Decoded `message/rfc822` parts waiting for their own pass.
    pub rfc822: std::collections::VecDeque<Vec<u8>>,
    queued: usize,
    /// Bytes of decoded `message/rfc822` parts still allowed (set by the first pass).
    budget: Option<usize>,
}

impl Walk {
    /// One pass over `data` (a message or a decoded `message/rfc822` part), calling
    /// `visit` for each part; stops when it says so.
    pub fn pass(
        &mut self,
        data: &[u8],
        visit: &mut dyn FnMut(&Part) -> Flow,
    ) -> Result<Flow, Limit> {
        let mut pos = 0;
        let mut count = 0u32;
        if self.budget.is_none() {
            self.budget = Some(data.len().saturating_mul(RFC822_BUDGET_FACTOR));
        }
        self.level(data, &mut pos, None, 0, &mut count, visit)
    }

    fn level(
        &mut self,
        data: &[u8],
        pos: &mut usize,
        mut ctx: Option<&mut Level>,
        depth: u32,
        count: &mut u32,
        visit: &mut dyn FnMut(&Part) -> Flow,
    ) -> Result<Flow, Limit> {
        loop {
            if let Some(c) = ctx.as_deref() {
                // Advance to the next boundary line; the end boundary ends this level.
                loop {
                    let Some(line) = next_line(data, pos, MAX_HEADER - 1) else {
                        return Ok(Flow::Continue);
                    };
                    if is_boundary(line, &c.boundary) {
                        if line[2 + c.boundary.len()..].starts_with(b"--") {
                            return Ok(Flow::Continue);
                        }
                        break;
                    }
                }
            }
            let headers = read_part_headers(data, pos);
            let content_type = headers.content_type.clone().unwrap_or_default();
            let is_multipart = content_type.starts_with(b"multipart");
            self.visited += 1;
            if self.visited > MAX_PARTS {
                return Err(Limit::TooManyParts);
            }
            let part = Part {
                is_coverletter: !ctx
                    .as_deref()
                    .is_some_and(|c| c.context == Context::Attachment),
                boundary: ctx.as_deref().map(|c| c.boundary.clone()),
                headers,
                count: *count,
                is_multipart,
                body: *pos,
            };
            *count += 1;
            if visit(&part) == Flow::Stop {
                return Ok(Flow::Stop);
            }
            match &part.headers.boundary {
                Some(b) if is_multipart => {
                    if depth + 1 > MAX_DEPTH {
                        return Err(Limit::TooDeep);
                    }
                    let parent = ctx.as_deref().map(|c| c.context);
                    let context = if parent == Some(Context::Attachment) {
                        Context::Attachment
                    } else if content_type == b"multipart/alternative"
                        || content_type == b"multipart/related"
                    {
                        Context::CoverletterAll
                    } else {
                        Context::CoverletterOneshot
                    };
                    let mut nested = Level {
                        boundary: b.clone(),
                        context,
                    };
                    if self.level(data, pos, Some(&mut nested), depth + 1, count, visit)?
                        == Flow::Stop
                    {
                        return Ok(Flow::Stop);
                    }
                }
                _ if content_type.starts_with(b"message/rfc822") && self.queued < MAX_RFC822 => {
                    self.queued += 1;
                    let enc = part.headers.content_transfer_encoding.as_deref();
                    let (body, _) = decode_part(data, *pos, part.boundary.as_deref(), enc);
                    let left = self.budget.unwrap_or(0);
                    if body.len() > left {
                        return Err(Limit::TooMuchRfc822);
                    }
                    self.budget = Some(left - body.len());
                    self.rfc822.push_back(body);
                }
                _ => {}
            }
            let Some(c) = ctx.as_deref_mut() else {
                return Ok(Flow::Continue);
            };
            if c.context == Context::CoverletterOneshot {
                c.context = Context::Attachment;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(data: &str) -> Vec<(u32, String, bool, bool)> {
        let mut out = Vec::new();
        let mut w = Walk::default();
        w.pass(data.as_bytes(), &mut |p| {
            let ct = String::from_utf8_lossy(p.headers.content_type.as_deref().unwrap_or_default())
                .into_owned();
            out.push((p.count, ct, p.is_multipart, p.is_coverletter));
            Flow::Continue
        })
        .unwrap();
        out
    }

    #[test]
    fn nested_multiparts_in_exim_order() {
        let msg = "Content-Type: multipart/mixed; boundary=A\n\n--A\nContent-Type: multipart/alternative; boundary=B\n\n--B\nContent-Type: text/plain\n\nx\n--B\nContent-Type: text/html\n\ny\n--B--\n--A\nContent-Type: image/png\n\nz\n--A--\n";
        assert_eq!(
            parts(msg),
            vec![
                (0, "multipart/mixed".into(), true, true),
                (1, "multipart/alternative".into(), true, true),
                (2, "text/plain".into(), false, true),
                (3, "text/html".into(), false, true),
                (4, "image/png".into(), false, false),
            ]
        );
    }

    #[test]
    fn hostile_nesting_is_bounded() {
        let mut msg = String::new();
        for i in 0..(MAX_DEPTH + 5) {
            msg.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\n"
            ));
        }
        let mut w = Walk::default();
        let r = w.pass(msg.as_bytes(), &mut |_| Flow::Continue);
        assert_eq!(r, Err(Limit::TooDeep));
    }

    #[test]
    fn arbitrary_input_walks_to_an_end() {
        // Pseudo-random mixes of MIME syntax: every walk ends, within the bounds, and
        // every part starts inside the data.
        let pieces: &[&[u8]] = &[
            b"Content-Type: multipart/mixed; boundary=a\n",
            b"Content-Type: message/rfc822\n",
            b"Content-Transfer-Encoding: base64\n",
            b"Content-Disposition: attachment; filename*=x''%FF%\n",
            b"\n",
            b"--a\n",
            b"--a--\n",
            b"(\\\"=;\r\n\t",
            b"=?utf-8?B?////?=",
            b"QUJD=\n",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..300 {
            let mut data = Vec::new();
            for _ in 0..40 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                data.extend_from_slice(pieces[(seed % pieces.len() as u64) as usize]);
            }
            let mut w = Walk::default();
            let mut passes = 0;
            let mut next = Some(data.clone());
            while let Some(d) = next.take() {
                passes += 1;
                let mut ok = true;
                let r = w.pass(&d, &mut |p| {
                    ok &= p.body <= d.len();
                    Flow::Continue
                });
                assert!(ok);
                if r.is_err() {
                    break;
                }
                next = w.rfc822.pop_front();
            }
            assert!(passes <= MAX_RFC822 + 1);
            assert!(w.visited <= MAX_PARTS + 1);
        }
    }

    #[test]
    fn nested_rfc822_copies_are_bounded() {
        // Each level is decoded again: without a budget, memory grows with depth.
        let mut msg = String::from("Subject: x\n");
        for _ in 0..100 {
            msg = format!("Content-Type: message/rfc822\n\n{msg}");
        }
        let mut w = Walk::default();
        let mut r = w.pass(msg.as_bytes(), &mut |_| Flow::Continue);
        while r.is_ok() {
            let Some(next) = w.rfc822.pop_front() else {
                break;
            };
            r = w.pass(&next, &mut |_| Flow::Continue);
        }
        assert_eq!(r, Err(Limit::TooMuchRfc822));
    }

    #[test]
    fn rfc822_parts_are_queued_decoded() {
        let msg = "Content-Type: multipart/mixed; boundary=A\n\n--A\nContent-Type: message/rfc822\n\nSubject: inner\n\nbody\n--A--\n";
        let mut w = Walk::default();
        w.pass(msg.as_bytes(), &mut |_| Flow::Continue).unwrap();
        assert_eq!(w.rfc822.pop_front().unwrap(), b"Subject: inner\n\nbody\n");
    }
}
