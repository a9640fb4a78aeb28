//! `rexim lint`: every problem in a configuration, each with a kebab-case code and spans.

mod acl;
mod deprecated;
mod load;
mod phases;
mod refs;
mod rules;
mod seed;
mod taint;
mod transports;
mod vars;

use crate::config::Config;
use crate::diag::Diagnostic;

/// Run every lint family over a loaded configuration.
pub fn run(cfg: &Config) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    load::check(cfg, &mut out);
    refs::check(cfg, &mut out);
    acl::check(cfg, &mut out);
    vars::check(cfg, &mut out);
    phases::check(cfg, &mut out);
    taint::check(cfg, &mut out);
    rules::check(cfg, &mut out);
    deprecated::check(cfg, &mut out);
    transports::check(cfg, &mut out);
    seed::check(cfg, &mut out);
    out
}
