//! `openssl_options`: Exim's list of `+name`/`-name` switches over OpenSSL's `SSL_OP_*`
//! bits, parsed as Exim's OpenSSL build does (`tls_openssl_options_parse`: its table
//! of names, the values of OpenSSL 3.0, Debian 12's), then mapped onto rustls: the
//! protocol versions, session tickets and the server's cipher preference act; what
//! rustls always does anyway is taken as done; the rest is named in a startup log line.

/// An option name, its OpenSSL 3.0 value, and what rustls makes of it.
struct Opt {
    name: &'static str,
    bits: u64,
    rustls: Rustls,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Rustls {
    /// rexim sets rustls from it (versions, tickets, server preference).
    Acted,
    /// rustls behaves as if it were always set (no SSLv3, no renegotiation, ...).
    AlwaysSet,
    /// rustls has no such switch: setting it does nothing.
    NoSwitch,
    /// Zero in OpenSSL 3.0, or for clients only: OpenSSL itself ignores it in a server.
    Inert,
}

const fn bit(n: u32) -> u64 {
    1 << n
}

const NO_TICKET: u64 = bit(14);
const CIPHER_SERVER_PREFERENCE: u64 = bit(22);
const NO_TLSV1_2: u64 = bit(27);
const NO_TLSV1_3: u64 = bit(29);

use Rustls::*;

/// Exim's table (sorted, as its binary search needs), as compiled against OpenSSL 3.0:
/// `microsoft_big_sslv3_buffer` and `msie_sslv2_rsa_padding` are not defined there, so
/// Exim refuses them too.
const OPTIONS: &[Opt] = &[
    Opt {
        name: "all",
        bits: bit(31) | bit(11) | bit(4) | bit(6),
        rustls: NoSwitch,
    },
    Opt {
        name: "allow_no_dhe_kex",
        bits: bit(10),
        rustls: NoSwitch,
    },
    Opt {
        name: "allow_unsafe_legacy_renegotiation",
        bits: bit(18),
        rustls: NoSwitch,
    },
    Opt {
        name: "cipher_server_preference",
        bits: CIPHER_SERVER_PREFERENCE,
        rustls: Acted,
    },
    Opt {
        name: "cryptopro_tlsext_bug",
        bits: bit(31),
        rustls: NoSwitch,
    },
    Opt {
        name: "dont_insert_empty_fragments",
        bits: bit(11),
        rustls: NoSwitch,
    },
    Opt {
        name: "enable_middlebox_compat",
        bits: bit(20),
        rustls: AlwaysSet,
    },
    Opt {
        name: "ephemeral_rsa",
        bits: 0,
        rustls: Inert,
    },
    Opt {
        name: "legacy_server_connect",
        bits: bit(2),
        rustls: Inert,
    },
    Opt {
        name: "microsoft_sess_id_bug",
        bits: 0,
        rustls: Inert,
    },
    Opt {
        name: "netscape_challenge_bug",
        bits: 0,
        rustls: Inert,
    },
    Opt {
        name: "netscape_reuse_cipher_change_bug",
        bits: 0,
        rustls: Inert,
    },
    Opt {
        name: "no_anti_replay",
        bits: bit(24),
        rustls: NoSwitch,
    },
    Opt {
        name: "no_compression",
        bits: bit(17),
        rustls: AlwaysSet,
    },
    // Encrypt-then-MAC only concerns CBC suites, which rustls does not have.
    Opt {
        name: "no_encrypt_then_mac",
        bits: bit(19),
        rustls: AlwaysSet,
    },
    Opt {
        name: "no_renegotiation",
        bits: bit(30),
        rustls: AlwaysSet,
    },
    Opt {
        name: "no_session_resumption_on_renegotiation",
        bits: bit(16),
        rustls: AlwaysSet,
    },
    Opt {
        name: "no_sslv2",
        bits: 0,
        rustls: Inert,
    },
    Opt {
        name: "no_sslv3",
        bits: bit(25),
        rustls: AlwaysSet,
    },
    Opt {
        name: "no_ticket",
        bits: NO_TICKET,
        rustls: Acted,
    },
    Opt {
        name: "no_tlsv1",
        bits: bit(26),
        rustls: AlwaysSet,
    },
    Opt {
        name: "no_tlsv1_1",
        bits: bit(28),
        rustls: AlwaysSet,
    },
    Opt {
        name: "no_tlsv1_2",
        bits: NO_TLSV1_2,
        rustls: Acted,
    },
    Opt {
        name: "no_tlsv1_3",
        bits: NO_TLSV1_3,
        rustls: Acted,
    },
    Opt {
        name: "prioritize_chacha",
        bits: bit(21),
        rustls: NoSwitch,
    },
    Opt {
        name: "safari_ecdhe_ecdsa_bug",
        bits: bit(6),
        rustls: NoSwitch,
    },
    Opt {
        name: "single_dh_use",
        bits: 0,
        rustls: Inert,
    },
    Opt {
        name: "single_ecdh_use",
        bits: 0,
        rustls: Inert,
    },
    Opt {
        name: "ssleay_080_client_dh_bug",
        bits: 0,
        rustls: Inert,
    },
    Opt {
        name: "sslref2_reuse_cert_type_bug",
        bits: 0,
        rustls: Inert,
    },
    Opt {
        name: "tls_block_padding_bug",
        bits: 0,
        rustls: Inert,
    },
    Opt {
        name: "tls_d5_bug",
        bits: 0,
        rustls: Inert,
    },
    Opt {
        name: "tls_rollback_bug",
        bits: bit(23),
        rustls: NoSwitch,
    },
    Opt {
        name: "tlsext_padding",
        bits: bit(4),
        rustls: NoSwitch,
    },
];

/// Exim's starting value: `no_ticket`, `no_sslv2`, `no_sslv3`, `single_dh_use`,
/// `no_renegotiation`.
const EXIM_DEFAULT: u64 = NO_TICKET | bit(25) | bit(30);

/// The parsed `openssl_options`, and the switches named in it that rexim cannot honour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpensslOptions {
    bits: u64,
    not_acted: Vec<String>,
}

