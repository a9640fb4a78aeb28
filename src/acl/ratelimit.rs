//! `ratelimit = LIMIT / PERIOD / options / key`: Exim's exponentially smoothed sender
//! rate, kept in the `ratelimit` hints database (see [`crate::acl::hints`]).

use std::collections::HashMap;

use md5::{Digest, Md5};

use crate::acl::engine::{AclRun, Rc};
use crate::acl::model::Item;
use crate::acl::phase::Phase;
use crate::acl::state::MessageState;
use crate::expand::operators::time::read_time;

/// What one event counts as (Exim's `per_*` options; `per_byte` counts as `per_mail`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    What,
    Clash,
    Cmd,
    Conn,
    Mail,
    Rcpt,
    AllRcpts,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::What => "?",
            Mode::Clash => "!",
            Mode::Cmd => "per_cmd",
            Mode::Conn => "per_conn",
            Mode::Mail => "per_mail",
            Mode::Rcpt | Mode::AllRcpts => "per_rcpt",
        }
    }

    fn set(&mut self, new: Mode) {
        *self = if *self == Mode::What {
            new
        } else {
            Mode::Clash
        };
    }
}

/// The stored record: time of the last update, smoothed rate, optional Bloom filter.
#[derive(Debug, Clone, Default)]
struct Record {
    sec: i64,
    usec: u32,
    rate: f64,
    bloom_epoch: i64,
    bloom: Vec<u8>,
}

impl Record {
    fn decode(b: &[u8]) -> Option<Record> {
        let sec = i64::from_le_bytes(b.get(0..8)?.try_into().ok()?);
        let usec = u32::from_le_bytes(b.get(8..12)?.try_into().ok()?);
        let rate = f64::from_le_bytes(b.get(12..20)?.try_into().ok()?);
        let (bloom_epoch, bloom) = match b.get(20..28) {
            Some(e) => (i64::from_le_bytes(e.try_into().ok()?), b[28..].to_vec()),
            None => (0, Vec::new()),
        };
        Some(Record {
            sec,
            usec,
            rate,
            bloom_epoch,
            bloom,
        })
    }

    fn encode(&self, unique: bool) -> Vec<u8> {
        let mut v = Vec::with_capacity(28 + self.bloom.len());
        v.extend_from_slice(&self.sec.to_le_bytes());
        v.extend_from_slice(&self.usec.to_le_bytes());
        v.extend_from_slice(&self.rate.to_le_bytes());
        if unique {
            v.extend_from_slice(&self.bloom_epoch.to_le_bytes());
            v.extend_from_slice(&self.bloom);
        }
        v
    }
}

/// Smallest Bloom filter (Exim's fixed part) and the cap rexim puts on its size.
const BLOOM_MIN: usize = 40;
const BLOOM_MAX: usize = 1 << 20;

fn error(run: &mut AclRun, msg: String) -> Rc {
    run.log_msg = Some(format!(
        "error in arguments to \"ratelimit\" condition: {msg}"
    ));
    Rc::Error
}

/// `strtod` with Exim's k/m/g multipliers; `None` unless the whole text is used.
fn number(s: &str, suffixes: bool) -> Option<f64> {
    let (digits, mult) = match s.as_bytes().last().map(u8::to_ascii_lowercase) {
        Some(b'k') if suffixes => (&s[..s.len() - 1], 1024.0),
        Some(b'm') if suffixes => (&s[..s.len() - 1], 1024.0 * 1024.0),
        Some(b'g') if suffixes => (&s[..s.len() - 1], 1024.0 * 1024.0 * 1024.0),
        _ => (s, 1.0),
    };
    let n: f64 = digits.trim_start().parse().ok()?;
    (!n.is_nan() && n >= 0.0).then_some(n * mult)
}

fn var(run: &AclRun, name: &str) -> String {
    run.ctx
        .get(name)
        .map(|v| v.as_str_lossy().into_owned())
        .unwrap_or_default()
}

/// Record `unique` in the Bloom filter; true if it was (probably) seen before.
fn bloom_seen(bloom: &mut [u8], unique: &str) -> bool {
    let sum = Md5::digest(unique.as_bytes());
    let mut hash = u32::from_le_bytes([sum[0], sum[1], sum[2], sum[3]]);
    let inc = u32::from_le_bytes([sum[4], sum[5], sum[6], sum[7]]);
    let mut seen = true;
    if bloom.is_empty() {
        return false;
    }
    for _ in 0..8 {
        let bit = 1u8 << (hash % 8);
        let byte = (hash / 8) as usize % bloom.len();
        if bloom[byte] & bit == 0 {
            bloom[byte] |= bit;
            seen = false;
        }
        hash = hash.wrapping_add(inc);
    }
    seen
}

