//! ARC (the seed feature `EXPERIMENTAL_ARC`): the ARC header lines of a message read
//! as Exim's arc.c reads them — one-letter tags, duplicates refused, sets gathered by
//! `i=` — and the outcome `verify = arc` leaves (`$arc_*`, the `arc=` result part).
//! The chain checks and the signatures are in `arc_verify`, signing in `arc_sign`.

use std::collections::BTreeMap;

/// Exim's limit on an instance number.
const MAX_INSTANCE: u32 = 50;

/// One ARC header line with the tags Exim looks at (values with folding white space
/// around them trimmed; `b=` and `bh=` with all white space removed).
#[derive(Debug, Clone, Default)]
pub struct ArcLine {
    /// The whole header line (name, colon, value, CRLF line ends).
    pub complete: Vec<u8>,
    pub i: Option<Vec<u8>>,
    pub cv: Option<Vec<u8>>,
    pub a: Option<Vec<u8>>,
    pub b: Option<Vec<u8>>,
    pub bh: Option<Vec<u8>>,
    pub d: Option<Vec<u8>>,
    pub h: Option<Vec<u8>>,
    pub s: Option<Vec<u8>>,
    pub c: Option<Vec<u8>>,
    pub l: Option<Vec<u8>>,
    /// `a=` split at its first `-` (`rsa`, `sha256`).
    pub a_algo: Vec<u8>,
    pub a_hash: Vec<u8>,
    /// `c=` split at `/` (the body part defaults to `simple`).
    pub c_head: Vec<u8>,
    pub c_body: Vec<u8>,
    /// The line with the `b=` value taken out, as it is signed.
    pub rawsig_no_b: Vec<u8>,
}

impl ArcLine {
    /// Whether `cv=` matches `word` as Exim compares it: the value is a prefix of the
    /// word (so a missing or empty `cv=` matches anything).
    pub fn cv_is(&self, word: &str) -> bool {
        word.as_bytes()
            .starts_with(self.cv.as_deref().unwrap_or_default())
    }
}

/// The three header lines of one instance.
#[derive(Debug, Clone, Default)]
pub struct ArcSet {
    pub instance: u32,
    pub aar: Option<ArcLine>,
    pub ams: Option<ArcLine>,
    pub seal: Option<ArcLine>,
}

/// The sets of a message by instance, and every header line (CRLF form) in order.
#[derive(Debug, Default)]
pub struct Chain {
    pub sets: BTreeMap<u32, ArcSet>,
    pub headers: Vec<Vec<u8>>,
}

/// What `verify = arc` found for a message (Exim's `arc_state`, `arc_state_reason`,
/// `arc_oldest_pass`, `arc_received`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArcOutcome {
    /// `pass`, `fail` or `none`.
    pub state: &'static str,
    pub reason: Option<String>,
    /// `$arc_domains`.
    pub domains: String,
    /// `$arc_oldest_pass`.
    pub oldest_pass: u32,
    /// The newest instance and its AMS selector, once the chain's shape checked out.
    pub received: Option<(u32, String)>,
}

fn is_fws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r')
}

/// A header line's bytes with a NUL past the end, as the C code walks them.
struct Cursor<'t> {
    text: &'t [u8],
}

impl Cursor<'_> {
    fn at(&self, i: usize) -> u8 {
        self.text.get(i).copied().unwrap_or(0)
    }

    fn skip_fws(&self, mut i: usize) -> usize {
        while is_fws(self.at(i)) {
            i += 1;
        }
        i
    }

    /// The value after the `=` at `*s` up to `;`, trimmed; `*s` is left on the `;`.
    fn value(&self, s: &mut usize) -> Vec<u8> {
        let start = self.skip_fws(*s + 1);
        let mut end = start;
        while self.at(end) != 0 && self.at(end) != b';' {
            end += 1;
        }
        *s = end;
        let mut v = &self.text[start.min(self.text.len())..end.min(self.text.len())];
        while let Some((&last, rest)) = v.split_last() {
            if !is_fws(last) {
                break;
            }
            v = rest;
        }
        v.to_vec()
    }

    /// A `b=`/`bh=` value with every white space character removed.
    fn stripped(&self, s: &mut usize) -> Vec<u8> {
        let mut g = Vec::new();
        loop {
            *s += 1;
            let c = self.at(*s);
            if c == 0 || c == b';' {
                return g;
            }
            if !is_fws(c) {
                g.push(c);
            }
        }
    }
}

