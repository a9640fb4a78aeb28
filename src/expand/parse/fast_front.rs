//! The fast front end: a hand-written scanner over bytes that recognises exactly
//! what `grammar/expansion.pest` does (same recovery points, same spans) and feeds
//! the shared builder. `tests/parse_equivalence.rs` checks it against pest.

use std::sync::Arc;

use crate::error::ExpandError;
use crate::expand::ast::*;
use crate::expand::parse::build::{error_node, unescape, Args, Builder, Close, DefTarget, Group};
use crate::expand::parse::pieces::{Pieces, TextSource};

/// Deepest `${` nesting the scanner follows (keeps the stack bounded on hostile input).
const MAX_NESTING: u32 = super::MAX_PARSE_NESTING as u32;

/// Every this many levels of nesting, the scanner makes sure the stack has room for the
/// next ones (a check per level would cost more than the recursion's own bookkeeping):
/// with less than the red zone left it continues on a new segment. The first levels run
/// on the caller's stack unchecked, as any function's frames do (unoptimised builds have
/// the largest frames; the red zone is sized for them).
const STACK_STEP: u32 = 8;
const STACK_RED_ZONE: usize = 1 << 20;
const STACK_SEGMENT: usize = 4 << 20;

/// Item names with the generic `{..}{..}` shape (a `match`: compiled to length and byte
/// compares, not a scan of a list per `${name`).
fn is_item_keyword(name: &str) -> bool {
    matches!(
        name,
        "acl"
            | "authresults"
            | "certextract"
            | "dlfunc"
            | "env"
            | "hash"
            | "hmac"
            | "imapfolder"
            | "length"
            | "listextract"
            | "listquote"
            | "map"
            | "nhash"
            | "perl"
            | "prvs"
            | "prvscheck"
            | "readfile"
            | "readsocket"
            | "reduce"
            | "sg"
            | "sort"
            | "srs_encode"
            | "substr"
            | "tr"
    )
}

fn is_forall_keyword(name: &str) -> bool {
    matches!(
        name,
        "forall" | "forall_json" | "forall_jsons" | "forany" | "forany_json" | "forany_jsons"
    )
}

/// Conditions whose second argument is read raw (`$` is text).
fn is_raw2_keyword(name: &str) -> bool {
    matches!(
        name,
        "match_address" | "match_domain" | "match_ip" | "match_local_part"
    )
}

/// `shared`, when given, holds the same bytes as `src`: text copied verbatim from the
/// source becomes ranges of it instead of copies.
pub fn parse_body(src: &str, shared: Option<&Arc<[u8]>>) -> Seq {
    parse_body_mapped(src, false, shared)
}

/// As [`parse_body`]; `unmap` says the text carries stand-ins for non-UTF-8 bytes.
pub fn parse_body_mapped(src: &str, unmap: bool, shared: Option<&Arc<[u8]>>) -> Seq {
    let shared = shared.filter(|b| b.as_ptr() == src.as_ptr() && b.len() == src.len());
    let mut f = Fast {
        ts: TextSource {
            src: src.as_bytes(),
            shared: shared.filter(|_| !unmap),
            unmap,
        },
        s: src.as_bytes(),
        src,
        pos: 0,
        b: Builder::new(src),
        depth: 0,
        scratch: Vec::new(),
    };
    f.seq(Mode::Top)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Top level: `}` is text.
    Top,
    /// Inside `{...}`: `}` ends the sequence.
    Inner,
    /// Inside a raw group: `$` is text too.
    Raw,
}

