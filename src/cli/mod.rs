//! Command-line entry points (Exim-compatible flags).

pub mod args;
pub mod be;
pub mod be_stream;
pub mod bh;
pub mod config;
pub mod lint;
pub mod queue;
pub mod repl;
pub mod retry_test;
pub mod rewrite_test;
