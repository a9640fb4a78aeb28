//! Exim's rejectlog listing for a rejection while a message is being received: the
//! envelope (up to five recipients) and the header list as it stands then (Received:,
//! the message's own lines, what the ACLs' header steps did so far).

use crate::smtp::session::Session;
use crate::spool::build;
use crate::spool::HeaderLine;

/// `line` with the listing attached when a message is in reception (Exim has a header
/// list from the end of DATA until the message is done); otherwise as it is.
pub fn attach(s: &Session, line: String) -> String {
    let Some(data) = &s.acl_state.scan_data else {
        return line;
    };
    let received = build::received_line(s.acl_state.received_header.clone());
    with_listing(s, line, data, received)
}

/// `line` with the listing of `data`'s headers after `received` (empty: Exim's
/// Received: line not made yet, which the listing leaves out).
pub fn with_listing(s: &Session, line: String, data: &[u8], received: HeaderLine) -> String {
    let list = build::header_list(
        received,
        build::split_headers(data).0,
        &s.acl_state.obsolete_headers,
        &s.acl_state.header_batches,
    );
    let headers: Vec<(u8, &[u8])> = list
        .iter()
        .filter(|h| !h.text.is_empty())
        .map(|h| (h.kind, h.text.as_slice()))
        .collect();
    let sender = s.env.sender.as_deref().unwrap_or_default();
    let detail = crate::local::report::header_listing(sender, &s.env.recipients, &headers);
    crate::log::attach_detail(line, &detail)
}
