//! Settings an SMTP session needs, as a plain struct independent of the config loader.

use crate::expand::{parse, Expansion};

/// Options of Exim's main configuration that the SMTP session uses.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub primary_hostname: String,
    /// `smtp_banner` (expanded for each connection).
    pub smtp_banner: Expansion,
    pub acl_smtp_connect: Option<Expansion>,
    pub acl_smtp_helo: Option<Expansion>,
    pub acl_smtp_mail: Option<Expansion>,
    pub acl_smtp_rcpt: Option<Expansion>,
    pub acl_smtp_predata: Option<Expansion>,
    pub acl_smtp_data: Option<Expansion>,
    /// PRDR (`prdr_enable`): offered in EHLO; `acl_smtp_data_prdr` (Exim's default
    /// `accept`) then runs once per recipient after DATA.
    pub prdr_enable: bool,
    pub acl_smtp_data_prdr: Option<Expansion>,
    /// Run for each MIME part after DATA, before `acl_smtp_data`.
    pub acl_smtp_mime: Option<Expansion>,
    pub acl_smtp_quit: Option<Expansion>,
    pub acl_smtp_notquit: Option<Expansion>,
    pub acl_smtp_vrfy: Option<Expansion>,
    pub acl_smtp_expn: Option<Expansion>,
    pub acl_smtp_etrn: Option<Expansion>,
    /// `message_size_limit` in bytes; 0 means no limit.
    pub message_size_limit: u64,
    pub smtp_max_synprot_errors: u32,
    pub smtp_max_unknown_commands: u32,
    pub smtp_enforce_sync: bool,
    pub accept_8bitmime: bool,
    pub helo_allow_chars: String,
    /// Host lists (empty string: option unset, matches nothing).
    pub pipelining_advertise_hosts: String,
    pub pipelining_connect_advertise_hosts: String,
    pub chunking_advertise_hosts: String,
    pub dsn_advertise_hosts: String,
    pub smtputf8_advertise_hosts: String,
    /// STARTTLS is offered to these hosts (Exim's default: all) when the driver can run
    /// TLS (the daemon, with the self-signed default certificate when `tls_certificate`
    /// is unset; `-bh` offers it as exim4 -bh does).
    pub tls_advertise_hosts: String,
    /// STARTTLS (`smtp/tls/`): the files, ciphers, client certificates, session tickets,
    /// the STARTTLS ACL, and which TLS fields the log lines carry.
    pub tls_certificate: Option<Expansion>,
    pub tls_privatekey: Option<Expansion>,
    pub tls_require_ciphers: Option<Expansion>,
    pub tls_verify_hosts: String,
    pub tls_try_verify_hosts: String,
    pub tls_verify_certificates: Expansion,
    /// CRLs for checking client certificates.
    pub tls_crl: Option<Expansion>,
    /// ALPN names a client may ask for (Exim: `smtp : esmtp`), the key-exchange group
    /// (`auto`) and the OCSP response to staple.
    pub tls_alpn: Option<Expansion>,
    /// Hosts whose TLS client must use ALPN (when `tls_alpn` is set).
    pub hosts_require_alpn: String,
    pub tls_eccurve: Option<Expansion>,
    pub tls_ocsp_file: Option<Expansion>,
    pub tls_resumption_hosts: String,
    pub tls_remember_esmtp: bool,
    pub acl_smtp_starttls: Option<Expansion>,
    pub log_tls: crate::smtp::tls::TlsLogging,
    /// The session's own optional log lines (syntax/protocol errors, no MAIL).
    pub log_session: crate::smtp::logsel::SessionLogging,
    /// The `dkim` log selector (on by default): ` ARC` on `<=` lines of an ARC pass.
    pub log_arc: bool,
    pub helo_accept_junk_hosts: String,
    /// Hosts that must send HELO/EHLO before MAIL (Exim's default: all).
    pub hosts_require_helo: String,
    pub message_body_visible: usize,
    /// AUTH: hosts offered AUTH (Exim's default: all), the AUTH and MAIL AUTH= ACLs, and
    /// the authenticators with a server side.
    pub auth_advertise_hosts: String,
    pub acl_smtp_auth: Option<Expansion>,
    pub acl_smtp_mailauth: Option<Expansion>,
    pub authenticators: Vec<crate::auth::Authenticator>,
    /// Non-mail commands allowed per connection (repeated AUTH, EHLO, NOOP ...), and the
    /// hosts the limit applies to.
    pub smtp_accept_max_nonmail: u32,
    pub smtp_accept_max_nonmail_hosts: String,
    /// Host lists Exim checks as a connection starts, in its order (`smtp/hostopts.rs`),
    /// the HELO names that force a reverse lookup, and the DATA-time From-line hosts.
    pub hosts_connection_nolog: String,
    pub host_lookup: String,
    pub host_reject_connection: String,
    pub sender_unqualified_hosts: String,
    pub recipient_unqualified_hosts: String,
    pub helo_verify_hosts: String,
    pub helo_try_verify_hosts: String,
    pub hosts_proxy: String,
    pub helo_lookup_domains: String,
    pub ignore_fromline_hosts: String,
    /// Domains unqualified senders and recipients get (empty: `primary_hostname`).
    pub qualify_domain: String,
    pub qualify_recipient: String,
    /// List options set to an empty list: traced `no (end of list)`, where an unset
    /// one is traced `no (option unset)`.
    pub empty_lists: Vec<String>,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            primary_hostname: local_hostname(),
            smtp_banner: parse("$smtp_active_hostname ESMTP Exim $version_number $tod_full"),
            acl_smtp_connect: None,
            acl_smtp_helo: None,
            acl_smtp_mail: None,
            acl_smtp_rcpt: None,
            acl_smtp_predata: None,
            acl_smtp_data: None,
            prdr_enable: false,
            acl_smtp_data_prdr: Some(parse("accept")),
            acl_smtp_mime: None,
            acl_smtp_quit: None,
            acl_smtp_notquit: None,
            acl_smtp_vrfy: None,
            acl_smtp_expn: None,
            acl_smtp_etrn: None,
            message_size_limit: 50 * 1024 * 1024,
            smtp_max_synprot_errors: 3,
            smtp_max_unknown_commands: 3,
            smtp_enforce_sync: true,
            accept_8bitmime: true,
            helo_allow_chars: String::new(),
            pipelining_advertise_hosts: "*".into(),
            pipelining_connect_advertise_hosts: "*".into(),
            chunking_advertise_hosts: "*".into(),
            dsn_advertise_hosts: String::new(),
            smtputf8_advertise_hosts: "*".into(),
            tls_advertise_hosts: "*".into(),
            tls_certificate: None,
            tls_privatekey: None,
            tls_require_ciphers: None,
            tls_verify_hosts: String::new(),
            tls_try_verify_hosts: String::new(),
            tls_verify_certificates: parse("system"),
            tls_crl: None,
            tls_alpn: Some(parse("smtp : esmtp")),
            hosts_require_alpn: String::new(),
            tls_eccurve: Some(parse("auto")),
            tls_ocsp_file: None,
            tls_resumption_hosts: String::new(),
            tls_remember_esmtp: false,
            acl_smtp_starttls: None,
            log_tls: crate::smtp::tls::TlsLogging::default(),
            log_arc: true,
            log_session: crate::smtp::logsel::SessionLogging::default(),
            helo_accept_junk_hosts: String::new(),
            hosts_require_helo: "*".into(),
            message_body_visible: 500,
            auth_advertise_hosts: "*".into(),
            acl_smtp_auth: None,
            acl_smtp_mailauth: None,
            authenticators: Vec::new(),
            smtp_accept_max_nonmail: 10,
            smtp_accept_max_nonmail_hosts: "*".into(),
            hosts_connection_nolog: String::new(),
            host_lookup: String::new(),
            host_reject_connection: String::new(),
            sender_unqualified_hosts: String::new(),
            recipient_unqualified_hosts: String::new(),
            helo_verify_hosts: String::new(),
            helo_try_verify_hosts: String::new(),
            hosts_proxy: String::new(),
            helo_lookup_domains: "@ : @[]".into(),
            ignore_fromline_hosts: String::new(),
            qualify_domain: String::new(),
            qualify_recipient: String::new(),
            empty_lists: Vec::new(),
        }
    }
}

