//! ARC chain verification in the order of Exim's arc.c (draft-ietf-dmarc-arc-protocol
//! section 6): the chain's shape and `cv=` values, each ARC-Message-Signature from the
//! newest down (for `$arc_oldest_pass`), then every ARC-Seal. mail-auth does the
//! canonicalisation, body hashes, key records and signature checks.

use base64::Engine;
use mail_auth::common::crypto::{Algorithm, HashAlgorithm};
use mail_auth::common::parse::TxtRecordParser;
use mail_auth::common::verify::DomainKey;
use mail_auth::dkim::Canonicalization;

use crate::dns::{DnsResult, RData, RType, Resolver};
use crate::mailauth::arc::{collect, crlf, domains, ArcLine, ArcOutcome, ArcSet, Chain};

/// The message as ARC sees it: header lines and body, LF or CRLF line ends.
pub struct ArcMessage<'m> {
    pub headers: Vec<&'m [u8]>,
    pub body: &'m [u8],
}

/// Verify the ARC chain of a message; DNS questions (`<s>._domainkey.<d>` TXT) go to
/// `dns`.
pub fn verify(msg: &ArcMessage, dns: &dyn Resolver) -> ArcOutcome {
    let (chain, collected) = collect(msg.headers.iter().map(|h| crlf(h)).collect());
    let mut v = Verifier {
        chain: &chain,
        body: crlf(msg.body),
        dns,
        reason: None,
        oldest_pass: 0,
        received: None,
    };
    let state = match collected {
        Err(why) => {
            v.reason = Some(why);
            "fail"
        }
        Ok(()) if chain.sets.is_empty() => "none",
        Ok(()) => match v.headers_check().and_then(|()| v.seals()) {
            Ok(()) => "pass",
            Err(()) => "fail",
        },
    };
    ArcOutcome {
        state,
        reason: v.reason,
        domains: domains(&chain),
        oldest_pass: v.oldest_pass,
        received: v.received,
    }
}

struct Verifier<'c> {
    chain: &'c Chain,
    body: Vec<u8>,
    dns: &'c dyn Resolver,
    reason: Option<String>,
    oldest_pass: u32,
    received: Option<(u32, String)>,
}

fn text(v: &Option<Vec<u8>>) -> String {
    String::from_utf8_lossy(v.as_deref().unwrap_or_default()).into_owned()
}

fn hash_of(name: &[u8]) -> Option<HashAlgorithm> {
    match name {
        b"sha256" => Some(HashAlgorithm::Sha256),
        b"sha1" => Some(HashAlgorithm::Sha1),
        _ => None,
    }
}

fn algorithm(al: &ArcLine, hash: HashAlgorithm) -> Algorithm {
    match (al.a_algo.as_slice(), hash) {
        (b"ed25519", _) => Algorithm::Ed25519Sha256,
        (_, HashAlgorithm::Sha1) => Algorithm::RsaSha1,
        _ => Algorithm::RsaSha256,
    }
}

fn b64(v: &[u8]) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(v)
        .unwrap_or_default()
}

/// A header line as mail-auth's canonicaliser takes it: name and value (after the colon).
fn split(line: &[u8]) -> (&[u8], &[u8]) {
    match line.iter().position(|&c| c == b':') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, &[]),
    }
}

/// A signature's own header, `b=` emptied, without its line end (as DKIM signs it).
fn unsigned(al: &ArcLine) -> &[u8] {
    let mut raw = al.rawsig_no_b.as_slice();
    while let Some(rest) = raw.strip_suffix(b"\n").or_else(|| raw.strip_suffix(b"\r")) {
        raw = rest;
    }
    raw
}

/// A value of a `tag=value;` key record (`s=`, `h=`).
fn key_tag(record: &str, tag: &str) -> Option<String> {
    record.split(';').find_map(|t| {
        let (k, v) = t.split_once('=')?;
        (k.trim() == tag).then(|| v.split_whitespace().collect::<String>())
    })
}

