//! `-brt domain-or-address [domain] [error]`: which retry rule applies, printed as Exim does.

use crate::config::options::print_time;
use crate::config::retry::{
    parse_error, RetryError, RetryErrorKind, RetryRule, StepKind, CONNECT_TIMEOUT,
};
use crate::config::retry_match::find_rule;
use crate::config::Config;
use crate::expand::context::Clock;

/// Exim's description of a rule's error (quota, refused and timeout forms; `*` otherwise).
fn error_text(e: &RetryError) -> String {
    match e.kind {
        RetryErrorKind::Quota if e.more > 0 => format!("quota_{}", print_time(e.more.into())),
        RetryErrorKind::Quota => "quota".into(),
        RetryErrorKind::Refused => match e.more {
            m if m == i32::from(b'M') => "refused_MX".into(),
            m if m == i32::from(b'A') => "refused_A".into(),
            m if m > 0 => "refused_".into(),
            _ => "refused".into(),
        },
        RetryErrorKind::Timeout => {
            let mut s = String::from("timeout");
            if e.more & CONNECT_TIMEOUT != 0 {
                s.push_str("_connect");
            }
            match e.more & 255 {
                0 => {}
                m if m == i32::from(b'M') => s.push_str("_MX"),
                _ => s.push_str("_A"),
            }
            s
        }
        RetryErrorKind::AuthFailed => "auth_failed".into(),
        _ => "*".into(),
    }
}

/// `G` steps show their factor (`1.5`); Exim prints `F` and `H` steps without it.
fn steps_text(r: &RetryRule) -> String {
    let mut out = String::new();
    for s in &r.steps {
        let letter = match s.kind {
            StepKind::Fixed => 'F',
            StepKind::Geometric => 'G',
            StepKind::Heuristic => 'H',
        };
        out.push_str(&format!(
            "{letter},{},{}",
            print_time(s.cutoff),
            print_time(s.interval)
        ));
        if s.kind == StepKind::Geometric {
            let (whole, mut frac) = (s.factor_milli / 1000, s.factor_milli % 1000);
            out.push_str(&format!(",{whole}."));
            let mut d = 100;
            loop {
                out.push_str(&(frac / d).to_string());
                frac %= d;
                d /= 10;
                if frac == 0 || d == 0 {
                    break;
                }
            }
        }
        out.push_str("; ");
    }
    out
}

/// Write what Exim would log to its main log on stderr, as Exim does in these test modes.
pub fn print_log(lines: &mut Vec<String>) {
    if lines.is_empty() {
        return;
    }
    let now = crate::expand::context::SystemClock.now().0;
    let ts = crate::expand::computed::tod("log", now, 0).unwrap_or_default();
    for l in lines.drain(..) {
        eprintln!("{ts} {l}");
    }
}

/// Run `-brt` with the arguments after the flag; returns the exit status.
pub fn main(cfg: &Config, args: &[String]) -> i32 {
    let Some(key) = args.first() else {
        println!("-brt needs a domain or address argument");
        return 1;
    };
    if !key.contains('@') && !key.contains('.') {
        println!(
            "Warning: \"{key}\" contains no '@' and no '.' characters. It is being \ntreated as a one-component domain, not as a local part.\n"
        );
    }
    let mut rest = &args[1..];
    let alternate = match rest.first() {
        Some(a) if a.contains('.') => {
            rest = &rest[1..];
            Some(a.as_str())
        }
        _ => None,
    };
    let mut error = RetryError {
        kind: RetryErrorKind::Any,
        more: 0,
    };
    if let Some(word) = rest.first() {
        error = match parse_error(word) {
            Ok(e) => e,
            Err(msg) => {
                println!("{msg}");
                return 1;
            }
        };
        // A wanted-code pattern becomes one real code in its range (Exim: 421, or 4d0).
        if matches!(
            error.kind,
            RetryErrorKind::Mail4xx | RetryErrorKind::Rcpt4xx | RetryErrorKind::Data4xx
        ) {
            let code = (error.more >> 8) & 255;
            if code == 255 {
                error.more = (error.more & !0xff00) | (21 << 8);
            } else if code > 100 {
                error.more = (error.more & !0xff00) | ((code - 96) << 8);
            }
        }
    }
    let mut ctx = crate::cli::config::expansion_context(cfg);
    let found = find_rule(&cfg.retry, &mut ctx, key, alternate, &error, None);
    print_log(&mut ctx.log);
    match found {
        None => println!("No retry information found"),
        Some(r) => println!(
            "Retry rule: {}  {}  {}",
            r.pattern,
            error_text(&r.error),
            steps_text(r)
        ),
    }
    0
}