impl SessionConfig {
    /// Set one main option from its configuration text. Returns an error for an option
    /// the session does not know or a bad value.
    pub fn set_option(&mut self, name: &str, value: &str) -> Result<(), String> {
        let acl = || Some(parse(value));
        match name {
            "primary_hostname" => self.primary_hostname = value.into(),
            "smtp_banner" => self.smtp_banner = parse(value),
            "acl_smtp_connect" => self.acl_smtp_connect = acl(),
            "acl_smtp_helo" => self.acl_smtp_helo = acl(),
            "acl_smtp_mail" => self.acl_smtp_mail = acl(),
            "acl_smtp_rcpt" => self.acl_smtp_rcpt = acl(),
            "acl_smtp_predata" => self.acl_smtp_predata = acl(),
            "acl_smtp_data" => self.acl_smtp_data = acl(),
            "acl_smtp_data_prdr" => self.acl_smtp_data_prdr = acl(),
            "prdr_enable" => self.prdr_enable = bool_value(value)?,
            "acl_smtp_mime" => self.acl_smtp_mime = acl(),
            "acl_smtp_quit" => self.acl_smtp_quit = acl(),
            "acl_smtp_notquit" => self.acl_smtp_notquit = acl(),
            "acl_smtp_vrfy" => self.acl_smtp_vrfy = acl(),
            "acl_smtp_expn" => self.acl_smtp_expn = acl(),
            "acl_smtp_etrn" => self.acl_smtp_etrn = acl(),
            "acl_smtp_auth" => self.acl_smtp_auth = acl(),
            "acl_smtp_mailauth" => self.acl_smtp_mailauth = acl(),
            "auth_advertise_hosts" => self.auth_advertise_hosts = value.into(),
            "message_size_limit" => self.message_size_limit = size_value(value)?,
            "smtp_max_synprot_errors" => {
                self.smtp_max_synprot_errors = value
                    .trim()
                    .parse()
                    .map_err(|_| format!("integer expected for {name}"))?
            }
            "smtp_max_unknown_commands" => {
                self.smtp_max_unknown_commands = value
                    .trim()
                    .parse()
                    .map_err(|_| format!("integer expected for {name}"))?
            }
            "smtp_accept_max_nonmail" => {
                self.smtp_accept_max_nonmail = value
                    .trim()
                    .parse()
                    .map_err(|_| format!("integer expected for {name}"))?
            }
            "smtp_accept_max_nonmail_hosts" => self.smtp_accept_max_nonmail_hosts = value.into(),
            "smtp_enforce_sync" => self.smtp_enforce_sync = bool_value(value)?,
            "no_smtp_enforce_sync" => self.smtp_enforce_sync = false,
            "accept_8bitmime" => self.accept_8bitmime = bool_value(value)?,
            "no_accept_8bitmime" => self.accept_8bitmime = false,
            "helo_allow_chars" => self.helo_allow_chars = value.into(),
            "pipelining_advertise_hosts" => self.pipelining_advertise_hosts = value.into(),
            "pipelining_connect_advertise_hosts" => {
                self.pipelining_connect_advertise_hosts = value.into()
            }
            "chunking_advertise_hosts" => self.chunking_advertise_hosts = value.into(),
            "dsn_advertise_hosts" => self.dsn_advertise_hosts = value.into(),
            "smtputf8_advertise_hosts" => self.smtputf8_advertise_hosts = value.into(),
            "tls_advertise_hosts" => self.tls_advertise_hosts = value.into(),
            "tls_certificate" => self.tls_certificate = opt_expansion(value),
            "tls_privatekey" => self.tls_privatekey = opt_expansion(value),
            "tls_require_ciphers" => self.tls_require_ciphers = opt_expansion(value),
            "tls_verify_hosts" => self.tls_verify_hosts = value.into(),
            "tls_try_verify_hosts" => self.tls_try_verify_hosts = value.into(),
            "tls_verify_certificates" => self.tls_verify_certificates = parse(value),
            "tls_crl" => self.tls_crl = opt_expansion(value),
            "tls_alpn" => self.tls_alpn = opt_expansion(value),
            "hosts_require_alpn" => self.hosts_require_alpn = value.into(),
            "tls_eccurve" => self.tls_eccurve = opt_expansion(value),
            "tls_ocsp_file" => self.tls_ocsp_file = opt_expansion(value),
            "tls_resumption_hosts" => self.tls_resumption_hosts = value.into(),
            "tls_remember_esmtp" => self.tls_remember_esmtp = bool_value(value)?,
            "acl_smtp_starttls" => self.acl_smtp_starttls = acl(),
            "log_selector" => {
                self.log_tls = crate::smtp::tls::TlsLogging::from_selector(value);
                self.log_session = crate::smtp::logsel::SessionLogging::from_selector(value);
                self.log_arc = crate::mailauth::arc::logs_arc(value);
            }
            "helo_accept_junk_hosts" => self.helo_accept_junk_hosts = value.into(),
            "hosts_require_helo" => self.hosts_require_helo = value.into(),
            "hosts_connection_nolog" => self.hosts_connection_nolog = value.into(),
            "host_lookup" => self.host_lookup = value.into(),
            "host_reject_connection" => self.host_reject_connection = value.into(),
            "sender_unqualified_hosts" => self.sender_unqualified_hosts = value.into(),
            "recipient_unqualified_hosts" => self.recipient_unqualified_hosts = value.into(),
            "helo_verify_hosts" => self.helo_verify_hosts = value.into(),
            "helo_try_verify_hosts" => self.helo_try_verify_hosts = value.into(),
            "hosts_proxy" => self.hosts_proxy = value.into(),
            "helo_lookup_domains" => self.helo_lookup_domains = value.into(),
            "ignore_fromline_hosts" => self.ignore_fromline_hosts = value.into(),
            "qualify_domain" => self.qualify_domain = value.into(),
            "qualify_recipient" => self.qualify_recipient = value.into(),
            "message_body_visible" => {
                self.message_body_visible = size_value(value)? as usize;
            }
            _ => return Err(format!("main option \"{name}\" unknown")),
        }
        Ok(())
    }
}

