//! The RFC 5321 state machine: one connection's facts, its replies, and the ACL calls.
//!
//! Sans-IO: the caller feeds received bytes with [`Session::feed`] and sends what
//! [`Session::take_output`] returns. Each verb lives in its own file under `verbs/`.

use std::sync::Arc;

use crate::acl::{run_acl, AclSet, MessageState, Phase, Rc, Verdict};
use crate::expand::{expand, Context, Expansion, Val};
use crate::smtp::config::SessionConfig;
use crate::smtp::proto::{CommandLine, Event, Receiver, Verb};
use crate::smtp::verbs;

/// Who is calling: the facts `-bh` and `-oMa`/`-oMs`/`-oMi` provide.
#[derive(Debug, Clone, Default)]
pub struct Peer {
    pub address: String,
    pub port: u16,
    /// `-oMs`: the host name, as if a reverse lookup had found it.
    pub name: Option<String>,
    /// `-oMi`: the local interface address.
    pub interface_address: Option<String>,
    pub interface_port: u16,
    /// `-oMt`: the ident string.
    pub ident: Option<String>,
}

/// Where the session is in the SMTP dialogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Before the banner (or after a connect-ACL rejection).
    Connect,
    Command,
    /// Reading DATA after `354`.
    Data,
    /// Reading a BDAT chunk.
    Chunk {
        last: bool,
    },
    /// Waiting for the answer to an AUTH `334` prompt.
    Auth,
    Closed,
}

/// The current message envelope.
#[derive(Debug, Default, Clone)]
pub struct Envelope {
    pub sender: Option<Vec<u8>>,
    pub recipients: Vec<Vec<u8>>,
    /// RCPT commands seen, accepted or not (`$rcpt_count`).
    pub rcpt_count: u32,
    pub size: Option<u64>,
    pub smtputf8: bool,
    /// BDAT data received so far.
    pub chunks: Vec<u8>,
    pub discarded: bool,
    /// DSN (RFC 3461): `RET=` as Exim's `dsn_ret` (0 unset, 1 FULL, 2 HDRS), `ENVID=`,
    /// and each accepted recipient's `NOTIFY=`/`ORCPT=` (parallel to `recipients`).
    pub dsn_ret: u8,
    pub dsn_envid: Option<Vec<u8>>,
    pub recipient_dsn: Vec<RecipientDsn>,
}

/// A recipient's DSN parameters.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RecipientDsn {
    /// `NOTIFY=` as Exim's `rf_notify_*` bits.
    pub flags: u32,
    pub orcpt: Option<Vec<u8>>,
}

