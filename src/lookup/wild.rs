//! `wildlsearch` and `nwildlsearch`: lsearch files whose keys are patterns (`*suffix`,
//! `^regex`, `type;file`, `!negated`, literal), the former expanding each key first.

use std::collections::HashMap;

use crate::lookup::lsearch::{self, LsFile};
use crate::lookup::{parse_spec, Call, LookupDriver, LookupError, Opened, Options, MAX_NESTING};

pub struct Wild {
    expand: bool,
}

pub fn make_wild() -> Box<dyn LookupDriver> {
    Box::new(Wild { expand: true })
}

pub fn make_nwild() -> Box<dyn LookupDriver> {
    Box::new(Wild { expand: false })
}

/// Keys that are plain strings go in a hash index; only the others are tried in turn.
pub struct Plan {
    /// Lowercased literal key -> first entry with it.
    literal: HashMap<Vec<u8>, usize>,
    /// Entries whose key is a pattern, in file order.
    patterns: Vec<usize>,
}

fn is_literal(key: &[u8], expand: bool) -> bool {
    let key = trim(key);
    let special = matches!(key.first(), Some(b'^' | b'*' | b'!' | b'/')) || key.contains(&b';');
    let expands = expand && key.iter().any(|&c| c == b'$' || c == b'\\');
    !special && !expands
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|&c| !crate::lookup::files::is_space(c))
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|&c| !crate::lookup::files::is_space(c))
        .map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

fn plan(file: &LsFile, expand: bool) -> &Plan {
    file.wild[usize::from(expand)].get_or_init(|| {
        let mut literal = HashMap::new();
        let mut patterns = Vec::new();
        for (n, e) in file.entries.iter().enumerate() {
            if is_literal(&e.key, expand) {
                literal
                    .entry(trim(&e.key).to_ascii_lowercase())
                    .or_insert(n);
            } else {
                patterns.push(n);
            }
        }
        Plan { literal, patterns }
    })
}

impl LookupDriver for Wild {
    fn clears_captures(&self) -> bool {
        true
    }

    fn open(&self, source: &[u8], _opts: &Options) -> Result<Opened, LookupError> {
        lsearch::open(source)
    }

    /// `${lookup{a.b.example}nwildlsearch{/f}}` with `*.example: x` in `/f` gives `x`.
    fn find(
        &self,
        opened: &Opened,
        _: &[u8],
        key: &[u8],
        opts: &Options,
        call: &mut Call,
    ) -> Result<Option<Vec<u8>>, LookupError> {
        let Some(file) = opened.get::<LsFile>() else {
            return Ok(None);
        };
        let plan = plan(file, self.expand);
        let first_literal = plan.literal.get(&key.to_ascii_lowercase()).copied();
        for &n in &plan.patterns {
            if first_literal.is_some_and(|l| l < n) {
                break;
            }
            let e = &file.entries[n];
            if self.matches(&e.key, key, call)? {
                return Ok(Some(e.result(opts)));
            }
        }
        Ok(first_literal.map(|n| file.entries[n].result(opts)))
    }
}

impl Wild {
    /// Exim's single-item `match_isinlist` (caseless) of `subject` against a file key.
    fn matches(&self, raw: &[u8], subject: &[u8], call: &mut Call) -> Result<bool, LookupError> {
        let expanded;
        let mut item = raw;
        if self.expand {
            let Some(ex) = call.expander.as_deref_mut() else {
                return Err(LookupError::Hard(
                    "wildlsearch needs an expansion context".into(),
                ));
            };
            match ex.expand_key(raw) {
                Ok(Some(v)) => expanded = v,
                Ok(None) => return Ok(false),
                Err(msg) => {
                    // Exim logs the reason and defers with an empty message.
                    ex.log(format!(
                        "failed to expand \"{}\" while checking a list: {msg}",
                        String::from_utf8_lossy(raw)
                    ));
                    return Err(LookupError::Defer(String::new()));
                }
            }
            item = &expanded;
        }
        let mut item = trim(item);
        if item.is_empty() {
            return Ok(false);
        }
        let negated = item[0] == b'!';
        if negated {
            item = trim(&item[1..]);
        }
        if item.first() == Some(&b'/') {
            return file_items(item, negated, subject, call);
        }
        let hit = check_string(item, subject, call)?;
        // A negated item that matches fails; one that does not ends a one-item list "yes".
        Ok(hit != negated)
    }
}

