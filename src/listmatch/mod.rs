//! Exim's list matching (match.c): domain, host, address and local-part lists with
//! negation, `+named` lists, inlined `/files`, lookups and regexes. Used by the
//! `match_*` conditions, and later by ACLs and routers.

use crate::expand::context::Context;
use crate::expand::lists;
use crate::expand::value::Val;

pub mod address;
pub mod host;
pub mod ip;
mod mx;
pub mod string;

/// A successful match: the value Exim leaves in `$value` / `$domain_data`, and
/// the numeric variables `$0..$n` the match set up (domain and local-part lists).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matched {
    pub value: Option<Val>,
    pub captures: Vec<Val>,
}

/// Why a list could not be checked: Exim's DEFER, with its `search_error_message`
/// (`None` prints as `NULL`, as Exim does), or a configuration error Exim treats as fatal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListError {
    Defer(Option<String>),
    Fatal(String),
}

impl ListError {
    /// The `${if match_*}` message: `unable to complete match against "LIST": MSG`.
    pub fn expansion_message(&self, list: &[u8]) -> String {
        match self {
            ListError::Defer(m) => format!(
                "unable to complete match against \"{}\": {}",
                String::from_utf8_lossy(list),
                m.as_deref().unwrap_or("NULL")
            ),
            ListError::Fatal(m) => m.clone(),
        }
    }
}

pub type MatchResult = Result<Option<Matched>, ListError>;

/// The kind of list, for `+name` look-ups and per-type special items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Domain,
    Host,
    Address,
    LocalPart,
}

impl Kind {
    fn letter(self) -> char {
        match self {
            Kind::Domain => 'd',
            Kind::Host => 'h',
            Kind::Address => 'a',
            Kind::LocalPart => 'l',
        }
    }

    fn label(self) -> &'static str {
        match self {
            Kind::Domain => " domain",
            Kind::Host => " host",
            Kind::Address => " address",
            Kind::LocalPart => " local part",
        }
    }
}

/// One item test: `Ok(Some(..))` matched, `Ok(None)` did not, `Err` deferred or
/// (`Unknown`) could not be decided (host name not found, bad item in match_ip).
pub(crate) enum ItemErr {
    Defer(Option<String>),
    Unknown(String),
    Fatal(String),
}

pub(crate) type ItemResult = Result<Option<Matched>, ItemErr>;

/// The per-type matcher that `check_list` calls for each item.
pub(crate) trait Matcher {
    fn kind(&self) -> Kind;
    fn test(&mut self, ctx: &mut Context, item: &[u8]) -> ItemResult;
    /// The subject as the `-bh` trace names it (`host`, the domain, the address).
    fn trace_name(&self) -> String;
    /// `+caseful` seen in an address or local-part list.
    fn caseful(&mut self) {}
    /// For host lists: the subject identity under which named-list results are cached.
    fn cache_key(&self) -> Option<String> {
        None
    }
}

/// Most nested `+name` references followed before giving up.
const MAX_NESTING: u32 = 50;

/// Exim's `match_check_list`: scan the items of `list` left to right.
pub(crate) fn check_list(
    ctx: &mut Context,
    m: &mut dyn Matcher,
    list: &[u8],
    expand: bool,
    depth: u32,
) -> MatchResult {
    check_list_as(ctx, m, list, expand, depth, None)
}

/// Most of a list shown in a trace label (Exim's `LIST_LIMIT_PR`).
const LIST_LIMIT_PR: usize = 2048;

/// UTF-8 text without `$` or `\` expands to itself: such a list needs no parse and no
/// evaluation (named lists are expanded at every use, as in Exim).
fn expands_to_itself(list: &[u8]) -> bool {
    !list.iter().any(|&b| b == b'$' || b == b'\\') && std::str::from_utf8(list).is_ok()
}

