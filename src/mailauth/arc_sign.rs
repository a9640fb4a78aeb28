//! ARC signing as Exim 4.96's smtp transport does it for `arc_sign =
//! <admd>:<selector>:<privkey>[:<options>]`: a new ARC set (ARC-Seal,
//! ARC-Authentication-Results, ARC-Message-Signature, in that order) built from the
//! first `Authentication-Results:` header of the ADMD, signed with mail-auth's RSA key
//! (rsa-sha256, relaxed). The transport that calls it does not exist in rexim yet.

use base64::Engine;
use mail_auth::common::crypto::{HashAlgorithm, RsaKey, Sha256, SigningKey};
use mail_auth::dkim::Canonicalization;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivateKeyDer;

use crate::mailauth::arc::{collect, crlf};
use crate::mailauth::arc_verify::ArcMessage;

/// Exim's default `expire` offset: thirty days.
const DEFAULT_EXPIRE: i64 = 60 * 60 * 24 * 30;

/// The headers an AMS signs (Exim: `DKIM-Signature:` plus pdkim's default list).
const SIGN_HEADERS: &[&str] = &[
    "DKIM-Signature",
    "From",
    "Sender",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "To",
    "Cc",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Content-ID",
    "Content-Description",
    "Resent-Date",
    "Resent-From",
    "Resent-Sender",
    "Resent-To",
    "Resent-Cc",
    "Resent-Message-ID",
    "In-Reply-To",
    "References",
    "List-Id",
    "List-Help",
    "List-Unsubscribe",
    "List-Subscribe",
    "List-Post",
    "List-Owner",
    "List-Archive",
];

/// A parsed `arc_sign` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignSpec {
    pub identity: String,
    pub selector: String,
    /// PEM text (a value starting with `/` is read from that file).
    pub privkey: String,
    /// `t=` on the AMS and AS.
    pub timestamp: Option<i64>,
    /// `x=` on the AMS.
    pub expire: Option<i64>,
}

/// Exim's check on an ADMD id or selector: letters, digits, `-` and `.`.
fn valid_id(s: &str) -> bool {
    s.bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
}

/// Exim's `atoi`/`atol`: leading digits (after an optional sign), else 0.
fn leading_number(s: &str) -> i64 {
    let t = s.trim_start();
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let digits: String = t.chars().take_while(char::is_ascii_digit).collect();
    let n: i64 = digits.parse().unwrap_or(0);
    if neg {
        -n
    } else {
        n
    }
}

/// Parse an expanded `arc_sign` value as Exim does (a colon list; `Err` is the word
/// Exim logs in `ARC: bad signing-specification (<word>)`). `now` is the time used for
/// `timestamps` and relative `expire`.
pub fn parse_spec(value: &str, now: i64) -> Result<SignSpec, &'static str> {
    let items: Vec<String> = crate::expand::lists::iter(value.as_bytes())
        .map(|i| String::from_utf8_lossy(&i).into_owned())
        .collect();
    let get = |n: usize| items.get(n).cloned().unwrap_or_default();
    let (identity, selector, privkey) = (get(0), get(1), get(2));
    if identity.is_empty() {
        return Err("identity");
    }
    if selector.is_empty() {
        return Err("selector");
    }
    if privkey.is_empty() {
        return Err("privkey");
    }
    if !valid_id(&identity) {
        return Err("identity");
    }
    if !valid_id(&selector) {
        return Err("selector");
    }
    let mut spec = SignSpec {
        identity,
        selector,
        privkey,
        timestamp: None,
        expire: None,
    };
    for opt in get(3).split(',').map(str::trim).filter(|o| !o.is_empty()) {
        if opt == "timestamps" {
            spec.timestamp = Some(now);
        } else if let Some(rest) = opt.strip_prefix("expire") {
            spec.expire = Some(match rest.strip_prefix('=') {
                Some(v) => match v.strip_prefix('+') {
                    Some(delta) => match leading_number(delta) {
                        0 => now + DEFAULT_EXPIRE,
                        d => now + d,
                    },
                    None => leading_number(v),
                },
                None => now + DEFAULT_EXPIRE,
            });
        }
    }
    Ok(spec)
}

fn signing_key(privkey: &str) -> Result<RsaKey<Sha256>, String> {
    let pem = if privkey.starts_with('/') {
        std::fs::read_to_string(privkey)
            .map_err(|e| format!("ARC: unable to read private key {privkey}: {e}"))?
    } else {
        privkey.to_string()
    };
    let der = PrivateKeyDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| format!("ARC: signing: private key not usable: {e}"))?;
    RsaKey::<Sha256>::from_key_der(der).map_err(|e| format!("ARC: signing: {e}"))
}

/// The A-R text after `<identity>[;]` of the first `Authentication-Results:` header
/// (name compared case-sensitively, as Exim) for this ADMD, line end included.
fn find_ar<'h>(headers: &'h [Vec<u8>], identity: &str) -> Option<&'h [u8]> {
    let fws = |c: &u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    headers.iter().find_map(|h| {
        let rest = h.strip_prefix(b"Authentication-Results:".as_slice())?;
        let start = rest.iter().position(|c| !fws(c)).unwrap_or(rest.len());
        let rest = rest[start..].strip_prefix(identity.as_bytes())?;
        if rest.is_empty() {
            return None;
        }
        let rest = rest.strip_prefix(b";".as_slice()).unwrap_or(rest);
        let start = rest.iter().position(|c| !fws(c)).unwrap_or(rest.len());
        let rest = &rest[start..];
        (!rest.is_empty()).then_some(rest)
    })
}

