//! Building the label set of one scraped series: exposed labels (with `le`/`quantile`
//! normalised), merged with the target's labels the way Prometheus's `mutateSampleLabels` does,
//! then checked against name rules and the label limits.

use super::normalize::normalize_label_value;
use crate::exposition::{MetricType, Sample as ParsedSample};
use solder_core::signals::metrics::Labels;

pub const METRIC_NAME_LABEL: &str = "__name__";
const EXPORTED_PREFIX: &str = "exported_";

/// `label_limit`, `label_name_length_limit`, `label_value_length_limit`; 0 = no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LabelLimits {
    pub label_limit: usize,
    pub name_length: usize,
    pub value_length: usize,
}

/// Why a series label set fails the scrape (messages as Prometheus's).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeriesError {
    #[error("invalid metric name or label names: {0}")]
    InvalidNames(String),
    #[error("label_limit exceeded (metric: {metric}, number of labels: {count}, limit: {limit})")]
    LabelLimit {
        metric: String,
        count: usize,
        limit: usize,
    },
    #[error("label_name_length_limit exceeded (metric: {metric}, label name: {name}, length: {length}, limit: {limit})")]
    NameLength {
        metric: String,
        name: String,
        length: usize,
        limit: usize,
    },
    #[error("label_value_length_limit exceeded (metric: {metric}, label name: {name}, value: {value:?}, length: {length}, limit: {limit})")]
    ValueLength {
        metric: String,
        name: String,
        value: String,
        length: usize,
        limit: usize,
    },
}

impl SeriesError {
    /// Label-limit failures are counted by `prometheus_target_scrape_pool_exceeded_label_limits_total`.
    pub fn is_label_limit(&self) -> bool {
        !matches!(self, SeriesError::InvalidNames(_))
    }
}

/// The labels a scraped sample line carries: `__name__` plus its pairs, in exposition order.
pub fn exposed_labels(
    sample: &ParsedSample<'_>,
    last_type: Option<MetricType>,
) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(8);
    out.push((METRIC_NAME_LABEL.to_string(), sample.name.to_string()));
    for (name, value) in sample.labels.iter() {
        let value = match normalize_label_value(last_type, &name, &value) {
            Some(v) => v,
            None => value.into_owned(),
        };
        out.push((name.into_owned(), value));
    }
    out
}

fn get<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn set(pairs: &mut Vec<(String, String)>, name: &str, value: &str) {
    match pairs.iter_mut().rev().find(|(n, _)| n == name) {
        Some(slot) => value.clone_into(&mut slot.1),
        None => pairs.push((name.to_string(), value.to_string())),
    }
}

