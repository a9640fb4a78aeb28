//! `STARTTLS`: the checks and the implied RSET, the request to the driver, and what the
//! session forgets once TLS is up (Exim's smtp_in.c rules).

use crate::acl::{Phase, Rc};
use crate::expand::{expand, Expansion};
use crate::smtp::proto::Verb;
use crate::smtp::session::{Done, Session};
use crate::smtp::tls::{ClientVerify, TlsFacts, TlsRequest};

/// `STARTTLS` (arguments were already refused with 501 by the session).
pub fn handle_starttls(s: &mut Session) -> Done {
    if !s.offered.tls {
        return s.synprot_error("protocol", 503, "STARTTLS command used when not advertised");
    }
    if let Some(spec) = s.cfg.acl_smtp_starttls.clone() {
        let v = s.acl(Phase::Starttls, &spec);
        if v.rc != Rc::Ok {
            return s.acl_fail(Phase::Starttls, &v);
        }
    }
    s.nonmail.used(Verb::Starttls);
    // An implied RSET; and nothing the client sent in clear after the command may be
    // taken as sent under TLS (the STARTTLS command-injection attack).
    s.reset_message();
    s.rx.discard();
    if s.tls.is_some() {
        // EHLO stops offering STARTTLS under TLS; this is a repeat before any EHLO.
        log_tls_error(s, "(STARTTLS received after TLS started): ");
        s.reply("554 Already in TLS");
        s.tls_broken = true;
        return Done::Continue;
    }
    match request(s) {
        Ok(r) => s.tls_request = Some(r),
        Err(e) => {
            log_tls_error(s, &e);
            s.reply("454 TLS currently unavailable");
        }
    }
    Done::Continue
}

/// Expand one TLS option for this connection. A file name must not come from the
/// network (taint), as everywhere in Exim.
fn expand_option(
    s: &mut Session,
    name: &str,
    e: Option<&Expansion>,
    file: bool,
) -> Result<String, String> {
    let Some(e) = e else {
        return Ok(String::new());
    };
    let v = expand(e, &mut s.ctx).map_err(|err| {
        format!(
            "({name}): expansion of \"{}\" failed: {}",
            e.source(),
            err.message
        )
    })?;
    let text = v.as_str_lossy().into_owned();
    if file && v.tainted && !text.is_empty() && text != "system" {
        return Err(format!("({name}): tainted file name \"{text}\" refused"));
    }
    Ok(text)
}

/// The option values the driver needs, expanded and matched for this host.
fn request(s: &mut Session) -> Result<TlsRequest, String> {
    let cfg = s.cfg.clone();
    // Unset: the daemon's self-signed certificate, as Exim's. Set but expanding to
    // nothing, Exim loads no certificate and its handshake fails: rexim says so first.
    let certificate = expand_option(s, "tls_certificate", cfg.tls_certificate.as_ref(), true)?;
    if certificate.is_empty() && cfg.tls_certificate.is_some() && !s.tls_simulated {
        return Err("(tls_certificate): expanded to an empty string: no certificate".into());
    }
    let privatekey = expand_option(s, "tls_privatekey", cfg.tls_privatekey.as_ref(), true)?;
    let require_ciphers = expand_option(
        s,
        "tls_require_ciphers",
        cfg.tls_require_ciphers.as_ref(),
        false,
    )?;
    // Exim's order of the host checks (the -bh trace shows it).
    let resumption = s.host_option("tls_resumption_hosts", &cfg.tls_resumption_hosts);
    let verify = if s.host_option("tls_verify_hosts", &cfg.tls_verify_hosts) {
        ClientVerify::Required
    } else if s.host_option("tls_try_verify_hosts", &cfg.tls_try_verify_hosts) {
        ClientVerify::Try
    } else {
        ClientVerify::None
    };
    let (verify_certificates, crl) = if verify == ClientVerify::None {
        (String::new(), String::new())
    } else {
        let cas = expand_option(
            s,
            "tls_verify_certificates",
            Some(&cfg.tls_verify_certificates),
            true,
        )?;
        (
            cas,
            expand_option(s, "tls_crl", cfg.tls_crl.as_ref(), true)?,
        )
    };
    let alpn = expand_option(s, "tls_alpn", cfg.tls_alpn.as_ref(), false)?;
    let alpn = crate::expand::lists::iter(alpn.as_bytes())
        .map(|n| String::from_utf8_lossy(&n).trim().to_string())
        .filter(|n| !n.is_empty())
        .collect();
    let alpn: Vec<String> = alpn;
    // Exim checks the list after the handshake, and only when tls_alpn is in force (and
    // -bh never gets that far).
    let require_alpn = !alpn.is_empty() && !s.tls_simulated && s.host_in(&cfg.hosts_require_alpn);
    let eccurve = expand_option(s, "tls_eccurve", cfg.tls_eccurve.as_ref(), false)?;
    crate::smtp::tls::groups::select(&eccurve)?;
    let ocsp_file = expand_option(s, "tls_ocsp_file", cfg.tls_ocsp_file.as_ref(), true)?;
    Ok(TlsRequest {
        certificate,
        privatekey,
        require_ciphers,
        verify,
        verify_certificates,
        crl,
        resumption,
        alpn,
        require_alpn,
        eccurve,
        ocsp_file,
    })
}

