//! Expansion items `${name{arg}...}`: one table row and one small function each.

use crate::error::ExpResult;
use crate::expand::ast::ItemNode;
use crate::expand::eval::Eval;
use crate::expand::value::Val;

pub mod lists;
pub mod lookup;
pub mod substr;

/// How an item's argument groups are read (Exim's `read_subs` and friends).
#[derive(Clone, Copy)]
pub enum Shape {
    /// `min..=max` groups then `}` (Exim's `read_subs`): errors "Not enough
    /// arguments", "Too many arguments", "missing '}' after".
    Subs { min: u8, max: u8 },
    /// Exactly `n` groups then a `{yes}{no}` tail.
    Tail {
        n: u8,
        missing: fn(&str, usize) -> String,
    },
    /// `a` or `b` groups then a tail; the item picks at run time (numbered `extract`).
    TailEither {
        a: u8,
        b: u8,
        missing: fn(&str, usize) -> String,
    },
    /// Exactly `n` groups then `}`; `missing` words the error for an absent group.
    Fixed {
        n: u8,
        missing: fn(&str, usize) -> String,
    },
}

pub type ItemFn = fn(&mut Eval, &ItemNode, &mut Val) -> ExpResult<()>;

pub struct ItemDef {
    pub name: &'static str,
    pub shape: Shape,
    /// Keep the first argument's source text in `ItemNode::raw` (`run` splits it before expanding).
    pub raw_first_arg: bool,
    pub run: ItemFn,
}

/// Every item, sorted by name (binary-searched; a test checks the order).
pub static ITEMS: &[ItemDef] = &[
    ItemDef {
        name: "hash",
        shape: Shape::Subs { min: 2, max: 3 },
        raw_first_arg: false,
        run: substr::hash,
    },
    ItemDef {
        name: "length",
        shape: Shape::Subs { min: 2, max: 2 },
        raw_first_arg: false,
        run: substr::length,
    },
    ItemDef {
        name: "map",
        shape: Shape::Fixed {
            n: 2,
            missing: lists::missing_arg,
        },
        raw_first_arg: false,
        run: lists::map,
    },
    ItemDef {
        name: "nhash",
        shape: Shape::Subs { min: 2, max: 3 },
        raw_first_arg: false,
        run: substr::nhash,
    },
    ItemDef {
        name: "prvs",
        shape: Shape::Subs { min: 2, max: 3 },
        raw_first_arg: false,
        run: crate::features::prvs::prvs,
    },
    // Exim reads prvscheck's arguments piecemeal, so their count is checked at run time.
    ItemDef {
        name: "prvscheck",
        shape: Shape::Subs {
            min: 0,
            max: u8::MAX,
        },
        raw_first_arg: false,
        run: crate::features::prvs::prvscheck,
    },
    ItemDef {
        name: "reduce",
        shape: Shape::Fixed {
            n: 3,
            missing: lists::missing_arg,
        },
        raw_first_arg: false,
        run: lists::reduce,
    },
    ItemDef {
        name: "srs_encode",
        shape: Shape::Subs { min: 3, max: 3 },
        raw_first_arg: false,
        run: crate::features::srs::srs_encode,
    },
    ItemDef {
        name: "substr",
        shape: Shape::Subs { min: 2, max: 3 },
        raw_first_arg: false,
        run: substr::substr,
    },
];

pub fn find(name: &str) -> Option<&'static ItemDef> {
    ITEMS
        .binary_search_by(|d| d.name.cmp(name))
        .ok()
        .map(|i| &ITEMS[i])
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_is_sorted_and_unique() {
        assert!(super::ITEMS.windows(2).all(|w| w[0].name < w[1].name));
    }
}

impl std::fmt::Debug for ItemDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ItemDef({})", self.name)
    }
}
