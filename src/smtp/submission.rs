//! `control = submission[/sender_retain][/domain=d][/name=n]`: the header fixups Exim
//! makes when a message arrives in submission mode (receive.c): a missing
//! `Message-Id:`, `From:` and `Date:` are added, an existing `Sender:` is dropped
//! (kept in the spool as an old header) unless `/sender_retain`, and for an
//! authenticated client whose `From:` is not its own address a `Sender:` is added and
//! the envelope sender becomes that address.

/// The options of the `control = submission` in force.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Submission {
    pub sender_retain: bool,
    /// `/domain=`: `None` means `qualify_domain`; `Some("")` means the
    /// authenticated id is a whole address.
    pub domain: Option<String>,
    /// `/name=` (as Exim's `parse_fix_phrase` quotes it).
    pub name: Option<String>,
}

impl Submission {
    /// Parse the text after `submission`; `None` for anything Exim refuses.
    pub fn parse(opts: &str) -> Option<Submission> {
        let mut s = Submission::default();
        let mut p = opts;
        while let Some(rest) = p.strip_prefix('/') {
            if let Some(r) = rest.strip_prefix("sender_retain") {
                s.sender_retain = true;
                p = r;
            } else if let Some(r) = rest.strip_prefix("domain=") {
                let end = r.find('/').unwrap_or(r.len());
                s.domain = Some(r[..end].to_string());
                p = &r[end..];
            } else if let Some(r) = rest.strip_prefix("name=") {
                // name= swallows the rest of the text.
                let fixed = crate::config::rewrite_apply::fix_phrase(r)?;
                s.name = Some(fixed);
                p = "";
            } else {
                return None;
            }
        }
        p.is_empty().then_some(s)
    }
}

/// What the message needs before the MIME and DATA ACLs see it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Fixups {
    /// Header lines to add after the message's own, in Exim's order.
    pub added: Vec<String>,
    /// The existing `Sender:` headers become old (`*` in the spool, invisible).
    pub old_sender: bool,
    /// The envelope sender to use instead of the one given.
    pub new_sender: Option<Vec<u8>>,
}

/// The facts the fixups depend on.
pub struct Facts<'a> {
    pub message_id: &'a str,
    /// The domain of a generated `Message-Id:` (`message_id_header_domain`, else
    /// `primary_hostname`) and the text after the id (`message_id_header_text`), both
    /// already expanded and sanitised with [`id_domain`] / [`id_text`].
    pub id_domain: &'a str,
    pub id_text: &'a str,
    pub qualify_domain: &'a str,
    pub sender: &'a [u8],
    pub authenticated_id: Option<&'a [u8]>,
    /// `${tod_full}` at arrival.
    pub date: &'a str,
    /// `local_from_check` (Exim's default true).
    pub local_from_check: bool,
    /// `local_sender_retain` (default false).
    pub local_sender_retain: bool,
}

fn name_of(h: &[u8]) -> &[u8] {
    let end = h.iter().position(|&c| c == b':').unwrap_or(h.len());
    h[..end].trim_ascii_end()
}

fn has(headers: &[Vec<u8>], name: &str) -> bool {
    headers
        .iter()
        .any(|h| name_of(h).eq_ignore_ascii_case(name.as_bytes()))
}

