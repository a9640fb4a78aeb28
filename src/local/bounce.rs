//! Error reports for local messages (`-oem`, the default): the report Exim's
//! `moan_to_sender` mails to the sender — its subject and text per error, a copy of the
//! headers and (up to `bounce_return_size_limit`) the body — received as a new local
//! message from `<>` (`-t`, `R=` the failed message), which queues it. With no usable
//! sender the error is only logged, as Exim does.

use crate::local::fixups::BadAddress;

/// The errors a local message can be refused for (Exim's `ERRMESS_*`).
#[derive(Debug, Clone)]
pub enum Kind {
    /// A command-line recipient that does not parse.
    BadArgAddress {
        text: String,
        error: String,
    },
    /// `-t` addresses that do not parse; `others` when good ones remain.
    BadAddresses {
        list: Vec<BadAddress>,
        others: bool,
    },
    /// `-t` found only addresses also given on the command line.
    IgnoredAll,
    NoAddress,
    IoError(String),
    HeaderTooLong(u64),
    HeaderLineTooLong(u64),
    TooBig(u64),
    TooManyRecipients(u64),
    /// Refused by `acl_not_smtp` (its message).
    Acl(String),
}

/// The options the report depends on.
#[derive(Debug, Clone)]
pub struct Options {
    pub dsn_from: String,
    pub errors_reply_to: String,
    pub return_message: bool,
    pub return_body: bool,
    pub size_limit: u64,
    pub linesize_limit: usize,
    pub message_size_limit: u64,
}

impl Kind {
    /// The log line when there is nobody to tell (Exim's texts after `msg`).
    pub fn unmailable(&self, msg: &str) -> String {
        match self {
            Kind::BadArgAddress { text, error } => {
                format!("{msg}: at least one malformed recipient address: {text} - {error}")
            }
            Kind::BadAddresses { list, .. } => {
                let (t, e) = list.first().map_or((String::new(), String::new()), |b| {
                    (b.text.clone(), b.error.clone())
                });
                format!("{msg}: at least one malformed recipient address: {t} - {e}")
            }
            Kind::IgnoredAll | Kind::NoAddress => format!("{msg}: no recipient addresses"),
            Kind::IoError(_) => String::new(),
            Kind::HeaderTooLong(n) => format!(
                "{msg}: excessively long message header section read (more than {n} characters)"
            ),
            Kind::HeaderLineTooLong(n) => format!(
                "{msg}: excessively long message header line read (more than {n} characters)"
            ),
            Kind::TooBig(n) => format!("{msg}: message too big (limit set to {n})"),
            Kind::TooManyRecipients(n) => {
                format!("{msg}: too many recipients (max set to {n})")
            }
            Kind::Acl(t) => format!("{msg}: rejected by non-SMTP ACL: {t}"),
        }
    }

    fn subject_and_text(&self) -> String {
        match self {
            Kind::BadArgAddress { text, error } => {
                let dot = if text.ends_with('.') {
                    "\nRecipient addresses must not end with a '.' character.\n"
                } else {
                    ""
                };
                format!(
                    "Subject: Mail failure - malformed recipient address\n\n\
                     A message that you sent contained a recipient address that was incorrectly\n\
                     constructed:\n\n  {text}  {error}\n{dot}\n\
                     The message has not been delivered to any recipients.\n"
                )
            }
            Kind::BadAddresses { list, others } => {
                let mut t = String::from(
                    "Subject: Mail failure - malformed recipient address\n\n\
                     A message that you sent contained one or more recipient addresses that were\n\
                     incorrectly constructed:\n\n",
                );
                for b in list {
                    t += &format!("  {}: {}\n", b.text, b.error);
                }
                t += if list.len() == 1 {
                    "\nThis address has been ignored. "
                } else {
                    "\nThese addresses have been ignored. "
                };
                t += if *others {
                    "The other addresses in the message were\n\
                     syntactically valid and have been passed on for an attempt at delivery.\n"
                } else {
                    "There were no other addresses in your\n\
                     message, and so no attempt at delivery was possible.\n"
                };
                t
            }
            Kind::IgnoredAll => "Subject: Mail failure - no recipient addresses\n\n\
                 A message that you sent using the -t command line option contained no\n\
                 addresses that were not also on the command line, and were therefore\n\
                 suppressed. This left no recipient addresses, and so no delivery could\n\
                 be attempted.\n"
                .into(),
            Kind::NoAddress => "Subject: Mail failure - no recipient addresses\n\n\
                 A message that you sent contained no recipient addresses, and therefore no\n\
                 delivery could be attempted.\n"
                .into(),
            Kind::IoError(e) => format!(
                "Subject: Mail failure - system failure\n\n\
                 A system failure was encountered while processing a message that you sent,\n\
                 so it has not been possible to deliver it. The error was:\n\n{e}\n"
            ),
            Kind::HeaderTooLong(_) => "Subject: Mail failure - overlong header section\n\n\
                 A message that you sent contained a header section that was excessively\n\
                 long and could not be handled by the mail transmission software. The\n\
                 message has not been delivered to any recipients.\n"
                .into(),
            Kind::HeaderLineTooLong(_) => "Subject: Mail failure - overlong header line\n\n\
                 A message that you sent contained a header line that was excessively\n\
                 long and could not be handled by the mail transmission software. The\n\
                 message has not been delivered to any recipients.\n"
                .into(),
            Kind::TooBig(_) => "Subject: Mail failure - message too big\n\n\
                 A message that you sent was longer than the maximum size allowed on this\n\
                 system. It was not delivered to any recipients.\n"
                .into(),
            Kind::TooManyRecipients(_) => "Subject: Mail failure - too many recipients\n\n\
                 A message that you sent contained more recipients than allowed on this\n\
                 system. It was not delivered to any recipients.\n"
                .into(),
            Kind::Acl(t) => format!(
                "Subject: Mail failure - rejected by local scanning code\n\n\
                 A message that you sent was rejected by the local scanning code that\n\
                 checks incoming messages on this system. The following error was given:\n\n  {t}\n"
            ),
        }
    }

