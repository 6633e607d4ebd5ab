//! OTLP log records → Loki entries, as the Collector's Loki translator (`LogToLokiEntry`)
//! does for Alloy's `otelcol.exporter.loki`:
//! - labels: `exporter="OTLP"`, `job` (`service.namespace/service.name`), `instance`
//!   (`service.instance.id`), `level` (upper-case severity number name, when the record has
//!   one), plus the resource/record attributes named by the `loki.resource.labels` and
//!   `loki.attribute.labels` hints (comma-separated or a list; a dotted name may reach into a
//!   map attribute); label names are sanitized (`.` → `_`);
//! - promoted attributes and the hint attributes (`loki.*`) are removed from the line;
//! - line: `loki.format` (resource first, then record) `json` (default), `logfmt` or `raw`;
//! - timestamp: the record's time, else its observed time, else now.
//!
//! `loki.tenant` is removed from the line but, as in Alloy, sets no tenant. Labels with an
//! empty value are left out (Loki treats them as absent anyway).

use super::logfmt::{self, LfValue};
use crate::exporter::prometheus::attr::{self, get};
use crate::exporter::prometheus::naming::label_name;
use opentelemetry_proto::tonic::common::v1::{
    any_value::Value, AnyValue, InstrumentationScope, KeyValue,
};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use solder_core::signals::logs::LogEntry;
use solder_core::signals::metrics::Labels;
use std::collections::BTreeMap;

const HINT_ATTRIBUTES: &str = "loki.attribute.labels";
const HINT_RESOURCES: &str = "loki.resource.labels";
const HINT_TENANT: &str = "loki.tenant";
const HINT_FORMAT: &str = "loki.format";
const LEVEL: &str = "level";

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConvertError {
    #[error("invalid format {0}. Expected one of: json, logfmt, raw")]
    InvalidFormat(String),
    #[error(transparent)]
    Json(#[from] attr::UnsupportedFloat),
    #[error(transparent)]
    Logfmt(#[from] logfmt::LogfmtError),
}

/// The label value of a severity number (`SeverityNumber.String()` upper-cased).
fn severity_level(n: i32) -> &'static str {
    const LEVELS: [&str; 25] = [
        "UNSPECIFIED",
        "TRACE",
        "TRACE2",
        "TRACE3",
        "TRACE4",
        "DEBUG",
        "DEBUG2",
        "DEBUG3",
        "DEBUG4",
        "INFO",
        "INFO2",
        "INFO3",
        "INFO4",
        "WARN",
        "WARN2",
        "WARN3",
        "WARN4",
        "ERROR",
        "ERROR2",
        "ERROR3",
        "ERROR4",
        "FATAL",
        "FATAL2",
        "FATAL3",
        "FATAL4",
    ];
    usize::try_from(n)
        .ok()
        .and_then(|i| LEVELS.get(i))
        .copied()
        .unwrap_or("")
}

fn str_value(s: impl Into<String>) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(Value::StringValue(s.into())),
    })
}

/// pcommon `Map.PutStr`: replace in place, or append.
fn put_str(attrs: &mut Vec<KeyValue>, key: &str, value: String) {
    match attrs.iter_mut().find(|kv| kv.key == key) {
        Some(kv) => kv.value = str_value(value),
        None => attrs.push(KeyValue {
            key: key.to_string(),
            value: str_value(value),
            ..Default::default()
        }),
    }
}

/// Adds `level` to the record's attributes and to its attribute-label hint.
fn add_level(attrs: &mut Vec<KeyValue>, severity_number: i32) {
    if severity_number == 0 {
        return;
    }
    match attrs.iter_mut().find(|kv| kv.key == HINT_ATTRIBUTES) {
        Some(kv) => match kv.value.as_mut().and_then(|v| v.value.as_mut()) {
            Some(Value::ArrayValue(a)) => a.values.extend(str_value(LEVEL)),
            Some(Value::StringValue(s)) => *s = format!("{s},{LEVEL}"),
            _ => {}
        },
        None => put_str(attrs, HINT_ATTRIBUTES, LEVEL.to_string()),
    }
    if get(attrs, LEVEL).is_none() {
        put_str(attrs, LEVEL, severity_level(severity_number).to_string());
    }
}

/// The attribute names a hint selects.
fn hint_names(hint: Option<&AnyValue>) -> Vec<String> {
    match hint.and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => s.split(',').map(str::to_string).collect(),
        Some(Value::ArrayValue(a)) => a.values.iter().map(|v| attr::as_string(Some(v))).collect(),
        _ => vec![attr::as_string(hint)],
    }
}

