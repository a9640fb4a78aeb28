//! `${acl{name}{args}}` and the `acl` expansion condition: configured ACLs run from
//! an expansion, with `$acl_arg1..9` and `$acl_narg` set for the call.

use std::sync::Arc;

use crate::acl::engine::{check_text, AclRun, Rc};
use crate::acl::model::{AclSet, Verb};
use crate::acl::phase::Phase;
use crate::acl::state::MessageState;
use crate::expand::{Context, Val};

/// Lets `${acl{name}{args}}` and the `acl` expansion condition run configured ACLs.
pub struct ExpansionAcls {
    pub acls: Arc<AclSet>,
}

impl crate::expand::context::AclRunner for ExpansionAcls {
    fn run(
        &self,
        name: &str,
        args: &[Val],
        ctx: &mut Context,
    ) -> crate::expand::context::AclOutcome {
        use crate::expand::context::AclOutcome;
        let mut state = MessageState::default();
        let saved: Vec<Option<Val>> = (1..=9)
            .map(|i| ctx.get(&format!("acl_arg{i}")).cloned())
            .collect();
        for i in 1..=9 {
            ctx.set(
                &format!("acl_arg{i}"),
                args.get(i - 1).cloned().unwrap_or_default(),
            );
        }
        ctx.set("acl_narg", args.len().to_string());
        let acls = self.acls.clone();
        let mut run = AclRun {
            ctx,
            phase: Phase::Unknown,
            acls: &acls,
            state: &mut state,
            verb: Verb::Accept,
            user_msg: None,
            log_msg: None,
            host_checking: false,
            set_value: None,
            arg_tainted: false,
        };
        // The trace indents a nested ACL one more level than the expansion calling it.
        run.ctx.trace_indent(1);
        let rc = if acls.get(name).is_some() {
            check_text(&mut run, name, 1)
        } else {
            Rc::Error
        };
        run.ctx.trace_indent(-1);
        let msg = run.user_msg.take().map(Val::from);
        let log = run.log_msg.take();
        for (i, v) in saved.into_iter().enumerate() {
            let n = format!("acl_arg{}", i + 1);
            match v {
                Some(v) => {
                    ctx.set(&n, v);
                }
                None => ctx.unset(&n),
            }
        }
        match rc {
            Rc::Ok | Rc::Discard => AclOutcome::Accept(msg),
            Rc::Fail | Rc::FailDrop => AclOutcome::Deny(msg),
            Rc::Defer => AclOutcome::Defer,
            Rc::Error => AclOutcome::Error(log.unwrap_or_default()),
        }
    }
}
