//! Converting function arguments the way Alloy assigns a value to a Go parameter.

use crate::value::{FuncError, Number, Value};

/// `expected N args, got M` (a non-variadic Go function).
pub(crate) fn arity(a: &[Value], n: usize) -> Result<(), FuncError> {
    if a.len() != n {
        return Err(FuncError::new(format!(
            "expected {n} args, got {}",
            a.len()
        )));
    }
    Ok(())
}

/// `expected at least N args, got M` (a variadic Go function with N fixed parameters).
pub(crate) fn arity_at_least(a: &[Value], n: usize) -> Result<(), FuncError> {
    if a.len() < n {
        return Err(FuncError::new(format!(
            "expected at least {n} args, got {}",
            a.len()
        )));
    }
    Ok(())
}

/// A value assigned to a Go `string`: numbers become their text, null the empty string.
/// A secret is refused: only `convert.nonsensitive` may reveal it.
pub(crate) fn to_string(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Null => Ok(String::new()),
        other => Err(format!("should be string, got {}", other.kind())),
    }
}

pub(crate) fn string_arg(a: &[Value], i: usize) -> Result<String, FuncError> {
    let v = a.get(i).unwrap_or(&Value::Null);
    to_string(v).map_err(|m| FuncError::arg(i, m))
}

/// A value assigned to a Go `[]string`.
pub(crate) fn string_list_arg(a: &[Value], i: usize) -> Result<Vec<String>, FuncError> {
    match a.get(i).unwrap_or(&Value::Null) {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(j, v)| to_string(v).map_err(|m| FuncError::arg(i, format!("[{j}] {m}"))))
            .collect(),
        other => Err(FuncError::arg(
            i,
            format!("should be array, got {}", other.kind()),
        )),
    }
}

/// A value assigned to a secret parameter: a secret or a plain string.
pub(crate) fn secret_arg(a: &[Value], i: usize) -> Result<String, FuncError> {
    match a.get(i).unwrap_or(&Value::Null) {
        Value::Secret(s) => Ok(s.expose().to_string()),
        Value::String(s) => Ok(s.clone()),
        Value::Null => Ok(String::new()),
        other => Err(FuncError::arg(
            i,
            format!("should be capsule, got {}", other.kind()),
        )),
    }
}

/// Go's `reflect.Value.IsZero` as `coalesce` uses it, plus "empty array/object counts as zero".
pub(crate) fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(Number::Int(i)) => *i == 0,
        Value::Number(Number::Uint(u)) => *u == 0,
        // IsZero on a float is a bit test: -0.0 is not zero.
        Value::Number(Number::Float(f)) => f.to_bits() == 0,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Secret(s) => s.expose().is_empty(),
        Value::Function(_) | Value::Capsule(_) => false,
    }
}

/// The Go type a value has after being decoded into `any` (what `%T` and bad-verb messages show).
pub(crate) fn go_type_name(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".to_string(),
        Value::Bool(_) => "bool".to_string(),
        Value::Number(Number::Int(_)) => "int".to_string(),
        Value::Number(Number::Uint(u)) if *u <= i64::MAX as u64 => "int".to_string(),
        Value::Number(Number::Uint(_)) => "uint64".to_string(),
        Value::Number(Number::Float(_)) => "float64".to_string(),
        Value::String(_) => "string".to_string(),
        Value::Array(_) => "[]interface {}".to_string(),
        Value::Object(_) => "map[string]interface {}".to_string(),
        Value::Function(f) => format!("func {}", f.name),
        Value::Capsule(c) => c.type_name.to_string(),
        Value::Secret(_) => "alloytypes.Secret".to_string(),
    }
}
