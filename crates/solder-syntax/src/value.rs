//! Runtime values of the language. Objects are ordered maps (Alloy objects are order-free, a
//! `BTreeMap` makes output deterministic). Capsules carry opaque Rust values such as receivers;
//! two capsules are equal only when they are the same allocation.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

pub type Object = BTreeMap<String, Value>;

#[derive(Clone, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Value>),
    Object(Object),
    Function(Function),
    Capsule(Capsule),
    Secret(Secret),
}

/// Alloy numbers are int64, uint64 or float64; all compare by value (`3 == 3.0`).
#[derive(Debug, Clone, Copy)]
pub enum Number {
    Int(i64),
    Uint(u64),
    Float(f64),
}

impl Number {
    pub fn as_f64(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Uint(u) => u as f64,
            Number::Float(f) => f,
        }
    }
}

impl PartialEq for Number {
    fn eq(&self, other: &Self) -> bool {
        match (*self, *other) {
            (Number::Int(a), Number::Int(b)) => a == b,
            (Number::Uint(a), Number::Uint(b)) => a == b,
            (Number::Int(a), Number::Uint(b)) | (Number::Uint(b), Number::Int(a)) => {
                a >= 0 && a as u64 == b
            }
            (a, b) => a.as_f64() == b.as_f64(),
        }
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Int(i) => write!(f, "{i}"),
            Number::Uint(u) => write!(f, "{u}"),
            Number::Float(x) => {
                if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e21 {
                    write!(f, "{x:.0}")
                } else {
                    write!(f, "{x}")
                }
            }
        }
    }
}

/// A sensitive string. Its `Debug` and `Display` never show the content; only
/// `convert.nonsensitive` and the component that consumes it read it, through [`Secret::expose`].
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(secret)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(secret)")
    }
}

/// An opaque Rust value (a receiver, a handler, relabel rules) carried through the language.
/// `type_name` is what errors and the API show, e.g. `prometheus.Receiver`.
#[derive(Clone)]
pub struct Capsule {
    pub type_name: &'static str,
    pub inner: Arc<dyn Any + Send + Sync>,
}

impl Capsule {
    pub fn new<T: Any + Send + Sync>(type_name: &'static str, value: T) -> Self {
        Capsule {
            type_name,
            inner: Arc::new(value),
        }
    }

    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        self.inner.downcast_ref::<T>()
    }
}

impl PartialEq for Capsule {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl fmt::Debug for Capsule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "capsule(\"{}\")", self.type_name)
    }
}

/// The error a function returns; the evaluator attaches the call's span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuncError(pub String);

pub type FuncImpl = dyn Fn(&[Value]) -> Result<Value, FuncError> + Send + Sync;

/// A callable value (stdlib functions). Equal when it is the same function.
#[derive(Clone)]
pub struct Function {
    pub name: &'static str,
    pub func: Arc<FuncImpl>,
}

impl Function {
    pub fn new(
        name: &'static str,
        f: impl Fn(&[Value]) -> Result<Value, FuncError> + Send + Sync + 'static,
    ) -> Self {
        Function {
            name,
            func: Arc::new(f),
        }
    }

    pub fn call(&self, args: &[Value]) -> Result<Value, FuncError> {
        (self.func)(args)
    }
}

impl PartialEq for Function {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.func, &other.func)
    }
}

impl fmt::Debug for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "function({})", self.name)
    }
}

