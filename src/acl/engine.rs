//! Runs an ACL: Exim's verb semantics, `endpass`, message/log_message selection, nesting.

use std::sync::Arc;

use crate::acl::conditions::Kind;
use crate::acl::model::{Acl, AclSet, Arg, Statement, Verb};
use crate::acl::phase::Phase;
use crate::acl::read;
use crate::acl::state::MessageState;
use crate::acl::trace::{trace_check, trace_outcome};
use crate::error::ErrorKind;
use crate::expand::{expand, Context, Expansion, Val};

pub use crate::acl::expansion::ExpansionAcls;

/// Result codes of conditions and of whole ACLs (Exim's OK, FAIL, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rc {
    Ok,
    Fail,
    /// Deny and drop the connection.
    FailDrop,
    Defer,
    Error,
    Discard,
}

/// What an ACL decided, with the texts for the SMTP reply and the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub rc: Rc,
    pub user_message: Option<String>,
    pub log_message: Option<String>,
}

/// Deepest nesting of `acl =` conditions and `${acl}` calls.
pub const MAX_ACL_DEPTH: u32 = 20;

/// The state one ACL evaluation works on.
pub struct AclRun<'a> {
    pub ctx: &'a mut Context,
    pub phase: Phase,
    pub acls: &'a AclSet,
    pub state: &'a mut MessageState,
    pub verb: Verb,
    /// Messages set by conditions (verification, nested ACLs).
    pub user_msg: Option<String>,
    pub log_msg: Option<String>,
    /// Running under `-bh`: `delay` is not obeyed.
    pub host_checking: bool,
    /// The expanded value for the `set` modifier being run.
    pub set_value: Option<Val>,
    /// Whether the expanded argument of the condition being run is tainted.
    pub arg_tainted: bool,
}

impl AclRun<'_> {
    /// Expand text in the ACL's context.
    pub fn expand(&mut self, e: &Expansion) -> Result<Val, crate::ExpandError> {
        expand(e, self.ctx)
    }

    /// Write a main-log line after the trace collected so far.
    pub fn flush_trace_then_log(&mut self, text: String) {
        self.flush_trace();
        self.state.logs.push(crate::acl::state::LogLine {
            targets: vec!["main"],
            text,
        });
    }

    /// Write a panic-log line after the trace collected so far.
    pub fn flush_trace_then_panic(&mut self, text: String) {
        self.flush_trace();
        self.state.panic_log(text);
    }

    /// Move the `-bh` trace collected so far into the log stream, so trace and log
    /// lines keep their order. Call before adding a log line.
    pub fn flush_trace(&mut self) {
        if self.ctx.trace.is_some() {
            for text in self.ctx.take_trace() {
                self.state.logs.push(crate::acl::state::LogLine {
                    targets: Vec::new(),
                    text,
                });
            }
        }
    }
}

/// Run the ACL named (or given inline) by an `acl_smtp_*` option value.
/// `spec` is the option's expansion; forced failure means "accept" as in Exim.
pub fn run_acl(
    ctx: &mut Context,
    acls: &AclSet,
    state: &mut MessageState,
    phase: Phase,
    spec: &Expansion,
    host_checking: bool,
) -> Verdict {
    let text = match expand(spec, ctx) {
        Ok(v) => v,
        Err(e) if e.kind == ErrorKind::Forced => {
            return Verdict {
                rc: Rc::Ok,
                user_message: None,
                log_message: None,
            }
        }
        Err(e) => {
            return Verdict {
                rc: Rc::Error,
                user_message: None,
                log_message: Some(format!(
                    "failed to expand ACL string \"{}\": {}",
                    spec.source(),
                    e.message
                )),
            }
        }
    };
    if text.tainted {
        for text in ctx.take_trace() {
            state.logs.push(crate::acl::state::LogLine {
                targets: Vec::new(),
                text,
            });
        }
        state.panic_log(format!(
            "attempt to use tainted ACL text \"{}\"",
            text.as_str_lossy()
        ));
        return Verdict {
            rc: Rc::Error,
            user_message: None,
            log_message: Some("internal configuration error".into()),
        };
    }
    let mut run = AclRun {
        ctx,
        phase,
        acls,
        state,
        verb: Verb::Accept,
        user_msg: None,
        log_msg: None,
        host_checking,
        set_value: None,
        arg_tainted: false,
    };
    let mut rc = check_text(&mut run, &text.as_str_lossy(), 0);
    if let Some(verb) = verb_not_allowed(rc, phase) {
        run.flush_trace_then_panic(format!(
            "\"{verb}\" verb not allowed in {} ACL",
            phase.name()
        ));
        rc = Rc::Error;
    }
    run.flush_trace();
    Verdict {
        rc,
        user_message: run.user_msg,
        log_message: run.log_msg,
    }
}

