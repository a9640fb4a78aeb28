//! `dkim_signers = example.com` and `dkim_status = pass : fail` in the DKIM ACL: the
//! signer being evaluated and its verification result (which the ACL may have `set`).

use crate::acl::engine::{AclRun, Rc};
use crate::acl::model::Item;

fn var(run: &AclRun, name: &str) -> Option<Vec<u8>> {
    run.ctx.get(name).map(|v| v.bytes.clone())
}

/// Exim's `match_isinlist(..., MCL_STRING, caseless)`: as a local-part list (no `@`
/// items, caseless), traced under `-bh`.
fn in_list(run: &mut AclRun, value: &[u8], list: &[u8]) -> Rc {
    match crate::listmatch::match_local_part(run.ctx, value, list, false) {
        Ok(Some(_)) => Rc::Ok,
        Ok(None) => Rc::Fail,
        Err(crate::listmatch::ListError::Defer(m)) => {
            run.log_msg = m;
            Rc::Defer
        }
        Err(crate::listmatch::ListError::Fatal(m)) => {
            run.log_msg = Some(m);
            Rc::Error
        }
    }
}

/// `dkim_signers = a.example : b@c.example`: `$dkim_cur_signer` is in the list.
pub fn dkim_signers(run: &mut AclRun, _: &Item, arg: &[u8]) -> Rc {
    match var(run, "dkim_cur_signer") {
        Some(signer) => in_list(run, &signer, arg),
        None => Rc::Fail,
    }
}

/// `dkim_status = none : invalid : fail`: `$dkim_verify_status` is in the list.
pub fn dkim_status(run: &mut AclRun, _: &Item, arg: &[u8]) -> Rc {
    let status = var(run, "dkim_verify_status").unwrap_or_default();
    in_list(run, &status, arg)
}
