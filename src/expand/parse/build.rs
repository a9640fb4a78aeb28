//! Turns the parts a front end recognised into AST nodes, with Exim's error semantics.
//! Shared by the pest front end (the reference) and the fast hand-written one.

use std::sync::Arc;

use crate::error::ExpandError;
use crate::expand::ast::*;
use crate::expand::conditions::{self, CondForm};
use crate::expand::items::{self, Shape};
use crate::expand::operators;
use crate::expand::vars;
use crate::lookup;

pub(crate) fn error_node(before: Vec<Pre>, error: ExpandError) -> Node {
    Node::Error(Box::new(ErrorNode {
        before,
        error: Arc::new(error),
    }))
}

/// How a closing `}` went: present, or missing at `pos`.
#[derive(Clone, Copy, Debug)]
pub struct Close {
    pub ok: bool,
    pub pos: usize,
}

impl Close {
    pub const OK: Close = Close { ok: true, pos: 0 };
}

/// A `{...}` argument group: the sequence inside the braces (its `{` is the byte before
/// its span), which becomes an argument as it is.
pub type Group = Seq;

/// Where a group's `{` was.
fn group_start(g: &Group) -> usize {
    (g.span.start as usize).saturating_sub(1)
}

/// The generic shape after an item name: groups, an optional bare word, the closing brace.
pub struct Args {
    pub groups: Vec<Group>,
    pub word: Option<(String, usize)>,
    pub close: Close,
}

/// What follows `def:`.
pub enum DefTarget<'a> {
    Header {
        kind: &'a str,
        name: &'a str,
        span: Span,
    },
    Var(&'a str),
}

/// Collects the pieces of a sequence for the reference front end: merges text (copied),
/// stops at the first error. (The fast front end has its own, `pieces.rs`.)
#[derive(Default)]
pub struct SeqBuf {
    nodes: Nodes,
    text: Vec<u8>,
    stopped: bool,
}

impl SeqBuf {
    fn flush_text(&mut self) {
        if !self.text.is_empty() {
            let t = Text::from(&self.text[..]);
            self.text.clear();
            self.nodes.push(Node::Text(t));
        }
    }

    /// Add text.
    pub fn text(&mut self, t: &[u8]) {
        if !self.stopped {
            self.text.extend_from_slice(t);
        }
    }

    /// The text buffer, to append to.
    pub fn text_mut(&mut self) -> &mut Vec<u8> {
        &mut self.text
    }

    /// Add a node; returns false once an error node has been added (Exim stops there).
    pub fn node(&mut self, n: Node) -> bool {
        if self.stopped {
            return false;
        }
        self.flush_text();
        let is_err = matches!(n, Node::Error(_));
        self.nodes.push(n);
        if is_err {
            self.stopped = true;
        }
        !is_err
    }

    pub fn finish(mut self, span: Span) -> Seq {
        if !self.stopped {
            self.flush_text();
        }
        Seq::new(self.nodes, span)
    }
}

pub struct Builder<'s> {
    pub src: &'s str,
    pub malformed_header: bool,
}

fn cond_error(negations: u32, before: Vec<Pre>, e: ExpandError, span: Span) -> Cond {
    Cond {
        negations,
        kind: CondKind::Error(Box::new(ErrorNode {
            before,
            error: Arc::new(e.at(span)),
        })),
        span,
    }
}

fn pre_groups(gs: Vec<Group>) -> Vec<Pre> {
    gs.into_iter().map(Pre::Seq).collect()
}

