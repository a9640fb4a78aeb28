//! A recipient's verdict at routing time, as Exim's deliver.c finds it: the verdict
//! whose recipients include the original top-level `local_part@domain` (so aliased and
//! child addresses inherit it), and the `$bmi_*` variables and `bmi_rule` test from it.
//!
//! Routers are not written yet; they will call [`for_recipient`], [`set_variables`]
//! and [`rule_fired`] (the `bmi_rule`, `bmi_dont_deliver`, `bmi_deliver_alternate`
//! and `bmi_deliver_default` preconditions).

use crate::expand::{Context, Val};
use crate::features::bmi::{BmiError, BmiProvider, Destination};

/// The `$bmi_*` values for one recipient. Defaults: no verdict, deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientVerdict {
    /// `$bmi_base64_verdict`.
    pub base64_verdict: Option<String>,
    /// `$bmi_base64_tracker_verdict`.
    pub tracker_verdict: Option<String>,
    /// `$bmi_deliver`: false only when the verdict's destination is null.
    pub deliver: bool,
    /// `$bmi_alt_location`, when delivering to an alternate location.
    pub alt_location: Option<String>,
    /// Panic-log lines (verdicts the provider could not decode).
    pub panic_logs: Vec<String>,
}

impl Default for RecipientVerdict {
    fn default() -> Self {
        RecipientVerdict {
            base64_verdict: None,
            tracker_verdict: None,
            deliver: true,
            alt_location: None,
            panic_logs: Vec::new(),
        }
    }
}

fn decode_failed(e: &BmiError, verdict: &str) -> String {
    format!(
        "bmi error [loc {} type {}]: bmiCreateVerdictFromStr() failed. [{verdict}]",
        e.location, e.kind
    )
}

/// The verdict (from the message's `bmi_verdicts`, a colon list) that names
/// `local_part@domain`, both compared caselessly. A verdict that cannot be decoded
/// ends the search, as in Exim.
pub fn find(
    provider: &dyn BmiProvider,
    verdicts: Option<&[u8]>,
    local_part: &[u8],
    domain: &[u8],
    logs: &mut Vec<String>,
) -> Option<String> {
    for item in crate::expand::lists::iter(verdicts?) {
        let text = String::from_utf8_lossy(&item).into_owned();
        let decoded = match provider.decode(&text) {
            Ok(d) => d,
            Err(e) => {
                logs.push(decode_failed(&e, &text));
                return None;
            }
        };
        let named = decoded.recipients.iter().any(|r| {
            let (lp, dom) = match r.iter().position(|&c| c == b'@') {
                Some(i) => (&r[..i], &r[i + 1..]),
                None => (&r[..], &b""[..]),
            };
            lp.eq_ignore_ascii_case(local_part) && dom.eq_ignore_ascii_case(domain)
        });
        if named {
            return Some(text);
        }
    }
    None
}

/// Everything deliver.c sets for one address: the verdict of its top-level original
/// (`local_part_orig`, `domain_orig`), then tracker, delivery status, alternate location.
pub fn for_recipient(
    provider: &dyn BmiProvider,
    verdicts: Option<&[u8]>,
    local_part_orig: &[u8],
    domain_orig: &[u8],
) -> RecipientVerdict {
    let mut out = RecipientVerdict::default();
    let Some(v) = find(
        provider,
        verdicts,
        local_part_orig,
        domain_orig,
        &mut out.panic_logs,
    ) else {
        return out;
    };
    match provider.decode(&v) {
        Ok(d) => {
            match d.tracker {
                Ok(t) => out.tracker_verdict = Some(t),
                Err(e) => out.panic_logs.push(format!(
                    "bmi error [loc {} type {}]: bmiCreateOldStrFromVerdict() failed. [{v}]",
                    e.location, e.kind
                )),
            }
            if !d.error {
                match d.destination {
                    Destination::Default => {}
                    Destination::Null => out.deliver = false,
                    Destination::Alternate(a) => out.alt_location = Some(a),
                }
            }
        }
        Err(e) => out.panic_logs.push(decode_failed(&e, &v)),
    }
    out.base64_verdict = Some(v);
    out
}

