//! Walks the AST with a `Context`: the one evaluator used by `-be`, the config, ACLs and the library.

use std::sync::Arc;

use crate::error::{ExpResult, ExpandError};
use crate::expand::ast::*;
use crate::expand::context::Context;
use crate::expand::headers;
use crate::expand::operators::Input;
use crate::expand::value::Val;
use crate::expand::vars::{Var, VarId};
use crate::expand::{computed, parse};

/// What a bare item (no `{yes}` string) prints when it succeeds.
enum EmptyYes {
    Bytes(&'static [u8]),
    Val(Val),
    /// The `$value` set for `{yes}` (the found data).
    Value,
}

/// Copy the groups of a regex match into `caps` (at most `max`), reusing the buffers
/// its values already hold. Unset groups are empty, with taint `unset_tainted`.
pub fn fill_captures(
    caps: &mut Vec<Val>,
    subject: &[u8],
    locs: &pcre2::bytes::CaptureLocations,
    max: usize,
    (tainted, unset_tainted): (bool, bool),
) {
    let n = locs.len().min(max);
    caps.truncate(n);
    for i in 0..n {
        let (piece, tainted) = match locs.get(i) {
            Some((a, b)) => (&subject[a..b], tainted),
            None => (&b""[..], unset_tainted),
        };
        match caps.get_mut(i) {
            Some(v) => {
                v.bytes.clear();
                v.bytes.extend_from_slice(piece);
                v.tainted = tainted;
            }
            None => caps.push(Val {
                bytes: piece.to_vec(),
                tainted,
            }),
        }
    }
}

/// Per-evaluation state: `$value`, `$item`, numeric captures and depth.
pub struct Eval<'c> {
    pub ctx: &'c mut Context,
    /// `$value` (lookups, extract, reduce ...).
    pub value: Option<Val>,
    /// `$item` (map, filter, reduce, forall ...).
    pub item: Option<Val>,
    /// `$0`..`$n` from the last regex match.
    pub captures: Vec<Val>,
    depth: u32,
}

/// Scratch buffers bigger than this are freed rather than kept for reuse.
const SCRATCH_KEEP_MAX: usize = 4 << 10;

/// A new scratch buffer starts this big (most values are short): no growth steps.
const SCRATCH_FIRST_CAPACITY: usize = 64;

/// Run `f` with at least 128 KiB of stack left, switching to a fresh 2 MiB segment when
/// the thread's stack runs low: nesting depth is bounded by `Limits`, not by the caller's
/// stack size (a debug build spends tens of KiB per nesting level).
/// Checked only every `STACK_CHECK_EVERY` levels (with a red zone covering them), so the
/// common shallow evaluation pays nothing.
pub(crate) fn on_big_stack<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(1 << 20, 8 << 20, f)
}

const STACK_CHECK_EVERY: u32 = 8;

/// The ids of `$value` and `$item`, which live in `Eval` rather than the context.
fn value_ids() -> (VarId, VarId) {
    (crate::vid!("value"), crate::vid!("item"))
}

/// Expand a parsed expansion.
pub fn expand(e: &Expansion, ctx: &mut Context) -> ExpResult<Val> {
    // The result leaves with the caller: sized once from the source instead of growing
    // from empty (results are mostly about as long as their expansion text).
    let mut out = Val {
        bytes: Vec::with_capacity(e.source.len().clamp(16, 1024)),
        tainted: false,
    };
    Eval::new(ctx).seq_into(&e.body, &mut out)?;
    Ok(out)
}

/// Parse and expand in one step (convenient for one-off strings).
pub fn expand_str(text: &str, ctx: &mut Context) -> ExpResult<Val> {
    expand(&parse::parse(text), ctx)
}

