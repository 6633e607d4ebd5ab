//! The error of a failed load, check or reload: every diagnostic found, plus the sources so
//! they can be shown with `file:line:col` and a caret snippet.

use solder_syntax::{Diagnostics, SourceMap};
use std::fmt;

pub struct LoadError {
    pub sources: SourceMap,
    pub diagnostics: Diagnostics,
    /// A failure that has no source position (e.g. the config path cannot be read).
    pub message: Option<String>,
}

impl LoadError {
    pub fn from_message(message: impl Into<String>) -> Self {
        LoadError {
            sources: SourceMap::new(),
            diagnostics: Diagnostics::new(),
            message: Some(message.into()),
        }
    }

    pub fn from_diagnostics(sources: SourceMap, diagnostics: Diagnostics) -> Self {
        LoadError {
            sources,
            diagnostics,
            message: None,
        }
    }

    /// Every diagnostic with its caret snippet, as `solder run` and `solder check` print them.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Some(m) = &self.message {
            out.push_str(m);
            out.push('\n');
        }
        if !self.diagnostics.is_empty() {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&self.diagnostics.render(&self.sources));
        }
        out
    }

    /// One line per diagnostic (`file:line:col: message`), for logs and HTTP responses.
    pub fn one_line_each(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.message.iter().cloned().collect();
        lines.extend(self.diagnostics.iter().map(|d| d.one_line(&self.sources)));
        lines
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.message, self.diagnostics.is_empty()) {
            (Some(m), true) => f.write_str(m),
            (Some(m), false) => write!(f, "{m}: {}", self.diagnostics.summary(&self.sources)),
            (None, _) => f.write_str(&self.diagnostics.summary(&self.sources)),
        }
    }
}

impl fmt::Debug for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

impl std::error::Error for LoadError {}