impl<'s> Builder<'s> {
    pub fn new(src: &'s str) -> Builder<'s> {
        Builder {
            src,
            malformed_header: false,
        }
    }

    pub fn esc_end(&self, span: Span) -> Node {
        error_node(vec![], ExpandError::hard("\\ at end of string").at(span))
    }

    pub fn bad_dollar(&self, span: Span) -> Node {
        error_node(
            vec![],
            ExpandError::hard("$ not followed by letter, digit, or {").at(span),
        )
    }

    pub fn bad_brace(&self, span: Span) -> Node {
        error_node(
            vec![],
            ExpandError::hard("letter or digit expected after ${").at(span),
        )
    }

    pub fn var(&self, name: &str, span: Span) -> Node {
        let name = truncate_name(name);
        match vars::resolve(name) {
            Some(v) => Node::Var(v, span),
            None => error_node(
                vec![],
                ExpandError::hard(format!(
                    "unknown variable name \"{name}\"{}",
                    vars::unknown_suffix(name)
                ))
                .at(span),
            ),
        }
    }

    pub fn braced_var(&self, name: &str, span: Span) -> Node {
        let name = truncate_name(name);
        match vars::resolve(name) {
            Some(v) => Node::Var(v, span),
            None => error_node(
                vec![],
                ExpandError::hard(format!(
                    "unknown variable in \"${{{name}}}\"{}",
                    vars::unknown_suffix(name)
                ))
                .at(span),
            ),
        }
    }

    pub fn bad_name(&self, name: &str, span: Span) -> Node {
        error_node(
            vec![],
            ExpandError::hard(format!(
                "\"${{{name}\" is not a known operator (or a }} is missing in a variable reference)"
            ))
            .at(span),
        )
    }

    pub fn capture(&self, digits: &str) -> Node {
        Node::Capture(digits.parse().unwrap_or(usize::MAX))
    }

    pub fn brace_num(&self, digits: &str, closed: bool, span: Span) -> Node {
        if closed {
            self.capture(digits)
        } else {
            error_node(
                vec![],
                ExpandError::hard("} expected after number").at(span),
            )
        }
    }

    /// `kind` is the prefix as written (`h_`, `bheader_` ...), `name` the header name.
    pub fn header(&mut self, kind: &str, name: &str, span: Span) -> HeaderRef {
        let kind = match kind.as_bytes().first() {
            Some(b'b') => HeaderKind::Basic,
            Some(b'r') => HeaderKind::Raw,
            Some(b'l') => HeaderKind::List,
            _ => HeaderKind::Decoded,
        };
        if name.contains('}') {
            self.malformed_header = true;
        }
        let mut name = name.to_string();
        name.push(':');
        HeaderRef { kind, name, span }
    }

    pub fn missing_close_error(&self, pos: usize) -> ExpandError {
        let msg = if self.malformed_header {
            "missing } at end of string - could be header name not terminated by colon"
        } else {
            "missing } at end of string"
        };
        ExpandError::hard(msg).at(Span::new(pos, pos))
    }

    fn curly(&self, why: &str, pos: usize) -> Arc<ExpandError> {
        let pos = pos.min(self.src.len());
        let msg = self.curly_message(format!(
            "curly-bracket problem in conditional yes/no parsing: {why}\n remaining string is '{}'",
            &self.src[pos..]
        ));
        Arc::new(ExpandError::hard(msg).at(Span::new(pos, self.src.len())))
    }

    /// Exim's `EXPAND_FAILED_CURLY`: once a header name has swallowed a `}`, brace
    /// errors (missing `{`/`}` of an item, too few arguments, a bad yes/no part) all
    /// read "missing or misplaced { or } - could be header name not terminated by colon".
    fn curly_message(&self, msg: String) -> String {
        let curly = [
            "missing '{'",
            "missing '}' after",
            "Not enough arguments",
            "curly-bracket",
        ];
        if self.malformed_header && curly.iter().any(|p| msg.starts_with(p)) {
            "missing or misplaced { or } - could be header name not terminated by colon".into()
        } else {
            msg
        }
    }

    /// `{ inner }`: a missing `}` can only mean end of input.
    #[inline]
    pub fn group(&self, seq: Seq, close: Close) -> Group {
        if close.ok || seq.static_err.is_some() {
            return seq;
        }
        self.unclosed_group(seq, close.pos)
    }

    #[inline(never)]
    fn unclosed_group(&self, mut seq: Seq, pos: usize) -> Group {
        let mut nodes = std::mem::take(&mut seq.nodes);
        nodes.push(error_node(vec![], self.missing_close_error(pos)));
        Seq::new(nodes, seq.span)
    }

    /// Exim's `process_yesno`, decided at parse time where the shape allows.
    pub fn tail(
        &self,
        groups: Vec<Group>,
        word: Option<(String, usize)>,
        close: Close,
        what: &str,
    ) -> Tail {
        let mut t = Tail::default();
        let mut groups = groups.into_iter();
        let Some(yes) = groups.next() else {
            if word.is_some() || !close.ok {
                let pos = word.as_ref().map(|w| w.1).unwrap_or(close.pos);
                t.before = Some(self.curly("'yes' part did not start with '{'", pos));
            }
            return t;
        };
        let yes_broken = yes.static_err.is_some() && !close.ok;
        t.yes = Some(yes);
        if yes_broken {
            return t;
        }
        if let Some(no) = groups.next() {
            let no_broken = no.static_err.is_some() && !close.ok;
            t.no = Some(no);
            if no_broken {
                return t;
            }
            let extra = groups.next().map(|g| group_start(&g));
            let pos = extra
                .or(word.as_ref().map(|w| w.1))
                .or((!close.ok).then_some(close.pos));
            if let Some(pos) = pos {
                t.after = Some(self.curly("did not close with '}'", pos));
            }
            return t;
        }
        match word {
            Some((w, _)) if w == "fail" => {
                t.fail = true;
                if !close.ok {
                    t.fail_close =
                        Some(self.curly("did not close with '}' after forcedfail", close.pos));
                    t.after = Some(self.curly("did not close with '}'", close.pos));
                }
            }
            Some((w, pos)) => {
                t.after_yes = Some(fail_expected(what, Span::new(pos, pos + w.len())))
            }
            None if !close.ok => {
                t.after_yes = Some(fail_expected(what, Span::new(close.pos, close.pos + 1)))
            }
            None => {}
        }
        t
    }

    pub fn op(&self, name: &str, operand: Seq, close: Close, span: Span) -> Node {
        let mut operand = operand;
        let after_dollar = self
            .src
            .as_bytes()
            .get(operand.span.start as usize..)
            .and_then(|t| t.strip_prefix(b"$"));
        let found = operators::find(name);
        if let Some(e) = found
            .zip(after_dollar)
            .and_then(|((def, _), rest)| operators::digests::cert_prepass_error(def.name, rest))
        {
            return error_node(vec![], e.at(span));
        }
        if !close.ok && operand.static_err.is_none() {
            let mut nodes = std::mem::take(&mut operand.nodes);
            nodes.push(error_node(vec![], self.missing_close_error(close.pos)));
            operand = Seq::new(nodes, operand.span);
        }
        match found {
            Some((def, arg)) => {
                let arg = arg.map(str::to_string);
                let (operand, def) = operators::digests::cert_operand(def.name, &operand, self.src)
                    .unwrap_or((operand, def));
                Node::Op(Box::new(OpNode {
                    def,
                    arg,
                    operand,
                    span,
                }))
            }
            None => error_node(
                vec![Pre::Seq(operand)],
                ExpandError::hard(format!("unknown expansion operator \"{name}\"")).at(span),
            ),
        }
    }

    /// Items with the generic `{..}{..} [word] }` shape (`bad_opt`: an unknown `run` option).
    pub fn item(
        &self,
        name: &str,
        mode: ItemMode,
        bad_opt: Option<String>,
        args: Args,
        span: Span,
    ) -> Node {
        if let Some(opt) = bad_opt {
            return error_node(
                vec![],
                ExpandError::hard(format!("bad option '{opt}' for run")).at(span),
            );
        }
        let Some(def) = items::find(name) else {
            return error_node(
                vec![],
                ExpandError::hard(format!(
                    "\"{name}\" expansion item is not supported by rexim"
                ))
                .at(span),
            );
        };
        let Args {
            groups,
            word,
            close,
        } = args;
        let raw = (def.raw_first_arg)
            .then(|| groups.first().map(|g| self.group_text(g)))
            .flatten();
        let shape = if mode == ItemMode::Json || mode == ItemMode::Jsons {
            Shape::Tail {
                n: 2,
                missing: def_missing_extract,
            }
        } else {
            def.shape
        };
        let err = |before: Vec<Group>, msg: String| {
            let msg = self.curly_message(msg);
            error_node(pre_groups(before), ExpandError::hard(msg).at(span))
        };
        let node = |args: Vec<Group>, mut tail: Tail, tail_alt: Option<Tail>| {
            let pre = items::preparse(def, &args);
            if def.name == "sg" {
                items::skipped::check_sg(&args, &pre, &mut tail);
            }
            Node::Item(Box::new(ItemNode {
                def,
                preparsed: pre.expansion,
                regex: pre.regex,
                args,
                tail,
                tail_alt: tail_alt.map(Box::new),
                mode,
                raw: raw.clone(),
                span,
            }))
        };
        let mut groups = groups;
        match shape {
            Shape::Subs { min, max } => {
                let (min, max) = (min as usize, max as usize);
                if groups.len() < min {
                    let n = groups.len();
                    let msg = if n > 0 && groups[n - 1].static_err.is_some() {
                        String::new()
                    } else {
                        format!("Not enough arguments for '{name}' (min is {min})")
                    };
                    return err(groups, msg);
                }
                if groups.len() > max {
                    groups.truncate(max);
                    return err(
                        groups,
                        format!("Too many arguments for '{name}' (max is {max})"),
                    );
                }
                if word.is_some() || !close.ok {
                    // prvscheck reads its arguments in two steps; the second wants one first.
                    let msg = if name == "prvscheck" && groups.len() < 2 {
                        "Not enough arguments for 'prvscheck' (min is 1)".to_string()
                    } else {
                        format!("missing '}}' after '{name}'")
                    };
                    return err(groups, msg);
                }
                let tail = items::substr::skipped_tail(name, groups.iter());
                node(groups, tail, None)
            }
            Shape::Fixed { n, missing } => {
                let n = n as usize;
                if groups.len() < n {
                    let msg = missing(name, groups.len());
                    return err(groups, msg);
                }
                if groups.len() > n || word.is_some() || !close.ok {
                    groups.truncate(n);
                    return err(groups, format!("missing }} at end of \"{name}\""));
                }
                node(groups, Tail::default(), None)
            }
            Shape::Tail { n, missing } => {
                let n = n as usize;
                if groups.len() < n {
                    let msg = missing(name, groups.len());
                    return err(groups, msg);
                }
                let rest = groups.split_off(n);
                let tail = self.tail(rest, word, close, name);
                items::skipped::check_listextract(name, &mut groups[0]);
                if let Some(g) = groups.get_mut(1) {
                    items::certextract::cert_var_arg(name, g, self.src);
                }
                node(groups, tail, None)
            }
            Shape::TailEither { a, b, missing } => {
                // Which form applies is known only after the first argument is expanded.
                let (a, b) = (a as usize, b as usize);
                if groups.len() < a {
                    let msg = missing(name, groups.len());
                    return err(groups, msg);
                }
                let tail_a = self.tail(clone_groups(&groups[a..]), word.clone(), close, name);
                let tail_b = (groups.len() >= b)
                    .then(|| self.tail(clone_groups(&groups[b..]), word, close, name));
                groups.truncate(b.max(a).min(groups.len()));
                node(groups, tail_a, tail_b)
            }
        }
    }

    fn group_text(&self, g: &Group) -> Box<str> {
        let start = (group_start(g) + 1).min(self.src.len());
        let end = (g.span.end as usize).clamp(start, self.src.len());
        self.src[start..end].into()
    }

    /// `${if cond {yes}{no}}`: `extra` are groups the condition did not need.
    pub fn if_item(
        &self,
        cond: Cond,
        groups: Vec<Group>,
        word: Option<(String, usize)>,
        close: Close,
        span: Span,
    ) -> Node {
        if let CondKind::Error(_) = cond.kind {
            // A broken condition stops parsing; nothing after it is looked at.
            return Node::If(Box::new(IfNode {
                cond,
                tail: Tail::default(),
                span,
            }));
        }
        let tail = self.tail(groups, word, close, "if");
        Node::If(Box::new(IfNode { cond, tail, span }))
    }

    pub fn filter(
        &self,
        list: Option<Group>,
        cond: Option<Cond>,
        close: Close,
        span: Span,
    ) -> Node {
        let Some(list) = list else {
            return error_node(
                vec![],
                ExpandError::hard("missing '{' for first arg of filter").at(span),
            );
        };
        let Some(cond) = cond else {
            return error_node(
                vec![Pre::Seq(list)],
                ExpandError::hard("missing '{' for second arg of filter").at(span),
            );
        };
        if !close.ok {
            return error_node(
                vec![Pre::Seq(list), Pre::Cond(cond)],
                ExpandError::hard("missing } at end of \"filter\"").at(span),
            );
        }
        Node::Filter(Box::new(FilterNode { list, cond, span }))
    }

    pub fn lookup(&self, key: Option<Group>, ty: &str, args: Args, span: Span) -> Node {
        // What runs before an error: the key (built only when there is an error).
        let before =
            |key: &Option<Group>| -> Vec<Pre> { key.iter().cloned().map(Pre::Seq).collect() };
        if let Some(e) = key.as_ref().and_then(|k| k.static_err.as_ref()) {
            return error_node(before(&key), (**e).clone());
        }
        if !ty.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return error_node(
                before(&key),
                ExpandError::hard("missing lookup type").at(span),
            );
        }
        let spec = match lookup::parse_spec(ty) {
            Ok(s) => s,
            Err(msg) => return error_node(before(&key), ExpandError::hard(msg).at(span)),
        };
        let single = spec.is_single_key();
        if single && key.is_none() {
            return error_node(
                before(&key),
                ExpandError::hard(format!("missing {{key}} for single-key \"{ty}\" lookup"))
                    .at(span),
            );
        }
        if !single && key.is_some() {
            return error_node(
                before(&key),
                ExpandError::hard(format!(
                    "a single key was given for lookup type \"{ty}\", which is not a single-key lookup type"
                ))
                .at(span),
            );
        }
        let Args {
            mut groups,
            word,
            close,
        } = args;
        if groups.is_empty() {
            return error_node(
                before(&key),
                ExpandError::hard(
                    self.curly_message("missing '{' for lookup file-or-query arg".into()),
                )
                .at(span),
            );
        }
        // The rest stay in the same vector (no second allocation).
        let source = groups.remove(0);
        let tail = self.tail(groups, word, close, "lookup");
        Node::Lookup(Box::new(LookupNode {
            spec,
            key,
            source,
            tail,
            span,
        }))
    }

