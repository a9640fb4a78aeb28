//! Variable names: resolved to a `Var` at parse time, so an unknown name is a parse-time error.

/// A variable reference, resolved once when the expansion is parsed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Var {
    /// An entry of [`VARIABLES`] (index).
    Fixed(VarId),
    /// `$acl_c...`: the text after `acl_c`.
    AclC(Box<str>),
    /// `$acl_m...`: the text after `acl_m`.
    AclM(Box<str>),
    /// `$r_...`: router variable, the text after `r_`.
    Router(Box<str>),
    /// `$auth1`..`$auth4`.
    Auth(u8),
    /// `$regex1`..`$regex9`.
    Regex(u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VarId(pub u16);

impl VarId {
    pub fn name(self) -> &'static str {
        VARIABLES[self.0 as usize]
    }
}

/// Every fixed variable name rexim knows, sorted (binary-searched).
pub static VARIABLES: &[&str] = NAMES;

/// The table itself, as a constant so that [`id`] can search it at compile time.
const NAMES: &[&str] = &[
    "acl_arg1",
    "acl_arg2",
    "acl_arg3",
    "acl_arg4",
    "acl_arg5",
    "acl_arg6",
    "acl_arg7",
    "acl_arg8",
    "acl_arg9",
    "acl_narg",
    "acl_verify_message",
    "address_data",
    "address_file",
    "address_pipe",
    "arc_domains",
    "arc_oldest_pass",
    "arc_state",
    "arc_state_reason",
    "authenticated_fail_id",
    "authenticated_id",
    "authenticated_sender",
    "authentication_failed",
    "av_failed",
    "bmi_alt_location",
    "bmi_base64_tracker_verdict",
    "bmi_base64_verdict",
    "bmi_deliver",
    "body_linecount",
    "body_zerocount",
    "bounce_recipient",
    "bounce_return_size_limit",
    "caller_gid",
    "caller_uid",
    "callout_address",
    "compile_date",
    "compile_number",
    "config_dir",
    "config_file",
    "csa_status",
    "dcc_header",
    "dcc_result",
    "dkim_algo",
    "dkim_bodylength",
    "dkim_canon_body",
    "dkim_canon_headers",
    "dkim_copiedheaders",
    "dkim_created",
    "dkim_cur_signer",
    "dkim_domain",
    "dkim_expires",
    "dkim_headernames",
    "dkim_identity",
    "dkim_key_granularity",
    "dkim_key_length",
    "dkim_key_nosubdomains",
    "dkim_key_notes",
    "dkim_key_srvtype",
    "dkim_key_testing",
    "dkim_selector",
    "dkim_signers",
    "dkim_verify_reason",
    "dkim_verify_status",
    "dmarc_domain_policy",
    "dmarc_status",
    "dmarc_status_text",
    "dmarc_used_domain",
    "dnslist_domain",
    "dnslist_matched",
    "dnslist_text",
    "dnslist_value",
    "domain",
    "domain_data",
    "event_data",
    "event_defer_errno",
    "event_name",
    "exim_gid",
    "exim_path",
    "exim_uid",
    "exim_version",
    "headers_added",
    "home",
    "host",
    "host_address",
    "host_data",
    "host_lookup_deferred",
    "host_lookup_failed",
    "host_port",
    "initial_cwd",
    "inode",
    "interface_address",
    "interface_port",
    "item",
    "ldap_dn",
    "load_average",
    "local_part",
    "local_part_data",
    "local_part_prefix",
    "local_part_prefix_v",
    "local_part_suffix",
    "local_part_suffix_v",
    "local_scan_data",
    "local_user_gid",
    "local_user_uid",
    "localhost_number",
    "log_inodes",
    "log_space",
    "lookup_dnssec_authenticated",
    "mailstore_basename",
    "malware_name",
    "max_received_linelength",
    "message_age",
    "message_body",
    "message_body_end",
    "message_body_size",
    "message_exim_id",
    "message_headers",
    "message_headers_raw",
    "message_id",
    "message_linecount",
    "message_size",
    "message_smtputf8",
    "mime_anomaly_level",
    "mime_anomaly_text",
    "mime_boundary",
    "mime_charset",
    "mime_content_description",
    "mime_content_disposition",
    "mime_content_id",
    "mime_content_size",
    "mime_content_transfer_encoding",
    "mime_content_type",
    "mime_decoded_filename",
    "mime_filename",
    "mime_is_coverletter",
    "mime_is_multipart",
    "mime_is_rfc822",
    "mime_part_count",
    "n0",
    "n1",
    "n2",
    "n3",
    "n4",
    "n5",
    "n6",
    "n7",
    "n8",
    "n9",
    "original_domain",
    "original_local_part",
    "originator_gid",
    "originator_uid",
    "parent_domain",
    "parent_local_part",
    "pid",
    "prdr_requested",
    "primary_hostname",
    "proxy_external_address",
    "proxy_external_port",
    "proxy_local_address",
    "proxy_local_port",
    "proxy_session",
    "prvscheck_address",
    "prvscheck_keynum",
    "prvscheck_result",
    "qualify_domain",
    "qualify_recipient",
    "queue_name",
    "queue_size",
    "rcpt_count",
    "rcpt_defer_count",
    "rcpt_fail_count",
    "received_count",
    "received_for",
    "received_ip_address",
    "received_port",
    "received_protocol",
    "received_time",
    "recipient_data",
    "recipient_verify_failure",
    "recipients",
    "recipients_count",
    "regex_match_string",
    "reply_address",
    "return_path",
    "return_size_limit",
    "router_name",
    "runrc",
    "self_hostname",
    "sender_address",
    "sender_address_data",
    "sender_address_domain",
    "sender_address_local_part",
    "sender_data",
    "sender_fullhost",
    "sender_helo_dnssec",
    "sender_helo_name",
    "sender_host_address",
    "sender_host_authenticated",
    "sender_host_dnssec",
    "sender_host_name",
    "sender_host_port",
    "sender_ident",
    "sender_rate",
    "sender_rate_limit",
    "sender_rate_period",
    "sender_rcvhost",
    "sender_verify_failure",
    "sending_ip_address",
    "sending_port",
    "smtp_active_hostname",
    "smtp_command",
    "smtp_command_argument",
    "smtp_command_history",
    "smtp_count_at_connection_start",
    "smtp_notquit_reason",
    "sn0",
    "sn1",
    "sn2",
    "sn3",
    "sn4",
    "sn5",
    "sn6",
    "sn7",
    "sn8",
    "sn9",
    "spam_action",
    "spam_bar",
    "spam_report",
    "spam_score",
    "spam_score_int",
    "spf_guess",
    "spf_header_comment",
    "spf_received",
    "spf_result",
    "spf_result_guessed",
    "spf_smtp_comment",
    "spool_directory",
    "spool_inodes",
    "spool_space",
    "srs_recipient",
    "thisaddress",
    "tls_bits",
    "tls_certificate_verified",
    "tls_cipher",
    "tls_in_bits",
    "tls_in_certificate_verified",
    "tls_in_cipher",
    "tls_in_cipher_std",
    "tls_in_ocsp",
    "tls_in_ourcert",
    "tls_in_peercert",
    "tls_in_peerdn",
    "tls_in_resumption",
    "tls_in_sni",
    "tls_in_ver",
    "tls_out_bits",
    "tls_out_certificate_verified",
    "tls_out_cipher",
    "tls_out_cipher_std",
    "tls_out_dane",
    "tls_out_ocsp",
    "tls_out_ourcert",
    "tls_out_peercert",
    "tls_out_peerdn",
    "tls_out_resumption",
    "tls_out_sni",
    "tls_out_tlsa_usage",
    "tls_out_ver",
    "tls_peerdn",
    "tls_sni",
    "tod_bsdinbox",
    "tod_epoch",
    "tod_epoch_l",
    "tod_full",
    "tod_log",
    "tod_logfile",
    "tod_zone",
    "tod_zulu",
    "transport_name",
    "value",
    "verify_mode",
    "version_number",
    "warn_message_delay",
    "warn_message_recipient",
    "warn_message_recipients",
    "warnmsg_delay",
    "warnmsg_recipient",
    "warnmsg_recipients",
];

