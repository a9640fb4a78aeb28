//! `${certextract{field}{$certvar}{yes}{no}}`: one field of a certificate variable
//! (`expand/cert/`), with `$value` set to it for `{yes}`.

use crate::error::{ExpResult, ExpandError};
use std::sync::Arc;

use crate::expand::ast::{ItemNode, Node, Seq};
use crate::expand::cert::{fields, is_cert_var};
use crate::expand::eval::Eval;
use crate::expand::value::Val;

pub fn certextract_missing(_: &str, got: usize) -> String {
    if got == 0 {
        "missing '{' for field arg of certextract".into()
    } else {
        "missing '{' for cert variable arg of certextract".into()
    }
}

/// `${certextract{subject,CN}{$tls_in_peercert}}` gives the peer's common name; with
/// no certificate in the variable the "no" branch is taken (empty by default).
pub fn certextract(ev: &mut Eval, node: &ItemNode, out: &mut Val) -> ExpResult<()> {
    let field = ev.seq(&node.args[0])?;
    let field = String::from_utf8_lossy(field.bytes.trim_ascii()).into_owned();
    if let Some(e) = &node.args[1].static_err {
        return Err((**e).clone());
    }
    // The parser left the variable's name as text (`cert_var_arg`).
    let name = ev.seq(&node.args[1])?.as_str_lossy().into_owned();
    if crate::expand::vars::resolve(&name).is_none() {
        return Err(ExpandError::hard(format!("no variable named \"{name}\"")));
    }
    if !is_cert_var(&name) {
        return Err(ExpandError::hard(format!(
            "\"{name}\" is not a certificate"
        )));
    }
    let found = match ev.ctx.certificate(&name) {
        Some(cert) => fields::extract(cert, &field).map_err(ExpandError::hard)?,
        None => None,
    };
    // A peer's certificate is network data.
    let tainted = name.ends_with("peercert");
    let found = found.map(|bytes| Val { bytes, tainted });
    let saved_caps = ev.captures.clone();
    let r = ev.tail(
        &node.tail,
        found.is_some(),
        found.clone().unwrap_or_default(),
        found,
        "certextract",
        out,
    );
    ev.captures = saved_caps;
    r
}

/// Exim reads certextract's second argument as `$` and then plain text up to the next
/// `}`: the name of a variable, not an expansion. Replace the parsed argument with that
/// name; an argument not starting with `$` fails even in a skipped branch.
pub fn cert_var_arg(item: &str, arg: &mut Seq, src: &str) {
    if item != "certextract" {
        return;
    }
    let raw = src
        .get(arg.span.start as usize..arg.span.end as usize)
        .unwrap_or_default();
    let Some(rest) = raw.strip_prefix('$') else {
        let e =
            ExpandError::hard("second argument of \"certextract\" must be a certificate variable");
        *arg = Seq::new(
            vec![Node::Text(crate::expand::ast::Text::default())],
            arg.span,
        );
        arg.static_err = Some(Arc::new(e));
        return;
    };
    let name = rest.split('}').next().unwrap_or_default();
    *arg = Seq::new(vec![Node::Text(name.as_bytes().into())], arg.span);
}
