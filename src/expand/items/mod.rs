//! Expansion items `${name{arg}...}`: one table row and one small function each.

use crate::error::ExpResult;
use std::sync::Arc;

use crate::expand::ast::{Expansion, ItemNode, Node, Seq};
use crate::expand::eval::Eval;
use crate::expand::fxhash::NameIndex;
use crate::expand::value::Val;

pub mod acl;
pub mod certextract;
pub mod extract;
pub mod imap;
pub mod lists;
pub mod lookup;
pub mod skipped;
pub mod socket;
mod socket_tls;
pub mod substr;
pub mod system;
pub mod text;
pub mod unsupported;

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

/// `missing '{' for arg N of NAME` (extract, listextract).
fn missing_numbered(name: &str, got: usize) -> String {
    format!("missing '{{' for arg {} of {name}", got + 1)
}

/// Every item, sorted by name (binary-searched; a test checks the order).
#[rustfmt::skip]
pub static ITEMS: &[ItemDef] = &[
    ItemDef { name: "acl", shape: Shape::Subs { min: 1, max: 10 }, raw_first_arg: false, run: acl::acl },
    ItemDef { name: "authresults", shape: Shape::Subs { min: 1, max: 1 }, raw_first_arg: false, run: acl::authresults },
    ItemDef { name: "certextract", shape: Shape::Tail { n: 2, missing: certextract::certextract_missing }, raw_first_arg: false, run: certextract::certextract },
    ItemDef { name: "dlfunc", shape: Shape::Subs { min: 2, max: 10 }, raw_first_arg: false, run: unsupported::dlfunc },
    ItemDef { name: "env", shape: Shape::Tail { n: 1, missing: system::env_missing }, raw_first_arg: false, run: system::env },
    ItemDef { name: "extract", shape: Shape::TailEither { a: 2, b: 3, missing: missing_numbered }, raw_first_arg: false, run: extract::extract },
    ItemDef { name: "hash", shape: Shape::Subs { min: 2, max: 3 }, raw_first_arg: false, run: substr::hash },
    ItemDef { name: "hmac", shape: Shape::Subs { min: 3, max: 3 }, raw_first_arg: false, run: text::hmac },
    ItemDef { name: "imapfolder", shape: Shape::Subs { min: 1, max: 3 }, raw_first_arg: false, run: imap::imapfolder },
    ItemDef { name: "length", shape: Shape::Subs { min: 2, max: 2 }, raw_first_arg: false, run: substr::length },
    ItemDef { name: "listextract", shape: Shape::Tail { n: 2, missing: missing_numbered }, raw_first_arg: false, run: extract::listextract },
    ItemDef { name: "listquote", shape: Shape::Subs { min: 2, max: 2 }, raw_first_arg: false, run: text::listquote },
    ItemDef { name: "map", shape: Shape::Fixed { n: 2, missing: lists::missing_arg }, raw_first_arg: false, run: lists::map },
    ItemDef { name: "nhash", shape: Shape::Subs { min: 2, max: 3 }, raw_first_arg: false, run: substr::nhash },
    ItemDef { name: "perl", shape: Shape::Subs { min: 1, max: 9 }, raw_first_arg: false, run: unsupported::perl },
    ItemDef { name: "prvs", shape: Shape::Subs { min: 2, max: 3 }, raw_first_arg: false, run: crate::features::prvs::prvs },
    // Exim reads prvscheck's arguments piecemeal, so their count is checked at run time.
    ItemDef { name: "prvscheck", shape: Shape::Subs { min: 0, max: u8::MAX }, raw_first_arg: false, run: crate::features::prvs::prvscheck },
    ItemDef { name: "readfile", shape: Shape::Subs { min: 1, max: 2 }, raw_first_arg: false, run: system::readfile },
    // Exim reads readsocket's fifth (failstring) argument separately: extra groups fail at run time.
    ItemDef { name: "readsocket", shape: Shape::Subs { min: 2, max: u8::MAX }, raw_first_arg: false, run: socket::readsocket },
    ItemDef { name: "reduce", shape: Shape::Fixed { n: 3, missing: lists::missing_arg }, raw_first_arg: false, run: lists::reduce },
    ItemDef { name: "run", shape: Shape::Tail { n: 1, missing: system::run_missing }, raw_first_arg: true, run: system::run },
    ItemDef { name: "sg", shape: Shape::Subs { min: 3, max: 3 }, raw_first_arg: false, run: text::sg },
    ItemDef { name: "sort", shape: Shape::Fixed { n: 3, missing: lists::sort_missing }, raw_first_arg: false, run: lists::sort },
    ItemDef { name: "srs_encode", shape: Shape::Subs { min: 3, max: 3 }, raw_first_arg: false, run: crate::features::srs::srs_encode },
    ItemDef { name: "substr", shape: Shape::Subs { min: 2, max: 3 }, raw_first_arg: false, run: substr::substr },
    ItemDef { name: "tr", shape: Shape::Subs { min: 3, max: 3 }, raw_first_arg: false, run: text::tr },
];