/// The id of a fixed variable, found at compile time (`const DOMAIN: VarId = id("domain")`):
/// hot paths set and clear variables without hashing their names. An unknown name does
/// not compile.
pub const fn id(name: &str) -> VarId {
    let (mut lo, mut hi) = (0, NAMES.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        match compare(NAMES[mid].as_bytes(), name.as_bytes()) {
            std::cmp::Ordering::Equal => return VarId(mid as u16),
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
        }
    }
    panic!("not a fixed variable name")
}

/// A fixed variable's [`VarId`], worked out at compile time: `vid!("domain")`.
#[macro_export]
macro_rules! vid {
    ($name:literal) => {
        const { $crate::expand::vars::id($name) }
    };
}

/// [`id`] for several names at once.
pub const fn ids<const N: usize>(names: [&str; N]) -> [VarId; N] {
    let mut out = [VarId(0); N];
    let mut i = 0;
    while i < N {
        out[i] = id(names[i]);
        i += 1;
    }
    out
}

/// Byte-wise comparison (the table's order), usable in a `const fn`.
const fn compare(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let mut i = 0;
    while i < a.len() && i < b.len() {
        if a[i] != b[i] {
            return if a[i] < b[i] {
                std::cmp::Ordering::Less
            } else {
                std::cmp::Ordering::Greater
            };
        }
        i += 1;
    }
    if a.len() < b.len() {
        std::cmp::Ordering::Less
    } else if a.len() > b.len() {
        std::cmp::Ordering::Greater
    } else {
        std::cmp::Ordering::Equal
    }
}