/// The kind of a value as Alloy names it in errors: `should be number, got string`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
    Function,
    Capsule,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool => "bool",
            Kind::Number => "number",
            Kind::String => "string",
            Kind::Array => "array",
            Kind::Object => "object",
            Kind::Function => "function",
            Kind::Capsule => "capsule",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Value {
    pub fn kind(&self) -> Kind {
        match self {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Bool,
            Value::Number(_) => Kind::Number,
            Value::String(_) => Kind::String,
            Value::Array(_) => Kind::Array,
            Value::Object(_) => Kind::Object,
            Value::Function(_) => Kind::Function,
            // A secret is a capsule in Alloy's type system.
            Value::Capsule(_) | Value::Secret(_) => Kind::Capsule,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    pub fn int(i: i64) -> Value {
        Value::Number(Number::Int(i))
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Number(a), Value::Number(b)) => a == b,
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Array(a), Value::Array(b)) => a == b,
            (Value::Object(a), Value::Object(b)) => a == b,
            (Value::Function(a), Value::Function(b)) => a == b,
            (Value::Capsule(a), Value::Capsule(b)) => a == b,
            (Value::Secret(a), Value::Secret(b)) => a == b,
            _ => false,
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => write!(f, "{n}"),
            Value::String(s) => write!(f, "{s:?}"),
            Value::Array(a) => f.debug_list().entries(a).finish(),
            Value::Object(o) => f.debug_map().entries(o).finish(),
            Value::Function(x) => write!(f, "{x:?}"),
            Value::Capsule(c) => write!(f, "{c:?}"),
            Value::Secret(s) => write!(f, "{s:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers for building and rendering values (used by the evaluator, the stdlib, the decoder and
// the admin API).

impl FuncError {
    /// Internal marker separating "this argument is wrong" errors from errors of the call itself:
    /// Alloy points the former at the argument expression, the latter at the function.
    const ARG_TAG: char = '\u{0}';

    pub fn new(msg: impl Into<String>) -> Self {
        FuncError(msg.into())
    }

    /// An error about argument `index` (zero-based). The message continues the argument's text,
    /// e.g. `should be string, got number` or `[1] should be string, got bool`.
    pub fn arg(index: usize, msg: impl Into<String>) -> Self {
        FuncError(format!(
            "{}{index}{}{}",
            Self::ARG_TAG,
            Self::ARG_TAG,
            msg.into()
        ))
    }

    /// `Some((index, message))` when this error is about one argument.
    pub fn arg_index(&self) -> Option<(usize, &str)> {
        let rest = self.0.strip_prefix(Self::ARG_TAG)?;
        let (idx, msg) = rest.split_once(Self::ARG_TAG)?;
        Some((idx.parse().ok()?, msg))
    }

    /// The human message without the internal argument marker.
    pub fn message(&self) -> &str {
        match self.arg_index() {
            Some((_, m)) => m,
            None => &self.0,
        }
    }
}

impl Value {
    pub fn uint(u: u64) -> Value {
        Value::Number(Number::Uint(u))
    }

    pub fn float(f: f64) -> Value {
        Value::Number(Number::Float(f))
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Alloy's description of a value's type in errors: the kind, or `capsule("name")`.
    pub fn describe(&self) -> String {
        match self {
            Value::Capsule(c) => format!("capsule({:?})", c.type_name),
            Value::Secret(_) => "capsule(\"alloytypes.Secret\")".to_string(),
            other => other.kind().as_str().to_string(),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}
impl From<&String> for Value {
    fn from(s: &String) -> Self {
        Value::String(s.clone())
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Number(Number::Int(i))
    }
}
impl From<i32> for Value {
    fn from(i: i32) -> Self {
        Value::Number(Number::Int(i64::from(i)))
    }
}
impl From<u64> for Value {
    fn from(u: u64) -> Self {
        Value::Number(Number::Uint(u))
    }
}
impl From<u32> for Value {
    fn from(u: u32) -> Self {
        Value::Number(Number::Uint(u64::from(u)))
    }
}
impl From<usize> for Value {
    fn from(u: usize) -> Self {
        Value::Number(Number::Uint(u as u64))
    }
}
impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Number(Number::Float(f))
    }
}
impl From<Number> for Value {
    fn from(n: Number) -> Self {
        Value::Number(n)
    }
}
impl From<Secret> for Value {
    fn from(s: Secret) -> Self {
        Value::Secret(s)
    }
}
impl From<Capsule> for Value {
    fn from(c: Capsule) -> Self {
        Value::Capsule(c)
    }
}
impl From<Function> for Value {
    fn from(f: Function) -> Self {
        Value::Function(f)
    }
}
impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(v: Vec<T>) -> Self {
        Value::Array(v.into_iter().map(Into::into).collect())
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map(Into::into).unwrap_or(Value::Null)
    }
}
impl<T: Into<Value>> From<BTreeMap<String, T>> for Value {
    fn from(m: BTreeMap<String, T>) -> Self {
        Value::Object(m.into_iter().map(|(k, v)| (k, v.into())).collect())
    }
}
impl<T: Into<Value>, S> From<std::collections::HashMap<String, T, S>> for Value {
    fn from(m: std::collections::HashMap<String, T, S>) -> Self {
        Value::Object(m.into_iter().map(|(k, v)| (k, v.into())).collect())
    }
}

/// JSON form of a value for the admin API and `encoding.to_json`. Secrets become `"(secret)"`,
/// capsules their type name, functions `"function"`, non-finite floats `null`.
pub fn value_to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Number(Number::Int(i)) => J::from(*i),
        Value::Number(Number::Uint(u)) => J::from(*u),
        Value::Number(Number::Float(f)) => serde_json::Number::from_f64(*f)
            .map(J::Number)
            .unwrap_or(J::Null),
        Value::String(s) => J::String(s.clone()),
        Value::Array(a) => J::Array(a.iter().map(value_to_json).collect()),
        Value::Object(o) => J::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), value_to_json(v)))
                .collect(),
        ),
        Value::Function(_) => J::String("function".to_string()),
        Value::Capsule(c) => J::String(c.type_name.to_string()),
        Value::Secret(_) => J::String("(secret)".to_string()),
    }
}

