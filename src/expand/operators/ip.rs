//! IP address operators: `mask`, `mask_n`, `ipv6norm`, `ipv6denorm`, `reverse_ip`.

use crate::error::{ExpResult, ExpandError};
use crate::expand::eval::Eval;
use crate::expand::operators::cstr;
use crate::expand::value::Val;

fn at(s: &[u8], i: usize) -> u8 {
    s.get(i).copied().unwrap_or(0)
}

/// C `strtol(s, &end, base)` on a prefix: (value, bytes used; 0 when no digits).
fn strtol(s: &[u8], base: u32) -> (i64, usize) {
    let mut i = 0;
    while matches!(at(s, i), b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let neg = at(s, i) == b'-';
    if matches!(at(s, i), b'-' | b'+') {
        i += 1;
    }
    let start = i;
    let mut n: i64 = 0;
    while let Some(d) = (at(s, i) as char).to_digit(base) {
        n = n
            .saturating_mul(i64::from(base))
            .saturating_add(i64::from(d));
        i += 1;
    }
    if i == start {
        return (0, 0);
    }
    (if neg { -n } else { n }, i)
}

/// Exim's `string_is_ip_address` (as patched in 4.96.1, which Debian's 4.96 carries):
/// 4, 6 or 0, and the offset of a `/mask` (0 if none) when `allow_mask`.
pub fn ip_kind(s: &[u8], allow_mask: bool) -> (u8, usize) {
    let slash = s.iter().position(|&c| c == b'/');
    let percent = s.iter().position(|&c| c == b'%');
    let mut end = s.len();
    let mut mask = 0;
    if let Some(sl) = slash {
        if !allow_mask {
            return (0, 0);
        }
        let rest = &s[sl + 1..];
        let (m, used) = strtol(rest, 10);
        if used != rest.len() || m < 0 {
            return (0, 0);
        }
        mask = sl;
        end = sl;
    }
    if let Some(pc) = percent {
        if slash.is_some() {
            return (0, mask);
        }
        if !s[pc + 1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || c.is_ascii_punctuation())
        {
            return (0, mask);
        }
        end = pc;
    }
    if end > 255 {
        return (0, mask);
    }
    let Ok(addr) = std::str::from_utf8(&s[..end]) else {
        return (0, mask);
    };
    if addr.contains(':') {
        (
            if addr.parse::<std::net::Ipv6Addr>().is_ok() {
                6
            } else {
                0
            },
            mask,
        )
    } else if percent.is_none() && addr.parse::<std::net::Ipv4Addr>().is_ok() {
        (4, mask)
    } else {
        (0, mask)
    }
}

/// Exim's `host_aton` on a checked address: 1 word for IPv4, 4 for IPv6.
pub fn aton(s: &[u8]) -> (usize, [u32; 4]) {
    let mut bin = [0u32; 4];
    let mut v4 = s;
    let mut v4offset = 0;
    if s.contains(&b':') {
        let mut p = usize::from(at(s, 0) == b':');
        let mut comps: Vec<&[u8]> = Vec::new();
        let mut nulloffset = 0;
        while p < s.len() && s[p] != b'%' && comps.len() < 8 {
            let len = s[p..]
                .iter()
                .position(|&c| c == b':' || c == b'%')
                .unwrap_or(s.len() - p);
            if len == 0 {
                nulloffset = comps.len();
            }
            comps.push(&s[p..p + len]);
            p += len;
            if at(s, p) == b':' {
                p += 1;
            }
        }
        let mut v6count = 8;
        let ipv4_ends = comps.last().is_some_and(|c| c.contains(&b'.'));
        if ipv4_ends {
            v4 = comps.pop().unwrap_or_default();
            v4offset = 3;
            v6count = 6;
        }
        if comps.len() < v6count {
            let insert = v6count - comps.len();
            let at_ = (nulloffset + 1).min(comps.len());
            for _ in 0..insert {
                comps.insert(at_, b"");
            }
        }
        for i in (0..v6count).step_by(2) {
            let hi = strtol(comps.get(i).copied().unwrap_or_default(), 16).0 as u32;
            let lo = strtol(comps.get(i + 1).copied().unwrap_or_default(), 16).0 as u32;
            bin[i / 2] = (hi << 16).wrapping_add(lo);
        }
        if !ipv4_ends {
            return (4, bin);
        }
    }
    let mut x = [0u32; 4];
    let mut i = 0;
    for (n, slot) in x.iter_mut().enumerate() {
        if n > 0 {
            if at(v4, i) != b'.' {
                break;
            }
            i += 1;
        }
        let (v, used) = strtol(&v4[i.min(v4.len())..], 10);
        if used == 0 {
            break;
        }
        *slot = v as u32;
        i += used;
    }
    bin[v4offset] = (x[0] << 24)
        .wrapping_add(x[1] << 16)
        .wrapping_add(x[2] << 8)
        .wrapping_add(x[3]);
    (v4offset + 1, bin)
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
pub fn mask(_: &mut Eval, arg: Option<&str>, v: Val) -> ExpResult<Val> {
    let s = cstr(&v.bytes);
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
    let (m, used) = strtol(&s[off + 1..], 10);
    let m = m as i32;
    let limit = if kind == 4 { 32 } else { 128 };
    if off + 1 + used != s.len() || m < 0 || m > limit {
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
    Ok(v.derive(out))
}

fn v6_binary(s: &[u8]) -> ExpResult<[u32; 4]> {
    match ip_kind(s, false).0 {
        6 => Ok(aton(s).1),
        4 => Ok([0, 0, 0xffff, aton(s).1[0]]),
        _ => Err(not_ip(s)),
    }
}

/// `${ipv6norm:2001:0db8:0:0::1}` gives `2001:db8::1`; IPv4 becomes `::ffff:` mapped.
pub fn ipv6norm(_: &mut Eval, _: Option<&str>, v: Val) -> ExpResult<Val> {
    let bin = v6_binary(cstr(&v.bytes))?;
    Ok(v.derive(ipv6_text(&bin)))
}

/// `${ipv6denorm:::1}` gives `0000:0000:0000:0000:0000:0000:0000:0001`.
pub fn ipv6denorm(_: &mut Eval, _: Option<&str>, v: Val) -> ExpResult<Val> {
    let bin = v6_binary(cstr(&v.bytes))?;
    let groups: Vec<String> = bin
        .iter()
        .flat_map(|w| [format!("{:04x}", w >> 16), format!("{:04x}", w & 0xffff)])
        .collect();
    Ok(v.derive(groups.join(":")))
}

/// `${reverse_ip:192.0.2.1}` gives `1.2.0.192`; IPv6 gives reversed nibbles.
pub fn reverse_ip(_: &mut Eval, _: Option<&str>, v: Val) -> ExpResult<Val> {
    let s = cstr(&v.bytes);
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
    Ok(v.derive(parts.join(".")))
}
