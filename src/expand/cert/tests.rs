use super::*;

#[test]
fn only_certificate_variables_take_certificates() {
    let mut ctx = Context::default();
    assert_eq!(
        ctx.set_certificate("domain", b"x"),
        Err(CertError::NotACertVariable("domain".into()))
    );
    assert!(matches!(
        ctx.set_certificate("tls_in_peercert", b"not der"),
        Err(CertError::BadDer { .. })
    ));
    assert!(ctx.certificate("tls_in_peercert").is_none());
}