impl Mode {
    /// Where plain text ends in `rest`: at `$` or `\\` at top level, also at `}` inside
    /// braces; at `\\` or `}` in raw groups. Eight bytes at a time in a word (runs are
    /// tens of bytes: shorter than a SIMD search's setup), the rest by table.
    #[inline]
    fn text_end(self, rest: &[u8]) -> usize {
        let (stop, a, b, c) = match self {
            Mode::Top => (STOP_TOP, b'$', b'\\', b'\\'),
            Mode::Inner => (STOP_INNER, b'$', b'\\', b'}'),
            Mode::Raw => (STOP_RAW, b'\\', b'}', b'}'),
        };
        let mut i = 0;
        while let Some(chunk) = rest.get(i..i + 8) {
            let w = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
            let hits =
                zero_bytes(w ^ splat(a)) | zero_bytes(w ^ splat(b)) | zero_bytes(w ^ splat(c));
            if hits != 0 {
                // The lowest flagged byte is always a true match.
                return i + (hits.trailing_zeros() / 8) as usize;
            }
            i += 8;
        }
        i + rest[i..]
            .iter()
            .position(|&c| CLASS[c as usize] & stop != 0)
            .unwrap_or(rest.len() - i)
    }
}

/// `c` in every byte of a word.
const fn splat(c: u8) -> u64 {
    0x0101_0101_0101_0101 * c as u64
}

/// The high bit set in (at least) the lowest zero byte of `w`, and in no byte below it.
const fn zero_bytes(w: u64) -> u64 {
    w.wrapping_sub(0x0101_0101_0101_0101) & !w & 0x8080_8080_8080_8080
}

/// Byte classes for the scanner's runs (one table lookup per byte).
const SPACE: u8 = 1;
const WORD: u8 = 2;
const NAME: u8 = 4;
/// Where text ends at top level (`$`, `\\`), inside braces (also `}`), in raw groups.
const STOP_TOP: u8 = 8;
const STOP_INNER: u8 = 16;
const STOP_RAW: u8 = 32;

static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        if matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
            t[c] = SPACE;
        }
        if b.is_ascii_alphanumeric() || b == b'_' {
            t[c] = WORD | NAME;
        }
        if b == b'-' {
            t[c] = NAME;
        }
        t[c] |= match b {
            b'$' => STOP_TOP | STOP_INNER,
            b'\\' => STOP_TOP | STOP_INNER | STOP_RAW,
            b'}' => STOP_INNER | STOP_RAW,
            _ => 0,
        };
        c += 1;
    }
    t
};

fn is_sp(c: u8) -> bool {
    CLASS[c as usize] & SPACE != 0
}

fn is_name_char(c: u8) -> bool {
    CLASS[c as usize] & NAME != 0
}

fn is_word_char(c: u8) -> bool {
    CLASS[c as usize] & WORD != 0
}

struct Fast<'s> {
    /// What text pieces are made from.
    ts: TextSource<'s>,
    s: &'s [u8],
    src: &'s str,
    pos: usize,
    b: Builder<'s>,
    depth: u32,
    /// Pending text that is not a range of the source (see [`Pieces`]).
    scratch: Vec<u8>,
}

