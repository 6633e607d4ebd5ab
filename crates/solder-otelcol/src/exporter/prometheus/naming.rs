//! OTLP metric and attribute names → Prometheus names, as the Collector's
//! `pkg/translator/prometheus` (`BuildCompliantName`, `NormalizeLabel`) does for Alloy.
//!
//! With suffixes the name is split into alphanumeric tokens, the unit (UCUM, mapped to a
//! Prometheus word) and a `per_<unit>` part are appended unless already present, monotonic
//! sums get a single trailing `total`, and gauges with unit `1` a single trailing `ratio`.
//! Without suffixes, only characters outside `[letters digits _ :]` are replaced.

/// What the name depends on besides the metric's name and unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Gauge,
    MonotonicSum,
    /// Non-monotonic sums, histograms, summaries, exponential histograms.
    Other,
}

/// OTLP (UCUM) unit → Prometheus base-unit word.
fn main_unit_word(unit: &str) -> &str {
    match unit {
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tibibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "TBy" => "terabytes",
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        "Cel" => "celsius",
        "Hz" => "hertz",
        "1" => "",
        "%" => "percent",
        other => other,
    }
}

/// The denominator of a `x/y` unit, in the singular.
fn per_unit_word(unit: &str) -> &str {
    match unit {
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        other => other,
    }
}

fn is_alnum(c: char) -> bool {
    c.is_alphabetic() || c.is_numeric()
}

/// Splits on every run of non-alphanumeric characters (Go's `strings.FieldsFunc`).
fn alnum_tokens(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !is_alnum(c)).filter(|t| !t.is_empty())
}

/// `CleanUpString`: alphanumeric runs joined by `_`.
fn clean_up(s: &str) -> String {
    alnum_tokens(s).collect::<Vec<_>>().join("_")
}

/// A unit part is used only when non-blank and not an annotation such as `{requests}`.
fn usable_unit(part: &str) -> Option<&str> {
    let part = part.trim();
    (!part.is_empty() && !part.contains(['{', '}'])).then_some(part)
}

/// The main and per-unit words for an OTLP unit (either may be empty).
fn unit_words(unit: &str) -> (String, String) {
    let mut parts = unit.splitn(2, '/');
    let main = parts
        .next()
        .and_then(usable_unit)
        .map(|u| clean_up(main_unit_word(u)))
        .unwrap_or_default();
    let per = parts
        .next()
        .and_then(usable_unit)
        .map(|u| clean_up(per_unit_word(u)))
        .unwrap_or_default();
    (main, per)
}

/// `BuildCompliantName(metric, "", add_metric_suffixes)`.
pub fn metric_name(name: &str, unit: &str, kind: NameKind, add_suffixes: bool) -> String {
    let joined = if add_suffixes {
        normalized_name(name, unit, kind)
    } else {
        name.split(|c: char| !(is_alnum(c) || c == '_' || c == ':'))
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join("_")
    };
    prefix_leading_digit(joined)
}

fn prefix_leading_digit(name: String) -> String {
    if name.chars().next().is_some_and(|c| c.is_ascii_digit()) {
        format!("_{name}")
    } else {
        name
    }
}

fn normalized_name(name: &str, unit: &str, kind: NameKind) -> String {
    let mut tokens: Vec<String> = alnum_tokens(name).map(str::to_string).collect();
    if !unit.is_empty() {
        let (main, per) = unit_words(unit);
        if !main.is_empty() && !tokens.contains(&main) {
            tokens.push(main);
        }
        if !per.is_empty() && !tokens.contains(&per) {
            tokens.push("per".to_string());
            tokens.push(per);
        }
    }
    if kind == NameKind::MonotonicSum {
        tokens.retain(|t| t != "total");
        tokens.push("total".to_string());
    }
    if unit == "1" && kind == NameKind::Gauge {
        tokens.retain(|t| t != "ratio");
        tokens.push("ratio".to_string());
    }
    tokens.join("_")
}

/// `NormalizeLabel`: non-alphanumerics become `_`; a leading digit gets `key_`, a single
/// leading underscore `key` (double underscores are reserved and kept).
pub fn label_name(name: &str) -> String {
    if name.is_empty() {
        return String::new();
    }
    let sanitized: String = name
        .chars()
        .map(|c| if is_alnum(c) { c } else { '_' })
        .collect();
    if sanitized.as_bytes()[0].is_ascii_digit() {
        format!("key_{sanitized}")
    } else if sanitized.starts_with('_') && !sanitized.starts_with("__") {
        format!("key{sanitized}")
    } else {
        sanitized
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_with_suffixes() {
        use NameKind::*;
        // (name, unit, kind, expected) — derived from the OTLP→Prometheus compatibility spec
        // and Alloy's converter tests.
        let cases = [
            ("test_metric", "seconds", Gauge, "test_metric_seconds"),
            (
                "test_metric_total",
                "seconds",
                MonotonicSum,
                "test_metric_seconds_total",
            ),
            (
                "test_metric",
                "seconds",
                MonotonicSum,
                "test_metric_seconds_total",
            ),
            ("test_metric", "seconds", Other, "test_metric_seconds"),
            (
                "http.server.duration",
                "ms",
                Other,
                "http_server_duration_milliseconds",
            ),
            (
                "system.memory.usage",
                "By",
                Gauge,
                "system_memory_usage_bytes",
            ),
            ("cpu.utilization", "1", Gauge, "cpu_utilization_ratio"),
            ("cpu.utilization_ratio", "1", Gauge, "cpu_utilization_ratio"),
            ("requests", "1", MonotonicSum, "requests_total"),
            ("throughput", "By/s", Gauge, "throughput_bytes_per_second"),
            ("speed", "m/h", Gauge, "speed_meters_per_hour"),
            ("requests", "{requests}", MonotonicSum, "requests_total"),
            ("queue", "{items}/s", Gauge, "queue_per_second"),
            ("latency_seconds", "s", Other, "latency_seconds"),
            ("total.requests", "", MonotonicSum, "requests_total"),
            ("temp", "Cel", Gauge, "temp_celsius"),
            ("usage", "%", Gauge, "usage_percent"),
            ("odd", "foo bar", Gauge, "odd_foo_bar"),
            ("2xx.count", "", Gauge, "_2xx_count"),
            ("a__b::c", "", Gauge, "a_b_c"),
        ];
        for (name, unit, kind, want) in cases {
            assert_eq!(metric_name(name, unit, kind, true), want, "{name} {unit}");
        }
    }

    #[test]
    fn metric_names_without_suffixes() {
        let cases = [
            ("test_metric_total", "seconds", "test_metric_total"),
            ("http.server.duration", "ms", "http_server_duration"),
            ("a__b::c", "", "a__b::c"),
            ("2xx", "", "_2xx"),
            ("a..b", "", "a_b"),
        ];
        for (name, unit, want) in cases {
            assert_eq!(
                metric_name(name, unit, NameKind::MonotonicSum, false),
                want,
                "{name}"
            );
        }
    }

    #[test]
    fn label_names() {
        let cases = [
            ("foo.bar", "foo_bar"),
            ("service.instance.id", "service_instance_id"),
            ("0abc", "key_0abc"),
            ("_abc", "key_abc"),
            ("__abc", "__abc"),
            ("a-b/c", "a_b_c"),
            (".x", "key_x"),
            ("", ""),
        ];
        for (name, want) in cases {
            assert_eq!(label_name(name), want, "{name}");
        }
    }
}
