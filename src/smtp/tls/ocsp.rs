//! `tls_ocsp_file`: the OCSP response rustls staples to the handshake.

/// The file an option value names (`DER file`, or the file alone).
pub fn path(spec: &str) -> &str {
    let spec = spec.trim();
    spec.strip_prefix("DER ").unwrap_or(spec).trim()
}

/// `tls_ocsp_file`: a DER OCSP response to staple (Exim's default format; a `DER `
/// prefix is accepted). As in Exim, a file that cannot be read means no stapling; rustls
/// staples the bytes as they are (Exim also checks the response against the
/// certificate: rexim does not).
pub fn response(spec: &str) -> Result<Vec<u8>, String> {
    let spec = spec.trim();
    if spec.is_empty() {
        return Ok(Vec::new());
    }
    if let Some(f) = spec.strip_prefix("PEM ") {
        return Err(format!(
            "(tls_ocsp_file): {}: PEM OCSP responses are not supported by rexim; use DER",
            f.trim()
        ));
    }
    Ok(std::fs::read(path(spec)).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_and_formats() {
        assert_eq!(path("DER /etc/ocsp.der"), "/etc/ocsp.der");
        assert_eq!(path(" /etc/ocsp.der "), "/etc/ocsp.der");
        assert_eq!(response(""), Ok(Vec::new()));
        assert_eq!(response("/nonexistent/ocsp.der"), Ok(Vec::new()));
        assert!(response("PEM /x.pem")
            .unwrap_err()
            .contains("not supported"));
        let f = std::env::temp_dir().join(format!("rexim-ocsp-{}.der", std::process::id()));
        std::fs::write(&f, b"\x30\x03\x0a\x01\x00").unwrap();
        assert_eq!(
            response(&format!("DER {}", f.display())).unwrap(),
            b"\x30\x03\x0a\x01\x00"
        );
        let _ = std::fs::remove_file(&f);
    }
}