impl Default for OpensslOptions {
    fn default() -> Self {
        OpensslOptions {
            bits: EXIM_DEFAULT,
            not_acted: Vec::new(),
        }
    }
}

impl OpensslOptions {
    /// Parse an (expanded) value. `Err` is Exim's configuration error text.
    pub fn parse(text: &str) -> Result<OpensslOptions, String> {
        let err = || format!("openssl_options parse error: {text}");
        let mut o = OpensslOptions::default();
        for word in text.split_ascii_whitespace() {
            let (adding, name) = match word.split_at(1) {
                ("+", n) => (true, n),
                ("-", n) => (false, n),
                _ => return Err(err()),
            };
            let opt = OPTIONS.iter().find(|o| o.name == name).ok_or_else(err)?;
            if adding {
                o.bits |= opt.bits;
            } else {
                o.bits &= !opt.bits;
            }
            let unmet = match opt.rustls {
                NoSwitch => adding,
                AlwaysSet => !adding,
                Acted | Inert => false,
            };
            if unmet && !o.not_acted.iter().any(|w| w == word) {
                o.not_acted.push(word.to_string());
            }
        }
        Ok(o)
    }

    /// TLS 1.2 allowed (`no_tlsv1_2` clear).
    pub fn tls12(&self) -> bool {
        self.bits & NO_TLSV1_2 == 0
    }

    /// TLS 1.3 allowed (`no_tlsv1_3` clear).
    pub fn tls13(&self) -> bool {
        self.bits & NO_TLSV1_3 == 0
    }

    /// `-no_ticket`: tickets for every client, not only `tls_resumption_hosts`.
    pub fn tickets_for_all(&self) -> bool {
        self.bits & NO_TICKET == 0
    }

    /// `+cipher_server_preference`: the server's order of suites wins.
    pub fn server_preference(&self) -> bool {
        self.bits & CIPHER_SERVER_PREFERENCE != 0
    }

    /// The startup log line for the switches rexim does not act on (`None`: none).
    pub fn log_line(&self) -> Option<String> {
        (!self.not_acted.is_empty()).then(|| {
            format!(
                "openssl_options: rexim does not act on {} (rustls has no such switch)",
                self.not_acted.join(" ")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_sorted_as_exim_needs() {
        assert!(OPTIONS.windows(2).all(|w| w[0].name < w[1].name));
    }

    #[test]
    fn parse_as_exim() {
        let d = OpensslOptions::parse("").unwrap();
        assert_eq!(d, OpensslOptions::default());
        assert!(d.tls12() && d.tls13() && !d.tickets_for_all() && !d.server_preference());
        let o =
            OpensslOptions::parse(" +no_tlsv1_3  -no_ticket +cipher_server_preference").unwrap();
        assert!(o.tls12() && !o.tls13() && o.tickets_for_all() && o.server_preference());
        assert_eq!(o.log_line(), None);
        let o = OpensslOptions::parse("+all +no_sslv2 -no_sslv3 +prioritize_chacha").unwrap();
        assert_eq!(
            o.log_line().unwrap(),
            "openssl_options: rexim does not act on +all -no_sslv3 +prioritize_chacha (rustls has no such switch)"
        );
        for bad in [
            "no_tlsv1_3",
            "+nonsense",
            "+No_ticket",
            "+msie_sslv2_rsa_padding",
            "+",
        ] {
            assert_eq!(
                OpensslOptions::parse(bad).unwrap_err(),
                format!("openssl_options parse error: {bad}")
            );
        }
    }
}
