//! `encoding.*`: JSON and YAML decoding, JSON encoding (Go's `json.Marshal` output), base64 and
//! URL query escaping.

use super::args::{arity, string_arg};
use crate::value::{FuncError, Number, Object, Value};
use base64::Engine as _;

/// `encoding.from_json`: like Go's `json.Unmarshal` into `any`, every number becomes a float64.
pub(super) fn from_json(a: &[Value]) -> Result<Value, FuncError> {
    arity(a, 1)?;
    let s = string_arg(a, 0)?;
    let parsed: serde_json::Value =
        serde_json::from_str(&s).map_err(|e| FuncError::new(go_json_error(&s, &e)))?;
    Ok(json_to_value(parsed))
}

/// Word a JSON syntax error as Go's `encoding/json` does (`invalid character 'x' looking for
/// beginning of value`), falling back to serde_json's text for other errors.
fn go_json_error(input: &str, e: &serde_json::Error) -> String {
    if e.is_eof() {
        return "unexpected end of JSON input".to_string();
    }
    let text = e.to_string();
    let reason = text.split(" at line ").next().unwrap_or(&text);
    let context = match reason {
        "expected value" => "looking for beginning of value",
        "trailing characters" => "after top-level value",
        "key must be a string" => "looking for beginning of object key string",
        "expected `:`" => "after object key",
        "expected `,` or `}`" => "after object key:value pair",
        "expected `,` or `]`" => "after array element",
        _ => return text,
    };
    let offending = input
        .lines()
        .nth(e.line().saturating_sub(1))
        .and_then(|l| l.chars().nth(e.column().saturating_sub(1)));
    match offending {
        Some(c) => format!("invalid character {c:?} {context}"),
        None => text,
    }
}

fn json_to_value(j: serde_json::Value) -> Value {
    use serde_json::Value as J;
    match j {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(b),
        J::Number(n) => Value::float(n.as_f64().unwrap_or(f64::NAN)),
        J::String(s) => Value::String(s),
        J::Array(a) => Value::Array(a.into_iter().map(json_to_value).collect()),
        J::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, json_to_value(v))).collect()),
    }
}

/// `encoding.from_yaml`: integers stay integers, floats are float64, an empty document is null.
pub(super) fn from_yaml(a: &[Value]) -> Result<Value, FuncError> {
    arity(a, 1)?;
    let s = string_arg(a, 0)?;
    if s.trim().is_empty() {
        return Ok(Value::Null);
    }
    let parsed: serde_yaml::Value =
        serde_yaml::from_str(&s).map_err(|e| FuncError::new(format!("yaml: {e}")))?;
    Ok(yaml_to_value(parsed))
}

fn yaml_to_value(y: serde_yaml::Value) -> Value {
    use serde_yaml::Value as Y;
    match y {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::int(i)
            } else if let Some(u) = n.as_u64() {
                Value::uint(u)
            } else {
                Value::float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(seq) => Value::Array(seq.into_iter().map(yaml_to_value).collect()),
        Y::Mapping(m) => {
            let mut obj = Object::new();
            for (k, v) in m {
                let key = match yaml_to_value(k) {
                    Value::String(s) => s,
                    other => crate::value::value_to_alloy(&other),
                };
                obj.insert(key, yaml_to_value(v));
            }
            Value::Object(obj)
        }
        Y::Tagged(t) => yaml_to_value(t.value),
    }
}

fn base64_error(e: base64::DecodeError, len: usize) -> FuncError {
    use base64::DecodeError as D;
    let at = match e {
        D::InvalidByte(offset, _) | D::InvalidLastSymbol(offset, _) => offset,
        D::InvalidLength(_) | D::InvalidPadding => len,
    };
    FuncError::new(format!("illegal base64 data at input byte {at}"))
}

pub(super) fn from_base64(a: &[Value]) -> Result<Value, FuncError> {
    arity(a, 1)?;
    let s = string_arg(a, 0)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s.as_bytes())
        .map_err(|e| base64_error(e, s.len()))?;
    Ok(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
}

