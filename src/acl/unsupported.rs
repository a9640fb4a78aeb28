//! ACL conditions rexim knows by name but cannot run yet (malware scanning):
//! configurations using them load, and evaluating one is an explicit error.

use crate::acl::engine::{AclRun, Rc};
use crate::acl::model::Item;

fn not_supported(run: &mut AclRun, item: &Item, why: &str) -> Rc {
    run.log_msg = Some(format!(
        "ACL condition \"{}\" is not supported by rexim yet ({why})",
        item.def.name
    ));
    Rc::Error
}

/// `malware = *` (no virus scanner interface).
pub fn malware(run: &mut AclRun, item: &Item, _: &[u8]) -> Rc {
    not_supported(run, item, "no malware scanner interface")
}
