//! pest pairs from `grammar/expansion.pest` become the typed AST; nothing after this sees pest.

use std::sync::Arc;

use pest::iterators::Pair;
use pest::Parser;
use pest_derive::Parser;

use crate::error::ExpandError;
use crate::expand::ast::*;
use crate::expand::conditions::{self, CondForm};
use crate::expand::items::{self, Shape};
use crate::expand::operators;
use crate::expand::vars;
use crate::lookup;

#[derive(Parser)]
#[grammar = "grammar/expansion.pest"]
struct ExpansionParser;

/// Parse an expansion string. Never fails: syntax errors become error nodes
/// that are raised, in Exim's order, when evaluation reaches them (see
/// [`Expansion::static_error`] to check up front).
pub fn parse(source: &str) -> Expansion {
    let source: Arc<str> = Arc::from(source);
    let body = if !source.contains(['$', '\\']) {
        // Exim's fast path: nothing to expand.
        let nodes = if source.is_empty() {
            Vec::new()
        } else {
            vec![Node::Text(source.as_bytes().into())]
        };
        Seq::new(nodes, Span::new(0, source.len()))
    } else {
        let mut b = Builder {
            src: &source,
            malformed_header: false,
        };
        match ExpansionParser::parse(Rule::expansion, &source) {
            Ok(mut pairs) => b.seq(pairs.next().expect("expansion rule")),
            Err(e) => {
                // The grammar is total; reaching here is a grammar bug. Report, never panic.
                let err = ExpandError::hard(format!("internal parser error: {e}"));
                Seq::new(vec![error_node(vec![], err)], Span::new(0, source.len()))
            }
        }
    };
    Expansion { source, body }
}

/// Parse and fail on any error that Exim would report even in a skipped branch.
pub fn parse_checked(source: &str) -> Result<Expansion, ExpandError> {
    let e = parse(source);
    match e.static_error() {
        Some(err) => Err(err.clone()),
        None => Ok(e),
    }
}

pub(crate) fn error_node(before: Vec<Pre>, error: ExpandError) -> Node {
    Node::Error(Box::new(ErrorNode {
        before,
        error: Arc::new(error),
    }))
}

fn span_of(p: &Pair<Rule>) -> Span {
    let s = p.as_span();
    Span::new(s.start(), s.end())
}

/// How a `close` rule ended.
#[derive(Clone, Copy)]
struct Close {
    ok: bool,
    pos: usize,
}

struct Group {
    seq: Seq,
    start: usize,
}

/// The generic shape after an item name: groups, an optional word, the closing brace.
struct Args {
    groups: Vec<Group>,
    word: Option<(String, usize)>,
    close: Close,
}

struct Builder<'s> {
    src: &'s str,
    malformed_header: bool,
}

