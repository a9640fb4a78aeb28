//! STARTTLS for the SMTP server: what a session asks for ([`TlsRequest`]), what a
//! handshake established ([`TlsFacts`], the `$tls_in_*` variables), and the driver side:
//! rustls configurations ([`acceptor`]), the connection stream that switches from TCP to
//! TLS ([`stream`]).
//!
//! The session stays sans-IO: on an accepted STARTTLS it stores a [`TlsRequest`] and
//! stops reading input; the driver (`server.rs`) prepares a configuration, lets the
//! session say `220 TLS go ahead`, runs the handshake, and reports back with
//! `Session::tls_started` or `Session::tls_failed`.

pub mod acceptor;
pub mod capath;
pub mod certs;
pub mod ciphers;
pub mod dn;
pub mod explain;
pub mod groups;
pub mod handshake;
pub mod hello;
pub mod ocsp;
pub mod openssl_opts;
pub mod selfsign;
pub mod stream;
pub mod tickets;
pub mod verify;

use crate::expand::{Context, Val};

/// `$tls_in_resumption` bits, as Exim's (`_RESUME_DECODE` indexes them).
pub const RESUME_SUPPORTED: u8 = 0x01;
pub const RESUME_CLIENT_REQUESTED: u8 = 0x02;
pub const RESUME_CLIENT_SUGGESTED: u8 = 0x04;
pub const RESUME_SERVER_TICKET: u8 = 0x08;
pub const RESUME_USED: u8 = 0x10;

/// `$tls_in_ocsp`, the server side of Exim's OCSP status (its `OCSP_*` enum; the OpenSSL
/// build's server only ever sets the first two and "verified").
pub const OCSP_NOT_REQUESTED: u8 = 0;
pub const OCSP_NOT_RESPONDED: u8 = 1;
pub const OCSP_VERIFIED: u8 = 4;

/// Whether and how the client is asked for a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ClientVerify {
    /// Not asked (host in neither list).
    #[default]
    None,
    /// `tls_try_verify_hosts`: asked; a missing or bad certificate is only noted.
    Try,
    /// `tls_verify_hosts`: a verified certificate is required for the handshake.
    Required,
}

/// What an accepted STARTTLS needs from the driver: the option values, expanded for this
/// connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsRequest {
    pub certificate: String,
    /// Empty: the key is in the certificate file.
    pub privatekey: String,
    pub require_ciphers: String,
    pub verify: ClientVerify,
    pub verify_certificates: String,
    /// `tls_crl`, expanded (empty: no revocation check).
    pub crl: String,
    /// The host matched `tls_resumption_hosts`: session tickets are offered.
    pub resumption: bool,
    /// `tls_alpn`, expanded: the names a client may ask for (empty: ALPN not checked).
    pub alpn: Vec<String>,
    /// The host matched `hosts_require_alpn`: a client without ALPN is refused.
    pub require_alpn: bool,
    /// `tls_eccurve`, expanded (`auto` or empty: rustls's default groups).
    pub eccurve: String,
    /// `tls_ocsp_file`, expanded (empty: no stapling).
    pub ocsp_file: String,
}

/// What a completed handshake established.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFacts {
    /// `TLS1.3`, `TLS1.2` (Exim's OpenSSL build drops the `v` of `TLSv1.3`).
    pub ver: String,
    /// OpenSSL's suite name, e.g. `TLS_AES_256_GCM_SHA384`.
    pub suite: String,
    /// The IANA name (`$tls_in_cipher_std`).
    pub suite_std: String,
    pub bits: u32,
    pub sni: Option<String>,
    pub peerdn: Option<String>,
    pub certificate_verified: bool,
    /// Under `tls_try_verify_hosts`: Exim's `SSL verify error: …` lines (without the
    /// `[ip] ` in front) for a certificate that failed but was let through.
    pub verify_errors: Vec<String>,
    pub resumption: u8,
    /// `$tls_in_ocsp` (`OCSP_*`).
    pub ocsp: u8,
    /// The client's certificate (DER), when it presented one (`$tls_in_peercert`).
    pub peercert: Option<Vec<u8>>,
    /// The certificate rexim presented (`$tls_in_ourcert`).
    pub ourcert: Option<Vec<u8>>,
}