fn set_once(slot: &mut Option<Vec<u8>>, v: Vec<u8>, dup: &'static str) -> Result<(), &'static str> {
    if slot.is_some() {
        return Err(dup);
    }
    *slot = Some(v);
    Ok(())
}

/// Parse the tag list after the header name (`off` bytes). With `instance_only` only
/// `i=` is read (Exim's treatment of ARC-Authentication-Results).
pub fn parse_line(text: &[u8], off: usize, instance_only: bool) -> Result<ArcLine, &'static str> {
    let cur = Cursor { text };
    let mut al = ArcLine {
        complete: text.to_vec(),
        ..Default::default()
    };
    let mut raw = text[..off.min(text.len())].to_vec();
    let mut s = off;
    while cur.at(s) != 0 {
        let fieldstart = s;
        let mut bspan: Option<(usize, usize)> = None;
        s = cur.skip_fws(s);
        if cur.at(s) == 0 {
            break;
        }
        let tag = cur.at(s);
        s = cur.skip_fws(s + 1);
        if cur.at(s) == 0 {
            break;
        }
        if !instance_only || tag == b'i' {
            match tag {
                b'a' => {
                    if cur.at(s) != b'=' {
                        return Err("no 'a' value");
                    }
                    let v = cur.value(&mut s);
                    let dash = v.iter().position(|&c| c == b'-');
                    set_once(&mut al.a, v.clone(), "a tag dup")?;
                    let Some(p) = dash else {
                        return Err("no '-' in 'a' value");
                    };
                    al.a_algo = v[..p].to_vec();
                    al.a_hash = v[p + 1..].to_vec();
                }
                b'b' => match cur.at(s) {
                    b'=' => {
                        if al.b.is_some() {
                            return Err("already b data");
                        }
                        let bstart = s + 1;
                        let g = cur.stripped(&mut s);
                        if g.is_empty() {
                            return Err("no b= value");
                        }
                        al.b = Some(g);
                        bspan = Some((bstart, s));
                    }
                    b'h' => {
                        s = cur.skip_fws(s + 1);
                        if cur.at(s) != b'=' {
                            return Err("no bh value");
                        }
                        if al.bh.is_some() {
                            return Err("already bh data");
                        }
                        let g = cur.stripped(&mut s);
                        if g.is_empty() {
                            return Err("no bh= value");
                        }
                        al.bh = Some(g);
                    }
                    _ => return Err("b? tag"),
                },
                b'c' => match cur.at(s) {
                    b'=' => {
                        let v = cur.value(&mut s);
                        let head = v.iter().take_while(|c| c.is_ascii_alphabetic()).count();
                        al.c_head = v[..head].to_vec();
                        al.c_body = match v.get(head) {
                            Some(b'/') => v[head + 1..].to_vec(),
                            _ => b"simple".to_vec(),
                        };
                        set_once(&mut al.c, v, "c tag dup")?;
                    }
                    b'v' => {
                        s += 1;
                        if cur.at(s) != b'=' {
                            return Err("cv tag val");
                        }
                        let v = cur.value(&mut s);
                        set_once(&mut al.cv, v, "cv tag dup")?;
                    }
                    _ => return Err("c? tag"),
                },
                b'd' | b'h' | b'i' | b'l' | b's' => {
                    let (slot, val_err, dup_err) = match tag {
                        b'd' => (&mut al.d, "d tag val", "d tag dup"),
                        b'h' => (&mut al.h, "h tag val", "h tag dup"),
                        b'i' => (&mut al.i, "i tag val", "i tag dup"),
                        b'l' => (&mut al.l, "l tag val", "l tag dup"),
                        _ => (&mut al.s, "s tag val", "s tag dup"),
                    };
                    if cur.at(s) != b'=' {
                        return Err(val_err);
                    }
                    let v = cur.value(&mut s);
                    set_once(slot, v, dup_err)?;
                    if instance_only {
                        return Ok(al);
                    }
                }
                _ => {}
            }
        }
        while cur.at(s) != 0 && cur.at(s) != b';' {
            s += 1;
        }
        if cur.at(s) != 0 {
            s += 1;
        }
        let s_end = s.min(text.len());
        match bspan {
            Some((bstart, bend)) => {
                raw.extend_from_slice(&text[fieldstart..bstart.min(text.len())]);
                raw.extend_from_slice(&text[bend.min(text.len())..s_end]);
            }
            None => raw.extend_from_slice(&text[fieldstart.min(text.len())..s_end]),
        }
    }
    al.rawsig_no_b = raw;
    Ok(al)
}

/// Exim's `atoi` of the `i=` value (0 when there is none or it is not a number).
fn instance(al: &ArcLine) -> u32 {
    let v = al.i.as_deref().unwrap_or_default();
    let digits: Vec<u8> = v.iter().copied().take_while(u8::is_ascii_digit).collect();
    std::str::from_utf8(&digits)
        .ok()
        .and_then(|d| d.parse::<u64>().ok())
        .map_or(0, |n| n.min(u32::MAX as u64) as u32)
}