impl<'s> Fast<'s> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn at(&self, i: usize) -> Option<u8> {
        self.s.get(i).copied()
    }

    fn skip_sp(&mut self) {
        while self.peek().is_some_and(is_sp) {
            self.pos += 1;
        }
    }

    fn run_while(&self, from: usize, f: impl Fn(u8) -> bool) -> usize {
        match self.s.get(from..) {
            Some(rest) => from + rest.iter().position(|&c| !f(c)).unwrap_or(rest.len()),
            None => from,
        }
    }

    #[inline(always)]
    fn seq(&mut self, mode: Mode) -> Seq {
        if self.depth % STACK_STEP == 0 && self.depth > 0 {
            return self.seq_on_checked_stack(mode);
        }
        self.seq_here(mode)
    }

    #[inline(never)]
    fn seq_on_checked_stack(&mut self, mode: Mode) -> Seq {
        stacker::maybe_grow(STACK_RED_ZONE, STACK_SEGMENT, || self.seq_here(mode))
    }

    fn seq_here(&mut self, mode: Mode) -> Seq {
        let start = self.pos;
        let mut p = Pieces::default();
        self.depth += 1;
        if self.depth > MAX_NESTING {
            let e = ExpandError::hard(format!(
                "expansion nesting deeper than {MAX_NESTING} levels"
            ));
            let n = error_node(vec![], e.at(Span::new(start, self.s.len())));
            p.node(&mut self.scratch, self.ts, n);
            self.pos = self.s.len();
        }
        while let Some(&c) = self.s.get(self.pos) {
            match c {
                b'}' if mode != Mode::Top => break,
                b'\\' => self.escape(&mut p),
                b'$' if mode != Mode::Raw => {
                    // Pending text first: the scratch buffer is free for nested sequences.
                    p.flush(&mut self.scratch, self.ts);
                    let n = self.dollar();
                    p.node(&mut self.scratch, self.ts, n);
                }
                _ => {
                    let end = self.pos + mode.text_end(&self.s[self.pos..]);
                    p.run(&mut self.scratch, self.ts, self.pos, end);
                    self.pos = end;
                }
            }
        }
        self.depth -= 1;
        let end = if mode == Mode::Top {
            self.s.len()
        } else {
            self.pos
        };
        p.finish(&mut self.scratch, self.ts, Span::new(start, end))
    }

    fn escape(&mut self, p: &mut Pieces) {
        let start = self.pos;
        match self.at(start + 1) {
            None => {
                self.pos = self.s.len();
                let n = self.b.esc_end(Span::new(start, self.pos));
                p.node(&mut self.scratch, self.ts, n);
            }
            Some(b'N') => {
                let body = start + 2;
                let mut i = body;
                while i < self.s.len() && !(self.s[i] == b'\\' && self.at(i + 1) == Some(b'N')) {
                    i += 1;
                }
                p.run(&mut self.scratch, self.ts, body, i);
                self.pos = if i < self.s.len() { i + 2 } else { i };
            }
            Some(c) => {
                let end = if c == b'x' {
                    let max = (start + 4).min(self.s.len());
                    let mut i = start + 2;
                    while i < max && self.s[i].is_ascii_hexdigit() {
                        i += 1;
                    }
                    i
                } else if (b'0'..=b'7').contains(&c) {
                    let max = (start + 4).min(self.s.len());
                    let mut i = start + 2;
                    while i < max && (b'0'..=b'7').contains(&self.s[i]) {
                        i += 1;
                    }
                    i
                } else {
                    start + 1 + utf8_len(c)
                };
                let end = end.min(self.s.len());
                if let Some(out) = p.owned(&mut self.scratch, self.ts) {
                    unescape(&self.src[start..end], out);
                }
                self.pos = end;
            }
        }
    }

    /// The header prefix (`h_`, `bheader_` ...) at `i`, if any.
    fn hdr_kind(&self, i: usize) -> Option<usize> {
        let rest = &self.s[i.min(self.s.len())..];
        let (skip, r) = match rest.first() {
            Some(b'b' | b'r' | b'l') => (1, &rest[1..]),
            _ => (0, rest),
        };
        if r.starts_with(b"header_") {
            Some(skip + 7)
        } else if r.starts_with(b"h_") {
            Some(skip + 2)
        } else {
            None
        }
    }

    /// Header name and optional colon after the prefix; returns (name_end, end).
    fn hdr_rest(&self, from: usize) -> (usize, usize) {
        // Exim's mac_isgraph: any byte above space except DEL (so non-ASCII too).
        let name_end = self.run_while(from, |c| c > b' ' && c != 0x7f && c != b':');
        let end = if self.at(name_end) == Some(b':') {
            name_end + 1
        } else {
            name_end
        };
        (name_end, end)
    }

    fn dollar(&mut self) -> Node {
        let start = self.pos;
        if let Some(k) = self.hdr_kind(start + 1) {
            let kind_end = start + 1 + k;
            let (name_end, end) = self.hdr_rest(kind_end);
            self.pos = end;
            let kind = &self.src[start + 1..kind_end];
            let name = &self.src[kind_end..name_end];
            return Node::Header(Box::new(self.b.header(kind, name, Span::new(start, end))));
        }
        match self.at(start + 1) {
            Some(c) if c.is_ascii_alphabetic() => {
                let end = self.run_while(start + 1, is_word_char);
                self.pos = end;
                self.b.var(&self.src[start + 1..end], Span::new(start, end))
            }
            Some(c) if c.is_ascii_digit() => {
                let end = self.run_while(start + 1, |c| c.is_ascii_digit());
                self.pos = end;
                self.b.capture(&self.src[start + 1..end])
            }
            Some(b'{') => {
                self.pos = start + 2;
                self.brace()
            }
            _ => {
                self.pos = start + 1;
                self.b.bad_dollar(Span::new(start, start + 1))
            }
        }
    }

    fn close(&mut self) -> Close {
        if self.peek() == Some(b'}') {
            self.pos += 1;
            Close {
                ok: true,
                pos: self.pos - 1,
            }
        } else {
            Close {
                ok: false,
                pos: self.pos,
            }
        }
    }

    fn group(&mut self, mode: Mode) -> Group {
        self.pos += 1;
        let seq = self.seq(mode);
        let close = self.close();
        self.b.group(seq, close)
    }

    /// `(sp* group)*`: brace groups, leaving the position before trailing space.
    fn groups(&mut self, out: &mut Vec<Group>) {
        loop {
            let save = self.pos;
            self.skip_sp();
            if self.peek() == Some(b'{') {
                out.push(self.group(Mode::Inner));
            } else {
                self.pos = save;
                return;
            }
        }
    }

    fn args(&mut self) -> Args {
        let mut groups = Vec::new();
        self.groups(&mut groups);
        self.skip_sp();
        let mut word = None;
        let wend = self.run_while(self.pos, is_word_char);
        if wend > self.pos {
            word = Some((self.src[self.pos..wend].to_string(), self.pos));
            self.pos = wend;
        }
        self.skip_sp();
        let close = self.close();
        Args {
            groups,
            word,
            close,
        }
    }

    fn brace(&mut self) -> Node {
        let start = self.pos;
        let Some(c) = self.peek() else {
            return self.b.bad_brace(Span::new(start, start));
        };
        if c.is_ascii_digit() {
            let end = self.run_while(start, |c| c.is_ascii_digit());
            self.pos = end;
            let closed = self.close().ok;
            return self
                .b
                .brace_num(&self.src[start..end], closed, Span::new(start, self.pos));
        }
        if !c.is_ascii_alphabetic() {
            return self.b.bad_brace(Span::new(start, start));
        }
        let name_end = self.run_while(start, is_name_char);
        let name = &self.src[start..name_end];
        self.pos = name_end;
        match name {
            "if" => self.if_item(start),
            "lookup" => self.lookup(start),
            "extract" | "run" => self.item(start, name),
            "filter" => self.filter(start),
            _ if is_item_keyword(name) => self.item(start, name),
            _ => match self.peek() {
                Some(b':') => {
                    self.pos += 1;
                    let operand = self.seq(Mode::Inner);
                    let close = self.close();
                    self.b.op(name, operand, close, Span::new(start, self.pos))
                }
                Some(b'}') => {
                    self.pos += 1;
                    self.b.braced_var(name, Span::new(start, self.pos))
                }
                _ => self.b.bad_name(name, Span::new(start, name_end)),
            },
        }
    }

    fn item(&mut self, start: usize, name: &'s str) -> Node {
        let mut mode = ItemMode::Plain;
        let mut bad_opt = None;
        if name == "extract" {
            self.skip_sp();
            let rest = &self.s[self.pos..];
            for (kw, m) in [("jsons", ItemMode::Jsons), ("json", ItemMode::Json)] {
                if rest.starts_with(kw.as_bytes()) {
                    if !self.at(self.pos + kw.len()).is_some_and(is_name_char) {
                        mode = m;
                        self.pos += kw.len();
                    }
                    break;
                }
            }
        } else if name == "run" {
            while self.peek() == Some(b',') {
                let o = self.pos + 1;
                let end = self.run_while(o, is_word_char);
                let opt = &self.src[o..end];
                if opt == "preexpand" {
                    mode = ItemMode::Preexpand;
                } else if bad_opt.is_none() {
                    bad_opt = Some(opt.to_string());
                }
                self.pos = end;
            }
        }
        let args = self.args();
        self.b
            .item(name, mode, bad_opt, args, Span::new(start, self.pos))
    }

    fn if_item(&mut self, start: usize) -> Node {
        self.skip_sp();
        let (cond, mut groups) = self.cond();
        self.groups(&mut groups);
        self.skip_sp();
        let wend = self.run_while(self.pos, is_word_char);
        let word = (wend > self.pos).then(|| (self.src[self.pos..wend].to_string(), self.pos));
        self.pos = wend;
        self.skip_sp();
        let close = self.close();
        self.b
            .if_item(cond, groups, word, close, Span::new(start, self.pos))
    }

    fn filter(&mut self, start: usize) -> Node {
        self.skip_sp();
        let list = (self.peek() == Some(b'{')).then(|| self.group(Mode::Inner));
        self.skip_sp();
        let cond =
            (self.peek() == Some(b'{')).then(|| self.cond_group("missing } at end of condition"));
        self.skip_sp();
        let close = self.close();
        self.b.filter(list, cond, close, Span::new(start, self.pos))
    }

    fn lookup(&mut self, start: usize) -> Node {
        self.skip_sp();
        let key = (self.peek() == Some(b'{')).then(|| self.group(Mode::Inner));
        self.skip_sp();
        let tend = self.run_while(self.pos, |c| !is_sp(c) && c != b'{');
        let ty = &self.src[self.pos..tend];
        self.pos = tend;
        let args = self.args();
        self.b.lookup(key, ty, args, Span::new(start, self.pos))
    }

    fn cond_group(&mut self, end_msg: &str) -> Cond {
        let start = self.pos;
        self.pos += 1;
        self.skip_sp();
        let (cond, extra) = self.cond();
        self.skip_sp();
        let close = self.close();
        self.b
            .cond_group(cond, extra, close, end_msg, Span::new(start, self.pos))
    }

    #[inline(always)]
    fn cond(&mut self) -> (Cond, Vec<Group>) {
        if self.depth % STACK_STEP == 0 && self.depth > 0 {
            return self.cond_on_checked_stack();
        }
        self.cond_here()
    }

    #[inline(never)]
    fn cond_on_checked_stack(&mut self) -> (Cond, Vec<Group>) {
        stacker::maybe_grow(STACK_RED_ZONE, STACK_SEGMENT, || self.cond_here())
    }

    fn cond_here(&mut self) -> (Cond, Vec<Group>) {
        let start = self.pos;
        self.depth += 1;
        if self.depth > MAX_NESTING {
            self.pos = self.s.len();
            self.depth -= 1;
            let span = Span::new(start, self.pos);
            let e = ExpandError::hard(format!(
                "expansion nesting deeper than {MAX_NESTING} levels"
            ));
            let kind = CondKind::Error(Box::new(ErrorNode {
                before: vec![],
                error: std::sync::Arc::new(e.at(span)),
            }));
            return (
                Cond {
                    negations: 0,
                    kind,
                    span,
                },
                vec![],
            );
        }
        let r = self.cond_inner(start);
        self.depth -= 1;
        r
    }

    fn cond_inner(&mut self, start: usize) -> (Cond, Vec<Group>) {
        self.skip_sp();
        let mut negations = 0;
        while self.peek() == Some(b'!') {
            negations += 1;
            self.pos += 1;
            self.skip_sp();
        }
        let body = self.pos;
        let wend = self.run_while(body, is_name_char);
        let w = &self.src[body..wend];
        let span = |f: &Self| Span::new(start, f.pos);
        match w {
            "and" | "or" => {
                self.pos = wend;
                self.skip_sp();
                let list = if self.peek() == Some(b'{') {
                    self.pos += 1;
                    let end_msg = Builder::andor_member_end(w);
                    let mut members = Vec::new();
                    let mut broken = false;
                    loop {
                        let save = self.pos;
                        self.skip_sp();
                        if self.peek() != Some(b'{') {
                            self.pos = save;
                            break;
                        }
                        let c = self.cond_group(&end_msg);
                        if !broken {
                            broken = matches!(c.kind, CondKind::Error(_));
                            members.push(c);
                        }
                    }
                    self.skip_sp();
                    Some((members, self.close()))
                } else {
                    None
                };
                (self.b.cond_andor(w, list, negations, span(self)), vec![])
            }
            _ if is_forall_keyword(w) => {
                self.pos = wend;
                self.skip_sp();
                let list = (self.peek() == Some(b'{')).then(|| self.group(Mode::Inner));
                self.skip_sp();
                let end_msg = Builder::forall_end(w);
                let sub = (self.peek() == Some(b'{')).then(|| self.cond_group(&end_msg));
                (
                    self.b.cond_forall(w, list, sub, negations, span(self)),
                    vec![],
                )
            }
            "acl" | "saslauthd" => {
                self.pos = wend;
                self.skip_sp();
                let subs = if self.peek() == Some(b'{') {
                    self.pos += 1;
                    let mut groups = Vec::new();
                    self.groups(&mut groups);
                    self.skip_sp();
                    Some(Args {
                        groups,
                        word: None,
                        close: self.close(),
                    })
                } else {
                    None
                };
                let mut groups = Vec::new();
                self.groups(&mut groups);
                self.b.cond_sub(w, subs, groups, negations, span(self))
            }
            "def" => {
                self.pos = wend;
                let colon = self.peek() == Some(b':');
                if colon {
                    self.pos += 1;
                }
                let t = self.pos;
                let target = if let Some(k) = self.hdr_kind(t) {
                    let (name_end, end) = self.hdr_rest(t + k);
                    self.pos = end;
                    Some(DefTarget::Header {
                        kind: &self.src[t..t + k],
                        name: &self.src[t + k..name_end],
                        span: Span::new(t, end),
                    })
                } else {
                    let end = self.run_while(t, is_word_char);
                    self.pos = end;
                    (end > t).then(|| DefTarget::Var(&self.src[t..end]))
                };
                let mut groups = Vec::new();
                self.groups(&mut groups);
                let sp = span(self);
                self.b.cond_def(colon, target, groups, negations, sp)
            }
            _ if is_raw2_keyword(w) => {
                self.pos = wend;
                let mut groups = Vec::new();
                self.skip_sp();
                if self.peek() == Some(b'{') {
                    groups.push(self.group(Mode::Inner));
                }
                self.skip_sp();
                if self.peek() == Some(b'{') {
                    groups.push(self.group(Mode::Raw));
                }
                self.groups(&mut groups);
                self.b.cond_call(w, groups, negations, span(self))
            }
            _ => {
                let c = self.peek();
                // Exim reads condition names as letters, digits and `_` (so `1x` is an unknown name).
                let name_end = if c.is_some_and(is_word_char) {
                    self.run_while(body, is_word_char)
                } else if matches!(c, Some(b'<' | b'=' | b'>')) {
                    body + if self.at(body + 1) == Some(b'=') {
                        2
                    } else {
                        1
                    }
                } else {
                    return (
                        self.b.cond_bad(body, negations, Span::new(start, body)),
                        vec![],
                    );
                };
                self.pos = name_end;
                let mut groups = Vec::new();
                self.groups(&mut groups);
                self.b
                    .cond_call(&self.src[body..name_end], groups, negations, span(self))
            }
        }
    }
}

/// Length of the UTF-8 sequence starting with byte `c` (1 for ASCII or a stray byte).
fn utf8_len(c: u8) -> usize {
    match c {
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => 1,
    }
}

#[cfg(test)]
mod text_end_tests {
    use super::Mode;

    #[test]
    fn text_end_finds_the_first_stop_byte_at_every_offset() {
        for mode in [Mode::Top, Mode::Inner, Mode::Raw] {
            for len in 0..24 {
                for stop in [b'$', b'\\', b'}'] {
                    for at in 0..=len {
                        let mut text = vec![b'a'; len];
                        if at < len {
                            text[at] = stop;
                        }
                        let stops = match mode {
                            Mode::Top => stop != b'}',
                            Mode::Inner => true,
                            Mode::Raw => stop != b'$',
                        };
                        let want = if at < len && stops { at } else { len };
                        assert_eq!(mode.text_end(&text), want, "{len} {at} {}", stop as char);
                    }
                }
            }
        }
        // Non-ASCII bytes (high bits set) are never taken for a stop.
        assert_eq!(Mode::Inner.text_end("ü€xyz}".as_bytes()), 8);
    }
}
