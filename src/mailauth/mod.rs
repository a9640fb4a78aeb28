//! Message authentication through mail-auth: SPF (`spf`, `spf_guess`, `$spf_*`), DKIM
//! verification (`acl_smtp_dkim`, `$dkim_*`), DMARC (`dmarc_status`) and ARC
//! (`verify = arc`, `$arc_*`, the `arc_sign` signer).

pub mod arc;
pub mod arc_sign;
pub mod arc_verify;
pub mod dkim;
pub mod dkim_sig;
pub mod dmarc;
pub mod results;
pub mod settings;
pub mod spf;
pub mod spf_dns;
pub mod spf_text;

#[cfg(test)]
mod arc_tests;
#[cfg(test)]
mod spf_tests;
