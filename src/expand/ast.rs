//! The typed expansion tree: built once by `parse.rs`, evaluated many times by `eval.rs`.

use std::sync::Arc;

use crate::error::ExpandError;
use crate::expand::conditions::CondDef;
use crate::expand::items::ItemDef;
use crate::expand::operators::OpDef;
use crate::expand::vars::Var;
use crate::lookup::LookupSpec;

/// A byte range in the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span {
            start: start as u32,
            end: end as u32,
        }
    }
}

/// A parsed expansion string: the unit that is parsed once and expanded many times.
#[derive(Debug, Clone)]
pub struct Expansion {
    pub(crate) source: Arc<str>,
    pub(crate) body: Seq,
}

impl Expansion {
    /// The text this expansion was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// True when expanding can only ever return the source text unchanged.
    pub fn is_literal(&self) -> bool {
        self.body.nodes.iter().all(|n| matches!(n, Node::Text(_)))
    }

    /// The first error Exim would report even in an unselected branch, if any.
    pub fn static_error(&self) -> Option<&ExpandError> {
        self.body.static_err.as_deref()
    }
}

/// The pieces of a sequence. Most sequences (`{yes}`, `{$item}`, an operand) hold one
/// piece, which is then stored inline: no allocation per argument.
pub type Nodes = smallvec::SmallVec<[Node; 1]>;

// Parsed expansions are shared between threads (configuration, ACLs).
const _: () = {
    const fn shareable<T: Send + Sync>() {}
    shareable::<Expansion>();
};

/// A sequence of pieces whose outputs are concatenated.
#[derive(Debug, Clone, Default)]
pub struct Seq {
    pub nodes: Nodes,
    /// First error that is raised even when this sequence is skipped.
    pub static_err: Option<Arc<ExpandError>>,
    pub span: Span,
}

/// A piece of literal text: a range of a shared buffer, which for text copied verbatim
/// from the source is the expansion's own source (no allocation per piece); text with
/// escapes gets a buffer of its own.
#[derive(Clone)]
pub struct Text {
    buf: Arc<[u8]>,
    start: u32,
    end: u32,
}

impl Text {
    /// `buf[start..end]`, sharing `buf`.
    pub fn shared(buf: &Arc<[u8]>, start: usize, end: usize) -> Text {
        debug_assert!(start <= end && end <= buf.len());
        Text {
            buf: buf.clone(),
            start: start as u32,
            end: end as u32,
        }
    }
}

impl Text {
    /// Whether this piece is a range of `buf` (the same memory, not a copy).
    pub fn is_range_of(&self, buf: &[u8]) -> bool {
        std::ptr::eq(self.buf.as_ptr(), buf.as_ptr())
    }
}

impl std::ops::Deref for Text {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf[self.start as usize..self.end as usize]
    }
}

impl From<&[u8]> for Text {
    fn from(b: &[u8]) -> Text {
        Text {
            buf: Arc::from(b),
            start: 0,
            end: b.len() as u32,
        }
    }
}

impl From<Vec<u8>> for Text {
    fn from(b: Vec<u8>) -> Text {
        let end = b.len() as u32;
        Text {
            buf: Arc::from(b),
            start: 0,
            end,
        }
    }
}

impl Default for Text {
    fn default() -> Text {
        Text::from(&b""[..])
    }
}

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Text({:?})", String::from_utf8_lossy(self))
    }
}

#[derive(Debug, Clone)]
pub enum Node {
    Text(Text),
    Var(Var, Span),
    Header(Box<HeaderRef>),
    Capture(usize),
    Op(Box<OpNode>),
    Item(Box<ItemNode>),
    If(Box<IfNode>),
    Lookup(Box<LookupNode>),
    Filter(Box<FilterNode>),
    /// A syntax error found at this point. `before` are the pieces Exim had
    /// already expanded when it noticed the error; they run first.
    Error(Box<ErrorNode>),
}

#[derive(Debug, Clone)]
pub struct ErrorNode {
    pub before: Vec<Pre>,
    pub error: Arc<ExpandError>,
}