/// Does `tls_certificate` name the SNI variable? Then Exim re-expands the certificate
/// options once the ClientHello has arrived.
fn reexpands_for_sni(s: &Session) -> bool {
    s.cfg.tls_certificate.as_ref().is_some_and(|e| {
        let src = e.source();
        ["tls_sni", "tls_in_sni", "tls_out_sni"]
            .iter()
            .any(|n| src.contains(n))
    })
}

/// Exim's `smtp_log_tls_fail`: `TLS error on connection from <host> <reason>`.
fn log_tls_error(s: &mut Session, why: &str) {
    let who = s.host_and_ident().trim_start_matches("H=").to_string();
    s.log(format!("TLS error on connection from {who} {why}"));
}

/// Commands after a failed STARTTLS: QUIT closes, everything else gets 554.
pub fn after_failure(s: &mut Session, verb: Option<Verb>) -> Done {
    if verb == Some(Verb::Quit) && s.cmd.arg.is_empty() {
        return crate::smtp::verbs::misc::handle_quit(s);
    }
    s.reply("554 Security failure");
    Done::Continue
}

impl Session {
    /// The driver's side of an accepted STARTTLS: the request, taken once.
    pub fn take_tls_request(&mut self) -> Option<TlsRequest> {
        self.tls_request.take()
    }

    /// The configuration could not be prepared (files missing, bad key): Exim's DEFER,
    /// 454, and the session goes on in clear.
    pub fn tls_unavailable(&mut self, why: &str) {
        log_tls_error(self, why);
        if self.state == crate::smtp::session::State::Connect {
            self.state = crate::smtp::session::State::Closed;
        } else {
            self.reply("454 TLS currently unavailable");
        }
    }

    /// The driver is about to run the handshake (not for TLS on connect).
    pub fn tls_go_ahead(&mut self) {
        if self.state != crate::smtp::session::State::Connect {
            self.reply("220 TLS go ahead");
        }
    }

    /// `tls_on_connect_ports`: ask for TLS before the banner; without a usable
    /// configuration the connection is closed.
    pub fn tls_on_connect(&mut self) {
        match request(self) {
            Ok(r) => self.tls_request = Some(r),
            Err(e) => {
                log_tls_error(self, &e);
                self.state = crate::smtp::session::State::Closed;
            }
        }
    }

    /// The ClientHello named `sni`: set `$tls_in_sni` (tainted) and, when
    /// `tls_certificate` refers to it, expand the options again for this name. `None`:
    /// the first request stands. `Err`: the handshake is refused (logged by the caller
    /// through [`Session::tls_failed`]).
    pub fn tls_sni_request(&mut self, sni: &str) -> Option<Result<TlsRequest, String>> {
        for v in ["tls_in_sni", "tls_sni"] {
            self.ctx.set(v, crate::expand::Val::tainted(sni.as_bytes()));
        }
        reexpands_for_sni(self).then(|| request(self))
    }

    /// The handshake failed: log it; from now on only QUIT is accepted (Exim). Lines
    /// before the last one of `why` are the verifier's `SSL verify error: …` lines,
    /// which Exim logs (with the client's address) before the TLS error.
    pub fn tls_failed(&mut self, why: &str) {
        let (verify, why) = why.rsplit_once('\n').unwrap_or(("", why));
        self.log_verify_errors(verify.lines());
        log_tls_error(self, why);
        self.tls_broken = true;
    }

    /// Exim's `[<ip>] SSL verify error: depth=… error=… cert=…` lines.
    fn log_verify_errors<'a>(&mut self, lines: impl Iterator<Item = &'a str>) {
        for line in lines {
            let text = format!("[{}] {line}", self.peer.address);
            self.log(text);
        }
    }

    /// TLS is up: set `$tls_in_*` and forget what the clear session established (the
    /// HELO name, EHLO, AUTH), as RFC 3207 asks; the client must EHLO again.
    pub fn tls_started(&mut self, facts: TlsFacts) {
        let verify = facts.verify_errors.clone();
        self.log_verify_errors(verify.iter().map(String::as_str));
        facts.set_vars(&mut self.ctx);
        self.tls = Some(facts);
        if !self.cfg.tls_remember_esmtp {
            self.helo_seen = false;
            self.esmtp = false;
            self.auth.advertised = false;
            self.offered.pipelining = false;
        }
        self.nonmail.after_starttls();
        self.helo_name = None;
        self.ctx.unset("sender_helo_name");
        self.auth.by = None;
        for v in ["authenticated_id", "sender_host_authenticated"] {
            self.ctx.unset(v);
        }
        let proto = if self.esmtp { "esmtps" } else { "smtps" };
        self.ctx.set("received_protocol", proto);
    }
}
