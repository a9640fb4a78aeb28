//! Services ACL conditions use beyond the expansion context: the DNS resolver
//! (`dnslists`, `verify = helo`, `verify = reverse_host_lookup`) and the hints
//! database directory (`ratelimit`).

use std::path::PathBuf;
use std::sync::Arc;

use crate::dns::{Resolver, SystemResolver};
use crate::mailauth::spf_dns::SpfDns;

#[derive(Clone)]
pub struct AclEnv {
    pub resolver: Arc<dyn Resolver>,
    /// Where hints databases live (Exim's `spool_directory/db`); `None` makes
    /// `ratelimit` an error.
    pub hints_dir: Option<PathBuf>,
    /// Exim's `spool_directory`: the MIME ACL's `decode` writes under its `scan/`.
    pub spool_dir: Option<PathBuf>,
    /// Exim's `spamd_address` (the `spam` condition's servers).
    pub spamd_address: String,
    /// Exim's `av_scanner` (the `malware` condition's scanner and its options).
    pub av_scanner: String,
    /// Exim's `received_header_text` (`None`: Exim's default), for the Received:
    /// header scanners see.
    pub received_header_text: Option<String>,
    /// `local_from_check` and `local_sender_retain`, for submission mode.
    pub local_from_check: bool,
    pub local_sender_retain: bool,
    /// `qualify_domain` when the configuration sets it (else `primary_hostname`).
    pub qualify_domain: Option<String>,
    /// `message_id_header_domain` and `message_id_header_text` (expanded per message).
    pub message_id_header_domain: Option<String>,
    pub message_id_header_text: Option<String>,
    /// DNS for SPF checks (mail-auth's system resolver, or a fixture zone).
    pub spf_dns: SpfDns,
    /// `spf_smtp_comment_template` expanded (Exim expands it once, at SPF start-up).
    pub spf_comment_template: Option<String>,
    /// The main option `spf_guess` (the record `spf_guess =` falls back to).
    pub spf_guess: Option<String>,
    /// DCC: `dccifd_address`, `dccifd_options`, `dcc_direct_add_header`, and how long one
    /// exchange with dccifd may take (Exim sets no limit; rexim does).
    pub dcc: crate::acl::dcc::DccSettings,
    /// Brightmail: `bmi_config_file` and the verdict provider (the vendor SDK).
    pub bmi: crate::features::bmi::BmiSettings,
    /// `dns_csa_search_limit` and `dns_csa_use_reverse` (`verify = csa`).
    pub csa: crate::acl::csa::CsaOptions,
    /// DKIM verification and DMARC options (`acl_smtp_dkim`, `dkim_verify_*`, `dmarc_*`).
    pub mailauth: crate::mailauth::settings::MailAuthSettings,
}

impl Default for AclEnv {
    fn default() -> Self {
        AclEnv {
            resolver: Arc::new(SystemResolver::default()),
            hints_dir: None,
            spool_dir: None,
            spamd_address: "127.0.0.1 783".into(),
            av_scanner: "sophie:/var/run/sophie".into(),
            received_header_text: None,
            local_from_check: true,
            local_sender_retain: false,
            qualify_domain: None,
            message_id_header_domain: None,
            message_id_header_text: None,
            spf_dns: SpfDns::System,
            spf_comment_template: None,
            spf_guess: None,
            dcc: Default::default(),
            bmi: Default::default(),
            csa: Default::default(),
            mailauth: Default::default(),
        }
    }
}

impl std::fmt::Debug for AclEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AclEnv")
            .field("hints_dir", &self.hints_dir)
            .finish_non_exhaustive()
    }
}
