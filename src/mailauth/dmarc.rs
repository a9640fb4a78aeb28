//! DMARC for one message, as Exim's `dmarc_process` runs it at the first `dmarc_status`
//! condition: the From: domain, the SPF result for the envelope sender's domain, the
//! passing DKIM signatures, then mail-auth's DMARC evaluation. The `_dmarc` TXT records
//! (and the address records RFC 8020's `np=` test needs) are asked of the resolver first
//! and handed to mail-auth as its caches, so nothing else queries DNS.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use mail_auth::common::parse::TxtRecordParser;
use mail_auth::dmarc::{Dmarc, Policy};
use mail_auth::hickory_resolver::proto::op::ResponseCode;
use mail_auth::{
    AuthenticatedMessage, DkimOutput, DmarcResult, DnsError, DnssecStatus, Error, RecordSet,
    SpfOutput, SpfResult, Txt,
};

use crate::dns::{DnsResult, RData, RType, Resolver};
use crate::mailauth::spf_dns::{authenticator, runtime, SpfDns, ZoneCache};

/// What one DMARC check gave: Exim's variables and the `${authresults}` part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmarcOutcome {
    /// `$dmarc_status`: accept reject quarantine none norecord nofrom temperror.
    pub status: &'static str,
    pub status_text: &'static str,
    /// `$dmarc_domain_policy`: the record's `p=` (empty without a record).
    pub domain_policy: &'static str,
    pub used_domain: String,
    /// `dmarc=` in `${authresults}`: skipped none pass fail temperror.
    pub pass_fail: &'static str,
    /// The From: domain (`header.from=`), when one was found.
    pub header_from: Option<String>,
    pub spf_aligned: bool,
    pub dkim_aligned: bool,
    /// Whether a record was found (Exim then logs its "DMARC results" line).
    pub has_record: bool,
    /// The record's `ruf=` addresses (forensic reports).
    pub ruf: Vec<String>,
}

impl DmarcOutcome {
    /// Exim's result when DMARC is not evaluated (no `dmarc_tld_file`, an authenticated
    /// client, no From: domain): `$dmarc_status` stays `none`, `dmarc=skipped`.
    pub fn skipped(header_from: Option<String>) -> DmarcOutcome {
        DmarcOutcome {
            status: "none",
            status_text: "",
            domain_policy: "",
            used_domain: String::new(),
            pass_fail: "skipped",
            header_from,
            spf_aligned: false,
            dkim_aligned: false,
            has_record: false,
            ruf: Vec::new(),
        }
    }

    /// Exim's `DMARC results:` main log line.
    pub fn log_line(&self, spf_domain: &str) -> String {
        let yn = |b: bool| if b { "yes" } else { "no" };
        format!(
            "DMARC results: spf_domain={spf_domain} dmarc_domain={} spf_align={} dkim_align={} enforcement='{}'",
            self.used_domain,
            yn(self.spf_aligned),
            yn(self.dkim_aligned),
            self.status_text
        )
    }
}

/// The facts DMARC is evaluated on.
pub struct DmarcRequest<'a> {
    /// The message as received (for mail-auth's From: parsing).
    pub message: &'a [u8],
    pub from_domain: String,
    /// The envelope sender's domain (empty for the null sender).
    pub spf_domain: String,
    /// `$spf_result` when an `spf` condition ran for the message.
    pub spf_result: Option<String>,
    /// The domains of signatures that passed DKIM verification.
    pub dkim_pass: Vec<String>,
}

/// The first address's domain in a From: header value (Exim's `header_from_sender`).
pub fn from_domain(value: &[u8]) -> Option<String> {
    let parts = crate::expand::address::split(value);
    let first = parts.first().copied().unwrap_or(value);
    let a = crate::expand::address::extract(first).ok()?;
    let d = String::from_utf8_lossy(a.domain()).to_ascii_lowercase();
    (!d.is_empty()).then_some(d)
}

fn suffixes(domain: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(domain.trim_end_matches('.'));
    std::iter::from_fn(move || {
        let cur = rest?;
        rest = cur.split_once('.').map(|(_, r)| r);
        (!cur.is_empty()).then_some(cur)
    })
}

/// mail-auth's TXT and A caches, filled in advance.
type TxtMap = HashMap<Box<str>, Txt>;
type AddressMap = HashMap<Box<str>, RecordSet<Ipv4Addr>>;

fn nxdomain() -> Error {
    Error::Dns(DnsError::RecordNotFound(ResponseCode::NXDomain))
}

/// `_dmarc.<name>` for every suffix of every domain involved, as mail-auth's cache holds
/// them; and the A records of the From: domain.
fn prefetch(dns: &dyn Resolver, domains: &[&str]) -> (TxtMap, AddressMap) {
    let mut txt = HashMap::new();
    for d in domains {
        for name in suffixes(d) {
            let key: Box<str> = format!("_dmarc.{name}.").into();
            if txt.contains_key(&key) {
                continue;
            }
            let value = match dns.lookup(&format!("_dmarc.{name}"), RType::Txt).result {
                DnsResult::Records(recs) => {
                    let mut found: Result<Dmarc, Error> =
                        Err(Error::Dns(DnsError::InvalidRecordType));
                    for r in &recs {
                        if let RData::Txt(strings) = &r.data {
                            found = Dmarc::parse(&strings.concat());
                            if found.is_ok() {
                                break;
                            }
                        }
                    }
                    match found {
                        Ok(d) => Txt::Dmarc(Arc::new(d)),
                        Err(e) => Txt::Error(e),
                    }
                }
                DnsResult::NoData | DnsResult::NxDomain => Txt::Error(nxdomain()),
                DnsResult::Again(why) | DnsResult::Fail(why) => {
                    Txt::Error(Error::Dns(DnsError::Resolver(why)))
                }
            };
            txt.insert(key, value);
        }
    }
    let mut a = HashMap::new();
    if let Some(d) = domains.first() {
        if let DnsResult::Records(recs) = dns.lookup(d, RType::A).result {
            let v: Vec<Ipv4Addr> = recs
                .iter()
                .filter_map(|r| match r.data {
                    RData::A(ip) => Some(ip),
                    _ => None,
                })
                .collect();
            a.insert(
                format!("{d}.").into(),
                RecordSet {
                    rrset: v.into(),
                    dnssec_status: DnssecStatus::Indeterminate,
                },
            );
        }
    }
    (txt, a)
}