impl TlsFacts {
    /// `$tls_in_cipher`: `TLS1.3:TLS_AES_256_GCM_SHA384:256`, as Exim's OpenSSL build.
    pub fn cipher(&self) -> String {
        format!("{}:{}:{}", self.ver, self.suite, self.bits)
    }

    /// Set the `$tls_in_*` variables (and their old `$tls_*` names).
    pub fn set_vars(&self, ctx: &mut Context) {
        let cipher = self.cipher();
        let verified = if self.certificate_verified { "1" } else { "0" };
        for (names, value) in [
            (["tls_in_cipher", "tls_cipher"], cipher.as_str()),
            (["tls_in_bits", "tls_bits"], self.bits.to_string().as_str()),
            (
                ["tls_in_certificate_verified", "tls_certificate_verified"],
                verified,
            ),
        ] {
            for n in names {
                ctx.set(n, value);
            }
        }
        ctx.set("tls_in_cipher_std", self.suite_std.as_str());
        ctx.set("tls_in_ver", self.ver.as_str());
        ctx.set("tls_in_resumption", self.resumption.to_string());
        ctx.set("tls_in_ocsp", self.ocsp.to_string());
        if let Some(dn) = &self.peerdn {
            ctx.set("tls_in_peerdn", dn.as_str());
            ctx.set("tls_peerdn", dn.as_str());
        }
        if let Some(sni) = &self.sni {
            // The client chose it: tainted, as in Exim.
            ctx.set("tls_in_sni", Val::tainted(sni.as_bytes()));
            ctx.set("tls_sni", Val::tainted(sni.as_bytes()));
        }
        // A client's certificate that is not X.509 (possible under tls_try_verify_hosts,
        // which takes any bytes) leaves the variable unset rather than failing the session.
        for (name, der) in [
            ("tls_in_peercert", &self.peercert),
            ("tls_in_ourcert", &self.ourcert),
        ] {
            match der {
                Some(d) => {
                    if ctx.set_certificate(name, d).is_err() {
                        ctx.clear_certificate(name);
                    }
                }
                None => ctx.clear_certificate(name),
            }
        }
    }
}

/// Which TLS fields Exim's `log_selector` puts on `<=` and rejection lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsLogging {
    pub cipher: bool,
    pub certificate_verified: bool,
    pub peerdn: bool,
    pub sni: bool,
    pub resumption: bool,
}

impl Default for TlsLogging {
    /// Exim's defaults: `X=` and `CV=` on, the rest off.
    fn default() -> Self {
        TlsLogging {
            cipher: true,
            certificate_verified: true,
            peerdn: false,
            sni: false,
            resumption: false,
        }
    }
}

impl TlsLogging {
    /// Apply a `log_selector` value (`+tls_peerdn -tls_cipher +all ...`); names that are
    /// not about TLS are left to the rest of the logging code.
    pub fn from_selector(text: &str) -> TlsLogging {
        let mut l = TlsLogging::default();
        for (on, name) in crate::smtp::logsel::selector_words(text) {
            match name {
                "all" => {
                    l = TlsLogging {
                        cipher: on,
                        certificate_verified: on,
                        peerdn: on,
                        sni: on,
                        resumption: on,
                    }
                }
                "tls_cipher" => l.cipher = on,
                "tls_certificate_verified" => l.certificate_verified = on,
                "tls_peerdn" => l.peerdn = on,
                "tls_sni" => l.sni = on,
                "tls_resumption" => l.resumption = on,
                _ => {}
            }
        }
        l
    }

