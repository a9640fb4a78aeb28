//! `verify = csa[/domain]`: Client SMTP Authorization as Exim's acl.c and dns.c do it —
//! the `_client._smtp` SRV record of the HELO name (or given domain, or the client's
//! reverse-DNS name), else a parent's subdomain assertion, then the target's addresses.
//! Results are cached per connection by domain, as Exim caches them per process.

use crate::acl::engine::{AclRun, Rc};
use crate::dns::{reverse_name, DnsResult, RData, RType, Record, Resolver};

/// Exim's CSA outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Csa {
    Unknown,
    Ok,
    DeferSrv,
    DeferAddr,
    FailExplicit,
    FailDomain,
    FailNoaddr,
    FailMismatch,
}

impl Csa {
    /// `$csa_status`.
    pub fn status(self) -> &'static str {
        match self {
            Csa::Unknown => "unknown",
            Csa::Ok => "ok",
            Csa::DeferSrv | Csa::DeferAddr => "defer",
            _ => "fail",
        }
    }

    /// The text after "client SMTP authorization ".
    pub fn reason(self) -> &'static str {
        match self {
            Csa::Unknown => "unknown",
            Csa::Ok => "ok",
            Csa::DeferSrv => "deferred (SRV lookup failed)",
            Csa::DeferAddr => "deferred (target address lookup failed)",
            Csa::FailExplicit => "failed (explicit authorization required)",
            Csa::FailDomain => "failed (host name not authorized)",
            Csa::FailNoaddr => "failed (no authorized addresses)",
            Csa::FailMismatch => "failed (client address mismatch)",
        }
    }

    /// CSA is optional for senders: only the failures fail the condition.
    fn rc(self) -> Rc {
        match self {
            Csa::Unknown | Csa::Ok | Csa::DeferSrv | Csa::DeferAddr => Rc::Ok,
            _ => Rc::Fail,
        }
    }
}

/// The main options CSA reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsaOptions {
    /// `dns_csa_search_limit`.
    pub search_limit: u32,
    /// `dns_csa_use_reverse`.
    pub use_reverse: bool,
}

impl Default for CsaOptions {
    fn default() -> Self {
        CsaOptions {
            search_limit: 5,
            use_reverse: true,
        }
    }
}

/// Exim's `dns_special_lookup(T_CSA)`: the SRV answer and the name it was found at.
enum Srv {
    Found(Vec<Record>, String),
    NoMatch,
    Again,
}

fn srv(dns: &dyn Resolver, name: &str) -> DnsResult {
    dns.lookup(&format!("_client._smtp.{name}"), RType::Srv)
        .result
}

fn special_lookup(dns: &dyn Resolver, name: &str, opts: CsaOptions) -> Srv {
    match srv(dns, name) {
        DnsResult::Records(r) => return Srv::Found(r, name.to_string()),
        DnsResult::Again(_) => return Srv::Again,
        // Exim skips the parent search when the name does not exist at all.
        DnsResult::NxDomain => return Srv::NoMatch,
        DnsResult::NoData | DnsResult::Fail(_) => {}
    }
    let b = name.as_bytes();
    let Some(mut suff) = name.rfind('.') else {
        return Srv::NoMatch;
    };
    let mut limit = opts.search_limit;
    let mut ipv6 = false;
    // Byte offsets throughout: a HELO name need not be ASCII.
    let lower = name.to_ascii_lowercase().into_bytes();
    if lower[suff..] == *b".arpa" {
        if suff > 8 && lower[suff - 8..] == *b".in-addr.arpa" {
            suff -= 8;
            limit = 3;
        } else if suff > 4 && lower[suff - 4..] == *b".ip6.arpa" {
            suff -= 4;
            ipv6 = true;
            limit = 3;
        }
    }
    for _ in 0..limit {
        if ipv6 {
            // 16 bits of address a step: four nibbles and their dots.
            if suff <= 8 {
                return Srv::NoMatch;
            }
            suff -= 8;
        } else {
            loop {
                if suff <= 1 {
                    return Srv::NoMatch;
                }
                suff -= 1;
                if b[suff] == b'.' {
                    break;
                }
            }
        }
        let parent = String::from_utf8_lossy(&b[suff + 1..]).into_owned();
        let parent = parent.as_str();
        match srv(dns, parent) {
            DnsResult::Again(_) => return Srv::Again,
            DnsResult::Records(recs) => {
                let asserts = recs
                    .iter()
                    .any(|r| matches!(r.data, RData::Srv { prio: 1, port, .. } if port & 1 == 1));
                if asserts {
                    return Srv::Found(recs, parent.to_string());
                }
            }
            _ => {}
        }
    }
    Srv::NoMatch
}

