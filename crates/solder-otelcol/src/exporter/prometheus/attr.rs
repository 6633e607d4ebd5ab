//! OTLP attribute values rendered the way the Collector's `pcommon.Value` does, because label
//! values (`AsString`) and Loki JSON lines (`json.Marshal(AsRaw())`) must match Alloy byte for
//! byte:
//! - doubles use ECMAScript number formatting (`1`, `0.5`, `1e+21`, `1e-7`), not Rust's;
//! - maps and slices become JSON with keys sorted, `<`, `>`, `&`, U+2028 and U+2029 escaped as
//!   Go's `encoding/json` does;
//! - bytes become standard base64.

use base64::Engine;
use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, KeyValue};
use std::collections::BTreeMap;
use std::fmt::Write;

/// `json.Marshal` refuses NaN and infinities; so do we.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("json: unsupported value: {0}")]
pub struct UnsupportedFloat(pub f64);

/// `pcommon.Value.AsString()`.
pub fn as_string(value: Option<&AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        // A string-table index only means something inside a profile; here it is empty.
        None | Some(Value::StringValueStrindex(_)) => String::new(),
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(d)) => double_as_string(*d),
        Some(Value::BytesValue(b)) => base64::engine::general_purpose::STANDARD.encode(b),
        // The Collector ignores the marshalling error here and returns what it got: nothing.
        Some(Value::ArrayValue(_)) | Some(Value::KvlistValue(_)) => {
            let mut out = String::new();
            match write_json_value(&mut out, value) {
                Ok(()) => out,
                Err(_) => String::new(),
            }
        }
    }
}

/// `float64AsString` in pdata: ECMAScript formatting, and a textual error for NaN/Inf.
pub fn double_as_string(d: f64) -> String {
    if d.is_finite() {
        go_json_float(d)
    } else {
        format!("json: unsupported value: {}", go_float_g(d))
    }
}

fn go_float_g(d: f64) -> &'static str {
    if d.is_nan() {
        "NaN"
    } else if d > 0.0 {
        "+Inf"
    } else {
        "-Inf"
    }
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`: shortest round-trip digits, never an exponent.
pub fn go_format_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_string()
    } else if f.is_infinite() {
        if f > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        // Rust's Display is the shortest round-trip representation without exponent.
        format!("{f}")
    }
}

/// How `encoding/json` writes a finite float64 (ES6 rules): plain decimal unless the
/// magnitude is below 1e-6 or at least 1e21, then `1e+21` / `1.5e-7` style.
pub fn go_json_float(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{f:e}");
        // Rust writes `1e21`, Go `1e+21`; negative exponents already match (`1e-7`).
        match s.split_once('e') {
            Some((mantissa, exp)) if !exp.starts_with('-') => format!("{mantissa}e+{exp}"),
            _ => s,
        }
    } else {
        format!("{f}")
    }
}

/// `json.Marshal(value.AsRaw())`.
pub fn write_json_value(
    out: &mut String,
    value: Option<&AnyValue>,
) -> Result<(), UnsupportedFloat> {
    match value.and_then(|v| v.value.as_ref()) {
        None | Some(Value::StringValueStrindex(_)) => out.push_str("null"),
        Some(Value::StringValue(s)) => write_json_string(out, s),
        Some(Value::BoolValue(b)) => out.push_str(if *b { "true" } else { "false" }),
        Some(Value::IntValue(i)) => {
            let _ = write!(out, "{i}");
        }
        Some(Value::DoubleValue(d)) => {
            if !d.is_finite() {
                return Err(UnsupportedFloat(*d));
            }
            out.push_str(&go_json_float(*d));
        }
        Some(Value::BytesValue(b)) => {
            write_json_string(out, &base64::engine::general_purpose::STANDARD.encode(b))
        }
        Some(Value::ArrayValue(a)) => {
            out.push('[');
            for (i, v) in a.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_value(out, Some(v))?;
            }
            out.push(']');
        }
        Some(Value::KvlistValue(kv)) => write_json_object(out, &kv.values)?,
    }
    Ok(())
}

/// `json.Marshal(map.AsRaw())`: keys sorted, a repeated key keeps its last value.
pub fn write_json_object(out: &mut String, attrs: &[KeyValue]) -> Result<(), UnsupportedFloat> {
    let sorted: BTreeMap<&str, Option<&AnyValue>> = attrs
        .iter()
        .map(|kv| (kv.key.as_str(), kv.value.as_ref()))
        .collect();
    out.push('{');
    for (i, (k, v)) in sorted.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_json_string(out, k);
        out.push(':');
        write_json_value(out, *v)?;
    }
    out.push('}');
    Ok(())
}

/// A JSON string as Go's `encoding/json` writes it (HTML-safe escaping).
pub fn write_json_string(out: &mut String, s: &str) {
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
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The first attribute named `key` (pcommon `Map.Get` semantics).
pub fn get<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a KeyValue> {
    attrs.iter().find(|kv| kv.key == key)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};

    fn v(value: Value) -> AnyValue {
        AnyValue { value: Some(value) }
    }

    #[test]
    fn as_string_table() {
        let cases: Vec<(AnyValue, &str)> = vec![
            (v(Value::StringValue("x".into())), "x"),
            (v(Value::BoolValue(true)), "true"),
            (v(Value::IntValue(-42)), "-42"),
            (v(Value::DoubleValue(1.0)), "1"),
            (v(Value::DoubleValue(0.25)), "0.25"),
            (v(Value::DoubleValue(1e21)), "1e+21"),
            (v(Value::DoubleValue(1.5e-7)), "1.5e-7"),
            (v(Value::DoubleValue(123456789.0)), "123456789"),
            (v(Value::BytesValue(vec![1, 2, 3])), "AQID"),
            (
                v(Value::ArrayValue(ArrayValue {
                    values: vec![v(Value::IntValue(1)), v(Value::StringValue("<a>".into()))],
                })),
                r#"[1,"\u003ca\u003e"]"#,
            ),
            (
                v(Value::KvlistValue(KeyValueList {
                    values: vec![
                        KeyValue {
                            key: "z".into(),
                            value: Some(v(Value::BoolValue(false))),
                            ..Default::default()
                        },
                        KeyValue {
                            key: "a".into(),
                            value: None,
                            ..Default::default()
                        },
                    ],
                })),
                r#"{"a":null,"z":false}"#,
            ),
        ];
        for (value, want) in cases {
            assert_eq!(as_string(Some(&value)), want, "{value:?}");
        }
        assert_eq!(as_string(None), "");
    }

    #[test]
    fn go_float_formats() {
        assert_eq!(go_format_float(0.5), "0.5");
        assert_eq!(go_format_float(1.0), "1");
        assert_eq!(go_format_float(f64::INFINITY), "+Inf");
        assert_eq!(go_format_float(1e22), "10000000000000000000000");
        assert_eq!(go_json_float(-2e-7), "-2e-7");
        assert_eq!(go_json_float(0.0), "0");
    }

    #[test]
    fn json_rejects_nan() {
        let mut s = String::new();
        assert!(write_json_value(&mut s, Some(&v(Value::DoubleValue(f64::NAN)))).is_err());
    }

    #[test]
    fn json_string_escapes_like_go() {
        let mut s = String::new();
        write_json_string(&mut s, "a\"b\\c\n\u{1}&\u{2028}é");
        assert_eq!(s, r#""a\"b\\c\n\u0001\u0026\u2028é""#);
    }
}
