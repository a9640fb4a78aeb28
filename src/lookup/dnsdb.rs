//! `dnsdb`: DNS queries as a lookup (`${lookup dnsdb{>: defer_never,mx=example.com}}`).

use std::sync::Arc;

use crate::dns::{DnsResult, RData, RType, Record, Resolver, SystemResolver};
use crate::expand::lists;
use crate::lookup::ip::is_ip_address;
use crate::lookup::{Call, LookupDriver, LookupError, Opened, Options};

pub struct Dnsdb {
    resolver: Arc<dyn Resolver>,
}

pub fn make() -> Box<dyn LookupDriver> {
    with_resolver(Arc::new(SystemResolver::default()))
}

/// A dnsdb driver asking `resolver` (tests pass a `FakeResolver`).
pub fn with_resolver(resolver: Arc<dyn Resolver>) -> Box<dyn LookupDriver> {
    Box::new(Dnsdb { resolver })
}

/// The query's record type, including Exim's private ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QType {
    Plain(RType),
    /// `a+`: AAAA then A.
    Addresses,
    /// `mxh`: MX host names only.
    Mxh,
    /// `zns`: NS of the name or its nearest enclosing zone.
    Zns,
    /// `csa`: Client SMTP Authorization SRV records.
    Csa,
}

fn qtype(name: &[u8]) -> Option<QType> {
    let n = String::from_utf8_lossy(name).to_ascii_lowercase();
    Some(match n.as_str() {
        "a+" => QType::Addresses,
        "mxh" => QType::Mxh,
        "zns" => QType::Zns,
        "csa" => QType::Csa,
        other => QType::Plain(RType::from_name(other)?),
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Strict,
    Lax,
    Never,
}

fn skip_ws(s: &[u8]) -> &[u8] {
    let n = s
        .iter()
        .take_while(|&&c| crate::lookup::files::is_space(c))
        .count();
    &s[n..]
}

fn strip_ci<'a>(s: &'a [u8], prefix: &str) -> Option<&'a [u8]> {
    (s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes()))
        .then(|| &s[prefix.len()..])
}

/// The three behaviour words after `defer_` / `dnssec_`.
fn mode(s: &[u8]) -> Option<(Mode, &[u8])> {
    [
        ("strict", Mode::Strict),
        ("lax", Mode::Lax),
        ("never", Mode::Never),
    ]
    .into_iter()
    .find_map(|(w, m)| strip_ci(s, w).map(|r| (m, r)))
}

/// Exim's time syntax (`5s`, `1m30s`); the value must be positive.
fn time_value(s: &[u8]) -> bool {
    let mut total: u64 = 0;
    let mut i = 0;
    while i < s.len() && s[i] != b',' {
        let digits = s[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return false;
        }
        let n: u64 = s[i..i + digits].iter().fold(0, |a, &d| {
            a.saturating_mul(10).saturating_add(u64::from(d - b'0'))
        });
        i += digits;
        let mult = match s.get(i) {
            Some(b'w') => 604_800,
            Some(b'd') => 86_400,
            Some(b'h') => 3_600,
            Some(b'm') => 60,
            Some(b's') => 1,
            _ => {
                total = total.saturating_add(n);
                break;
            }
        };
        i += 1;
        total = total.saturating_add(n.saturating_mul(mult));
    }
    total > 0
}

/// Parsed query text.
struct Query<'a> {
    outsep: u8,
    /// Separator inside one record: `None` unset, `Some(0)` concatenate (`>x;`).
    outsep2: Option<u8>,
    defer: Mode,
    dnssec: Mode,
    qtype: QType,
    domains: &'a [u8],
}

