//! What ACLs leave behind for the message and connection: headers, controls, log lines.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// Where an `add_header` line goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderPosition {
    End,
    AtStart,
    AtStartRfc,
    AfterReceived,
    /// Already in the message, added at once at the end (Exim's `header_add`, as
    /// `dcc_direct_add_header` does); `add_header` lines are not compared with it.
    Direct,
}

impl HeaderPosition {
    /// The position prefix a line of `add_header` may start with (any case).
    fn from_prefix(line: &str) -> Option<(HeaderPosition, usize)> {
        const PREFIXES: &[(&str, HeaderPosition)] = &[
            (":after_received:", HeaderPosition::AfterReceived),
            (":at_start_rfc:", HeaderPosition::AtStartRfc),
            (":at_start:", HeaderPosition::AtStart),
            (":at_end:", HeaderPosition::End),
        ];
        PREFIXES.iter().find_map(|(p, pos)| {
            line.get(..p.len())
                .filter(|h| h.eq_ignore_ascii_case(p))
                .map(|_| (*pos, p.len()))
        })
    }
}

/// A line destined for Exim's logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Any of "main", "reject", "panic".
    pub targets: Vec<&'static str>,
    pub text: String,
}

/// Accumulated effects of ACLs for the current message (reset per message) and connection.
#[derive(Debug, Default)]
pub struct MessageState {
    /// `add_header` lines and `remove_header` names not yet applied to the message.
    pub add_headers: Vec<(HeaderPosition, String)>,
    pub remove_headers: Vec<String>,
    /// The steps already applied, in order (the spool replays them).
    pub header_batches: Vec<crate::spool::edits::HeaderBatch>,
    /// The message as the first ACL after DATA saw it, before any step.
    pub visible_base: Option<std::sync::Arc<crate::expand::message::Message>>,
    /// `control =` values in force (name plus any `/options`).
    pub controls: Vec<String>,
    pub logs: Vec<LogLine>,
    /// Total `delay =` requested; the SMTP engine sleeps it (skipped under `-bh`).
    pub delay: Duration,
    pub queue: Option<String>,
    /// `bmi_optin` for the next recipient accepted (Exim's `bmi_current_optin`).
    pub bmi_optin: Option<String>,
    /// Each accepted recipient's opt-in string (parallel to the recipients).
    pub bmi_optins: Vec<Option<String>>,
    /// The `dcc` answer for this message (Exim asks dccifd once per message).
    pub dcc: Option<crate::acl::engine::Rc>,
    /// `log_reject_target` for the rest of this ACL.
    pub reject_targets: Option<Vec<&'static str>>,
    /// `ratelimit` rates already computed, by lifetime (Exim's per-command,
    /// per-message and per-connection trees): key to rate.
    pub ratelimit_cmd: HashMap<String, f64>,
    pub ratelimit_mail: HashMap<String, f64>,
    pub ratelimit_conn: HashMap<String, f64>,
    warned: HashSet<String>,
    /// The current RCPT's local part and domain as sent (`$local_part` and `$domain` are
    /// lowercased): `local_parts` and `recipients` match these, as Exim does, and
    /// `control = caseful_local_part` restores the local part.
    pub rcpt_original: Option<(Vec<u8>, Vec<u8>)>,
    /// The part the MIME ACL is running for.
    pub mime: Option<crate::acl::mime::MimeCursor>,
    /// Exim's `host_and_ident` for the connection (`H=(helo) [ip]`), which prefixes
    /// `warn` log lines; set by the SMTP session before each ACL.
    pub host_ident: String,
    /// The last `spam` answer for this message (Exim asks once per message and user).
    pub spam_cache: Option<crate::acl::spam::SpamCache>,
    /// The last `malware` scan of this message (`Some(None)`: clean), and the `.eml`
    /// file scanners read (removed with the message unless `no_mbox_unspool`).
    pub malware_scan: Option<Option<Vec<u8>>>,
    pub scan_mbox: Option<crate::acl::malware::spool::SpooledMbox>,
    /// The message as received and the Received: header Exim puts first, for
    /// scanners (`spam`); the recipients, for rspamd.
    pub scan_data: Option<std::sync::Arc<Vec<u8>>>,
    pub received_header: Vec<u8>,
    /// Which of the message's own header lines are old (submission mode's `Sender:`).
    pub obsolete_headers: Vec<usize>,
    pub recipients: Vec<Vec<u8>>,
    /// The headers of the scan copy once it is fixed: Exim writes that copy once, and
    /// its MIME ACL writes it before running, so headers the MIME ACL adds are not in
    /// it. `None`: the message's headers when a scanner asks.
    pub scan_headers: Option<Vec<Vec<u8>>>,
    /// `control = freeze`: when the message was frozen (Exim's `deliver_frozen_at`).
    pub frozen_at: Option<i64>,
    /// `control = submission` and its options.
    pub submission: Option<crate::smtp::submission::Submission>,
    /// SPF outcomes already computed for this message (per client, HELO and sender).
    pub spf: Vec<(
        crate::mailauth::spf::SpfRequest,
        crate::mailauth::spf::SpfOutcome,
    )>,
    /// `verify = csa` results by domain, for the whole connection (Exim keeps them for
    /// the process, which serves one connection).
    pub csa_cache: HashMap<String, crate::acl::csa::Csa>,
}

impl MessageState {
    /// A `warn` statement succeeded: log its message once per message, keep a
    /// `message` as a header to add (Exim's deprecated behaviour).
    pub fn warn(&mut self, user: Option<String>, log: Option<String>) {
        // Exim logs only a log text of its own, not one copied from `message`.
        if let Some(l) = log.filter(|l| Some(l) != user.as_ref()) {
            let l = crate::acl::modifiers::string_printing(l.as_bytes());
            let text = if self.host_ident.is_empty() {
                format!("Warning: {l}")
            } else {
                format!("{} Warning: {l}", self.host_ident)
            };
            if self.warned.insert(text.clone()) {
                self.logs.push(LogLine {
                    targets: vec!["main"],
                    text,
                });
            }
        }
        if let Some(u) = user {
            self.add_header_lines(&u);
        }
    }