/// `check_list`, naming the list in the `-bh` trace by `option` (an option name) when
/// given, else by its expanded text, as Exim's `ot`.
pub(crate) fn check_list_as(
    ctx: &mut Context,
    m: &mut dyn Matcher,
    list: &[u8],
    expand: bool,
    depth: u32,
    option: Option<&str>,
) -> MatchResult {
    if depth > MAX_NESTING {
        return Err(ListError::Defer(Some(
            "named lists nested too deeply".into(),
        )));
    }
    let text = if expand && expands_to_itself(list) {
        list.to_vec()
    } else if expand {
        match crate::expand::expand_str(&String::from_utf8_lossy(list), ctx) {
            Ok(v) => v.bytes,
            Err(e) if e.is_forced() => {
                ctx.trace(|| {
                    format!(
                        "expansion of \"{}\" forced failure: assume not in this list",
                        String::from_utf8_lossy(list)
                    )
                });
                return Ok(None);
            }
            Err(e) => {
                ctx.log.push(format!(
                    "failed to expand \"{}\" while checking a list: {}",
                    String::from_utf8_lossy(list),
                    e.message
                ));
                return Err(ListError::Defer(Some(e.into_message())));
            }
        }
    } else {
        list.to_vec()
    };
    let label = ctx.tracing().then(|| match option {
        Some(o) => format!("{} in {o}?", m.trace_name()),
        None => {
            let shown = String::from_utf8_lossy(&text[..text.len().min(LIST_LIMIT_PR)]);
            let more = if text.len() >= LIST_LIMIT_PR {
                "..."
            } else {
                ""
            };
            format!("{} in \"{shown}{more}\"?", m.trace_name())
        }
    });
    let r = scan_items(ctx, m, &text, list, depth, &label);
    if let (Err(ListError::Defer(_)), Some(l)) = (&r, &label) {
        let l = l.clone();
        if let Some(t) = ctx.trace.as_mut() {
            t.plain(&format!("{l} list match deferred"));
        }
    }
    r
}

/// Trace the outcome of one item (`yes (matched "x")`), the end of the list, etc.
fn trace_list(ctx: &mut Context, label: &Option<String>, yes: bool, why: &str) {
    if let Some(l) = label {
        let answer = if yes { "yes" } else { "no" };
        ctx.trace(|| format!("{l} {answer} ({why})"));
    }
}

