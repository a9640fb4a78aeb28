//! `rexim -be`: expansion testing, byte-identical to `exim -be` (plus a REPL on a terminal).

use std::io::{self, BufRead, IsTerminal, Write};
use std::sync::Arc;

use crate::expand::message::Message;
use crate::expand::value::Val;
use crate::expand::{self, Context};

/// `NAME = value` macro definitions typed at the `-be` prompt, on top of the built-in
/// macros and those of the configuration (`-C`, `-D`).
pub struct Macros {
    inner: crate::config::Macros,
    /// The configuration file and its line count, which Exim names in some macro errors.
    file: (String, u32),
}

impl Default for Macros {
    fn default() -> Self {
        Macros {
            inner: crate::config::initial_macros(&[]).unwrap_or_default(),
            file: ("/dev/null".into(), 0),
        }
    }
}

impl Macros {
    /// Continue from a configuration's macro table.
    pub fn from_config(cfg: crate::config::Config) -> Macros {
        Macros {
            file: (cfg.main_file, cfg.end_line),
            inner: cfg.macros,
        }
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
            Err(e) => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs() as i64)
                    .unwrap_or(0);
                let ts = crate::expand::computed::tod("log", now, 0).unwrap_or_default();
                let place = if e.starts_with("malformed") || e.starts_with("macro name too long") {
                    format!(" in line {} of {}", self.file.1, self.file.0)
                } else {
                    String::new()
                };
                Err(format!("{ts} Exim configuration error{place}:\n  {e}"))
            }
        })
    }

    /// Replace every macro name occurring in `line`, in definition order (Exim's rules).
    pub fn substitute<'l>(&self, line: &'l str) -> std::borrow::Cow<'l, str> {
        self.inner.substitute(line)
    }
}

/// Expand one line the way `exim -be` prints it: the result, or `Failed: <message>`.
/// Exim prints results as C strings, so output stops at a NUL byte (`\x00`, `\x`).
pub fn run_line(line: &str, ctx: &mut Context) -> (Vec<u8>, Option<crate::ExpandError>) {
    run_parsed(&expand::parse(line), ctx)
}

/// As [`run_line`] for an expansion parsed already.
pub fn run_parsed(
    parsed: &expand::Expansion,
    ctx: &mut Context,
) -> (Vec<u8>, Option<crate::ExpandError>) {
    match expand::expand(parsed, ctx) {
        Ok(v) => (until_nul(v.bytes), None),
        Err(e) => (format!("Failed: {}", e.message).into_bytes(), Some(e)),
    }
}

pub(crate) fn flush_log(ctx: &mut Context) {
    let mut err = io::stderr();
    for l in ctx.log.drain(..) {
        let _ = writeln!(
            err,
            "{} {l}",
            crate::expand::computed::tod("log", ctx.clock.now().0, 0).unwrap_or_default()
        );
    }
}

/// Exim reads `-be` input with `fgets` into a 1,024-byte buffer: a longer line arrives in
/// pieces of at most this many bytes, each taken as a line of its own (and memory stays
/// bounded on input without newlines).
const PIECE_MAX: usize = 1023;

