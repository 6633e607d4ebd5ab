//! OTLP `AnyValue` helpers with pdata's semantics: `AsString`, conversion from config values,
//! and attribute-map operations on `Vec<KeyValue>` (first key wins, as `pcommon.Map.Get`).

use base64::Engine;
use opentelemetry_proto::tonic::common::v1::{
    any_value::Value as V, AnyValue, ArrayValue, KeyValue, KeyValueList,
};
use solder_syntax::{Number, Value};

pub fn get<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| kv.value.as_ref().unwrap_or(&EMPTY))
}

pub fn get_mut<'a>(attrs: &'a mut [KeyValue], key: &str) -> Option<&'a mut AnyValue> {
    attrs
        .iter_mut()
        .find(|kv| kv.key == key)
        .map(|kv| kv.value.get_or_insert_with(AnyValue::default))
}

pub fn remove(attrs: &mut Vec<KeyValue>, key: &str) {
    attrs.retain(|kv| kv.key != key);
}

/// Set `key` (replacing an existing value, else appending).
pub fn put(attrs: &mut Vec<KeyValue>, key: &str, value: AnyValue) {
    match get_mut(attrs, key) {
        Some(v) => *v = value,
        None => attrs.push(KeyValue {
            key: key.to_string(),
            value: Some(value),
            ..Default::default()
        }),
    }
}

pub static EMPTY: AnyValue = AnyValue { value: None };

pub fn string(s: impl Into<String>) -> AnyValue {
    AnyValue {
        value: Some(V::StringValue(s.into())),
    }
}

/// A config value (`value = …` in an action or matcher) as pdata's `FromRaw` would store it.
/// `None` for `null`; an error for values with no attribute form (functions, capsules).
pub fn from_config(v: &Value) -> Result<Option<AnyValue>, String> {
    let inner = match v {
        Value::Null => return Ok(None),
        Value::Bool(b) => V::BoolValue(*b),
        Value::Number(Number::Int(i)) => V::IntValue(*i),
        Value::Number(Number::Uint(u)) => match i64::try_from(*u) {
            Ok(i) => V::IntValue(i),
            Err(_) => V::DoubleValue(*u as f64),
        },
        Value::Number(Number::Float(f)) => V::DoubleValue(*f),
        Value::String(s) => V::StringValue(s.clone()),
        Value::Secret(s) => V::StringValue(s.expose().to_string()),
        Value::Array(items) => V::ArrayValue(ArrayValue {
            values: items
                .iter()
                .map(|i| from_config(i).map(Option::unwrap_or_default))
                .collect::<Result<_, _>>()?,
        }),
        Value::Object(o) => V::KvlistValue(KeyValueList {
            values: o
                .iter()
                .map(|(k, v)| {
                    Ok(KeyValue {
                        key: k.clone(),
                        value: from_config(v)?,
                        ..Default::default()
                    })
                })
                .collect::<Result<_, String>>()?,
        }),
        other => {
            return Err(format!(
                "{} cannot be used as an attribute value",
                other.describe()
            ))
        }
    };
    Ok(Some(AnyValue { value: Some(inner) }))
}

/// pdata's `Value.AsString`.
pub fn as_string(v: &AnyValue) -> String {
    match &v.value {
        None => String::new(),
        Some(V::StringValue(s)) => s.clone(),
        Some(V::BoolValue(b)) => b.to_string(),
        Some(V::IntValue(i)) => i.to_string(),
        Some(V::DoubleValue(f)) => float_as_string(*f),
        Some(V::BytesValue(b)) => base64::engine::general_purpose::STANDARD.encode(b),
        Some(V::ArrayValue(_)) | Some(V::KvlistValue(_)) => to_json(v).to_string(),
        // Dictionary-indexed strings need the profile's string table, which plain OTLP lacks.
        Some(_) => String::new(),
    }
}

/// Go's ES6-style float formatting used by pdata: plain decimal, exponent form only for very
/// small or large magnitudes (`1e-7`, `1e+21`).
pub fn float_as_string(f: f64) -> String {
    if f.is_nan() {
        return "json: unsupported value: NaN".into();
    }
    if f.is_infinite() {
        let s = if f > 0.0 { "+Inf" } else { "-Inf" };
        return format!("json: unsupported value: {s}");
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{f:e}");
        match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
            _ => s,
        }
    } else {
        format!("{f}")
    }
}

fn to_json(v: &AnyValue) -> serde_json::Value {
    use serde_json::Value as J;
    match &v.value {
        None => J::Null,
        Some(V::StringValue(s)) => J::String(s.clone()),
        Some(V::BoolValue(b)) => J::Bool(*b),
        Some(V::IntValue(i)) => J::from(*i),
        Some(V::DoubleValue(f)) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        Some(V::BytesValue(b)) => J::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Some(V::ArrayValue(a)) => J::Array(a.values.iter().map(to_json).collect()),
        Some(V::KvlistValue(l)) => J::Object(
            l.values
                .iter()
                .map(|kv| (kv.key.clone(), kv.value.as_ref().map_or(J::Null, to_json)))
                .collect(),
        ),
        Some(_) => J::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_format_like_pdata() {
        for (f, want) in [
            (1.5, "1.5"),
            (100.0, "100"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1e-7, "1e-7"),
            (0.000001, "0.000001"),
            (-2.25e-9, "-2.25e-9"),
            (0.0, "0"),
        ] {
            assert_eq!(float_as_string(f), want, "{f}");
        }
    }
}
