//! Seed features (SRS, BATV ...) exposed through the ordinary item and condition registries.

pub mod bmi;
pub mod prvs;
pub mod srs;

/// C strings end at the first NUL: where Exim hashes or scans a string, only what
/// precedes a NUL counts.
pub(crate) fn c_str(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == 0) {
        Some(i) => &b[..i],
        None => b,
    }
}
