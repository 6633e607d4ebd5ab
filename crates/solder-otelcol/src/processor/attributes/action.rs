//! `action` blocks: validated and compiled as the contrib `attraction.NewAttrProc` does, and
//! applied in order to one attribute map (`AttrProc.Process`).

use super::value::{self, as_string, get, get_mut, put, remove};
use opentelemetry_proto::tonic::common::v1::{any_value::Value as V, AnyValue, KeyValue};
use prost::Message;
use regex::Regex;
use sha2::{Digest, Sha256};
use solder_syntax::Value;

/// One `action { … }` block as written.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ActionArgs {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub value: Option<Value>,
    #[serde(default)]
    pub pattern: String,
    #[serde(default)]
    pub from_attribute: String,
    #[serde(default)]
    pub from_context: String,
    #[serde(default)]
    pub converted_type: String,
    pub action: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Insert,
    Update,
    Upsert,
    Delete,
    Hash,
    Extract,
    Convert,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    String,
    Int,
    Double,
}

/// Where insert/update/upsert take their value from.
#[derive(Debug, Clone)]
pub(super) enum Source {
    /// The value, and its protobuf encoding (an `AnyValue` message body) for the encoded path.
    Literal(AnyValue, Vec<u8>),
    Attribute(String),
}

#[derive(Debug, Clone)]
pub struct Action {
    pub(super) key: String,
    pub(super) kind: Kind,
    pub(super) source: Option<Source>,
    pub(super) regex: Option<Regex>,
    /// Extract: the names of the capture groups, by group index.
    pub(super) group_names: Vec<String>,
    pub(super) target: Option<Target>,
}

/// Alloy's per-block check, then the contrib processor's, with their messages (the contrib
/// index is 0-based, Alloy's block number 1-based).
pub fn compile(actions: &[ActionArgs]) -> Result<Vec<Action>, String> {
    let mut errors = Vec::new();
    for (i, a) in actions.iter().enumerate() {
        let lower = a.action.to_lowercase();
        let missing = match lower.as_str() {
            "delete" | "hash" => a.key.is_empty() && a.pattern.is_empty(),
            _ => a.key.is_empty(),
        };
        if missing {
            let what = if matches!(lower.as_str(), "delete" | "hash") {
                "at least the key argument or the pattern argument"
            } else {
                "the key argument"
            };
            errors.push(format!(
                "validation failed for action block number {}: the action {} requires {what} to be set",
                i + 1,
                a.action
            ));
        }
    }
    if !errors.is_empty() {
        return Err(errors.join("\n"));
    }
    actions
        .iter()
        .enumerate()
        .map(|(i, a)| compile_one(i, a))
        .collect()
}

