//! Cipher suite names as Exim's OpenSSL build shows them, and `tls_require_ciphers`
//! mapped onto the suites rustls offers.

use rustls::crypto::CryptoProvider;
use rustls::{CipherSuite, SupportedCipherSuite};

/// One suite: rustls's id, OpenSSL's name (`$tls_in_cipher`), the IANA name
/// (`$tls_in_cipher_std`) and the key bits (`$tls_in_bits`).
pub struct SuiteName {
    pub suite: CipherSuite,
    pub openssl: &'static str,
    pub iana: &'static str,
    pub bits: u32,
}

/// Every suite of the ring provider.
pub const SUITES: &[SuiteName] = &[
    SuiteName {
        suite: CipherSuite::TLS13_AES_256_GCM_SHA384,
        openssl: "TLS_AES_256_GCM_SHA384",
        iana: "TLS_AES_256_GCM_SHA384",
        bits: 256,
    },
    SuiteName {
        suite: CipherSuite::TLS13_AES_128_GCM_SHA256,
        openssl: "TLS_AES_128_GCM_SHA256",
        iana: "TLS_AES_128_GCM_SHA256",
        bits: 128,
    },
    SuiteName {
        suite: CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
        openssl: "TLS_CHACHA20_POLY1305_SHA256",
        iana: "TLS_CHACHA20_POLY1305_SHA256",
        bits: 256,
    },
    SuiteName {
        suite: CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        openssl: "ECDHE-ECDSA-AES256-GCM-SHA384",
        iana: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        bits: 256,
    },
    SuiteName {
        suite: CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        openssl: "ECDHE-ECDSA-AES128-GCM-SHA256",
        iana: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        bits: 128,
    },
    SuiteName {
        suite: CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        openssl: "ECDHE-ECDSA-CHACHA20-POLY1305",
        iana: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        bits: 256,
    },
    SuiteName {
        suite: CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        openssl: "ECDHE-RSA-AES256-GCM-SHA384",
        iana: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        bits: 256,
    },
    SuiteName {
        suite: CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        openssl: "ECDHE-RSA-AES128-GCM-SHA256",
        iana: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        bits: 128,
    },
    SuiteName {
        suite: CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        openssl: "ECDHE-RSA-CHACHA20-POLY1305",
        iana: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        bits: 256,
    },
];

/// The names of a negotiated suite.
pub fn name_of(suite: CipherSuite) -> Option<&'static SuiteName> {
    SUITES.iter().find(|s| s.suite == suite)
}

/// OpenSSL cipher-string words that stand for a group of suites; `ALL`, `DEFAULT` and
/// `HIGH` are every suite rustls has (all of them are strong). Groups never touch the
/// TLS 1.3 suites, as OpenSSL's cipher list does not.
/// Does a suite belong to a group?
type InGroup = fn(&SuiteName) -> bool;

const GROUPS: &[(&str, InGroup)] = &[
    ("AES", |s| s.openssl.contains("AES")),
    ("AES128", |s| {
        s.openssl.contains("AES128") || s.openssl.contains("AES_128")
    }),
    ("AES256", |s| {
        s.openssl.contains("AES256") || s.openssl.contains("AES_256")
    }),
    ("AESGCM", |s| s.openssl.contains("GCM")),
    ("ALL", |_| true),
    ("CHACHA20", |s| s.openssl.contains("CHACHA20")),
    ("DEFAULT", |_| true),
    ("ECDHE", |s| s.openssl.starts_with("ECDHE")),
    ("ECDSA", |s| s.openssl.contains("ECDSA")),
    ("EECDH", |s| s.openssl.starts_with("ECDHE")),
    ("HIGH", |_| true),
    ("aECDSA", |s| s.openssl.contains("ECDSA")),
    ("aRSA", |s| s.openssl.contains("-RSA-")),
    ("kEECDH", |s| s.openssl.starts_with("ECDHE")),
];

