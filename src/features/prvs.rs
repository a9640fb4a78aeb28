//! BATV signed return paths: `${prvs}` makes `prvs=KDDDHHHHHH=local@domain`, `${prvscheck}`
//! verifies one and sets `$prvscheck_address`, `$prvscheck_keynum` and `$prvscheck_result`.
//!
//! K is the key number, DDD the last three digits of the expiry day (days since the epoch,
//! seven days ahead), HHHHHH the first three bytes of HMAC-SHA1(secret, K DDD address).

use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::error::{ExpResult, ExpandError};
use crate::expand::ast::ItemNode;
use crate::expand::eval::Eval;
use crate::expand::value::Val;
use crate::features::c_str;

/// How long a signature stays valid, in days.
const VALIDITY_DAYS: i64 = 7;

/// A signed address (matched case-insensitively, as Exim does).
const PRVS_PATTERN: &[u8] = br"^prvs\=([0-9])([0-9]{3})([A-F0-9]{6})\=(.+)\@(.+)$";

/// Longest secret HMAC is computed with (Exim refuses longer ones).
const MAX_SECRET: usize = 64;

/// The last three digits of the day number `offset` days from now ("100" if shorter).
fn daystamp(ev: &Eval, offset: i64) -> [u8; 3] {
    let days = ev.ctx.now().saturating_add(offset.saturating_mul(86400)) / 86400;
    let text = days.to_string();
    let b = text.as_bytes();
    match b.len().checked_sub(3) {
        Some(start) => [b[start], b[start + 1], b[start + 2]],
        None => *b"100",
    }
}

/// The six lowercase hex digits of the signature; `None` when the secret is too long.
fn signature(address: &[u8], secret: &[u8], keynum: u8, stamp: &[u8; 3]) -> Option<[u8; 6]> {
    let secret = c_str(secret);
    if secret.len() > MAX_SECRET {
        return None;
    }
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).ok()?;
    mac.update(&[keynum]);
    mac.update(stamp);
    mac.update(c_str(address));
    let digest = mac.finalize().into_bytes();
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 6];
    for (i, byte) in digest.iter().take(3).enumerate() {
        out[2 * i] = HEX[(byte >> 4) as usize];
        out[2 * i + 1] = HEX[(byte & 15) as usize];
    }
    Some(out)
}

/// `${prvs{user@example.com}{secret}}` gives `prvs=0787788259=user@example.com` on
/// 2026-11-23; a third argument `{3}` selects key number 3 (a single digit).
pub fn prvs(ev: &mut Eval, node: &ItemNode, out: &mut Val) -> ExpResult<()> {
    let address = ev.seq(&node.args[0])?;
    let secret = ev.seq(&node.args[1])?;
    let keynum = match node.args.get(2) {
        Some(seq) => Some(ev.seq(seq)?),
        None => None,
    };
    let addr = c_str(&address.bytes);
    let at = match addr.iter().rposition(|&c| c == b'@') {
        Some(i) if i > 0 && i + 1 < addr.len() => i,
        _ => {
            return Err(ExpandError::hard(
                "prvs first argument must be a qualified email address",
            ))
        }
    };
    let key = match &keynum {
        None => b'0',
        Some(k) => match c_str(&k.bytes) {
            [d] if d.is_ascii_digit() => *d,
            _ => {
                return Err(ExpandError::hard(
                    "prvs third argument must be a single digit",
                ))
            }
        },
    };
    let stamp = daystamp(ev, VALIDITY_DAYS);
    let sig = signature(addr, &secret.bytes, key, &stamp)
        .ok_or_else(|| ExpandError::hard("prvs hmac-sha1 conversion failed"))?;
    let mut result = address.derive(b"prvs=".to_vec());
    result.tainted |= keynum.as_ref().is_some_and(|k| k.tainted);
    result.bytes.push(key);
    result.bytes.extend_from_slice(&stamp);
    result.bytes.extend_from_slice(&sig);
    result.bytes.push(b'=');
    result.bytes.extend_from_slice(&addr[..at]);
    result.bytes.push(b'@');
    result.bytes.extend_from_slice(&addr[at + 1..]);
    out.push(&result);
    Ok(())
}

