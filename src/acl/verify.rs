//! `verify =` kinds that need no routing: header checks, HELO and reverse-lookup checks
//! through the resolver, certificate, `csa` (`acl/csa.rs`), `arc` (`acl/arc.rs`);
//! `sender` and `recipient` are explicit errors.

use crate::acl::engine::{AclRun, Rc};
use crate::acl::phase::bits::*;
use crate::dns::{reverse_name, DnsResult, RData, RType};
use crate::expand::address::{find_address_end, Options, Parser};

/// Phases with a message, and QUIT/not-QUIT after one (Exim's ACL_BITS_HAVEDATA).
const HAVE_DATA: u32 = DATA | NOTSMTP | PRDR | MIME | DKIM | QUIT | NOTQUIT;

fn var(run: &AclRun, name: &str) -> String {
    run.ctx
        .get(name)
        .map(|v| v.as_str_lossy().into_owned())
        .unwrap_or_default()
}

/// Exim's checks of a `verify =` value before it runs: a known kind, no options where it
/// takes none, and a phase where it may be used. `Err` is Exim's message.
pub fn verify_check(text: &str, phase: crate::acl::Phase) -> Result<(), String> {
    let kind = text
        .split('/')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let (where_ok, no_opts) = match kind.as_str() {
        "reverse_host_lookup" | "csa" => (u32::MAX, false),
        "arc" => (DATA, false),
        "certificate" | "helo" => (u32::MAX, true),
        "header_syntax" | "header_names_ascii" => (HAVE_DATA, true),
        "not_blind" | "header_sender" => (HAVE_DATA, false),
        "recipient" => (RCPT, false),
        k if k.starts_with("sender") => (MAIL | RCPT | PREDATA | DATA | NOTSMTP, false),
        _ => {
            return Err(format!(
                "expected \"sender[=address]\", \"recipient\", \"helo\", \"header_syntax\", \"header_sender\", \"header_names_ascii\" or \"reverse_host_lookup\" at start of ACL condition \"verify {text}\""
            ));
        }
    };
    if no_opts && text.contains('/') {
        return Err(format!(
            "unexpected '/' found in \"{text}\" (this verify item has no options)"
        ));
    }
    if where_ok & phase.bit() == 0 {
        let name = if kind.starts_with("sender") {
            "sender"
        } else {
            &kind
        };
        return Err(format!("cannot verify {name} in ACL for {}", phase.name()));
    }
    Ok(())
}

/// `verify = header_syntax/...`: dispatch on the kind, with Exim's option and phase checks.
pub fn verify(run: &mut AclRun, arg: &[u8]) -> Rc {
    let text = String::from_utf8_lossy(arg).into_owned();
    if let Err(e) = verify_check(&text, run.phase) {
        run.log_msg = Some(e);
        return Rc::Error;
    }
    let mut parts = text.split('/').map(str::trim);
    let kind = parts.next().unwrap_or("").to_ascii_lowercase();
    let opts: Vec<String> = parts
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    match kind.as_str() {
        "header_syntax" => header_syntax(run),
        "header_names_ascii" => header_names_ascii(run),
        "not_blind" => not_blind(run, &text, &opts),
        "certificate" => {
            if var(run, "tls_in_certificate_verified") == "1" {
                return Rc::Ok;
            }
            run.user_msg = Some("no verified certificate".into());
            Rc::Fail
        }
        "helo" => helo(run),
        "reverse_host_lookup" => reverse_host_lookup(run, &opts),
        "csa" => {
            let rest = text.split_once('/').map_or("", |(_, r)| r);
            crate::acl::csa::verify_csa(run, rest)
        }
        "arc" => crate::acl::arc::verify_arc(run, opts.first().map(String::as_str)),
        "header_sender" => {
            run.log_msg = Some("verify = header_sender: routing not available yet in rexim".into());
            Rc::Error
        }
        k => {
            let k = if k.starts_with("sender") { "sender" } else { k };
            run.log_msg = Some(format!("verify = {k}: routing not available yet in rexim"));
            Rc::Error
        }
    }
}

