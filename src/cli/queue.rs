//! `-bp [id...]` (queue listing), `-Mvh id` and `-Mvb id` (show a message's spool files).

use std::io::Write;

use crate::cli::args::{Args, Mode};
use crate::expand::context::Clock;
use crate::spool::{is_message_id, Spool};

/// Does this command line ask for a queue operation?
pub fn wanted(argv: &[String]) -> bool {
    argv.iter()
        .any(|a| matches!(a.as_str(), "-bp" | "-Mvh" | "-Mvb"))
}

enum Op {
    List(Vec<String>),
    Show(&'static str, String),
}

fn parse(argv: &[String]) -> Result<(Args, Op), String> {
    let mut a = Args {
        mode: Mode::None,
        ..Args::default()
    };
    let mut op = None;
    let mut i = 0;
    while i < argv.len() {
        let s = argv[i].as_str();
        match s {
            "-C" => {
                i += 1;
                a.config = Some(argv.get(i).ok_or("exim: string expected after -C")?.clone());
            }
            "-D" => {
                i += 1;
                a.defines
                    .push(argv.get(i).ok_or("rexim: -D needs NAME=value")?.clone());
            }
            _ if s.starts_with("-D") => a.defines.push(s[2..].to_string()),
            _ if s.starts_with("-C") => a.config = Some(s[2..].to_string()),
            "-bp" => op = Some(Op::List(Vec::new())),
            "-Mvh" | "-Mvb" => {
                i += 1;
                let id = argv
                    .get(i)
                    .ok_or_else(|| format!("exim: message id expected after {s}"))?;
                if !is_message_id(id) {
                    return Err(format!("exim: malformed message id {id} after {s} option"));
                }
                let which = if s == "-Mvh" { "H" } else { "D" };
                op = Some(Op::Show(which, id.clone()));
            }
            _ => match &mut op {
                Some(Op::List(ids)) if !s.starts_with('-') => ids.push(s.to_string()),
                _ => {
                    return Err(format!(
                        "rexim: unsupported option {s:?} with -bp/-Mvh/-Mvb"
                    ))
                }
            },
        }
        i += 1;
    }
    let op = op.ok_or("rexim: no queue operation given")?;
    Ok((a, op))
}

/// Run `-bp` / `-Mvh` / `-Mvb`; returns the exit code.
pub fn main(argv: &[String]) -> i32 {
    let (args, op) = match parse(argv) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    // Without -C, the same embedded default configuration as `rexim -bd` (its spool).
    let cfg = if args.config.is_none() {
        let macros = match crate::config::initial_macros(&args.defines) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("{e}");
                return 1;
            }
        };
        let cfg = crate::config::load_text(
            "<default configuration>",
            crate::smtp::server::DEFAULT_CONFIG_TEXT,
            macros,
        );
        if let Some(e) = cfg.errors.first() {
            eprint!("{}", e.exim_text());
            return 1;
        }
        cfg
    } else {
        match crate::cli::config::load(&args) {
            Ok(c) => c,
            Err(rc) => return rc,
        }
    };
    let spool = match Spool::from_config(&cfg) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rexim: {e}");
            return 1;
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match op {
        Op::List(ids) => {
            let now = crate::expand::context::SystemClock.now().0;
            let r = if ids.is_empty() {
                spool.write_listing(&mut out, now)
            } else {
                spool.write_listing_of(&mut out, &ids, now)
            };
            match r.and_then(|()| out.flush()) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("rexim: queue listing failed: {e}");
                    1
                }
            }
        }
        Op::Show(which, id) => {
            // The configured layout first, then the other (split or not), as Exim.
            let path = spool
                .file(&id, which)
                .unwrap_or_else(|_| spool.input_dir().join(format!("{id}-{which}")));
            match std::fs::read(&path) {
                Ok(bytes) => match out.write_all(&bytes).and_then(|()| out.flush()) {
                    Ok(()) => 0,
                    Err(e) => {
                        eprintln!("rexim: {e}");
                        1
                    }
                },
                Err(e) => {
                    // Exim prints this on stdout.
                    let _ = writeln!(
                        out,
                        "Failed to open input file for {id}-{which}: {}",
                        strerror(&e)
                    );
                    1
                }
            }
        }
    }
}

/// The C library's text for an I/O error, without Rust's " (os error N)".
fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(p) => s[..p].to_string(),
        None => s,
    }
}
