//! ACLs: reading statements, the condition/modifier table, and the one evaluation
//! function (`run_acl`) shared by the SMTP engine, `-bh`, `${acl}` and the playground.

pub mod api;
pub mod arc;
pub mod conditions;
pub mod csa;
pub mod dcc;
pub mod dkim;
pub mod dmarc;
pub mod dnslists;
pub mod engine;
pub mod env;
pub mod expansion;
pub mod hints;
pub mod lists;
pub mod malware;
pub mod mime;
pub mod mime_passes;
pub mod model;
pub mod modifiers;
pub mod phase;
pub mod ratelimit;
pub mod read;
pub mod seen;
pub mod spam;
pub mod spf;
pub mod state;
pub mod tests;
pub mod trace;
pub mod verify;

pub use engine::{run_acl, AclRun, Rc, Verdict};
pub use model::{Acl, AclSet, Verb};
pub use phase::Phase;
pub use state::MessageState;