/// Each address of an address header's value, as parsed with group syntax allowed:
/// `(address text, parse result, domain offset)`.
fn header_addresses(value: &[u8]) -> Vec<(Vec<u8>, Result<usize, String>)> {
    let mut out = Vec::new();
    let mut p = Parser::new(Options::default());
    p.allow_group = true;
    let mut s = value.trim_ascii_start();
    while !s.is_empty() {
        let end = find_address_end(s, false);
        let item = &s[..end];
        let r = p.extract(item).map(|a| a.domain_offset);
        out.push((item.to_vec(), r));
        s = s.get(end + 1..).unwrap_or(&[]).trim_ascii_start();
    }
    out
}

fn is_address_header(name: &[u8], set: &[&str]) -> bool {
    let n = String::from_utf8_lossy(name).trim().to_ascii_lowercase();
    set.contains(&n.as_str())
}

/// `verify = header_syntax`: every address in From:, Sender:, Reply-To:, To:, Cc:
/// and Bcc: parses and is qualified.
fn header_syntax(run: &mut AclRun) -> Rc {
    let Some(msg) = run.ctx.message.clone() else {
        return Rc::Ok;
    };
    for h in &msg.headers {
        if !is_address_header(h.name(), &["from", "reply-to", "sender", "to", "cc", "bcc"]) {
            continue;
        }
        for (item, r) in header_addresses(h.raw_value()) {
            let err = match r {
                Ok(0) => "unqualified address not permitted".to_string(),
                Ok(_) => continue,
                Err(e) if e == "empty address" => continue,
                Err(e) => e,
            };
            let name = String::from_utf8_lossy(h.name()).trim_end().to_string();
            let mut shown = item.trim_ascii_end().to_vec();
            let verb = if shown.len() > 1024 {
                shown.truncate(1024);
                "begins"
            } else {
                "is"
            };
            let m = format!(
                "{err}: failing address in \"{name}:\" header {verb}: {}",
                String::from_utf8_lossy(&shown)
            );
            run.ctx.set("acl_verify_message", m.as_str());
            run.log_msg = Some(m);
            return Rc::Fail;
        }
    }
    Rc::Ok
}

/// `verify = header_names_ascii`: header names are printable ASCII without spaces.
fn header_names_ascii(run: &mut AclRun) -> Rc {
    let Some(msg) = run.ctx.message.clone() else {
        return Rc::Ok;
    };
    for h in &msg.headers {
        if h.name().iter().any(|&c| !(33..=126).contains(&c)) {
            run.log_msg = Some(format!(
                "Invalid character in header \"{}\" found",
                String::from_utf8_lossy(h.name())
            ));
            return Rc::Fail;
        }
    }
    Rc::Ok
}

/// `verify = not_blind[/case_insensitive]`: every envelope recipient (`$recipients`)
/// appears in To: or Cc:.
fn not_blind(run: &mut AclRun, text: &str, opts: &[String]) -> Rc {
    let mut caseful = true;
    for o in opts {
        if o.eq_ignore_ascii_case("case_insensitive") {
            caseful = false;
        } else {
            run.log_msg = Some(format!(
                "unknown option \"{o}\" in ACL condition \"verify {text}\""
            ));
            return Rc::Error;
        }
    }
    let Some(msg) = run.ctx.message.clone() else {
        return Rc::Ok;
    };
    let mut listed: Vec<Vec<u8>> = Vec::new();
    for h in &msg.headers {
        if !is_address_header(h.name(), &["to", "cc"]) {
            continue;
        }
        let mut p = Parser::new(Options::default());
        p.allow_group = true;
        let mut s = h.raw_value().trim_ascii_start();
        while !s.is_empty() {
            let end = find_address_end(s, false);
            if let Ok(a) = p.extract(&s[..end]) {
                if a.domain_offset > 0 {
                    listed.push(a.address);
                }
            }
            s = s.get(end + 1..).unwrap_or(&[]).trim_ascii_start();
        }
    }
    let recipients = var(run, "recipients");
    for r in recipients
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        let (lp, dom) = r.rsplit_once('@').unwrap_or((r, ""));
        let found = listed.iter().any(|a| {
            let a = String::from_utf8_lossy(a);
            let (alp, adom) = a.rsplit_once('@').unwrap_or((&a, ""));
            let lp_ok = if caseful {
                alp == lp
            } else {
                alp.eq_ignore_ascii_case(lp)
            };
            lp_ok && adom.eq_ignore_ascii_case(dom)
        });
        if !found {
            run.log_msg = Some("bcc recipient detected".into());
            return Rc::Fail;
        }
    }
    Rc::Ok
}