/// Scan the items of an expanded list.
fn scan_items(
    ctx: &mut Context,
    m: &mut dyn Matcher,
    text: &[u8],
    list: &[u8],
    depth: u32,
    label: &Option<String>,
) -> MatchResult {
    let kind = m.kind();
    let mut positive = true;
    let (mut inc_unknown, mut ign_unknown, mut inc_defer, mut ign_defer) =
        (false, false, false, false);
    for item in lists::iter(text) {
        if matches!(kind, Kind::Address | Kind::LocalPart) && item == b"+caseful" {
            m.caseful();
            continue;
        }
        if kind == Kind::Host && item.first() == Some(&b'+') {
            match item.as_slice() {
                b"+include_unknown" => (inc_unknown, ign_unknown) = (true, false),
                b"+ignore_unknown" => (inc_unknown, ign_unknown) = (false, true),
                b"+include_defer" => (inc_defer, ign_defer) = (true, false),
                b"+ignore_defer" => (inc_defer, ign_defer) = (false, true),
                _ => {}
            }
            if matches!(
                item.as_slice(),
                b"+include_unknown" | b"+ignore_unknown" | b"+include_defer" | b"+ignore_defer"
            ) {
                continue;
            }
        }
        let shown = || format!("matched \"{}\"", String::from_utf8_lossy(&item));
        let mut body: &[u8] = &item;
        positive = true;
        if body.first() == Some(&b'!') {
            positive = false;
            body = trim_start(&body[1..]);
        }
        if body.first() == Some(&b'/') {
            match check_file(
                ctx,
                m,
                body,
                list,
                positive,
                (inc_unknown, ign_unknown, inc_defer, ign_defer),
                label,
            )? {
                FileOutcome::Decided(r) => return Ok(r),
                FileOutcome::Continue(last) => positive = last,
            }
            continue;
        }
        if body.first() == Some(&b'+') {
            let name = String::from_utf8_lossy(&body[1..]).into_owned();
            let found = ctx
                .named_lists
                .as_ref()
                .and_then(|n| n.get(&name, Some(kind.letter())));
            let Some((_, sub)) = found else {
                ctx.log.push(format!(
                    "unknown named{} list \"{}\"",
                    kind.label(),
                    String::from_utf8_lossy(body)
                ));
                return Err(ListError::Defer(None));
            };
            // Exim caches a named host list's answer for the connection unless the
            // list holds an expansion.
            let key = if sub.contains('$') {
                None
            } else {
                m.cache_key()
                    .map(|k| format!("{name}\0{k}").into_boxed_str())
            };
            if let Some(cached) = key.as_ref().and_then(|k| ctx.host_list_cache.get(k)) {
                if let Some(hit) = cached.clone() {
                    trace_list(ctx, label, positive, &format!("{} - cached", shown()));
                    return Ok(if positive { Some(hit) } else { None });
                }
                continue;
            }
            let r = check_list(ctx, m, sub.as_bytes(), true, depth + 1)?;
            if let Some(k) = key {
                ctx.host_list_cache.insert(k, r.clone());
            }
            if let Some(hit) = r {
                trace_list(ctx, label, positive, &shown());
                return Ok(if positive { Some(hit) } else { None });
            }
            continue;
        }
        match m.test(ctx, body) {
            Ok(Some(hit)) => {
                trace_list(ctx, label, positive, &shown());
                return Ok(if positive { Some(hit) } else { None });
            }
            Ok(None) => {}
            Err(ItemErr::Fatal(msg)) => return Err(ListError::Fatal(msg)),
            Err(ItemErr::Defer(msg)) => {
                let msg = msg.unwrap_or_else(|| {
                    format!(
                        "DNS lookup of \"{}\" deferred",
                        String::from_utf8_lossy(body)
                    )
                });
                if ign_defer {
                    ctx.trace(|| format!("{msg}: item ignored by +ignore_defer"));
                    continue;
                }
                if inc_defer {
                    ctx.log.push(format!("{msg}: accepted by +include_defer"));
                    return Ok(Some(Matched::default()));
                }
                return Err(ListError::Defer(Some(msg)));
            }
            Err(ItemErr::Unknown(msg)) => {
                if ign_unknown {
                    ctx.trace(|| format!("{msg}: item ignored by +ignore_unknown"));
                    continue;
                }
                trace_list(ctx, label, inc_unknown, &msg);
                if !inc_unknown {
                    return Ok(None);
                }
                ctx.log.push(format!("{msg}: accepted by +include_unknown"));
                return Ok(Some(Matched::default()));
            }
        }
    }
    // End of list: in only when the last item was negative.
    trace_list(ctx, label, !positive, "end of list");
    Ok(if positive {
        None
    } else {
        Some(Matched::default())
    })
}

enum FileOutcome {
    Decided(Option<Matched>),
    /// Polarity of the file's last item, for the end-of-list rule.
    Continue(bool),
}

/// Largest list file read inline (bytes).
const MAX_FILE: u64 = 16 << 20;

