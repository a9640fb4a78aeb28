//! IP address operators: `mask`, `mask_n`, `ipv6norm`, `ipv6denorm`, `reverse_ip`.

use crate::error::{ExpResult, ExpandError};
use crate::expand::eval::Eval;
use crate::expand::operators::cstr;
use crate::expand::operators::Input;
use crate::listmatch::ip;

/// The IP text rules are shared with list matching (`crate::listmatch::ip`): one syntax check
/// and one binary conversion for every user.
fn ip_kind(s: &[u8], allow_mask: bool) -> (u8, usize) {
    let (kind, mask) = ip::ip_version(s, allow_mask);
    (kind, mask.unwrap_or(0))
}

/// Binary form of a checked address as (words used, four words).
fn aton(s: &[u8]) -> (usize, [u32; 4]) {
    let words = ip::aton(s);
    let mut bin = [0u32; 4];
    for (slot, w) in bin.iter_mut().zip(&words) {
        *slot = *w;
    }
    (words.len(), bin)
}

/// Exim's `ipv6_nmtoa`: compressed IPv6 text (its collapsing rules, quirks included).
pub fn ipv6_text(bin: &[u32; 4]) -> String {
    let mut b: Vec<u8> = Vec::new();
    for w in bin {
        b.extend_from_slice(format!("{:x}:{:x}:", w >> 16, w & 0xffff).as_bytes());
    }
    let full_len = b.len();
    b.extend_from_slice(&[0, 0, 0, 0]);
    let (mut c, mut k, mut d): (usize, i64, usize) = (0, -1, 0);
    let mut i = 0i64;
    while i < 8 {
        if b[c] == b'0' {
            let s = c;
            let j = i;
            while b.get(c + 2) == Some(&b'0') {
                i += 1;
                c += 2;
            }
            if i - j > k {
                k = i - j;
                d = s;
            }
        }
        c += 1;
        while c < full_len && b[c] != b':' {
            c += 1;
        }
        c += 1;
        i += 1;
    }
    b[full_len - 1] = 0;
    if k >= 0 {
        let mut src = d + 2 * (k as usize + 1);
        if d == 0 {
            src -= 1;
        }
        b[d] = b':';
        let tail: Vec<u8> = b[src.min(b.len())..]
            .iter()
            .copied()
            .take_while(|&c| c != 0)
            .collect();
        b.truncate(d + 1);
        b.extend_from_slice(&tail);
    } else {
        b.truncate(full_len - 1);
    }
    String::from_utf8_lossy(&b).into_owned()
}

fn not_ip(s: &[u8]) -> ExpandError {
    ExpandError::hard(format!(
        "\"{}\" is not an IP address",
        String::from_utf8_lossy(s)
    ))
}

/// `${mask:10.1.2.3/8}` gives `10.0.0.0/8`; `${mask_n:2001:db8::1/32}` gives `2001:db8::/32`.
pub fn mask(_: &mut Eval, arg: Option<&str>, v: Input, dst: &mut Vec<u8>) -> ExpResult<bool> {
    let s = cstr(v.bytes);
    let (kind, off) = ip_kind(s, true);
    if kind == 0 {
        return Err(not_ip(s));
    }
    if off == 0 {
        return Err(ExpandError::hard(format!(
            "missing mask value in \"{}\"",
            String::from_utf8_lossy(s)
        )));
    }
    let m = ip::strtol_value(s, off + 1) as i32;
    let limit = if kind == 4 { 32 } else { 128 };
    if m < 0 || m > limit {
        return Err(ExpandError::hard(format!(
            "mask value too big in \"{}\"",
            String::from_utf8_lossy(s)
        )));
    }
    let (count, mut bin) = aton(&s[..off]);
    let mut left = m;
    for w in bin.iter_mut().take(count) {
        if left == 0 {
            *w = 0;
        } else if left < 32 {
            *w &= u32::MAX << (32 - left);
            left = 0;
        } else {
            left -= 32;
        }
    }
    let out = if count == 1 {
        let w = bin[0];
        format!(
            "{}.{}.{}.{}/{m}",
            w >> 24,
            (w >> 16) & 255,
            (w >> 8) & 255,
            w & 255
        )
    } else if arg.is_some_and(|a| a.starts_with('n')) {
        format!("{}/{m}", ipv6_text(&bin))
    } else {
        let groups: Vec<String> = bin
            .iter()
            .flat_map(|w| [format!("{:04x}", w >> 16), format!("{:04x}", w & 0xffff)])
            .collect();
        format!("{}/{m}", groups.join("."))
    };
    Ok(v.emit(dst, out))
}

fn v6_binary(s: &[u8]) -> ExpResult<[u32; 4]> {
    match ip_kind(s, false).0 {
        6 => Ok(aton(s).1),
        4 => Ok([0, 0, 0xffff, aton(s).1[0]]),
        _ => Err(not_ip(s)),
    }
}

/// `${ipv6norm:2001:0db8:0:0::1}` gives `2001:db8::1`; IPv4 becomes `::ffff:` mapped.
pub fn ipv6norm(_: &mut Eval, _: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    let bin = v6_binary(cstr(v.bytes))?;
    Ok(v.emit(out, ipv6_text(&bin)))
}

/// `${ipv6denorm:::1}` gives `0000:0000:0000:0000:0000:0000:0000:0001`.
pub fn ipv6denorm(_: &mut Eval, _: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    let bin = v6_binary(cstr(v.bytes))?;
    let groups: Vec<String> = bin
        .iter()
        .flat_map(|w| [format!("{:04x}", w >> 16), format!("{:04x}", w & 0xffff)])
        .collect();
    Ok(v.emit(out, groups.join(":")))
}

/// `${reverse_ip:192.0.2.1}` gives `1.2.0.192`; IPv6 gives reversed nibbles.
pub fn reverse_ip(_: &mut Eval, _: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    let s = cstr(v.bytes);
    if ip_kind(s, true).0 == 0 {
        return Err(ExpandError::hard(format!(
            "reverse_ip() not given an IP address [{}]",
            String::from_utf8_lossy(s)
        )));
    }
    let a = s.strip_prefix(b"::ffff:").unwrap_or(s);
    let (count, bin) = aton(a);
    let parts: Vec<String> = if count == 1 {
        (0..4)
            .map(|i| ((bin[0] >> (8 * i)) & 255).to_string())
            .collect()
    } else {
        bin.iter()
            .rev()
            .flat_map(|w| (0..8).map(move |i| format!("{:x}", (w >> (4 * i)) & 15)))
            .collect()
    };
    Ok(v.emit(out, parts.join(".")))
}
