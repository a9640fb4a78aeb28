//! The `-bh` debug trace: the `>>>` lines Exim prints on stderr when host checking,
//! indented by ACL nesting plus expansion depth as Exim's `debug_printf_indent` does.

/// Collected trace lines and the current indentation level.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    pub lines: Vec<String>,
    /// Exim's `acl_level + expand_level`.
    pub indent: u32,
}

/// Exim draws a vertical mark for each four levels and spaces for the rest.
const VERT_MARK: &str = "   \u{254e}";

impl Trace {
    /// Add one line at the current indentation.
    pub fn line(&mut self, text: &str) {
        let mut l = String::with_capacity(text.len() + 8);
        l.push_str(">>> ");
        for _ in 0..self.indent >> 2 {
            l.push_str(VERT_MARK);
        }
        for _ in 0..self.indent & 3 {
            l.push(' ');
        }
        push_continued(&mut l, text);
        self.lines.push(l);
    }

    /// Add a line without indentation (Exim's plain `debug_printf`).
    pub fn plain(&mut self, text: &str) {
        let mut l = String::from(">>> ");
        push_continued(&mut l, text);
        self.lines.push(l);
    }
}

/// Append `text` to a line holding only its prefix; Exim repeats the prefix after
/// each newline inside the text (a multi-line `$spam_report`, say).
fn push_continued(line: &mut String, text: &str) {
    if !text.contains('\n') {
        line.push_str(text);
        return;
    }
    let prefix = line.clone();
    line.push_str(&text.replace('\n', &format!("\n{prefix}")));
}

impl crate::expand::Context {
    /// Trace a line if tracing is on; `text` is built only then.
    pub fn trace(&mut self, text: impl FnOnce() -> String) {
        if let Some(t) = self.trace.as_mut() {
            t.line(&text());
        }
    }

    pub fn tracing(&self) -> bool {
        self.trace.is_some()
    }

    /// Change the indentation by `delta` levels (saturating at 0).
    pub fn trace_indent(&mut self, delta: i32) {
        if let Some(t) = self.trace.as_mut() {
            t.indent = (t.indent as i32 + delta).max(0) as u32;
        }
    }

    /// Take the trace lines collected so far.
    pub fn take_trace(&mut self) -> Vec<String> {
        self.trace
            .as_mut()
            .map(|t| std::mem::take(&mut t.lines))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::Trace;

    #[test]
    fn indentation_follows_exim() {
        let mut t = Trace::default();
        t.line("a");
        t.indent = 1;
        t.line("b");
        t.indent = 5;
        t.line("c");
        assert_eq!(t.lines, [">>> a", ">>>  b", ">>>    \u{254e} c"]);
    }
}