fn check_file(
    ctx: &mut Context,
    m: &mut dyn Matcher,
    path: &[u8],
    list: &[u8],
    positive: bool,
    flags: (bool, bool, bool, bool),
    label: &Option<String>,
) -> Result<FileOutcome, ListError> {
    use std::io::Read;
    let (inc_unknown, ign_unknown, inc_defer, ign_defer) = flags;
    let name = String::from_utf8_lossy(path).into_owned();
    let mut data = Vec::new();
    let opened = std::fs::File::open(&name).and_then(|f| f.take(MAX_FILE).read_to_end(&mut data));
    if let Err(e) = opened {
        let why = e
            .raw_os_error()
            .map(crate::listmatch::string::strerror)
            .unwrap_or_else(|| e.to_string());
        return Err(ListError::Fatal(format!(
            "failed to open {name} when checking \"{}\": {why}",
            String::from_utf8_lossy(list)
        )));
    }
    let hash_anywhere = !matches!(m.kind(), Kind::Address | Kind::LocalPart);
    let mut last = positive;
    for raw in data.split(|&c| c == b'\n') {
        let mut line = raw;
        // Comments: `#` anywhere, or (address and local-part lists) only at the start or after space.
        let mut i = 0;
        while i < line.len() {
            if line[i] == b'#' && (hash_anywhere || i == 0 || line[i - 1].is_ascii_whitespace()) {
                line = &line[..i];
                break;
            }
            i += 1;
        }
        let line = trim_start(trim_end(line));
        if line.is_empty() {
            continue;
        }
        let mut pos = positive;
        let mut body = line;
        if body[0] == b'!' {
            pos = !pos;
            body = trim_start(&body[1..]);
        }
        last = pos;
        match m.test(ctx, body) {
            Ok(Some(mut hit)) => {
                let why = format!("matched \"{}\" in {name}", String::from_utf8_lossy(line));
                trace_list(ctx, label, positive, &why);
                hit.value = Some(Val::new(body));
                return Ok(FileOutcome::Decided(if pos { Some(hit) } else { None }));
            }
            Ok(None) => {}
            Err(ItemErr::Fatal(msg)) => return Err(ListError::Fatal(msg)),
            Err(ItemErr::Defer(msg)) => {
                if ign_defer {
                    continue;
                }
                let msg = msg.unwrap_or_else(|| {
                    format!("DNS lookup of {} deferred", String::from_utf8_lossy(body))
                });
                if inc_defer {
                    ctx.log.push(format!("{msg}: accepted by +include_defer"));
                    return Ok(FileOutcome::Decided(Some(Matched::default())));
                }
                return Err(ListError::Defer(Some(msg)));
            }
            Err(ItemErr::Unknown(msg)) => {
                if ign_unknown {
                    continue;
                }
                if !inc_unknown {
                    return Ok(FileOutcome::Decided(None));
                }
                ctx.log.push(format!("{msg}: accepted by +include_unknown"));
                return Ok(FileOutcome::Decided(Some(Matched::default())));
            }
        }
    }
    Ok(FileOutcome::Continue(last))
}

pub(crate) fn trim_start(s: &[u8]) -> &[u8] {
    let n = s
        .iter()
        .take_while(|c| c.is_ascii_whitespace() || **c == 0x0b)
        .count();
    &s[n..]
}

pub(crate) fn trim_end(s: &[u8]) -> &[u8] {
    let n = s
        .iter()
        .rev()
        .take_while(|c| c.is_ascii_whitespace() || **c == 0x0b)
        .count();
    &s[..s.len() - n]
}

/// Is `subject` in the domain list `list`? (`match_domain`, router `domains`.)
/// `expand` expands the list first (options do; the condition does not).
pub fn match_domain(ctx: &mut Context, subject: &[u8], list: &[u8], expand: bool) -> MatchResult {
    let mut m = string::StringMatcher::new(subject, Kind::Domain);
    if expand && ctx.get("domain").is_none() {
        ctx.set("domain", Val::new(subject));
        let r = check_list(ctx, &mut m, list, true, 0);
        ctx.unset("domain");
        return r;
    }
    check_list(ctx, &mut m, list, expand, 0)
}

/// Is `subject` in the local-part list `list`? Caseless until `+caseful`.
pub fn match_local_part(
    ctx: &mut Context,
    subject: &[u8],
    list: &[u8],
    expand: bool,
) -> MatchResult {
    let mut m = string::StringMatcher::new(subject, Kind::LocalPart);
    check_list(ctx, &mut m, list, expand, 0)
}

