//! The sans-IO SMTP server core: input parsing, the session state machine, message ids.

pub mod config;
pub mod history;
pub mod hostopts;
pub mod linger;
pub mod listen;
pub mod logsel;
pub mod msgid;
pub mod nonmail;
pub mod proto;
pub mod server;
pub mod session;
pub mod sink;
pub mod submission;
pub mod tls;
pub mod verbs;

pub use config::SessionConfig;
pub use session::{Peer, Session};