/// An attribute by exact name, else by descending into map attributes along the dots.
fn lookup<'a>(name: &str, attrs: &'a [KeyValue]) -> Option<&'a AnyValue> {
    if let Some(kv) = get(attrs, name) {
        return kv.value.as_ref().or(Some(&EMPTY));
    }
    let segments: Vec<&str> = name.split('.').collect();
    let n = segments.len();
    // The search tries every split recursively (exponential in the number of dots); names
    // come from data, so very deep ones are looked up only exactly.
    if n > MAX_NESTED_SEGMENTS {
        return None;
    }
    for i in 0..n.saturating_sub(1) {
        let left = segments[..n - i - 1].join(".");
        let right = segments[n - i - 1..].join(".");
        if let Some(v) = lookup(&left, attrs) {
            if let Some(Value::KvlistValue(map)) = &v.value {
                return lookup(&right, &map.values);
            }
        }
    }
    None
}

const MAX_NESTED_SEGMENTS: usize = 12;

static EMPTY: AnyValue = AnyValue { value: None };

fn select_labels(out: &mut BTreeMap<String, String>, from: &[KeyValue], hint: Option<&AnyValue>) {
    for name in hint_names(hint) {
        let name = name.trim();
        if let Some(v) = lookup(name, from) {
            out.insert(name.to_string(), attr::as_string(Some(v)));
        }
    }
}

fn job_and_instance(res: &[KeyValue], out: &mut BTreeMap<String, String>) {
    let value = |k: &str| get(res, k).map(|kv| attr::as_string(kv.value.as_ref()));
    if let Some(name) = value("service.name") {
        let job = match value("service.namespace") {
            Some(ns) => format!("{ns}/{name}"),
            None => name,
        };
        out.insert("job".into(), job);
    }
    if let Some(instance) = value("service.instance.id") {
        out.insert("instance".into(), instance);
    }
}

fn is_hint(key: &str) -> bool {
    matches!(
        key,
        HINT_ATTRIBUTES | HINT_RESOURCES | HINT_TENANT | HINT_FORMAT
    )
}

/// Converts one record; `now_ns` is used only when the record carries no time at all.
pub fn log_to_entry(
    record: &LogRecord,
    resource_attrs: &[KeyValue],
    scope: &InstrumentationScope,
    now_ns: i64,
) -> Result<LogEntry, ConvertError> {
    let mut attrs = record.attributes.clone();
    let mut res = resource_attrs.to_vec();
    add_level(&mut attrs, record.severity_number);

    let format = get(&res, HINT_FORMAT)
        .or_else(|| get(&attrs, HINT_FORMAT))
        .map(|kv| attr::as_string(kv.value.as_ref()))
        .unwrap_or_else(|| "json".to_string());

    let mut labels = BTreeMap::new();
    labels.insert("exporter".to_string(), "OTLP".to_string());
    job_and_instance(&res, &mut labels);
    if let Some(kv) = get(&res, HINT_RESOURCES) {
        select_labels(&mut labels, &res, kv.value.as_ref());
    }
    if let Some(kv) = get(&attrs, HINT_RESOURCES) {
        select_labels(&mut labels, &res, kv.value.as_ref());
    }
    if let Some(kv) = get(&attrs, HINT_ATTRIBUTES) {
        select_labels(&mut labels, &attrs, kv.value.as_ref());
    }
    attrs.retain(|kv| !is_hint(&kv.key) && !labels.contains_key(&kv.key));
    res.retain(|kv| !is_hint(&kv.key) && !labels.contains_key(&kv.key));

    let line = match format.as_str() {
        "json" => json_line(record, &attrs, &res, scope)?,
        "logfmt" => logfmt_line(record, &attrs, &res, scope)?,
        "raw" => attr::as_string(record.body.as_ref()),
        other => return Err(ConvertError::InvalidFormat(other.to_string())),
    };
    let timestamp_ns = [record.time_unix_nano, record.observed_time_unix_nano]
        .into_iter()
        .find(|t| *t != 0)
        .map(|t| i64::try_from(t).unwrap_or(i64::MAX))
        .unwrap_or(now_ns);
    // Normalized names may collide; the later name (in sorted order) wins, deterministically.
    let labels = labels
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (label_name(&k), v))
        .collect();
    Ok(LogEntry {
        labels: Labels::new(labels),
        timestamp_ns,
        line,
        structured_metadata: Vec::new(),
    })
}

fn hex_id(bytes: &[u8]) -> Option<String> {
    bytes.iter().any(|b| *b != 0).then(|| {
        bytes.iter().fold(String::new(), |mut s, b| {
            use std::fmt::Write;
            let _ = write!(s, "{b:02x}");
            s
        })
    })
}

