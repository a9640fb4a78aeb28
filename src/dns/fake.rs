//! An in-memory zone for tests: `name TYPE data` lines, answered like a recursive server.

use std::collections::HashMap;

use crate::dns::{Answer, DnsResult, RData, RType, Record, Resolver};

/// Records by lowercased owner name; names marked `AD` answer as DNSSEC-validated,
/// `SERVFAIL` and `FAIL` names give temporary and permanent failures.
#[derive(Debug, Default)]
pub struct FakeResolver {
    records: HashMap<String, Vec<Record>>,
    secure: Vec<String>,
    servfail: Vec<String>,
    fail: Vec<String>,
}

fn words(line: &str) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let mut w = Vec::new();
        if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' && i + 1 < b.len() {
                    i += 1;
                }
                w.push(b[i]);
                i += 1;
            }
            if i >= b.len() {
                return Err(format!("unterminated quote in {line:?}"));
            }
            i += 1;
        } else {
            while i < b.len() && !b[i].is_ascii_whitespace() {
                w.push(b[i]);
                i += 1;
            }
        }
        out.push(w);
    }
    Ok(out)
}

fn name(w: &[u8]) -> String {
    String::from_utf8_lossy(w).trim_end_matches('.').to_string()
}

fn num<T: std::str::FromStr>(w: Option<&Vec<u8>>, line: &str) -> Result<T, String> {
    w.and_then(|w| std::str::from_utf8(w).ok()?.parse().ok())
        .ok_or_else(|| format!("bad number in {line:?}"))
}

fn hex(w: &[u8]) -> Result<Vec<u8>, String> {
    let s = std::str::from_utf8(w).map_err(|e| e.to_string())?;
    (0..s.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(s.get(i..i + 2).unwrap_or("x"), 16)
                .map_err(|e| format!("bad hex {s}: {e}"))
        })
        .collect()
}

impl FakeResolver {
    /// Parse a zone: `name TYPE data`; `#` comments; names are absolute, dot optional.
    pub fn parse(text: &str) -> Result<FakeResolver, String> {
        let mut z = FakeResolver::default();
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let w = words(line)?;
            let (Some(owner), Some(kind)) = (w.first(), w.get(1)) else {
                return Err(format!("bad zone line {line:?}"));
            };
            let owner = name(owner).to_ascii_lowercase();
            let kind = String::from_utf8_lossy(kind).to_ascii_uppercase();
            let a = &w[2..];
            let s = |i: usize| {
                a.get(i)
                    .map(|x| name(x))
                    .ok_or_else(|| format!("missing field in {line:?}"))
            };
            let data = match kind.as_str() {
                "AD" => {
                    z.secure.push(owner);
                    continue;
                }
                "SERVFAIL" => {
                    z.servfail.push(owner);
                    continue;
                }
                "FAIL" => {
                    z.fail.push(owner);
                    continue;
                }
                "A" => RData::A(s(0)?.parse().map_err(|e| format!("{line}: {e}"))?),
                "AAAA" => RData::Aaaa(s(0)?.parse().map_err(|e| format!("{line}: {e}"))?),
                "CNAME" => RData::Cname(s(0)?),
                "NS" => RData::Ns(s(0)?),
                "PTR" => RData::Ptr(s(0)?),
                "MX" => RData::Mx {
                    pref: num(a.first(), line)?,
                    host: s(1)?,
                },
                "SRV" => RData::Srv {
                    prio: num(a.first(), line)?,
                    weight: num(a.get(1), line)?,
                    port: num(a.get(2), line)?,
                    target: s(3)?,
                },
                "SOA" => RData::Soa {
                    mname: s(0)?,
                    rname: s(1)?,
                    serial: num(a.get(2), line)?,
                    refresh: num(a.get(3), line)?,
                    retry: num(a.get(4), line)?,
                    expire: num(a.get(5), line)?,
                    minimum: num(a.get(6), line)?,
                },
                "TXT" => RData::Txt(a.to_vec()),
                "SPF" => RData::Spf(a.to_vec()),
                "TLSA" => RData::Tlsa {
                    usage: num(a.first(), line)?,
                    selector: num(a.get(1), line)?,
                    mtype: num(a.get(2), line)?,
                    data: hex(a.get(3).map(Vec::as_slice).unwrap_or_default())?,
                },
                _ => return Err(format!("unknown record type in {line:?}")),
            };
            z.records.entry(owner.clone()).or_default().push(Record {
                name: owner,
                ttl: 3600,
                data,
            });
        }
        Ok(z)
    }

    /// Every owner name the zone mentions (records, `SERVFAIL`, `FAIL`), lowercased.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.records
            .keys()
            .chain(&self.servfail)
            .chain(&self.fail)
            .map(String::as_str)
    }

    fn exists(&self, name: &str) -> bool {
        let dotted = format!(".{name}");
        self.records
            .keys()
            .any(|k| k == name || k.ends_with(&dotted))
    }
}

impl Resolver for FakeResolver {
    fn lookup(&self, name: &str, rtype: RType) -> Answer {
        let mut current = name.trim_end_matches('.').to_ascii_lowercase();
        let secure = self.secure.contains(&current);
        let mut answer = Vec::new();
        for _ in 0..10 {
            if self.servfail.contains(&current) {
                return Answer {
                    result: DnsResult::Again(format!("SERVFAIL for {current}")),
                    secure: false,
                };
            }
            if self.fail.contains(&current) {
                return Answer {
                    result: DnsResult::Fail(format!("refused for {current}")),
                    secure: false,
                };
            }
            let recs = self
                .records
                .get(&current)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let wanted: Vec<Record> = recs
                .iter()
                .filter(|r| r.data.rtype() == rtype)
                .cloned()
                .collect();
            if !wanted.is_empty() {
                answer.extend(wanted);
                return Answer {
                    result: DnsResult::Records(answer),
                    secure,
                };
            }
            match recs.iter().find(|r| r.data.rtype() == RType::Cname) {
                Some(c) if rtype != RType::Cname => {
                    answer.push(c.clone());
                    let RData::Cname(target) = &c.data else { break };
                    current = target.to_ascii_lowercase();
                }
                _ => break,
            }
        }
        let result = if !answer.is_empty() {
            DnsResult::Records(answer)
        } else if self.exists(&current) {
            DnsResult::NoData
        } else {
            DnsResult::NxDomain
        };
        Answer { result, secure }
    }
}