impl<'s> Builder<'s> {
    fn seq(&mut self, pair: Pair<Rule>) -> Seq {
        let span = span_of(&pair);
        let mut nodes: Vec<Node> = Vec::new();
        let mut text: Vec<u8> = Vec::new();
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::top_text | Rule::text | Rule::raw_text => {
                    text.extend_from_slice(p.as_str().as_bytes())
                }
                Rule::esc => unescape(p.as_str(), &mut text),
                Rule::esc_verbatim => {
                    let s = &p.as_str()[2..];
                    text.extend_from_slice(s.strip_suffix("\\N").unwrap_or(s).as_bytes());
                }
                Rule::EOI => {}
                _ => {
                    if !text.is_empty() {
                        nodes.push(Node::Text(std::mem::take(&mut text).into()));
                    }
                    let node = self.piece(p);
                    let is_err = matches!(node, Node::Error(_));
                    nodes.push(node);
                    if is_err {
                        // Exim stops at the first syntax error; nothing after it matters.
                        return Seq::new(nodes, span);
                    }
                }
            }
        }
        if !text.is_empty() {
            nodes.push(Node::Text(text.into()));
        }
        Seq::new(nodes, span)
    }

    fn piece(&mut self, p: Pair<Rule>) -> Node {
        let span = span_of(&p);
        match p.as_rule() {
            Rule::esc_end => error_node(vec![], ExpandError::hard("\\ at end of string").at(span)),
            Rule::var => {
                let name = p.into_inner().next().expect("var_name").as_str();
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
            Rule::num_var => {
                let n = p.into_inner().next().expect("number").as_str();
                Node::Capture(n.parse().unwrap_or(usize::MAX))
            }
            Rule::hdr_var => Node::Header(Box::new(self.header(p))),
            Rule::bad_dollar => error_node(
                vec![],
                ExpandError::hard("$ not followed by letter, digit, or {").at(span),
            ),
            Rule::brace => self.brace(p.into_inner().next().expect("brace body")),
            other => error_node(
                vec![],
                ExpandError::hard(format!("internal parser error: unexpected {other:?}")).at(span),
            ),
        }
    }

    fn header(&mut self, p: Pair<Rule>) -> HeaderRef {
        let span = span_of(&p);
        let mut kind = HeaderKind::Decoded;
        let mut name = String::new();
        for q in p.into_inner() {
            match q.as_rule() {
                Rule::hdr_kind => {
                    kind = match q.as_str().as_bytes()[0] {
                        b'b' => HeaderKind::Basic,
                        b'r' => HeaderKind::Raw,
                        b'l' => HeaderKind::List,
                        _ => HeaderKind::Decoded,
                    }
                }
                Rule::hdr_name => name = q.as_str().to_string(),
                _ => {}
            }
        }
        if name.contains('}') {
            self.malformed_header = true;
        }
        name.push(':');
        HeaderRef { kind, name, span }
    }

    fn missing_close_error(&self, pos: usize) -> ExpandError {
        let msg = if self.malformed_header {
            "missing } at end of string - could be header name not terminated by colon"
        } else {
            "missing } at end of string"
        };
        ExpandError::hard(msg).at(Span::new(pos, pos))
    }

    fn curly(&self, why: &str, pos: usize) -> Arc<ExpandError> {
        Arc::new(
            ExpandError::hard(format!(
                "curly-bracket problem in conditional yes/no parsing: {why}\n remaining string is '{}'",
                &self.src[pos.min(self.src.len())..]
            ))
            .at(Span::new(pos, self.src.len())),
        )
    }

    fn close(&self, p: Pair<Rule>) -> Close {
        let inner = p.into_inner().next().expect("close alt");
        Close {
            ok: inner.as_rule() == Rule::close_ok,
            pos: inner.as_span().start(),
        }
    }

    /// `{ inner }`: a missing `}` can only mean end of input.
    fn group(&mut self, p: Pair<Rule>) -> Group {
        let start = p.as_span().start();
        let mut it = p.into_inner();
        let mut seq = self.seq(it.next().expect("inner"));
        let close = self.close(it.next().expect("close"));
        if !close.ok && seq.static_err.is_none() {
            let err = self.missing_close_error(close.pos);
            let mut nodes = std::mem::take(&mut seq.nodes);
            nodes.push(error_node(vec![], err));
            seq = Seq::new(nodes, seq.span);
        }
        Group { seq, start }
    }

    fn args(&mut self, p: Pair<Rule>) -> Args {
        let mut groups = Vec::new();
        let mut word = None;
        let mut close = Close { ok: true, pos: 0 };
        for q in p.into_inner() {
            match q.as_rule() {
                Rule::group => groups.push(self.group(q)),
                Rule::tail_word => word = Some((q.as_str().to_string(), q.as_span().start())),
                Rule::close => close = self.close(q),
                _ => {}
            }
        }
        Args {
            groups,
            word,
            close,
        }
    }

    /// Exim's `process_yesno`, decided at parse time where the shape allows.
    fn tail(
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
        let yes_broken = yes.seq.static_err.is_some() && !close.ok;
        t.yes = Some(yes.seq);
        if yes_broken {
            return t;
        }
        if let Some(no) = groups.next() {
            let no_broken = no.seq.static_err.is_some() && !close.ok;
            t.no = Some(no.seq);
            if no_broken {
                return t;
            }
            let extra = groups.next().map(|g| g.start);
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
            Some(_) => t.after_yes = Some(fail_expected(what)),
            None if !close.ok => t.after_yes = Some(fail_expected(what)),
            None => {}
        }
        t
    }

    fn brace(&mut self, p: Pair<Rule>) -> Node {
        let span = span_of(&p);
        match p.as_rule() {
            Rule::brace_num => {
                let mut it = p.into_inner();
                let n = it.next().expect("number").as_str();
                let closed = it
                    .next()
                    .map(|c| c.as_rule() == Rule::num_close)
                    .unwrap_or(false);
                if closed {
                    Node::Capture(n.parse().unwrap_or(usize::MAX))
                } else {
                    error_node(
                        vec![],
                        ExpandError::hard("} expected after number").at(span),
                    )
                }
            }
            Rule::bvar => {
                let name = p.into_inner().next().expect("bname").as_str();
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
            Rule::bad_name => {
                let name = p.into_inner().next().expect("bname").as_str();
                error_node(
                    vec![],
                    ExpandError::hard(format!(
                        "\"${{{name}\" is not a known operator (or a }} is missing in a variable reference)"
                    ))
                    .at(span),
                )
            }
            Rule::bad_brace => error_node(
                vec![],
                ExpandError::hard("letter or digit expected after ${").at(span),
            ),
            Rule::op => self.op(p),
            Rule::item => self.item(p),
            Rule::if_item => self.if_item(p),
            Rule::lookup_item => self.lookup(p),
            Rule::extract_item => self.item_like(p, "extract"),
            Rule::run_item => self.item_like(p, "run"),
            Rule::filter_item => self.filter(p),
            other => error_node(
                vec![],
                ExpandError::hard(format!("internal parser error: unexpected {other:?}")).at(span),
            ),
        }
    }

    fn op(&mut self, p: Pair<Rule>) -> Node {
        let span = span_of(&p);
        let mut it = p.into_inner();
        let name = it.next().expect("bname").as_str().to_string();
        let operand = self.seq(it.next().expect("inner"));
        let close = self.close(it.next().expect("close"));
        let mut operand = operand;
        if !close.ok && operand.static_err.is_none() {
            let mut nodes = std::mem::take(&mut operand.nodes);
            nodes.push(error_node(vec![], self.missing_close_error(close.pos)));
            operand = Seq::new(nodes, operand.span);
        }
        match operators::find(&name) {
            Some((def, arg)) => {
                let arg = arg.map(str::to_string);
                Node::Op(Box::new(OpNode {
                    def,
                    name,
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

    fn item(&mut self, p: Pair<Rule>) -> Node {
        let name = p
            .clone()
            .into_inner()
            .next()
            .expect("item_kw")
            .as_str()
            .to_string();
        self.item_like(p, &name)
    }

    /// Items whose arguments follow the generic `{..}{..} [word] }` shape.
    fn item_like(&mut self, p: Pair<Rule>, name: &str) -> Node {
        let span = span_of(&p);
        let mut mode = ItemMode::Plain;
        let mut args = None;
        for q in p.into_inner() {
            match q.as_rule() {
                Rule::extract_mode => {
                    mode = if q.as_str() == "jsons" {
                        ItemMode::Jsons
                    } else {
                        ItemMode::Json
                    }
                }
                Rule::run_opt => {
                    let opt = q
                        .into_inner()
                        .next()
                        .map(|o| o.as_str().to_string())
                        .unwrap_or_default();
                    if opt == "preexpand" {
                        mode = ItemMode::Preexpand;
                    } else {
                        return error_node(
                            vec![],
                            ExpandError::hard(format!("bad option '{opt}' for run")).at(span),
                        );
                    }
                }
                Rule::item_args => args = Some(self.args(q)),
                _ => {}
            }
        }
        let Some(def) = items::find(name) else {
            return error_node(
                vec![],
                ExpandError::hard(format!("unknown item \"{name}\"")).at(span),
            );
        };
        let Args {
            groups,
            word,
            close,
        } = args.expect("item_args");
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
            error_node(
                before.into_iter().map(|g| Pre::Seq(g.seq)).collect(),
                ExpandError::hard(msg).at(span),
            )
        };
        match shape {
            Shape::Subs { min, max } => {
                let (min, max) = (min as usize, max as usize);
                let mut groups = groups;
                if groups.len() < min {
                    let n = groups.len();
                    let msg = if n > 0 && groups[n - 1].seq.static_err.is_some() {
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
                    return err(groups, format!("missing '}}' after '{name}'"));
                }
                let args = groups.into_iter().map(|g| g.seq).collect();
                Node::Item(Box::new(ItemNode {
                    def,
                    args,
                    tail: Tail::default(),
                    tail_alt: None,
                    mode,
                    raw,
                    span,
                }))
            }
            Shape::Fixed { n, missing } => {
                let n = n as usize;
                let mut groups = groups;
                if groups.len() < n {
                    let msg = missing(name, groups.len());
                    return err(groups, msg);
                }
                if groups.len() > n || word.is_some() || !close.ok {
                    groups.truncate(n);
                    return err(groups, format!("missing }} at end of \"{name}\""));
                }
                let args = groups.into_iter().map(|g| g.seq).collect();
                Node::Item(Box::new(ItemNode {
                    def,
                    args,
                    tail: Tail::default(),
                    tail_alt: None,
                    mode,
                    raw,
                    span,
                }))
            }
            Shape::Tail { n, missing } => {
                let n = n as usize;
                let mut groups = groups;
                if groups.len() < n {
                    let msg = missing(name, groups.len());
                    return err(groups, msg);
                }
                let rest = groups.split_off(n);
                let tail = self.tail(rest, word, close, name);
                let args = groups.into_iter().map(|g| g.seq).collect();
                Node::Item(Box::new(ItemNode {
                    def,
                    args,
                    tail,
                    tail_alt: None,
                    mode,
                    raw,
                    span,
                }))
            }
            Shape::TailEither { a, b, missing } => {
                // Which applies is known only after the first argument is expanded.
                let (a, b) = (a as usize, b as usize);
                let mut groups = groups;
                if groups.len() < a {
                    let msg = missing(name, groups.len());
                    return err(groups, msg);
                }
                let tail_a = self.tail(clone_groups(&groups[a..]), word.clone(), close, name);
                let tail_alt = if groups.len() >= b {
                    Some(self.tail(clone_groups(&groups[b..]), word, close, name))
                } else {
                    None
                };
                groups.truncate(b.max(a).min(groups.len()));
                let args = groups.into_iter().map(|g| g.seq).collect();
                Node::Item(Box::new(ItemNode {
                    def,
                    args,
                    tail: tail_a,
                    tail_alt,
                    mode,
                    raw,
                    span,
                }))
            }
        }
    }

    fn group_text(&self, g: &Group) -> Box<str> {
        let start = g.start + 1;
        let end = (g.seq.span.end as usize).max(start);
        self.src[start..end].into()
    }

    fn if_item(&mut self, p: Pair<Rule>) -> Node {
        let span = span_of(&p);
        let mut cond = None;
        let mut groups = Vec::new();
        let mut word = None;
        let mut close = Close { ok: true, pos: 0 };
        for q in p.into_inner() {
            match q.as_rule() {
                Rule::cond => {
                    let (c, extra) = self.cond(q);
                    groups.extend(extra);
                    cond = Some(c);
                }
                Rule::group => groups.push(self.group(q)),
                Rule::tail_word => word = Some((q.as_str().to_string(), q.as_span().start())),
                Rule::close => close = self.close(q),
                _ => {}
            }
        }
        let cond = cond.expect("cond");
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

    fn filter(&mut self, p: Pair<Rule>) -> Node {
        let span = span_of(&p);
        let mut list = None;
        let mut cond = None;
        let mut close = Close { ok: true, pos: 0 };
        for q in p.into_inner() {
            match q.as_rule() {
                Rule::group => list = Some(self.group(q)),
                Rule::cond_group => {
                    cond = Some(self.cond_group(q, "missing } at end of condition"))
                }
                Rule::close => close = self.close(q),
                _ => {}
            }
        }
        let Some(list) = list else {
            return error_node(
                vec![],
                ExpandError::hard("missing '{' for first arg of filter").at(span),
            );
        };
        let Some(cond) = cond else {
            return error_node(
                vec![Pre::Seq(list.seq)],
                ExpandError::hard("missing '{' for second arg of filter").at(span),
            );
        };
        if !close.ok {
            return error_node(
                vec![Pre::Seq(list.seq), Pre::Cond(cond)],
                ExpandError::hard("missing } at end of \"filter\"").at(span),
            );
        }
        Node::Filter(Box::new(FilterNode {
            list: list.seq,
            cond,
            span,
        }))
    }

    fn lookup(&mut self, p: Pair<Rule>) -> Node {
        let span = span_of(&p);
        let mut key = None;
        let mut ty: Option<(String, usize)> = None;
        let mut args = None;
        for q in p.into_inner() {
            match q.as_rule() {
                Rule::group => key = Some(self.group(q)),
                Rule::lookup_type => ty = Some((q.as_str().to_string(), q.as_span().start())),
                Rule::item_args => args = Some(self.args(q)),
                _ => {}
            }
        }
        let mut before: Vec<Pre> = Vec::new();
        if let Some(k) = &key {
            if k.seq.static_err.is_some() {
                return error_node(vec![Pre::Seq(k.seq.clone())], ExpandError::hard(""));
            }
            before.push(Pre::Seq(k.seq.clone()));
        }
        let (ty, _) = ty.unwrap_or_default();
        let spec = match lookup::parse_spec(&ty) {
            Ok(s) => s,
            Err(msg) => return error_node(before, ExpandError::hard(msg).at(span)),
        };
        let single = spec.is_single_key();
        if single && key.is_none() {
            return error_node(
                before,
                ExpandError::hard(format!("missing {{key}} for single-key \"{ty}\" lookup"))
                    .at(span),
            );
        }
        if !single && key.is_some() {
            return error_node(
                before,
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
        } = args.expect("item_args");
        if groups.is_empty() {
            return error_node(
                before,
                ExpandError::hard("missing '{' for lookup file-or-query arg").at(span),
            );
        }
        let rest = groups.split_off(1);
        let source = groups.pop().expect("one group").seq;
        let tail = self.tail(rest, word, close, "lookup");
        Node::Lookup(Box::new(LookupNode {
            spec,
            key: key.map(|k| k.seq),
            source,
            tail,
            span,
        }))
    }

    /// A `{ cond }` group (filter, forall, and/or members).
    fn cond_group(&mut self, p: Pair<Rule>, end_msg: &str) -> Cond {
        let span = span_of(&p);
        let mut cond = None;
        let mut extra = Vec::new();
        let mut close = Close { ok: true, pos: 0 };
        for q in p.into_inner() {
            match q.as_rule() {
                Rule::cond => {
                    let (c, x) = self.cond(q);
                    extra = x;
                    cond = Some(c);
                }
                Rule::close => close = self.close(q),
                _ => {}
            }
        }
        let cond = cond.expect("cond");
        if matches!(cond.kind, CondKind::Error(_)) {
            return cond;
        }
        if !extra.is_empty() || !close.ok {
            return Cond {
                negations: 0,
                kind: CondKind::Error(Box::new(ErrorNode {
                    before: vec![Pre::Cond(cond)],
                    error: Arc::new(ExpandError::hard(end_msg).at(span)),
                })),
                span,
            };
        }
        cond
    }

    /// A condition, plus any brace groups after it that belong to the caller (yes/no strings).
    fn cond(&mut self, p: Pair<Rule>) -> (Cond, Vec<Group>) {
        let span = span_of(&p);
        let mut negations = 0;
        let mut body = None;
        for q in p.into_inner() {
            match q.as_rule() {
                Rule::cond_neg => negations += 1,
                _ => body = Some(q),
            }
        }
        let body = body.expect("cond body");
        let err = |before: Vec<Pre>, e: ExpandError| Cond {
            negations,
            kind: CondKind::Error(Box::new(ErrorNode {
                before,
                error: Arc::new(e.at(span)),
            })),
            span,
        };
        match body.as_rule() {
            Rule::cond_bad => {
                let pos = body.as_span().start();
                let found: String = self.src[pos..].chars().take(16).collect();
                (
                    err(
                        vec![],
                        ExpandError::hard(format!(
                            "condition name expected, but found \"{found}\""
                        )),
                    ),
                    vec![],
                )
            }
            Rule::cond_andor => {
                let mut it = body.into_inner();
                let kw = it.next().expect("kw").as_str().to_string();
                let Some(list) = it.next() else {
                    return (
                        err(
                            vec![],
                            ExpandError::hard(format!("missing {{ after \"{kw}\"")),
                        ),
                        vec![],
                    );
                };
                let mut members: Vec<Cond> = Vec::new();
                let mut close = Close { ok: true, pos: 0 };
                for q in list.into_inner() {
                    match q.as_rule() {
                        Rule::cond_group => {
                            let msg =
                                format!("missing }} at end of condition inside \"{kw}\" group");
                            let c = self.cond_group(q, &msg);
                            let broken = matches!(c.kind, CondKind::Error(_));
                            members.push(c);
                            if broken {
                                break;
                            }
                        }
                        Rule::close => close = self.close(q),
                        _ => {}
                    }
                }
                let broken = members
                    .last()
                    .is_some_and(|c| matches!(c.kind, CondKind::Error(_)));
                if !broken && !close.ok {
                    let pre = members.into_iter().map(Pre::Cond).collect();
                    let msg = if close.pos >= self.src.len() {
                        format!("missing }} at end of condition inside \"{kw}\" group")
                    } else {
                        format!("each subcondition inside an \"{kw}{{...}}\" condition must be in its own {{}}")
                    };
                    return (err(pre, ExpandError::hard(msg)), vec![]);
                }
                let kind = if kw == "and" {
                    CondKind::And(members)
                } else {
                    CondKind::Or(members)
                };
                (
                    Cond {
                        negations,
                        kind,
                        span,
                    },
                    vec![],
                )
            }
            Rule::cond_forall => {
                let mut it = body.into_inner();
                let kw = it.next().expect("kw").as_str().to_string();
                let def = conditions::find(&kw).expect("forall in table");
                let mut list = None;
                let mut sub = None;
                for q in it {
                    match q.as_rule() {
                        Rule::group => list = Some(self.group(q)),
                        Rule::cond_group => {
                            sub =
                                Some(self.cond_group(
                                    q,
                                    &format!("missing }} at end of \"{kw}\" condition"),
                                ))
                        }
                        _ => {}
                    }
                }
                let curly = ExpandError::hard(format!("missing {{ after \"{kw}\""));
                let Some(list) = list else {
                    return (err(vec![], curly), vec![]);
                };
                let Some(sub) = sub else {
                    return (err(vec![Pre::Seq(list.seq)], curly), vec![]);
                };
                (
                    Cond {
                        negations,
                        kind: CondKind::ForEach {
                            def,
                            list: list.seq,
                            cond: Box::new(sub),
                        },
                        span,
                    },
                    vec![],
                )
            }
            Rule::cond_def => {
                let mut colon = false;
                let mut target = None;
                let mut groups = Vec::new();
                for q in body.into_inner() {
                    match q.as_rule() {
                        Rule::def_colon => colon = true,
                        Rule::def_target => target = q.into_inner().next(),
                        Rule::group => groups.push(self.group(q)),
                        _ => {}
                    }
                }
                if !colon {
                    return (
                        err(vec![], ExpandError::hard("\":\" expected after \"def\"")),
                        vec![],
                    );
                }
                let Some(t) = target else {
                    return (
                        err(
                            vec![],
                            ExpandError::hard("variable name omitted after \"def:\""),
                        ),
                        vec![],
                    );
                };
                let kind = if t.as_rule() == Rule::def_hdr {
                    CondKind::DefHeader(Box::new(self.header(t)))
                } else {
                    let name = t.as_str();
                    match vars::resolve(name) {
                        Some(v) => CondKind::DefVar(v),
                        None => {
                            let msg = format!(
                                "unknown variable \"{name}\" after \"def:\"{}",
                                vars::unknown_suffix(name)
                            );
                            return (err(vec![], ExpandError::hard(msg)), vec![]);
                        }
                    }
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
            Rule::cond_sub => {
                let mut it = body.into_inner();
                let kw = it.next().expect("kw").as_str().to_string();
                let def = conditions::find(&kw).expect("sub cond in table");
                let mut subs: Option<Args> = None;
                let mut groups = Vec::new();
                for q in it {
                    match q.as_rule() {
                        Rule::sub_groups => {
                            let mut a = Args {
                                groups: vec![],
                                word: None,
                                close: Close { ok: true, pos: 0 },
                            };
                            for r in q.into_inner() {
                                match r.as_rule() {
                                    Rule::group => a.groups.push(self.group(r)),
                                    Rule::close => a.close = self.close(r),
                                    _ => {}
                                }
                            }
                            subs = Some(a);
                        }
                        Rule::group => groups.push(self.group(q)),
                        _ => {}
                    }
                }
                let Some(subs) = subs else {
                    return (
                        err(
                            vec![],
                            ExpandError::hard(format!("missing {{ after \"{kw}\"")),
                        ),
                        vec![],
                    );
                };
                let (min, max) = match def.form {
                    CondForm::SubGroups { min, max } => (min as usize, max as usize),
                    _ => (1, 1),
                };
                let mut sg = subs.groups;
                if sg.len() < min {
                    let pre = sg.into_iter().map(|g| Pre::Seq(g.seq)).collect();
                    let msg = format!("Not enough arguments for '{kw}' (min is {min})");
                    return (err(pre, ExpandError::hard(msg)), vec![]);
                }
                if sg.len() > max {
                    sg.truncate(max);
                    let pre = sg.into_iter().map(|g| Pre::Seq(g.seq)).collect();
                    let msg = format!("Too many arguments for '{kw}' (max is {max})");
                    return (err(pre, ExpandError::hard(msg)), vec![]);
                }
                if !subs.close.ok {
                    let pre = sg.into_iter().map(|g| Pre::Seq(g.seq)).collect();
                    return (
                        err(pre, ExpandError::hard(format!("missing '}}' after '{kw}'"))),
                        vec![],
                    );
                }
                let args = sg.into_iter().map(|g| g.seq).collect();
                (
                    Cond {
                        negations,
                        kind: CondKind::Call { def, args },
                        span,
                    },
                    groups,
                )
            }
            Rule::cond_raw2 | Rule::cond_named | Rule::cond_sym => {
                let mut it = body.into_inner();
                let name = it.next().expect("name").as_str().to_string();
                let Some(def) = conditions::find(&name) else {
                    return (
                        err(
                            vec![],
                            ExpandError::hard(format!("unknown condition \"{name}\"")),
                        ),
                        vec![],
                    );
                };
                let want = match def.form {
                    CondForm::Args(n) => n as usize,
                    _ => 0,
                };
                let mut groups: Vec<Group> = Vec::new();
                for q in it {
                    match q.as_rule() {
                        Rule::group | Rule::raw_group => groups.push(self.group(q)),
                        _ => {}
                    }
                }
                if groups.len() < want {
                    let got = groups.len();
                    let broken = got > 0 && groups[got - 1].seq.static_err.is_some();
                    let pre = groups.into_iter().map(|g| Pre::Seq(g.seq)).collect();
                    let msg = if broken {
                        String::new()
                    } else if got == 0 {
                        format!("missing {{ after \"{name}\"")
                    } else {
                        format!("missing 2nd string in {{}} after \"{name}\"")
                    };
                    return (err(pre, ExpandError::hard(msg)), vec![]);
                }
                let rest = groups.split_off(want);
                let args = groups.into_iter().map(|g| g.seq).collect();
                (
                    Cond {
                        negations,
                        kind: CondKind::Call { def, args },
                        span,
                    },
                    rest,
                )
            }
            other => (
                err(
                    vec![],
                    ExpandError::hard(format!("internal parser error: {other:?}")),
                ),
                vec![],
            ),
        }
    }
}

fn clone_groups(gs: &[Group]) -> Vec<Group> {
    gs.iter()
        .map(|g| Group {
            seq: g.seq.clone(),
            start: g.start,
        })
        .collect()
}

fn fail_expected(what: &str) -> Arc<ExpandError> {
    Arc::new(ExpandError::hard(format!(
        "syntax error in \"{what}\" item - \"fail\" expected"
    )))
}

fn def_missing_extract(name: &str, got: usize) -> String {
    format!("missing '{{' for arg {} of {name}", got + 1)
}

/// Exim's backslash escapes (`\n`, `\x41`, `\101`, `\$` ...).
fn unescape(esc: &str, out: &mut Vec<u8>) {
    let body = &esc[1..];
    let b = body.as_bytes();
    match b[0] {
        b'n' => out.push(b'\n'),
        b'r' => out.push(b'\r'),
        b't' => out.push(b'\t'),
        b'b' => out.push(0x08),
        b'f' => out.push(0x0c),
        b'v' => out.push(0x0b),
        b'x' => {
            let v = u8::from_str_radix(&body[1..], 16).unwrap_or(0);
            out.push(v);
        }
        b'0'..=b'7' => {
            let v = u32::from_str_radix(body, 8).unwrap_or(0);
            out.push(v as u8);
        }
        _ => out.extend_from_slice(b),
    }
}
