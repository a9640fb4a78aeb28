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

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// A labelled byte range in one of the configuration's files.
#[derive(Debug, Clone)]
pub struct DiagLabel {
    pub span: crate::config::Span,
    pub message: String,
}

/// One problem found by `rexim lint` (or the loader), with a kebab-case code.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    pub labels: Vec<DiagLabel>,
}

/// Render diagnostics with ariadne against the configuration's files.
pub fn render(diags: &[Diagnostic], files: &[crate::config::SourceFile], color: bool) -> String {
    let srcs: Vec<(String, String)> = files
        .iter()
        .map(|f| {
            (
                f.name.clone(),
                String::from_utf8_lossy(&f.text).into_owned(),
            )
        })
        .collect();
    let mut out = Vec::new();
    for d in diags {
        let kind = match d.severity {
            Severity::Error => ReportKind::Error,
            Severity::Warning => ReportKind::Warning,
        };
        let Some(first) = d.labels.first() else {
            let sev = if d.severity == Severity::Error {
                "error"
            } else {
                "warning"
            };
            out.extend_from_slice(
                format!("{sev}[{}]: {}\n", d.code, d.message.replace('\n', " ")).as_bytes(),
            );
            continue;
        };
        let range = |l: &DiagLabel| {
            let name = srcs
                .get(l.span.file as usize)
                .map(|s| s.0.clone())
                .unwrap_or_default();
            let len = srcs
                .get(l.span.file as usize)
                .map(|s| s.1.len())
                .unwrap_or(0);
            let start = (l.span.start as usize).min(len);
            let end = (l.span.end as usize).clamp(start, len);
            // Do not underline the newline that ends the last line.
            let text = srcs
                .get(l.span.file as usize)
                .map(|s| s.1.as_bytes())
                .unwrap_or_default();
            let end = if end > start && text.get(end - 1) == Some(&b'\n') {
                end - 1
            } else {
                end
            };
            (name, start..end)
        };
        let mut b = Report::build(kind, range(first))
            .with_config(
                Config::default()
                    .with_color(color)
                    .with_index_type(IndexType::Byte),
            )
            .with_code(d.code)
            .with_message(d.message.replace('\n', " "));
        for l in &d.labels {
            b = b.with_label(Label::new(range(l)).with_message(&l.message));
        }
        let _ = b.finish().write(ariadne::sources(srcs.clone()), &mut out);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Diagnostics as JSON (for the playground and editors).
pub fn to_json(diags: &[Diagnostic], files: &[crate::config::SourceFile]) -> String {
    let v: Vec<serde_json::Value> = diags
        .iter()
        .map(|d| {
            serde_json::json!({
                "code": d.code,
                "severity": if d.severity == Severity::Error { "error" } else { "warning" },
                "message": d.message,
                "labels": d.labels.iter().map(|l| serde_json::json!({
                    "file": files.get(l.span.file as usize).map(|f| f.name.clone()),
                    "start": l.span.start,
                    "end": l.span.end,
                    "message": l.message,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::to_string_pretty(&v).unwrap_or_default()
}