    /// `{ cond }` (filter, forall, and/or members): `extra` groups or a missing `}` are errors.
    pub fn cond_group(
        &self,
        cond: Cond,
        extra: Vec<Group>,
        close: Close,
        end_msg: &str,
        span: Span,
    ) -> Cond {
        if matches!(cond.kind, CondKind::Error(_)) {
            return cond;
        }
        if !extra.is_empty() || !close.ok {
            return cond_error(0, vec![Pre::Cond(cond)], ExpandError::hard(end_msg), span);
        }
        cond
    }

    pub fn cond_bad(&self, pos: usize, negations: u32, span: Span) -> Cond {
        // Exim prints at most 16 bytes ("%.16s") of what follows.
        let rest = &self.src.as_bytes()[pos.min(self.src.len())..];
        let cut = super::unmap_bytes(&rest[..rest.len().min(16)]);
        let found = String::from_utf8_lossy(&cut);
        cond_error(
            negations,
            vec![],
            ExpandError::hard(format!("condition name expected, but found \"{found}\"")),
            span,
        )
    }

    /// `and{...}` / `or{...}`: `list` is the members and the list's close, if a `{` followed.
    pub fn cond_andor(
        &self,
        kw: &str,
        list: Option<(Vec<Cond>, Close)>,
        negations: u32,
        span: Span,
    ) -> Cond {
        let Some((members, close)) = list else {
            return cond_error(
                negations,
                vec![],
                ExpandError::hard(format!("missing {{ after \"{kw}\"")),
                span,
            );
        };
        let broken = members
            .last()
            .is_some_and(|c| matches!(c.kind, CondKind::Error(_)));
        if !broken && !close.ok {
            let pre = members.into_iter().map(Pre::Cond).collect();
            let msg = if close.pos >= self.src.len() {
                format!("missing }} at end of condition inside \"{kw}\" group")
            } else {
                format!(
                    "each subcondition inside an \"{kw}{{...}}\" condition must be in its own {{}}"
                )
            };
            return cond_error(negations, pre, ExpandError::hard(msg), span);
        }
        let kind = if kw == "and" {
            CondKind::And(members)
        } else {
            CondKind::Or(members)
        };
        Cond {
            negations,
            kind,
            span,
        }
    }

