//! Certificates in the `-H` spool file: `--tls_peercert` and `-tls_ourcert` carry the
//! PEM text with each line ending written as the two characters `\n` (Exim's
//! `tls_export_cert` in its OpenSSL build), so the whole certificate fits on one line.

use base64::Engine;

/// PEM of one DER certificate, 64 base64 characters a line, newlines as `\n` escapes.
pub fn export_cert(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\\n");
    for chunk in b64.as_bytes().chunks(64) {
        // base64 output is ASCII.
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push_str("\\n");
    }
    out.push_str("-----END CERTIFICATE-----\\n");
    out
}

/// The DER certificate in a spool value written by [`export_cert`] (or by Exim). `Err`
/// says what is wrong, for the caller's message; nothing is read past the first
/// certificate.
pub fn import_cert(text: &[u8]) -> Result<Vec<u8>, String> {
    let text = std::str::from_utf8(text).map_err(|_| "certificate is not ASCII".to_string())?;
    let pem = text.replace("\\n", "\n");
    let begin = "-----BEGIN CERTIFICATE-----";
    let end = "-----END CERTIFICATE-----";
    let start = pem
        .find(begin)
        .ok_or_else(|| format!("no \"{begin}\" line"))?
        + begin.len();
    let stop = pem[start..]
        .find(end)
        .ok_or_else(|| format!("no \"{end}\" line"))?
        + start;
    let b64: String = pem[start..stop]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64.as_bytes())
        .map_err(|e| format!("bad base64 in certificate: {e}"))?;
    crate::expand::cert::Certificate::from_der(&der)?;
    Ok(der)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_and_import_round_trip() {
        let ck = rcgen::generate_simple_self_signed(vec!["mx.test".into()]).unwrap();
        let der = ck.cert.der().to_vec();
        let line = export_cert(&der);
        assert!(!line.contains('\n'), "one spool line");
        // The same text rcgen's PEM writer produces, with escaped line ends.
        assert_eq!(
            line.replace("\\n", "\n"),
            ck.cert.pem().replace("\r\n", "\n")
        );
        assert_eq!(import_cert(line.as_bytes()).unwrap(), der);
        assert!(
            import_cert(b"-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----\\n")
                .is_err()
        );
        assert!(import_cert(b"garbage").unwrap_err().contains("BEGIN"));
    }
}
