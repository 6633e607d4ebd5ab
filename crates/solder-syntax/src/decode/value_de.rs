//! Deserializing one [`Value`] with Alloy's conversion rules.

use super::error::{quoted_list, DecodeError};
use super::null::NullDe;
use super::{magic, put_slot, Ctx};
use crate::eval::AttrValue;
use crate::span::Span;
use crate::types::{parse_byte_size, parse_go_duration};
use crate::value::{is_identifier, value_to_alloy, Number, Value};
use serde::de::{self, IntoDeserializer, Visitor};

type R<V> = Result<V, DecodeError>;

/// Longest rendering of a value used as the subject of an error; longer ones are named by path.
const MAX_SUBJECT: usize = 60;

pub(crate) struct ValueDe<'a> {
    value: &'a Value,
    span: Span,
    /// The attribute (or root) name, used to name values too long to quote.
    name: &'a str,
    path: String,
    ctx: &'a Ctx,
    /// The whole value of an attribute: a struct here means a block was written as an attribute.
    attr_top: bool,
    /// The attribute's name, where "used as an attribute" errors point.
    name_span: Span,
}

impl<'a> ValueDe<'a> {
    pub(crate) fn root(value: &'a Value, span: Span, name: &'a str, ctx: &'a Ctx) -> Self {
        ValueDe {
            value,
            span,
            name,
            path: String::new(),
            ctx,
            attr_top: false,
            name_span: span,
        }
    }

    pub(crate) fn attr(a: &'a AttrValue, ctx: &'a Ctx) -> Self {
        ValueDe {
            value: &a.value,
            span: a.value_span,
            name: &a.name,
            path: String::new(),
            ctx,
            attr_top: true,
            name_span: a.name_span,
        }
    }

    fn child(&self, value: &'a Value, step: String) -> ValueDe<'a> {
        ValueDe {
            value,
            span: self.span,
            name: self.name,
            path: format!("{}{step}", self.path),
            ctx: self.ctx,
            attr_top: false,
            name_span: self.name_span,
        }
    }

    /// What an error is about: the value itself when short (as Alloy prints a literal), else its
    /// path from the attribute. Secrets render as `(secret)`, never their content.
    fn subject(&self) -> String {
        let r = value_to_alloy(self.value);
        if r.chars().count() <= MAX_SUBJECT {
            r
        } else {
            format!("{}{}", self.name, self.path)
        }
    }

    fn mismatch(&self, expected: &str) {
        self.ctx.record(
            self.span,
            format!(
                "{} should be {expected}, got {}",
                self.subject(),
                self.value.kind()
            ),
        );
    }

    fn fail(&self, message: String) -> DecodeError {
        self.ctx.record(self.span, message);
        DecodeError::aborted()
    }

    fn locate<T>(&self, r: R<T>) -> R<T> {
        r.map_err(|e| self.ctx.abort(e, self.span))
    }

    /// Alloy's value → number conversion (strings parse; `-` → int, `.eE` → float, else uint).
    fn number(&self) -> Option<Number> {
        match self.value {
            Value::Number(n) => Some(*n),
            Value::Null => Some(Number::Int(0)),
            Value::String(s) => {
                let parsed = if s.is_empty() {
                    None
                } else if s.starts_with('-') {
                    s.parse::<i64>().ok().map(Number::Int)
                } else if s.contains(['.', 'e', 'E']) {
                    s.parse::<f64>().ok().map(Number::Float)
                } else if s.starts_with('+') {
                    // Go's ParseUint refuses a sign that Rust's parser accepts.
                    None
                } else {
                    s.parse::<u64>().ok().map(Number::Uint)
                };
                if parsed.is_none() {
                    self.mismatch("number");
                }
                parsed
            }
            _ => {
                self.mismatch("number");
                None
            }
        }
    }

    fn visit_int<V: Visitor<'a>>(self, signed: bool, v: V) -> R<V::Value> {
        let r = match self.number() {
            None => v.visit_u64(0),
            Some(Number::Int(i)) => v.visit_i64(i),
            Some(Number::Uint(u)) => v.visit_u64(u),
            // Go truncates a float assigned to an integer.
            Some(Number::Float(f)) if signed || f < 0.0 => v.visit_i64(f as i64),
            Some(Number::Float(f)) => v.visit_u64(f as u64),
        };
        self.locate(r)
    }