/// Is `address` in the address list `list`? Caseless until `+caseful`.
pub fn match_address(ctx: &mut Context, address: &[u8], list: &[u8], expand: bool) -> MatchResult {
    let mut m = address::AddressMatcher::new(address);
    check_list(ctx, &mut m, list, expand, 0)
}

/// One address-list item (expanded first, never split: Exim's one-item lists for retry and
/// rewrite patterns) against an address. With `rewrite`, the local part is compared
/// casefully and `$0..$n` are set up, as Exim's rewriting does. A failed expansion is
/// logged in `ctx.log` (with the pattern as written) and does not match.
pub fn match_address_item(
    ctx: &mut Context,
    address: &[u8],
    pattern: &str,
    rewrite: bool,
) -> MatchResult {
    let expanded = match crate::expand::expand_str(pattern, ctx) {
        Ok(v) => v.bytes,
        Err(e) if e.is_forced() => return Ok(None),
        Err(e) => {
            ctx.log.push(format!(
                "failed to expand \"{pattern}\" while checking a list: {}",
                e.message
            ));
            return Err(ListError::Defer(Some(e.into_message())));
        }
    };
    let mut m = if rewrite {
        address::AddressMatcher::for_rewrite(address)
    } else {
        address::AddressMatcher::new(address)
    };
    // A control-character separator keeps the item whole (Exim's UCHAR_MAX+1).
    let mut list = b"<\x01".to_vec();
    list.extend_from_slice(&expanded);
    check_list(ctx, &mut m, &list, false, 0)
}

/// `match_ip`: is `ip` (empty for a local caller) in a host list restricted to IP
/// addresses and IP lookups?
pub fn match_ip(ctx: &mut Context, ip: &[u8], list: &[u8], expand: bool) -> MatchResult {
    let mut m = host::HostMatcher::new(ip, Some(Vec::new()));
    check_list(ctx, &mut m, list, expand, 0)
}

/// A full host list check for a host with this address and (if known) name.
/// Items that need the name when it is unknown do not match (`no host name known`).
pub fn match_host(
    ctx: &mut Context,
    ip: &[u8],
    name: Option<&[u8]>,
    list: &[u8],
    expand: bool,
) -> MatchResult {
    let mut m = host::HostMatcher::new(ip, name.map(<[u8]>::to_vec));
    m.ip_only = false;
    check_list(ctx, &mut m, list, expand, 0)
}

/// `match_host` for a host-list option, traced under the option's name as Exim's
/// session checks are (`host in hosts_proxy? no (end of list)`).
pub fn match_host_option(
    ctx: &mut Context,
    ip: &[u8],
    name: Option<&[u8]>,
    list: &[u8],
    option: &str,
) -> MatchResult {
    let mut m = host::HostMatcher::new(ip, name.map(<[u8]>::to_vec));
    m.ip_only = false;
    check_list_as(ctx, &mut m, list, true, 0, Some(option))
}

/// `match_domain` for a domain-list option, traced under the option's name
/// (`x.example in helo_lookup_domains? no (end of list)`).
pub fn match_domain_option(
    ctx: &mut Context,
    subject: &[u8],
    list: &[u8],
    option: &str,
) -> MatchResult {
    let mut m = string::StringMatcher::new(subject, Kind::Domain);
    check_list_as(ctx, &mut m, list, true, 0, Some(option))
}

#[cfg(test)]
mod tests;

/// A list item's lookup failure as Exim reports it: the driver's own message,
/// without the `lookup of "KEY" gave DEFER:` wrapper that `${lookup}` adds.
pub(crate) fn driver_reason(e: crate::ExpandError) -> String {
    match e.message.split_once("\" gave DEFER: ") {
        Some((head, reason)) if head.starts_with("lookup of \"") => reason.to_string(),
        _ => e.into_message(),
    }
}