impl<'c> Eval<'c> {
    pub fn new(ctx: &'c mut Context) -> Eval<'c> {
        Eval {
            ctx,
            value: None,
            item: None,
            captures: Vec::new(),
            depth: 0,
        }
    }

    /// An empty value on a spare buffer; hand it back with [`Eval::give_scratch`].
    #[inline]
    pub fn take_scratch(&mut self) -> Val {
        Val {
            bytes: self
                .ctx
                .scratch
                .pop()
                .unwrap_or_else(|| Vec::with_capacity(SCRATCH_FIRST_CAPACITY)),
            tainted: false,
        }
    }

    /// Hand a value that is no longer needed back for reuse (values from [`Eval::seq`]).
    pub fn recycle(&mut self, v: Val) {
        self.give_scratch(v)
    }

    #[inline]
    fn give_scratch(&mut self, mut v: Val) {
        if v.bytes.capacity() <= SCRATCH_KEEP_MAX && self.ctx.scratch.len() < 32 {
            v.bytes.clear();
            self.ctx.scratch.push(v.bytes);
        }
    }

    /// Expand a sequence into a new value (on a spare buffer when there is one).
    pub fn seq(&mut self, s: &Seq) -> ExpResult<Val> {
        let mut out = self.take_scratch();
        self.seq_into(s, &mut out)?;
        Ok(out)
    }

    /// Expand a sequence, appending to `out`.
    #[inline]
    pub fn seq_into(&mut self, s: &Seq, out: &mut Val) -> ExpResult<()> {
        if self.ctx.trace.is_none() {
            return self.seq_nodes(s, out);
        }
        // The `-bh` trace indents what happens inside an expansion by its nesting, as
        // Exim's `expand_level` counts its recursive expansions of arguments.
        self.ctx.trace_indent(1);
        let r = self.seq_nodes(s, out);
        self.ctx.trace_indent(-1);
        r
    }

    fn seq_nodes(&mut self, s: &Seq, out: &mut Val) -> ExpResult<()> {
        for node in &s.nodes {
            match node {
                Node::Text(t) => out.bytes.extend_from_slice(t),
                // A set variable is appended here, without a call (the commonest node
                // after text); anything else about variables is `node`'s job.
                Node::Var(v, _) => match self.set_var_ref(v) {
                    Some(val) => out.push(val),
                    None => self.node(node, out)?,
                },
                _ if self.depth % STACK_CHECK_EVERY == STACK_CHECK_EVERY - 1 => {
                    on_big_stack(|| self.node(node, out))?
                }
                _ => self.node(node, out)?,
            }
            if out.bytes.len() > self.ctx.limits.max_output {
                return Err(ExpandError::hard(format!(
                    "expansion result exceeds the limit of {} bytes",
                    self.ctx.limits.max_output
                )));
            }
        }
        Ok(())
    }

    /// The value of a variable that is set (no computing, no errors), read in place.
    #[inline]
    fn set_var_ref(&self, v: &Var) -> Option<&Val> {
        match v {
            Var::Fixed(id) if *id == value_ids().0 => self.value.as_ref(),
            Var::Fixed(id) if *id == value_ids().1 => self.item.as_ref(),
            other => self.ctx.dynamic(other),
        }
    }

    /// Expand `s` and hand its bytes and taint to `f`. A sequence that is one piece of
    /// literal text or one set variable is read in place instead of being copied.
    pub fn with_bytes<R>(&mut self, s: &Seq, f: impl FnOnce(&[u8], bool) -> R) -> ExpResult<R> {
        let max = self.ctx.limits.max_output;
        match s.nodes.as_slice() {
            [] => return Ok(f(b"", false)),
            [Node::Text(t)] if t.len() <= max => return Ok(f(t, false)),
            [Node::Var(v, _)] => {
                if let Some(val) = self.set_var_ref(v).filter(|v| v.bytes.len() <= max) {
                    return Ok(f(&val.bytes, val.tainted));
                }
            }
            _ => {}
        }
        let mut v = self.take_scratch();
        let r = self.seq_into(s, &mut v).map(|()| f(&v.bytes, v.tainted));
        self.give_scratch(v);
        r
    }

    /// Expand two arguments in order and hand both (bytes, taint) to `f`, copying at
    /// most the first, and neither when the second is literal text.
    pub fn with_two<R>(
        &mut self,
        a: &Seq,
        b: &Seq,
        f: impl FnOnce((&[u8], bool), (&[u8], bool)) -> R,
    ) -> ExpResult<R> {
        let max = self.ctx.limits.max_output;
        // Literal text has no side effects and cannot fail: reading it first is safe.
        let literal: Option<&[u8]> = match b.nodes.as_slice() {
            [] => Some(b""),
            [Node::Text(t)] if t.len() <= max => Some(t),
            _ => None,
        };
        if let Some(y) = literal {
            return self.with_bytes(a, |x, t| f((x, t), (y, false)));
        }
        match a.nodes.as_slice() {
            [] => self.with_bytes(b, |y, t| f((b"", false), (y, t))),
            [Node::Text(t)] if t.len() <= max => self.with_bytes(b, |y, yt| f((t, false), (y, yt))),
            _ => {
                let mut first = self.take_scratch();
                let r = match self.seq_into(a, &mut first) {
                    Ok(()) => self.with_bytes(b, |y, t| f((&first.bytes, first.tainted), (y, t))),
                    Err(e) => Err(e),
                };
                self.give_scratch(first);
                r
            }
        }
    }

    /// Set `$item`, reusing the buffer of the previous one.
    #[inline]
    pub fn set_item(&mut self, bytes: &[u8], tainted: bool) {
        match &mut self.item {
            Some(v) => {
                v.bytes.clear();
                v.bytes.extend_from_slice(bytes);
                v.tainted = tainted;
            }
            None => {
                let mut v = self.take_scratch();
                v.bytes.extend_from_slice(bytes);
                v.tainted = tainted;
                self.item = Some(v);
            }
        }
    }

    /// A copy of `$value` (on a spare buffer) for [`Eval::restore_saved_value`].
    #[inline]
    pub fn save_value(&mut self) -> Option<Val> {
        let v = self.value.as_ref()?;
        let (len, tainted) = (v.bytes.len(), v.tainted);
        let mut copy = self.take_scratch();
        copy.bytes.reserve(len);
        let v = self.value.as_ref().expect("checked above");
        copy.bytes.extend_from_slice(&v.bytes);
        copy.tainted = tainted;
        Some(copy)
    }

    /// Put back a `$value` from [`Eval::save_value`]; whichever buffer is left over
    /// is kept for reuse.
    #[inline]
    pub fn restore_saved_value(&mut self, saved: Option<Val>) {
        match saved {
            None if self.value.is_none() => {}
            Some(v) if self.value.as_ref() == Some(&v) => self.give_scratch(v),
            saved => {
                if let Some(cur) = std::mem::replace(&mut self.value, saved) {
                    self.give_scratch(cur);
                }
            }
        }
    }

    /// An empty vector for new `$0..$n`, holding buffers left by earlier matches.
    pub fn spare_captures(&mut self) -> Vec<Val> {
        std::mem::take(&mut self.ctx.spare_captures)
    }

    /// Make `caps` the current `$0..$n`; the buffers of the ones it replaces are kept.
    pub fn set_captures(&mut self, caps: Vec<Val>) {
        let old = std::mem::replace(&mut self.captures, caps);
        self.keep_spare_captures(old);
    }

    /// Keep a captures vector (and its values' buffers) for the next match.
    pub fn keep_spare_captures(&mut self, mut caps: Vec<Val>) {
        if caps.capacity() < self.ctx.spare_captures.capacity() {
            return;
        }
        for c in &mut caps {
            if c.bytes.capacity() > SCRATCH_KEEP_MAX {
                c.bytes = Vec::new();
            }
        }
        self.ctx.spare_captures = caps;
    }

    /// Make `outer` the `$value` again; the buffer of the one it replaces is kept.
    fn put_value_back(&mut self, outer: Option<Val>) {
        if let Some(v) = std::mem::replace(&mut self.value, outer) {
            self.give_scratch(v);
        }
    }

    /// Put `$value` back to `saved`, copying only when it was changed.
    pub fn restore_value(&mut self, saved: &Option<Val>) {
        match saved {
            None => self.value = None,
            Some(v) if self.value.as_ref() != Some(v) => self.value = Some(v.clone()),
            Some(_) => {}
        }
    }

    /// Pass over a sequence that is not selected: only its syntax errors count.
    pub fn skip(&self, s: &Seq) -> ExpResult<()> {
        match &s.static_err {
            Some(e) => Err((**e).clone()),
            None => Ok(()),
        }
    }

    pub fn skip_cond(&self, c: &Cond) -> ExpResult<()> {
        match c.static_err() {
            Some(e) => Err((*e).clone()),
            None => Ok(()),
        }
    }

    #[inline]
    fn enter(&mut self, span: Span) -> ExpResult<()> {
        self.depth += 1;
        if self.depth > self.ctx.limits.max_depth {
            return Err(ExpandError::hard(format!(
                "expansion nesting deeper than {} levels",
                self.ctx.limits.max_depth
            ))
            .at(span));
        }
        Ok(())
    }

    fn node(&mut self, node: &Node, out: &mut Val) -> ExpResult<()> {
        match node {
            Node::Text(t) => {
                out.bytes.extend_from_slice(t);
                Ok(())
            }
            Node::Var(v, span) => {
                // Common case first: append a set value without copying it twice.
                if let Some(val) = self.set_var_ref(v) {
                    out.push(val);
                    return Ok(());
                }
                let val = self.var(v).map_err(|e| e.at(*span))?;
                out.push(&val);
                Ok(())
            }
            Node::Capture(n) => {
                if let Some(c) = self.captures.get(*n) {
                    out.push(c);
                }
                Ok(())
            }
            Node::Header(h) => {
                if let Some(v) = headers::value(self.ctx, h) {
                    out.push(&v);
                }
                Ok(())
            }
            Node::Op(op) => {
                self.enter(op.span)?;
                let r = self.op(op, out);
                self.depth -= 1;
                r.map_err(|e| e.at(op.span))
            }
            Node::Item(it) => {
                self.enter(it.span)?;
                let r = (it.def.run)(self, it, out);
                self.depth -= 1;
                r.map_err(|e| e.at(it.span))
            }
            Node::If(i) => {
                self.enter(i.span)?;
                let r = self.if_item(i, out);
                self.depth -= 1;
                r.map_err(|e| e.at(i.span))
            }
            Node::Lookup(l) => {
                self.enter(l.span)?;
                let r = crate::expand::items::lookup::run(self, l, out);
                self.depth -= 1;
                r.map_err(|e| e.at(l.span))
            }
            Node::Filter(f) => {
                self.enter(f.span)?;
                let r = crate::expand::items::lists::filter(self, f, out);
                self.depth -= 1;
                r.map_err(|e| e.at(f.span))
            }
            Node::Error(e) => Err(self.error_node(e)),
        }
    }

    /// Run what precedes a syntax error, then raise it.
    pub fn error_node(&mut self, e: &ErrorNode) -> ExpandError {
        for p in &e.before {
            let r = match p {
                Pre::Seq(s) => self.seq(s).map(|_| ()),
                Pre::Cond(c) => self.cond(c).map(|_| ()),
            };
            if let Err(err) = r {
                return err;
            }
        }
        (*e.error).clone()
    }

    /// Run an operator on its operand, appending the result to `out`. A literal operand
    /// is read in place; any other is expanded into a reused scratch buffer.
    fn op(&mut self, op: &OpNode, out: &mut Val) -> ExpResult<()> {
        let run = op.def.run;
        let arg = op.arg.as_deref();
        let start = out.bytes.len();
        let r = match op.operand.nodes.as_slice() {
            [] => run(
                self,
                arg,
                Input {
                    bytes: b"",
                    tainted: false,
                },
                &mut out.bytes,
            ),
            [Node::Text(t)] if t.len() <= self.ctx.limits.max_output => run(
                self,
                arg,
                Input {
                    bytes: t,
                    tainted: false,
                },
                &mut out.bytes,
            ),
            _ => {
                let mut input = self.take_scratch();
                let r = self.seq_into(&op.operand, &mut input).and_then(|()| {
                    let v = Input {
                        bytes: &input.bytes,
                        tainted: input.tainted,
                    };
                    run(self, arg, v, &mut out.bytes)
                });
                self.give_scratch(input);
                r
            }
        };
        match r {
            Ok(tainted) => {
                out.tainted |= tainted;
                Ok(())
            }
            Err(e) => {
                out.bytes.truncate(start);
                Err(e)
            }
        }
    }

    /// The value of a variable (unset ones are empty, as in Exim).
    pub fn var(&mut self, v: &Var) -> ExpResult<Val> {
        match v {
            Var::Fixed(id) => {
                let (value, item) = value_ids();
                if *id == value {
                    return Ok(self.value.clone().unwrap_or_default());
                }
                if *id == item {
                    return Ok(self.item.clone().unwrap_or_default());
                }
                if let Some(val) = self.ctx.fixed(*id) {
                    return Ok(val.clone());
                }
                Ok(computed::value(self.ctx, *id).unwrap_or_default())
            }
            other => match self.ctx.dynamic(other) {
                Some(val) => Ok(val.clone()),
                None if self.ctx.settings.strict_acl_vars
                    && matches!(other, Var::AclC(_) | Var::AclM(_) | Var::Router(_)) =>
                {
                    let name = other.name();
                    Err(ExpandError::hard(format!(
                        "unknown variable name \"{name}\"{}",
                        crate::expand::vars::unknown_suffix(&name)
                    )))
                }
                None => Ok(Val::default()),
            },
        }
    }

    fn if_item(&mut self, i: &IfNode, out: &mut Val) -> ExpResult<()> {
        let saved_value = self.save_value();
        let saved_caps = if self.captures.is_empty() {
            Vec::new()
        } else {
            self.captures.clone()
        };
        // `{yes}` and `{no}` both see the `$value` the condition left.
        let r = match self.cond(&i.cond) {
            Ok(yes) => self.tail_core(&i.tail, yes, EmptyYes::Bytes(b"true"), None, "if", out),
            Err(e) => Err(e),
        };
        self.restore_saved_value(saved_value);
        if !(saved_caps.is_empty() && self.captures.is_empty()) {
            self.set_captures(saved_caps);
        }
        r
    }

    /// Exim's `process_yesno`: emit `{yes}` or `{no}` (or `empty_yes` when there are
    /// no strings). `$value` is `value_for_yes` during `{yes}` and the outer value after.
    pub fn tail(
        &mut self,
        t: &Tail,
        yes: bool,
        empty_yes: Val,
        value_for_yes: Option<Val>,
        what: &str,
        out: &mut Val,
    ) -> ExpResult<()> {
        self.tail_core(
            t,
            yes,
            EmptyYes::Val(empty_yes),
            Some(value_for_yes),
            what,
            out,
        )
    }

    /// As [`Eval::tail`] when the bare item (no strings) prints the found value itself:
    /// `${lookup{k}lsearch{f}}`, `${extract{k}{data}}`.
    pub fn tail_value(
        &mut self,
        t: &Tail,
        found: Option<Val>,
        what: &str,
        out: &mut Val,
    ) -> ExpResult<()> {
        let yes = found.is_some();
        self.tail_core(t, yes, EmptyYes::Value, Some(found), what, out)
    }

    /// `value_for_yes`: `None` leaves `$value` alone for the whole tail.
    fn tail_core(
        &mut self,
        t: &Tail,
        yes: bool,
        empty_yes: EmptyYes,
        value_for_yes: Option<Option<Val>>,
        what: &str,
        out: &mut Val,
    ) -> ExpResult<()> {
        if let Some(e) = &t.before {
            return Err((**e).clone());
        }
        let outer = value_for_yes.map(|v| std::mem::replace(&mut self.value, v));
        let Some(yes_seq) = &t.yes else {
            if yes {
                match empty_yes {
                    EmptyYes::Bytes(b) => out.push_bytes(b),
                    EmptyYes::Val(v) => out.push(&v),
                    EmptyYes::Value => {
                        if let Some(v) = &self.value {
                            out.push(v);
                        }
                    }
                }
            }
            if let Some(o) = outer {
                self.put_value_back(o);
            }
            return Ok(());
        };
        let r = if yes {
            self.seq_into(yes_seq, out)
        } else {
            self.skip(yes_seq)
        };
        if let Some(o) = outer {
            self.put_value_back(o);
        }
        r?;
        if let Some(e) = &t.after_yes {
            return Err((**e).clone());
        }
        if let Some(no) = &t.no {
            if yes {
                self.skip(no)?;
            } else {
                self.seq_into(no, out)?;
            }
        } else if t.fail && !yes {
            if let Some(e) = &t.fail_close {
                return Err((**e).clone());
            }
            return Err(ExpandError::forced(format!(
                "\"{what}\" failed and \"fail\" requested"
            )));
        }
        if let Some(e) = &t.after {
            return Err((**e).clone());
        }
        Ok(())
    }

    /// Evaluate a condition.
    pub fn cond(&mut self, c: &Cond) -> ExpResult<bool> {
        self.enter(c.span)?;
        let r = if self.depth % STACK_CHECK_EVERY == 0 {
            on_big_stack(|| self.cond_inner(c))
        } else {
            self.cond_inner(c)
        };
        self.depth -= 1;
        r.map(|b| b ^ (c.negations % 2 == 1))
    }

    fn cond_inner(&mut self, c: &Cond) -> ExpResult<bool> {
        match &c.kind {
            CondKind::Call {
                args,
                regex: Some(re),
                ..
            } => crate::expand::conditions::listcond::match_compiled(self, args, re),
            CondKind::Call { def, args, .. } => (def.run)(self, args),
            CondKind::And(cs) | CondKind::Or(cs) => {
                let is_and = matches!(c.kind, CondKind::And(_));
                let name = if is_and { "and" } else { "or" };
                let mut result = is_and;
                let mut decided = false;
                for sub in cs {
                    let r = if decided {
                        self.skip_cond(sub).map(|_| result)
                    } else {
                        self.cond(sub)
                    };
                    let v = r.map_err(|mut e| {
                        e.message = format!("{} inside \"{name}{{...}}\" condition", e.message);
                        e
                    })?;
                    if !decided && v != is_and {
                        result = v;
                        decided = true;
                    }
                }
                Ok(result)
            }
            CondKind::ForEach { def, list, cond } => {
                let f = def.each.expect("ForEach condition has an iterator");
                f(self, list, cond)
            }
            CondKind::DefVar(v) => Ok(!self.var(v)?.is_empty()),
            CondKind::DefHeader(h) => Ok(headers::exists(self.ctx, h)),
            CondKind::Error(e) => Err(self.error_node(e)),
        }
    }

    /// Parse and expand text produced at run time (`${expand:}`, wildlsearch keys).
    pub fn expand_text(&mut self, text: &Val) -> ExpResult<Val> {
        if text.tainted {
            return Err(ExpandError::hard(format!(
                "attempt to expand tainted string '{}'",
                text.as_str_lossy()
            )));
        }
        let parsed = parse::parse(&text.as_str_lossy());
        self.seq(&parsed.body)
    }

    /// Shared state for regex compilation caching and similar process-wide caches.
    pub fn regex(&self, pattern: &[u8], caseless: bool) -> ExpResult<Arc<pcre2::bytes::Regex>> {
        crate::expand::regex::compile(pattern, caseless)
    }
}
