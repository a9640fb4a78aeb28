//! `tls_eccurve`: the key-exchange group, named as OpenSSL names curves (short names
//! such as `prime256v1`, or NIST names such as `P-256`), mapped to rustls's groups.

use rustls::crypto::SupportedKxGroup;

/// Curve names Exim's OpenSSL build accepts, and the ring group for each.
const GROUPS: &[(&str, &dyn SupportedKxGroup)] = &[
    ("P-256", rustls::crypto::ring::kx_group::SECP256R1),
    ("P-384", rustls::crypto::ring::kx_group::SECP384R1),
    ("X25519", rustls::crypto::ring::kx_group::X25519),
    ("prime256v1", rustls::crypto::ring::kx_group::SECP256R1),
    ("secp384r1", rustls::crypto::ring::kx_group::SECP384R1),
];

/// Curves OpenSSL knows that rexim's TLS library lacks.
const MISSING: &[&str] = &["P-521", "X448", "secp521r1"];

/// The groups for one `tls_eccurve` value; `None`: the provider's defaults (`auto`, or
/// the option empty). Unknown names fail as in Exim (`Unknown curve name tls_eccurve`).
pub fn select(value: &str) -> Result<Option<Vec<&'static dyn SupportedKxGroup>>, String> {
    let v = value.trim();
    if v.is_empty() || v == "auto" {
        return Ok(None);
    }
    if let Some((_, g)) = GROUPS.iter().find(|(n, _)| *n == v) {
        return Ok(Some(vec![*g]));
    }
    if MISSING.contains(&v) {
        return Err(format!(
            "(tls_eccurve): curve '{v}' is not supported by rexim (P-256, P-384, X25519 are)"
        ));
    }
    Err(format!("Unknown curve name tls_eccurve '{v}'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_groups() {
        assert!(select("auto").unwrap().is_none());
        assert!(select("").unwrap().is_none());
        let g = select("prime256v1").unwrap().unwrap();
        assert_eq!(g[0].name(), rustls::NamedGroup::secp256r1);
        let g = select("P-384").unwrap().unwrap();
        assert_eq!(g[0].name(), rustls::NamedGroup::secp384r1);
        let g = select("X25519").unwrap().unwrap();
        assert_eq!(g[0].name(), rustls::NamedGroup::X25519);
        assert!(select("secp521r1")
            .unwrap_err()
            .contains("not supported by rexim"));
        assert_eq!(
            select("bogus").unwrap_err(),
            "Unknown curve name tls_eccurve 'bogus'"
        );
    }
}
