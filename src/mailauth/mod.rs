//! Message authentication through mail-auth: SPF (`spf`, `spf_guess`, `$spf_*`).

pub mod spf;
pub mod spf_dns;
pub mod spf_text;

#[cfg(test)]
mod spf_tests;
