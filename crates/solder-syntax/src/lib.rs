//! The Alloy configuration language.
//!
//! Pipeline: [`parser::parse_file`] turns text into an [`ast::File`] (collecting every syntax
//! error), [`eval`] evaluates expressions and block bodies against a [`eval::Scope`] into
//! [`eval::BodyValue`]s, and [`decode`] turns a body value into a typed argument struct through
//! serde. [`printer`] formats a file canonically (`solder fmt`).
//!
//! This crate is pure: no I/O beyond reading environment variables and the hostname for the
//! stdlib, no async runtime.

pub mod ast;
pub mod decode;
pub mod diag;
pub mod eval;
pub mod lexer;
pub mod parser;
pub mod printer;
pub mod span;
pub mod stdlib;
pub mod token;
pub mod types;
pub mod value;

pub use diag::{Diagnostic, Diagnostics, Severity};
pub use span::{FileId, SourceFile, SourceMap, Span};
pub use value::{value_to_alloy, value_to_json};
pub use value::{Capsule, FuncError, Function, Kind, Number, Object, Secret, Value};
