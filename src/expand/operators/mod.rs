//! Expansion operators `${name:arg}` / `${name_args:arg}`: one table row and one small function each.

use crate::error::ExpResult;
use crate::expand::eval::Eval;
use crate::expand::fxhash::NameIndex;

pub mod address_ops;
pub mod codecs;
pub mod digests;
pub mod i18n;
pub mod ip;
pub mod list_ops;
pub mod misc;
pub mod numbers;
pub mod quote_lookup;
pub mod rfc2047;
pub mod substr;
pub mod text;
pub mod time;

/// An operator's expanded operand, borrowed (from the AST, a variable or a scratch buffer).
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub bytes: &'a [u8],
    pub tainted: bool,
}

impl Input<'_> {
    /// Append a result derived from this input (same taint); returns that taint.
    pub fn emit(&self, out: &mut Vec<u8>, result: impl AsRef<[u8]>) -> bool {
        out.extend_from_slice(result.as_ref());
        self.tainted
    }
}

/// Append a result that is never tainted (digests, counts, numbers).
pub fn emit_clean(out: &mut Vec<u8>, result: impl AsRef<[u8]>) -> bool {
    out.extend_from_slice(result.as_ref());
    false
}

/// Append a result that is always tainted (certificate data).
pub fn emit_tainted(out: &mut Vec<u8>, result: impl AsRef<[u8]>) -> bool {
    out.extend_from_slice(result.as_ref());
    true
}

/// Append `n` in decimal (no intermediate `String`).
pub fn push_decimal(out: &mut Vec<u8>, n: i64) {
    // Digits by hand: `write!` goes through the formatting machinery (~200 instructions).
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut m = n.unsigned_abs();
    loop {
        i -= 1;
        digits[i] = b'0' + (m % 10) as u8;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    if n < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[i..]);
}

/// Operator function: `arg` is the `_suffix` (if any), `input` the expanded operand.
/// The result is appended to `out` (no value is allocated for it); the return value
/// says whether the result is tainted. On error the caller drops whatever was appended.
pub type OpFn = fn(&mut Eval, Option<&str>, Input, &mut Vec<u8>) -> ExpResult<bool>;

pub struct OpDef {
    pub name: &'static str,
    pub run: OpFn,
}

/// Every operator, sorted by name. Names containing `_` (`local_part`,
/// `time_eval` ...) match only in full; others also match as the stem before
/// the first `_`, whose rest becomes the argument (`sha2_256`).
#[rustfmt::skip]
pub static OPERATORS: &[OpDef] = &[
    OpDef { name: "address", run: address_ops::address },
    OpDef { name: "addresses", run: address_ops::addresses },
    OpDef { name: "base32", run: codecs::base32 },
    OpDef { name: "base32d", run: codecs::base32d },
    OpDef { name: "base62", run: codecs::base62 },
    OpDef { name: "base62d", run: codecs::base62d },
    OpDef { name: "base64", run: codecs::base64 },
    OpDef { name: "base64d", run: codecs::base64d },
    OpDef { name: "domain", run: address_ops::domain },
    OpDef { name: "escape", run: text::escape },
    OpDef { name: "escape8bit", run: text::escape8bit },
    OpDef { name: "eval", run: numbers::eval },
    OpDef { name: "eval10", run: numbers::eval10 },
    OpDef { name: "expand", run: misc::expand },
    OpDef { name: "from_utf8", run: text::from_utf8 },
    OpDef { name: "h", run: substr::h },
    OpDef { name: "hash", run: substr::hash_op },
    OpDef { name: "hex2b64", run: codecs::hex2b64 },
    OpDef { name: "hexquote", run: text::hexquote },
    OpDef { name: "ipv6denorm", run: ip::ipv6denorm },
    OpDef { name: "ipv6norm", run: ip::ipv6norm },
    OpDef { name: "l", run: substr::l },
    OpDef { name: "lc", run: text::lc },
    OpDef { name: "length", run: substr::length },
    OpDef { name: "listcount", run: list_ops::listcount },
    OpDef { name: "listnamed", run: list_ops::listnamed },
    OpDef { name: "local_part", run: address_ops::local_part },
    OpDef { name: "mask", run: ip::mask },
    OpDef { name: "md5", run: digests::md5 },
    OpDef { name: "nh", run: substr::nh },
    OpDef { name: "nhash", run: substr::nhash_op },
    OpDef { name: "quote", run: text::quote },
    OpDef { name: "quote_local_part", run: text::quote_local_part },
    OpDef { name: "randint", run: numbers::randint },
    OpDef { name: "reverse_ip", run: ip::reverse_ip },
    OpDef { name: "rfc2047", run: text::rfc2047 },
    OpDef { name: "rfc2047d", run: rfc2047::rfc2047d },
    OpDef { name: "rxquote", run: text::rxquote },
    OpDef { name: "s", run: substr::s },
    OpDef { name: "sha1", run: digests::sha1 },
    OpDef { name: "sha2", run: digests::sha2 },
    OpDef { name: "sha256", run: digests::sha2 },
    OpDef { name: "sha3", run: digests::sha3 },
    OpDef { name: "stat", run: misc::stat },
    OpDef { name: "str2b64", run: codecs::base64 },
    OpDef { name: "strlen", run: text::strlen },
    OpDef { name: "substr", run: substr::substr_op },
    OpDef { name: "time_eval", run: time::time_eval },
    OpDef { name: "time_interval", run: time::time_interval },
    OpDef { name: "uc", run: text::uc },
    OpDef { name: "utf8_domain_from_alabel", run: i18n::utf8_domain_from_alabel },
    OpDef { name: "utf8_domain_to_alabel", run: i18n::utf8_domain_to_alabel },
    OpDef { name: "utf8_localpart_from_alabel", run: i18n::utf8_localpart_from_alabel },
    OpDef { name: "utf8_localpart_to_alabel", run: i18n::utf8_localpart_to_alabel },
    OpDef { name: "utf8clean", run: text::utf8clean },
];