/// The default JSON line; fields in the translator's order, empty ones omitted.
fn json_line(
    record: &LogRecord,
    attrs: &[KeyValue],
    res: &[KeyValue],
    scope: &InstrumentationScope,
) -> Result<String, ConvertError> {
    let mut out = String::from("{");
    let mut first = true;
    let mut field = |out: &mut String, name: &str| {
        if !first {
            out.push(',');
        }
        first = false;
        attr::write_json_string(out, name);
        out.push(':');
    };
    if record.body.as_ref().is_some_and(|b| b.value.is_some()) {
        field(&mut out, "body");
        attr::write_json_value(&mut out, record.body.as_ref())?;
    }
    if let Some(id) = hex_id(&record.trace_id) {
        field(&mut out, "traceid");
        attr::write_json_string(&mut out, &id);
    }
    if let Some(id) = hex_id(&record.span_id) {
        field(&mut out, "spanid");
        attr::write_json_string(&mut out, &id);
    }
    if !record.severity_text.is_empty() {
        field(&mut out, "severity");
        attr::write_json_string(&mut out, &record.severity_text);
    }
    if record.flags != 0 {
        field(&mut out, "flags");
        out.push_str(&record.flags.to_string());
    }
    if !attrs.is_empty() {
        field(&mut out, "attributes");
        attr::write_json_object(&mut out, attrs)?;
    }
    if !res.is_empty() {
        field(&mut out, "resources");
        attr::write_json_object(&mut out, res)?;
    }
    if !scope.name.is_empty() {
        field(&mut out, "instrumentation_scope");
        out.push_str("{\"name\":");
        attr::write_json_string(&mut out, &scope.name);
        if !scope.version.is_empty() {
            out.push_str(",\"version\":");
            attr::write_json_string(&mut out, &scope.version);
        }
        out.push('}');
    }
    out.push('}');
    Ok(out)
}

fn logfmt_line(
    record: &LogRecord,
    attrs: &[KeyValue],
    res: &[KeyValue],
    scope: &InstrumentationScope,
) -> Result<String, ConvertError> {
    let mut kvs = match record.body.as_ref().and_then(|b| b.value.as_ref()) {
        None => Vec::new(),
        Some(Value::StringValue(s)) => logfmt::parse(s).unwrap_or_else(|_| {
            vec![(logfmt::LfKey::Built("msg".into()), LfValue::Str(s.clone()))]
        }),
        Some(Value::KvlistValue(_)) => {
            let mut kvs = Vec::new();
            logfmt::push_value(&mut kvs, "", record.body.as_ref());
            kvs
        }
        Some(Value::ArrayValue(_)) => {
            let mut kvs = Vec::new();
            logfmt::push_value(&mut kvs, "body", record.body.as_ref());
            kvs
        }
        Some(_) => {
            let mut kvs = Vec::new();
            logfmt::push_value(&mut kvs, "msg", record.body.as_ref());
            kvs
        }
    };
    if let Some(id) = hex_id(&record.trace_id) {
        logfmt::replace_or_append(&mut kvs, "traceID", LfValue::Str(id));
    }
    if let Some(id) = hex_id(&record.span_id) {
        logfmt::replace_or_append(&mut kvs, "spanID", LfValue::Str(id));
    }
    if !record.severity_text.is_empty() {
        logfmt::replace_or_append(
            &mut kvs,
            "severity",
            LfValue::Str(record.severity_text.clone()),
        );
    }
    if record.flags != 0 {
        logfmt::replace_or_append(&mut kvs, "flags", LfValue::Uint(u64::from(record.flags)));
    }
    for kv in attrs {
        logfmt::push_value(
            &mut kvs,
            &format!("attribute_{}", kv.key),
            kv.value.as_ref(),
        );
    }
    for kv in res {
        logfmt::push_value(&mut kvs, &format!("resource_{}", kv.key), kv.value.as_ref());
    }
    if !scope.name.is_empty() {
        kvs.push((
            logfmt::LfKey::Built("instrumentation_scope_name".into()),
            LfValue::Str(scope.name.clone()),
        ));
        if !scope.version.is_empty() {
            kvs.push((
                logfmt::LfKey::Built("instrumentation_scope_version".into()),
                LfValue::Str(scope.version.clone()),
            ));
        }
    }
    Ok(logfmt::marshal(&kvs)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_levels() {
        assert_eq!(severity_level(9), "INFO");
        assert_eq!(severity_level(24), "FATAL4");
        assert_eq!(severity_level(99), "");
    }

    #[test]
    fn nested_lookup_descends_into_maps() {
        use opentelemetry_proto::tonic::common::v1::KeyValueList;
        let attrs = vec![KeyValue {
            key: "a".into(),
            value: Some(AnyValue {
                value: Some(Value::KvlistValue(KeyValueList {
                    values: vec![KeyValue {
                        key: "b".into(),
                        value: str_value("deep"),
                        ..Default::default()
                    }],
                })),
            }),
            ..Default::default()
        }];
        assert_eq!(attr::as_string(lookup("a.b", &attrs)), "deep");
        assert!(lookup("a.c", &attrs).is_none());
        // A name with many dots must not send the split search into exponential time.
        let deep = vec!["x"; 40].join(".");
        assert!(lookup(&deep, &attrs).is_none());
    }
}
