//! `-bS`: batched SMTP on stdin, as Exim reads it — no replies; HELO/EHLO/RSET reset,
//! MAIL/RCPT parsed for syntax only, DATA starts a message that goes through the
//! non-SMTP ACLs (`acl_not_smtp_start` when MAIL..DATA is complete); VRFY, EXPN, HELP,
//! NOOP and ETRN are ignored; QUIT or end of input ends the batch. The first error
//! abandons the rest of the batch with Exim's report on stdout and stderr.

use std::io::{Read, Write};

use crate::local::args::LocalArgs;
use crate::local::input::Source;
use crate::local::receive::{self, Envelope, Mode, Outcome};
use crate::local::report::Logger;
use crate::local::settings::Settings;
use crate::local::Who;

/// Longest command line kept (Exim's command buffer).
const MAX_COMMAND: usize = 16 * 1024;

struct Batch {
    /// Line where the current transaction started.
    started: u64,
    accepted: u32,
}

impl Batch {
    /// Exim's `moan_smtp_batch`: report and give up on the batch; the exit status.
    fn moan(&self, line: u64, command: Option<&str>, text: &str) -> i32 {
        let mut out = std::io::stdout();
        let _ = write!(
            out,
            "{text}\nTransaction started in line {}\nError detected in line {line}\n",
            self.started
        );
        if let Some(c) = command {
            let _ = writeln!(out, "{c}");
        }
        let _ = out.flush();
        let mut err = std::io::stderr();
        let _ = write!(
            err,
            "An error was detected while processing a file of BSMTP input.\nThe error message was:\n\n  {text}\n\nThe SMTP transaction started in line {}.\nThe error was detected in line {line}.\n",
            self.started
        );
        if let Some(c) = command {
            let _ = write!(err, "The SMTP command at fault was:\n\n   {c}\n\n");
        }
        let n = self.accepted;
        let was = if n == 1 { " was" } else { "s were" };
        let _ = write!(
            err,
            "{n} previous message{was} successfully processed.\nThe rest of the batch was abandoned.\n"
        );
        if n > 0 {
            1
        } else {
            2
        }
    }
}

fn address(arg: &str, allow_null: bool) -> Result<(Vec<u8>, bool), String> {
    let opts = crate::expand::address::Options {
        allow_null,
        ..Default::default()
    };
    crate::expand::address::Parser::new(opts)
        .extract(arg.as_bytes())
        .map(|a| {
            let has_domain = a.domain_offset > 0;
            (a.address, has_domain)
        })
}

/// Split `MAIL FROM:<x>` into the verb and its argument (after `FROM:` / `TO:`).
fn split_command(line: &str) -> (String, String) {
    let t = line.trim_start();
    let (verb, rest) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
    let verb = verb.to_ascii_uppercase();
    let rest = rest.trim();
    let arg = match verb.as_str() {
        "MAIL" | "RCPT" => {
            let want = if verb == "MAIL" { "FROM:" } else { "TO:" };
            match rest.get(..want.len()) {
                Some(p) if p.eq_ignore_ascii_case(want) => rest[want.len()..].trim().to_string(),
                _ => return (format!("{verb}?"), rest.to_string()),
            }
        }
        _ => rest.to_string(),
    };
    (verb, arg)
}