    pub fn andor_member_end(kw: &str) -> String {
        format!("missing }} at end of condition inside \"{kw}\" group")
    }

    pub fn forall_end(kw: &str) -> String {
        format!("missing }} at end of condition inside \"{kw}\"")
    }

    pub fn cond_forall(
        &self,
        kw: &str,
        list: Option<Group>,
        sub: Option<Cond>,
        negations: u32,
        span: Span,
    ) -> Cond {
        let curly = ExpandError::hard(format!("missing {{ after \"{kw}\""));
        let Some(def) = conditions::find(kw).filter(|d| d.each.is_some()) else {
            let msg = format!("\"{kw}\" condition is not supported by rexim");
            return cond_error(negations, vec![], ExpandError::hard(msg), span);
        };
        let Some(list) = list else {
            return cond_error(negations, vec![], curly, span);
        };
        let Some(sub) = sub else {
            return cond_error(negations, vec![Pre::Seq(list)], curly, span);
        };
        Cond {
            negations,
            kind: CondKind::ForEach {
                def,
                list,
                cond: Box::new(sub),
            },
            span,
        }
    }

    pub fn cond_def(
        &mut self,
        colon: bool,
        target: Option<DefTarget>,
        groups: Vec<Group>,
        negations: u32,
        span: Span,
    ) -> (Cond, Vec<Group>) {
        if !colon {
            return (
                cond_error(
                    negations,
                    vec![],
                    ExpandError::hard("\":\" expected after \"def\""),
                    span,
                ),
                vec![],
            );
        }
        let kind = match target {
            None => {
                let e = ExpandError::hard("variable name omitted after \"def:\"");
                return (cond_error(negations, vec![], e, span), vec![]);
            }
            Some(DefTarget::Header {
                kind,
                name,
                span: hspan,
            }) => CondKind::DefHeader(Box::new(self.header(kind, name, hspan))),
            Some(DefTarget::Var(name)) => match vars::resolve(name) {
                Some(v) => CondKind::DefVar(v),
                None => {
                    let msg = format!(
                        "unknown variable \"{name}\" after \"def:\"{}",
                        vars::unknown_suffix(name)
                    );
                    return (
                        cond_error(negations, vec![], ExpandError::hard(msg), span),
                        vec![],
                    );
                }
            },
        };
        (
            Cond {
                negations,
                kind,
                span,
            },
            groups,
        )
    }

