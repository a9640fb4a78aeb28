//! Lint family for the DCC and Brightmail seed features: a `dccifd_address` that Exim
//! cannot use (`dccifd-address`), and `control = bmi_run` in a configuration for the
//! daemon, which has no Brightmail SDK (`bmi-without-sdk`).

use crate::config::{Config, Value};
use crate::diag::{DiagLabel, Diagnostic, Severity};

pub fn check(cfg: &Config, out: &mut Vec<Diagnostic>) {
    if let Some(s) = cfg.main.get("dccifd_address") {
        if let Value::Str(a) = &s.value {
            if crate::acl::dcc::client::parse_address(a).is_none() {
                out.push(Diagnostic {
                    code: "dccifd-address",
                    severity: Severity::Warning,
                    message: format!(
                        "dccifd_address \"{a}\" is neither a socket path nor \"<host> <port>\": \
                         every dcc condition defers (DCC: warning - invalid dccifd address)"
                    ),
                    labels: vec![DiagLabel {
                        span: s.span,
                        message: "not a dccifd address".into(),
                    }],
                });
            }
        }
    }
    let bmi_run = pcre2::bytes::Regex::new(r"\bcontrol\s*=\s*bmi_run\b").expect("valid regex");
    for acl in &cfg.acls {
        for line in &acl.lines {
            if bmi_run.is_match(line.text.as_bytes()).unwrap_or(false) {
                out.push(Diagnostic {
                    code: "bmi-without-sdk",
                    severity: Severity::Warning,
                    message: format!(
                        "ACL \"{}\": control = bmi_run, but the Brightmail SDK is not available: \
                         each such message gets a panic-log line and no verdicts \
                         (a library caller can plug a BmiProvider)",
                        acl.name
                    ),
                    labels: vec![DiagLabel {
                        span: line.span,
                        message: "no Brightmail SDK".into(),
                    }],
                });
            }
        }
    }
}
