//! OTLP/JSON → protobuf: converts an `Export*ServiceRequest` in the OTLP/JSON encoding into the
//! protobuf bytes of the same request, so JSON senders join the encoded pass-through path.
//!
//! The OTLP/JSON rules (opentelemetry-proto `docs/specification.md`, "JSON Protobuf Encoding")
//! beyond the standard protobuf JSON mapping, all of which this accepts:
//! - `traceId`/`spanId`/`parentSpanId` are hex strings, not base64; other `bytes` are base64;
//! - enum values may be integers or their names (`"SPAN_KIND_SERVER"`);
//! - field names are lowerCamelCase; the original snake_case names are accepted as well;
//! - 64-bit integers may be JSON numbers or decimal strings; doubles may be numbers or
//!   `"NaN"`/`"Infinity"`/`"-Infinity"`;
//! - unknown fields are ignored, `null` means "not set".
//!
//! The conversion walks a schema table of the OTLP messages ([`schema`]) rather than going
//! through prost structs: `opentelemetry-proto`'s serde support does not accept enum names.

mod schema;

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use schema::{FieldSpec, Kind, MessageSchema};
use serde_json::Value;
use solder_core::signals::otlp::Signal;

/// Why an OTLP/JSON body could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    #[error("invalid JSON: {0}")]
    Syntax(String),
    #[error("{path}: {message}")]
    Field { path: String, message: String },
}

fn field_error(path: &str, message: impl Into<String>) -> JsonError {
    JsonError::Field {
        path: path.to_string(),
        message: message.into(),
    }
}

/// Convert an OTLP/JSON `Export*ServiceRequest` of `signal` into its protobuf encoding.
pub fn to_protobuf(signal: Signal, json: &[u8]) -> Result<Vec<u8>, JsonError> {
    // serde_json bounds nesting depth (128), so hostile nesting fails instead of recursing.
    let value: Value =
        serde_json::from_slice(json).map_err(|e| JsonError::Syntax(e.to_string()))?;
    let schema = match signal {
        Signal::Traces => &schema::EXPORT_TRACE_REQUEST,
        Signal::Metrics => &schema::EXPORT_METRICS_REQUEST,
        Signal::Logs => &schema::EXPORT_LOGS_REQUEST,
    };
    let mut out = Vec::with_capacity(json.len() / 2);
    encode_message(schema, &value, "$", &mut out)?;
    Ok(out)
}

fn put_varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_tag(number: u32, wire_type: u8, out: &mut Vec<u8>) {
    put_varint((u64::from(number) << 3) | u64::from(wire_type), out);
}

