//! The `loki.format = "logfmt"` line encoding of the Collector's Loki translator (which uses
//! `go-logfmt`): a string body is parsed as logfmt when it can be, then `traceID`, `spanID`,
//! `severity`, `flags`, `attribute_<k>`, `resource_<k>` and the scope are appended.

use crate::exporter::prometheus::attr::{self, go_format_float};
use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue};
use std::fmt::Write;

/// A logfmt value, typed like the Go values the translator puts in its key/value list.
#[derive(Debug, Clone, PartialEq)]
pub enum LfValue {
    /// A key without `=value` in a parsed body.
    Nil,
    Str(String),
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
}

/// A key as the translator built it; a key parsed from the body never equals a key the
/// translator adds (Go compares `[]byte` with `string` as unequal), so it is kept apart.
#[derive(Debug, Clone, PartialEq)]
pub enum LfKey {
    Parsed(String),
    Built(String),
}

impl LfKey {
    fn text(&self) -> &str {
        match self {
            LfKey::Parsed(s) | LfKey::Built(s) => s,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LogfmtError {
    #[error("logfmt syntax error at pos {0}: {1}")]
    Syntax(usize, &'static str),
    #[error("invalid key")]
    InvalidKey,
}

pub type KeyVals = Vec<(LfKey, LfValue)>;

/// Parses one logfmt record (go-logfmt decoder rules, first line only).
pub fn parse(line: &str) -> Result<KeyVals, LogfmtError> {
    let line = line.split('\n').next().unwrap_or("");
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] <= b' ' {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i] > b' ' && b[i] != b'=' && b[i] != b'"' {
            i += 1;
        }
        if i == start {
            return Err(LogfmtError::Syntax(
                i + 1,
                if b[i] == b'=' {
                    "unexpected '='"
                } else {
                    "unexpected '\"'"
                },
            ));
        }
        if i < b.len() && b[i] == b'"' {
            return Err(LogfmtError::Syntax(i + 1, "unexpected '\"'"));
        }
        let key = line[start..i].to_string();
        if i >= b.len() || b[i] != b'=' {
            out.push((LfKey::Parsed(key), LfValue::Nil));
            continue;
        }
        i += 1; // '='
        if i < b.len() && b[i] == b'"' {
            let (value, next) = parse_quoted(line, i)?;
            out.push((LfKey::Parsed(key), LfValue::Str(value)));
            i = next;
            continue;
        }
        let vstart = i;
        while i < b.len() && b[i] > b' ' {
            if b[i] == b'=' || b[i] == b'"' {
                return Err(LogfmtError::Syntax(i + 1, "unexpected character in value"));
            }
            i += 1;
        }
        out.push((
            LfKey::Parsed(key),
            LfValue::Str(line[vstart..i].to_string()),
        ));
    }
    Ok(out)
}

/// A double-quoted value starting at `start` (the quote); returns it and the index after.
fn parse_quoted(line: &str, start: usize) -> Result<(String, usize), LogfmtError> {
    let mut out = String::new();
    let mut chars = line[start + 1..].char_indices();
    while let Some((off, c)) = chars.next() {
        match c {
            '"' => return Ok((out, start + 1 + off + 1)),
            '\\' => match chars.next().map(|(_, c)| c) {
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                Some('/') => out.push('/'),
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('b') => out.push('\u{8}'),
                Some('f') => out.push('\u{c}'),
                Some('u') => {
                    let hex: String = (0..4)
                        .filter_map(|_| chars.next().map(|(_, c)| c))
                        .collect();
                    let code = u32::from_str_radix(&hex, 16)
                        .map_err(|_| LogfmtError::Syntax(start + off, "invalid quoted value"))?;
                    out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                }
                _ => return Err(LogfmtError::Syntax(start + off, "invalid quoted value")),
            },
            c => out.push(c),
        }
    }
    Err(LogfmtError::Syntax(line.len(), "unterminated quoted value"))
}

/// Appends `value` flattened under `key` (`valueToKeyvals`): maps as `key_sub`, slices as
/// `key_0`, empty values omitted.
pub fn push_value(out: &mut KeyVals, key: &str, value: Option<&AnyValue>) {
    match value.and_then(|v| v.value.as_ref()) {
        None | Some(Value::StringValueStrindex(_)) => {}
        Some(Value::StringValue(s)) => {
            out.push((LfKey::Built(key.into()), LfValue::Str(s.clone())))
        }
        Some(Value::BoolValue(b)) => out.push((LfKey::Built(key.into()), LfValue::Bool(*b))),
        Some(Value::IntValue(i)) => out.push((LfKey::Built(key.into()), LfValue::Int(*i))),
        Some(Value::DoubleValue(d)) => out.push((LfKey::Built(key.into()), LfValue::Float(*d))),
        Some(Value::KvlistValue(kv)) => {
            let prefix = if key.is_empty() {
                String::new()
            } else {
                format!("{key}_")
            };
            for e in &kv.values {
                push_value(out, &format!("{prefix}{}", e.key), e.value.as_ref());
            }
        }
        Some(Value::ArrayValue(a)) => {
            let prefix = if key.is_empty() {
                String::new()
            } else {
                format!("{key}_")
            };
            for (i, v) in a.values.iter().enumerate() {
                push_value(out, &format!("{prefix}{i}"), Some(v));
            }
        }
        Some(Value::BytesValue(_)) => out.push((
            LfKey::Built(key.into()),
            LfValue::Str(attr::as_string(value)),
        )),
    }
}

/// Replaces the value of a translator-built `key`, or appends it.
pub fn replace_or_append(out: &mut KeyVals, key: &str, value: LfValue) {
    match out
        .iter_mut()
        .find(|(k, _)| matches!(k, LfKey::Built(b) if b == key))
    {
        Some(slot) => slot.1 = value,
        None => out.push((LfKey::Built(key.into()), value)),
    }
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)`.
fn go_float_g(f: f64) -> String {
    if !f.is_finite() {
        return go_format_float(f);
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let e = format!("{f:e}");
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{f}")
    }
}

fn needs_quotes(s: &str) -> bool {
    s.chars()
        .any(|c| c <= ' ' || c == '=' || c == '"' || c == '\u{fffd}')
}

fn write_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `logfmt.MarshalKeyvals`: `k=v` pairs separated by spaces; keys lose characters that are
/// not allowed, and a key left empty fails the whole line.
pub fn marshal(kvs: &KeyVals) -> Result<String, LogfmtError> {
    let mut out = String::new();
    for (i, (k, v)) in kvs.iter().enumerate() {
        let key: String = k
            .text()
            .chars()
            .filter(|c| !(*c <= ' ' || *c == '=' || *c == '"' || *c == '\u{fffd}'))
            .collect();
        if key.is_empty() {
            return Err(LogfmtError::InvalidKey);
        }
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&key);
        out.push('=');
        match v {
            LfValue::Nil => out.push_str("null"),
            LfValue::Str(s) if s == "null" => out.push_str("\"null\""),
            LfValue::Str(s) if needs_quotes(s) => write_quoted(&mut out, s),
            LfValue::Str(s) => out.push_str(s),
            LfValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            LfValue::Int(n) => {
                let _ = write!(out, "{n}");
            }
            LfValue::Uint(n) => {
                let _ = write!(out, "{n}");
            }
            LfValue::Float(f) => out.push_str(&go_float_g(*f)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parse_and_marshal_round_trip() {
        let kvs = parse(r#"level=info msg="hello world" flag"#).unwrap();
        assert_eq!(kvs.len(), 3);
        assert_eq!(kvs[1].1, LfValue::Str("hello world".into()));
        assert_eq!(kvs[2].1, LfValue::Nil);
        assert_eq!(
            marshal(&kvs).unwrap(),
            r#"level=info msg="hello world" flag=null"#
        );
    }

    #[test]
    fn parse_errors() {
        assert!(parse("=x").is_err());
        assert!(parse(r#"a="unterminated"#).is_err());
        assert!(parse(r#"a"b=c"#).is_err());
    }

    #[test]
    fn float_format_matches_go_g() {
        assert_eq!(go_float_g(1e6), "1e+06");
        assert_eq!(go_float_g(123456.0), "123456");
        assert_eq!(go_float_g(0.5), "0.5");
        assert_eq!(go_float_g(0.00001), "1e-05");
    }
}
