//! Driving the session: events to handlers, the command dispatch, unknown and
//! non-mail commands, the pipelining sync check, lost connections.

use crate::expand::Val;
use crate::smtp::proto::{CommandLine, Event, Verb};
use crate::smtp::verbs;

use super::{Done, Session, State};

impl Session {
    pub(super) fn run(&mut self) {
        while self.state != State::Closed && self.tls_request.is_none() {
            let Some(ev) = self.rx.next_event() else {
                return;
            };
            let done = match ev {
                Event::Command(c) => self.command(c),
                Event::Message(body) => verbs::data::message_received(self, body),
                Event::Chunk(bytes) => verbs::data::chunk_received(self, bytes),
                Event::Line(line) => verbs::auth::auth_response(self, line),
                Event::Eof => self.lost_connection(),
            };
            if done == Done::Close {
                self.state = State::Closed;
                self.log_no_mail();
            }
        }
    }

    pub(super) fn lost_connection(&mut self) -> Done {
        if self.tls_broken {
            self.notquit("tls-failed");
            return Done::Close;
        }
        if self.state == State::Data {
            crate::smtp::hostopts::fromline_check(self, self.rx.data_lost_first_line);
            let line = format!(
                "SMTP connection from {} lost while reading message data{}",
                self.host_and_ident().trim_start_matches("H="),
                self.rx.data_lost_at
            );
            self.log(line);
            self.notquit("connection-lost");
            self.reply("421 Lost incoming connection");
            return Done::Close;
        }
        self.notquit("connection-lost");
        if matches!(self.state, State::Data | State::Chunk { .. }) {
            self.reply("421 Lost incoming connection");
        } else {
            let text = format!("{} lost input connection", self.active_hostname());
            self.reply(&format!("421 {text}"));
        }
        let what = match self.state {
            State::Data | State::Chunk { .. } => "reading message data",
            _ => "reading SMTP command",
        };
        // Outside a transaction Exim writes this only under its smtp_connection
        // selector (some clients just drop the call instead of sending QUIT).
        let in_transaction = self.env.sender.is_some() || !self.env.recipients.is_empty();
        if what == "reading SMTP command" && !in_transaction {
            return Done::Close;
        }
        let helo = self.host_and_ident().trim_start_matches("H=").to_string();
        let duration = self.duration();
        self.log(format!(
            "unexpected disconnection while {what} from {helo} D={duration}"
        ));
        Done::Close
    }

    /// Time since the connection started, as `D=` shows it.
    pub(super) fn duration(&self) -> String {
        let secs = self.started.elapsed().as_secs();
        crate::config::options::print_time(i64::try_from(secs).unwrap_or(i64::MAX))
    }

    /// Exim's `smtp_log_no_mail`: with `log_selector = +smtp_no_mail`, a connection that
    /// ends without any MAIL command gets a line with its command history.
    pub(super) fn log_no_mail(&mut self) {
        if self.mail_commands > 0 || !self.cfg.log_session.no_mail {
            return;
        }
        let line = format!(
            "no MAIL in SMTP connection from {} D={}{}{}{}",
            self.host_and_ident().trim_start_matches("H="),
            self.duration(),
            self.auth_log_element(),
            self.cfg.log_tls.fields(self.tls.as_ref()),
            self.history.log_element()
        );
        self.log(line);
    }

