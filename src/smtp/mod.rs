//! The sans-IO SMTP server core: input parsing, the session state machine, message ids.

pub mod proto;