/// Something evaluated before a syntax error is reported.
#[derive(Debug, Clone)]
pub enum Pre {
    Seq(Seq),
    Cond(Cond),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderKind {
    /// `$h_`: decoded, joined with newlines (commas for address headers).
    Decoded,
    /// `$bh_`: RFC 2047 decoded without charset translation.
    Basic,
    /// `$rh_`: raw text concatenated.
    Raw,
    /// `$lh_`: raw text of each instance as a colon list.
    List,
}

#[derive(Debug, Clone)]
pub struct HeaderRef {
    pub kind: HeaderKind,
    /// Header name including the trailing colon, as Exim stores it.
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct OpNode {
    pub def: &'static OpDef,
    /// Text after the first `_` when the operator takes `_args`.
    pub arg: Option<String>,
    pub operand: Seq,
    pub span: Span,
}

/// `{yes}{no}` / `{yes} fail` after an item or condition.
#[derive(Debug, Clone, Default)]
pub struct Tail {
    pub yes: Option<Seq>,
    pub no: Option<Seq>,
    /// The word `fail` was given instead of `{no}`.
    pub fail: bool,
    /// Raised after `{yes}` is processed (bad word, bad closing).
    pub after_yes: Option<Arc<ExpandError>>,
    /// Raised when `fail` is taken but no `}` follows it.
    pub fail_close: Option<Arc<ExpandError>>,
    /// Raised after the whole tail (missing final `}`).
    pub after: Option<Arc<ExpandError>>,
    /// Error raised before anything else (`{yes}` missing).
    pub before: Option<Arc<ExpandError>>,
}

#[derive(Debug, Clone)]
pub struct ItemNode {
    pub def: &'static ItemDef,
    pub args: Vec<Seq>,
    pub tail: Tail,
    /// The tail when the item's longer form applies (numbered `extract`; boxed: rare).
    pub tail_alt: Option<Box<Tail>>,
    /// Source text of the first argument, for items that split it before expanding (`run`).
    pub raw: Option<Box<str>>,
    /// Item-specific flags: `json`/`jsons` for extract, `preexpand` for run.
    pub mode: ItemMode,
    /// An argument the item would otherwise parse on every call, parsed once here
    /// (`sg`'s literal replacement text).
    pub preparsed: Option<Arc<Expansion>>,
    /// A literal regex argument compiled once with the item (`sg`'s pattern).
    pub regex: Option<Arc<pcre2::bytes::Regex>>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ItemMode {
    #[default]
    Plain,
    Json,
    Jsons,
    Preexpand,
}

#[derive(Debug, Clone)]
pub struct IfNode {
    pub cond: Cond,
    pub tail: Tail,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct LookupNode {
    pub spec: LookupSpec,
    pub key: Option<Seq>,
    pub source: Seq,
    pub tail: Tail,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct FilterNode {
    pub list: Seq,
    pub cond: Cond,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Cond {
    /// Number of leading `!`; odd means negated.
    pub negations: u32,
    pub kind: CondKind,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum CondKind {
    /// A table condition with its argument strings.
    Call {
        def: &'static CondDef,
        args: Vec<Seq>,
        /// A literal regex argument compiled with the condition (`match`'s pattern).
        regex: Option<Arc<pcre2::bytes::Regex>>,
    },
    And(Vec<Cond>),
    Or(Vec<Cond>),
    /// forall/forany and their json forms.
    ForEach {
        def: &'static CondDef,
        list: Seq,
        cond: Box<Cond>,
    },
    /// `def:name` or `def:h_name:`.
    DefVar(Var),
    DefHeader(Box<HeaderRef>),
    /// A syntax error inside the condition.
    Error(Box<ErrorNode>),
}

impl Seq {
    pub fn new(nodes: impl Into<Nodes>, span: Span) -> Seq {
        let nodes = nodes.into();
        let static_err = nodes.iter().find_map(Node::static_err_of_kind);
        Seq {
            nodes,
            static_err,
            span,
        }
    }

    /// A sequence holding only literal text, if it is one.
    pub fn literal(&self) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        for n in &self.nodes {
            match n {
                Node::Text(t) => out.extend_from_slice(t),
                _ => return None,
            }
        }
        Some(out)
    }
}

impl Pre {
    fn static_err(&self) -> Option<Arc<ExpandError>> {
        match self {
            Pre::Seq(s) => s.static_err.clone(),
            Pre::Cond(c) => c.static_err(),
        }
    }
}

impl ErrorNode {
    fn static_err(&self) -> Arc<ExpandError> {
        self.before
            .iter()
            .find_map(|p| p.static_err())
            .unwrap_or_else(|| self.error.clone())
    }
}

impl Tail {
    /// Errors raised by a skipped tail, in Exim's order.
    pub fn static_err(&self) -> Option<Arc<ExpandError>> {
        if let Some(e) = &self.before {
            return Some(e.clone());
        }
        if let Some(e) = self.yes.as_ref().and_then(|s| s.static_err.clone()) {
            return Some(e);
        }
        if let Some(e) = &self.after_yes {
            return Some(e.clone());
        }
        if let Some(e) = self.no.as_ref().and_then(|s| s.static_err.clone()) {
            return Some(e);
        }
        self.after.clone()
    }
}

impl Cond {
    pub fn static_err(&self) -> Option<Arc<ExpandError>> {
        match &self.kind {
            CondKind::Call { def, args, .. } => args
                .iter()
                .find_map(|s| s.static_err.clone())
                .or_else(|| def.skip_check.and_then(|f| f(args)).map(Arc::new)),
            CondKind::And(cs) | CondKind::Or(cs) => {
                let name = if matches!(self.kind, CondKind::And(_)) {
                    "and"
                } else {
                    "or"
                };
                cs.iter().find_map(|c| c.static_err()).map(|e| {
                    let mut e = (*e).clone();
                    e.message = format!("{} inside \"{name}{{...}}\" condition", e.message);
                    Arc::new(e)
                })
            }
            CondKind::ForEach { def, list, cond } => list.static_err.clone().or_else(|| {
                cond.static_err().map(|e| {
                    Arc::new(crate::expand::conditions::each::inside(
                        def.name,
                        (*e).clone(),
                    ))
                })
            }),
            CondKind::DefVar(_) | CondKind::DefHeader(_) => None,
            CondKind::Error(e) => Some(e.static_err()),
        }
    }
}

impl Node {
    /// The length of a text piece (0 for anything else).
    pub fn len_if_text(&self) -> usize {
        match self {
            Node::Text(t) => t.len(),
            _ => 0,
        }
    }

    /// As [`Node::static_err`], answering at once for the pieces that never hold an
    /// error (most of them: text and variables).
    #[inline]
    pub(crate) fn static_err_of_kind(&self) -> Option<Arc<ExpandError>> {
        match self {
            Node::Text(_) | Node::Var(..) | Node::Header(_) | Node::Capture(_) => None,
            _ => self.static_err(),
        }
    }

    pub fn static_err(&self) -> Option<Arc<ExpandError>> {
        match self {
            Node::Text(_) | Node::Var(..) | Node::Header(_) | Node::Capture(_) => None,
            Node::Op(op) => op.operand.static_err.clone(),
            Node::Item(it) => it
                .args
                .iter()
                // `${run}` without `preexpand` splits its raw command text and expands the
                // pieces only when it runs: a skipped run never looks inside it.
                .skip(usize::from(
                    it.raw.is_some() && it.mode != ItemMode::Preexpand,
                ))
                .find_map(|s| s.static_err.clone())
                // With two possible shapes (keyed or numbered extract), a skipped item
                // fails only if neither reading of its tail is valid.
                .or_else(|| match &it.tail_alt {
                    Some(alt) => it.tail.static_err().and_then(|_| alt.static_err()),
                    None => it.tail.static_err(),
                }),
            Node::If(i) => i.cond.static_err().or_else(|| i.tail.static_err()),
            Node::Lookup(l) => l
                .key
                .as_ref()
                .and_then(|k| k.static_err.clone())
                .or_else(|| l.source.static_err.clone())
                .or_else(|| l.tail.static_err()),
            Node::Filter(f) => f.list.static_err.clone().or_else(|| f.cond.static_err()),
            Node::Error(e) => Some(e.static_err()),
        }
    }
}

/// A variable or header an expansion reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Var(Var),
    Header(String),
}

impl Expansion {
    /// Every variable and header this expansion mentions, in source order (for lint).
    pub fn references(&self) -> Vec<Reference> {
        let mut out = Vec::new();
        refs_seq(&self.body, &mut out);
        out
    }
}

fn refs_seq(s: &Seq, out: &mut Vec<Reference>) {
    for n in &s.nodes {
        match n {
            Node::Text(_) | Node::Capture(_) => {}
            Node::Var(v, _) => out.push(Reference::Var(v.clone())),
            Node::Header(h) => out.push(Reference::Header(h.name.clone())),
            Node::Op(op) => refs_seq(&op.operand, out),
            Node::Item(it) => {
                it.args.iter().for_each(|a| refs_seq(a, out));
                refs_tail(&it.tail, out);
            }
            Node::If(i) => {
                refs_cond(&i.cond, out);
                refs_tail(&i.tail, out);
            }
            Node::Lookup(l) => {
                if let Some(k) = &l.key {
                    refs_seq(k, out);
                }
                refs_seq(&l.source, out);
                refs_tail(&l.tail, out);
            }
            Node::Filter(f) => {
                refs_seq(&f.list, out);
                refs_cond(&f.cond, out);
            }
            Node::Error(e) => refs_pre(&e.before, out),
        }
    }
}

fn refs_pre(pre: &[Pre], out: &mut Vec<Reference>) {
    for p in pre {
        match p {
            Pre::Seq(s) => refs_seq(s, out),
            Pre::Cond(c) => refs_cond(c, out),
        }
    }
}

fn refs_tail(t: &Tail, out: &mut Vec<Reference>) {
    for s in t.yes.iter().chain(t.no.iter()) {
        refs_seq(s, out);
    }
}

fn refs_cond(c: &Cond, out: &mut Vec<Reference>) {
    match &c.kind {
        CondKind::Call { args, .. } => args.iter().for_each(|a| refs_seq(a, out)),
        CondKind::And(cs) | CondKind::Or(cs) => cs.iter().for_each(|c| refs_cond(c, out)),
        CondKind::ForEach { list, cond, .. } => {
            refs_seq(list, out);
            refs_cond(cond, out);
        }
        CondKind::DefVar(v) => out.push(Reference::Var(v.clone())),
        CondKind::DefHeader(h) => out.push(Reference::Header(h.name.clone())),
        CondKind::Error(e) => refs_pre(&e.before, out),
    }
}

impl Expansion {
    /// References that end up naming a file or a command: the file of a single-key
    /// lookup, `${readfile}`'s path, `${run}`'s command (for lint's taint check).
    pub fn file_name_references(&self) -> Vec<Reference> {
        let mut out = Vec::new();
        files_seq(&self.body, &mut out);
        out
    }
}

fn files_seq(s: &Seq, out: &mut Vec<Reference>) {
    for n in &s.nodes {
        match n {
            Node::Lookup(l) => {
                if l.spec.is_single_key() {
                    refs_seq(&l.source, out);
                }
                if let Some(k) = &l.key {
                    files_seq(k, out);
                }
                files_seq(&l.source, out);
                files_tail(&l.tail, out);
            }
            Node::Item(it) => {
                if matches!(it.def.name, "readfile" | "run") {
                    if let Some(first) = it.args.first() {
                        refs_seq(first, out);
                    }
                }
                it.args.iter().for_each(|a| files_seq(a, out));
                files_tail(&it.tail, out);
            }
            Node::Op(op) => files_seq(&op.operand, out),
            Node::If(i) => {
                files_cond(&i.cond, out);
                files_tail(&i.tail, out);
            }
            Node::Filter(f) => {
                files_seq(&f.list, out);
                files_cond(&f.cond, out);
            }
            _ => {}
        }
    }
}

fn files_tail(t: &Tail, out: &mut Vec<Reference>) {
    for s in t.yes.iter().chain(t.no.iter()) {
        files_seq(s, out);
    }
}

fn files_cond(c: &Cond, out: &mut Vec<Reference>) {
    match &c.kind {
        CondKind::Call { args, .. } => args.iter().for_each(|a| files_seq(a, out)),
        CondKind::And(cs) | CondKind::Or(cs) => cs.iter().for_each(|c| files_cond(c, out)),
        CondKind::ForEach { list, cond, .. } => {
            files_seq(list, out);
            files_cond(cond, out);
        }
        _ => {}
    }
}
