//! Certificate variables: `tests/cert/fields.txt` expansions against fixed rcgen
//! certificates (snapshot), and the fields whose text comes from OpenSSL's printers
//! checked against the `openssl x509` command, which calls the same printers Exim's
//! OpenSSL build does.

use std::path::Path;
use std::process::Command;

use rexim::Context;

#[path = "cert/certs.rs"]
mod certs;

fn context(c: &certs::Certs) -> Context {
    let mut ctx = Context::default();
    ctx.set_certificate("tls_in_peercert", &c.server_der)
        .unwrap();
    ctx.set_certificate("tls_in_ourcert", &c.ca_der).unwrap();
    ctx.set_certificate("tls_out_peercert", &c.bare_der)
        .unwrap();
    ctx
}

fn expand(ctx: &mut Context, line: &str) -> String {
    match rexim::expand::expand_str(line, ctx) {
        Ok(v) => String::from_utf8_lossy(&v.bytes).into_owned(),
        Err(e) => format!("Failed: {}", e.message),
    }
}

#[test]
fn certificate_fields() {
    let c = certs::make();
    let mut ctx = context(&c);
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cert/fields.txt"),
    )
    .unwrap();
    let mut out = String::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        out.push_str(&format!("{line}\n=> {}\n", expand(&mut ctx, line)));
    }
    insta::assert_snapshot!(out);
}

#[test]
fn clearing_a_certificate_empties_the_variable() {
    let c = certs::make();
    let mut ctx = context(&c);
    assert_eq!(expand(&mut ctx, "$tls_in_peercert"), "<cert>");
    ctx.clear_certificate("tls_in_peercert");
    assert_eq!(expand(&mut ctx, "[$tls_in_peercert]"), "[]");
    assert_eq!(
        expand(&mut ctx, "${certextract{subject}{$tls_in_peercert}{y}{n}}"),
        "n"
    );
    // Without a certificate the digest is of the variable's name, as in Exim.
    assert_eq!(
        expand(&mut ctx, "${md5:$tls_in_peercert}"),
        expand(&mut ctx, "${md5:tls_in_peercert}")
    );
}

/// Run `openssl x509` on a DER certificate.
fn openssl(der: &[u8], args: &[&str]) -> Option<String> {
    let path = std::env::temp_dir().join(format!("rexim-cert-{}.der", std::process::id()));
    std::fs::write(&path, der).ok()?;
    let out = Command::new("openssl")
        .args(["x509", "-inform", "DER", "-noout", "-in"])
        .arg(&path)
        .args(args)
        .output()
        .ok()?;
    let _ = std::fs::remove_file(&path);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn openssl_printers_agree() {
    let c = certs::make();
    if openssl(&c.bare_der, &["-serial"]).is_none() {
        eprintln!("SKIPPED: no openssl command here; the snapshot test still ran");
        return;
    }
    let mut ctx = context(&c);
    for (var, der) in [
        ("tls_in_peercert", &c.server_der),
        ("tls_in_ourcert", &c.ca_der),
        ("tls_out_peercert", &c.bare_der),
    ] {
        let field =
            |ctx: &mut Context, f: &str| expand(ctx, &format!("${{certextract{{{f}}}{{${var}}}}}"));
        let names = openssl(der, &["-subject", "-issuer", "-nameopt", "RFC2253"]).unwrap();
        assert_eq!(
            names,
            format!(
                "subject={}\nissuer={}\n",
                field(&mut ctx, "subject"),
                field(&mut ctx, "issuer")
            ),
            "{var}"
        );
        let serial = openssl(der, &["-serial"]).unwrap();
        assert_eq!(
            serial.to_ascii_lowercase(),
            format!("serial={}\n", field(&mut ctx, "serial_number")),
            "{var}"
        );
        let dates = openssl(der, &["-dates"]).unwrap();
        assert_eq!(
            dates,
            format!(
                "notBefore={}\nnotAfter={}\n",
                field(&mut ctx, "notbefore,raw"),
                field(&mut ctx, "notafter,raw")
            ),
            "{var}"
        );
        let opts = "no_header,no_version,no_serial,no_signame,no_issuer,no_validity,\
                    no_subject,no_pubkey,no_extensions,no_aux";
        let sig = openssl(der, &["-text", "-certopt", opts]).unwrap();
        let without_first = sig.split_once('\n').unwrap().1;
        assert_eq!(without_first, field(&mut ctx, "signature"), "{var}");
        let first = sig.lines().next().unwrap();
        assert_eq!(
            first.trim(),
            format!("Signature Algorithm: {}", field(&mut ctx, "sig_algorithm")),
            "{var}"
        );
        let fp = openssl(der, &["-fingerprint", "-sha256"]).unwrap();
        let fp = fp.trim().rsplit('=').next().unwrap().replace(':', "");
        assert_eq!(
            fp,
            expand(&mut ctx, &format!("${{sha256:${var}}}")),
            "{var}"
        );
    }
}