fn put_len_delimited(number: u32, bytes: &[u8], out: &mut Vec<u8>) {
    put_tag(number, 2, out);
    put_varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

fn encode_message(
    schema: &MessageSchema,
    value: &Value,
    path: &str,
    out: &mut Vec<u8>,
) -> Result<(), JsonError> {
    let obj = value
        .as_object()
        .ok_or_else(|| field_error(path, format!("expected a JSON object for {}", schema.name)))?;
    for (key, v) in obj {
        let Some(spec) = schema.field(key) else {
            continue; // unknown fields are ignored by the spec
        };
        if v.is_null() {
            continue;
        }
        let field_path = format!("{path}.{key}");
        if spec.repeated {
            let items = v
                .as_array()
                .ok_or_else(|| field_error(&field_path, "expected a JSON array"))?;
            if spec.kind.packable() {
                let mut packed = Vec::with_capacity(items.len() * 8);
                for (i, item) in items.iter().enumerate() {
                    encode_scalar(spec, item, &format!("{field_path}[{i}]"), &mut packed)?;
                }
                put_len_delimited(spec.number, &packed, out);
            } else {
                for (i, item) in items.iter().enumerate() {
                    encode_field(spec, item, &format!("{field_path}[{i}]"), out)?;
                }
            }
        } else {
            encode_field(spec, v, &field_path, out)?;
        }
    }
    Ok(())
}

/// Encode one (non-packed) occurrence of a field, tag included.
fn encode_field(
    spec: &FieldSpec,
    value: &Value,
    path: &str,
    out: &mut Vec<u8>,
) -> Result<(), JsonError> {
    match spec.kind {
        Kind::Message(schema) => {
            let mut inner = Vec::new();
            encode_message(schema, value, path, &mut inner)?;
            put_len_delimited(spec.number, &inner, out);
        }
        Kind::String => {
            let s = value
                .as_str()
                .ok_or_else(|| field_error(path, "expected a string"))?;
            put_len_delimited(spec.number, s.as_bytes(), out);
        }
        Kind::HexBytes => {
            let s = value
                .as_str()
                .ok_or_else(|| field_error(path, "expected a hex string"))?;
            let bytes = decode_hex(s).ok_or_else(|| field_error(path, "invalid hex id"))?;
            put_len_delimited(spec.number, &bytes, out);
        }
        Kind::Base64Bytes => {
            let s = value
                .as_str()
                .ok_or_else(|| field_error(path, "expected a base64 string"))?;
            let bytes = decode_base64(s).ok_or_else(|| field_error(path, "invalid base64"))?;
            put_len_delimited(spec.number, &bytes, out);
        }
        _ => {
            put_tag(spec.number, spec.kind.wire_type(), out);
            encode_scalar(spec, value, path, out)?;
        }
    }
    Ok(())
}

/// Encode the value of a scalar field without its tag.
fn encode_scalar(
    spec: &FieldSpec,
    value: &Value,
    path: &str,
    out: &mut Vec<u8>,
) -> Result<(), JsonError> {
    match spec.kind {
        Kind::Bool => {
            let b = value
                .as_bool()
                .ok_or_else(|| field_error(path, "expected true or false"))?;
            put_varint(u64::from(b), out);
        }
        Kind::Uint32 => {
            let v = parse_u64(value, path)?;
            let v = u32::try_from(v).map_err(|_| field_error(path, "out of range for uint32"))?;
            put_varint(u64::from(v), out);
        }
        Kind::Uint64 => put_varint(parse_u64(value, path)?, out),
        Kind::Int64 => put_varint(parse_i64(value, path)? as u64, out),
        Kind::SInt32 => {
            let v = parse_i64(value, path)?;
            let v = i32::try_from(v).map_err(|_| field_error(path, "out of range for int32"))?;
            // zigzag encoding
            put_varint(u64::from(((v << 1) ^ (v >> 31)) as u32), out);
        }
        Kind::Fixed32 => {
            let v = parse_u64(value, path)?;
            let v = u32::try_from(v).map_err(|_| field_error(path, "out of range for fixed32"))?;
            out.extend_from_slice(&v.to_le_bytes());
        }
        Kind::Fixed64 => out.extend_from_slice(&parse_u64(value, path)?.to_le_bytes()),
        Kind::SFixed64 => out.extend_from_slice(&parse_i64(value, path)?.to_le_bytes()),
        Kind::Double => out.extend_from_slice(&parse_f64(value, path)?.to_le_bytes()),
        Kind::Enum(names) => {
            let v = match value {
                Value::String(name) => match names.iter().find(|(n, _)| n == name) {
                    Some((_, number)) => i64::from(*number),
                    None => parse_i64(value, path)
                        .map_err(|_| field_error(path, format!("unknown enum value {name:?}")))?,
                },
                _ => parse_i64(value, path)?,
            };
            let v = i32::try_from(v).map_err(|_| field_error(path, "enum out of range"))?;
            // Negative int32 values are sign-extended to 64 bits on the wire.
            put_varint(i64::from(v) as u64, out);
        }
        Kind::String | Kind::HexBytes | Kind::Base64Bytes | Kind::Message(_) => {
            return Err(field_error(path, "internal: not a scalar field"));
        }
    }
    Ok(())
}

fn parse_u64(value: &Value, path: &str) -> Result<u64, JsonError> {
    match value {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| integral_f64(n.as_f64()?).and_then(|f| (f >= 0.0).then_some(f as u64)))
            .ok_or_else(|| field_error(path, format!("{n} is not an unsigned integer"))),
        Value::String(s) => s
            .trim()
            .parse::<u64>()
            .map_err(|_| field_error(path, format!("{s:?} is not an unsigned integer"))),
        _ => Err(field_error(path, "expected an integer")),
    }
}

fn parse_i64(value: &Value, path: &str) -> Result<i64, JsonError> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| integral_f64(n.as_f64()?).map(|f| f as i64))
            .ok_or_else(|| field_error(path, format!("{n} is not an integer"))),
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| field_error(path, format!("{s:?} is not an integer"))),
        _ => Err(field_error(path, "expected an integer")),
    }
}

/// JSON numbers such as `1e3` or `5.0` are integers when they have no fraction and fit.
fn integral_f64(f: f64) -> Option<f64> {
    (f.fract() == 0.0 && f.abs() < 9.2e18).then_some(f)
}

fn parse_f64(value: &Value, path: &str) -> Result<f64, JsonError> {
    match value {
        Value::Number(n) => n
            .as_f64()
            .ok_or_else(|| field_error(path, "expected a number")),
        Value::String(s) => match s.as_str() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            other => other
                .trim()
                .parse::<f64>()
                .map_err(|_| field_error(path, format!("{other:?} is not a number"))),
        },
        _ => Err(field_error(path, "expected a number")),
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks_exact(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

/// Protobuf JSON accepts standard and URL-safe base64, padded or not.
fn decode_base64(s: &str) -> Option<Vec<u8>> {
    const CONFIG: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    const STANDARD: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, CONFIG);
    const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, CONFIG);
    STANDARD.decode(s).or_else(|_| URL_SAFE.decode(s)).ok()
}

#[cfg(test)]
mod tests;