/// Exim's last checks on an ACL's result: `discard` only where a message is being
/// received (not PREDATA), `drop` not from MAILAUTH.
pub fn verb_not_allowed(rc: Rc, phase: Phase) -> Option<&'static str> {
    match rc {
        Rc::Discard if phase as u8 > Phase::NotSmtp as u8 || phase == Phase::Predata => {
            Some("discard")
        }
        Rc::FailDrop if phase == Phase::MailAuth => Some("drop"),
        _ => None,
    }
}

/// Resolve ACL text (a name, a `/file`, or inline statements) and run it.
pub fn check_text(run: &mut AclRun, text: &str, level: u32) -> Rc {
    if level > MAX_ACL_DEPTH {
        run.log_msg = Some("ACL nested too deep: possible loop".into());
        return Rc::Error;
    }
    let text = text.trim_start();
    let named = if text.contains(' ') {
        None
    } else {
        run.acls.get(text).cloned()
    };
    let mut acl_name = "inline ACL".to_string();
    let acl: Arc<Acl> = match named {
        Some(a) => {
            acl_name = format!("ACL \"{text}\"");
            if a.statements.is_empty() {
                run.ctx
                    .trace(|| format!("ACL \"{text}\" is empty: implicit DENY"));
                return Rc::Fail;
            }
            run.ctx.trace(|| format!("using ACL \"{text}\""));
            a
        }
        None => {
            let body = if !text.contains(' ') && text.starts_with('/') {
                match std::fs::read_to_string(text) {
                    Ok(b) => {
                        acl_name = format!("ACL \"{text}\"");
                        run.ctx.trace(|| format!("read ACL from file {text}"));
                        b
                    }
                    Err(e) => {
                        run.log_msg = Some(format!("failed to open ACL file \"{text}\": {e}"));
                        return Rc::Error;
                    }
                }
            } else {
                text.to_string()
            };
            match read::read_inline(&body) {
                Ok(mut a) => {
                    for st in &mut a.statements {
                        st.origin = run.acls.inline_origin.clone();
                    }
                    Arc::new(a)
                }
                Err(errs) => {
                    run.log_msg = Some(errs[0].message.clone());
                    return Rc::Error;
                }
            }
        }
    };
    run_statements(run, &acl, &acl_name, level)
}

