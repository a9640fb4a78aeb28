//! A small, fast, non-cryptographic hasher (the rustc "Fx" scheme) for maps keyed by
//! short trusted strings: variable names, regex patterns, lookup file names. Network
//! data never picks these keys, so hash flooding is not a concern here.

use std::hash::{BuildHasherDefault, Hasher};

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

#[derive(Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, mut bytes: &[u8]) {
        while bytes.len() >= 8 {
            let (word, rest) = bytes.split_at(8);
            self.add(u64::from_le_bytes(word.try_into().unwrap_or_default()));
            bytes = rest;
        }
        if !bytes.is_empty() {
            self.add(tail_word(bytes) ^ ((bytes.len() as u64) << 59));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

/// The last 1 to 7 bytes as a little-endian word (the value a zero-padded copy would
/// give), read in at most three loads: a `copy_from_slice` of a variable length is a
/// `memcpy` call, dearer than the rest of the hash.
#[inline]
fn tail_word(b: &[u8]) -> u64 {
    let n = b.len();
    if n >= 4 {
        let lo = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64;
        let hi = u32::from_le_bytes([b[n - 4], b[n - 3], b[n - 2], b[n - 1]]) as u64;
        // The two loads overlap when n < 8, on bytes they agree about.
        return lo | (hi << (8 * (n - 4)));
    }
    let mut w = b[0] as u64;
    if n >= 2 {
        w |= (b[1] as u64) << 8;
    }
    if n == 3 {
        w |= (b[2] as u64) << 16;
    }
    w
}

/// `HashMap<K, V, FxBuild>` hashes with [`FxHasher`].
pub type FxBuild = BuildHasherDefault<FxHasher>;
pub type FxHashMap<K, V> = std::collections::HashMap<K, V, FxBuild>;

/// A fixed set of names (a registry's), looked up by position: open addressing over
/// the Fx hash with linear probing, about half full. Cheaper than a `HashMap` for the
/// lookups every parse makes (variables, operators, items, conditions).
pub struct NameIndex {
    shift: u32,
    /// (name, its position); an empty name marks an empty slot.
    slots: Box<[(&'static str, u32)]>,
}

impl NameIndex {
    /// `names` must be distinct and non-empty.
    pub fn new<'a>(names: impl ExactSizeIterator<Item = &'a &'static str>) -> NameIndex {
        let bits = (names.len() * 2)
            .next_power_of_two()
            .max(8)
            .trailing_zeros();
        let mut slots = vec![("", 0u32); 1 << bits].into_boxed_slice();
        let shift = 64 - bits;
        for (i, &name) in names.enumerate() {
            let mut at = slot_of(name.as_bytes(), shift);
            while !slots[at].0.is_empty() {
                at = (at + 1) & (slots.len() - 1);
            }
            slots[at] = (name, i as u32);
        }
        NameIndex { shift, slots }
    }

    #[inline]
    pub fn get(&self, name: &str) -> Option<usize> {
        let mut at = slot_of(name.as_bytes(), self.shift);
        loop {
            let (n, i) = self.slots[at];
            if n.len() == name.len() && n == name && !n.is_empty() {
                return Some(i as usize);
            }
            if n.is_empty() {
                return None;
            }
            at = (at + 1) & (self.slots.len() - 1);
        }
    }
}

/// The slot a name hashes to: the hash's top bits (the best mixed ones).
#[inline]
fn slot_of(name: &[u8], shift: u32) -> usize {
    let mut h = FxHasher::default();
    h.write(name);
    (h.finish() >> shift) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_index_finds_every_name_and_nothing_else() {
        let names: Vec<&'static str> = (0..300)
            .map(|i| &*Box::leak(format!("name{i}").into_boxed_str()))
            .collect();
        let index = NameIndex::new(names.iter());
        for (i, n) in names.iter().enumerate() {
            assert_eq!(index.get(n), Some(i));
        }
        for miss in ["", "name", "name300", "name1x", "nam", "x"] {
            assert_eq!(index.get(miss), None, "{miss:?}");
        }
    }

    #[test]
    fn tail_word_is_the_zero_padded_word() {
        let bytes = b"abcdefg";
        for n in 1..8 {
            let mut last = [0u8; 8];
            last[..n].copy_from_slice(&bytes[..n]);
            assert_eq!(
                tail_word(&bytes[..n]),
                u64::from_le_bytes(last),
                "length {n}"
            );
        }
    }

    #[test]
    fn distinct_short_keys_hash_apart() {
        let h = |s: &str| {
            let mut f = FxHasher::default();
            f.write(s.as_bytes());
            f.finish()
        };
        assert_ne!(h("value"), h("item"));
        assert_ne!(h("a"), h("a\0"));
        assert_eq!(h("domain"), h("domain"));
    }
}
#[cfg(test)]
mod registry_names {
    fn distinct(names: Vec<&str>) {
        let mut seen = std::collections::HashSet::new();
        for n in &names {
            assert!(
                !n.is_empty() && seen.insert(*n),
                "duplicate or empty name {n:?}"
            );
        }
    }

    #[test]
    fn registries_hold_distinct_non_empty_names() {
        distinct(crate::expand::vars::VARIABLES.to_vec());
        distinct(crate::expand::items::ITEMS.iter().map(|d| d.name).collect());
        distinct(
            crate::expand::conditions::CONDITIONS
                .iter()
                .map(|d| d.name)
                .collect(),
        );
        distinct(
            crate::expand::operators::OPERATORS
                .iter()
                .map(|d| d.name)
                .collect(),
        );
    }
}
