//! The `spf` lookup: `${lookup{sender@example.com}spf{192.0.2.1}}` gives the SPF result
//! word for that client and sender (no HELO name, as Exim's lookups/spf.c).

use crate::lookup::{Call, LookupDriver, LookupError, Opened, Options};
use crate::mailauth::spf::{check, SpfRequest};
use crate::mailauth::spf_dns::SpfDns;

pub struct SpfLookup {
    dns: SpfDns,
}

pub fn make() -> Box<dyn LookupDriver> {
    with_dns(SpfDns::System)
}

/// The driver answering from `dns` (tests pass an offline fixture zone).
pub fn with_dns(dns: SpfDns) -> Box<dyn LookupDriver> {
    Box::new(SpfLookup { dns })
}

impl LookupDriver for SpfLookup {
    /// The "file" is the client address; an invalid one is "not found", as in Exim.
    fn find(
        &self,
        _: &Opened,
        source: &[u8],
        key: &[u8],
        _: &Options,
        _: &mut Call,
    ) -> Result<Option<Vec<u8>>, LookupError> {
        let Some(ip) = std::str::from_utf8(source)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        else {
            return Ok(None);
        };
        let req = SpfRequest {
            ip,
            helo: String::new(),
            sender: String::from_utf8_lossy(key).into_owned(),
            receiver: String::new(),
            guess: None,
            comment_template: String::new(),
        };
        Ok(Some(check(&req, &self.dns).result.as_bytes().to_vec()))
    }

    fn tainted_results(&self) -> bool {
        true
    }

    fn cache_results(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::dns::FakeResolver;
    use crate::mailauth::spf_dns::OfflineZone;
    use crate::{expand, parse, Context};

    #[test]
    fn lookup_gives_the_result_word() {
        let zone = FakeResolver::parse(
            "example.com TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\nsoft.example TXT \"v=spf1 ~all\"",
        )
        .unwrap();
        let dns = super::SpfDns::Offline(Arc::new(OfflineZone::from_zone(&zone)));
        let lookups = crate::lookup::Lookups::default()
            .with_driver("spf", super::with_dns(dns))
            .shared();
        let mut ctx = Context::new(lookups);
        let mut run = |text: &str| {
            expand(&parse(text), &mut ctx)
                .map(|v| v.as_str_lossy().into_owned())
                .unwrap_or_else(|e| format!("error: {}", e.message))
        };
        assert_eq!(run("${lookup{bob@example.com}spf{192.0.2.9}}"), "pass");
        assert_eq!(run("${lookup{example.com}spf{198.51.100.1}}"), "fail");
        assert_eq!(
            run("${lookup{x@soft.example}spf{198.51.100.1}}"),
            "softfail"
        );
        assert_eq!(run("${lookup{x@none.example}spf{198.51.100.1}}"), "none");
        assert_eq!(run("${lookup{x@example.com}spf{127.0.0.1}}"), "pass");
        assert_eq!(run("${lookup{x@example.com}spf{not-an-ip}{yes}{no}}"), "no");
    }
}