/// The table of rates already computed that this evaluation belongs to.
fn cache(state: &mut MessageState, readonly: bool, mode: Mode) -> &mut HashMap<String, f64> {
    if readonly {
        return &mut state.ratelimit_cmd;
    }
    match mode {
        Mode::Conn => &mut state.ratelimit_conn,
        Mode::Mail | Mode::AllRcpts => &mut state.ratelimit_mail,
        _ => &mut state.ratelimit_cmd,
    }
}

/// `ratelimit = 100 / 1h / per_rcpt / strict / $sender_address`: true when the
/// client's smoothed rate is at or over the limit; sets `$sender_rate`,
/// `$sender_rate_limit` and `$sender_rate_period`.
pub fn ratelimit(run: &mut AclRun, _: &Item, arg: &[u8]) -> Rc {
    let text = String::from_utf8_lossy(arg).into_owned();
    let mut parts = text.split('/').map(str::trim);
    let limit_s = parts.next().unwrap_or("").to_string();
    run.ctx.set("sender_rate_limit", limit_s.as_str());
    let Some(limit) = number(&limit_s, true) else {
        return error(run, format!("\"{limit_s}\" is not a positive number"));
    };
    let period_s = parts.next().map(str::to_string);
    if let Some(p) = &period_s {
        run.ctx.set("sender_rate_period", p.as_str());
    }
    let period = period_s
        .as_deref()
        .and_then(|p| read_time(p.as_bytes()))
        .filter(|p| *p > 0);
    let Some(period) = period.map(f64::from) else {
        let shown = period_s.as_deref().unwrap_or("NULL");
        return error(run, format!("\"{shown}\" is not a time value"));
    };
    let period_s = period_s.unwrap_or_default();
    let phase = run.phase;
    let ph = phase as u8;
    let after_notsmtp = ph > Phase::NotSmtp as u8;
    let (mut leaky, mut strict, mut readonly, mut noupdate, mut badacl) =
        (false, false, false, false, false);
    let mut mode = Mode::What;
    let mut count = 1.0;
    let mut key: Option<String> = None;
    let mut unique: Option<String> = None;
    for opt in parts.filter(|s| !s.is_empty()) {
        let lc = opt.to_ascii_lowercase();
        match lc.as_str() {
            "leaky" => leaky = true,
            "strict" => strict = true,
            "noupdate" => noupdate = true,
            "readonly" => readonly = true,
            "per_cmd" => mode.set(Mode::Cmd),
            "per_conn" => {
                mode.set(Mode::Conn);
                badacl |= matches!(phase, Phase::NotSmtp | Phase::NotSmtpStart);
            }
            "per_mail" => {
                mode.set(Mode::Mail);
                badacl |= after_notsmtp;
            }
            "per_rcpt" => {
                if phase == Phase::Rcpt {
                    mode.set(Mode::Rcpt);
                } else if (Phase::Predata as u8..=Phase::NotSmtp as u8).contains(&ph) {
                    mode.set(Mode::AllRcpts);
                    count = var(run, "recipients_count").parse().unwrap_or(0.0);
                } else if phase == Phase::Mail || after_notsmtp {
                    mode.set(Mode::Rcpt);
                    badacl = true;
                }
            }
            "per_byte" => {
                mode.set(Mode::Mail);
                if after_notsmtp {
                    badacl = true;
                } else {
                    count = var(run, "message_size")
                        .parse::<f64>()
                        .unwrap_or(-1.0)
                        .max(0.0);
                }
            }
            "per_addr" => {
                mode.set(Mode::Rcpt);
                if phase != Phase::Rcpt {
                    badacl = true;
                    unique = Some("*".into());
                } else {
                    unique = Some(format!("{}@{}", var(run, "local_part"), var(run, "domain")));
                }
            }
            _ if lc.starts_with("count=") => match number(&opt[6..], false) {
                Some(c) => count = c,
                None => return error(run, format!("\"{opt}\" is not a positive number")),
            },
            _ if lc.starts_with("unique=") => unique = Some(opt[7..].to_string()),
            _ => {
                key = Some(match key {
                    None => opt.to_string(),
                    Some(k) => format!("{k}/{opt}"),
                })
            }
        }
    }
    if mode == Mode::Clash {
        return error(run, "conflicting per_* options".into());
    }
    if u8::from(leaky) + u8::from(strict) + u8::from(readonly) > 1 {
        return error(run, "conflicting update modes".into());
    }
    if badacl && (leaky || strict) && !noupdate {
        return error(
            run,
            format!(
                "\"{}\" must not have /leaky or /strict option, or cannot be used in {} ACL",
                mode.name(),
                phase.name()
            ),
        );
    }
    if noupdate {
        readonly = true;
        leaky = false;
        strict = false;
    }
    readonly |= badacl;
    if readonly {
        count = 0.0;
    }
    if !strict && !readonly {
        leaky = true;
    }
    if mode == Mode::What {
        mode = Mode::Mail;
    }
    let key = key.unwrap_or_else(|| var(run, "sender_host_address"));
    let key = format!(
        "{period_s}/{}/{}{key}",
        mode.name(),
        if unique.is_some() { "unique/" } else { "" }
    );

    run.ctx
        .trace(|| format!("ratelimit condition count={count:.0} {limit:.1}/{key}"));
    // Already computed for this command / message / connection?
    if let Some(&rate) = cache(run.state, readonly, mode).get(&key) {
        run.ctx.set("sender_rate", format!("{rate:.1}"));
        run.ctx
            .trace(|| format!("ratelimit found pre-computed rate {rate:.1}"));
        return if rate < limit { Rc::Fail } else { Rc::Ok };
    }

    let db = match run.acls.env.hints_dir.clone() {
        Some(dir) => crate::acl::hints::open(&dir, "ratelimit"),
        None => Err("no hints directory".into()),
    };
    let db = match db {
        Ok(db) => db,
        Err(_) => {
            run.ctx.unset("sender_rate");
            run.ctx.trace(|| "ratelimit database not available".into());
            run.log_msg = Some("ratelimit database not available".into());
            return Rc::Defer;
        }
    };
    let db_key = if key.len() > 400 {
        let sum = Md5::digest(key.as_bytes());
        let hex: String = sum.iter().map(|b| format!("{b:02x}")).collect();
        let mut cut = 300;
        while !key.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}...{hex}", &key[..cut])
    } else {
        key.clone()
    };
    let old = match db.read(db_key.as_bytes()) {
        Ok(v) => v.as_deref().and_then(Record::decode),
        Err(_) => {
            run.log_msg = Some("ratelimit database not available".into());
            return Rc::Defer;
        }
    };
    let (sec, usec) = run.ctx.clock.now();
    let bloom_len = ((limit * 2.0) as usize).clamp(BLOOM_MIN, BLOOM_MAX);
    let mut rec = old.clone().unwrap_or_default();
    // The -bh trace follows Exim's steps: key found, Bloom filter kept or not, ...
    let mut have_block = old.is_some();
    if let Some(o) = &old {
        run.ctx.trace(|| "ratelimit found key in database".into());
        if unique.is_some() && (sec as f64) > o.bloom_epoch as f64 + period {
            run.ctx
                .trace(|| "ratelimit discarding old Bloom filter".into());
            have_block = false;
        }
        if unique.is_some() && o.bloom.is_empty() {
            run.ctx
                .trace(|| "ratelimit discarding undersize Bloom filter".into());
            have_block = false;
        }
    }
    if !have_block {
        run.ctx.trace(|| {
            if unique.is_some() {
                "ratelimit creating new Bloom filter".into()
            } else {
                "ratelimit creating new rate data block".into()
            }
        });
    }
    if let Some(u) = &unique {
        if !have_block {
            rec.bloom_epoch = sec;
            rec.bloom = vec![0; bloom_len];
        }
        if !readonly {
            run.ctx
                .trace(|| format!("ratelimit checking uniqueness of {u}"));
            if bloom_seen(&mut rec.bloom, u) {
                count = 0.0;
                run.ctx
                    .trace(|| "ratelimit event found in Bloom filter".into());
            } else {
                run.ctx
                    .trace(|| "ratelimit event added to Bloom filter".into());
            }
        }
    }
    match &old {
        None => {
            run.ctx
                .trace(|| "ratelimit initializing new key's rate data".into());
            rec.rate = count
        }
        Some(o) => {
            let now = sec as f64 + f64::from(usec) / 1e6;
            let prev = o.sec as f64 + f64::from(o.usec) / 1e6;
            let interval = if now - prev <= 0.0 { 1e-9 } else { now - prev };
            let i_over_p = interval / period;
            let a = (-i_over_p).exp();
            rec.rate = (1.0 - a) * count / i_over_p + a * o.rate;
            if rec.rate < count {
                rec.rate = count;
            }
        }
    }
    rec.sec = sec;
    rec.usec = usec;
    let rc = if rec.rate < limit { Rc::Fail } else { Rc::Ok };
    if (rc == Rc::Fail && leaky) || strict {
        if let Err(e) = db.write(db_key.as_bytes(), &rec.encode(unique.is_some())) {
            run.flush_trace_then_panic(format!("ratelimit database write failed: {e}"));
        }
        run.ctx.trace(|| "ratelimit db updated".into());
    } else {
        let why = if readonly {
            "readonly mode"
        } else {
            "over the limit, but leaky"
        };
        run.ctx.trace(|| format!("ratelimit db not updated: {why}"));
    }
    cache(run.state, readonly, mode).insert(key, rec.rate);
    let rate = format!("{:.1}", rec.rate);
    run.ctx.trace(|| format!("ratelimit computed rate {rate}"));
    run.ctx.set("sender_rate", rate);
    rc
}
