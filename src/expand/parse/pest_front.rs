//! The reference front end: pest pairs from `grammar/expansion.pest` fed to the builder.
//! Nothing after the parser sees pest.

use pest::iterators::Pair;
use pest::Parser;
use pest_derive::Parser;

use crate::error::ExpandError;
use crate::expand::ast::*;
use crate::expand::parse::build::{
    error_node, unescape, Args, Builder, Close, DefTarget, Group, SeqBuf,
};

#[derive(Parser)]
#[grammar = "grammar/expansion.pest"]
struct ExpansionParser;

/// Parse with the pest grammar.
pub fn parse_body(source: &str) -> Seq {
    let mut f = PestFront {
        b: Builder::new(source),
    };
    match ExpansionParser::parse(Rule::expansion, source) {
        Ok(mut pairs) => match pairs.next() {
            Some(p) => f.seq(p),
            None => Seq::default(),
        },
        Err(e) => {
            // The grammar is total; reaching here means pest's recursion guard stopped
            // hostile nesting, or a grammar bug. Report, never panic.
            let err = match &e.variant {
                pest::error::ErrorVariant::CustomError { message }
                    if message.contains("stack limit") =>
                {
                    ExpandError::hard("expansion nesting too deep to parse")
                }
                _ => ExpandError::hard(format!("internal parser error: {e}")),
            };
            Seq::new(vec![error_node(vec![], err)], Span::new(0, source.len()))
        }
    }
}

fn span_of(p: &Pair<Rule>) -> Span {
    let s = p.as_span();
    Span::new(s.start(), s.end())
}

struct PestFront<'s> {
    b: Builder<'s>,
}

