//! Command-line entry points (Exim-compatible flags).

pub mod be;
pub mod repl;