/// Run a whole batch; the exit status.
pub fn run<R: Read>(
    st: &Settings,
    who: &mut Who,
    real_sender: Vec<u8>,
    a: &LocalArgs,
    src: &mut Source<R>,
    log: &mut Logger,
) -> i32 {
    let mut batch = Batch {
        started: 0,
        accepted: 0,
    };
    let mut sender: Option<Vec<u8>> = None;
    let mut recipients: Vec<Vec<u8>> = Vec::new();
    let real = (!real_sender.is_empty() || a.sender.is_some()).then_some(real_sender);
    batch.started = src.lines;
    loop {
        let Some(raw) = src.line(MAX_COMMAND) else {
            return 0;
        };
        let line = String::from_utf8_lossy(&raw).into_owned();
        let at = src.lines;
        if raw.contains(&0) {
            return batch.moan(at, Some(&line), "501 Unexpected NULL in SMTP command");
        }
        let (verb, arg) = split_command(&line);
        match verb.as_str() {
            "HELO" | "EHLO" => {
                let name = arg.split_whitespace().next().unwrap_or("");
                who.helo = (!name.is_empty()).then(|| name.to_string());
                sender = None;
                recipients.clear();
                batch.started = at;
            }
            "RSET" => {
                sender = None;
                recipients.clear();
                batch.started = at;
            }
            "MAIL" => {
                if sender.is_some() {
                    return batch.moan(at, Some(&line), "503 Sender already given");
                }
                if arg.is_empty() {
                    return batch.moan(
                        at,
                        Some(&line),
                        "501 MAIL FROM must have an address operand",
                    );
                }
                recipients.clear();
                match address(&arg, true) {
                    Ok((s, has_domain)) => {
                        let s = if !has_domain && !s.is_empty() && s[0] != b'@' {
                            crate::local::store::qualify(&s, &st.qualify_domain)
                        } else {
                            s
                        };
                        sender = Some(s);
                    }
                    Err(e) => return batch.moan(at, Some(&line), &format!("501 {e}")),
                }
            }
            "RCPT" => {
                if sender.is_none() {
                    return batch.moan(at, Some(&line), "503 No sender yet given");
                }
                if arg.is_empty() {
                    return batch.moan(at, Some(&line), "501 RCPT TO must have an address operand");
                }
                if st.recipients_max > 0 && recipients.len() as u64 + 1 > st.recipients_max {
                    return batch.moan(at, Some(&line), "452 too many recipients");
                }
                match address(&arg, false) {
                    Ok((r, has_domain)) => recipients.push(if has_domain {
                        r
                    } else {
                        crate::local::store::qualify(&r, &st.qualify_recipient)
                    }),
                    Err(e) => return batch.moan(at, Some(&line), &format!("501 {e}")),
                }
            }
            "DATA" => {
                let Some(mut s) = sender.take() else {
                    return batch.moan(
                        at,
                        Some(&line),
                        "503 MAIL FROM:<sender> command must precede DATA",
                    );
                };
                if recipients.is_empty() {
                    return batch.moan(
                        at,
                        Some(&line),
                        "503 RCPT TO:<recipient> must precede DATA",
                    );
                }
                if let Some(r) = &real {
                    if !who.may_set_sender(st, &s) {
                        s = r.clone();
                    }
                }
                let env = Envelope {
                    sender: s,
                    recipients: std::mem::take(&mut recipients),
                };
                let mode = Mode {
                    extract: a.extract,
                    dot_ends: true,
                    batched: true,
                    errors_to_stderr: true,
                    errors_exit_zero: false,
                };
                let mut one = who.clone();
                match receive::receive(st, &mut one, env, mode, src, log) {
                    Outcome::Exit(0) => batch.accepted += 1,
                    Outcome::Exit(_) => {}
                    Outcome::BatchRejected(user) => {
                        return batch.moan(src.lines, None, &format!("550 {user}"));
                    }
                    Outcome::Error(rc) => return rc,
                    Outcome::Lost(what) => {
                        log.id = None;
                        let ident = who.ident.clone().unwrap_or_default();
                        log.main(&format!(
                            "SMTP connection from {ident} lost while reading message data{what}"
                        ));
                        // Exim counts the missing final dot line when the body was cut.
                        let line = src.lines + u64::from(what.is_empty());
                        return batch.moan(line, None, "421 Lost incoming connection");
                    }
                }
                log.id = None;
                batch.started = src.lines;
            }
            "VRFY" | "EXPN" | "HELP" | "NOOP" | "ETRN" => batch.started = at,
            "QUIT" => return 0,
            _ => return batch.moan(at, Some(&line), "500 Command unrecognized"),
        }
    }
}