/// One SMTP connection.
pub struct Session {
    pub cfg: Arc<SessionConfig>,
    pub acls: Arc<AclSet>,
    pub ctx: Context,
    pub acl_state: MessageState,
    pub peer: Peer,
    pub state: State,
    pub env: Envelope,
    /// `-bh`: no delays, messages discarded, the fake-id notice after 250.
    pub host_checking: bool,
    /// Durable storage for accepted messages (not used under `-bh`).
    pub sink: Option<std::sync::Arc<dyn crate::smtp::sink::MessageSink>>,
    /// Lines Exim would write to its logs (the `LOG:` lines of `-bh`).
    pub log: Vec<String>,
    pub(crate) rx: Receiver,
    out: Vec<u8>,
    pub(crate) helo_name: Option<String>,
    pub(crate) helo_seen: bool,
    pub(crate) esmtp: bool,
    pub(crate) synprot_errors: u32,
    pub(crate) unknown_commands: u32,
    pub(crate) offered: Offered,
    pub(crate) last_was_rej_mail: bool,
    pub(crate) last_was_rcpt: bool,
    pub(crate) was_rej_mail: bool,
    pub(crate) was_rcpt: bool,
    /// First reply to RCPT commands, and whether all were the same.
    pub(crate) rcpt_response: Option<String>,
    pub(crate) rcpt_response_same: bool,
    pub(crate) rcpt_in_progress: bool,
    pub(crate) cmd: CommandLine,
    pub(crate) messages: u32,
    pub(crate) pid: u32,
    /// Enforce SMTP synchronization (a real socket; `-bh` reads a pipe and does not).
    pub sync_check: bool,
    /// Skip the chunk of a refused BDAT.
    pub(crate) bdat_skip: bool,
    /// AUTH: what was advertised, who authenticated, an exchange in progress.
    pub(crate) auth: verbs::auth::AuthState,
    /// `smtp_accept_max_nonmail`: the count, and whether the host is subject to it.
    pub(crate) nonmail: crate::smtp::nonmail::NonMail,
    nonmail_host: Option<bool>,
    /// PIPECONNECT may be advertised only until the first DATA/BDAT (Exim).
    pub(crate) pipe_connect_acceptable: bool,
    /// STARTTLS (`verbs/starttls.rs`): whether the driver can run a handshake (the
    /// daemon; `-bh` cannot), the TLS session in use, an accepted STARTTLS waiting for
    /// the driver (no input is read meanwhile), and a failed one (only QUIT works).
    pub tls_available: bool,
    pub tls: Option<crate::smtp::tls::TlsFacts>,
    pub(crate) tls_request: Option<crate::smtp::tls::TlsRequest>,
    pub(crate) tls_broken: bool,
    /// `-bh`: STARTTLS is offered without a certificate (Exim's self-signed default);
    /// the driver reports the handshake failed, as Exim's attempt on stdin does.
    pub tls_simulated: bool,
    /// The id of the latest message: Exim starts every later log line of the connection
    /// with it.
    pub(crate) log_id: Option<String>,
    /// The last commands (the `C=` of "dropped" and "no MAIL" lines), MAIL commands
    /// seen, and when the connection started (`D=`).
    pub(crate) history: crate::smtp::history::History,
    pub(crate) mail_commands: u32,
    started: std::time::Instant,
    /// What the connection-time host-list checks decided (`hostopts.rs`).
    pub(crate) host_flags: crate::smtp::hostopts::HostFlags,
}

/// What the last EHLO advertised.
#[derive(Debug, Clone, Copy, Default)]
pub struct Offered {
    pub pipelining: bool,
    pub chunking: bool,
    pub dsn: bool,
    pub smtputf8: bool,
    pub tls: bool,
}

/// How a handler leaves the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    Continue,
    /// Close without further replies (drop, too many errors, QUIT).
    Close,
}

impl Session {
    pub fn new(cfg: Arc<SessionConfig>, acls: Arc<AclSet>, ctx: Context, peer: Peer) -> Session {
        let mut s = Session {
            cfg,
            acls,
            ctx,
            acl_state: MessageState::default(),
            peer,
            state: State::Connect,
            env: Envelope::default(),
            host_checking: false,
            sink: None,
            log: Vec::new(),
            rx: Receiver::new(),
            out: Vec::new(),
            helo_name: None,
            helo_seen: false,
            esmtp: false,
            synprot_errors: 0,
            unknown_commands: 0,
            offered: Offered::default(),
            last_was_rej_mail: false,
            last_was_rcpt: false,
            was_rej_mail: false,
            was_rcpt: false,
            rcpt_response: None,
            rcpt_response_same: true,
            rcpt_in_progress: false,
            cmd: crate::smtp::proto::split_command(b""),
            messages: 0,
            pid: std::process::id(),
            bdat_skip: false,
            sync_check: false,
            auth: verbs::auth::AuthState::default(),
            nonmail: crate::smtp::nonmail::NonMail::default(),
            nonmail_host: None,
            pipe_connect_acceptable: true,
            tls_available: false,
            tls: None,
            tls_request: None,
            tls_broken: false,
            tls_simulated: false,
            log_id: None,
            history: Default::default(),
            mail_commands: 0,
            started: std::time::Instant::now(),
            host_flags: Default::default(),
        };
        s.set_connection_vars();
        s
    }

    fn set_connection_vars(&mut self) {
        let host = self.cfg.primary_hostname.clone();
        self.ctx.set("primary_hostname", host.as_str());
        self.ctx.set("smtp_active_hostname", host.as_str());
        let ip = self.peer.address.clone();
        self.ctx.set("sender_host_address", ip.as_str());
        self.ctx.set("sender_host_port", self.peer.port.to_string());
        if let Some(n) = self.peer.name.clone() {
            self.ctx.set("sender_host_name", n.as_str());
        }
        if let Some(i) = self.peer.interface_address.clone() {
            self.ctx.set("received_ip_address", i.as_str());
            self.ctx.set("interface_address", i.as_str());
            self.ctx
                .set("received_port", self.peer.interface_port.to_string());
            self.ctx
                .set("interface_port", self.peer.interface_port.to_string());
        }
        if let Some(i) = self.peer.ident.clone() {
            self.ctx.set("sender_ident", i.as_str());
        }
        self.ctx.set("received_protocol", "smtp");
        self.ctx.set("sender_rcvhost", self.rcvhost());
    }

