//! VRFY and EXPN, each allowed by its ACL. Address verification needs routers, which
//! rexim does not have yet, so an accepted VRFY answers with an explicit 252.

use crate::acl::{Phase, Rc, Verdict};
use crate::expand::address::{Options, Parser};
use crate::smtp::session::{Done, Session};

fn implicit_deny(s: &mut Session) -> Verdict {
    s.ctx.trace(|| "ACL is NULL: implicit DENY".into());
    Verdict {
        rc: Rc::Fail,
        user_message: None,
        log_message: None,
    }
}

/// `VRFY address`.
pub fn handle_vrfy(s: &mut Session) -> Done {
    let addr = match Parser::new(Options::default()).extract(&s.cmd.arg) {
        Ok(a) => a,
        Err(e) => {
            s.reply(&format!("501 {e}"));
            return Done::Continue;
        }
    };
    if addr.domain_offset == 0 {
        s.reply(&format!(
            "501 {}: recipient address must contain a domain",
            String::from_utf8_lossy(&s.cmd.arg)
        ));
        return Done::Continue;
    }
    let v = match s.cfg.acl_smtp_vrfy.clone() {
        Some(spec) => s.acl(Phase::Vrfy, &spec),
        None => implicit_deny(s),
    };
    if v.rc != Rc::Ok {
        return s.acl_fail(Phase::Vrfy, &v);
    }
    s.reply(&format!(
        "252 <{}> cannot be verified: routing is not supported by rexim yet",
        String::from_utf8_lossy(&addr.address)
    ));
    Done::Continue
}

/// `EXPN list`.
pub fn handle_expn(s: &mut Session) -> Done {
    let v = match s.cfg.acl_smtp_expn.clone() {
        Some(spec) => s.acl(Phase::Expn, &spec),
        None => implicit_deny(s),
    };
    if v.rc != Rc::Ok {
        return s.acl_fail(Phase::Expn, &v);
    }
    s.reply("502 EXPN is not supported by rexim yet (no routers)");
    Done::Continue
}