    /// `acl{{name}{args}}` / `saslauthd{{user}{pass}...}`.
    pub fn cond_sub(
        &self,
        kw: &str,
        subs: Option<Args>,
        groups: Vec<Group>,
        negations: u32,
        span: Span,
    ) -> (Cond, Vec<Group>) {
        let Some(def) = conditions::find(kw) else {
            let msg = format!("\"{kw}\" condition is not supported by rexim");
            return (
                cond_error(negations, vec![], ExpandError::hard(msg), span),
                vec![],
            );
        };
        let Some(subs) = subs else {
            let e = ExpandError::hard(format!("missing {{ after \"{kw}\""));
            return (cond_error(negations, vec![], e, span), vec![]);
        };
        let (min, max) = match def.form {
            CondForm::SubGroups { min, max } => (min as usize, max as usize),
            _ => (1, 1),
        };
        let mut sg = subs.groups;
        let fail = |sg: Vec<Group>, msg: String| {
            (
                cond_error(negations, pre_groups(sg), ExpandError::hard(msg), span),
                vec![],
            )
        };
        if sg.len() < min {
            // Exim replaces read_subs' own text for acl and saslauthd.
            return fail(
                sg,
                format!("too few arguments or bracketing error for {kw}"),
            );
        }
        if sg.len() > max {
            sg.truncate(max);
            // Exim passes an unset name to read_subs here (prints garbage); rexim prints ''.
            return fail(sg, format!("Too many arguments for '' (max is {max})"));
        }
        if !subs.close.ok {
            return fail(
                sg,
                format!("too few arguments or bracketing error for {kw}"),
            );
        }
        let args = sg;
        (
            Cond {
                negations,
                kind: CondKind::Call {
                    def,
                    args,
                    regex: None,
                },
                span,
            },
            groups,
        )
    }