fn parse(query: &[u8]) -> Result<Query<'_>, LookupError> {
    let err = |m: &str| LookupError::Defer(m.to_string());
    let mut q = skip_ws(query);
    let mut outsep = b'\n';
    let mut outsep2 = None;
    if q.first() == Some(&b'>') {
        outsep = q.get(1).copied().unwrap_or(0);
        q = q.get(2..).unwrap_or_default();
        if q.first() == Some(&b',') {
            outsep2 = Some(q.get(1).copied().unwrap_or(0));
            q = q.get(2..).unwrap_or_default();
        } else if q.first() == Some(&b';') {
            outsep2 = Some(0);
            q = &q[1..];
        }
        q = skip_ws(q);
    }
    let (mut defer, mut dnssec) = (Mode::Lax, Mode::Lax);
    loop {
        if let Some(r) = strip_ci(q, "defer_") {
            let (m, r) = mode(r).ok_or_else(|| err("unsupported dnsdb defer behaviour"))?;
            defer = m;
            q = r;
        } else if let Some(r) = strip_ci(q, "dnssec_") {
            let (m, r) = mode(r).ok_or_else(|| err("unsupported dnsdb dnssec behaviour"))?;
            dnssec = m;
            q = r;
        } else if let Some(r) = strip_ci(q, "retrans_") {
            // Timeouts are the resolver's business; the value is still checked.
            if !time_value(r) {
                return Err(err("unsupported dnsdb timeout value"));
            }
            q = &r[r.iter().position(|&c| c == b',').unwrap_or(r.len())..];
        } else if let Some(r) = strip_ci(q, "retry_") {
            if r.first() == Some(&b'-') && r.get(1).is_some_and(u8::is_ascii_digit) {
                return Err(err("unsupported dnsdb retry count"));
            }
            let r = match r.first() {
                Some(b'+') => &r[1..],
                _ => r,
            };
            q = &r[r.iter().take_while(|c| c.is_ascii_alphanumeric()).count()..];
        } else {
            break;
        }
        q = skip_ws(q);
        if q.first() != Some(&b',') {
            return Err(err("dnsdb modifier syntax error"));
        }
        q = skip_ws(&q[1..]);
    }
    let mut qt = QType::Plain(RType::Txt);
    if let Some(eq) = q.iter().position(|&c| c == b'=') {
        let mut name = &q[..eq];
        while name
            .last()
            .is_some_and(|&c| crate::lookup::files::is_space(c))
        {
            name = &name[..name.len() - 1];
        }
        qt = qtype(name).ok_or_else(|| err("unsupported DNS record type"))?;
        q = skip_ws(&q[eq + 1..]);
    }
    if outsep2.is_none() {
        outsep2 = match qt {
            QType::Plain(RType::Spf) => Some(0),
            QType::Plain(RType::Srv | RType::Mx | RType::Tlsa) => Some(b' '),
            _ => None,
        };
    }
    Ok(Query {
        outsep,
        outsep2,
        defer,
        dnssec,
        qtype: qt,
        domains: q,
    })
}

/// What one name lookup gave: records (with the name actually found) or a result code.
enum Got {
    Found(Vec<Record>, String, bool),
    Missing,
    Failed,
}

impl Dnsdb {
    fn basic(&self, name: &str, t: RType) -> Got {
        let a = self.resolver.lookup(name, t);
        match a.result {
            DnsResult::Records(r) => Got::Found(r, name.to_string(), a.secure),
            DnsResult::NoData | DnsResult::NxDomain => Got::Missing,
            DnsResult::Again(_) | DnsResult::Fail(_) => Got::Failed,
        }
    }

    /// Exim's `dns_special_lookup`: ZNS and SOA walk up to the enclosing zone, CSA looks
    /// for `_client._smtp` SRV records of the name or an ancestor.
    fn special(&self, name: &str, qt: QType, searchtype: RType) -> Got {
        match qt {
            QType::Zns | QType::Plain(RType::Soa) => {
                let mut d = name;
                loop {
                    match self.basic(d, searchtype) {
                        Got::Missing => {}
                        other => return other,
                    }
                    match d.find('.') {
                        Some(p) => d = &d[p + 1..],
                        None => return Got::Missing,
                    }
                }
            }
            QType::Csa => self.csa(name),
            _ => self.basic(name, searchtype),
        }
    }

