//! Seed features (SRS, BATV ...) exposed through the ordinary item and condition registries.

pub mod srs;