    fn visit_float<V: Visitor<'a>>(self, v: V) -> R<V::Value> {
        let f = self.number().map(Number::as_f64).unwrap_or(0.0);
        self.locate(v.visit_f64(f))
    }

    /// Alloy's value → string conversion: numbers print, null is `""`, nothing else converts.
    fn text(&self) -> String {
        match self.value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Null => String::new(),
            _ => {
                self.mismatch("string");
                String::new()
            }
        }
    }
}

macro_rules! ints {
    ($($m:ident => $signed:expr),*) => {$(
        fn $m<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
            self.visit_int($signed, v)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for ValueDe<'de> {
    type Error = DecodeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        let r = match self.value {
            Value::Null => v.visit_unit(),
            Value::Bool(b) => v.visit_bool(*b),
            Value::Number(Number::Int(i)) => v.visit_i64(*i),
            Value::Number(Number::Uint(u)) => v.visit_u64(*u),
            Value::Number(Number::Float(f)) => v.visit_f64(*f),
            Value::String(s) => v.visit_str(s),
            Value::Array(_) => return self.deserialize_seq(v),
            Value::Object(_) => return self.deserialize_map(v),
            Value::Secret(_) | Value::Capsule(_) | Value::Function(_) => {
                return Err(self.fail(format!(
                    "{} cannot be used here: expected a plain value, got {}",
                    self.subject(),
                    self.value.describe()
                )))
            }
        };
        self.locate(r)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        let b = match self.value {
            Value::Bool(b) => *b,
            Value::Null => false,
            _ => {
                self.mismatch("bool");
                false
            }
        };
        self.locate(v.visit_bool(b))
    }

    ints!(deserialize_i8 => true, deserialize_i16 => true, deserialize_i32 => true,
          deserialize_i64 => true, deserialize_i128 => true,
          deserialize_u8 => false, deserialize_u16 => false, deserialize_u32 => false,
          deserialize_u64 => false, deserialize_u128 => false);

    fn deserialize_f32<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        self.visit_float(v)
    }
    fn deserialize_f64<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        self.visit_float(v)
    }

    fn deserialize_char<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        let s = self.text();
        self.locate(v.visit_str(&s))
    }
    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        let s = self.text();
        self.locate(v.visit_string(s))
    }
    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        let s = self.text();
        self.locate(v.visit_string(s))
    }
    fn deserialize_bytes<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        let s = self.text();
        self.locate(v.visit_byte_buf(s.into_bytes()))
    }
    fn deserialize_byte_buf<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        self.deserialize_bytes(v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        if self.value.is_null() {
            return self.locate(v.visit_none());
        }
        let span = self.span;
        let ctx = self.ctx;
        v.visit_some(self).map_err(|e| ctx.abort(e, span))
    }

    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        if !self.value.is_null() {
            self.mismatch("null");
        }
        self.locate(v.visit_unit())
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(self, _n: &'static str, v: V) -> R<V::Value> {
        self.deserialize_unit(v)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, v: V) -> R<V::Value> {
        match name {
            magic::SECRET => {
                let s = match self.value {
                    Value::Secret(s) => s.expose().to_string(),
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    _ => {
                        self.mismatch("capsule");
                        String::new()
                    }
                };
                self.locate(v.visit_string(s))
            }
            magic::CAPSULE => match self.value {
                Value::Capsule(_) => {
                    put_slot(self.value.clone());
                    self.locate(v.visit_unit())
                }
                _ => Err(self.fail(format!(
                    "{} should be capsule, got {}",
                    self.subject(),
                    self.value.kind()
                ))),
            },
            magic::VALUE => {
                put_slot(self.value.clone());
                self.locate(v.visit_unit())
            }
            magic::DURATION => {
                let text = self.text();
                let nanos = if self.value.is_null() {
                    0
                } else {
                    match parse_go_duration(&text) {
                        Ok(d) => u64::try_from(d.as_nanos()).unwrap_or(u64::MAX),
                        Err(msg) => {
                            self.ctx
                                .record(self.span, format!("{} {msg}", self.subject()));
                            0
                        }
                    }
                };
                self.locate(v.visit_u64(nanos))
            }
            magic::BYTE_SIZE => {
                let bytes = match self.value {
                    Value::Null => 0,
                    Value::Number(Number::Int(i)) if *i >= 0 => *i as u64,
                    Value::Number(Number::Uint(u)) => *u,
                    Value::Number(Number::Float(f)) if *f >= 0.0 => *f as u64,
                    Value::String(s) => match parse_byte_size(s) {
                        Ok(b) => b,
                        Err(msg) => {
                            self.ctx
                                .record(self.span, format!("{} {msg}", self.subject()));
                            0
                        }
                    },
                    Value::Number(_) => {
                        self.ctx.record(
                            self.span,
                            format!("{} byte size must not be negative", self.subject()),
                        );
                        0
                    }
                    _ => {
                        self.mismatch("string");
                        0
                    }
                };
                self.locate(v.visit_u64(bytes))
            }
            _ => {
                let span = self.span;
                let ctx = self.ctx;
                v.visit_newtype_struct(self).map_err(|e| ctx.abort(e, span))
            }
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        match self.value {
            Value::Array(items) => {
                let elems: Vec<ValueDe<'de>> = items
                    .iter()
                    .enumerate()
                    .map(|(i, x)| self.child(x, format!("[{i}]")))
                    .collect();
                let r = v.visit_seq(de::value::SeqDeserializer::new(elems.into_iter()));
                self.locate(r)
            }
            Value::Null => self.locate(NullDe.deserialize_seq(v)),
            _ => {
                self.mismatch("array");
                self.locate(NullDe.deserialize_seq(v))
            }
        }
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, v: V) -> R<V::Value> {
        self.deserialize_seq(v)
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _n: &'static str,
        _len: usize,
        v: V,
    ) -> R<V::Value> {
        self.deserialize_seq(v)
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        match self.value {
            Value::Object(o) => {
                let entries: Vec<(String, ValueDe<'de>)> = o
                    .iter()
                    .map(|(k, x)| (k.clone(), self.child(x, field_step(k))))
                    .collect();
                let r = v.visit_map(de::value::MapDeserializer::new(entries.into_iter()));
                self.locate(r)
            }
            Value::Null => self.locate(NullDe.deserialize_map(v)),
            _ => {
                self.mismatch("object");
                self.locate(NullDe.deserialize_map(v))
            }
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> R<V::Value> {
        if self.attr_top {
            self.ctx.record(
                self.name_span,
                format!(
                    "{:?} must be a block, but is used as an attribute",
                    self.name
                ),
            );
            return self.locate(NullDe.deserialize_struct(name, fields, v));
        }
        match self.value {
            Value::Object(o) => {
                let mut entries: Vec<(String, ValueDe<'de>)> = Vec::new();
                for (k, x) in o {
                    if fields.contains(&k.as_str()) {
                        entries.push((k.clone(), self.child(x, field_step(k))));
                    } else {
                        self.ctx.record(
                            self.span,
                            format!("{} does not have field named {k:?}", self.subject()),
                        );
                    }
                }
                let r = v.visit_map(de::value::MapDeserializer::new(entries.into_iter()));
                self.locate(r)
            }
            Value::Null => self.locate(NullDe.deserialize_struct(name, fields, v)),
            _ => {
                self.mismatch("object");
                self.locate(NullDe.deserialize_struct(name, fields, v))
            }
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _n: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> R<V::Value> {
        match self.value {
            Value::String(s) if variants.contains(&s.as_str()) => {
                let r = v.visit_enum(s.as_str().into_deserializer());
                self.locate(r)
            }
            Value::String(s) => Err(self.fail(format!(
                "{} is not a valid value: {s:?} should be one of {}",
                self.subject(),
                quoted_list(variants)
            ))),
            _ => Err(self.fail(format!(
                "{} should be string, got {}",
                self.subject(),
                self.value.kind()
            ))),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        self.deserialize_string(v)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        v.visit_unit()
    }
}

impl<'de> IntoDeserializer<'de, DecodeError> for ValueDe<'de> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

/// `.name` for identifier keys, `["odd key"]` otherwise.
fn field_step(k: &str) -> String {
    if is_identifier(k) {
        format!(".{k}")
    } else {
        format!("[{k:?}]")
    }
}