/// Addresses (A and AAAA) of `name`; `Err` on a temporary failure.
fn addresses(run: &AclRun, name: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for t in [RType::A, RType::Aaaa] {
        match run.acls.env.resolver.lookup(name, t).result {
            DnsResult::Records(rs) => out.extend(rs.into_iter().filter_map(|r| match r.data {
                RData::A(a) => Some(a.to_string()),
                RData::Aaaa(a) => Some(a.to_string()),
                _ => None,
            })),
            DnsResult::Again(e) => return Err(e),
            _ => {}
        }
    }
    Ok(out)
}

/// `verify = helo`: the HELO name is the host's address literal, its verified
/// name, or a name that resolves to the client's address.
fn helo(run: &mut AclRun) -> Rc {
    let helo = var(run, "sender_helo_name");
    let ip = var(run, "sender_host_address");
    if helo.is_empty() {
        return Rc::Fail;
    }
    if ip.is_empty() {
        return Rc::Ok;
    }
    if let Some(lit) = helo.strip_prefix('[') {
        // Exim compares the start of the literal with the address (so `[IPv6:...]`
        // never verifies), also without a `::ffff:` prefix.
        let v4mapped = ip
            .get(..7)
            .filter(|p| p.eq_ignore_ascii_case("::ffff:"))
            .map(|_| &ip[7..]);
        let ok = lit.starts_with(ip.as_str()) || v4mapped.is_some_and(|v| lit.starts_with(v));
        return if ok { Rc::Ok } else { Rc::Fail };
    }
    let name = var(run, "sender_host_name");
    if !name.is_empty() && name.eq_ignore_ascii_case(&helo) {
        return Rc::Ok;
    }
    match addresses(run, &helo) {
        Ok(a) if a.contains(&ip) => Rc::Ok,
        _ => Rc::Fail,
    }
}

/// `verify = reverse_host_lookup[/defer_ok]`: a PTR name of the client resolves back
/// to its address; sets `$sender_host_name`.
fn reverse_host_lookup(run: &mut AclRun, opts: &[String]) -> Rc {
    let ip = var(run, "sender_host_address");
    if ip.is_empty() || !var(run, "sender_host_name").is_empty() {
        return Rc::Ok;
    }
    let defer_ok = opts.iter().any(|o| o.eq_ignore_ascii_case("defer_ok"));
    let Some(rev) = reverse_name(&ip) else {
        return Rc::Ok;
    };
    let names: Vec<String> = match run.acls.env.resolver.lookup(&rev, RType::Ptr).result {
        DnsResult::Records(rs) => rs
            .into_iter()
            .filter_map(|r| match r.data {
                RData::Ptr(n) => Some(n),
                _ => None,
            })
            .collect(),
        DnsResult::Again(_) => return deferred(run, defer_ok),
        _ => Vec::new(),
    };
    if names.is_empty() {
        return lookup_failed(run, " (failed to find host name from IP address)".into());
    }
    for n in &names {
        match addresses(run, n) {
            Ok(a) if a.contains(&ip) => {
                run.ctx.set("sender_host_name", n.as_str());
                return Rc::Ok;
            }
            Ok(_) => {}
            Err(_) => return deferred(run, defer_ok),
        }
    }
    let first = names.first().cloned().unwrap_or_default();
    lookup_failed(
        run,
        format!(" ({ip} does not match any IP address for {first})"),
    )
}

fn deferred(run: &mut AclRun, defer_ok: bool) -> Rc {
    if defer_ok {
        return Rc::Ok;
    }
    run.log_msg = Some("host lookup deferred for reverse lookup check".into());
    Rc::Defer
}

fn lookup_failed(run: &mut AclRun, why: String) -> Rc {
    run.ctx.set("host_lookup_failed", "1");
    run.log_msg = Some(format!("host lookup failed for reverse lookup check{why}"));
    Rc::Fail
}
