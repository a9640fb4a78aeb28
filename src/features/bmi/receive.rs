//! The end of reception with `control = bmi_run`: the message, as it will be spooled,
//! goes to the provider once; its verdicts, joined with `:`, become the message's
//! `bmi_verdicts` (Exim's receive.c, after the DATA ACL, before `-H` is written).

use crate::acl::state::LogLine;
use crate::features::bmi::{BmiMessage, BmiRecipient, BmiSettings};
use crate::smtp::sink::AcceptedMessage;

/// What scanning left: the verdicts (tainted: they describe message data) and the
/// lines Exim writes.
#[derive(Debug, Default)]
pub struct Outcome {
    pub verdicts: Option<Vec<u8>>,
    pub logs: Vec<LogLine>,
    /// `-bh` shows Exim's unconditional `passing bmiOptin string: …` debug lines.
    pub trace: Vec<String>,
}

/// Scan `msg`; `optins` holds each recipient's `bmi_optin` (parallel to its
/// recipients), `received_header_text` makes the Received: header the SDK sees.
pub fn process(
    settings: &BmiSettings,
    msg: &AcceptedMessage,
    optins: &[Option<String>],
    received_header_text: &str,
) -> Outcome {
    let mut out = Outcome::default();
    let ctx = msg.ctx;
    let host = ctx
        .get("sender_host_address")
        .map(|v| v.bytes.clone())
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| b"127.0.0.1".to_vec());
    let now = std::time::Duration::from_secs(u64::try_from(ctx.now()).unwrap_or(0));
    let spooled =
        crate::spool::build::build(msg, &(String::new(), 0, 0), now, received_header_text);
    let (header_file, body) = match spooled {
        Ok(v) => v,
        Err(e) => {
            out.logs.push(LogLine {
                targets: vec!["panic"],
                text: format!("bmi: message not scanned: {e}"),
            });
            return out;
        }
    };
    let mut recipients = Vec::with_capacity(msg.recipients.len());
    for (i, address) in msg.recipients.iter().enumerate() {
        let mut optin = optins
            .get(i)
            .and_then(|o| o.as_deref())
            .map(str::as_bytes)
            .filter(|o| o.len() > 1);
        if let Some(o) = optin {
            out.trace.push(format!(
                "passing bmiOptin string: {}",
                String::from_utf8_lossy(o)
            ));
            if let Err(e) = settings.provider.check_optin(o) {
                out.logs.push(LogLine {
                    targets: vec!["panic", "main"],
                    text: format!(
                        "bmi warning: [loc {} type {}]: bmiOptinMSet() failed (address '{}', string '{}').",
                        e.location,
                        e.kind,
                        String::from_utf8_lossy(address),
                        String::from_utf8_lossy(o)
                    ),
                });
                optin = None;
            }
        }
        recipients.push(BmiRecipient { address, optin });
    }
    let message = BmiMessage {
        config_file: &settings.config_file,
        host_address: &host,
        sender: msg.sender,
        recipients,
        headers: header_file
            .headers
            .iter()
            .filter(|h| h.kind != b'*')
            .map(|h| &h.text[..])
            .collect(),
        body: &body,
    };
    match settings.provider.process(&message) {
        Ok(verdicts) => {
            let joined = verdicts.join(":");
            if !joined.is_empty() {
                out.verdicts = Some(joined.into_bytes());
            }
        }
        Err(e) => out.logs.push(LogLine {
            targets: vec!["panic"],
            text: e.log_text(&host, msg.sender),
        }),
    }
    out
}