/// The id of a fixed variable by name.
pub fn var_id(name: &str) -> Option<VarId> {
    // Every `$name` of every parsed expansion comes here: a hash beats a binary search.
    static INDEX: std::sync::OnceLock<crate::expand::fxhash::NameIndex> =
        std::sync::OnceLock::new();
    let index = INDEX.get_or_init(|| crate::expand::fxhash::NameIndex::new(VARIABLES.iter()));
    index.get(name).map(|i| VarId(i as u16))
}

/// Resolve a `$name`, following Exim's order: ACL variables, router variables,
/// `$authN`/`$regexN`, then the fixed table.
pub fn resolve(name: &str) -> Option<Var> {
    let b = name.as_bytes();
    // Only names starting `a` or `r` can be dynamic: the rest go straight to the table.
    if !matches!(b.first(), Some(b'a' | b'r')) {
        return var_id(name).map(Var::Fixed);
    }
    if (name.starts_with("acl_c") || name.starts_with("acl_m"))
        && !b.get(5).is_some_and(|c| c.is_ascii_alphabetic())
    {
        let rest: Box<str> = name[5..].into();
        return Some(if b[4] == b'c' {
            Var::AclC(rest)
        } else {
            Var::AclM(rest)
        });
    }
    if let Some(rest) = name.strip_prefix("r_") {
        return Some(Var::Router(rest.into()));
    }
    if let Some(n) = numbered(name, "auth", 4) {
        return Some(Var::Auth(n));
    }
    if let Some(n) = numbered(name, "regex", 9) {
        return Some(Var::Regex(n));
    }
    var_id(name).map(Var::Fixed)
}

fn numbered(name: &str, prefix: &str, max: u8) -> Option<u8> {
    let digits = name.strip_prefix(prefix)?;
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let n: u32 = digits.parse().ok()?;
    (n >= 1 && n <= max as u32).then_some(n as u8)
}

/// Exim's explanation appended to "unknown variable" for names starting `acl_`.
pub fn unknown_suffix(name: &str) -> String {
    if !name.starts_with("acl_") {
        return String::new();
    }
    let b = name.as_bytes();
    let why = match b.get(4) {
        Some(b'c') | Some(b'm') => {
            if b.get(5).is_some_and(|c| c.is_ascii_alphabetic()) {
                "6th character of a user-defined ACL variable must be a digit or underscore"
            } else {
                "strict_acl_vars is set"
            }
        }
        _ => "user-defined ACL variables must start acl_c or acl_m",
    };
    format!(" ({why})")
}

impl Var {
    /// The name as written after `$`.
    pub fn name(&self) -> String {
        match self {
            Var::Fixed(id) => id.name().to_string(),
            Var::AclC(r) => format!("acl_c{r}"),
            Var::AclM(r) => format!("acl_m{r}"),
            Var::Router(r) => format!("r_{r}"),
            Var::Auth(n) => format!("auth{n}"),
            Var::Regex(n) => format!("regex{n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compile_time_ids_match_the_runtime_index() {
        for (i, name) in VARIABLES.iter().enumerate() {
            assert_eq!(id(name), VarId(i as u16), "{name}");
            assert_eq!(var_id(name), Some(id(name)));
        }
        const PAIR: [VarId; 2] = ids(["domain", "local_part"]);
        assert_eq!(PAIR[0].name(), "domain");
        assert_eq!(PAIR[1].name(), "local_part");
    }

    #[test]
    fn table_is_sorted_and_unique() {
        assert!(VARIABLES.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn resolves_dynamic_names() {
        assert_eq!(resolve("acl_c0"), Some(Var::AclC("0".into())));
        assert_eq!(resolve("acl_m_x"), Some(Var::AclM("_x".into())));
        assert_eq!(resolve("acl_cx"), None);
        assert_eq!(resolve("auth5"), None);
        assert_eq!(resolve("regex9"), Some(Var::Regex(9)));
        assert!(resolve("domain").is_some());
        assert!(resolve("nosuch").is_none());
    }
}
