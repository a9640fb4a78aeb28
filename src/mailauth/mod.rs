//! Message authentication through mail-auth: SPF (`spf`, `spf_guess`, `$spf_*`), DKIM
//! verification (`acl_smtp_dkim`, `$dkim_*`) and DMARC (`dmarc_status`).

pub mod dkim;
pub mod dkim_sig;
pub mod dmarc;
pub mod results;
pub mod settings;
pub mod spf;
pub mod spf_dns;
pub mod spf_text;

#[cfg(test)]
mod spf_tests;