/// The suites of `provider` that a `tls_require_ciphers` value allows. The value is an
/// OpenSSL cipher string: words separated by `:`, `,` or spaces; a word is a suite name
/// (OpenSSL or IANA spelling) or a group from [`GROUPS`], `!`/`-` removes, `+` and `@…`
/// (ordering) are ignored, as are words naming suites rustls does not implement. As with
/// OpenSSL, TLS 1.3 suites stay enabled unless the string names one of them.
pub fn select(provider: &CryptoProvider, spec: &str) -> Result<Vec<SupportedCipherSuite>, String> {
    let mut chosen: Vec<CipherSuite> = Vec::new();
    let mut removed: Vec<CipherSuite> = Vec::new();
    let mut names_tls13 = false;
    for word in spec.split([':', ',', ' ']).filter(|w| !w.is_empty()) {
        let (neg, word) = match word.as_bytes()[0] {
            b'!' | b'-' => (true, &word[1..]),
            b'+' | b'@' => continue,
            _ => (false, word),
        };
        let matching: Vec<CipherSuite> = match SUITES
            .iter()
            .find(|s| s.openssl.eq_ignore_ascii_case(word) || s.iana.eq_ignore_ascii_case(word))
        {
            Some(s) => {
                names_tls13 |= s.openssl.starts_with("TLS_") && !neg;
                vec![s.suite]
            }
            None => match GROUPS.iter().find(|(g, _)| *g == word) {
                Some((_, f)) => SUITES
                    .iter()
                    .filter(|s| f(s) && !s.openssl.starts_with("TLS_"))
                    .map(|s| s.suite)
                    .collect(),
                None => Vec::new(),
            },
        };
        if neg {
            removed.extend(matching);
        } else {
            for m in matching {
                if !chosen.contains(&m) {
                    chosen.push(m);
                }
            }
        }
    }
    // OpenSSL refuses a cipher list that selects nothing; so does rexim.
    let tls13_default = !names_tls13 && !chosen.is_empty();
    let out: Vec<SupportedCipherSuite> = provider
        .cipher_suites
        .iter()
        .filter(|cs| {
            let id = cs.suite();
            let is13 = matches!(cs, SupportedCipherSuite::Tls13(_));
            !removed.contains(&id) && (chosen.contains(&id) || (is13 && tls13_default))
        })
        .copied()
        .collect();
    if out.is_empty() {
        return Err(format!(
            "tls_require_ciphers: no cipher suite rexim supports matches \"{spec}\""
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(spec: &str) -> Vec<&'static str> {
        let p = rustls::crypto::ring::default_provider();
        select(&p, spec)
            .unwrap()
            .iter()
            .map(|cs| name_of(cs.suite()).unwrap().openssl)
            .collect()
    }

    #[test]
    fn every_ring_suite_has_a_name() {
        for cs in rustls::crypto::ring::default_provider().cipher_suites {
            assert!(name_of(cs.suite()).is_some(), "{:?}", cs.suite());
        }
    }

    #[test]
    fn require_ciphers() {
        // TLS 1.2 limited to one suite; TLS 1.3 untouched, as OpenSSL's cipher list.
        let n = names("ECDHE-RSA-AES256-GCM-SHA384");
        assert!(n.contains(&"ECDHE-RSA-AES256-GCM-SHA384"));
        assert!(!n.contains(&"ECDHE-RSA-AES128-GCM-SHA256"));
        assert!(n.contains(&"TLS_AES_128_GCM_SHA256"));
        // Naming a TLS 1.3 suite limits TLS 1.3 too.
        let n = names("TLS_AES_256_GCM_SHA384");
        assert_eq!(n, vec!["TLS_AES_256_GCM_SHA384"]);
        // Groups and exclusions.
        let n = names("HIGH:!CHACHA20:!TLS_CHACHA20_POLY1305_SHA256");
        assert!(!n.iter().any(|s| s.contains("CHACHA20")), "{n:?}");
        assert!(n.contains(&"ECDHE-ECDSA-AES128-GCM-SHA256"));
        let p = rustls::crypto::ring::default_provider();
        let e = select(
            &p,
            "!ALL:!TLS_AES_256_GCM_SHA384:!TLS_AES_128_GCM_SHA256:!TLS_CHACHA20_POLY1305_SHA256",
        );
        assert!(e.unwrap_err().contains("no cipher suite"));
    }
}