/// Which ARC header a line is (a case-insensitive prefix, colon included, as Exim).
fn kind(text: &[u8]) -> Option<(usize, &'static str)> {
    [
        ("ARC-Authentication-Results:", "AAR"),
        ("ARC-Message-Signature:", "AMS"),
        ("ARC-Seal:", "AS"),
    ]
    .into_iter()
    .find(|(name, _)| {
        text.len() >= name.len() && text[..name.len()].eq_ignore_ascii_case(name.as_bytes())
    })
    .map(|(name, k)| (name.len(), k))
}

/// Put one line into its set; `Err` is Exim's reason.
fn insert(chain: &mut Chain, text: &[u8], off: usize, k: &'static str) -> Result<(), ()> {
    let mut al = parse_line(text, off, k == "AAR").map_err(|_| ())?;
    let i = instance(&al);
    if i == 0 || i > MAX_INSTANCE {
        return Err(());
    }
    if k == "AMS" && al.c.is_none() {
        al.c_head = b"simple".to_vec();
        al.c_body = b"simple".to_vec();
    }
    let set = chain.sets.entry(i).or_insert_with(|| ArcSet {
        instance: i,
        ..Default::default()
    });
    let slot = match k {
        "AAR" => &mut set.aar,
        "AMS" => &mut set.ams,
        _ => &mut set.seal,
    };
    if slot.is_some() {
        return Err(());
    }
    *slot = Some(al);
    Ok(())
}

/// Gather the ARC sets from the header lines (CRLF form). `Err` is the reason for a
/// `fail` (`collecting headers: inserting AMS`); what was gathered so far is kept.
pub fn collect(headers: Vec<Vec<u8>>) -> (Chain, Result<(), String>) {
    let mut chain = Chain::default();
    let mut result = Ok(());
    for h in &headers {
        if let Some((off, k)) = kind(h) {
            if insert(&mut chain, h, off, k).is_err() {
                result = Err(format!("collecting headers: inserting {k}"));
                break;
            }
        }
    }
    chain.headers = headers;
    (chain, result)
}

/// `$arc_domains`: the ARC-Seal `d=` values in instance order, an empty item for each
/// missing instance, seal or domain (Exim's `fn_arc_domains`).
pub fn domains(chain: &Chain) -> String {
    let mut g = String::new();
    let mut inst = 1;
    for set in chain.sets.values() {
        match &set.seal {
            Some(seal) => {
                while inst < set.instance {
                    g.push(':');
                    inst += 1;
                }
                match seal.d.as_deref().filter(|d| !d.is_empty()) {
                    Some(d) => {
                        if !g.is_empty() {
                            g.push(':');
                        }
                        g.push_str(&String::from_utf8_lossy(d).replace(':', "::"));
                    }
                    None => g.push(':'),
                }
            }
            None => g.push(':'),
        }
        inst += 1;
    }
    g
}

/// Header lines as the DKIM code sees them: LF line ends become CRLF.
pub fn crlf(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + text.len() / 32 + 2);
    let mut prev = 0u8;
    for &c in text {
        if c == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(c);
        prev = c;
    }
    out
}

/// The `arc=` part of `${authresults}` (Exim's `authres_arc`), empty when `verify = arc`
/// did not run for the message.
pub fn authres(outcome: Option<&ArcOutcome>, remote_ip: Option<&str>) -> String {
    let Some(o) = outcome else {
        return String::new();
    };
    let mut g = format!(";\n\tarc={}", o.state);
    match &o.received {
        Some((inst, selector)) => {
            g += &format!(" (i={inst})");
            if let Some(r) = &o.reason {
                g += &format!("({r})");
            }
            g += &format!(" header.s={selector} arc.oldest-pass={}", o.oldest_pass);
            if let Some(ip) = remote_ip.filter(|ip| !ip.is_empty()) {
                g += &format!(" smtp.remote-ip={ip}");
            }
        }
        None => {
            if let Some(r) = &o.reason {
                g += &format!(" ({r})");
            }
        }
    }
    g
}

/// Whether a `log_selector` value leaves the `dkim` selector on (Exim's default), which
/// tags the `<=` line of a message whose ARC chain passed.
pub fn logs_arc(selector: &str) -> bool {
    let mut on = true;
    for (set, name) in crate::smtp::logsel::selector_words(selector) {
        if name == "dkim" || name == "all" {
            on = set;
        }
    }
    on
}