/// The `arc=` result in the A-R text, else `none` (the new seal's `cv=`).
fn cv_status(ar: &[u8]) -> String {
    let text = String::from_utf8_lossy(ar);
    for method in text.split(';') {
        if let Some(v) = method.trim_start().strip_prefix("arc=") {
            return v
                .chars()
                .take_while(|c| !matches!(c, ';' | ' ' | '\r' | '\n'))
                .collect();
        }
    }
    "none".into()
}

fn relaxed(line: &[u8], with_crlf: bool) -> Vec<u8> {
    let (name, value) = match line.iter().position(|&c| c == b':') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, &[][..]),
    };
    let mut value = value;
    if !with_crlf {
        while let Some(r) = value
            .strip_suffix(b"\n")
            .or_else(|| value.strip_suffix(b"\r"))
        {
            value = r;
        }
    }
    let mut out = Vec::new();
    Canonicalization::Relaxed.canonicalize_headers([(name, value)].into_iter(), &mut out);
    out
}

/// A signature in base64, 74 characters a line, then `;` and CRLF.
fn append_sig(g: &mut Vec<u8>, sig: &[u8]) {
    let b = base64::engine::general_purpose::STANDARD.encode(sig);
    let chunks: Vec<&[u8]> = b.as_bytes().chunks(74).collect();
    g.extend_from_slice(&chunks.join(&b"\r\n\t  "[..]));
    g.extend_from_slice(b";\r\n");
}

/// Build the ARC set Exim's transport would prepend: `Ok` is the header text (CRLF line
/// ends, ARC-Seal first); `Err` says why the message goes without one (for a missing
/// A-R header or a key that does not sign, the line Exim logs; an existing chain with
/// a set lacking a header, which Exim only traces).
pub fn sign(spec: &SignSpec, msg: &ArcMessage) -> Result<Vec<u8>, String> {
    let headers: Vec<Vec<u8>> = msg.headers.iter().map(|h| crlf(h)).collect();
    let Some(ar) = find_ar(&headers, &spec.identity) else {
        return Err("ARC: no Authentication-Results header for signing".into());
    };
    let key = signing_key(&spec.privkey)?;
    // The existing chain, each line on its own: a line Exim cannot read is skipped.
    let mut chain = crate::mailauth::arc::Chain::default();
    for h in &headers {
        let (c, _) = collect(vec![h.clone()]);
        for (i, set) in c.sets {
            let into = chain.sets.entry(i).or_insert_with(|| set.clone());
            into.aar = into.aar.take().or(set.aar);
            into.ams = into.ams.take().or(set.ams);
            into.seal = into.seal.take().or(set.seal);
        }
    }
    let instance = chain.sets.keys().next_back().map_or(1, |i| i + 1);
    let (id, sel) = (&spec.identity, &spec.selector);

    let mut aar = format!("ARC-Authentication-Results: i={instance}; {id};\r\n\t").into_bytes();
    aar.extend_from_slice(ar);

    let body = crlf(msg.body);
    // `c=relaxed` names the header canonicalisation; the body's is then `simple`.
    let bh = HashAlgorithm::Sha256.hash(Canonicalization::Simple.canonical_body(&body, 0));
    let b64 = |v: &[u8]| base64::engine::general_purpose::STANDARD.encode(v);
    let mut ams =
        format!("ARC-Message-Signature: i={instance}; a=rsa-sha256; c=relaxed; d={id}; s={sel}");
    if let Some(t) = spec.timestamp {
        ams += &format!("; t={t}");
    }
    if let Some(x) = spec.expire {
        ams += &format!("; x={x}");
    }
    ams += &format!(";\r\n\tbh={};\r\n\th=", b64(bh.as_ref()));
    let mut hdata = Vec::new();
    let mut col = 3;
    for h in headers.iter().rev() {
        let Some(name) = SIGN_HEADERS
            .iter()
            .find(|n| h.len() >= n.len() && h[..n.len()].eq_ignore_ascii_case(n.as_bytes()))
        else {
            continue;
        };
        if col + name.len() > 78 {
            ams += "\r\n\t  ";
            col = 3;
        }
        ams += name;
        ams.push(':');
        col += name.len() + 1;
        hdata.extend(relaxed(h, true));
    }
    if ams.ends_with(':') {
        ams.pop();
    }
    ams += ";\r\n\tb=;";
    hdata.extend(relaxed(ams.as_bytes(), false));
    let sig = key
        .sign(hdata.as_slice())
        .map_err(|e| format!("ARC: AMS signing: {e}"))?;
    let mut ams = ams.into_bytes();
    ams.pop();
    append_sig(&mut ams, &sig);

    let status = cv_status(ar);
    let mut seal = format!("ARC-Seal: i={instance}; cv={status}; a=rsa-sha256; d={id}; s={sel}");
    if let Some(t) = spec.timestamp {
        seal += &format!("; t={t}");
    }
    seal += ";\r\n\t b=;";
    let mut sdata = Vec::new();
    if status != "fail" {
        for set in chain.sets.values() {
            for line in [&set.aar, &set.ams, &set.seal] {
                let Some(l) = line else {
                    return Err("ARC: while building AS, missing header in chain".into());
                };
                sdata.extend(relaxed(&l.complete, true));
            }
        }
    }
    sdata.extend(relaxed(&aar, true));
    sdata.extend(relaxed(&ams, true));
    sdata.extend(relaxed(seal.as_bytes(), false));
    let sig = key
        .sign(sdata.as_slice())
        .map_err(|e| format!("ARC: AS signing: {e}"))?;
    let mut out = seal.into_bytes();
    out.pop();
    append_sig(&mut out, &sig);
    out.extend_from_slice(&aar);
    out.extend_from_slice(&ams);
    Ok(out)
}
