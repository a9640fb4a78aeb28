//! String expansion: parse once (`parse`), evaluate many times (`expand`).

pub mod address;
pub mod ast;
pub mod cert;
pub mod computed;
pub mod conditions;
pub mod context;
pub mod escape;
pub mod eval;
pub mod fxhash;
pub mod headers;
pub mod items;
pub mod json_text;
pub mod lists;
pub mod message;
pub mod operators;
pub mod parse;
pub mod regex;
pub mod trace;
pub mod value;
pub mod vars;

pub use ast::Expansion;
pub use context::Context;
pub use eval::{expand, expand_str, Eval};
pub use parse::{parse, parse_bytes, parse_checked, parse_reference};
pub use value::Val;
