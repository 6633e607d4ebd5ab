//! Decoding evaluated bodies and values into typed argument structs through serde, with Alloy's
//! block rules (`alloy-spec.md` §1.7) and conversion rules (§1.4).
//!
//! Conventions for argument structs:
//! - attributes and blocks are struct fields named by their (renamed) serde name;
//! - a repeatable block is a `Vec<T>` field (give it `#[serde(default)]`), in source order;
//! - **enum blocks**: a block `a.b` with no field `a.b` but a field `a` goes into `a`, which is a
//!   `Vec` (or `Option`) of a serde enum whose variant `b` holds the block's struct;
//! - a block label goes into a `String` field renamed `$label` ([`LABEL_FIELD`]); a struct without
//!   one refuses labels, a struct with one requires a label;
//! - a field whose type is a struct is a block; assigning it as an attribute is an error;
//! - required fields are those without `#[serde(default)]` (and not `Option`); unknown attributes
//!   and blocks are always rejected, `deny_unknown_fields` is not needed;
//! - `null` gives the zero value (not the default), numbers convert to strings and back, strings
//!   convert to secrets but secrets never to strings; capsules decode into [`crate::types::CapsuleOf`].
//!
//! `#[serde(flatten)]` is not supported (serde buffers flattened content and loses spans and
//! capsules); nest a struct or use [`decode_squashed`] instead.
//!
//! Errors are collected: every type error, unknown name or misuse in a body is reported, each
//! with the span of the offending attribute value or block name. Errors raised by a type's own
//! `Deserialize` (a missing required field, an integer out of range) stop the enclosing block.

mod body;
mod error;
mod null;
mod probe;
mod value_de;

pub use error::DecodeError;

use crate::diag::{Diagnostic, Diagnostics};
use crate::eval::BodyValue;
use crate::span::Span;
use crate::value::Value;
use serde::de::DeserializeOwned;
use std::cell::RefCell;

/// The serde field name that receives a block's label.
pub const LABEL_FIELD: &str = "$label";

/// Newtype-struct names through which special types talk to this decoder (like the toml crate's
/// `Spanned`): with any other deserializer they fall back to ordinary decoding.
pub(crate) mod magic {
    pub const SECRET: &str = "$solder::private::Secret";
    pub const CAPSULE: &str = "$solder::private::Capsule";
    pub const VALUE: &str = "$solder::private::Value";
    pub const DURATION: &str = "$solder::private::GoDuration";
    pub const BYTE_SIZE: &str = "$solder::private::ByteSize";
}

thread_local! {
    /// Hands a whole [`Value`] (a capsule, or any value for `Value` fields) from the decoder to the
    /// visitor it is about to call, since serde's visitor methods cannot carry one.
    static SLOT: RefCell<Option<Value>> = const { RefCell::new(None) };
}

pub(crate) fn put_slot(v: Value) {
    SLOT.with(|s| *s.borrow_mut() = Some(v));
}

pub(crate) fn take_slot() -> Option<Value> {
    SLOT.with(|s| s.borrow_mut().take())
}

/// Errors recorded while decoding; recoverable problems are recorded and decoding continues
/// with a zero value, so one run reports them all.
#[derive(Default)]
pub(crate) struct Ctx {
    errors: RefCell<Vec<Diagnostic>>,
    /// Unknown top-level names when decoding leniently ([`decode_squashed`]).
    pub(crate) top_unknowns: RefCell<Vec<Diagnostic>>,
    /// In a probing pass: the body (by span) and missing field whose kind is wanted.
    pub(crate) probe: Option<(Span, String)>,
    /// The probe's answer: `Some(true)` when the missing field is a block.
    pub(crate) probe_is_block: std::cell::Cell<Option<bool>>,
}

impl Ctx {
    pub(crate) fn record(&self, span: Span, message: impl Into<String>) {
        self.errors
            .borrow_mut()
            .push(Diagnostic::error(span, message));
    }

