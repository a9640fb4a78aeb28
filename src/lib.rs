//! rexim: an Exim-compatible mail-policy language and the SMTP engine it drives.
//!
//! ```
//! let e = rexim::parse("${if eq{$domain}{example.com}{local}{remote}}");
//! let mut ctx = rexim::Context::default();
//! ctx.set("domain", "example.com");
//! assert_eq!(rexim::expand(&e, &mut ctx).unwrap().bytes, b"local");
//! ```

pub mod acl;
pub mod auth;
pub mod cli;
pub mod config;
pub mod diag;
pub mod dns;
pub mod error;
pub mod expand;
pub mod features;
pub mod lint;
pub mod listmatch;
pub mod local;
pub mod log;
pub mod lookup;
pub mod mailauth;
pub mod mime;
pub mod smtp;
pub mod spool;

pub use error::{ErrorKind, ExpandError};
pub use expand::{expand, expand_str, parse, parse_checked, Context, Expansion, Val};

/// The README's examples are compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