fn compile_one(i: usize, a: &ActionArgs) -> Result<Action, String> {
    let err = |msg: String| format!("error creating AttrProc. {msg}");
    let lower = a.action.to_lowercase();
    let kind = match lower.as_str() {
        "insert" => Kind::Insert,
        "update" => Kind::Update,
        "upsert" => Kind::Upsert,
        "delete" => Kind::Delete,
        "hash" => Kind::Hash,
        "extract" => Kind::Extract,
        "convert" => Kind::Convert,
        _ => {
            return Err(format!(
                "error creating AttrProc due to unsupported action {lower:?} at the {i}-th actions"
            ))
        }
    };
    if !a.from_context.is_empty() {
        // Client metadata and auth data do not travel with Solder payloads.
        return Err(format!(
            "from_context is not supported by Solder yet (action block number {})",
            i + 1
        ));
    }
    let literal = match &a.value {
        Some(v) => value::from_config(v)?,
        None => None,
    };
    let sources = usize::from(literal.is_some()) + usize::from(!a.from_attribute.is_empty());
    let mut action = Action {
        key: a.key.clone(),
        kind,
        source: None,
        regex: None,
        group_names: Vec::new(),
        target: None,
    };
    let no_converted_type = || {
        if a.converted_type.is_empty() {
            Ok(())
        } else {
            Err(err(format!("Action \"{lower}\" does not use the \"converted_type\" field. This must not be specified for {i}-th action")))
        }
    };
    let compile_pattern = || {
        Regex::new(&a.pattern).map_err(|_| {
            err(format!(
                "Field \"pattern\" has invalid pattern: \"{}\" to be set at the {i}-th actions",
                a.pattern
            ))
        })
    };
    match kind {
        Kind::Insert | Kind::Update | Kind::Upsert => {
            if sources == 0 {
                return Err(err(format!("Either field \"value\", \"from_attribute\" or \"from_context\" setting must be specified for {i}-th action")));
            }
            if sources > 1 {
                return Err(format!(
                    "error creating AttrProc due to multiple value sources being set at the {i}-th actions"
                ));
            }
            if !a.pattern.is_empty() {
                return Err(err(format!("Action \"{lower}\" does not use the \"pattern\" field. This must not be specified for {i}-th action")));
            }
            no_converted_type()?;
            action.source = Some(match literal {
                Some(v) => {
                    let encoded = v.encode_to_vec();
                    Source::Literal(v, encoded)
                }
                None => Source::Attribute(a.from_attribute.clone()),
            });
        }
        Kind::Delete | Kind::Hash => {
            if sources > 0 {
                return Err(err(format!("Action \"{lower}\" does not use \"value\" or \"from_attribute\" field. These must not be specified for {i}-th action")));
            }
            if !a.pattern.is_empty() {
                action.regex = Some(compile_pattern()?);
            }
            no_converted_type()?;
        }
        Kind::Extract => {
            if sources > 0 {
                return Err(err(format!("Action \"{lower}\" does not use a value source field. These must not be specified for {i}-th action")));
            }
            if a.pattern.is_empty() {
                return Err(format!("error creating AttrProc due to missing required field \"pattern\" for action \"{lower}\" at the {i}-th action"));
            }
            no_converted_type()?;
            let re = compile_pattern()?;
            let names: Vec<String> = re
                .capture_names()
                .map(|n| n.unwrap_or_default().to_string())
                .collect();
            if names.len() <= 1 {
                return Err(err(format!(
                    "Field \"pattern\" contains no named matcher groups at the {i}-th actions"
                )));
            }
            if names[1..].iter().any(String::is_empty) {
                return Err(err(format!("Field \"pattern\" contains at least one unnamed matcher group at the {i}-th actions")));
            }
            action.regex = Some(re);
            action.group_names = names;
        }
        Kind::Convert => {
            if sources > 0 || !a.pattern.is_empty() {
                return Err(err(format!("Action \"{lower}\" does not use value sources or \"pattern\" field. These must not be specified for {i}-th action")));
            }
            action.target = Some(match a.converted_type.as_str() {
                "string" => Target::String,
                "int" => Target::Int,
                "double" => Target::Double,
                "" => return Err(format!("error creating AttrProc due to missing required field \"converted_type\" for action \"{lower}\" at the {i}-th action")),
                other => return Err(format!("error creating AttrProc due to invalid value \"{other}\" in field \"converted_type\" for action \"{lower}\" at the {i}-th action")),
            });
        }
    }
    Ok(action)
}

/// Apply every action, in order, to one attribute map.
pub fn apply(actions: &[Action], attrs: &mut Vec<KeyValue>) {
    for a in actions {
        match a.kind {
            Kind::Delete => {
                remove(attrs, &a.key);
                if let Some(re) = &a.regex {
                    attrs.retain(|kv| !re.is_match(&kv.key));
                }
            }
            Kind::Insert => {
                if let Some(v) = source_value(a, attrs) {
                    if get(attrs, &a.key).is_none() {
                        put(attrs, &a.key, v);
                    }
                }
            }
            Kind::Update => {
                if let Some(v) = source_value(a, attrs) {
                    if let Some(slot) = get_mut(attrs, &a.key) {
                        *slot = v;
                    }
                }
            }
            Kind::Upsert => {
                if let Some(v) = source_value(a, attrs) {
                    put(attrs, &a.key, v);
                }
            }
            Kind::Hash => {
                // As in contrib: the key first, then every key the pattern matches (a key
                // matching both is hashed twice).
                if let Some(v) = get_mut(attrs, &a.key) {
                    *v = value::string(sha256_hex(v));
                }
                if let Some(re) = &a.regex {
                    for kv in attrs.iter_mut().filter(|kv| re.is_match(&kv.key)) {
                        let v = kv.value.get_or_insert_with(AnyValue::default);
                        *v = value::string(sha256_hex(v));
                    }
                }
            }
            Kind::Extract => extract(a, attrs),
            Kind::Convert => {
                if let (Some(target), Some(v)) = (a.target, get_mut(attrs, &a.key)) {
                    convert(target, v);
                }
            }
        }
    }
}

fn source_value(a: &Action, attrs: &[KeyValue]) -> Option<AnyValue> {
    match a.source.as_ref()? {
        Source::Literal(v, _) => Some(v.clone()),
        Source::Attribute(k) => get(attrs, k).cloned(),
    }
}

fn extract(a: &Action, attrs: &mut Vec<KeyValue>) {
    let Some(re) = &a.regex else { return };
    let subject = match get(attrs, &a.key).and_then(|v| v.value.as_ref()) {
        Some(V::StringValue(s)) => s.clone(),
        _ => return,
    };
    let Some(caps) = re.captures(&subject) else {
        return;
    };
    for (i, name) in a.group_names.iter().enumerate().skip(1) {
        // An unmatched optional group sets "" as Go's FindStringSubmatch does.
        let text = caps.get(i).map_or("", |m| m.as_str());
        put(attrs, name, value::string(text));
    }
}