    /// Exim's `s_tlslog`: ` X=… CV=… DN="…" SNI=…` (empty without TLS).
    pub fn fields(&self, tls: Option<&TlsFacts>) -> String {
        let Some(t) = tls else {
            return String::new();
        };
        let mut s = String::new();
        if self.cipher {
            s += &format!(" X={}", t.cipher());
            if self.resumption && t.resumption & RESUME_USED != 0 {
                s.push('*');
            }
        }
        if self.certificate_verified {
            s += if t.certificate_verified {
                " CV=yes"
            } else {
                " CV=no"
            };
        }
        if let (true, Some(dn)) = (self.peerdn, &t.peerdn) {
            s += &format!(" DN=\"{}\"", printing(dn, false));
        }
        if let (true, Some(sni)) = (self.sni, &t.sni) {
            s += &format!(" SNI={}", printing(sni, true));
        }
        s
    }
}

/// Exim's `string_printing` (with `space`: `string_printing2` with SP_TAB|SP_SPACE):
/// printable ASCII kept, C escapes for the usual controls, octal for the other bytes.
pub fn printing(text: &str, space: bool) -> String {
    let mut out = String::new();
    for &b in text.as_bytes() {
        match b {
            b' ' if space => out.push_str("\\040"),
            0x20..=0x7e => out.push(char::from(b)),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            0x08 => out.push_str("\\b"),
            0x0b => out.push_str("\\v"),
            0x0c => out.push_str("\\f"),
            b'\t' => out.push_str("\\t"),
            _ => out.push_str(&format!("\\{b:03o}")),
        }
    }
    out
}

/// Main TLS options rexim reads but does not act on, and what that means.
const IGNORED_OPTIONS: &[(&str, &str)] = &[(
    "tls_dhparam",
    "rustls has no finite-field DH (no DHE suites; ECDHE and TLS 1.3 key exchange only)",
)];

/// One line per TLS option set in the configuration that rexim does not support (and
/// one for the `openssl_options` switches it does not act on), for the daemon's log at
/// startup (a silent difference would be worse).
pub fn unsupported_options(cfg: &crate::config::Config) -> Vec<String> {
    // `tls_dhparam = none` asks for no DH parameters: what rustls does anyway.
    let asks_something = |name: &str| match cfg.main.get(name).map(|s| &s.value) {
        Some(crate::config::Value::Str(v)) => v.trim() != "none",
        Some(_) => true,
        None => false,
    };
    let mut lines: Vec<String> = IGNORED_OPTIONS
        .iter()
        .filter(|(name, _)| asks_something(name))
        .map(|(name, why)| format!("{name} is not supported by rexim and is ignored: {why}"))
        .collect();
    if let Ok(o) = openssl_options(cfg) {
        lines.extend(o.log_line());
    }
    lines
}

/// `openssl_options`, expanded and parsed (`Err`: Exim's parse error text).
pub fn openssl_options(
    cfg: &crate::config::Config,
) -> Result<openssl_opts::OpensslOptions, String> {
    let raw = match cfg.main.get("openssl_options").map(|s| &s.value) {
        Some(crate::config::Value::Str(s)) => s.clone(),
        _ => return Ok(openssl_opts::OpensslOptions::default()),
    };
    let text = crate::expand::expand_str(&raw, &mut Context::default())
        .map(|v| v.as_str_lossy().into_owned())
        .map_err(|e| {
            format!(
                "openssl_options: expansion of \"{raw}\" failed: {}",
                e.message
            )
        })?;
    openssl_opts::OpensslOptions::parse(&text)
}

/// The daemon's TLS state: `openssl_options` applied, and the self-signed certificate
/// started at startup when `tls_certificate` is unset and STARTTLS may be offered (Exim
/// preloads it so), not per connection.
pub fn daemon_server(
    cfg: &crate::config::Config,
    scfg: &crate::smtp::config::SessionConfig,
) -> Result<acceptor::TlsServer, String> {
    let server = acceptor::TlsServer::with_options(&scfg.primary_hostname, openssl_options(cfg)?)?;
    if scfg.tls_certificate.is_none() && !scfg.tls_advertise_hosts.trim().is_empty() {
        server.preload_selfsigned();
    }
    Ok(server)
}