/// A `message_id_header_domain` value as Exim uses it: anything but letters, digits
/// and dots becomes `-`.
pub fn id_domain(v: &str) -> String {
    v.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// A `message_id_header_text` value: controls and RFC 2822 specials become `-`.
pub fn id_text(v: &str) -> String {
    v.chars()
        .map(|c| {
            if (c as u32) < 32 || " ()<>@,;:\\\".[]\u{7f}".contains(c) {
                '-'
            } else {
                c
            }
        })
        .collect()
}

/// Exim's `local_part_quote`: quoted only where RFC 2822 needs it.
fn quote_local_part(s: &[u8]) -> String {
    let last = s.len().saturating_sub(1);
    let needs = s.is_empty()
        || s.iter().enumerate().any(|(i, &c)| {
            !c.is_ascii_alphanumeric()
                && !b"!#$%&'*+-/=?^_`{|}~".contains(&c)
                && (c != b'.' || i == 0 || i == last)
        });
    let s = String::from_utf8_lossy(s);
    if !needs {
        return s.into_owned();
    }
    let mut q = String::from("\"");
    for c in s.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// The fixups for a message from a remote host in submission mode. Messages with
/// `Resent-` headers are not handled yet (Exim applies the rules to the resent set):
/// the caller refuses them with a named error instead.
pub fn fixups(headers: &[Vec<u8>], sub: &Submission, f: &Facts) -> Fixups {
    let mut out = Fixups {
        old_sender: !(sub.sender_retain || f.local_sender_retain),
        ..Fixups::default()
    };
    if !has(headers, "message-id") {
        let dot = if f.id_text.is_empty() { "" } else { "." };
        out.added.push(format!(
            "Message-Id: <E{}{dot}{}@{}>\n",
            f.message_id, f.id_text, f.id_domain
        ));
    }
    let auth = f.authenticated_id.filter(|a| !a.is_empty());
    let generated = auth.map(|a| match sub.domain.as_deref() {
        None => format!("{}@{}", quote_local_part(a), f.qualify_domain),
        Some("") => String::from_utf8_lossy(a).into_owned(),
        Some(d) => format!("{}@{d}", quote_local_part(a)),
    });
    let oname = sub.name.clone().unwrap_or_default();
    let wrap = |addr: &str| {
        if oname.is_empty() {
            addr.to_string()
        } else {
            format!("{oname} <{addr}>")
        }
    };
    let mut from: Option<Vec<u8>> = headers
        .iter()
        .find(|h| name_of(h).eq_ignore_ascii_case(b"from"))
        .cloned();
    if from.is_none() {
        let line = if f.sender.is_empty() {
            generated.as_deref().map(|g| format!("From: {}\n", wrap(g)))
        } else {
            Some(format!(
                "From: {}\n",
                wrap(&String::from_utf8_lossy(f.sender))
            ))
        };
        if let Some(l) = line {
            from = Some(l.clone().into_bytes());
            out.added.push(l);
        }
    }
    let from_check = f.local_from_check && !sub.sender_retain;
    if let (Some(from), Some(generated), true) = (from, generated, from_check) {
        let colon = from.iter().position(|&c| c == b':').unwrap_or(0);
        let given = crate::expand::address::extract(&from[colon + 1..]).ok();
        let same = given
            .is_some_and(|a| String::from_utf8_lossy(&a.address).eq_ignore_ascii_case(&generated));
        if !same {
            out.added.push(format!("Sender: {}\n", wrap(&generated)));
        }
        if !f.sender.is_empty() {
            out.new_sender = Some(generated.into_bytes());
        }
    }
    if !has(headers, "date") {
        out.added.push(format!("Date: {}\n", f.date));
    }
    out
}

/// Does the message carry `Resent-` headers (which Exim's fixups treat apart)?
pub fn has_resent(headers: &[Vec<u8>]) -> bool {
    headers
        .iter()
        .any(|h| name_of(h).len() > 7 && name_of(h)[..7].eq_ignore_ascii_case(b"resent-"))
}

/// The message with the fixups applied: what is stored (old `Sender:` lines kept,
/// their indices returned, to be marked old), and what the ACLs see (without them).
pub struct Applied {
    pub stored: Vec<u8>,
    pub visible: Vec<u8>,
    pub obsolete: Vec<usize>,
}

pub fn apply(data: &[u8], fx: &Fixups) -> Applied {
    let (headers, rest) = crate::spool::build::split_headers(data);
    let mut a = Applied {
        stored: Vec::with_capacity(data.len() + 256),
        visible: Vec::with_capacity(data.len() + 256),
        obsolete: Vec::new(),
    };
    for (i, h) in headers.iter().enumerate() {
        a.stored.extend_from_slice(h);
        if fx.old_sender && name_of(h).eq_ignore_ascii_case(b"sender") {
            a.obsolete.push(i);
        } else {
            a.visible.extend_from_slice(h);
        }
    }
    for l in &fx.added {
        a.stored.extend_from_slice(l.as_bytes());
        a.visible.extend_from_slice(l.as_bytes());
    }
    for out in [&mut a.stored, &mut a.visible] {
        out.push(b'\n');
        out.extend_from_slice(rest);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(sender: &'a [u8], auth: Option<&'a [u8]>) -> Facts<'a> {
        Facts {
            message_id: "1abcde-000000-00",
            id_domain: "mx.test",
            id_text: "",
            qualify_domain: "mx.test",
            sender,
            authenticated_id: auth,
            date: "Tue, 01 Dec 2026 21:00:00 +0000",
            local_from_check: true,
            local_sender_retain: false,
        }
    }

    #[test]
    fn options() {
        assert_eq!(Submission::parse(""), Some(Submission::default()));
        let s = Submission::parse("/sender_retain/domain=example.org/name=Mail Robot").unwrap();
        assert!(s.sender_retain);
        assert_eq!(s.domain.as_deref(), Some("example.org"));
        assert_eq!(s.name.as_deref(), Some("Mail Robot"));
        assert_eq!(
            Submission::parse("/name=A. Person")
                .unwrap()
                .name
                .as_deref(),
            Some("\"A. Person\"")
        );
        assert_eq!(
            Submission::parse("/domain=").unwrap().domain.as_deref(),
            Some("")
        );
        assert!(Submission::parse("/bogus").is_none());
        assert!(Submission::parse("x").is_none());
    }

    #[test]
    fn bare_message_gets_id_from_and_date() {
        let f = fixups(
            &[b"Subject: x\n".to_vec()],
            &Submission::default(),
            &facts(b"a@b.c", None),
        );
        assert_eq!(
            f.added,
            [
                "Message-Id: <E1abcde-000000-00@mx.test>\n",
                "From: a@b.c\n",
                "Date: Tue, 01 Dec 2026 21:00:00 +0000\n"
            ]
        );
        assert!(f.old_sender);
        assert_eq!(f.new_sender, None);
    }

    #[test]
    fn authenticated_sender_handling() {
        let h = vec![
            b"From: Someone <other@example.org>\n".to_vec(),
            b"Message-ID: <x@y>\n".to_vec(),
            b"Date: now\n".to_vec(),
        ];
        let sub = Submission::parse("/domain=example.org/name=Fred").unwrap();
        let f = fixups(&h, &sub, &facts(b"a@b.c", Some(b"fred")));
        assert_eq!(f.added, ["Sender: Fred <fred@example.org>\n"]);
        assert_eq!(f.new_sender.as_deref(), Some(&b"fred@example.org"[..]));
        // From: already the authenticated address: no Sender:.
        let h = vec![b"From: FRED@example.org\n".to_vec()];
        let sub = Submission::parse("/domain=example.org").unwrap();
        let f = fixups(&h, &sub, &facts(b"", Some(b"fred")));
        assert_eq!(f.added.len(), 2, "{:?}", f.added);
        assert_eq!(f.new_sender, None);
        // sender_retain: no From check, the old Sender: stays.
        let sub = Submission::parse("/sender_retain").unwrap();
        let f = fixups(&h, &sub, &facts(b"a@b.c", Some(b"x y")));
        assert!(!f.old_sender);
        assert!(f.added.iter().all(|l| !l.starts_with("Sender")));
        // Null sender, no From:, whole-address id.
        let sub = Submission::parse("/domain=").unwrap();
        let f = fixups(&[], &sub, &facts(b"", Some(b"u@example.net")));
        assert_eq!(f.added[1], "From: u@example.net\n");
        assert!(quote_local_part(b"x y") == "\"x y\"");
        assert_eq!(id_domain("a_b.EX@x"), "a-b.EX-x");
        assert_eq!(id_text("t x@(y)."), "t-x--y--");
    }
}