/// Exim's `acl_verify_csa_address`: does an address record of the target match?
fn address_check(recs: &[Record], target: &str, client: &str) -> Csa {
    let mut rc = Csa::FailNoaddr;
    for r in recs {
        let addr = match &r.data {
            RData::A(a) => a.to_string(),
            RData::Aaaa(a) => a.to_string(),
            _ => continue,
        };
        if !r.name.eq_ignore_ascii_case(target) {
            continue;
        }
        rc = Csa::FailMismatch;
        if addr.eq_ignore_ascii_case(client) {
            return Csa::Ok;
        }
    }
    rc
}

/// The CSA outcome for `domain` (already chosen and reversed) and the client address.
pub fn check(dns: &dyn Resolver, domain: &str, client: &str, opts: CsaOptions) -> Csa {
    let (recs, found) = match special_lookup(dns, domain, opts) {
        Srv::Found(r, f) => (r, f),
        Srv::NoMatch => return Csa::Unknown,
        Srv::Again => return Csa::DeferSrv,
    };
    let mut target = None;
    for r in &recs {
        let RData::Srv {
            prio,
            weight,
            port,
            target: t,
        } = &r.data
        else {
            continue;
        };
        if *prio != 1 {
            continue;
        }
        if found != domain {
            return if port & 1 == 1 {
                Csa::FailExplicit
            } else {
                Csa::Unknown
            };
        }
        if *weight < 2 {
            return Csa::FailDomain;
        }
        if *weight > 2 {
            continue;
        }
        target = Some(t.clone());
        break;
    }
    let Some(target) = target else {
        return Csa::Unknown;
    };
    if target.is_empty() {
        return Csa::FailNoaddr;
    }
    let rtype = if client.contains(':') {
        RType::Aaaa
    } else {
        RType::A
    };
    match dns.lookup(&target, rtype).result {
        DnsResult::Records(recs) => address_check(&recs, &target, client),
        DnsResult::NoData | DnsResult::NxDomain => Csa::FailNoaddr,
        DnsResult::Again(_) | DnsResult::Fail(_) => Csa::DeferAddr,
    }
}

fn var(run: &AclRun, name: &str) -> String {
    run.ctx
        .get(name)
        .map(|v| v.as_str_lossy().into_owned())
        .unwrap_or_default()
}

/// The domain CSA asks about: the option, else the HELO name, else the client's
/// address; an address (or address literal) becomes its reverse-DNS name. `None`:
/// CSA does not apply (no client address, or reverse names switched off).
fn domain_for(run: &AclRun, given: &str, opts: CsaOptions) -> Option<String> {
    let client = var(run, "sender_host_address");
    if client.is_empty() {
        return None;
    }
    let mut domain = given.trim_start().to_string();
    if domain.is_empty() {
        domain = var(run, "sender_helo_name");
    }
    if domain.is_empty() {
        domain = client;
    }
    if domain.starts_with('[') {
        let start = domain.find(':').unwrap_or(0);
        let inner = domain
            .get(start + 1..domain.len().saturating_sub(1))
            .unwrap_or("");
        domain = inner.to_string();
    }
    if domain.parse::<std::net::IpAddr>().is_ok() {
        if !opts.use_reverse {
            return None;
        }
        domain = reverse_name(&domain)?;
    }
    Some(domain)
}