    fn headers_only(&self) -> bool {
        matches!(self, Kind::HeaderTooLong(_) | Kind::HeaderLineTooLong(_))
    }
}

/// The message's `References:` for the report: its Message-Id (Exim takes the last
/// one typed as an id).
fn references(headers: &[(u8, &[u8])]) -> String {
    let id = headers
        .iter()
        .rev()
        .find(|(k, _)| *k == b'I')
        .and_then(|(_, t)| {
            let colon = t.iter().position(|&c| c == b':')?;
            Some(String::from_utf8_lossy(t[colon + 1..].trim_ascii_start()).into_owned())
        });
    match id {
        Some(id) => format!("References: {id}"),
        None => String::new(),
    }
}

/// The report's text: headers, explanation, and the copy of the message.
pub fn report(
    kind: &Kind,
    opts: &Options,
    to: &str,
    headers: &[(u8, &[u8])],
    body: Option<&[u8]>,
    message_size: u64,
) -> Vec<u8> {
    let mut o = String::new();
    if !opts.errors_reply_to.is_empty() {
        o += &format!("Reply-To: {}\n", opts.errors_reply_to);
    }
    o += "Auto-Submitted: auto-replied\n";
    o += &format!("From: {}\n", opts.dsn_from);
    o += &format!("To: {to}\n");
    o += &references(headers);
    o += &kind.subject_and_text();
    let mut out = o.into_bytes();
    if !opts.return_message {
        return out;
    }
    let mut limit = opts.size_limit;
    if limit == 0 || (opts.message_size_limit > 0 && limit > opts.message_size_limit) {
        limit = opts.message_size_limit;
    }
    if opts.return_body {
        out.extend_from_slice(
            b"\n------ This is a copy of your message, including all the headers.",
        );
        if limit > 0 && limit < message_size {
            let (x, k) = if limit & 1023 == 0 {
                (limit >> 10, "K")
            } else {
                (limit, "")
            };
            out.extend_from_slice(
                format!("\n------ No more than {x}{k} characters of the body are included.\n\n")
                    .as_bytes(),
            );
        } else {
            out.extend_from_slice(b" ------\n\n");
        }
    } else {
        out.extend_from_slice(
            b"\n------ This is a copy of the headers that were received before the error\n       was detected.\n\n",
        );
    }
    for (_, h) in headers {
        out.extend_from_slice(h);
    }
    if !kind.headers_only() {
        out.push(b'\n');
    }
    if let (true, Some(body)) = (opts.return_body, body) {
        copy_body(&mut out, body, limit, opts.linesize_limit);
    }
    out
}

/// The body as Exim copies it with `fgets`: reads of at most `linesize + 1` bytes, the
/// rest of a longer line skipped; a read longer than `limit` is cut and ends the copy.
fn copy_body(out: &mut Vec<u8>, body: &[u8], limit: u64, linesize: usize) {
    let mut rest = body;
    while !rest.is_empty() {
        let line_end = rest
            .iter()
            .position(|&c| c == b'\n')
            .map_or(rest.len(), |p| p + 1);
        let take = line_end.min(linesize + 1);
        let piece = &rest[..take];
        rest = &rest[line_end..];
        if limit > 0 && piece.len() as u64 > limit {
            out.extend_from_slice(&piece[..limit as usize]);
            return;
        }
        out.extend_from_slice(piece);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acl_report_with_copy() {
        let opts = Options {
            dsn_from: "Mail Delivery System <Mailer-Daemon@test.example>".into(),
            errors_reply_to: String::new(),
            return_message: true,
            return_body: true,
            size_limit: 100 * 1024,
            linesize_limit: 998,
            message_size_limit: 50 * 1024 * 1024,
        };
        let h: Vec<(u8, &[u8])> = vec![(b' ', b"Subject: hi\n"), (b'I', b"Message-Id: <a@b>\n")];
        let r = report(
            &Kind::Acl("no way".into()),
            &opts,
            "x@y",
            &h,
            Some(b"body\n"),
            40,
        );
        let r = String::from_utf8(r).unwrap();
        assert!(r.starts_with("Auto-Submitted: auto-replied\nFrom: Mail Delivery System"));
        assert!(r.contains(
            "References: <a@b>\nSubject: Mail failure - rejected by local scanning code\n"
        ));
        assert!(r.ends_with(
            "including all the headers. ------\n\nSubject: hi\nMessage-Id: <a@b>\n\nbody\n"
        ));
    }
}
