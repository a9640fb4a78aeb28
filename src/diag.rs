//! Diagnostics rendered with ariadne (terminal) from spans carried by errors.

use ariadne::{Config, IndexType, Label, Report, ReportKind, Source};

use crate::error::ExpandError;

/// Render an expansion error against its source text.
pub fn render_expand_error(source: &str, e: &ExpandError, color: bool) -> String {
    let span = e.span.unwrap_or_default();
    let start = (span.start as usize).min(source.len());
    let end = (span.end as usize).clamp(start, source.len());
    let first_line = e.message.lines().next().unwrap_or("");
    let mut buf = Vec::new();
    let report = Report::build(ReportKind::Error, ("expansion", start..end))
        .with_config(
            Config::default()
                .with_color(color)
                .with_index_type(IndexType::Byte),
        )
        .with_message(first_line)
        .with_label(Label::new(("expansion", start..end)).with_message("here"))
        .finish();
    let _ = report.write(("expansion", Source::from(source)), &mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}
