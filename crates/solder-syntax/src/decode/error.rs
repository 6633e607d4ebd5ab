//! The serde error type of the decoder.

use crate::span::Span;
use std::fmt;

/// A decoding error: a message in Alloy's words and, once known, the span it is about.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct DecodeError {
    pub message: String,
    pub span: Option<Span>,
    aborted: bool,
}

impl DecodeError {
    pub fn new(message: impl Into<String>) -> Self {
        DecodeError {
            message: message.into(),
            span: None,
            aborted: false,
        }
    }

    /// The error has already been recorded; it only unwinds the current decode.
    pub(crate) fn aborted() -> Self {
        DecodeError {
            message: "decoding aborted".to_string(),
            span: None,
            aborted: true,
        }
    }

    pub(crate) fn is_aborted(&self) -> bool {
        self.aborted
    }
}

impl serde::de::Error for DecodeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DecodeError::new(msg.to_string())
    }

    fn missing_field(field: &'static str) -> Self {
        DecodeError::new(format!("missing required attribute {field:?}"))
    }

    fn duplicate_field(field: &'static str) -> Self {
        DecodeError::new(format!("attribute {field:?} may only be provided once"))
    }

    fn unknown_field(field: &str, _expected: &'static [&'static str]) -> Self {
        DecodeError::new(format!("unrecognized attribute name {field:?}"))
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        DecodeError::new(format!(
            "unknown value {variant:?}, expected one of {}",
            quoted_list(expected)
        ))
    }
}

pub(crate) fn quoted_list(names: &[&str]) -> String {
    let q: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
    format!("[{}]", q.join(" "))
}