fn not_enough() -> ExpandError {
    ExpandError::hard("Not enough arguments for 'prvscheck' (min is 1)")
}

fn too_many(max: u8) -> ExpandError {
    ExpandError::hard(format!("Too many arguments for 'prvscheck' (max is {max})"))
}

/// `${prvscheck{prvs=0787788259=user@example.com}{secret}}` gives `user@example.com`
/// (and `$prvscheck_result` is `1` while the signature is valid and unexpired); the
/// secret may use `$prvscheck_keynum`; a third argument, when non-empty, replaces the
/// result and may use `$prvscheck_result`. An address not in prvs form gives `""`.
/// The regex captures stay visible as `$1`..`$5` afterwards, as in Exim.
pub fn prvscheck(ev: &mut Eval, node: &ItemNode, out: &mut Val) -> ExpResult<()> {
    for name in ["prvscheck_result", "prvscheck_address", "prvscheck_keynum"] {
        ev.ctx.unset(name);
    }
    let args = &node.args;
    let Some(first) = args.first() else {
        return Err(not_enough());
    };
    let subject = ev.seq(first)?;
    let re = ev.regex(PRVS_PATTERN, true)?;
    let caps = re
        .captures(c_str(&subject.bytes))
        .map_err(|e| ExpandError::hard(format!("prvscheck: regex match failed: {e}")))?;
    let Some(caps) = caps else {
        // Not a signed address: expand the rest (so errors show) and give "".
        let rest = args.get(1..).unwrap_or_default();
        if rest.is_empty() {
            return Err(not_enough());
        }
        for seq in rest.iter().take(2) {
            ev.seq(seq)?;
        }
        if rest.len() > 2 {
            return Err(too_many(2));
        }
        return Ok(());
    };
    let group = |i: usize| {
        caps.get(i)
            .map(|m| m.as_bytes().to_vec())
            .unwrap_or_default()
    };
    ev.captures = (0..=5).map(|i| subject.derive(group(i))).collect();
    let keynum = group(1);
    let stamp = group(2);
    let hash = group(3);
    let mut address = group(4);
    address.push(b'@');
    address.extend_from_slice(&group(5));
    ev.ctx
        .set("prvscheck_address", subject.derive(address.clone()));
    ev.ctx
        .set("prvscheck_keynum", subject.derive(keynum.clone()));

    let Some(secret_seq) = args.get(1) else {
        return Err(not_enough());
    };
    let secret = ev.seq(secret_seq)?;
    let (Some(&key), Ok(stamp)) = (keynum.first(), <[u8; 3]>::try_from(stamp.as_slice())) else {
        return Err(ExpandError::hard("hmac-sha1 conversion failed"));
    };
    let sig = signature(&address, &secret.bytes, key, &stamp)
        .ok_or_else(|| ExpandError::hard("hmac-sha1 conversion failed"))?;
    if sig[..] == hash[..] && !expired(ev, &stamp) {
        ev.ctx.set("prvscheck_result", "1");
    }

    let replacement = match args.get(2) {
        Some(seq) => Some(ev.seq(seq)?),
        None => None,
    };
    if args.len() > 3 {
        return Err(too_many(1));
    }
    match replacement {
        Some(r) if !r.is_empty() => out.push(&r),
        _ => out.push(&subject.derive(address)),
    }
    ev.ctx.unset("prvscheck_address");
    ev.ctx.unset("prvscheck_keynum");
    Ok(())
}

/// Whether a signature's expiry day (three digits) has passed. Near the wrap from 999
/// to 000 a small expiry day counts as "after" a large today, as in Exim.
fn expired(ev: &Eval, stamp: &[u8; 3]) -> bool {
    let num = |b: &[u8]| {
        std::str::from_utf8(b)
            .ok()
            .and_then(|t| t.parse::<u32>().ok())
            .unwrap_or(0)
    };
    let mut today = num(&daystamp(ev, 0));
    let expiry = num(stamp);
    if expiry < 7 && today >= 993 {
        today = 0;
    }
    expiry < today
}