    fn csa(&self, name: &str) -> Got {
        match self.basic(&format!("_client._smtp.{name}"), RType::Srv) {
            Got::Missing => {}
            Got::Found(recs, _, secure) => return Got::Found(recs, name.to_string(), secure),
            Got::Failed => return Got::Failed,
        }
        let bytes = name.as_bytes();
        let Some(mut suff) = bytes.iter().rposition(|&c| c == b'.') else {
            return Got::Missing;
        };
        let lower = bytes.to_ascii_lowercase();
        let (mut limit, mut ipv6) = (5, false);
        if lower[suff..] == *b".arpa" {
            if suff > 8 && lower[..suff].ends_with(b".in-addr") {
                suff -= 8;
                limit = 3;
            } else if suff > 4 && lower[..suff].ends_with(b".ip6") {
                suff -= 4;
                limit = 3;
                ipv6 = true;
            }
        }
        for _ in 0..limit {
            if ipv6 {
                if suff <= 8 {
                    return Got::Missing;
                }
                suff -= 8;
            } else {
                match bytes[..suff].iter().rposition(|&c| c == b'.') {
                    Some(p) if p > 0 => suff = p,
                    _ => return Got::Missing,
                }
            }
            let parent = String::from_utf8_lossy(&bytes[suff + 1..]).into_owned();
            match self.basic(&format!("_client._smtp.{parent}"), RType::Srv) {
                Got::Failed => return Got::Failed,
                Got::Missing => continue,
                Got::Found(recs, _, secure) => {
                    let useful = recs.iter().any(
                        |r| matches!(r.data, RData::Srv { prio: 1, port, .. } if port & 1 == 1),
                    );
                    if useful {
                        return Got::Found(recs, parent, secure);
                    }
                }
            }
        }
        Got::Missing
    }
}

/// Append one record's text (a CSA record of a version other than 1 adds nothing).
fn render(out: &mut Vec<u8>, q: &Query, rec: &Record, found_other: bool) {
    let sep2 = q.outsep2;
    // `sprintf("%d%c", n, sep)` with a NUL separator ends the string there.
    let nums = |out: &mut Vec<u8>, ns: &[u32]| {
        for n in ns {
            out.extend_from_slice(n.to_string().as_bytes());
            match sep2 {
                Some(0) | None => return,
                Some(c) => out.push(c),
            }
        }
    };
    match (&rec.data, q.qtype) {
        (RData::Txt(strings) | RData::Spf(strings), _) => match sep2 {
            None => out.extend_from_slice(strings.first().map(Vec::as_slice).unwrap_or_default()),
            Some(c) => {
                for (i, s) in strings.iter().enumerate() {
                    if c != 0 && i > 0 {
                        out.push(c);
                    }
                    out.extend_from_slice(s);
                }
            }
        },
        (
            RData::Tlsa {
                usage,
                selector,
                mtype,
                data,
            },
            _,
        ) => {
            nums(
                out,
                &[u32::from(*usage), u32::from(*selector), u32::from(*mtype)],
            );
            if !matches!(sep2, Some(0) | None) {
                for b in data {
                    out.extend_from_slice(format!("{b:02x}").as_bytes());
                }
            }
        }
        (RData::Mx { host, .. }, QType::Mxh) => out.extend_from_slice(host.as_bytes()),
        (RData::Mx { pref, host }, _) => {
            nums(out, &[u32::from(*pref)]);
            out.extend_from_slice(host.as_bytes());
        }
        (
            RData::Srv {
                prio,
                weight,
                port,
                target,
            },
            QType::Csa,
        ) => {
            if *prio != 1 {
                return;
            }
            let c = if found_other {
                if port & 1 == 1 {
                    b'X'
                } else {
                    b'?'
                }
            } else {
                match weight {
                    0 | 1 => b'N',
                    2 => b'Y',
                    3 => b'?',
                    _ => return,
                }
            };
            out.extend_from_slice(&[c, b' ']);
            out.extend_from_slice(target.as_bytes());
        }
        (
            RData::Srv {
                prio,
                weight,
                port,
                target,
            },
            _,
        ) => {
            nums(
                out,
                &[u32::from(*prio), u32::from(*weight), u32::from(*port)],
            );
            out.extend_from_slice(target.as_bytes());
        }
        (
            RData::Soa {
                mname,
                rname,
                serial,
                refresh,
                retry,
                expire,
                minimum,
            },
            _,
        ) => {
            out.extend_from_slice(mname.as_bytes());
            if let Some(c) = sep2 {
                out.push(c);
                out.extend_from_slice(rname.as_bytes());
                if c != 0 {
                    for n in [serial, refresh, retry, expire, minimum] {
                        out.push(c);
                        out.extend_from_slice(n.to_string().as_bytes());
                    }
                }
            }
        }
        (RData::A(a), _) => out.extend_from_slice(a.to_string().as_bytes()),
        (RData::Aaaa(a), _) => out.extend_from_slice(a.to_string().as_bytes()),
        (RData::Cname(n) | RData::Ns(n) | RData::Ptr(n), _) => out.extend_from_slice(n.as_bytes()),
    }
}

