//! Test certificate authorities made by the `openssl` command: CAs, client
//! certificates (with chosen validity dates), revocations, CRLs, hashed directories.
//! Each function returns `false` (or `None`) only when `openssl` is not installed.

use std::path::Path;
use std::process::Command;

/// Run `openssl` in `dir` (which must succeed); `false` when it is not installed.
pub fn openssl(dir: &Path, args: &[&str]) -> bool {
    match Command::new("openssl").current_dir(dir).args(args).output() {
        Ok(out) => {
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            true
        }
        Err(_) => false,
    }
}

/// `openssl` in `dir` whatever its exit status: stdout and stderr together.
pub fn openssl_output(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

const EC: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
];

/// A CA `name` in `dir`: `name.key`, `name.pem` (subject `/CN=<name>`), and the
/// `openssl ca` state for issuing and revoking (`name.cnf`, `name.index`, ...). With
/// `issuer`, the CA is an intermediate signed by that CA.
pub fn make_ca(dir: &Path, name: &str, issuer: Option<&str>) -> bool {
    let cnf = format!(
        "[ ca ]\ndefault_ca = c\n[ c ]\ndatabase = {name}.index\nserial = {name}.serial\n\
         crlnumber = {name}.crlnumber\nnew_certs_dir = .\ndefault_md = sha256\n\
         default_crl_days = 1\npolicy = p\nunique_subject = no\ncopy_extensions = copy\n\
         [ p ]\ncommonName = supplied\n"
    );
    std::fs::write(dir.join(format!("{name}.cnf")), cnf).unwrap();
    std::fs::write(dir.join(format!("{name}.index")), "").unwrap();
    std::fs::write(dir.join(format!("{name}.serial")), "10\n").unwrap();
    std::fs::write(dir.join(format!("{name}.crlnumber")), "01\n").unwrap();
    let (key, pem, subj) = (
        format!("{name}.key"),
        format!("{name}.pem"),
        format!("/CN={name}"),
    );
    let ext = [
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ];
    let Some(issuer) = issuer else {
        let mut args = vec!["req", "-x509"];
        args.extend(EC);
        args.extend(["-keyout", &key, "-out", &pem, "-subj", &subj, "-days", "2"]);
        args.extend(ext);
        return openssl(dir, &args);
    };
    let csr = format!("{name}.csr");
    let mut args = vec!["req"];
    args.extend(EC);
    args.extend(["-keyout", &key, "-out", &csr, "-subj", &subj]);
    args.extend(ext);
    if !openssl(dir, &args) {
        return false;
    }
    sign(dir, issuer, &csr, &pem, None)
}

/// `openssl ca` signs `csr` into `out`; `dates`: notBefore and notAfter
/// (`YYMMDDHHMMSSZ`), else valid for a day from now.
fn sign(dir: &Path, ca: &str, csr: &str, out: &str, dates: Option<(&str, &str)>) -> bool {
    let (cnf, key, pem) = (
        format!("{ca}.cnf"),
        format!("{ca}.key"),
        format!("{ca}.pem"),
    );
    let mut args = vec![
        "ca", "-batch", "-notext", "-config", &cnf, "-keyfile", &key, "-cert", &pem, "-in", csr,
        "-out", out,
    ];
    match dates {
        Some((from, to)) => args.extend(["-startdate", from, "-enddate", to]),
        None => args.extend(["-days", "1"]),
    }
    openssl(dir, &args)
}

/// A client certificate `name.pem` (key `name.key`, subject `/CN=<name>.client`, for
/// TLS client authentication) issued by `ca`, with optional validity `dates`.
pub fn issue(dir: &Path, ca: &str, name: &str, dates: Option<(&str, &str)>) -> bool {
    let (key, csr, pem, subj) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.pem"),
        format!("/CN={name}.client"),
    );
    let mut args = vec!["req"];
    args.extend(EC);
    args.extend(["-keyout", &key, "-out", &csr, "-subj", &subj]);
    args.extend(["-addext", "extendedKeyUsage=clientAuth"]);
    openssl(dir, &args) && sign(dir, ca, &csr, &pem, dates)
}

/// A self-signed client certificate `name.pem` (`/CN=<name>.client`).
pub fn self_signed(dir: &Path, name: &str) -> bool {
    let (key, pem, subj) = (
        format!("{name}.key"),
        format!("{name}.pem"),
        format!("/CN={name}.client"),
    );
    let mut args = vec!["req", "-x509"];
    args.extend(EC);
    args.extend(["-keyout", &key, "-out", &pem, "-subj", &subj, "-days", "1"]);
    args.extend(["-addext", "extendedKeyUsage=clientAuth"]);
    openssl(dir, &args)
}

/// Revoke the certificate in `pem` in `ca`'s records.
pub fn revoke(dir: &Path, ca: &str, pem: &str) -> bool {
    let (cnf, key, capem) = (
        format!("{ca}.cnf"),
        format!("{ca}.key"),
        format!("{ca}.pem"),
    );
    openssl(
        dir,
        &[
            "ca", "-config", &cnf, "-keyfile", &key, "-cert", &capem, "-revoke", pem,
        ],
    )
}

/// `ca`'s CRL as it stands, written to `out`.
pub fn crl(dir: &Path, ca: &str, out: &str) -> bool {
    let (cnf, key, capem) = (
        format!("{ca}.cnf"),
        format!("{ca}.key"),
        format!("{ca}.pem"),
    );
    openssl(
        dir,
        &[
            "ca", "-gencrl", "-config", &cnf, "-keyfile", &key, "-cert", &capem, "-out", out,
        ],
    )
}

/// `openssl rehash dir` (the `<hash>.0` / `<hash>.r0` links); `false` where this
/// openssl has no `rehash` command.
pub fn rehash(dir: &Path) -> bool {
    Command::new("openssl")
        .arg("rehash")
        .arg(dir)
        .output()
        .is_ok_and(|o| o.status.success())
}
