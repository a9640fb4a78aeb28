//! Command-line entry points (Exim-compatible flags).

pub mod be;
pub mod bh;
pub mod repl;
