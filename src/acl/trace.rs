//! The `-bh` trace lines of the ACL engine that need more than one `format!`: a
//! statement's outcome and the `check name = text` / `= value` pair.

use crate::acl::conditions::Kind;
use crate::acl::engine::{AclRun, Rc};
use crate::acl::model::{Arg, Item, Verb};
use crate::expand::Val;

/// The `-bh` trace line for a statement's outcome.
pub fn trace_outcome(run: &mut AclRun, verb: Verb, cond: Rc, acl_name: &str) {
    let what = match cond {
        Rc::Defer => "condition test deferred",
        Rc::Error => "condition test error",
        Rc::Ok => "condition test succeeded",
        Rc::Fail => "condition test failed",
        Rc::Discard => "condition test yielded \"discard\"",
        Rc::FailDrop => "condition test yielded \"drop\"",
    };
    run.ctx
        .trace(|| format!("{}: {what} in {acl_name}", verb.name()));
}

/// `check NAME = raw` and, when the raw text expands to something else, `= value`.
pub fn trace_check(run: &mut AclRun, item: &Item, value: Option<&Val>) {
    let neg = if item.def.kind == Kind::Condition && item.negated {
        "!"
    } else {
        ""
    };
    let mut head = format!("check {neg}{} ", item.def.name);
    let raw = match &item.arg {
        Arg::Expand(e) => e.source(),
        Arg::Raw(s) => s.as_str(),
        Arg::Set(name, e) => {
            head.push_str(name);
            head.push(' ');
            e.source()
        }
        Arg::None => "",
    };
    run.ctx.trace(|| format!("{head}= {raw}"));
    // Exim's expand_string returns its input untouched when it holds no `$` or `\\`.
    let Some(v) = value.filter(|_| raw.contains(['$', '\\'])) else {
        return;
    };
    let line = format!("{:w$}= {}", "", v.as_str_lossy(), w = head.len().min(29));
    if let Some(t) = run.ctx.trace.as_mut() {
        t.plain(&line);
    }
}
