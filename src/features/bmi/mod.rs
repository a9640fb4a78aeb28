//! Brightmail AntiSpam (Exim's `EXPERIMENTAL_BRIGHTMAIL`). When an ACL has obeyed
//! `control = bmi_run`, the message goes to a verdict provider at the end of reception
//! (`receive.rs`); the verdicts are kept in `-H` as `-bmi_verdicts` and give each
//! recipient its `$bmi_*` variables at routing time (`verdict.rs`).
//!
//! The provider is Brightmail's client SDK in Exim; the SDK is proprietary, so here it
//! is the [`BmiProvider`] trait. The default, [`SdkUnavailable`], fails as the SDK
//! fails to start (a panic-log line) and the message goes on without verdicts.

pub mod receive;
pub mod verdict;

use std::sync::Arc;

/// Where an SDK call failed: Exim's log line names the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    InitSystem,
    InitMessage,
    Connection,
    From,
    To,
    EndTo,
    Headers,
    EndHeaders,
    Body,
    EndBody,
    EndMessage,
}

/// An SDK error (`BmiError`): its location and type numbers, the call that failed,
/// and for rexim's own providers a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BmiError {
    pub step: Step,
    pub location: i32,
    pub kind: i32,
    /// The recipient the `To` step failed for.
    pub address: Option<Vec<u8>>,
    pub reason: Option<String>,
}

impl BmiError {
    pub fn new(step: Step, location: i32, kind: i32) -> BmiError {
        BmiError {
            step,
            location,
            kind,
            address: None,
            reason: None,
        }
    }

    /// Exim's panic-log line for this failure (`bmi error [loc 1 type 2]: …`); `ip` and
    /// `sender` are what the connection and FROM steps were given.
    pub fn log_text(&self, ip: &[u8], sender: &[u8]) -> String {
        let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let what = match self.step {
            Step::InitSystem => "could not initialize Brightmail system.".to_string(),
            Step::InitMessage => "could not initialize Brightmail message.".to_string(),
            Step::Connection => format!("bmiProcessConnection() failed (IP {}).", lossy(ip)),
            Step::From => format!("bmiProcessFROM() failed (address {}).", lossy(sender)),
            Step::To => format!(
                "bmiAccumulateTO() failed (address {}).",
                lossy(self.address.as_deref().unwrap_or_default())
            ),
            Step::EndTo => "bmiEndTO() failed.".into(),
            Step::Headers => "bmiAccumulateHeaders() failed.".into(),
            Step::EndHeaders => "bmiEndHeaders() failed.".into(),
            Step::Body => "bmiAccumulateBody() failed.".into(),
            Step::EndBody => "bmiEndBody() failed.".into(),
            Step::EndMessage => "bmiEndMessage() failed.".into(),
        };
        let reason = self
            .reason
            .as_ref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        format!(
            "bmi error [loc {} type {}]: {what}{reason}",
            self.location, self.kind
        )
    }
}

/// One recipient as the SDK gets it: the address and its opt-in string (only when
/// longer than one character, as Exim passes it; the SDK splits it at `:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BmiRecipient<'a> {
    pub address: &'a [u8],
    pub optin: Option<&'a [u8]>,
}

/// The message as Exim hands it to the SDK.
#[derive(Debug, Clone)]
pub struct BmiMessage<'a> {
    /// `bmi_config_file`.
    pub config_file: &'a str,
    /// The client's address, `127.0.0.1` for a local message.
    pub host_address: &'a [u8],
    pub sender: &'a [u8],
    pub recipients: Vec<BmiRecipient<'a>>,
    /// Every header line not marked deleted, in spool order (the Received: first).
    pub headers: Vec<&'a [u8]>,
    /// The body as spooled in `-D`.
    pub body: &'a [u8],
}

/// Where a verdict sends the message for its recipients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Deliver normally.
    Default,
    /// Do not deliver.
    Null,
    /// Deliver to an alternate location (a header-like string, `$bmi_alt_location`).
    Alternate(String),
}