/// A key naming a file: each line of the file (`#` comments, blanks and `!` negation
/// allowed) is tried as a pattern, as in any Exim list.
fn file_items(
    path: &[u8],
    negated: bool,
    subject: &[u8],
    call: &mut Call,
) -> Result<bool, LookupError> {
    let name = String::from_utf8_lossy(path);
    let text = std::fs::read(crate::lookup::files::path_of(path)).map_err(|e| {
        LookupError::Hard(format!(
            "failed to open {name} when checking \"{name}\": {}",
            crate::lookup::files::strerror(&e)
        ))
    })?;
    for line in text.split(|&c| c == b'\n') {
        let line = match line.iter().position(|&c| c == b'#') {
            Some(h) => &line[..h],
            None => line,
        };
        let mut pattern = trim(line);
        if pattern.is_empty() {
            continue;
        }
        let mut line_negated = negated;
        if pattern[0] == b'!' {
            line_negated = !line_negated;
            pattern = trim(&pattern[1..]);
        }
        if check_string(pattern, subject, call)? {
            return Ok(!line_negated);
        }
    }
    // The end of a one-item list: "yes" only after a negated item.
    Ok(negated)
}

/// Exim's `check_string` for a string subject, caseless.
fn check_string(pattern: &[u8], subject: &[u8], call: &mut Call) -> Result<bool, LookupError> {
    if pattern.first() == Some(&b'^') {
        let re = crate::expand::regex::compile(pattern, true)
            .map_err(|e| LookupError::Hard(e.into_message()))?;
        return re
            .is_match(subject)
            .map_err(|e| LookupError::Hard(format!("regex match error: {e}")));
    }
    if let Some(suffix) = pattern.strip_prefix(b"*") {
        return Ok(subject.len() >= suffix.len()
            && subject[subject.len() - suffix.len()..].eq_ignore_ascii_case(suffix));
    }
    let Some(semi) = pattern.iter().position(|&c| c == b';') else {
        return Ok(pattern.eq_ignore_ascii_case(subject));
    };
    let word = String::from_utf8_lossy(&pattern[..semi]);
    let spec = parse_spec(&word).map_err(LookupError::Hard)?;
    let rest = &pattern[semi + 1..];
    let lower = subject.to_ascii_lowercase();
    if call.depth >= MAX_NESTING {
        return Err(LookupError::Hard(format!(
            "lookups nested more than {MAX_NESTING} deep in wildlsearch keys"
        )));
    }
    let lookups = call.lookups;
    call.depth += 1;
    let found = if spec.is_single_key() {
        lookups.find_raw(&spec, rest, &lower, call)
    } else {
        lookups.find_raw(&spec, b"", rest, call)
    };
    call.depth -= 1;
    let found = found?;
    Ok(found.is_some())
}

#[cfg(test)]
mod tests {
    use crate::lookup::{parse_spec, Lookups};

    #[test]
    fn keys_naming_files_read_their_lines() {
        let dir = std::env::temp_dir().join(format!("rexim-wild-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let patterns = dir.join("patterns");
        std::fs::write(
            &patterns,
            "# p\n*.fromfile.example  # c\n!bad.example\n^re[0-9]+$\n",
        )
        .unwrap();
        let file = dir.join("wild");
        let p = patterns.to_string_lossy();
        std::fs::write(
            &file,
            format!("{p}: from-file\n!{p}: negated\n/no/such/file: x\n"),
        )
        .unwrap();
        let l = Lookups::default();
        let spec = parse_spec("nwildlsearch").unwrap();
        let src = file.to_string_lossy();
        let get = |k: &str| {
            l.find(&spec, src.as_bytes(), k.as_bytes(), None)
                .map(|h| h.map(|h| h.data))
        };
        assert_eq!(get("a.fromfile.example"), Ok(Some(b"from-file".to_vec())));
        assert_eq!(get("RE12"), Ok(Some(b"from-file".to_vec())));
        assert_eq!(get("other"), Ok(Some(b"negated".to_vec())));
        // Negated twice (key and line): a match.
        assert_eq!(get("bad.example"), Ok(Some(b"negated".to_vec())));
        let broken = dir.join("broken");
        std::fs::write(&broken, "/no/such/file: x\n").unwrap();
        let src = broken.to_string_lossy();
        let err = l.find(&spec, src.as_bytes(), b"k", None).unwrap_err();
        assert!(
            err.message
                .starts_with("failed to open /no/such/file when checking"),
            "{err:?}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_naming_itself_stops() {
        let dir = std::env::temp_dir().join(format!("rexim-wildloop-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("loop");
        std::fs::write(&file, format!("nwildlsearch;{}: x\n", file.display())).unwrap();
        let spec = parse_spec("nwildlsearch").unwrap();
        let src = file.to_string_lossy();
        let err = Lookups::default()
            .find(&spec, src.as_bytes(), b"k", None)
            .unwrap_err();
        assert!(err.message.contains("nested more than"), "{err:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
