//! `rexim -be`: expansion testing, byte-identical to `exim -be` (plus a REPL on a terminal).

use std::io::{self, BufRead, IsTerminal, Write};
use std::sync::Arc;

use crate::expand::message::Message;
use crate::expand::{self, Context};

/// `NAME = value` macro definitions typed at the `-be` prompt, on top of the built-in
/// macros and those of the configuration (`-C`, `-D`).
pub struct Macros {
    inner: crate::config::Macros,
}

impl Default for Macros {
    fn default() -> Self {
        Macros {
            inner: crate::config::initial_macros(&[]).unwrap_or_default(),
        }
    }
}

impl Macros {
    /// Continue from a configuration's macro table.
    pub fn from_config(inner: crate::config::Macros) -> Macros {
        Macros { inner }
    }

    /// If `line` (already substituted) defines a macro, record it and return what Exim prints:
    /// `Ok` for stdout (it names the most recently created macro, even after `==`), `Err` for
    /// the configuration error it logs.
    pub fn define(&mut self, line: &str) -> Option<Result<String, String>> {
        if !line.starts_with(|c: char| c.is_ascii_uppercase()) {
            return None;
        }
        Some(match self.inner.define(line) {
            Ok(()) => Ok(format!(
                "Defined macro '{}'",
                self.inner.last_created().unwrap_or("")
            )),
            Err(e) => Err(format!("Exim configuration error:\n  {e}")),
        })
    }

    /// Replace every macro name occurring in `line`, in definition order.
    pub fn substitute(&self, line: &str) -> String {
        self.inner.substitute(line)
    }
}

/// Expand one line the way `exim -be` prints it: the result, or `Failed: <message>`.
pub fn run_line(line: &str, ctx: &mut Context) -> (Vec<u8>, Option<crate::ExpandError>) {
    let parsed = expand::parse(line);
    match expand::expand(&parsed, ctx) {
        Ok(v) => (v.bytes, None),
        Err(e) => (format!("Failed: {}", e.message).into_bytes(), Some(e)),
    }
}

fn flush_log(ctx: &mut Context) {
    let mut err = io::stderr();
    for l in ctx.log.drain(..) {
        let _ = writeln!(
            err,
            "{} {l}",
            crate::expand::computed::tod("log", ctx.clock.now().0, 0).unwrap_or_default()
        );
    }
}

/// Read logical lines from `input` (trailing blanks stripped, `\` joins lines).
fn next_logical_line(input: &mut dyn BufRead) -> io::Result<Option<String>> {
    let mut line = String::new();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            return Ok(if line.is_empty() && buf.is_empty() {
                None
            } else {
                Some(line)
            });
        }
        let piece = String::from_utf8_lossy(&buf);
        let piece = piece.trim_end();
        let piece = if line.is_empty() {
            piece
        } else {
            piece.trim_start()
        };
        match piece.strip_suffix('\\') {
            Some(p) => line.push_str(p),
            None => {
                line.push_str(piece);
                return Ok(Some(line));
            }
        }
    }
}

/// One line of a `-be` session: what was typed and what `exim -be` prints for it.
pub struct Exchange {
    pub input: String,
    pub output: Vec<u8>,
}

/// Run a whole `-be` session over `input`, as `exim -be` does with a non-terminal stdin.
pub fn session(input: &mut dyn BufRead, ctx: &mut Context) -> io::Result<Vec<Exchange>> {
    let mut macros = Macros::default();
    let mut result = Vec::new();
    while let Some(line) = next_logical_line(input)? {
        let expanded_line = macros.substitute(&line);
        if let Some(msg) = macros.define(&expanded_line) {
            let output = msg.unwrap_or_default().into_bytes();
            result.push(Exchange {
                input: line,
                output,
            });
            continue;
        }
        let (text, _) = run_line(&expanded_line, ctx);
        flush_log(ctx);
        result.push(Exchange {
            input: line,
            output: text,
        });
    }
    Ok(result)
}

/// Load a message for `-bem` (and `$h_*` in tests).
pub fn load_message(ctx: &mut Context, path: &str) -> io::Result<()> {
    let data = std::fs::read(path)?;
    ctx.message = Some(Arc::new(Message::parse(&data)));
    Ok(())
}

/// Entry point for `-be`/`-bem`: `args` are expansions given on the command line.
pub fn main(args: &[String], message_file: Option<&str>, ctx: Context) -> i32 {
    main_with_macros(args, message_file, ctx, Macros::default())
}

/// As [`main`], starting from a configuration's macros (`rexim -be -C file`).
pub fn main_with_macros(
    args: &[String],
    message_file: Option<&str>,
    mut ctx: Context,
    mut macros: Macros,
) -> i32 {
    if let Some(path) = message_file {
        if let Err(e) = load_message(&mut ctx, path) {
            eprintln!("rexim: failed to open {path}: {e}");
            return 1;
        }
    }
    let stdout = io::stdout();
    let mut out = stdout.lock();
    if !args.is_empty() {
        for a in args {
            let a = macros.substitute(a);
            if let Some(msg) = macros.define(&a) {
                match msg {
                    Ok(m) => {
                        let _ = writeln!(out, "{m}");
                    }
                    Err(e) => eprintln!("{e}"),
                }
                continue;
            }
            let (text, _) = run_line(&a, &mut ctx);
            flush_log(&mut ctx);
            let _ = out.write_all(&text);
            let _ = out.write_all(b"\n");
        }
        return 0;
    }
    if io::stdin().is_terminal() {
        drop(out);
        return crate::cli::repl::run(ctx, macros);
    }
    let stdin = io::stdin();
    let mut input = stdin.lock();
    loop {
        let _ = out.write_all(b"> ");
        match next_logical_line(&mut input) {
            Ok(Some(line)) => {
                let line = macros.substitute(&line);
                if let Some(msg) = macros.define(&line) {
                    match msg {
                        Ok(m) => {
                            let _ = writeln!(out, "{m}");
                        }
                        Err(e) => {
                            let _ = out.flush();
                            eprintln!("{e}");
                        }
                    }
                    continue;
                }
                let (text, _) = run_line(&line, &mut ctx);
                let _ = out.flush();
                flush_log(&mut ctx);
                let _ = out.write_all(&text);
                let _ = out.write_all(b"\n");
            }
            Ok(None) => break,
            Err(e) => {
                eprintln!("rexim: reading standard input: {e}");
                return 1;
            }
        }
    }
    let _ = out.write_all(b"\n");
    0
}
