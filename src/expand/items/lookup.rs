//! `${lookup{key}type{file}{yes}{no}}` and `${lookup type{query}{yes}{no}}`.

use crate::error::{ErrorKind, ExpResult, ExpandError};
use crate::expand::ast::LookupNode;
use crate::expand::eval::Eval;
use crate::expand::value::Val;
use crate::lookup::Expander;

/// wildlsearch keys are expanded in the caller's context.
impl Expander for Eval<'_> {
    fn expand_key(&mut self, text: &[u8]) -> Result<Option<Vec<u8>>, String> {
        match self.expand_text(&Val::new(text)) {
            Ok(v) => Ok(Some(v.bytes)),
            Err(e) if e.is_forced() => Ok(None),
            Err(e) => Err(e.into_message()),
        }
    }

    fn log(&mut self, line: String) {
        self.ctx.log.push(line);
    }

    fn dnssec_authenticated(&mut self, secure: Option<bool>) {
        match secure {
            Some(s) => {
                self.ctx
                    .set("lookup_dnssec_authenticated", if s { "yes" } else { "no" });
            }
            None => self.ctx.unset("lookup_dnssec_authenticated"),
        }
    }
}

/// `${lookup{b}lsearch{/f}{$value}}` gives the data for key `b` in `/f`.
pub fn run(ev: &mut Eval, node: &LookupNode, out: &mut Val) -> ExpResult<()> {
    let key = match &node.key {
        Some(k) => Some(ev.seq(k)?),
        None => None,
    };
    let source = ev.seq(&node.source)?;
    if node.spec.is_single_key() && source.tainted {
        let msg = format!("Tainted filename for search: '{}'", source.as_str_lossy());
        ev.ctx.log.push(msg);
        return Err(ExpandError::hard(""));
    }
    let lookups = ev.ctx.lookups.clone();
    let key_bytes = key
        .as_ref()
        .map(|k| k.bytes.as_slice())
        .unwrap_or(&source.bytes);
    let key_tainted = key.as_ref().is_some_and(|k| k.tainted);
    let saved_caps = ev.captures.clone();
    let hit = lookups
        .find(&node.spec, &source.bytes, key_bytes, Some(&mut *ev))
        .map_err(|mut e| {
            if e.kind == ErrorKind::Defer {
                e.message = format!(
                    "lookup of \"{}\" gave DEFER: {}",
                    crate::lookup::printing(key_bytes),
                    e.message
                );
            }
            e
        });
    ev.captures = saved_caps.clone();
    let hit = hit?;
    let value = hit.map(|h| {
        if h.clears_captures {
            ev.captures = Vec::new();
        }
        if let Some((wild, fixed)) = &h.captures {
            // `$1`/`$2` are the wild and fixed parts; `$0` keeps its outer value, except
            // after a fresh wildlsearch match, which left the (lowercased) key there.
            let zero = if h.clears_captures {
                Val {
                    bytes: key_bytes.to_ascii_lowercase(),
                    tainted: key_tainted,
                }
            } else {
                saved_caps.first().cloned().unwrap_or_default()
            };
            ev.captures = vec![
                zero,
                Val {
                    bytes: wild.clone(),
                    tainted: key_tainted,
                },
                Val::new(fixed.clone()),
            ];
        }
        Val {
            bytes: h.data,
            tainted: h.tainted,
        }
    });
    let r = ev.tail_value(&node.tail, value, "lookup", out);
    ev.captures = saved_caps;
    if let Some(k) = key {
        ev.recycle(k);
    }
    ev.recycle(source);
    r
}