/// An expanded option where empty means unset.
fn opt_expansion(v: &str) -> Option<Expansion> {
    (!v.trim().is_empty()).then(|| parse(v))
}

fn bool_value(v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "" | "true" | "yes" => Ok(true),
        "false" | "no" => Ok(false),
        _ => Err(format!("\"{v}\" is not a valid boolean")),
    }
}

/// An Exim integer with an optional K/M/G suffix.
fn size_value(v: &str) -> Result<u64, String> {
    let v = v.trim();
    let (num, mult) = match v.as_bytes().last() {
        Some(b'K' | b'k') => (&v[..v.len() - 1], 1024),
        Some(b'M' | b'm') => (&v[..v.len() - 1], 1024 * 1024),
        Some(b'G' | b'g') => (&v[..v.len() - 1], 1024 * 1024 * 1024),
        _ => (v, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("integer expected, not \"{v}\""))
}

/// The host's name, as Exim takes `primary_hostname` from `uname()`.
pub fn local_hostname() -> String {
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: uname fills the struct we own; the nodename is NUL-terminated.
    if unsafe { libc::uname(&mut u) } != 0 {
        return "localhost".into();
    }
    let bytes: Vec<u8> = u
        .nodename
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Main options the session reads from a loaded configuration.
const SESSION_OPTIONS: &[&str] = &[
    "accept_8bitmime",
    "acl_smtp_auth",
    "acl_smtp_connect",
    "acl_smtp_data",
    "acl_smtp_data_prdr",
    "acl_smtp_etrn",
    "acl_smtp_expn",
    "acl_smtp_helo",
    "acl_smtp_mail",
    "acl_smtp_mailauth",
    "acl_smtp_mime",
    "acl_smtp_notquit",
    "acl_smtp_predata",
    "acl_smtp_quit",
    "acl_smtp_rcpt",
    "acl_smtp_starttls",
    "acl_smtp_vrfy",
    "auth_advertise_hosts",
    "chunking_advertise_hosts",
    "dsn_advertise_hosts",
    "helo_accept_junk_hosts",
    "helo_allow_chars",
    "helo_lookup_domains",
    "helo_try_verify_hosts",
    "helo_verify_hosts",
    "host_lookup",
    "host_reject_connection",
    "hosts_connection_nolog",
    "hosts_proxy",
    "hosts_require_alpn",
    "hosts_require_helo",
    "ignore_fromline_hosts",
    "log_selector",
    "message_body_visible",
    "message_size_limit",
    "pipelining_advertise_hosts",
    "pipelining_connect_advertise_hosts",
    "prdr_enable",
    "primary_hostname",
    "qualify_domain",
    "qualify_recipient",
    "recipient_unqualified_hosts",
    "sender_unqualified_hosts",
    "smtp_accept_max_nonmail",
    "smtp_accept_max_nonmail_hosts",
    "smtp_banner",
    "smtp_enforce_sync",
    "smtp_max_synprot_errors",
    "smtp_max_unknown_commands",
    "smtputf8_advertise_hosts",
    "tls_advertise_hosts",
    "tls_alpn",
    "tls_certificate",
    "tls_crl",
    "tls_eccurve",
    "tls_ocsp_file",
    "tls_privatekey",
    "tls_remember_esmtp",
    "tls_require_ciphers",
    "tls_resumption_hosts",
    "tls_try_verify_hosts",
    "tls_verify_certificates",
    "tls_verify_hosts",
];

impl SessionConfig {
    /// Build the session settings and ACLs from a configuration read by `crate::config`.
    /// Errors are ACL syntax errors and option values the session cannot use.
    pub fn from_config(
        cfg: &crate::config::Config,
    ) -> Result<(SessionConfig, crate::acl::AclSet), Vec<String>> {
        use crate::config::Value;
        let mut out = SessionConfig::default();
        let mut errors = Vec::new();
        for name in SESSION_OPTIONS {
            let Some(setting) = cfg.main.get(name) else {
                continue;
            };
            let text = match &setting.value {
                Value::Unset => String::new(),
                Value::Str(s) | Value::Id(s) | Value::Ids(s) => s.clone(),
                Value::Bool(b) => b.to_string(),
                Value::Int(i) => i.to_string(),
                Value::Times(t) => t.first().map(i64::to_string).unwrap_or_default(),
            };
            if text.is_empty() && !matches!(setting.value, Value::Unset) {
                out.empty_lists.push(name.to_string());
            }
            if let Err(e) = out.set_option(name, &text) {
                errors.push(e);
            }
        }
        match crate::auth::from_config(cfg) {
            Ok(list) => out.authenticators = list,
            Err(es) => errors.extend(es),
        }
        let mut acls = crate::acl::AclSet {
            inline_origin: Some((cfg.main_file.as_str().into(), cfg.end_line)),
            ..Default::default()
        };
        // Hints databases live in spool_directory/db; the MIME ACL decodes parts under
        // spool_directory/scan.
        if let Some(def) =
            crate::config::tables::find(crate::config::tables::MAIN, "spool_directory")
        {
            if let Value::Str(s) = cfg.main_value(def) {
                if !s.is_empty() {
                    let spool = std::path::PathBuf::from(s);
                    acls.env.hints_dir = Some(spool.join("db"));
                    acls.env.spool_dir = Some(spool);
                }
            }
        }
        for (name, slot) in [
            ("spamd_address", &mut acls.env.spamd_address),
            ("av_scanner", &mut acls.env.av_scanner),
        ] {
            if let Some(def) = crate::config::tables::find(crate::config::tables::MAIN, name) {
                if let Value::Str(s) = cfg.main_value(def) {
                    *slot = s;
                }
            }
        }
        crate::acl::dcc::settings_from_config(cfg, &mut acls.env);
        for (name, slot) in [
            ("local_from_check", &mut acls.env.local_from_check),
            ("local_sender_retain", &mut acls.env.local_sender_retain),
        ] {
            if let Some(Value::Bool(b)) = cfg.main.get(name).map(|s| &s.value) {
                *slot = *b;
            }
        }
        for (name, slot) in [
            ("qualify_domain", &mut acls.env.qualify_domain),
            (
                "message_id_header_domain",
                &mut acls.env.message_id_header_domain,
            ),
            (
                "message_id_header_text",
                &mut acls.env.message_id_header_text,
            ),
        ] {
            if let Some(Value::Str(v)) = cfg.main.get(name).map(|s| &s.value) {
                *slot = Some(v.clone());
            }
        }
        if let Some(Value::Str(t)) = cfg.main.get("received_header_text").map(|s| &s.value) {
            acls.env.received_header_text = Some(t.clone());
        }
        acls.env.mailauth = crate::mailauth::settings::MailAuthSettings::from_config(cfg);
        // SPF: the guess record and the SMTP comment template (taken as written).
        for (name, slot) in [
            ("spf_guess", &mut acls.env.spf_guess),
            (
                "spf_smtp_comment_template",
                &mut acls.env.spf_comment_template,
            ),
        ] {
            if let Some(def) = crate::config::tables::find(crate::config::tables::MAIN, name) {
                if let Value::Str(s) = cfg.main_value(def) {
                    *slot = Some(s.to_string());
                }
            }
        }
        if let Some(Value::Int(n)) = cfg.main.get("dns_csa_search_limit").map(|s| &s.value) {
            acls.env.csa.search_limit = (*n).clamp(0, u32::MAX as i64) as u32;
        }
        if let Some(Value::Bool(b)) = cfg.main.get("dns_csa_use_reverse").map(|s| &s.value) {
            acls.env.csa.use_reverse = *b;
        }
        for acl in &cfg.acls {
            let lines: Vec<crate::acl::read::Line> = acl
                .lines
                .iter()
                .map(|l| crate::acl::read::Line {
                    text: l.text.as_str(),
                    offset: l.span.start as usize,
                })
                .collect();
            match crate::acl::read::read_acl(&acl.name, &lines) {
                Ok(mut a) => {
                    set_origins(&mut a, &acl.lines);
                    acls.insert(a)
                }
                Err(es) => errors.extend(
                    es.into_iter()
                        .map(|e| format!("error in ACL \"{}\": {}", acl.name, e.message)),
                ),
            }
        }
        if errors.is_empty() {
            Ok((out, acls))
        } else {
            Err(errors)
        }
    }
}

/// Give each statement the file and line of its verb (the `-bh` trace shows them).
fn set_origins(acl: &mut crate::acl::Acl, lines: &[crate::config::lines::Line]) {
    let mut files: Vec<std::sync::Arc<str>> = Vec::new();
    for st in &mut acl.statements {
        let Some(l) = lines.iter().find(|l| l.span.start == st.span.start) else {
            continue;
        };
        let file = match files.iter().find(|f| ***f == *l.file_name) {
            Some(f) => f.clone(),
            None => {
                files.push(l.file_name.as_str().into());
                files[files.len() - 1].clone()
            }
        };
        st.origin = Some((file, l.lineno));
    }
}