/// Prometheus's `mutateSampleLabels` without relabel rules (Alloy has none in this component).
///
/// * `honor_labels = true`: exposed labels win; target labels fill only names the line lacks.
/// * `honor_labels = false`: target labels win; a clashing non-empty exposed value moves to
///   `exported_<name>` (`exported_exported_<name>` if that is taken too, and so on), clashes
///   handled shortest name first, as Prometheus does.
///
/// Empty values are then dropped (an empty label is no label).
pub fn merge_target_labels(
    mut exposed: Vec<(String, String)>,
    target: &Labels,
    honor_labels: bool,
) -> Labels {
    if honor_labels {
        for (name, value) in target.iter() {
            if !exposed.iter().any(|(n, _)| n == name) {
                exposed.push((name.to_string(), value.to_string()));
            }
        }
    } else {
        let mut conflicts: Vec<(String, String)> = Vec::new();
        for (name, value) in target.iter() {
            if let Some(existing) = get(&exposed, name) {
                if !existing.is_empty() {
                    conflicts.push((name.to_string(), existing.to_string()));
                }
            }
            set(&mut exposed, name, value);
        }
        // Stable sort: equal lengths keep target (name) order.
        conflicts.sort_by_key(|(name, _)| name.len());
        for (name, value) in conflicts {
            let mut renamed = name;
            loop {
                renamed.insert_str(0, EXPORTED_PREFIX);
                if get(&exposed, &renamed).is_none_or(str::is_empty) {
                    set(&mut exposed, &renamed, &value);
                    break;
                }
            }
        }
    }
    exposed.retain(|(_, v)| !v.is_empty());
    Labels::new(exposed)
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
pub fn is_legacy_metric_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    match bytes.next() {
        Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b':' => {}
        _ => return false,
    }
    bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`
pub fn is_legacy_label_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    match bytes.next() {
        Some(b) if b.is_ascii_alphabetic() || b == b'_' => {}
        _ => return false,
    }
    bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Prometheus's `Labels.String()`: `{__name__="up", job="x"}`; names that are not legacy-valid
/// are quoted.
pub fn labels_string(labels: &Labels) -> String {
    let mut out = String::from("{");
    for (i, (name, value)) in labels.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        if is_legacy_label_name(name) {
            out.push_str(name);
        } else {
            out.push_str(&format!("{name:?}"));
        }
        out.push('=');
        out.push_str(&format!("{value:?}"));
    }
    out.push('}');
    out
}

/// Name rules (`metric_name_validation_scheme`) and label limits, in Prometheus's order.
pub fn validate_series(
    labels: &Labels,
    utf8_names: bool,
    limits: &LabelLimits,
) -> Result<(), SeriesError> {
    let metric = labels.get(METRIC_NAME_LABEL).unwrap_or("");
    let names_ok = if utf8_names {
        // Any valid UTF-8 (a Rust string already is), but not empty.
        !metric.is_empty() && labels.iter().all(|(n, _)| !n.is_empty())
    } else {
        is_legacy_metric_name(metric) && labels.iter().all(|(n, _)| is_legacy_label_name(n))
    };
    if !names_ok {
        return Err(SeriesError::InvalidNames(labels_string(labels)));
    }
    let short = |s: &str| s.chars().take(50).collect::<String>();
    if limits.label_limit > 0 && labels.len() > limits.label_limit {
        return Err(SeriesError::LabelLimit {
            metric: short(metric),
            count: labels.len(),
            limit: limits.label_limit,
        });
    }
    for (name, value) in labels.iter() {
        if limits.name_length > 0 && name.len() > limits.name_length {
            return Err(SeriesError::NameLength {
                metric: short(metric),
                name: short(name),
                length: name.len(),
                limit: limits.name_length,
            });
        }
        if limits.value_length > 0 && value.len() > limits.value_length {
            return Err(SeriesError::ValueLength {
                metric: short(metric),
                name: short(name),
                value: short(value),
                length: value.len(),
                limit: limits.value_length,
            });
        }
    }
    Ok(())
}

/// The label set of a synthetic report series (`up`, …): Prometheus's
/// `mutateReportSampleLabels` on `{__name__=<name>}`, which comes down to the name plus the
/// target labels.
pub fn report_labels(name: &str, target: &Labels) -> Labels {
    let mut pairs: Vec<(String, String)> = vec![(METRIC_NAME_LABEL.to_string(), name.to_string())];
    pairs.extend(
        target
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(n, v)| (n.to_string(), v.to_string())),
    );
    Labels::new(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::new(
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        )
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn target_labels_win_and_clashes_become_exported() {
        let target = labels(&[("instance", "h:1"), ("job", "j")]);
        let exposed = pairs(&[
            ("__name__", "m"),
            ("job", "exposed"),
            ("exported_job", "taken"),
            ("instance", ""),
        ]);
        let got = merge_target_labels(exposed, &target, false);
        assert_eq!(
            got,
            labels(&[
                ("__name__", "m"),
                ("exported_exported_job", "exposed"),
                ("exported_job", "taken"),
                ("instance", "h:1"),
                ("job", "j"),
            ])
        );
    }

    #[test]
    fn honor_labels_keeps_exposed_values() {
        let target = labels(&[("instance", "h:1"), ("job", "j")]);
        let exposed = pairs(&[("__name__", "m"), ("job", "exposed")]);
        let got = merge_target_labels(exposed, &target, true);
        assert_eq!(
            got,
            labels(&[("__name__", "m"), ("instance", "h:1"), ("job", "exposed")])
        );
    }

    #[test]
    fn clashes_are_resolved_shortest_name_first() {
        // "exported_a" (exposed) clashes with target "exported_a"; and "a" clashes with "a".
        // Shortest first: a -> exported_a is taken by the target, so exported_exported_a.
        let target = labels(&[("a", "t1"), ("exported_a", "t2")]);
        let exposed = pairs(&[("__name__", "m"), ("a", "e1"), ("exported_a", "e2")]);
        let got = merge_target_labels(exposed, &target, false);
        assert_eq!(got.get("a"), Some("t1"));
        assert_eq!(got.get("exported_a"), Some("t2"));
        assert_eq!(got.get("exported_exported_a"), Some("e1"));
        assert_eq!(got.get("exported_exported_exported_a"), Some("e2"));
    }

    #[test]
    fn validation_and_limits() {
        let none = LabelLimits::default();
        assert!(validate_series(&labels(&[("__name__", "a:b_c")]), false, &none).is_ok());
        let bad = validate_series(&labels(&[("__name__", "a.b")]), false, &none);
        assert_eq!(
            bad.unwrap_err().to_string(),
            "invalid metric name or label names: {__name__=\"a.b\"}"
        );
        assert!(validate_series(&labels(&[("__name__", "a.b")]), true, &none).is_ok());
        let l = labels(&[("__name__", "m"), ("a", "xyz"), ("bb", "v")]);
        let limit = |label_limit, name_length, value_length| LabelLimits {
            label_limit,
            name_length,
            value_length,
        };
        assert!(validate_series(&l, false, &limit(3, 8, 3)).is_ok());
        assert_eq!(
            validate_series(&l, false, &limit(2, 0, 0))
                .unwrap_err()
                .to_string(),
            "label_limit exceeded (metric: m, number of labels: 3, limit: 2)"
        );
        assert_eq!(
            validate_series(&l, false, &limit(0, 1, 0))
                .unwrap_err()
                .to_string(),
            "label_name_length_limit exceeded (metric: m, label name: __name__, length: 8, limit: 1)"
        );
        assert_eq!(
            validate_series(&l, false, &limit(0, 0, 2))
                .unwrap_err()
                .to_string(),
            "label_value_length_limit exceeded (metric: m, label name: a, value: \"xyz\", length: 3, limit: 2)"
        );
    }
}