    /// A table condition written `name{a}{b}...`; groups beyond its arity are returned.
    pub fn cond_call(
        &self,
        name: &str,
        mut groups: Vec<Group>,
        negations: u32,
        span: Span,
    ) -> (Cond, Vec<Group>) {
        let Some(def) = conditions::find(name) else {
            let e = ExpandError::hard(format!("unknown condition \"{name}\""));
            return (cond_error(negations, vec![], e, span), vec![]);
        };
        let want = match def.form {
            CondForm::Args(n) => n as usize,
            _ => 0,
        };
        if groups.len() < want {
            let got = groups.len();
            let broken = got > 0 && groups[got - 1].static_err.is_some();
            let msg = if broken {
                String::new()
            } else if let Some(m) = conditions::too_few_message(name) {
                m
            } else if got == 0 {
                format!("missing {{ after \"{name}\"")
            } else {
                format!("missing 2nd string in {{}} after \"{name}\"")
            };
            let mut groups = groups;
            if !broken && got == 1 {
                // Exim checks a number as soon as it is read, before the missing string.
                let g = &mut groups[0];
                *g = conditions::compare::checked_number(name, std::mem::take(g));
            }
            return (
                cond_error(negations, pre_groups(groups), ExpandError::hard(msg), span),
                vec![],
            );
        }
        let rest = groups.split_off(want);
        let args: Vec<Seq> = groups;
        let regex = conditions::precompile(def, &args);
        (
            Cond {
                negations,
                kind: CondKind::Call { def, args, regex },
                span,
            },
            rest,
        )
    }
}

fn clone_groups(gs: &[Group]) -> Vec<Group> {
    gs.to_vec()
}

fn fail_expected(what: &str, span: Span) -> Arc<ExpandError> {
    Arc::new(
        ExpandError::hard(format!(
            "syntax error in \"{what}\" item - \"fail\" expected"
        ))
        .at(span),
    )
}

fn def_missing_extract(name: &str, got: usize) -> String {
    format!("missing '{{' for arg {} of {name}", got + 1)
}

/// Exim's backslash escapes (`\n`, `\x41`, `\101`, `\$` ...); `esc` starts with the backslash.
pub fn unescape(esc: &str, out: &mut Vec<u8>) {
    let body = &esc.as_bytes()[1..];
    if body.is_empty() {
        return;
    }
    let (c, used) = crate::expand::escape::unescape_one(body);
    if used == 1 && !body[0].is_ascii() {
        // An escaped multi-byte character stands for itself, all of it.
        out.extend_from_slice(body);
    } else {
        out.push(c);
    }
}

/// Exim keeps at most 255 characters of a name (the rest is read and dropped).
fn truncate_name(name: &str) -> &str {
    // Names are ASCII (letters, digits, `_`, `-`), so a byte index is a char boundary.
    &name[..name.len().min(255)]
}