/// A verdict string decoded by the SDK (`bmiCreateVerdictFromStr`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedVerdict {
    /// The recipients (`local@domain`) it applies to.
    pub recipients: Vec<Vec<u8>>,
    /// `bmiVerdictError` reports a fatal error: deliver normally, no rules fired.
    pub error: bool,
    pub destination: Destination,
    /// Rule numbers that fired on the message for these recipients.
    pub rules_fired: Vec<i32>,
    /// The old-style tracker string (`bmiCreateOldStrFromVerdict`).
    pub tracker: Result<String, BmiError>,
}

/// What the Brightmail client SDK does for Exim: scan a message, and decode the
/// verdicts it returned.
pub trait BmiProvider: Send + Sync {
    /// Scan a message: its verdicts (opaque base64 strings), or the failing step.
    fn process(&self, message: &BmiMessage) -> Result<Vec<String>, BmiError>;

    /// Check an opt-in string before it is passed (`bmiOptinMset`); an error makes
    /// Exim warn and pass the recipient without it.
    fn check_optin(&self, _optin: &[u8]) -> Result<(), BmiError> {
        Ok(())
    }

    /// Decode one verdict string.
    fn decode(&self, verdict: &str) -> Result<DecodedVerdict, BmiError>;
}

/// The default provider: no SDK, so every call fails as the SDK's start-up would.
#[derive(Debug, Default)]
pub struct SdkUnavailable;

const NO_SDK: &str = "Brightmail SDK not available";

impl BmiProvider for SdkUnavailable {
    fn process(&self, _: &BmiMessage) -> Result<Vec<String>, BmiError> {
        Err(BmiError {
            reason: Some(NO_SDK.into()),
            ..BmiError::new(Step::InitSystem, 0, 0)
        })
    }

    fn decode(&self, _: &str) -> Result<DecodedVerdict, BmiError> {
        Err(BmiError {
            reason: Some(NO_SDK.into()),
            ..BmiError::new(Step::InitSystem, 0, 0)
        })
    }
}

/// `bmi_config_file` and the provider the session uses.
#[derive(Clone)]
pub struct BmiSettings {
    pub config_file: String,
    pub provider: Arc<dyn BmiProvider>,
}

impl Default for BmiSettings {
    fn default() -> Self {
        BmiSettings {
            config_file: "/opt/brightmail/etc/brightmail.cfg".into(),
            provider: Arc::new(SdkUnavailable),
        }
    }
}

impl std::fmt::Debug for BmiSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BmiSettings")
            .field("config_file", &self.config_file)
            .finish_non_exhaustive()
    }
}

/// The verdicts a `-H` file holds (`-bmi_verdicts`, `--bmi_verdicts` when tainted).
pub fn verdicts_from_spool(h: &crate::spool::header::HeaderFile) -> Option<crate::expand::Val> {
    let line = h.option("bmi_verdicts")?;
    let bytes = line.value.clone()?;
    Some(crate::expand::Val {
        bytes,
        tainted: line.tainted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_texts() {
        let e = SdkUnavailable.process(&BmiMessage {
            config_file: "/x",
            host_address: b"127.0.0.1",
            sender: b"",
            recipients: vec![],
            headers: vec![],
            body: b"",
        });
        assert_eq!(
            e.unwrap_err().log_text(b"", b""),
            "bmi error [loc 0 type 0]: could not initialize Brightmail system. (Brightmail SDK not available)"
        );
        let e = BmiError::new(Step::Connection, 3, 4);
        assert_eq!(
            e.log_text(b"192.0.2.1", b""),
            "bmi error [loc 3 type 4]: bmiProcessConnection() failed (IP 192.0.2.1)."
        );
        let e = BmiError {
            address: Some(b"a@b".to_vec()),
            ..BmiError::new(Step::To, 1, 2)
        };
        assert_eq!(
            e.log_text(b"", b""),
            "bmi error [loc 1 type 2]: bmiAccumulateTO() failed (address a@b)."
        );
    }
}