fn run_statements(run: &mut AclRun, acl: &Acl, acl_name: &str, level: u32) -> Rc {
    let quit_check = level == 0 && matches!(run.phase, Phase::Quit | Phase::NotQuit);
    for st in &acl.statements {
        let mut endpass = false;
        run.verb = st.verb;
        if run.ctx.tracing() {
            let (file, line) = st.origin.clone().unwrap_or_else(|| ("".into(), 0));
            run.ctx
                .trace(|| format!("processing \"{}\" ({file} {line})", st.verb.name()));
        }
        let cond = check_statement(run, st, &mut endpass, level);
        trace_outcome(run, st.verb, cond, acl_name);
        let end = |run: &mut AclRun, what: &str| {
            run.ctx.trace(|| format!("end of {acl_name}: {what}"));
        };
        match cond {
            Rc::Defer if st.verb != Verb::Warn => return Rc::Defer,
            Rc::Error => return Rc::Error,
            _ => {}
        }
        match st.verb {
            Verb::Accept if cond == Rc::Ok || cond == Rc::Discard => end(run, "ACCEPT"),
            Verb::Accept | Verb::Discard if endpass => run
                .ctx
                .trace(|| format!("{}: endpass encountered - denying access", st.verb.name())),
            Verb::Defer if cond == Rc::Ok => end(run, "DEFER"),
            Verb::Deny if cond == Rc::Ok => end(run, "DENY"),
            Verb::Discard if cond == Rc::Ok || cond == Rc::Discard => end(run, "DISCARD"),
            Verb::Drop if cond == Rc::Ok => end(run, "DROP"),
            Verb::Require if cond != Rc::Ok => end(run, "not OK"),
            _ => {}
        }
        let bad_quit = |run: &mut AclRun| {
            run.log_msg = Some(format!(
                "QUIT or not-QUIT toplevel ACL may not fail ('{}' verb used incorrectly)",
                st.verb.name()
            ));
            Rc::Error
        };
        match st.verb {
            Verb::Accept if cond == Rc::Ok || cond == Rc::Discard || endpass => return cond,
            Verb::Defer if cond == Rc::Ok => {
                return if quit_check { bad_quit(run) } else { Rc::Defer }
            }
            Verb::Deny if cond == Rc::Ok => {
                return if quit_check { bad_quit(run) } else { Rc::Fail }
            }
            Verb::Discard => {
                if cond == Rc::Ok || cond == Rc::Discard {
                    return if quit_check {
                        bad_quit(run)
                    } else {
                        Rc::Discard
                    };
                }
                if endpass {
                    return cond;
                }
            }
            Verb::Drop if cond == Rc::Ok => {
                return if quit_check {
                    bad_quit(run)
                } else {
                    Rc::FailDrop
                }
            }
            Verb::Require if cond != Rc::Ok => {
                return if quit_check { bad_quit(run) } else { cond }
            }
            Verb::Warn => {
                if cond == Rc::Defer {
                    // Exim's acl_warn_skipped log selector is on by default.
                    let why = run
                        .log_msg
                        .as_ref()
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default();
                    let who = run.state.host_ident.clone();
                    let sep = if who.is_empty() { "" } else { " " };
                    run.flush_trace_then_log(format!(
                        "{who}{sep}Warning: ACL \"warn\" statement skipped: condition test deferred{why}"
                    ));
                }
                if cond == Rc::Ok {
                    run.flush_trace();
                    let user = run.user_msg.take();
                    let log = run.log_msg.take();
                    run.state.warn(user, log);
                }
                run.user_msg = None;
                run.log_msg = None;
            }
            _ => {}
        }
    }
    run.ctx
        .trace(|| format!("end of {acl_name}: implicit DENY"));
    Rc::Fail
}