    fn rcvhost(&self) -> String {
        match &self.peer.name {
            Some(n) => format!("{n} ([{}])", self.peer.address),
            None => format!("[{}]", self.peer.address),
        }
    }

    /// `H=(helo) [ip]` as Exim's `host_and_ident` writes it for logs.
    pub fn host_and_ident(&self) -> String {
        let mut s = String::from("H=");
        match (&self.peer.name, &self.helo_name) {
            (Some(n), Some(h)) if !n.eq_ignore_ascii_case(h) => s += &format!("{n} ({h})"),
            (Some(n), _) => s += n,
            (None, Some(h)) => s += &format!("({h})"),
            (None, None) => {}
        }
        if !self.peer.address.is_empty() {
            if s.len() > 2 {
                s.push(' ');
            }
            s += &format!("[{}]", self.peer.address);
        }
        if let Some(i) = &self.peer.ident {
            s += &format!(" U={i}");
        }
        s
    }

    /// ` A=name:id` for log lines once the client has authenticated (empty otherwise).
    pub fn auth_log_element(&self) -> String {
        let Some(au) = self.auth.authenticator(self) else {
            return String::new();
        };
        match self.ctx.get("authenticated_id") {
            Some(id) => format!(" A={}:{}", au.name, id.as_str_lossy()),
            None => format!(" A={}", au.name),
        }
    }

    pub fn active_hostname(&self) -> &str {
        &self.cfg.primary_hostname
    }

    /// Send the banner (after the connect ACL). Call once, before feeding input.
    pub fn start(&mut self) {
        if !crate::smtp::hostopts::connection_checks(self) {
            self.state = State::Closed;
            return;
        }
        if let Some(spec) = self.cfg.acl_smtp_connect.clone() {
            let v = self.acl(Phase::Connect, &spec);
            if v.rc != Rc::Ok {
                self.acl_fail(Phase::Connect, &v);
                self.state = State::Closed;
                return;
            }
        }
        let banner = self.cfg.smtp_banner.clone();
        match expand(&banner, &mut self.ctx) {
            Ok(v) => {
                let text = v.as_str_lossy().into_owned();
                let hosts = self.cfg.pipelining_connect_advertise_hosts.clone();
                self.pipe_connect_acceptable = !self.peer.address.is_empty()
                    && self.host_option("pipelining_connect_advertise_hosts", &hosts);
                self.respond("220", true, &text);
                self.state = State::Command;
            }
            Err(e) => {
                self.log(format!(
                    "Expansion of \"{}\" (smtp_banner) failed: {}",
                    banner.source(),
                    e.message
                ));
                self.reply("451 Temporary local problem - please try later");
                self.state = State::Closed;
            }
        }
    }