/// Look up an operator as Exim does; returns the definition and its `_arg`.
pub fn find(name: &str) -> Option<(&'static OpDef, Option<&str>)> {
    if let Some(d) = lookup(name) {
        return Some((d, None));
    }
    let (stem, arg) = name.split_once('_')?;
    let d = lookup(stem)?;
    Some((d, Some(arg)))
}

/// Exim strings end at the first NUL byte; operators see only what precedes it.
pub fn cstr(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == 0) {
        Some(n) => &b[..n],
        None => b,
    }
}

fn lookup(name: &str) -> Option<&'static OpDef> {
    // Looked up for every operator of every parsed expansion: hashed, not searched.
    static INDEX: std::sync::OnceLock<NameIndex> = std::sync::OnceLock::new();
    let index = INDEX.get_or_init(|| NameIndex::new(OPERATORS.iter().map(|d| &d.name)));
    index.get(name).map(|i| &OPERATORS[i])
}

impl std::fmt::Debug for OpDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OpDef({})", self.name)
    }
}

#[cfg(test)]
mod tests {
    use crate::expand::value::Val;
    use crate::expand::Context;

    #[test]
    fn table_is_sorted_and_unique() {
        assert!(super::OPERATORS.windows(2).all(|w| w[0].name < w[1].name));
    }

    #[test]
    fn decimals_match_std_formatting() {
        for n in [0, 7, -7, 10, 99, -100, 123_456_789, i64::MAX, i64::MIN] {
            let mut out = b"x".to_vec();
            super::push_decimal(&mut out, n);
            assert_eq!(out, format!("x{n}").into_bytes());
        }
    }

    fn run(ctx: &mut Context, s: &str) -> Val {
        crate::expand::expand_str(s, ctx).unwrap()
    }

    #[test]
    fn results_append_to_the_output_with_the_right_taint() {
        let mut ctx = Context::default();
        ctx.set("sender_address", Val::tainted("Fred@Example.COM"));
        // Derived results keep the operand's taint; digests and counts never carry it.
        let lc = run(&mut ctx, "<${lc:$sender_address}>");
        assert_eq!(
            (lc.bytes.as_slice(), lc.tainted),
            (&b"<fred@example.com>"[..], true)
        );
        let digest = run(&mut ctx, "${sha256:$sender_address}");
        assert_eq!((digest.bytes.len(), digest.tainted), (64, false));
        let len = run(&mut ctx, "${strlen:$sender_address}");
        assert_eq!((len.bytes.as_slice(), len.tainted), (&b"16"[..], false));
        // Nested operators share scratch buffers; each result lands after the text before it.
        let nested = run(
            &mut ctx,
            "a${uc:${lc:${base64:abc}}}b${domain:x@${lc:Y.Z}}c",
        );
        assert_eq!(nested.bytes, b"aYWJJby.zc");
        assert!(!nested.tainted);
        // A failing operator leaves nothing behind in its caller's output.
        let e = crate::expand::expand_str("abc${base64d:!!}", &mut ctx).unwrap_err();
        assert!(e.message.contains("not well-formed"), "{}", e.message);
        assert_eq!(run(&mut ctx, "${length_2:$sender_address}").bytes, b"Fr");
    }
}
