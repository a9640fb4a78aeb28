//! `lmdb` lookup (placeholder while being written).
use crate::lookup::LookupDriver;
pub fn make() -> Box<dyn LookupDriver> {
    Box::new(crate::lookup::dsearch::Dsearch)
}