/// Evaluate one statement's conditions and modifiers in order (Exim's `acl_check_condition`).
fn check_statement(run: &mut AclRun, st: &Statement, endpass: &mut bool, level: u32) -> Rc {
    let mut user_message: Option<&Expansion> = None;
    let mut log_message: Option<&Expansion> = None;
    let mut rc = Rc::Ok;
    for item in &st.items {
        match (item.def.name, &item.arg) {
            ("message", Arg::Expand(e)) => {
                run.ctx.trace(|| format!("  message: {}", e.source()));
                user_message = Some(e);
                continue;
            }
            ("log_message", Arg::Expand(e)) => {
                run.ctx.trace(|| format!("l_message: {}", e.source()));
                log_message = Some(e);
                continue;
            }
            ("endpass", _) => {
                *endpass = true;
                continue;
            }
            _ => {}
        }
        let expansion = match &item.arg {
            Arg::Expand(e) | Arg::Set(_, e) => Some(e),
            _ => None,
        };
        let value = match expansion {
            Some(e) => match expand(e, run.ctx) {
                Ok(v) => Some(v),
                Err(err) if err.kind == ErrorKind::Forced => continue,
                Err(err) => {
                    run.log_msg = Some(format!(
                        "failed to expand ACL string \"{}\": {}",
                        e.source(),
                        err.message
                    ));
                    return if err.kind == ErrorKind::Defer {
                        Rc::Defer
                    } else {
                        Rc::Error
                    };
                }
            },
            None => None,
        };
        if run.ctx.tracing() {
            trace_check(run, item, value.as_ref());
        }
        let arg: Vec<u8> = match (&item.arg, &value) {
            (Arg::Raw(s), _) => s.as_bytes().to_vec(),
            (Arg::Expand(_), Some(v)) => v.bytes.clone(),
            _ => Vec::new(),
        };
        run.arg_tainted = value.as_ref().is_some_and(|v| v.tainted);
        run.set_value = if matches!(item.arg, Arg::Set(..)) {
            value
        } else {
            None
        };
        if let Some(m) = crate::acl::conditions::forbidden_message(item.def, run.phase) {
            run.log_msg = Some(m);
            return Rc::Error;
        }
        rc = if item.def.name == "acl" {
            crate::acl::tests::nested(run, &arg, level)
        } else {
            (item.def.run)(run, item, &arg)
        };
        if item.def.kind == Kind::Condition && item.negated {
            rc = match rc {
                Rc::Ok => Rc::Fail,
                Rc::Fail | Rc::FailDrop => Rc::Ok,
                other => other,
            };
        }
        if rc != Rc::Ok {
            break;
        }
    }
    if *endpass && rc == Rc::Ok {
        user_message = None;
    }
    let verb = st.verb;
    let msg_applies = match verb {
        Verb::Accept | Verb::Discard => matches!(rc, Rc::Ok | Rc::Fail | Rc::FailDrop),
        Verb::Require => matches!(rc, Rc::Fail | Rc::FailDrop),
        _ => rc == Rc::Ok,
    };
    if msg_applies {
        let old_user = run.user_msg.clone();
        let old_log = run.log_msg.clone().or_else(|| old_user.clone());
        if verb == Verb::Warn || (rc == Rc::Ok && matches!(verb, Verb::Accept | Verb::Discard)) {
            run.user_msg = None;
            run.log_msg = None;
        }
        if let Some(e) = user_message {
            set_verify_message(run.ctx, old_user.as_deref());
            match expand(e, run.ctx) {
                Ok(v) if !v.is_empty() => run.user_msg = Some(v.as_str_lossy().into_owned()),
                Ok(_) => {}
                Err(err) if err.kind == ErrorKind::Forced => {}
                Err(err) => run.flush_trace_then_panic(format!(
                    "failed to expand ACL message \"{}\": {}",
                    e.source(),
                    err.message
                )),
            }
        }
        if let Some(e) = log_message {
            set_verify_message(run.ctx, old_log.as_deref());
            match expand(e, run.ctx) {
                Ok(v) if !v.is_empty() => {
                    let text = v.as_str_lossy().into_owned();
                    run.log_msg = Some(match run.log_msg.take() {
                        Some(old) => format!("{text}: {old}"),
                        None => text,
                    });
                }
                Ok(_) => {}
                Err(err) if err.kind == ErrorKind::Forced => {}
                Err(err) => run.flush_trace_then_panic(format!(
                    "failed to expand ACL message \"{}\": {}",
                    e.source(),
                    err.message
                )),
            }
        }
        if run.log_msg.is_none() {
            run.log_msg = run.user_msg.clone();
        }
    }
    run.ctx.unset_ids(&[crate::vid!("acl_verify_message")]);
    rc
}

fn set_verify_message(ctx: &mut Context, text: Option<&str>) {
    match text {
        Some(t) => {
            ctx.set_id(crate::vid!("acl_verify_message"), t);
        }
        None => ctx.unset_ids(&[crate::vid!("acl_verify_message")]),
    }
}