impl PestFront<'_> {
    fn seq(&mut self, pair: Pair<Rule>) -> Seq {
        let span = span_of(&pair);
        let mut buf = SeqBuf::default();
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::top_text | Rule::text | Rule::raw_text => buf.text(p.as_str().as_bytes()),
                Rule::esc => unescape(p.as_str(), buf.text_mut()),
                Rule::esc_verbatim => {
                    let s = &p.as_str()[2..];
                    buf.text(s.strip_suffix("\\N").unwrap_or(s).as_bytes());
                }
                Rule::EOI => {}
                _ => {
                    let node = self.piece(p);
                    if !buf.node(node) {
                        break;
                    }
                }
            }
        }
        buf.finish(span)
    }

    fn piece(&mut self, p: Pair<Rule>) -> Node {
        let span = span_of(&p);
        match p.as_rule() {
            Rule::esc_end => self.b.esc_end(span),
            Rule::var => self.b.var(first_str(p), span),
            Rule::num_var => self.b.capture(first_str(p)),
            Rule::hdr_var => Node::Header(Box::new(self.header(p))),
            Rule::bad_dollar => self.b.bad_dollar(span),
            Rule::brace => match p.into_inner().next() {
                Some(body) => self.brace(body),
                None => self.b.bad_brace(span),
            },
            other => internal(other, span),
        }
    }

    fn header(&mut self, p: Pair<Rule>) -> HeaderRef {
        let span = span_of(&p);
        let (mut kind, mut name) = ("", "");
        for q in p.into_inner() {
            match q.as_rule() {
                Rule::hdr_kind => kind = q.as_str(),
                Rule::hdr_name => name = q.as_str(),
                _ => {}
            }
        }
        self.b.header(kind, name, span)
    }

    fn close(&self, p: Pair<Rule>) -> Close {
        match p.into_inner().next() {
            Some(inner) => Close {
                ok: inner.as_rule() == Rule::close_ok,
                pos: inner.as_span().start(),
            },
            None => Close::OK,
        }
    }

    fn group(&mut self, p: Pair<Rule>) -> Group {
        // An empty group still starts after its `{` (its start locates the `{`).
        let inside = p.as_span().start() + 1;
        let mut seq = Seq {
            span: Span::new(inside, inside),
            ..Seq::default()
        };
        let mut close = Close::OK;
        for q in p.into_inner() {
            match q.as_rule() {
                Rule::inner | Rule::raw_inner => seq = self.seq(q),
                Rule::close => close = self.close(q),
                _ => {}
            }
        }
        self.b.group(seq, close)
    }

    fn args(&mut self, p: Pair<Rule>) -> Args {
        let mut a = Args {
            groups: Vec::new(),
            word: None,
            close: Close::OK,
        };
        for q in p.into_inner() {
            match q.as_rule() {
                Rule::group => a.groups.push(self.group(q)),
                Rule::tail_word => a.word = Some((q.as_str().to_string(), q.as_span().start())),
                Rule::close => a.close = self.close(q),
                _ => {}
            }
        }
        a
    }

    fn brace(&mut self, p: Pair<Rule>) -> Node {
        let span = span_of(&p);
        match p.as_rule() {
            Rule::brace_num => {
                let mut it = p.into_inner();
                let digits = it.next().map(|d| d.as_str()).unwrap_or("0");
                let closed = it.next().is_some_and(|c| c.as_rule() == Rule::num_close);
                self.b.brace_num(digits, closed, span)
            }
            Rule::bvar => self.b.braced_var(first_str(p), span),
            Rule::bad_name => self.b.bad_name(first_str(p), span),
            Rule::bad_brace => self.b.bad_brace(span),
            Rule::op => {
                let mut name = "";
                let mut operand = Seq::default();
                let mut close = Close::OK;
                for q in p.into_inner() {
                    match q.as_rule() {
                        Rule::bname => name = q.as_str(),
                        Rule::inner => operand = self.seq(q),
                        Rule::close => close = self.close(q),
                        _ => {}
                    }
                }
                self.b.op(name, operand, close, span)
            }
            Rule::item | Rule::extract_item | Rule::run_item => {
                let mut name = match p.as_rule() {
                    Rule::extract_item => "extract",
                    Rule::run_item => "run",
                    _ => "",
                };
                let mut mode = ItemMode::Plain;
                let mut bad_opt = None;
                let mut args = Args {
                    groups: Vec::new(),
                    word: None,
                    close: Close::OK,
                };
                for q in p.into_inner() {
                    match q.as_rule() {
                        Rule::item_kw => name = q.as_str(),
                        Rule::extract_mode => {
                            mode = if q.as_str() == "jsons" {
                                ItemMode::Jsons
                            } else {
                                ItemMode::Json
                            }
                        }
                        Rule::run_opt => {
                            let opt = q.into_inner().next().map(|o| o.as_str()).unwrap_or("");
                            if opt == "preexpand" {
                                mode = ItemMode::Preexpand;
                            } else if bad_opt.is_none() {
                                bad_opt = Some(opt.to_string());
                            }
                        }
                        Rule::item_args => args = self.args(q),
                        _ => {}
                    }
                }
                self.b.item(name, mode, bad_opt, args, span)
            }
            Rule::if_item => {
                let mut cond = None;
                let mut groups = Vec::new();
                let mut word = None;
                let mut close = Close::OK;
                for q in p.into_inner() {
                    match q.as_rule() {
                        Rule::cond => {
                            let (c, extra) = self.cond(q);
                            groups.extend(extra);
                            cond = Some(c);
                        }
                        Rule::group => groups.push(self.group(q)),
                        Rule::tail_word => {
                            word = Some((q.as_str().to_string(), q.as_span().start()))
                        }
                        Rule::close => close = self.close(q),
                        _ => {}
                    }
                }
                match cond {
                    Some(c) => self.b.if_item(c, groups, word, close, span),
                    None => internal(Rule::if_item, span),
                }
            }
            Rule::filter_item => {
                let mut list = None;
                let mut cond = None;
                let mut close = Close::OK;
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
                self.b.filter(list, cond, close, span)
            }
            Rule::lookup_item => {
                let mut key = None;
                let mut ty = "";
                let mut args = Args {
                    groups: Vec::new(),
                    word: None,
                    close: Close::OK,
                };
                for q in p.into_inner() {
                    match q.as_rule() {
                        Rule::group => key = Some(self.group(q)),
                        Rule::lookup_type => ty = q.as_str(),
                        Rule::item_args => args = self.args(q),
                        _ => {}
                    }
                }
                self.b.lookup(key, ty, args, span)
            }
            other => internal(other, span),
        }
    }

    fn cond_group(&mut self, p: Pair<Rule>, end_msg: &str) -> Cond {
        let span = span_of(&p);
        let mut cond = None;
        let mut close = Close::OK;
        for q in p.into_inner() {
            match q.as_rule() {
                Rule::cond => cond = Some(self.cond(q)),
                Rule::close => close = self.close(q),
                _ => {}
            }
        }
        match cond {
            Some((c, extra)) => self.b.cond_group(c, extra, close, end_msg, span),
            None => Cond {
                negations: 0,
                kind: CondKind::Error(Box::new(ErrorNode {
                    before: vec![],
                    error: std::sync::Arc::new(ExpandError::hard(
                        "internal parser error: empty condition group",
                    )),
                })),
                span,
            },
        }
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
        let Some(body) = body else {
            return (self.b.cond_bad(span.end as usize, negations, span), vec![]);
        };
        match body.as_rule() {
            Rule::cond_bad => (
                self.b.cond_bad(body.as_span().start(), negations, span),
                vec![],
            ),
            Rule::cond_andor => {
                let mut kw = "";
                let mut list = None;
                for q in body.into_inner() {
                    match q.as_rule() {
                        Rule::cond_andor_kw => kw = q.as_str(),
                        Rule::cond_list => {
                            let mut members = Vec::new();
                            let mut close = Close::OK;
                            let end_msg = Builder::andor_member_end(kw);
                            for r in q.into_inner() {
                                match r.as_rule() {
                                    Rule::cond_group => {
                                        let c = self.cond_group(r, &end_msg);
                                        let broken = matches!(c.kind, CondKind::Error(_));
                                        members.push(c);
                                        if broken {
                                            break;
                                        }
                                    }
                                    Rule::close => close = self.close(r),
                                    _ => {}
                                }
                            }
                            list = Some((members, close));
                        }
                        _ => {}
                    }
                }
                (self.b.cond_andor(kw, list, negations, span), vec![])
            }
            Rule::cond_forall => {
                let mut kw = "";
                let mut list = None;
                let mut sub = None;
                for q in body.into_inner() {
                    match q.as_rule() {
                        Rule::cond_forall_kw => kw = q.as_str(),
                        Rule::group => list = Some(self.group(q)),
                        Rule::cond_group => {
                            sub = Some(self.cond_group(q, &Builder::forall_end(kw)))
                        }
                        _ => {}
                    }
                }
                (self.b.cond_forall(kw, list, sub, negations, span), vec![])
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
                let target = target.map(|t| {
                    if t.as_rule() == Rule::def_hdr {
                        let hspan = span_of(&t);
                        let (mut kind, mut name) = ("", "");
                        for q in t.into_inner() {
                            match q.as_rule() {
                                Rule::hdr_kind => kind = q.as_str(),
                                Rule::hdr_name => name = q.as_str(),
                                _ => {}
                            }
                        }
                        DefTarget::Header {
                            kind,
                            name,
                            span: hspan,
                        }
                    } else {
                        DefTarget::Var(t.as_str())
                    }
                });
                self.b.cond_def(colon, target, groups, negations, span)
            }
            Rule::cond_sub => {
                let mut kw = "";
                let mut subs = None;
                let mut groups = Vec::new();
                for q in body.into_inner() {
                    match q.as_rule() {
                        Rule::cond_sub_kw => kw = q.as_str(),
                        Rule::sub_groups => subs = Some(self.args(q)),
                        Rule::group => groups.push(self.group(q)),
                        _ => {}
                    }
                }
                self.b.cond_sub(kw, subs, groups, negations, span)
            }
            Rule::cond_raw2 | Rule::cond_named | Rule::cond_sym => {
                let mut name = "";
                let mut groups = Vec::new();
                for q in body.into_inner() {
                    match q.as_rule() {
                        Rule::group | Rule::raw_group => groups.push(self.group(q)),
                        _ => name = q.as_str(),
                    }
                }
                self.b.cond_call(name, groups, negations, span)
            }
            other => {
                let e = ExpandError::hard(format!("internal parser error: {other:?}")).at(span);
                (
                    Cond {
                        negations,
                        kind: CondKind::Error(Box::new(ErrorNode {
                            before: vec![],
                            error: std::sync::Arc::new(e),
                        })),
                        span,
                    },
                    vec![],
                )
            }
        }
    }
}

fn first_str<'i>(p: Pair<'i, Rule>) -> &'i str {
    p.into_inner().next().map(|q| q.as_str()).unwrap_or("")
}

fn internal(rule: Rule, span: Span) -> Node {
    error_node(
        vec![],
        ExpandError::hard(format!("internal parser error: unexpected {rule:?}")).at(span),
    )
}
