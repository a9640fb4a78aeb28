//! The main options DKIM verification and DMARC read, taken from a loaded
//! configuration once (expandable ones parsed once).

use crate::config::{tables, Config, Value};
use crate::expand::{parse, Expansion};
use crate::mailauth::dkim::VerifyOptions;

#[derive(Debug, Clone)]
pub struct MailAuthSettings {
    /// `acl_smtp_dkim` (unset: no DKIM ACL; the signatures are still verified and logged).
    pub acl_smtp_dkim: Option<Expansion>,
    /// `dkim_verify_signers` (default `$dkim_signers`); `None` when set empty.
    pub verify_signers: Option<Expansion>,
    pub verify: VerifyOptions,
    /// `log_selector`: `dkim` (default on: `DKIM=` on `<=` lines) and `dkim_verbose`.
    pub log_dkim: bool,
    pub log_dkim_verbose: bool,
    pub dmarc_tld_file: Option<String>,
    pub dmarc_history_file: Option<String>,
    pub dmarc_forensic_sender: Option<String>,
}

impl Default for MailAuthSettings {
    fn default() -> Self {
        MailAuthSettings {
            acl_smtp_dkim: None,
            verify_signers: Some(parse("$dkim_signers")),
            verify: VerifyOptions::default(),
            log_dkim: true,
            log_dkim_verbose: false,
            dmarc_tld_file: None,
            dmarc_history_file: None,
            dmarc_forensic_sender: None,
        }
    }
}

fn text(cfg: &Config, name: &str) -> Option<String> {
    let def = tables::find(tables::MAIN, name)?;
    match cfg.main_value(def) {
        Value::Str(s) | Value::Id(s) | Value::Ids(s) => Some(s),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl MailAuthSettings {
    pub fn from_config(cfg: &Config) -> MailAuthSettings {
        let mut s = MailAuthSettings::default();
        let nonempty = |v: Option<String>| v.filter(|t| !t.trim().is_empty());
        s.acl_smtp_dkim = nonempty(text(cfg, "acl_smtp_dkim")).map(|t| parse(&t));
        s.verify_signers = nonempty(text(cfg, "dkim_verify_signers")).map(|t| parse(&t));
        if let Some(v) = text(cfg, "dkim_verify_hashes") {
            s.verify.hashes = v;
        }
        if let Some(v) = text(cfg, "dkim_verify_keytypes") {
            s.verify.keytypes = v;
        }
        if let Some(v) = text(cfg, "dkim_verify_min_keysizes") {
            s.verify.min_keysizes = v;
        }
        s.verify.minimal = text(cfg, "dkim_verify_minimal").as_deref() == Some("true");
        if let Some(sel) = text(cfg, "log_selector") {
            s.set_log_selector(&sel);
        }
        s.dmarc_tld_file = nonempty(text(cfg, "dmarc_tld_file"));
        s.dmarc_history_file = nonempty(text(cfg, "dmarc_history_file"));
        s.dmarc_forensic_sender = nonempty(text(cfg, "dmarc_forensic_sender"));
        s
    }

    /// `+dkim_verbose -dkim +all ...`, left to right.
    pub fn set_log_selector(&mut self, sel: &str) {
        for (on, name) in crate::smtp::logsel::selector_words(sel) {
            match name {
                "all" => (self.log_dkim, self.log_dkim_verbose) = (on, on),
                "dkim" => self.log_dkim = on,
                "dkim_verbose" => self.log_dkim_verbose = on,
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_selector_words_apply_in_order() {
        let mut s = MailAuthSettings::default();
        assert!(s.log_dkim && !s.log_dkim_verbose);
        s.set_log_selector("+dkim_verbose -dkim");
        assert!(!s.log_dkim && s.log_dkim_verbose);
        s.set_log_selector("-all +dkim");
        assert!(s.log_dkim && !s.log_dkim_verbose);
    }

    #[test]
    fn options_from_a_configuration() {
        let macros = crate::config::initial_macros(&[]).unwrap();
        let cfg = crate::config::load_text(
            "t.conf",
            "dkim_verify_signers =\ndkim_verify_minimal = true\n\
             dkim_verify_hashes = sha1:sha256\ndmarc_tld_file = /etc/tlds\n"
                .to_string(),
            macros,
        );
        assert!(cfg.errors.is_empty(), "{:?}", cfg.errors);
        let s = MailAuthSettings::from_config(&cfg);
        assert!(s.verify_signers.is_none() && s.acl_smtp_dkim.is_none());
        assert!(s.verify.minimal);
        assert_eq!(s.verify.hashes, "sha1:sha256");
        assert_eq!(s.verify.keytypes, "ed25519:rsa");
        assert_eq!(s.dmarc_tld_file.as_deref(), Some("/etc/tlds"));
    }
}