/// A value in Alloy literal syntax on one line: `{ a = 1, "b-c" = [true, null] }`.
/// Secrets render as `(secret)` and capsules as `capsule("type")`, which are not valid literals:
/// this is for display (errors, the UI), never for round-tripping secrets.
pub fn value_to_alloy(v: &Value) -> String {
    let mut out = String::new();
    write_alloy(v, &mut out);
    out
}

fn write_alloy(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => out.push_str(&quote_go(s)),
        Value::Array(a) => {
            out.push('[');
            for (i, e) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_alloy(e, out);
            }
            out.push(']');
        }
        Value::Object(o) if o.is_empty() => out.push_str("{}"),
        Value::Object(o) => {
            out.push_str("{ ");
            for (i, (k, e)) in o.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                if is_identifier(k) {
                    out.push_str(k);
                } else {
                    out.push_str(&quote_go(k));
                }
                out.push_str(" = ");
                write_alloy(e, out);
            }
            out.push_str(" }");
        }
        Value::Function(f) => {
            out.push_str("function(");
            out.push_str(f.name);
            out.push(')');
        }
        Value::Capsule(c) => out.push_str(&format!("capsule({:?})", c.type_name)),
        Value::Secret(_) => out.push_str("(secret)"),
    }
}

/// Whether `s` is a valid Alloy identifier (letter or `_`, then letters, digits, `_`).
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// Go's `strconv.Quote`: double quotes, `\n`-style escapes, `\x`/`\u`/`\U` for characters Go
/// does not consider printable. One implementation, shared with the printer.
pub fn quote_go(s: &str) -> String {
    crate::printer::go_quote(s)
}

#[cfg(test)]
mod helper_tests {
    use super::*;

    #[test]
    fn alloy_rendering() {
        let mut o = Object::new();
        o.insert(
            "b-c".into(),
            Value::from(vec![Value::Null, Value::from(true)]),
        );
        o.insert("a".into(), Value::from(1.5));
        o.insert("s".into(), Value::Secret(Secret::new("pw")));
        assert_eq!(
            value_to_alloy(&Value::Object(o)),
            r#"{ a = 1.5, "b-c" = [null, true], s = (secret) }"#
        );
        assert_eq!(value_to_alloy(&Value::from("a\"b\n")), r#""a\"b\n""#);
        assert_eq!(value_to_alloy(&Value::Object(Object::new())), "{}");
    }

    #[test]
    fn json_rendering_hides_secrets_and_capsules() {
        let mut o = Object::new();
        o.insert("pw".into(), Value::Secret(Secret::new("hunter2")));
        o.insert(
            "rx".into(),
            Value::Capsule(Capsule::new("loki.LogsReceiver", 1u8)),
        );
        o.insert("n".into(), Value::from(vec![1i64, -2]));
        o.insert("f".into(), Value::float(f64::NAN));
        let j = value_to_json(&Value::Object(o));
        assert_eq!(
            j.to_string(),
            r#"{"f":null,"n":[1,-2],"pw":"(secret)","rx":"loki.LogsReceiver"}"#
        );
    }

    #[test]
    fn conversions_from_rust() {
        let mut m = BTreeMap::new();
        m.insert("k".to_string(), "v".to_string());
        assert_eq!(
            Value::from(m),
            Value::Object([("k".to_string(), Value::from("v"))].into())
        );
        assert_eq!(Value::from(None::<i64>), Value::Null);
        assert_eq!(Value::from(3u32), Value::uint(3));
    }

    #[test]
    fn func_error_argument_marker_round_trips() {
        let e = FuncError::arg(2, "should be string, got bool");
        assert_eq!(e.arg_index(), Some((2, "should be string, got bool")));
        assert_eq!(e.message(), "should be string, got bool");
        assert_eq!(FuncError::new("boom").arg_index(), None);
    }
}