impl Verifier<'_> {
    /// The key for a signature (Exim's `arc_line_to_pubkey`): the first TXT record that
    /// does not look like another `v=` record, for service `*` or `email`, allowing the
    /// signature's hash.
    fn pubkey(&self, al: &ArcLine) -> Option<DomainKey> {
        let name = format!("{}._domainkey.{}", text(&al.s), text(&al.d));
        let DnsResult::Records(rrs) = self.dns.lookup(&name, RType::Txt).result else {
            return None;
        };
        let record = rrs.iter().find_map(|r| match &r.data {
            RData::Txt(parts) => {
                let t = String::from_utf8_lossy(&parts.concat()).into_owned();
                let dkim =
                    !t.starts_with("v=") || t[..t.len().min(6)].eq_ignore_ascii_case("v=dkim");
                dkim.then_some(t)
            }
            _ => None,
        })?;
        let service = key_tag(&record, "s").unwrap_or_else(|| "*".into());
        if service != "*" && service != "email" {
            return None;
        }
        if let Some(hashes) = key_tag(&record, "h") {
            let want = String::from_utf8_lossy(&al.a_hash).into_owned();
            if !hashes.split(':').any(|h| h.starts_with(want.as_str())) {
                return None;
            }
        }
        DomainKey::parse(record.as_bytes()).ok()
    }

    /// Exim's `arc_ams_verify`: `Err` is the reason it failed.
    fn ams_verify(&self, set: &ArcSet) -> Result<(), String> {
        let Some(ams) = &set.ams else {
            return Err("required tag missing".into());
        };
        let (Some(bh), Some(sig)) = (&ams.bh, &ams.b) else {
            return Err("required tag missing".into());
        };
        if ams.a.is_none() || ams.d.is_none() || ams.h.is_none() || ams.s.is_none() {
            return Err("required tag missing".into());
        }
        let Some(hash) = hash_of(&ams.a_hash) else {
            return Err("internal hash setup error".into());
        };
        let body_canon = match ams.c_body.as_slice() {
            b"relaxed" => Canonicalization::Relaxed,
            _ => Canonicalization::Simple,
        };
        let len: u64 = text(&ams.l).trim().parse().unwrap_or(0);
        let computed = hash.hash(body_canon.canonical_body(&self.body, len));
        if b64(bh) != computed.as_ref() {
            return Err("AMS body hash miscompare".into());
        }
        let Some(key) = self.pubkey(ams) else {
            return Err("pubkey problem".into());
        };
        let relaxed = b"relaxed".starts_with(&ams.c_head);
        let canon = if relaxed {
            Canonicalization::Relaxed
        } else {
            Canonicalization::Simple
        };
        let signed = self.signed_headers(ams);
        let mut headers = signed.iter().copied().chain([split(unsigned(ams))]);
        key.p
            .verify(&mut headers, &b64(sig), canon, algorithm(ams, hash))
            .map_err(|_| "AMS sig nonverify".to_string())
    }

    /// The headers an AMS `h=` names: for each name, the bottom-most line not yet taken
    /// whose text starts with it (Exim's prefix compare).
    fn signed_headers(&self, ams: &ArcLine) -> Vec<(&[u8], &[u8])> {
        let names = text(&ams.h);
        let mut used = vec![false; self.chain.headers.len()];
        let mut out = Vec::new();
        for name in names.split(':').map(str::trim).filter(|n| !n.is_empty()) {
            let n = name.as_bytes();
            let found = self.chain.headers.iter().enumerate().rev().find(|(i, h)| {
                !used[*i] && h.len() >= n.len() && h[..n.len()].eq_ignore_ascii_case(n)
            });
            if let Some((i, h)) = found {
                used[i] = true;
                out.push(split(h));
            }
        }
        out
    }

    /// Exim's `arc_headers_check`: instances continuous, sets complete, no `cv=fail`,
    /// each AMS from the newest down until one fails, the newest one passing.
    fn headers_check(&mut self) -> Result<(), ()> {
        let Some(newest) = self.chain.sets.keys().next_back().copied() else {
            return Err(());
        };
        let mut inst = newest as i64;
        let mut ams_fail_found = false;
        let mut newest_ams: Option<Result<(), String>> = None;
        for set in self.chain.sets.values().rev() {
            let why = if set.instance as i64 != inst {
                Some(format!("i={} (sequence; expected {inst})", set.instance))
            } else if set.aar.is_none() || set.ams.is_none() || set.seal.is_none() {
                Some(format!("i={} (missing header)", set.instance))
            } else if set.seal.as_ref().is_some_and(|s| s.cv_is("fail")) {
                Some(format!("i={} (cv)", set.instance))
            } else {
                None
            };
            if let Some(why) = why {
                self.reason = Some(why);
                return Err(());
            }
            if !ams_fail_found {
                let r = self.ams_verify(set);
                if set.instance == newest {
                    newest_ams = Some(r.clone());
                }
                match r {
                    Ok(()) => self.oldest_pass = inst as u32,
                    Err(_) => ams_fail_found = true,
                }
            }
            self.reason = None;
            inst -= 1;
        }
        if inst != 0 {
            self.reason = Some(format!("(sequence; expected i={inst})"));
            return Err(());
        }
        let selector = self.chain.sets[&newest]
            .ams
            .as_ref()
            .map(|a| text(&a.s))
            .unwrap_or_default();
        self.received = Some((newest, selector));
        match newest_ams {
            Some(Err(why)) => {
                self.reason = Some(why);
                Err(())
            }
            _ => Ok(()),
        }
    }

    /// Exim's `arc_verify_seals`: each ARC-Seal from the newest down.
    fn seals(&mut self) -> Result<(), ()> {
        for set in self.chain.sets.values().rev() {
            if let Err(why) = self.seal_verify(set) {
                self.reason = why;
                return Err(());
            }
        }
        Ok(())
    }

    /// One ARC-Seal over the ARC lines of its own and earlier sets (relaxed), its own
    /// `b=` empty. `Err(None)`: a failure Exim gives no reason for.
    fn seal_verify(&self, set: &ArcSet) -> Result<(), Option<String>> {
        let Some(seal) = &set.seal else {
            return Err(None);
        };
        let none = seal.cv_is("none");
        if (set.instance == 1 && !none) || (none && set.instance != 1) {
            return Err(Some("seal cv state".into()));
        }
        let Some(hash) = hash_of(&seal.a_hash) else {
            return Err(Some("seal hash setup error".into()));
        };
        let mut lines: Vec<(&[u8], &[u8])> = Vec::new();
        for s2 in self.chain.sets.range(..=set.instance).map(|(_, s)| s) {
            let (Some(aar), Some(ams), Some(as2)) = (&s2.aar, &s2.ams, &s2.seal) else {
                return Err(None);
            };
            lines.push(split(&aar.complete));
            lines.push(split(&ams.complete));
            if s2.instance == set.instance {
                lines.push(split(unsigned(as2)));
            } else {
                lines.push(split(&as2.complete));
            }
        }
        let key = self.pubkey(seal).ok_or(None)?;
        let sig = b64(seal.b.as_deref().unwrap_or_default());
        key.p
            .verify(
                &mut lines.into_iter(),
                &sig,
                Canonicalization::Relaxed,
                algorithm(seal, hash),
            )
            .map_err(|_| Some("seal sigverify error".into()))
    }
}