/// What an item keeps from its literal arguments so that evaluation does not redo it.
#[derive(Default)]
pub struct Preparsed {
    /// An argument the item reads as expansion text (`sg`'s replacement), parsed.
    pub expansion: Option<Arc<Expansion>>,
    /// A regex argument (`sg`'s pattern), compiled; `None` when it does not compile
    /// (evaluation then reports the error).
    pub regex: Option<Arc<pcre2::bytes::Regex>>,
}

/// Parse and compile ahead of time the literal arguments an item would otherwise
/// parse or compile on every call.
pub fn preparse(def: &ItemDef, args: &[Seq]) -> Preparsed {
    match def.name {
        "sg" => Preparsed {
            expansion: args
                .get(2)
                .and_then(literal_text)
                .map(|t| parsed_replacement(&t)),
            regex: args
                .get(1)
                .and_then(literal_text)
                .and_then(|p| crate::expand::regex::compile(&p, false).ok()),
        },
        _ => Preparsed::default(),
    }
}

/// Most ever-parsed `sg` replacements one thread keeps (a configuration has a handful;
/// `-be` may parse thousands of lines sharing a few).
const REPLACEMENTS_KEPT: usize = 256;

/// A literal `sg` replacement parsed, or the same text's earlier parse on this thread.
fn parsed_replacement(text: &[u8]) -> Arc<Expansion> {
    use crate::expand::fxhash::FxHashMap;
    thread_local! {
        static PARSED: std::cell::RefCell<FxHashMap<Box<[u8]>, Arc<Expansion>>> =
            std::cell::RefCell::new(FxHashMap::default());
    }
    if let Some(e) = PARSED.with(|cache| cache.borrow().get(text).cloned()) {
        return e;
    }
    // Parsed with the cache released: a replacement may hold an `sg` of its own.
    let e = Arc::new(crate::expand::parse::parse(&String::from_utf8_lossy(text)));
    PARSED.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.len() >= REPLACEMENTS_KEPT {
            cache.clear();
        }
        cache.insert(text.into(), e.clone());
    });
    e
}

/// The text of a sequence made only of literal pieces (which are never tainted).
fn literal_text(seq: &Seq) -> Option<Vec<u8>> {
    if seq.static_err.is_some() {
        return None;
    }
    let mut text = Vec::new();
    for node in &seq.nodes {
        match node {
            Node::Text(t) => text.extend_from_slice(t),
            _ => return None,
        }
    }
    Some(text)
}

pub fn find(name: &str) -> Option<&'static ItemDef> {
    // Looked up for every item of every parsed expansion: hashed, not searched.
    static INDEX: std::sync::OnceLock<NameIndex> = std::sync::OnceLock::new();
    let index = INDEX.get_or_init(|| NameIndex::new(ITEMS.iter().map(|d| &d.name)));
    index.get(name).map(|i| &ITEMS[i])
}

impl std::fmt::Debug for ItemDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ItemDef({})", self.name)
    }
}

#[cfg(test)]
mod tests {
    use crate::expand::ast::Node;

    fn sg_preparsed(src: &str) -> Option<String> {
        let e = crate::expand::parse::parse(src);
        match e.body.nodes.first() {
            Some(Node::Item(item)) => item.preparsed.as_ref().map(|p| p.source().to_string()),
            other => panic!("{src}: not an item: {other:?}"),
        }
    }

    #[test]
    fn sg_literal_replacement_is_parsed_with_the_item() {
        assert_eq!(
            sg_preparsed(r"${sg{abc}{b}{<\$0>}}").as_deref(),
            Some("<$0>")
        );
        // Text that is only known at run time is still parsed per call.
        assert_eq!(sg_preparsed(r"${sg{abc}{b}{$primary_hostname}}"), None);
        // Checked against exim4 -be: gives a<B>c<B>.
        let e = crate::expand::parse::parse(r"${sg{abcb}{(b)}{<\${uc:\$1\}>}}");
        let mut ctx = crate::Context::default();
        for _ in 0..2 {
            let v = crate::expand::expand(&e, &mut ctx).unwrap();
            assert_eq!(v.bytes, b"a<B>c<B>");
        }
    }

    #[test]
    fn table_is_sorted_and_unique() {
        assert!(super::ITEMS.windows(2).all(|w| w[0].name < w[1].name));
    }
}
