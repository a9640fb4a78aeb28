//! A small loader for SMTP test configurations (main options and `begin acl`), used by
//! `rexim -bh -C` until the full configuration loader lands.

use crate::acl::read::{read_acl, Line};
use crate::acl::AclSet;
use crate::smtp::config::SessionConfig;

/// Join Exim's logical lines: drop comment and blank lines, strip leading white space,
/// and join a line ending in `\` with the next. Each result keeps its byte offset.
fn logical_lines(text: &str) -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    let mut cur: Option<(usize, usize, String)> = None;
    let mut offset = 0;
    for (n, raw) in text.split('\n').enumerate() {
        let line_off = offset;
        offset += raw.len() + 1;
        let t = raw.trim_start();
        let continuing = cur.is_some();
        if !continuing && (t.is_empty() || t.starts_with('#')) {
            continue;
        }
        if continuing && t.starts_with('#') {
            continue;
        }
        let t = t.trim_end();
        let (body, more) = match t.strip_suffix('\\') {
            Some(b) => (b, true),
            None => (t, false),
        };
        let entry = cur.get_or_insert((line_off, n + 1, String::new()));
        entry.2.push_str(body);
        if !more {
            out.extend(cur.take());
        }
    }
    out.extend(cur);
    out
}

/// Read a configuration with main options and an ACL section into the session's settings.
/// Errors name the line, as Exim's configuration errors do.
pub fn load(text: &str) -> Result<(SessionConfig, AclSet), String> {
    let mut cfg = SessionConfig::default();
    let mut acls = AclSet::default();
    let mut in_acl = false;
    let mut current: Option<(String, Vec<(usize, String)>)> = None;
    let lines = logical_lines(text);
    let finish = |cur: Option<(String, Vec<(usize, String)>)>, acls: &mut AclSet| {
        if let Some((name, body)) = cur {
            let lines: Vec<Line> = body
                .iter()
                .map(|(off, t)| Line {
                    text: t.as_str(),
                    offset: *off,
                })
                .collect();
            match read_acl(&name, &lines) {
                Ok(acl) => {
                    acls.insert(acl);
                    Ok(())
                }
                Err(errs) => Err(format!("error in ACL: {}", errs[0].message)),
            }
        } else {
            Ok(())
        }
    };
    for (off, lineno, line) in lines {
        if let Some(section) = line.strip_prefix("begin ") {
            finish(current.take(), &mut acls)?;
            if section.trim() != "acl" {
                return Err(format!(
                    "line {lineno}: section \"{}\" is not supported by the -bh test loader",
                    section.trim()
                ));
            }
            in_acl = true;
            continue;
        }
        if in_acl {
            let t = line.trim_end();
            if let Some(name) = t.strip_suffix(':') {
                if !name.contains(' ') {
                    finish(current.take(), &mut acls)?;
                    current = Some((name.to_string(), Vec::new()));
                    continue;
                }
            }
            match current.as_mut() {
                Some((_, body)) => body.push((off, line)),
                None => return Err(format!("line {lineno}: ACL line before any ACL name")),
            }
            continue;
        }
        let (name, value) = match line.split_once('=') {
            Some((n, v)) => (n.trim(), v.trim()),
            None => (line.trim(), ""),
        };
        let name = name.strip_prefix("hide ").unwrap_or(name).trim();
        cfg.set_option(name, value)
            .map_err(|e| format!("line {lineno}: {e}"))?;
    }
    finish(current.take(), &mut acls)?;
    Ok((cfg, acls))
}

#[cfg(test)]
mod tests {
    #[test]
    fn loads_options_and_acls() {
        let (cfg, acls) = super::load(
            "acl_smtp_rcpt = r\nmessage_size_limit = 10K\nbegin acl\nr:\n  deny condition = \\\n     yes\n  accept\n",
        )
        .unwrap();
        assert_eq!(cfg.message_size_limit, 10240);
        assert_eq!(acls.get("r").unwrap().statements.len(), 2);
        assert!(super::load("bogus_option = 1\n").is_err());
    }
}
