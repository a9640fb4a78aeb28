//! List-matching ACL conditions: `hosts`, `domains`, `local_parts`, `senders`,
//! `recipients`, `sender_domains` (Exim's match_isinlist / match_address_list).

use crate::acl::engine::{AclRun, Rc};
use crate::acl::model::Item;
use crate::listmatch::{self, ListError, MatchResult};

fn var(run: &AclRun, name: &str) -> Vec<u8> {
    run.ctx
        .get(name)
        .map(|v| v.bytes.clone())
        .unwrap_or_default()
}

/// Turn a list match into an ACL result, storing the lookup data in `data_var`.
/// A DEFER leaves the lookup's reason for the log (Exim's `search_error_message`).
fn finish(run: &mut AclRun, r: MatchResult, data_var: Option<&str>) -> Rc {
    match r {
        Ok(Some(m)) => {
            if let (Some(name), Some(v)) = (data_var, m.value) {
                run.ctx.set(name, v);
            }
            Rc::Ok
        }
        Ok(None) => Rc::Fail,
        Err(ListError::Defer(msg)) => {
            if msg.as_deref().is_some_and(|m| !m.is_empty()) {
                run.log_msg = msg;
            }
            Rc::Defer
        }
        Err(ListError::Fatal(msg)) => {
            run.log_msg = Some(msg);
            Rc::Error
        }
    }
}

/// `hosts = 192.0.2.0/24 : *.example.com : +relay_hosts`: the calling host is listed;
/// sets `$host_data` from a lookup item.
pub fn hosts(run: &mut AclRun, _: &Item, arg: &[u8]) -> Rc {
    let ip = var(run, "sender_host_address");
    let name = run
        .ctx
        .fixed(crate::vid!("sender_host_name"))
        .map(|v| v.bytes.clone());
    let name = name.filter(|n| !n.is_empty());
    let r = listmatch::match_host(run.ctx, &ip, name.as_deref(), arg, true);
    finish(run, r, Some("host_data"))
}

/// `domains = +local_domains : lsearch;/etc/domains`: `$domain` is listed; sets `$domain_data`.
pub fn domains(run: &mut AclRun, _: &Item, arg: &[u8]) -> Rc {
    let d = var(run, "domain");
    let r = listmatch::match_domain(run.ctx, &d, arg, true);
    finish(run, r, Some("domain_data"))
}

/// `local_parts = postmaster : abuse`: `$local_part` is listed; sets `$local_part_data`.
pub fn local_parts(run: &mut AclRun, _: &Item, arg: &[u8]) -> Rc {
    let lp = match &run.state.rcpt_original {
        Some((lp, _)) => lp.clone(),
        None => var(run, "local_part"),
    };
    let r = listmatch::match_local_part(run.ctx, &lp, arg, true);
    finish(run, r, Some("local_part_data"))
}

/// `recipients = postmaster@example.com`: the recipient address is listed; sets
/// `$recipient_data`.
pub fn recipients(run: &mut AclRun, _: &Item, arg: &[u8]) -> Rc {
    let (lp, d) = match &run.state.rcpt_original {
        Some((lp, d)) => (lp.clone(), d.clone()),
        None => (var(run, "local_part"), var(run, "domain")),
    };
    let mut addr = lp;
    if !d.is_empty() {
        addr.push(b'@');
        addr.extend_from_slice(&d);
    }
    let r = listmatch::match_address(run.ctx, &addr, arg, true);
    finish(run, r, Some("recipient_data"))
}

/// `senders = : *@example.com`: the envelope sender is listed (an empty item
/// matches the empty sender of a bounce); sets `$sender_data`.
pub fn senders(run: &mut AclRun, _: &Item, arg: &[u8]) -> Rc {
    let s = var(run, "sender_address");
    let r = listmatch::match_address(run.ctx, &s, arg, true);
    finish(run, r, Some("sender_data"))
}

/// `sender_domains = example.com`: the domain of the envelope sender is listed.
pub fn sender_domains(run: &mut AclRun, _: &Item, arg: &[u8]) -> Rc {
    let s = var(run, "sender_address");
    let d = match s.iter().rposition(|&c| c == b'@') {
        Some(at) => s[at + 1..].to_vec(),
        None => Vec::new(),
    };
    let r = listmatch::match_domain(run.ctx, &d, arg, true);
    finish(run, r, None)
}