/// `verify = csa[/domain]`: `rest` is the text after `csa/`.
pub fn verify_csa(run: &mut AclRun, rest: &str) -> Rc {
    let opts = run.acls.env.csa;
    let result = match domain_for(run, rest, opts) {
        None => Csa::Unknown,
        Some(domain) => match run.state.csa_cache.get(&domain) {
            Some(r) => *r,
            None => {
                let client = var(run, "sender_host_address");
                let r = check(run.acls.env.resolver.as_ref(), &domain, &client, opts);
                run.state.csa_cache.insert(domain, r);
                r
            }
        },
    };
    let text = format!("client SMTP authorization {}", result.reason());
    run.user_msg = Some(text.clone());
    run.log_msg = Some(text);
    run.ctx.set("csa_status", result.status());
    result.rc()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::FakeResolver;

    const ZONE: &str = "
_client._smtp.good.example SRV 1 2 0 good.example
good.example A 192.0.2.1
_client._smtp.bad.example SRV 1 1 0 bad.example
_client._smtp.nowhere.example SRV 1 2 0 .
_client._smtp.other.example SRV 1 2 0 other.example
other.example A 198.51.100.7
_client._smtp.noaddr.example SRV 1 2 0 noaddr-target.example
noaddr-target.example MX 10 mx.example
_client._smtp.three.example SRV 1 3 0 three.example
_client._smtp.v2.example SRV 2 2 0 v2.example
_client._smtp.slow.example SRV 1 2 0 slow-target.example
slow-target.example SERVFAIL
_client._smtp.srvfail.example SERVFAIL
_client._smtp.strict.example SRV 1 0 1 strict.example
host.strict.example A 192.0.2.1
_client._smtp.host.strict.example TXT \"placeholder\"
_client._smtp.lax.example SRV 1 0 0 lax.example
_client._smtp.host.lax.example TXT \"placeholder\"
_client._smtp.2.0.192.in-addr.arpa SRV 1 0 1 x.example
_client._smtp.1.2.0.192.in-addr.arpa TXT \"placeholder\"
sub._client._smtp.\u{e9}t\u{e9}.x\u{e9}.ip6.arpa TXT \"placeholder\"
sub._client._smtp.\u{e9}\u{e9}\u{e9}\u{e9}.in-addr.arpa TXT \"placeholder\"
";

    fn run(domain: &str) -> Csa {
        let z = FakeResolver::parse(ZONE).unwrap();
        check(&z, domain, "192.0.2.1", CsaOptions::default())
    }

    #[test]
    fn own_records() {
        assert_eq!(run("good.example"), Csa::Ok);
        assert_eq!(run("bad.example"), Csa::FailDomain);
        assert_eq!(run("nowhere.example"), Csa::FailNoaddr);
        assert_eq!(run("other.example"), Csa::FailMismatch);
        assert_eq!(run("noaddr.example"), Csa::FailNoaddr);
        assert_eq!(run("three.example"), Csa::Unknown);
        assert_eq!(run("v2.example"), Csa::Unknown);
        assert_eq!(run("slow.example"), Csa::DeferAddr);
        assert_eq!(run("srvfail.example"), Csa::DeferSrv);
        assert_eq!(run("absent.example"), Csa::Unknown);
    }

    #[test]
    fn parent_assertions() {
        // `_client._smtp.host.strict.example` exists without SRV data: Exim searches
        // the parents from the second-level domain down.
        assert_eq!(run("host.strict.example"), Csa::FailExplicit);
        assert_eq!(run("host.lax.example"), Csa::Unknown);
        // A reverse name: the search starts at the /8.
        assert_eq!(run("1.2.0.192.in-addr.arpa"), Csa::FailExplicit);
        // Names that are not ASCII walk by bytes without trouble.
        assert_eq!(run("\u{e9}t\u{e9}.x\u{e9}.ip6.arpa"), Csa::Unknown);
        assert_eq!(run("\u{e9}\u{e9}\u{e9}\u{e9}.in-addr.arpa"), Csa::Unknown);
    }

    #[test]
    fn texts() {
        assert_eq!(
            Csa::FailMismatch.reason(),
            "failed (client address mismatch)"
        );
        assert_eq!(Csa::DeferAddr.status(), "defer");
        assert_eq!(Csa::FailExplicit.rc(), Rc::Fail);
        assert_eq!(Csa::DeferSrv.rc(), Rc::Ok);
    }
}