    /// Queue the header lines of an `add_header` value as Exim's `setup_header`: each
    /// line (with its continuations) may start with a position prefix; one without a
    /// header name gets `X-ACL-Warn: `; a line already queued (as the start of a
    /// queued one) is not queued again.
    pub fn add_header_lines(&mut self, value: &str) {
        let value = value.trim_start_matches('\n');
        if value.is_empty() {
            return;
        }
        let mut text = value.trim_end_matches('\n').to_string();
        text.push('\n');
        let mut rest = text.as_str();
        while !rest.is_empty() {
            let mut end = 0;
            loop {
                end += rest[end..].find('\n').map_or(rest.len() - end, |n| n + 1);
                if !rest[end..].starts_with([' ', '\t']) {
                    break;
                }
            }
            let (mut line, next) = rest.split_at(end);
            rest = next;
            let mut pos = HeaderPosition::End;
            if line.starts_with(':') {
                if let Some((p, len)) = HeaderPosition::from_prefix(line) {
                    pos = p;
                    line = &line[len..];
                }
                line = line.trim_start_matches([' ', '\t']);
            }
            let name_end = line[..line.len().saturating_sub(1)]
                .find(|c: char| c == ':' || !c.is_ascii_graphic())
                .unwrap_or(line.len().saturating_sub(1));
            let hdr = if line.as_bytes().get(name_end) == Some(&b':') {
                line.to_string()
            } else {
                format!("X-ACL-Warn: {line}")
            };
            let queued = |(p, h): &(HeaderPosition, String)| {
                *p != HeaderPosition::Direct && h.starts_with(&hdr)
            };
            if !self.add_headers.iter().any(queued) {
                self.add_headers.push((pos, hdr));
            }
        }
    }

    /// One of Exim's `add_acl_headers` steps: the queued removals and additions join
    /// the message (the spool replays them); whether there were any.
    pub fn close_header_batch(&mut self) -> bool {
        if self.add_headers.is_empty() && self.remove_headers.is_empty() {
            return false;
        }
        let added = std::mem::take(&mut self.add_headers);
        let removed = std::mem::take(&mut self.remove_headers);
        self.header_batches
            .push(crate::spool::edits::HeaderBatch { removed, added });
        true
    }

    /// Add a header at once at the end (Exim's `header_add`), before any queued line.
    pub fn add_direct(&mut self, text: String) {
        self.header_batches.push(crate::spool::edits::HeaderBatch {
            removed: Vec::new(),
            added: vec![(HeaderPosition::Direct, text)],
        });
    }

    /// Take one header step and give the message later ACLs see, if the step changed
    /// it: the message of the first step (`current` then) after every step so far.
    pub fn header_step(
        &mut self,
        current: &std::sync::Arc<crate::expand::message::Message>,
    ) -> Option<std::sync::Arc<crate::expand::message::Message>> {
        let base = self
            .visible_base
            .get_or_insert_with(|| current.clone())
            .clone();
        if !self.close_header_batch() {
            return None;
        }
        Some(std::sync::Arc::new(crate::spool::edits::visible(
            &base,
            &self.header_batches,
        )))
    }

    pub fn panic_log(&mut self, text: String) {
        self.logs.push(LogLine {
            targets: vec!["main", "panic"],
            text,
        });
    }

    pub fn has_control(&self, name: &str) -> bool {
        self.controls
            .iter()
            .any(|c| c == name || c.starts_with(&format!("{name}/")))
    }

    /// `control = enforce_sync` / `no_enforce_sync`: the last one obeyed, if any.
    pub fn sync_control(&self) -> Option<bool> {
        self.controls.iter().rev().find_map(|c| match c.as_str() {
            "enforce_sync" => Some(true),
            "no_enforce_sync" => Some(false),
            _ => None,
        })
    }

    /// Forget per-message effects (after a message, RSET, MAIL).
    pub fn reset_message(&mut self) {
        let keep: Vec<String> = self
            .controls
            .iter()
            .filter(|c| is_connection_control(c))
            .cloned()
            .collect();
        let conn = std::mem::take(&mut self.ratelimit_conn);
        let keep_mbox = self.has_control("no_mbox_unspool");
        if let Some(m) = &mut self.scan_mbox {
            m.keep = keep_mbox;
        }
        let csa_cache = std::mem::take(&mut self.csa_cache);
        *self = MessageState {
            controls: keep,
            ratelimit_conn: conn,
            csa_cache,
            // A delay not yet slept (the engine takes it after the command) survives.
            delay: self.delay,
            host_ident: std::mem::take(&mut self.host_ident),
            ..Default::default()
        };
    }

    /// A recipient was accepted: it takes the pending `bmi_optin`, which is cleared, as
    /// Exim's `receive_add_recipient` does.
    pub fn recipient_accepted(&mut self) {
        let optin = self.bmi_optin.take();
        self.bmi_optins.push(optin);
    }

    /// Forget what only lasts for one SMTP command (per-command `ratelimit` results).
    pub fn reset_command(&mut self) {
        self.ratelimit_cmd.clear();
    }
}

fn is_connection_control(c: &str) -> bool {
    let name = c.split('/').next().unwrap_or("");
    matches!(
        name,
        "enforce_sync"
            | "no_enforce_sync"
            | "no_pipelining"
            | "no_multiline_responses"
            | "dscp"
            | "allow_auth_unadvertised"
    )
}