/// SHA-256 hex of a value as the contrib hasher encodes it; "" for types it does not hash.
pub fn sha256_hex(v: &AnyValue) -> String {
    let hex = match &v.value {
        Some(V::StringValue(s)) => sha256_hex_of(s.as_bytes()),
        Some(V::BoolValue(b)) => sha256_hex_of(&[u8::from(*b)]),
        Some(V::IntValue(i)) => sha256_hex_of(&i.to_le_bytes()),
        Some(V::DoubleValue(f)) => sha256_hex_of(&f.to_bits().to_le_bytes()),
        _ => return String::new(),
    };
    hex.iter().map(|&b| char::from(b)).collect()
}

/// Lower-case hex of the SHA-256 of `data`, without allocating.
pub(super) fn sha256_hex_of(data: &[u8]) -> [u8; 64] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(data);
    let mut out = [0u8; 64];
    for (i, b) in digest.iter().enumerate() {
        out[2 * i] = HEX[usize::from(b >> 4)];
        out[2 * i + 1] = HEX[usize::from(b & 0xf)];
    }
    out
}

/// The contrib `convertValue`: values that cannot be converted are left as they are.
fn convert(target: Target, v: &mut AnyValue) {
    if let Some(new) = converted(target, v) {
        v.value = Some(new);
    }
}

/// The converted value, `None` where `convertValue` leaves the value as it is.
pub(super) fn converted(target: Target, v: &AnyValue) -> Option<V> {
    let new = match (target, &v.value) {
        (Target::String, Some(V::StringValue(_))) => return None,
        (Target::String, _) => V::StringValue(as_string(v)),
        (Target::Int, Some(V::DoubleValue(f))) => V::IntValue(go_float_to_int(*f)),
        (Target::Int, Some(V::BoolValue(b))) => V::IntValue(i64::from(*b)),
        (Target::Int, Some(V::StringValue(s))) => V::IntValue(s.parse::<i64>().ok()?),
        (Target::Double, Some(V::IntValue(i))) => V::DoubleValue(*i as f64),
        (Target::Double, Some(V::BoolValue(b))) => V::DoubleValue(f64::from(u8::from(*b))),
        (Target::Double, Some(V::StringValue(s))) => V::DoubleValue(parse_go_float(s)?),
        _ => return None,
    };
    Some(new)
}

/// `int64(f)` truncates toward zero; out-of-range values saturate here (Go's result is
/// platform-defined there).
fn go_float_to_int(f: f64) -> i64 {
    f as i64
}

/// `strconv.ParseFloat(s, 64)` for the forms people write (Rust also accepts "inf"/"nan",
/// as Go does, case-insensitively; underscores are Go-only and rare).
fn parse_go_float(s: &str) -> Option<f64> {
    s.parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(action: &str, key: &str) -> ActionArgs {
        ActionArgs {
            action: action.into(),
            key: key.into(),
            ..Default::default()
        }
    }

    #[test]
    fn sha256_matches_the_contrib_encoding() {
        // sha256("foo") and sha256 of int64 LE 1 / bool true as bytes.
        assert_eq!(
            sha256_hex(&value::string("foo")),
            "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
        );
        let one = AnyValue {
            value: Some(V::IntValue(1)),
        };
        assert_eq!(
            sha256_hex(&one),
            "7c9fa136d4413fa6173637e883b6998d32e1d675f88cddff9dcbcf331820f4b8"
        );
        let t = AnyValue {
            value: Some(V::BoolValue(true)),
        };
        assert_eq!(
            sha256_hex(&t),
            "4bf5122f344554c53bde2ebb8cd2b7e3d1600ad631c385a5d7cce23c7785459a"
        );
    }

    #[test]
    fn contrib_validation_messages() {
        let mut a = args("insert", "k");
        assert!(compile(&[a.clone()])
            .unwrap_err()
            .contains("Either field \"value\", \"from_attribute\" or \"from_context\""));
        a.from_attribute = "x".into();
        a.value = Some(Value::string("v"));
        assert!(compile(&[a])
            .unwrap_err()
            .contains("multiple value sources"));
        let mut e = args("extract", "k");
        e.pattern = "(a)(?P<b>b)".into();
        assert!(compile(&[e]).unwrap_err().contains("unnamed matcher group"));
        let mut c = args("convert", "k");
        c.converted_type = "bool".into();
        assert!(compile(&[c])
            .unwrap_err()
            .contains("invalid value \"bool\" in field \"converted_type\""));
        assert!(compile(&[args("frobnicate", "k")])
            .unwrap_err()
            .contains("unsupported action \"frobnicate\""));
        assert!(compile(&[args("delete", "")])
            .unwrap_err()
            .contains("requires at least the key argument or the pattern argument"));
    }
}
