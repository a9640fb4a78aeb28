//! rexim: an Exim-compatible mail-policy language and the SMTP engine it drives.
//!
//! ```
//! let e = rexim::parse("${if eq{$domain}{example.com}{local}{remote}}");
//! let mut ctx = rexim::Context::default();
//! ctx.set("domain", "example.com");
//! assert_eq!(rexim::expand(&e, &mut ctx).unwrap().bytes, b"local");
//! ```

pub mod cli;
pub mod config;
pub mod diag;
pub mod error;
pub mod expand;
pub mod lint;
pub mod lookup;

pub use error::{ErrorKind, ExpandError};
pub use expand::{expand, expand_str, parse, parse_checked, Context, Expansion, Val};
