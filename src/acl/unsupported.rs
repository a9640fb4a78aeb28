//! ACL conditions rexim knows by name but cannot run yet (DKIM, DMARC): configurations using them load, and evaluating one is an explicit error.

use crate::acl::engine::{AclRun, Rc};
use crate::acl::model::Item;

fn not_supported(run: &mut AclRun, item: &Item, why: &str) -> Rc {
    run.log_msg = Some(format!(
        "ACL condition \"{}\" is not supported by rexim yet ({why})",
        item.def.name
    ));
    Rc::Error
}

/// `dkim_signers = example.com`, `dkim_status = pass` (no DKIM verification).
pub fn dkim(run: &mut AclRun, item: &Item, _: &[u8]) -> Rc {
    not_supported(run, item, "no DKIM support")
}

/// `dmarc_status = reject : quarantine` (no DMARC support).
pub fn dmarc_status(run: &mut AclRun, item: &Item, _: &[u8]) -> Rc {
    not_supported(run, item, "no DMARC support")
}
