//! `dnslists`: DNS black/white list checks through the resolver trait (Exim's dnsbl.c
//! semantics: `zone[,txtzone][!][=|==|&|=&]addrs[/keys]`, `+include_unknown` & co).

use std::net::Ipv4Addr;

use crate::acl::engine::{AclRun, Rc};
use crate::acl::model::Item;
use crate::acl::phase::Phase;
use crate::acl::state::LogLine;
use crate::dns::{reverse_name, DnsResult, RData, RType};
use crate::expand::{lists, Val};

/// One parsed list item.
struct Zone {
    domain: String,
    domain_txt: String,
    /// Address list after `=`/`&`, if any.
    iplist: Option<String>,
    bitmask: bool,
    not: bool,
    all: bool,
}

fn parse_zone(item: &str) -> (Zone, Option<String>) {
    let (head, key) = match item.split_once('/') {
        Some((h, k)) => (h, Some(k.to_string())),
        None => (item, None),
    };
    let mut z = Zone {
        domain: String::new(),
        domain_txt: String::new(),
        iplist: None,
        bitmask: false,
        not: false,
        all: false,
    };
    let mut dom = head;
    let split = head.find('=').or_else(|| {
        z.bitmask = true;
        head.find('&')
    });
    if let Some(i) = split {
        dom = &head[..i];
        if let Some(d) = dom.strip_suffix('!') {
            z.not = true;
            dom = d;
        }
        let mut rest = &head[i + 1..];
        if !z.bitmask && (rest.starts_with('=') || rest.starts_with('&')) {
            z.bitmask = rest.starts_with('&');
            z.all = true;
            rest = &rest[1..];
        }
        z.iplist = Some(rest.to_string());
    }
    match dom.split_once(',') {
        Some((txt, d)) => {
            z.domain_txt = txt.to_string();
            z.domain = d.to_string();
        }
        None => {
            z.domain = dom.to_string();
            z.domain_txt = dom.to_string();
        }
    }
    (z, key)
}

fn log(run: &mut AclRun, text: String) {
    run.flush_trace();
    run.state.logs.push(LogLine {
        targets: vec!["main"],
        text,
    });
}

fn strange(d: &str) -> bool {
    !d.bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.' || c == b'_')
}

/// Does the address list accept `addr` (plain equality, or bitmask against 127/8 data)?
fn ip_in_list(run: &mut AclRun, z: &Zone, key: &str, addr: Ipv4Addr, list: &str) -> bool {
    let items = list.split(',').map(str::trim).filter(|s| !s.is_empty());
    if !z.bitmask {
        let a = addr.to_string();
        return items.into_iter().any(|r| r == a);
    }
    let o = addr.octets();
    let mask = if o[0] == 127 {
        u32::from(addr)
    } else {
        log(
            run,
            format!(
                "DNS list lookup for {key} at {} returned {addr}; not in 127.0/8 and discarded",
                z.domain
            ),
        );
        0
    };
    items
        .filter_map(|r| r.parse::<Ipv4Addr>().ok())
        .any(|r| u32::from(r) & mask == u32::from(r))
}

