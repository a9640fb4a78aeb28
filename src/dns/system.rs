//! The production resolver: hickory's synchronous resolver configured from /etc/resolv.conf.

use std::str::FromStr;
use std::sync::OnceLock;

use hickory_resolver::error::ResolveErrorKind;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData as HData, RecordType};
use hickory_resolver::Name;

use crate::dns::{Answer, DnsResult, RData, RType, Record, Resolver};

/// Asks the name servers of /etc/resolv.conf (opened on first use).
#[derive(Default)]
pub struct SystemResolver {
    inner: OnceLock<Result<hickory_resolver::Resolver, String>>,
}

fn host(n: &Name) -> String {
    n.to_utf8().trim_end_matches('.').to_string()
}

/// The character-strings of TXT-format record data.
fn strings(raw: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&len) = raw.get(i) {
        let end = (i + 1 + usize::from(len)).min(raw.len());
        out.push(raw[i + 1..end].to_vec());
        i = end;
    }
    out
}

fn convert(name: &Name, ttl: u32, data: &HData) -> Option<Record> {
    let d = match data {
        HData::A(a) => RData::A(a.0),
        HData::AAAA(a) => RData::Aaaa(a.0),
        HData::CNAME(c) => RData::Cname(host(&c.0)),
        HData::NS(n) => RData::Ns(host(&n.0)),
        HData::PTR(p) => RData::Ptr(host(&p.0)),
        HData::MX(m) => RData::Mx {
            pref: m.preference(),
            host: host(m.exchange()),
        },
        HData::SRV(s) => RData::Srv {
            prio: s.priority(),
            weight: s.weight(),
            port: s.port(),
            target: host(s.target()),
        },
        HData::SOA(s) => RData::Soa {
            mname: host(s.mname()),
            rname: host(s.rname()),
            serial: s.serial(),
            refresh: s.refresh() as u32,
            retry: s.retry() as u32,
            expire: s.expire() as u32,
            minimum: s.minimum(),
        },
        HData::TXT(t) => RData::Txt(t.iter().map(|s| s.to_vec()).collect()),
        HData::TLSA(t) => RData::Tlsa {
            usage: u8::from(t.cert_usage()),
            selector: u8::from(t.selector()),
            mtype: u8::from(t.matching()),
            data: t.cert_data().to_vec(),
        },
        HData::Unknown { code, rdata } if u16::from(*code) == 99 => {
            RData::Spf(strings(rdata.anything()))
        }
        _ => return None,
    };
    Some(Record {
        name: host(name),
        ttl,
        data: d,
    })
}

fn record_type(t: RType) -> RecordType {
    match t {
        RType::A => RecordType::A,
        RType::Aaaa => RecordType::AAAA,
        RType::Cname => RecordType::CNAME,
        RType::Mx => RecordType::MX,
        RType::Ns => RecordType::NS,
        RType::Ptr => RecordType::PTR,
        RType::Soa => RecordType::SOA,
        RType::Spf => RecordType::Unknown(99),
        RType::Srv => RecordType::SRV,
        RType::Tlsa => RecordType::TLSA,
        RType::Txt => RecordType::TXT,
    }
}

impl Resolver for SystemResolver {
    fn lookup(&self, name: &str, rtype: RType) -> Answer {
        let insecure = |result| Answer {
            result,
            secure: false,
        };
        let resolver = self.inner.get_or_init(|| {
            hickory_resolver::Resolver::from_system_conf()
                .map_err(|e| format!("cannot read resolver configuration: {e}"))
        });
        let resolver = match resolver {
            Ok(r) => r,
            Err(e) => return insecure(DnsResult::Again(e.clone())),
        };
        // Absolute name: Exim never appends search domains for dnsdb.
        let Ok(fqdn) = Name::from_str(&format!("{}.", name.trim_end_matches('.'))) else {
            return insecure(DnsResult::Fail(format!("bad domain name {name:?}")));
        };
        match resolver.lookup(fqdn, record_type(rtype)) {
            Ok(l) => {
                let recs: Vec<Record> = l
                    .record_iter()
                    .filter_map(|r| r.data().and_then(|d| convert(r.name(), r.ttl(), d)))
                    .collect();
                insecure(if recs.is_empty() {
                    DnsResult::NoData
                } else {
                    DnsResult::Records(recs)
                })
            }
            Err(e) => insecure(match e.kind() {
                ResolveErrorKind::NoRecordsFound { response_code, .. } => match *response_code {
                    ResponseCode::NXDomain => DnsResult::NxDomain,
                    ResponseCode::NoError => DnsResult::NoData,
                    ResponseCode::Refused | ResponseCode::NotImp | ResponseCode::FormErr => {
                        DnsResult::Fail(e.to_string())
                    }
                    _ => DnsResult::Again(e.to_string()),
                },
                _ => DnsResult::Again(e.to_string()),
            }),
        }
    }
}