    pub(super) fn command(&mut self, c: CommandLine) -> Done {
        // Per-command ACL state (per_cmd/per_rcpt ratelimit results) lasts one command.
        self.acl_state.reset_command();
        self.ctx
            .set_id(crate::vid!("smtp_command"), Val::tainted(c.line.clone()));
        self.ctx.set_id(
            crate::vid!("smtp_command_argument"),
            Val::tainted(c.arg.clone()),
        );
        self.cmd = c.clone();
        if self.tls_broken {
            return verbs::starttls::after_failure(self, c.verb);
        }
        self.was_rej_mail = false;
        self.was_rcpt = false;
        if self.out_of_sync(c.verb) {
            return self.sync_failure();
        }
        let bad_argument = c.verb.is_some_and(|v| !v.has_arg() && !c.arg.is_empty());
        let done = if c.had_nul {
            self.synprot_log("syntax", "NUL character(s) present (shown as '?')");
            self.reply("501 NUL characters are not allowed in SMTP commands");
            Done::Continue
        } else if c.verb.is_some_and(|v| self.too_many_nonmail(v)) {
            self.nonmail_failure()
        } else {
            if let Some(v) = c.verb.filter(|_| !bad_argument) {
                // STARTTLS loses its free use only once it gets past its checks
                // (verbs/starttls.rs), as in Exim.
                if v != Verb::Starttls {
                    self.nonmail.used(v);
                }
                self.history.had(v);
                if v == Verb::Mail {
                    self.mail_commands += 1;
                }
            }
            match c.verb {
                Some(v) if !v.has_arg() && !c.arg.is_empty() => {
                    self.synprot_error("syntax", 501, "unexpected argument data")
                }
                Some(Verb::Helo) => verbs::ehlo::handle_ehlo(self, false),
                Some(Verb::Ehlo) => verbs::ehlo::handle_ehlo(self, true),
                Some(Verb::Mail) => verbs::mail::handle_mail(self),
                Some(Verb::Rcpt) => verbs::rcpt::handle_rcpt(self),
                Some(Verb::Data) => verbs::data::handle_data(self),
                Some(Verb::Bdat) => verbs::data::handle_bdat(self),
                Some(Verb::Rset) => verbs::misc::handle_rset(self),
                Some(Verb::Noop) => verbs::misc::handle_noop(self),
                Some(Verb::Quit) => verbs::misc::handle_quit(self),
                Some(Verb::Help) => verbs::misc::handle_help(self),
                Some(Verb::Vrfy) => verbs::vrfy::handle_vrfy(self),
                Some(Verb::Expn) => verbs::vrfy::handle_expn(self),
                Some(Verb::Etrn) => verbs::misc::handle_etrn(self),
                Some(Verb::Starttls) => verbs::starttls::handle_starttls(self),
                Some(Verb::Auth) => verbs::auth::handle_auth(self),
                None => self.unknown_command(),
            }
        };
        self.last_was_rej_mail = self.was_rej_mail;
        self.last_was_rcpt = self.was_rcpt;
        done
    }

    /// An unrecognised command: a syntax error, and the end of the connection after
    /// `smtp_max_unknown_commands` of them.
    pub(super) fn unknown_command(&mut self) -> Done {
        self.unknown_commands += 1;
        if self.unknown_commands <= self.cfg.smtp_max_unknown_commands {
            return self.synprot_error("syntax", 500, "unrecognized command");
        }
        self.synprot_log("syntax", "unrecognized command");
        self.notquit("bad-commands");
        self.reply("500 Too many unrecognized commands");
        let line = format!(
            "SMTP call from {} dropped: too many unrecognized commands (last was \"{}\")",
            self.host_and_ident().trim_start_matches("H="),
            String::from_utf8_lossy(&self.cmd.line)
        );
        self.log(line);
        Done::Close
    }

    /// Count a non-mail command (for hosts in `smtp_accept_max_nonmail_hosts`); true when
    /// there have been too many.
    pub(super) fn too_many_nonmail(&mut self, verb: Verb) -> bool {
        if self.nonmail.is_free(verb) {
            return false;
        }
        let counted = match self.nonmail_host {
            Some(b) => b,
            None => {
                let hosts = self.cfg.smtp_accept_max_nonmail_hosts.clone();
                let b = self.host_option("smtp_accept_max_nonmail_hosts", &hosts);
                self.nonmail_host = Some(b);
                b
            }
        };
        counted && self.nonmail.count(verb, self.cfg.smtp_accept_max_nonmail)
    }

    pub(super) fn nonmail_failure(&mut self) -> Done {
        let word = self.cmd.line.split(u8::is_ascii_whitespace).next();
        let line = format!(
            "SMTP call from {} dropped: too many nonmail commands (last was \"{}\")",
            self.host_and_ident().trim_start_matches("H="),
            String::from_utf8_lossy(word.unwrap_or_default())
        );
        self.log(line);
        self.notquit("bad-commands");
        self.reply("554 Too many nonmail commands");
        Done::Close
    }

    /// Did the client send more input after a command that must wait for its reply?
    pub(super) fn out_of_sync(&self, verb: Option<Verb>) -> bool {
        let enforce = self
            .acl_state
            .sync_control()
            .unwrap_or(self.cfg.smtp_enforce_sync);
        if !self.sync_check || !enforce || !self.rx.pending() {
            return false;
        }
        match verb {
            Some(
                Verb::Helo
                | Verb::Ehlo
                | Verb::Data
                | Verb::Vrfy
                | Verb::Expn
                | Verb::Noop
                | Verb::Etrn
                | Verb::Starttls,
            ) => true,
            Some(Verb::Mail | Verb::Rcpt | Verb::Rset) => !self.offered.pipelining,
            _ => false,
        }
    }

    pub(super) fn sync_failure(&mut self) -> Done {
        let line = format!(
            "SMTP protocol synchronization error (next input sent too soon: pipelining was{} advertised): rejected \"{}\" {}",
            if self.offered.pipelining { "" } else { " not" },
            String::from_utf8_lossy(&self.cmd.line),
            self.host_and_ident()
        );
        self.log(line);
        self.notquit("synchronization-error");
        self.reply("554 SMTP synchronization error");
        Done::Close
    }
}