/// One query `prepend.domain`; OK when listed (setting `$dnslist_value/text`).
fn one_check(run: &mut AclRun, z: &Zone, key: &str, prepend: &str, defer_rc: Rc) -> Rc {
    let query = format!("{prepend}.{}", z.domain);
    if query.len() >= 256 {
        run.state
            .panic_log(format!("dnslist query is too long (ignored): {query}..."));
        return Rc::Fail;
    }
    let answer = run.acls.env.resolver.lookup(&query, RType::A);
    let addrs: Vec<Ipv4Addr> = match &answer.result {
        DnsResult::Records(rs) => rs
            .iter()
            .filter_map(|r| match r.data {
                RData::A(a) => Some(a),
                _ => None,
            })
            .collect(),
        DnsResult::NoData | DnsResult::NxDomain => Vec::new(),
        DnsResult::Again(_) | DnsResult::Fail(_) => {
            let what = match defer_rc {
                Rc::Ok => "assumed in list",
                Rc::Fail => "assumed not in list",
                _ => "returned DEFER",
            };
            log(
                run,
                format!("DNS list lookup defer (probably timeout) for {query}: {what}"),
            );
            return defer_rc;
        }
    };
    if addrs.is_empty() {
        return Rc::Fail;
    }
    if let Some(list) = &z.iplist {
        let mut hit_end = true;
        for a in &addrs {
            let res = ip_in_list(run, z, key, *a, list);
            if z.all != res {
                hit_end = false;
                break;
            }
        }
        let plain_not = z.not && !z.all;
        let plain_all = z.all && !z.not;
        if (plain_not || plain_all) != hit_end {
            return Rc::Fail;
        }
    } else {
        let mut ok = false;
        for a in &addrs {
            if a.octets()[0] == 127 {
                ok = true;
            } else {
                log(
                    run,
                    format!(
                        "DNS list lookup for {key} at {} returned {a}; not in 127.0/8 and discarded",
                        z.domain
                    ),
                );
            }
        }
        if !ok {
            return Rc::Fail;
        }
    }
    if z.domain_txt != z.domain {
        let txt_zone = Zone {
            domain: z.domain_txt.clone(),
            domain_txt: z.domain_txt.clone(),
            iplist: None,
            bitmask: false,
            not: z.not,
            all: z.all,
        };
        return one_check(run, &txt_zone, key, prepend, defer_rc);
    }
    let text = match run.acls.env.resolver.lookup(&query, RType::Txt).result {
        DnsResult::Records(rs) => rs.into_iter().find_map(|r| match r.data {
            RData::Txt(strings) => strings.into_iter().next(),
            _ => None,
        }),
        _ => None,
    };
    let value: Vec<String> = addrs.iter().map(Ipv4Addr::to_string).collect();
    run.ctx.set("dnslist_value", value.join(", "));
    match text {
        Some(t) => run.ctx.set("dnslist_text", Val::tainted(t)),
        None => run.ctx.set("dnslist_text", ""),
    };
    Rc::Ok
}

/// `dnslists = zen.spamhaus.org=127.0.0.2 : dbl.example/$sender_address_domain`:
/// the client (or each key) is listed in one of the zones.
pub fn dnslists(run: &mut AclRun, _: &Item, arg: &[u8]) -> Rc {
    let mut defer_rc = Rc::Fail;
    for item in lists::iter(arg) {
        let item = String::from_utf8_lossy(&item).into_owned();
        if item.starts_with('+') {
            match item.to_ascii_lowercase().as_str() {
                "+include_unknown" => defer_rc = Rc::Ok,
                "+exclude_unknown" => defer_rc = Rc::Fail,
                "+defer_unknown" => defer_rc = Rc::Defer,
                _ => run
                    .state
                    .panic_log(format!("unknown item in dnslist (ignored): {item}")),
            }
            continue;
        }
        let (z, key) = parse_zone(&item);
        for d in [&z.domain, &z.domain_txt] {
            if strange(d) && (d == &z.domain || z.domain_txt != z.domain) {
                log(
                    run,
                    format!("dnslists domain \"{d}\" contains strange characters - is this right?"),
                );
            }
        }
        match key {
            None => {
                if matches!(run.phase, Phase::NotSmtp | Phase::NotSmtpStart) {
                    run.log_msg = Some(format!(
                        "cannot test auto-keyed dnslists condition in {} ACL",
                        run.phase.name()
                    ));
                    return Rc::Error;
                }
                let ip = run
                    .ctx
                    .get("sender_host_address")
                    .map(|v| v.as_str_lossy().into_owned())
                    .unwrap_or_default();
                let Some(rev) = reverse_name(&ip) else {
                    return Rc::Fail;
                };
                let prepend = rev
                    .trim_end_matches(".in-addr.arpa")
                    .trim_end_matches(".ip6.arpa");
                let rc = one_check(run, &z, &ip, prepend, defer_rc);
                if rc == Rc::Ok {
                    run.ctx.set("dnslist_domain", z.domain_txt.as_str());
                    run.ctx.set("dnslist_matched", ip.as_str());
                }
                if rc != Rc::Fail {
                    return rc;
                }
            }
            Some(keys) => {
                let mut deferred = false;
                for k in lists::iter(keys.as_bytes()) {
                    let k = String::from_utf8_lossy(&k).into_owned();
                    let prepend = match reverse_name(&k) {
                        Some(r) => r
                            .trim_end_matches(".in-addr.arpa")
                            .trim_end_matches(".ip6.arpa")
                            .to_string(),
                        None => k.clone(),
                    };
                    let rc = one_check(run, &z, &k, &prepend, defer_rc);
                    if rc == Rc::Ok {
                        run.ctx.set("dnslist_domain", z.domain_txt.as_str());
                        run.ctx.set("dnslist_matched", Val::tainted(k.into_bytes()));
                        return Rc::Ok;
                    }
                    deferred |= rc == Rc::Defer;
                }
                if deferred {
                    return Rc::Defer;
                }
            }
        }
    }
    Rc::Fail
}
