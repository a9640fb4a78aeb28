//! Command-line entry points (Exim-compatible flags).

pub mod args;
pub mod be;
pub mod config;
pub mod lint;
pub mod repl;
