//! The `$mime_*` variables of one part, as the MIME ACL sees them (SMTP and non-SMTP).

use crate::expand::{Context, Val};
use crate::mime::walk::Part;

/// Every per-part variable; all are unset once the MIME ACL has seen the last part.
const PART_VARS: &[&str] = &[
    "mime_anomaly_level",
    "mime_anomaly_text",
    "mime_boundary",
    "mime_charset",
    "mime_content_description",
    "mime_content_disposition",
    "mime_content_id",
    "mime_content_size",
    "mime_content_transfer_encoding",
    "mime_content_type",
    "mime_decoded_filename",
    "mime_filename",
    "mime_is_coverletter",
    "mime_is_multipart",
];

/// Set the variables for `part` (`rfc822`: it is a decoded `message/rfc822` pass).
pub fn set_part(ctx: &mut Context, part: &Part, rfc822: bool) {
    let h = &part.headers;
    for (name, value) in [
        ("mime_content_type", &h.content_type),
        ("mime_content_disposition", &h.content_disposition),
        (
            "mime_content_transfer_encoding",
            &h.content_transfer_encoding,
        ),
        ("mime_content_id", &h.content_id),
        ("mime_content_description", &h.content_description),
        ("mime_filename", &h.filename),
        ("mime_charset", &h.charset),
        ("mime_boundary", &h.boundary),
    ] {
        match value {
            Some(v) => {
                ctx.set(name, Val::tainted(v.clone()));
            }
            None => ctx.unset(name),
        }
    }
    ctx.unset("mime_decoded_filename");
    ctx.unset("mime_anomaly_text");
    let flag = |b: bool| if b { "1" } else { "0" };
    ctx.set("mime_anomaly_level", "0");
    ctx.set("mime_content_size", "0");
    ctx.set("mime_part_count", part.count.to_string());
    ctx.set("mime_is_multipart", flag(part.is_multipart));
    ctx.set("mime_is_coverletter", flag(part.is_coverletter));
    ctx.set("mime_is_rfc822", flag(rfc822));
}

/// After the last part: the per-part variables go, and when `message/rfc822` passes ran,
/// `$mime_part_count` is the main message's count again (`main_count`), as in Exim.
pub fn clear_parts(ctx: &mut Context, main_count: Option<String>, rfc822: bool) {
    for v in PART_VARS {
        ctx.unset(v);
    }
    if let (Some(c), true) = (main_count, rfc822) {
        ctx.set("mime_part_count", c);
    }
}
