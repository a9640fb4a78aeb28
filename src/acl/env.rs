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
    /// DNS for SPF checks (mail-auth's system resolver, or a fixture zone).
    pub spf_dns: SpfDns,
    /// `spf_smtp_comment_template` expanded (Exim expands it once, at SPF start-up).
    pub spf_comment_template: Option<String>,
    /// The main option `spf_guess` (the record `spf_guess =` falls back to).
    pub spf_guess: Option<String>,
}

impl Default for AclEnv {
    fn default() -> Self {
        AclEnv {
            resolver: Arc::new(SystemResolver::default()),
            hints_dir: None,
            spool_dir: None,
            spf_dns: SpfDns::System,
            spf_comment_template: None,
            spf_guess: None,
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