/// Set `$bmi_base64_verdict`, `$bmi_base64_tracker_verdict`, `$bmi_deliver` and
/// `$bmi_alt_location` for the address being routed (unset ones expand to nothing).
pub fn set_variables(ctx: &mut Context, v: &RecipientVerdict) {
    for (name, value) in [
        ("bmi_base64_verdict", &v.base64_verdict),
        ("bmi_base64_tracker_verdict", &v.tracker_verdict),
        ("bmi_alt_location", &v.alt_location),
    ] {
        match value {
            Some(s) => {
                ctx.set(name, Val::tainted(s.as_bytes()));
            }
            None => ctx.unset(name),
        }
    }
    ctx.set("bmi_deliver", if v.deliver { "1" } else { "0" });
}

/// `bmi_rule = 5:8:11`: did any listed rule (numbers above 0; leading digits of each
/// item count) fire in the recipient's verdict? No verdict, or a verdict in error: no.
pub fn rule_fired(
    provider: &dyn BmiProvider,
    verdict: Option<&str>,
    rules: &str,
    logs: &mut Vec<String>,
) -> bool {
    let Some(v) = verdict else {
        return false;
    };
    let decoded = match provider.decode(v) {
        Ok(d) => d,
        Err(e) => {
            logs.push(decode_failed(&e, v));
            return false;
        }
    };
    if decoded.error {
        return false;
    }
    crate::expand::lists::iter(rules.as_bytes()).any(|item| {
        let s = String::from_utf8_lossy(&item);
        let s = s.trim_start();
        let sign = usize::from(s.starts_with(['-', '+']));
        let digits: String = s[sign..].chars().take_while(char::is_ascii_digit).collect();
        let n: i32 = digits.parse().unwrap_or(-1);
        let n = if s.starts_with('-') { -n } else { n };
        n > 0 && decoded.rules_fired.contains(&n)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::bmi::{BmiMessage, DecodedVerdict, Step};

    /// Verdict `r:<rcpt>` for `rcpt`; `bad` cannot be decoded; rules 5 and 8 fire.
    struct Tiny;

    impl BmiProvider for Tiny {
        fn process(&self, _: &BmiMessage) -> Result<Vec<String>, BmiError> {
            Ok(vec![])
        }

        fn decode(&self, v: &str) -> Result<DecodedVerdict, BmiError> {
            let rcpt = v
                .strip_prefix("r=")
                .ok_or(BmiError::new(Step::InitMessage, 4, 2))?;
            Ok(DecodedVerdict {
                recipients: vec![rcpt.as_bytes().to_vec()],
                error: false,
                destination: Destination::Default,
                rules_fired: vec![5, 8],
                tracker: Ok("t".into()),
            })
        }
    }

    #[test]
    fn search_stops_at_an_undecodable_verdict() {
        let mut logs = Vec::new();
        let list = b"r=a@x.example:bad:r=b@x.example";
        assert_eq!(
            find(&Tiny, Some(list), b"A", b"X.EXAMPLE", &mut logs).as_deref(),
            Some("r=a@x.example")
        );
        assert_eq!(find(&Tiny, Some(list), b"b", b"x.example", &mut logs), None);
        assert_eq!(
            logs,
            ["bmi error [loc 4 type 2]: bmiCreateVerdictFromStr() failed. [bad]"]
        );
    }

    #[test]
    fn rules_read_as_sscanf_reads_them() {
        let mut logs = Vec::new();
        let v = Some("r=a@x.example");
        assert!(rule_fired(&Tiny, v, "1 : +5", &mut logs));
        assert!(rule_fired(&Tiny, v, "8th", &mut logs));
        assert!(!rule_fired(&Tiny, v, "-5 : x : 0", &mut logs));
        assert!(!rule_fired(&Tiny, None, "5", &mut logs));
        assert!(logs.is_empty());
        let none = for_recipient(&Tiny, None, b"a", b"x.example");
        assert_eq!(none, RecipientVerdict::default());
        assert!(none.deliver);
    }
}