    /// Feed received bytes and answer every complete command in them.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.rx.feed(bytes);
        self.run();
    }

    /// The peer closed the connection.
    pub fn close_input(&mut self) {
        self.rx.close();
        self.run();
    }

    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Replies produced so far.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    fn run(&mut self) {
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

    fn lost_connection(&mut self) -> Done {
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
    fn duration(&self) -> String {
        let secs = self.started.elapsed().as_secs();
        crate::config::options::print_time(i64::try_from(secs).unwrap_or(i64::MAX))
    }

    /// Exim's `smtp_log_no_mail`: with `log_selector = +smtp_no_mail`, a connection that
    /// ends without any MAIL command gets a line with its command history.
    fn log_no_mail(&mut self) {
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

    fn command(&mut self, c: CommandLine) -> Done {
        // Per-command ACL state (per_cmd/per_rcpt ratelimit results) lasts one command.
        self.acl_state.reset_command();
        self.ctx.set("smtp_command", Val::tainted(c.line.clone()));
        self.ctx
            .set("smtp_command_argument", Val::tainted(c.arg.clone()));
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
    fn unknown_command(&mut self) -> Done {
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
    fn too_many_nonmail(&mut self, verb: Verb) -> bool {
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

    fn nonmail_failure(&mut self) -> Done {
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
    fn out_of_sync(&self, verb: Option<Verb>) -> bool {
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

    fn sync_failure(&mut self) -> Done {
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

    /// Write one reply line (CRLF added).
    pub fn reply(&mut self, line: &str) {
        if self.rcpt_in_progress {
            self.note_rcpt_response(line.to_string());
        }
        self.out.extend_from_slice(line.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// Write raw text (the `-bh` notices).
    pub fn write_raw(&mut self, text: &str) {
        self.out.extend_from_slice(text.as_bytes());
    }

    fn note_rcpt_response(&mut self, text: String) {
        match &self.rcpt_response {
            None => self.rcpt_response = Some(text),
            Some(old) if *old != text => self.rcpt_response_same = false,
            Some(_) => {}
        }
        self.rcpt_in_progress = false;
    }

    /// Exim's `smtp_respond`: `code` may carry an enhanced status (`550 5.7.1 `); each
    /// newline in `msg` starts a continuation line.
    pub fn respond(&mut self, code: &str, last: bool, msg: &str) {
        if self.rcpt_in_progress {
            self.note_rcpt_response(msg.to_string());
        }
        let (num, esc) = if code.len() > 4 {
            (&code[..3], &code[4..])
        } else {
            (&code[..3.min(code.len())], "")
        };
        let mut rest = msg;
        loop {
            match rest.find('\n') {
                None => {
                    let sep = if last { ' ' } else { '-' };
                    self.raw_line(&format!("{num}{sep}{esc}{rest}"));
                    return;
                }
                Some(i) if i + 1 == rest.len() => {
                    let sep = if last { ' ' } else { '-' };
                    self.raw_line(&format!("{num}{sep}{esc}{}", &rest[..i]));
                    return;
                }
                Some(i) => {
                    self.raw_line(&format!("{num}-{esc}{}", &rest[..i]));
                    rest = rest[i + 1..].trim_start();
                }
            }
        }
    }

    fn raw_line(&mut self, line: &str) {
        self.out.extend_from_slice(line.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    pub fn log(&mut self, line: String) {
        // The `-bh` trace written so far comes first.
        if self.ctx.trace.is_some() {
            let trace = self.ctx.take_trace();
            self.log.extend(trace);
        }
        match &self.log_id {
            Some(id) if !line.starts_with(id.as_str()) => self.log.push(format!("{id} {line}")),
            _ => self.log.push(line),
        }
    }

    fn synprot_log(&mut self, kind: &str, msg: &str) {
        if !self.cfg.log_session.synprot(kind) {
            return;
        }
        let line = format!(
            "SMTP {kind} error in \"{}\" {} {msg}",
            String::from_utf8_lossy(&self.cmd.line),
            self.host_and_ident()
        );
        self.log(line);
    }

    /// Exim's `synprot_error`: reply, count, and close once the count passes
    /// `smtp_max_synprot_errors`.
    pub fn synprot_error(&mut self, kind: &str, code: u16, msg: &str) -> Done {
        self.synprot_error_data(kind, code, None, msg)
    }

    pub fn synprot_error_data(
        &mut self,
        kind: &str,
        code: u16,
        data: Option<&str>,
        msg: &str,
    ) -> Done {
        self.synprot_log(kind, msg);
        self.synprot_errors += 1;
        let over = self.synprot_errors > self.cfg.smtp_max_synprot_errors;
        if over {
            self.too_many_errors_log();
        }
        let sep = if over { '-' } else { ' ' };
        let data = data.map(|d| format!("{d}: ")).unwrap_or_default();
        self.reply(&format!("{code}{sep}{data}{msg}"));
        if over {
            self.reply(&format!("{code} Too many syntax or protocol errors"));
            Done::Close
        } else {
            Done::Continue
        }
    }

    pub(crate) fn too_many_errors_log(&mut self) {
        let line = format!(
            "SMTP call from {} dropped: too many syntax or protocol errors (last command was \"{}\", {})",
            self.host_and_ident().trim_start_matches("H="),
            String::from_utf8_lossy(&self.cmd.line),
            self.history.log_element()
        );
        self.log(line);
    }

    /// Run an ACL for a phase, collecting its log lines.
    pub fn acl(&mut self, phase: Phase, spec: &Expansion) -> Verdict {
        self.acl_state.host_ident = self.host_and_ident();
        let v = run_acl(
            &mut self.ctx,
            &self.acls,
            &mut self.acl_state,
            phase,
            spec,
            self.host_checking,
        );
        for l in std::mem::take(&mut self.acl_state.logs) {
            if l.targets.is_empty() {
                // A `-bh` trace line, already in order.
                self.log.push(l.text);
            } else {
                self.log(l.text);
            }
        }
        v
    }

    /// Exim's `smtp_handle_acl_fail`: the reply for a refused command and its log line.
    pub fn acl_fail(&mut self, phase: Phase, v: &Verdict) -> Done {
        let drop = v.rc == Rc::FailDrop;
        let fail = matches!(v.rc, Rc::Fail | Rc::FailDrop);
        let default = if fail {
            phase.reject_code().to_string()
        } else {
            "451".to_string()
        };
        let mut code = default.clone();
        let mut user = v.user_message.clone();
        let mut logm = v.log_message.clone();
        if let Some(u) = user.clone() {
            if let Some(len) = smtp_code_len(&u) {
                if phase != Phase::Vrfy && u.as_bytes()[0] != default.as_bytes()[0] {
                    self.log(format!(
                        "configured error code starts with incorrect digit (expected {}) in \"{u}\"",
                        &default[..1]
                    ));
                    if logm.as_deref() == Some(u.as_str()) {
                        logm = Some(format!("{default} {}", &u[len..]));
                    }
                } else {
                    code = u[..len].to_string();
                }
                user = Some(u[len..].to_string());
            }
        }
        let what = match phase {
            Phase::Predata => "DATA".to_string(),
            Phase::Data => "after DATA".to_string(),
            Phase::Mime => "during MIME ACL checks".to_string(),
            Phase::Connect => "connection in \"connect\" ACL".to_string(),
            // Only the mechanism: the rest may hold credentials.
            Phase::Auth => format!(
                "AUTH {}",
                String::from_utf8_lossy(
                    self.cmd
                        .arg
                        .split(u8::is_ascii_whitespace)
                        .next()
                        .unwrap_or(b"")
                )
            ),
            _ => format!(
                "{} {}",
                phase.name(),
                String::from_utf8_lossy(&self.cmd.arg)
            ),
        };
        let sender_info = match phase {
            Phase::Rcpt | Phase::Data | Phase::Mime => format!(
                "F=<{}>{} ",
                String::from_utf8_lossy(self.env.sender.as_deref().unwrap_or_default()),
                self.auth_log_element()
            ),
            _ => String::new(),
        };
        if fail {
            let msg = user
                .clone()
                .unwrap_or_else(|| "Administrative prohibition".into());
            self.respond(&code, true, &msg);
        } else {
            match user.clone() {
                Some(u) if v.rc == Rc::Defer => self.respond(&code, true, &u),
                _ => self.respond(&code, true, "Temporary local problem - please try later"),
            }
        }
        let logm = logm
            .map(|m| format!(": {}", m.split('\n').next().unwrap_or("")))
            .unwrap_or_default();
        let line = format!(
            "{}{} {sender_info}{}rejected {what}{logm}",
            self.host_and_ident(),
            self.cfg.log_tls.fields(self.tls.as_ref()),
            if fail { "" } else { "temporarily " }
        );
        self.log(line);
        if drop {
            self.notquit("acl-drop");
            Done::Close
        } else {
            Done::Continue
        }
    }

    /// The not-QUIT ACL, run when a connection ends any other way than QUIT.
    pub fn notquit(&mut self, reason: &str) {
        if let Some(spec) = self.cfg.acl_smtp_notquit.clone() {
            self.ctx.set("smtp_notquit_reason", reason);
            let v = self.acl(Phase::NotQuit, &spec);
            if v.rc == Rc::Error {
                self.log(format!(
                    "ACL for not-QUIT returned ERROR: {}",
                    v.log_message.unwrap_or_default()
                ));
            }
        }
    }

    /// Forget the current message (MAIL, RSET, EHLO/HELO, after a message).
    pub fn reset_message(&mut self) {
        self.env = Envelope::default();
        self.acl_state.reset_message();
        self.ctx.reset_acl_m();
        self.rcpt_response = None;
        self.rcpt_response_same = true;
        for v in [
            "sender_address",
            "local_part",
            "domain",
            "sender_address_domain",
            "sender_address_local_part",
            "message_exim_id",
            "message_id",
            "authenticated_sender",
            "spf_header_comment",
            "spf_received",
            "spf_result",
            "spf_result_guessed",
            "spf_smtp_comment",
        ] {
            self.ctx.unset(v);
        }
        self.ctx.set("rcpt_count", "0");
        self.ctx.set("recipients_count", "0");
        self.ctx.message = None;
    }

    /// A new message id in Exim's format.
    pub fn new_message_id(&mut self) -> String {
        self.messages += 1;
        let id = crate::smtp::msgid::next_id(self.pid);
        self.log_id = Some(id.clone());
        id
    }

    /// Does the calling host match the host-list option `name`? Traced under `-bh` as
    /// Exim traces its own option checks (`host in NAME? no (option unset)`).
    pub fn host_option(&mut self, name: &str, list: &str) -> bool {
        if list.is_empty() && !self.cfg.empty_lists.iter().any(|n| n == name) {
            self.ctx
                .trace(|| format!("host in {name}? no (option unset)"));
            return false;
        }
        let ip = self.peer.address.clone();
        let host = self.peer.name.clone();
        matches!(
            crate::listmatch::match_host_option(
                &mut self.ctx,
                ip.as_bytes(),
                host.as_deref().map(str::as_bytes),
                list.as_bytes(),
                name
            ),
            Ok(Some(_))
        )
    }

    /// The domain unqualified senders get (`qualify_domain`, else `primary_hostname`),
    /// and unqualified recipients (`qualify_recipient`, else the former).
    pub fn qualify_domain(&self, recipient: bool) -> String {
        let c = &self.cfg;
        if recipient && !c.qualify_recipient.is_empty() {
            return c.qualify_recipient.clone();
        }
        if c.qualify_domain.is_empty() {
            c.primary_hostname.clone()
        } else {
            c.qualify_domain.clone()
        }
    }

    /// Does the calling host match a host list (untraced)?
    pub fn host_in(&mut self, list: &str) -> bool {
        if list.is_empty() {
            return false;
        }
        let ip = self.peer.address.clone();
        let name = self.peer.name.clone();
        // Not traced: the `-bh` trace names these option checks, which rexim does not yet.
        let trace = self.ctx.trace.take();
        let hit = matches!(
            crate::listmatch::match_host(
                &mut self.ctx,
                ip.as_bytes(),
                name.as_deref().map(str::as_bytes),
                list.as_bytes(),
                true
            ),
            Ok(Some(_))
        );
        self.ctx.trace = trace;
        hit
    }
}

/// Length of a leading SMTP code in a custom message (`550 ` or `550 5.7.1 `), as
/// Exim's `regex_smtp_code` matches it.
pub fn smtp_code_len(msg: &str) -> Option<usize> {
    let b = msg.as_bytes();
    if b.len() < 4 || !b[..3].iter().all(u8::is_ascii_digit) || !b[3].is_ascii_whitespace() {
        return None;
    }
    let mut len = 4;
    // Optional enhanced status code d.ddd.ddd followed by white space.
    let rest = &b[4..];
    let mut i = 0;
    let digits = |i: &mut usize, min: usize, max: usize| -> bool {
        let start = *i;
        while *i < rest.len() && rest[*i].is_ascii_digit() && *i - start < max {
            *i += 1;
        }
        *i - start >= min
    };
    if digits(&mut i, 1, 1)
        && rest.get(i) == Some(&b'.')
        && {
            i += 1;
            digits(&mut i, 1, 3)
        }
        && rest.get(i) == Some(&b'.')
        && {
            i += 1;
            digits(&mut i, 1, 3)
        }
        && rest.get(i).is_some_and(u8::is_ascii_whitespace)
    {
        len += i + 1;
    }
    Some(len)
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