/// `tls_on_connect_ports`: a colon-separated list of port numbers or TCP service names
/// (looked up in `/etc/services`, as Exim's `getservbyname`).
pub fn on_connect_ports(text: &str) -> Result<Vec<u16>, String> {
    let services = std::fs::read_to_string(SERVICES_FILE).unwrap_or_default();
    on_connect_ports_with(text, &services)
}

const SERVICES_FILE: &str = "/etc/services";

/// [`on_connect_ports`] with the services table given.
pub fn on_connect_ports_with(text: &str, services: &str) -> Result<Vec<u16>, String> {
    crate::expand::lists::iter(text.as_bytes())
        .map(|p| {
            let p = String::from_utf8_lossy(&p).trim().to_string();
            p.parse::<u16>()
                .ok()
                .or_else(|| tcp_service(services, &p))
                .ok_or_else(|| {
                    format!("tls_on_connect_ports: \"{p}\" is not a port number or a TCP service in {SERVICES_FILE}")
                })
        })
        .collect()
}

/// The port of a TCP service by name or alias in an `/etc/services` text.
fn tcp_service(services: &str, name: &str) -> Option<u16> {
    services.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        let first = words.next()?;
        let (port, proto) = words.next()?.split_once('/')?;
        let named = first == name || words.any(|alias| alias == name);
        (named && proto == "tcp")
            .then(|| port.parse().ok())
            .flatten()
    })
}

/// The certificates a `-H` file carries (`--tls_peercert`, `-tls_ourcert`), as DER, for
/// [`Context::set_certificate`]; a line that does not parse is skipped, as Exim logs and
/// skips it.
pub fn certs_from_spool(h: &crate::spool::header::HeaderFile) -> Vec<(&'static str, Vec<u8>)> {
    [
        ("tls_peercert", "tls_in_peercert"),
        ("tls_ourcert", "tls_in_ourcert"),
    ]
    .into_iter()
    .filter_map(|(opt, var)| {
        let text = h.option(opt)?.value.as_ref()?;
        certs::import_cert(text).ok().map(|der| (var, der))
    })
    .collect()
}

/// The `$tls_in_*` values a `-H` file carries (`-tls_cipher`, `-tls_sni`, ...), as Exim's
/// spool reader restores them for delivery.
pub fn vars_from_spool(h: &crate::spool::header::HeaderFile) -> Vec<(&'static str, Val)> {
    let mut v = Vec::new();
    let text = |name: &str| {
        h.option(name).and_then(|o| {
            o.value.as_ref().map(|b| {
                if o.tainted {
                    Val::tainted(b.clone())
                } else {
                    Val::new(b.clone())
                }
            })
        })
    };
    for (opt, var) in [
        ("tls_cipher", "tls_in_cipher"),
        ("tls_peerdn", "tls_in_peerdn"),
        ("tls_sni", "tls_in_sni"),
        ("tls_ver", "tls_in_ver"),
    ] {
        if let Some(val) = text(opt) {
            v.push((var, val));
        }
    }
    let verified = if h.has_flag("tls_certificate_verified") {
        "1"
    } else {
        "0"
    };
    v.push(("tls_in_certificate_verified", Val::from(verified)));
    if let Some(c) = h
        .option("tls_resumption")
        .and_then(|o| o.value.as_ref())
        .and_then(|b| b.first().copied())
    {
        let n = c.saturating_sub(b'A');
        v.push(("tls_in_resumption", Val::from(n.to_string().as_str())));
    }
    let ocsp = h
        .option("tls_ocsp")
        .and_then(|o| o.value.as_ref())
        .and_then(|b| b.first().copied())
        .filter(u8::is_ascii_digit)
        .map_or(0, |c| c - b'0');
    v.push(("tls_in_ocsp", Val::from(ocsp.to_string().as_str())));
    v
}

#[cfg(test)]
mod tests;