pub(super) fn from_url_base64(a: &[Value]) -> Result<Value, FuncError> {
    arity(a, 1)?;
    let s = string_arg(a, 0)?;
    let bytes = base64::engine::general_purpose::URL_SAFE
        .decode(s.as_bytes())
        .map_err(|e| base64_error(e, s.len()))?;
    Ok(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
}

pub(super) fn to_base64(a: &[Value]) -> Result<Value, FuncError> {
    arity(a, 1)?;
    let s = string_arg(a, 0)?;
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(s.as_bytes()),
    ))
}

pub(super) fn to_url_base64(a: &[Value]) -> Result<Value, FuncError> {
    arity(a, 1)?;
    let s = string_arg(a, 0)?;
    Ok(Value::String(
        base64::engine::general_purpose::URL_SAFE.encode(s.as_bytes()),
    ))
}

/// Go's `url.QueryEscape`: unreserved characters stay, a space becomes `+`, the rest `%XX`.
pub(super) fn url_encode(a: &[Value]) -> Result<Value, FuncError> {
    arity(a, 1)?;
    let s = string_arg(a, 0)?;
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    Ok(Value::String(out))
}

/// Go's `url.QueryUnescape`: `+` is a space; a bad escape gives `invalid URL escape "%zz"`.
pub(super) fn url_decode(a: &[Value]) -> Result<Value, FuncError> {
    arity(a, 1)?;
    let s = string_arg(a, 0)?;
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (
                    bytes.get(i + 1).and_then(|b| hex(*b)),
                    bytes.get(i + 2).and_then(|b| hex(*b)),
                ) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                    }
                    _ => {
                        let end = (i + 3).min(bytes.len());
                        let bad = String::from_utf8_lossy(&bytes[i..end]);
                        return Err(FuncError::new(format!("invalid URL escape {bad:?}")));
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(Value::String(String::from_utf8_lossy(&out).into_owned()))
}

/// `encoding.to_json(object)`: Go's `json.Marshal` of a `map[string]any` (sorted keys, compact,
/// HTML-safe escapes, floats without a trailing `.0`).
pub(super) fn to_json(a: &[Value]) -> Result<Value, FuncError> {
    arity(a, 1)?;
    if !matches!(a[0], Value::Object(_)) {
        return Err(FuncError::new("jsonEncode only supports map"));
    }
    let mut out = String::new();
    write_json(&a[0], &mut out)?;
    Ok(Value::String(out))
}

fn write_json(v: &Value, out: &mut String) -> Result<(), FuncError> {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(Number::Int(i)) => out.push_str(&i.to_string()),
        Value::Number(Number::Uint(u)) => out.push_str(&u.to_string()),
        Value::Number(Number::Float(f)) => out.push_str(&go_json_float(*f)?),
        Value::String(s) => write_json_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(x, out)?;
            }
            out.push(']');
        }
        Value::Object(o) => {
            out.push('{');
            for (i, (k, x)) in o.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(k, out);
                out.push(':');
                write_json(x, out)?;
            }
            out.push('}');
        }
        Value::Secret(_) => write_json_string("(secret)", out),
        Value::Capsule(c) => write_json_string(c.type_name, out),
        Value::Function(_) => {
            return Err(FuncError::new("json: unsupported type: func"));
        }
    }
    Ok(())
}

/// Go's JSON float format: shortest digits, exponent form below 1e-6 or from 1e21 on.
fn go_json_float(f: f64) -> Result<String, FuncError> {
    if !f.is_finite() {
        return Err(FuncError::new(format!(
            "json: unsupported value: {}",
            super::format::go_float_v(f)
        )));
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{f:e}");
        // Rust writes `1e21` / `1e-7`; Go writes `1e+21` / `1e-07` then trims to `1e-7`.
        return Ok(match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
            _ => s,
        });
    }
    Ok(format!("{f}"))
}

fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}