    /// Record an error that stops decoding (if it has not been recorded yet) and return the
    /// marker that unwinds to the caller.
    pub(crate) fn abort(&self, err: DecodeError, span: Span) -> DecodeError {
        if err.is_aborted() {
            return err;
        }
        self.record(err.span.unwrap_or(span), err.message);
        DecodeError::aborted()
    }

    fn finish<T>(self, result: Result<T, DecodeError>, span: Span) -> Result<T, Diagnostics> {
        let mut errors = self.errors.into_inner();
        // Report in source order, as the user reads the file.
        errors.sort_by_key(|d| (d.span.file, d.span.lo));
        match result {
            Ok(v) if errors.is_empty() => Ok(v),
            Ok(_) => Err(Diagnostics(errors)),
            Err(e) => {
                if !e.is_aborted() {
                    errors.push(Diagnostic::error(e.span.unwrap_or(span), e.message));
                }
                Err(Diagnostics(errors))
            }
        }
    }
}

/// Decode a block body into `T` (usually a component's arguments struct).
pub fn decode<T: DeserializeOwned>(body: &BodyValue) -> Result<T, Diagnostics> {
    let ctx = Ctx::default();
    let result = T::deserialize(body::BodyDe::top(body, &ctx));
    ctx.finish(result, body.span)
        .map_err(|d| name_missing_blocks::<T>(body, d))
}

/// serde reports every missing field the same way; Alloy says `missing required block` for
/// blocks. For each missing field, decode again with a probe standing in for the field, which
/// sees whether the field's type asks for a struct (a block) or a value (an attribute).
fn name_missing_blocks<T: DeserializeOwned>(body: &BodyValue, mut d: Diagnostics) -> Diagnostics {
    const PREFIX: &str = "missing required attribute ";
    for diag in d.0.iter_mut() {
        let Some(quoted) = diag.message.strip_prefix(PREFIX) else {
            continue;
        };
        let Ok(field) = serde_json::from_str::<String>(quoted) else {
            continue;
        };
        let ctx = Ctx {
            probe: Some((diag.span, field)),
            ..Ctx::default()
        };
        let _ = T::deserialize(body::BodyDe::top(body, &ctx));
        if ctx.probe_is_block.get() == Some(true) {
            diag.message = format!("missing required block {quoted}");
        }
    }
    d
}

/// Decode one value (an attribute value, an export) into `T`. Errors point at `span`.
pub fn decode_value<T: DeserializeOwned>(value: &Value, span: Span) -> Result<T, Diagnostic> {
    let ctx = Ctx::default();
    let result = T::deserialize(value_de::ValueDe::root(value, span, "value", &ctx));
    ctx.finish(result, span).map_err(|d| {
        d.0.into_iter()
            .next()
            .unwrap_or_else(|| Diagnostic::error(span, "decoding failed"))
    })
}

/// Decode one body into two structs that share it, Alloy's `squash`: each struct takes the names
/// it knows, and a name is unknown only when neither knows it (names inside blocks are checked
/// by the struct that owns the block).
pub fn decode_squashed<A: DeserializeOwned, B: DeserializeOwned>(
    body: &BodyValue,
) -> Result<(A, B), Diagnostics> {
    let ctx_a = Ctx::default();
    let ra = A::deserialize(body::BodyDe::top_lenient(body, &ctx_a));
    let ctx_b = Ctx::default();
    let rb = B::deserialize(body::BodyDe::top_lenient(body, &ctx_b));
    let known_a = ctx_a.top_unknowns.borrow().clone();
    let known_b = ctx_b.top_unknowns.borrow().clone();
    // Top-level unknown names were set aside; only those unknown to both are errors.
    let (ra, rb) = (ctx_a.finish(ra, body.span), ctx_b.finish(rb, body.span));
    let mut errors = Diagnostics::new();
    for d in known_a.iter().filter(|d| known_b.contains(d)) {
        errors.push(d.clone());
    }
    let a = ra.map_err(|e| errors.extend(e)).ok();
    let b = rb.map_err(|e| errors.extend(e)).ok();
    match (a, b) {
        (Some(a), Some(b)) if errors.is_empty() => Ok((a, b)),
        _ => Err(errors),
    }
}