impl LookupDriver for Dnsdb {
    /// `${lookup dnsdb{mx=example.com}}` gives `10 mx1.example.com` (one line per record).
    fn find(
        &self,
        _: &Opened,
        _: &[u8],
        query: &[u8],
        _: &Options,
        call: &mut Call,
    ) -> Result<Option<Vec<u8>>, LookupError> {
        let q = parse(query)?;
        let ptr_ip = q.qtype == QType::Plain(RType::Ptr)
            && q.domains.first() != Some(&b'<')
            && is_ip_address(q.domains, false).0 != 0;
        let items: Vec<Vec<u8>> = if ptr_ip {
            lists::iter_fixed(q.domains, 1).collect()
        } else {
            lists::iter(q.domains).collect()
        };
        let mut out: Vec<u8> = Vec::new();
        let mut deferred = false;
        for item in items {
            let mut domain = String::from_utf8_lossy(&item).into_owned();
            if matches!(q.qtype, QType::Plain(RType::Ptr) | QType::Csa)
                && is_ip_address(&item, false).0 != 0
            {
                domain = crate::dns::reverse_name(&domain).unwrap_or(domain);
            }
            let passes = match q.qtype {
                QType::Addresses => vec![RType::Aaaa, RType::A],
                QType::Plain(t) => vec![t],
                QType::Mxh => vec![RType::Mx],
                QType::Zns => vec![RType::Ns],
                QType::Csa => vec![RType::Srv],
            };
            for searchtype in passes {
                let got = self.special(&domain, q.qtype, searchtype);
                if let Some(ex) = call.expander.as_deref_mut() {
                    let secure = matches!(got, Got::Found(_, _, true));
                    ex.dnssec_authenticated((q.dnssec != Mode::Never).then_some(secure));
                }
                let (recs, found, secure) = match got {
                    Got::Missing => continue,
                    Got::Found(r, f, s) => (r, f, s),
                    Got::Failed => (Vec::new(), String::new(), false),
                };
                if found.is_empty() || (q.dnssec == Mode::Strict && !secure) {
                    match q.defer {
                        Mode::Strict => return Err(LookupError::Defer(String::new())),
                        Mode::Lax => deferred = true,
                        Mode::Never => {}
                    }
                    continue;
                }
                let found_other = found != domain;
                for rec in recs.iter().filter(|r| r.data.rtype() == searchtype) {
                    // As in Exim, the separator goes in before a CSA record is judged.
                    if !out.is_empty() {
                        out.push(q.outsep);
                    }
                    render(&mut out, &q, rec, found_other);
                }
            }
        }
        if !out.is_empty() {
            Ok(Some(out))
        } else if deferred {
            Err(LookupError::Defer(String::new()))
        } else {
            Ok(None)
        }
    }

    fn tainted_results(&self) -> bool {
        true
    }

    fn cache_results(&self) -> bool {
        false
    }
}
