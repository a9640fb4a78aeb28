//! Built-in macros (`_HAVE_*`, `_DRIVER_*`, `_OPT_*`, valued ones from `stdlib/`), from rexim's tables.

use super::tables::{self, Class};

const STDLIB: &str = include_str!("../../stdlib/builtin-macros.conf");

/// A compile-time feature as Exim names it, present when rexim's registries have it.
pub struct Feature {
    /// Suffixes of the `_HAVE_*` macros it defines, or whole names starting with `_`.
    pub macros: &'static [&'static str],
    /// The word `-bV` prints after "Support for:".
    pub word: &'static str,
    pub present: fn() -> bool,
}

fn have_srs() -> bool {
    crate::expand::items::find("srs_encode").is_some()
        && crate::expand::conditions::find("inbound_srs").is_some()
}

/// STARTTLS in the daemon (rustls; TLS 1.2 and 1.3), with server session tickets for
/// `tls_resumption_hosts`.
fn have_tls() -> bool {
    !crate::smtp::tls::ciphers::SUITES.is_empty()
}

/// SPF checks (the `spf` and `spf_guess` ACL conditions run, through mail-auth).
fn have_spf() -> bool {
    crate::acl::conditions::find("spf").is_some() && crate::lookup::find_type("spf").is_some()
}

/// PRDR (`prdr_enable`, `acl_smtp_data_prdr`): the per-recipient DATA pass.
fn have_prdr() -> bool {
    crate::smtp::verbs::prdr::SUPPORTED
}

/// ARC verification (`verify = arc`, the seed feature); signing waits for the smtp
/// transport but the signer exists (`mailauth::arc_sign`).
fn have_arc() -> bool {
    crate::acl::verify::verify_check("arc", crate::acl::Phase::Data).is_ok()
}

/// DKIM verification of received messages (`acl_smtp_dkim`, `dkim_*` conditions).
fn have_dkim() -> bool {
    crate::acl::conditions::find("dkim_status").is_some()
        && !crate::mailauth::dkim_sig::KEYTYPES.is_empty()
}

/// DMARC (the `dmarc_status` condition, through mail-auth).
fn have_dmarc() -> bool {
    have_dkim() && have_spf() && crate::acl::conditions::find("dmarc_status").is_some()
}

fn have_tls_resume() -> bool {
    have_tls() && crate::smtp::tls::acceptor::TICKET_KEY_LIFETIME > 0
}

/// The `dcc` ACL condition (dccifd client).
fn have_dcc() -> bool {
    crate::acl::conditions::find("dcc").is_some()
}

/// Brightmail: `control = bmi_run` hands messages to a verdict provider.
fn have_brightmail() -> bool {
    crate::acl::modifiers::control_check("bmi_run", crate::acl::Phase::Rcpt).is_ok()
}

/// Features rexim can report (only those it really implements are `present`).
pub const FEATURES: &[Feature] = &[
    Feature {
        macros: &["TLS", "TLS1_3"],
        word: "rustls",
        present: have_tls,
    },
    Feature {
        macros: &["TLS_RESUME"],
        word: "TLS_resume",
        present: have_tls_resume,
    },
    Feature {
        macros: &["PRDR"],
        word: "PRDR",
        present: have_prdr,
    },
    Feature {
        macros: &["DKIM"],
        word: "DKIM",
        present: have_dkim,
    },
    Feature {
        macros: &["DMARC"],
        word: "DMARC",
        present: have_dmarc,
    },
    Feature {
        macros: &["SPF"],
        word: "SPF",
        present: have_spf,
    },
    Feature {
        macros: &["NATIVE_SRS", "SRS"],
        word: "SRS",
        present: have_srs,
    },
    Feature {
        macros: &["BRIGHTMAIL", "_EXP_BMI"],
        word: "Experimental_Brightmail",
        present: have_brightmail,
    },
    Feature {
        macros: &["DCC", "_EXP_DCC"],
        word: "Experimental_DCC",
        present: have_dcc,
    },
    Feature {
        macros: &["ARC", "_EXP_ARC"],
        word: "Experimental_ARC",
        present: have_arc,
    },
];

/// Every built-in macro as (name, value), in Exim's order: reverse alphabetical, so a longer
/// name is always tried before a name that is its prefix.
pub fn builtin_macros() -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = Vec::new();
    let y = |s: String| (s, "y".to_string());
    for f in FEATURES.iter().filter(|f| (f.present)()) {
        for m in f.macros {
            // A name starting with `_` is a whole macro name (`_EXP_DCC`).
            if m.starts_with('_') {
                v.push(y(m.to_string()));
            } else {
                v.push(y(format!("_HAVE_{m}")));
            }
        }
    }
    for t in crate::lookup::TYPES {
        v.push(y(format!("_HAVE_LOOKUP_{}", t.name.to_ascii_uppercase())));
    }
    for m in crate::acl::malware::supported_scanners() {
        let name = m.to_ascii_uppercase().replace('-', "_");
        v.push(y(format!("_HAVE_MALWARE_{name}")));
    }
    for o in tables::MAIN {
        v.push(y(format!("_OPT_MAIN_{}", o.name.to_ascii_uppercase())));
    }
    for c in [Class::Router, Class::Transport, Class::Authenticator] {
        let cls = c.name().to_ascii_uppercase();
        for o in c.generic() {
            v.push(y(format!("_OPT_{cls}S_{}", o.name.to_ascii_uppercase())));
        }
        for d in c.drivers().iter().filter(|d| d.supported) {
            let dn = d.name.to_ascii_uppercase();
            v.push(y(format!("_DRIVER_{cls}_{dn}")));
            for o in d.options {
                v.push(y(format!(
                    "_OPT_{cls}_{dn}_{}",
                    o.name.to_ascii_uppercase()
                )));
            }
        }
    }
    for line in STDLIB.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some((n, val)) = line.split_once('=') {
            v.push((n.trim().to_string(), val.trim().to_string()));
        }
    }
    v.sort_by(|a, b| b.0.cmp(&a.0));
    v.dedup_by(|a, b| a.0 == b.0);
    v
}

#[cfg(test)]
mod tests {
    use super::builtin_macros;

    #[test]
    fn experimental_features_also_define_exp_macros() {
        let names: Vec<String> = builtin_macros().into_iter().map(|(n, _)| n).collect();
        for want in ["_HAVE_ARC", "_EXP_ARC", "_HAVE_SPF"] {
            assert!(names.iter().any(|n| n == want), "{want} missing");
        }
        // Mainline features have no `_EXP_` macro.
        assert!(!names.iter().any(|n| n == "_EXP_SPF"));
    }
}
