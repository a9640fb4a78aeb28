//! The RFC 5321 state machine: one connection's facts and its life cycle.
//!
//! Sans-IO: the caller feeds received bytes with [`Session::feed`] and sends what
//! [`Session::take_output`] returns. Each verb lives in its own file under `verbs/`;
//! the command dispatch is in `session/dispatch.rs`, replies and log lines in
//! `session/reply.rs`, ACL calls in `session/acl_call.rs`, host-list checks in
//! `session/host_check.rs`.

use std::sync::Arc;

use crate::acl::{AclSet, MessageState, Phase, Rc};
use crate::expand::{expand, Context};
use crate::smtp::config::SessionConfig;
use crate::smtp::proto::{CommandLine, Receiver};
use crate::smtp::verbs;

mod acl_call;
mod dispatch;
mod host_check;
mod reply;

pub use reply::smtp_code_len;

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
    /// MAIL asked for PRDR (with `prdr_enable` set): `$prdr_requested`.
    pub prdr: bool,
    /// The MAIL ACL discarded the message: every RCPT is discarded without its ACL.
    pub mail_discarded: bool,
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
    /// Lines for the panic log (the daemon writes them there; `-bh` shows them in `log`).
    pub panic_log: Vec<String>,
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
            panic_log: Vec::new(),
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
        // An integer in Exim, 0 until an ARC-Message-Signature verifies.
        self.ctx.set("arc_oldest_pass", "0");
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
        use std::fmt::Write;
        let mut s = String::with_capacity(64);
        s.push_str("H=");
        match (&self.peer.name, &self.helo_name) {
            (Some(n), Some(h)) if !n.eq_ignore_ascii_case(h) => {
                let _ = write!(s, "{n} ({h})");
            }
            (Some(n), _) => s += n,
            (None, Some(h)) => {
                let _ = write!(s, "({h})");
            }
            (None, None) => {}
        }
        if !self.peer.address.is_empty() {
            if s.len() > 2 {
                s.push(' ');
            }
            let _ = write!(s, "[{}]", self.peer.address);
        }
        if let Some(i) = &self.peer.ident {
            let _ = write!(s, " U={i}");
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
        self.rx.release_read_input();
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

    /// Forget the current message (MAIL, RSET, EHLO/HELO, after a message).
    pub fn reset_message(&mut self) {
        self.env = Envelope::default();
        self.acl_state.reset_message();
        self.ctx.reset_acl_m();
        self.rcpt_response = None;
        self.rcpt_response_same = true;
        self.ctx.unset_ids(
            &const {
                crate::expand::vars::ids([
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
                    "prdr_requested",
                    // Exim keeps `$arc_domains` and `$arc_oldest_pass` until the next check.
                    "arc_state",
                    "arc_state_reason",
                ])
            },
        );
        self.ctx.arc = None;
        crate::mailauth::results::reset_message(&mut self.ctx);
        self.ctx.set_id(crate::vid!("rcpt_count"), "0");
        self.ctx.set_id(crate::vid!("recipients_count"), "0");
        self.ctx.message = None;
    }

    /// A new message id in Exim's format.
    pub fn new_message_id(&mut self) -> String {
        self.messages += 1;
        let id = crate::smtp::msgid::next_id(self.pid);
        self.log_id = Some(id.clone());
        id
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
