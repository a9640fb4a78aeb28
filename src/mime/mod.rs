//! MIME structure of a received message as Exim's content scanner sees it: part
//! headers and their parameters (`header`), body decoding (`decode`), and the walk over
//! the parts in Exim's order (`walk`) and a part's `$mime_*` variables (`vars`),
//! used by the MIME ACL.

pub mod decode;
pub mod header;
pub mod vars;
pub mod walk;
