//! `-brw address`: what each kind of rewriting rule does to an address, printed as Exim does.

use crate::cli::retry_test::print_log;
use crate::config::rewrite::flags;
use crate::config::rewrite_apply::{cut, has_at, rewrite_one, RewriteError, SMTP_SENDER};
use crate::config::{tables, Config, Value};
use crate::expand::address::{Options, Parser};

/// The eight places rewriting applies, in Exim's order and spelling.
const PLACES: [&str; 8] = [
    "  sender", "    from", "      to", "      cc", "     bcc", "reply-to", "env-from", "  env-to",
];

fn unsupported(e: RewriteError) -> i32 {
    match e {
        RewriteError::WholePhraseUnsupported => eprintln!(
            "rexim: -brw: a \"w\" rule that yields a phrase with <address> is not supported yet (Exim re-quotes the phrase)"
        ),
    }
    1
}

/// `qualify_recipient`, which defaults to `qualify_domain`, which defaults to the host name.
fn qualify_recipient(cfg: &Config) -> String {
    for name in ["qualify_recipient", "qualify_domain", "primary_hostname"] {
        if let Some(Value::Str(q)) = cfg.main.get(name).map(|s| &s.value) {
            return q.clone();
        }
    }
    match tables::find(tables::MAIN, "primary_hostname").map(|d| cfg.main_value(d)) {
        Some(Value::Str(q)) => q,
        _ => String::new(),
    }
}

/// Run `-brw` on the first argument; returns the exit status.
pub fn main(cfg: &Config, args: &[String]) -> i32 {
    let Some(addr) = args.first() else {
        eprintln!("exim: -brw needs an address argument");
        return 1;
    };
    let existflags = cfg.rewrite.iter().fold(0, |a, r| a | r.flags);
    if existflags == 0 {
        println!("No rewrite rules are defined");
        return 0;
    }
    let mut ctx = crate::cli::config::expansion_context(cfg);
    let qualify = qualify_recipient(cfg);
    let mut done_smtp = false;
    if existflags & flags::SMTP != 0 {
        let r = rewrite_one(
            &cfg.rewrite,
            &mut ctx,
            addr,
            flags::SMTP | SMTP_SENDER,
            &qualify,
        );
        print_log(&mut ctx.log);
        let mut r = match r {
            Ok(r) => r,
            Err(e) => return unsupported(e),
        };
        print_log(&mut r.log);
        if r.changed {
            let shown = if r.address.is_empty() {
                "<>"
            } else {
                &r.address
            };
            println!("    SMTP: {shown}");
            done_smtp = true;
        }
    }
    if existflags & !flags::SMTP == 0 {
        return 0;
    }
    let s = if has_at(addr) {
        addr.clone()
    } else {
        format!("{addr}@{qualify}")
    };
    let parsed = match Parser::new(Options::default()).extract(s.as_bytes()) {
        Ok(p) => p,
        Err(e) => {
            if !done_smtp {
                let mut chars = e.chars();
                let first: String = chars
                    .next()
                    .map(|c| c.to_uppercase().collect())
                    .unwrap_or_default();
                println!("Syntax error in {s}\n{first}{}", chars.as_str());
            }
            return 0;
        }
    };
    let recipient = String::from_utf8_lossy(&parsed.address).into_owned();
    for (i, place) in PLACES.iter().enumerate() {
        let flag = 1u32 << i;
        let r = rewrite_one(&cfg.rewrite, &mut ctx, &recipient, flag, &qualify);
        print_log(&mut ctx.log);
        let mut r = match r {
            Ok(r) => r,
            Err(e) => return unsupported(e),
        };
        print_log(&mut r.log);
        let shown = if r.address.is_empty() {
            "<>".to_string()
        } else if r.whole || flag & flags::ALL_HEADERS == 0 {
            r.address
        } else {
            let (before, after) = (cut(&s, 0, parsed.start), cut(&s, parsed.end, usize::MAX));
            format!("{before}{}{after}", r.address)
        };
        println!("{place}: {shown}");
    }
    0
}