/// C's `isspace` (Rust's ASCII whitespace lacks the vertical tab).
fn is_c_space(c: &u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Read logical lines from `input` as bytes into `line`, as Exim does: each piece (see
/// [`PIECE_MAX`]) ends at a NUL, trailing blanks are stripped, a `\\` at the end joins the
/// next piece with its leading blanks dropped; false at end of input.
/// `buf` is scratch space: both buffers are reused from line to line.
pub(crate) fn next_logical_line(
    input: &mut dyn BufRead,
    line: &mut Vec<u8>,
    buf: &mut Vec<u8>,
) -> io::Result<bool> {
    line.clear();
    let mut continued = false;
    loop {
        buf.clear();
        if read_piece(input, buf)? == 0 {
            return Ok(continued || !line.is_empty());
        }
        let text = &buf[..memchr::memchr(0, buf).unwrap_or(buf.len())];
        let end = text
            .iter()
            .rposition(|c| !is_c_space(c))
            .map_or(0, |i| i + 1);
        let mut piece = &text[..end];
        if continued {
            let start = piece
                .iter()
                .position(|c| !is_c_space(c))
                .unwrap_or(piece.len());
            piece = &piece[start..];
        }
        match piece.strip_suffix(b"\\") {
            Some(p) => {
                line.extend_from_slice(p);
                continued = true;
            }
            None => {
                line.extend_from_slice(piece);
                return Ok(true);
            }
        }
    }
}

/// One piece as `fgets` reads it: up to and including a newline, at most [`PIECE_MAX`]
/// bytes (a SIMD search for the newline).
fn read_piece(input: &mut dyn BufRead, buf: &mut Vec<u8>) -> io::Result<usize> {
    let mut read = 0;
    loop {
        let available = match input.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let room = PIECE_MAX - read;
        let window = &available[..available.len().min(room)];
        let (done, used) = match memchr::memchr(b'\n', window) {
            Some(i) => (true, i + 1),
            None => (window.is_empty() || window.len() == room, window.len()),
        };
        buf.extend_from_slice(&available[..used]);
        input.consume(used);
        read += used;
        if done {
            return Ok(read);
        }
    }
}

/// Whether any byte is an ASCII capital (no early exit, so it compiles to vector compares).
fn has_uppercase(s: &[u8]) -> bool {
    s.iter()
        .fold(false, |found, c| found | c.is_ascii_uppercase())
}

/// What one `-be` input line asks for, decided before evaluation: macros are applied and
/// defined here, so parsing needs nothing from the evaluation of earlier lines.
pub(crate) enum Job {
    /// An expansion to evaluate and print.
    Expand(expand::Expansion),
    /// A line printed as it is (a macro definition's confirmation).
    Print(String),
    /// A macro definition's error, for stderr.
    Complain(String),
}

/// Turn one input line into its [`Job`]. Lines that are not UTF-8 skip macros.
pub(crate) fn prepare_line(line: &[u8], macros: &mut Macros) -> Job {
    match std::str::from_utf8(line) {
        // Macro names start with an uppercase letter (or `_` and one): no uppercase, no macro.
        Ok(text) if !has_uppercase(text.as_bytes()) => Job::Expand(expand::parse(text)),
        Ok(text) => {
            let text = macros.substitute(text);
            match macros.define(&text) {
                Some(Ok(m)) => Job::Print(m),
                Some(Err(e)) => Job::Complain(e),
                None => Job::Expand(expand::parse(&text)),
            }
        }
        Err(_) => Job::Expand(expand::parse_bytes(line)),
    }
}

/// What one `-be` input line prints: a macro definition's confirmation (or its error
/// on stderr), else the expansion result.
fn process_line(line: &[u8], macros: &mut Macros, ctx: &mut Context) -> Option<Vec<u8>> {
    match prepare_line(line, macros) {
        Job::Expand(parsed) => Some(run_parsed(&parsed, ctx).0),
        Job::Print(m) => Some(m.into_bytes()),
        Job::Complain(e) => {
            eprintln!("{e}");
            None
        }
    }
}

/// As [`run_line`] for input that may not be UTF-8.
pub fn run_bytes(line: &[u8], ctx: &mut Context) -> (Vec<u8>, Option<crate::ExpandError>) {
    run_parsed(&expand::parse_bytes(line), ctx)
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
    let (mut line, mut buf) = (Vec::new(), Vec::new());
    while next_logical_line(input, &mut line, &mut buf)? {
        let output = process_line(&line, &mut macros, ctx).unwrap_or_default();
        flush_log(ctx);
        result.push(Exchange {
            input: String::from_utf8_lossy(&line).into_owned(),
            output,
        });
    }
    Ok(result)
}

/// Load a message for `-bem` (and `$h_*` in tests).
/// The message is read as Exim reads a locally submitted one (see `Message::read`); the
/// headers Exim adds when missing (`Message-Id:`, `From:`, `Date:`) are added, and
/// `$message_id`, `$message_exim_id` and `$received_time` are set.
pub fn load_message(ctx: &mut Context, path: &str) -> io::Result<()> {
    use crate::expand::computed;
    let data = std::fs::read(path)?;
    let mut msg = Message::read(&data, ctx.settings.message_body_visible);
    if msg.headers.is_empty() {
        println!("Warning: no message headers read");
    }
    let (secs, usecs) = ctx.clock.now();
    let id = computed::message_id(secs, usecs, std::process::id());
    let host = computed::primary_hostname();
    let sender = format!("{}@{host}", computed::caller_login());
    let from = match computed::caller_name() {
        name if name.is_empty() => sender,
        name => format!("{name} <{sender}>"),
    };
    let date = computed::tod("full", secs, usecs).unwrap_or_default();
    msg.qualify_addresses(host.as_bytes());
    msg.add_local_headers(&format!("<E{id}@{host}>"), &from, &date);
    if let Some(mut sender) = msg.uucp_sender.clone() {
        println!("Sender taken from \"From \" line");
        if !sender.contains(&b'@') {
            sender.extend_from_slice(format!("@{host}").as_bytes());
        }
        let at = sender
            .iter()
            .rposition(|&c| c == b'@')
            .unwrap_or(sender.len());
        let domain = sender.get(at + 1..).unwrap_or_default().to_vec();
        ctx.set("sender_address_local_part", Val::tainted(&sender[..at]));
        ctx.set("sender_address_domain", Val::tainted(domain));
        ctx.set("sender_address", Val::tainted(sender));
    }
    ctx.message = Some(Arc::new(msg));
    ctx.set("message_id", id.as_str());
    ctx.set("message_exim_id", id.as_str());
    ctx.set("received_time", secs.to_string());
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
    crate::expand::computed::local_caller(&mut ctx);
    // A lookup file is `stat`ed at most once a second, not on every lookup: a file edited
    // between typed lines still shows the edit (see `lookup::files` for the rule).
    crate::lookup::files::set_recheck_interval(std::time::Duration::from_secs(1));
    if let Some(path) = message_file {
        if let Err(e) = load_message(&mut ctx, path) {
            eprintln!(
                "rexim: failed to open {path}: {}",
                crate::expand::operators::misc::strerror(&e)
            );
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
    drop(out);
    crate::cli::be_stream::run(io::stdin(), macros, &mut ctx)
}

fn until_nul(mut b: Vec<u8>) -> Vec<u8> {
    if let Some(i) = b.iter().position(|&c| c == 0) {
        b.truncate(i);
    }
    b
}
