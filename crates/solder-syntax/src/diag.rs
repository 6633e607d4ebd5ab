//! Diagnostics: a severity, a span and a plain message. Rendered as Alloy does:
//! `Error: file:line:col: message`, then the offending line between its neighbours with a caret underline.

use crate::span::{SourceMap, Span};
use std::fmt::Write as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub span: Span,
    pub message: String,
}

impl Diagnostic {
    pub fn error(span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            span,
            message: message.into(),
        }
    }

    pub fn warning(span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            span,
            message: message.into(),
        }
    }

    /// `file:line:col: message`, the one-line form used in logs and API responses.
    pub fn one_line(&self, map: &SourceMap) -> String {
        format!("{}: {}", map.position(self.span), self.message)
    }

    /// The multi-line form with a caret snippet, as printed by `solder check` and `solder run`.
    pub fn render(&self, map: &SourceMap) -> String {
        let mut out = String::new();
        let sev = match self.severity {
            Severity::Error => "Error",
            Severity::Warning => "Warning",
        };
        let _ = writeln!(out, "{sev}: {}", self.one_line(map));
        let Some(file) = map.get(self.span.file) else {
            return out;
        };
        let start = file.line_col(self.span.lo);
        let end = file.line_col(self.span.hi.max(self.span.lo));
        let first = start.line.saturating_sub(1).max(1);
        let last = (start.line + 1).min(file.line_count());
        let width = last.to_string().len();
        out.push('\n');
        for line in first..=last {
            let text = file.line_text(line).replace('\t', "    ");
            let _ = writeln!(out, "{line:>width$} | {text}");
            if line == start.line {
                let raw = file.line_text(line);
                let prefix: String = raw.chars().take(start.col as usize - 1).collect();
                let pad = prefix.replace('\t', "    ").chars().count();
                let line_len = raw.chars().count() as u32 + 1;
                let end_col = if end.line == start.line {
                    end.col
                } else {
                    line_len
                };
                let carets = end_col.saturating_sub(start.col).max(1) as usize;
                let _ = writeln!(
                    out,
                    "{:width$} | {}{}",
                    "",
                    " ".repeat(pad),
                    "^".repeat(carets)
                );
            }
        }
        out
    }
}

/// A list of diagnostics; all errors of a load are collected and reported at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }

    /// `first (and N more diagnostics)`, Alloy's one-line summary of a list.
    pub fn summary(&self, map: &SourceMap) -> String {
        match self.0.as_slice() {
            [] => "no diagnostics".to_string(),
            [d] => d.one_line(map),
            [d, rest @ ..] => format!("{} (and {} more diagnostics)", d.one_line(map), rest.len()),
        }
    }

    pub fn render(&self, map: &SourceMap) -> String {
        self.0
            .iter()
            .map(|d| d.render(map))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Ok when there is no error, so `?` can be used after collecting.
    pub fn into_result(self) -> Result<(), Diagnostics> {
        if self.has_errors() {
            Err(self)
        } else {
            Ok(())
        }
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl std::fmt::Display for Diagnostics {
    /// Without a source map only the messages can be shown; callers that have one use `summary`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let msgs: Vec<&str> = self.0.iter().map(|d| d.message.as_str()).collect();
        f.write_str(&msgs.join("; "))
    }
}

impl std::error::Error for Diagnostics {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::SourceMap;

    #[test]
    fn renders_caret_under_span() {
        let mut map = SourceMap::new();
        let f = map.add(
            "testfile",
            "test.block \"label\" {\n\tattr       = 1\n\tother_attr = 2\n}\n",
        );
        let d = Diagnostic::error(Span::new(f, 22, 26), "synthetic error");
        let want = "Error: testfile:2:2: synthetic error\n\n1 | test.block \"label\" {\n2 |     attr       = 1\n  |     ^^^^\n3 |     other_attr = 2\n";
        assert_eq!(d.render(&map), want);
    }
}