fn policy_word(p: Policy) -> &'static str {
    match p {
        Policy::None => "none",
        Policy::Quarantine => "quarantine",
        Policy::Reject => "reject",
        Policy::Unspecified => "",
    }
}

/// Evaluate DMARC for the request.
pub fn check(req: &DmarcRequest<'_>, dns: &dyn Resolver) -> DmarcOutcome {
    let mut domains: Vec<&str> = vec![req.from_domain.as_str()];
    if !req.spf_domain.is_empty() {
        domains.push(&req.spf_domain);
    }
    domains.extend(req.dkim_pass.iter().map(String::as_str));
    let (txt, a) = prefetch(dns, &domains);
    // Exim 4.96 asks for `_dmarc.<From: domain>` only (no organizational-domain
    // fallback); mail-auth's alignment walks still see every ancestor's record.
    let found = match txt.get(format!("_dmarc.{}.", req.from_domain).as_str()) {
        Some(Txt::Dmarc(d)) => Some((req.from_domain.clone(), d.clone())),
        _ => None,
    };
    let Some((used_domain, record)) = found else {
        return DmarcOutcome {
            status: "norecord",
            status_text: "No DMARC record",
            domain_policy: "",
            used_domain: req.from_domain.clone(),
            pass_fail: "none",
            header_from: Some(req.from_domain.clone()),
            spf_aligned: false,
            dkim_aligned: false,
            has_record: false,
            ruf: Vec::new(),
        };
    };
    let txt_cache = ZoneCache::new(Some(&txt), Some(Txt::Error(nxdomain())));
    let a_cache = ZoneCache::new(Some(&a), None);
    let spf = SpfOutput::new(req.spf_domain.clone()).with_result(match req.spf_result.as_deref() {
        Some("pass") => SpfResult::Pass,
        Some("fail") => SpfResult::Fail,
        Some("softfail") => SpfResult::SoftFail,
        _ => SpfResult::None,
    });
    let sigs: Vec<mail_auth::dkim::Signature> = req
        .dkim_pass
        .iter()
        .map(|d| mail_auth::dkim::Signature {
            d: d.clone(),
            ..Default::default()
        })
        .collect();
    let dkim: Vec<DkimOutput<'_>> = sigs
        .iter()
        .map(|s| DkimOutput::pass().with_signature(s))
        .collect();
    let raw = crlf(req.message);
    let out = match (
        AuthenticatedMessage::parse(&raw),
        authenticator(&SpfDns::Offline(Default::default())),
    ) {
        (Some(msg), Ok(auth)) => {
            let params = mail_auth::Parameters::new(mail_auth::dmarc::verify::DmarcParameters {
                message: &msg,
                dkim_output: &dkim,
                dkim2_output: None,
                rfc5321_mail_from_domain: &req.spf_domain,
                spf_output: &spf,
            })
            .with_txt_cache(&txt_cache)
            .with_ipv4_cache(&a_cache);
            Some(runtime().block_on(auth.verify_dmarc(params)))
        }
        _ => None,
    };
    let (spf_aligned, dkim_aligned, policy) = match &out {
        Some(o) => (
            *o.spf_result() == DmarcResult::Pass,
            *o.dkim_result() == DmarcResult::Pass,
            o.policy(),
        ),
        None => (false, false, record.p),
    };
    let (status, status_text, pass_fail) = if out.is_none() {
        ("temperror", "Internal Policy Error", "temperror")
    } else if spf_aligned || dkim_aligned {
        ("accept", "Accept", "pass")
    } else {
        match policy {
            Policy::Reject => ("reject", "Reject", "fail"),
            Policy::Quarantine => ("quarantine", "Quarantine", "fail"),
            _ => ("none", "None, Accept", "none"),
        }
    };
    DmarcOutcome {
        status,
        status_text,
        domain_policy: policy_word(record.p),
        used_domain,
        pass_fail,
        header_from: Some(req.from_domain.clone()),
        spf_aligned,
        dkim_aligned,
        has_record: true,
        ruf: record.ruf.iter().map(|u| u.uri().to_string()).collect(),
    }
}

fn crlf(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 64);
    for (i, &c) in message.iter().enumerate() {
        if c == b'\n' && (i == 0 || message[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_domains_and_suffixes() {
        assert_eq!(
            from_domain(b" Fred <fred@Mail.Example.COM>, b@other.org").as_deref(),
            Some("mail.example.com")
        );
        assert_eq!(from_domain(b" undisclosed"), None);
        let s: Vec<&str> = suffixes("a.b.example.com").collect();
        assert_eq!(
            s,
            ["a.b.example.com", "b.example.com", "example.com", "com"]
        );
    }
}
