//! `le` / `quantile` label values in their canonical OpenMetrics float spelling, as Prometheus's
//! parsers write them: `le="1"` and `le="1.0"` are the same bucket, and a series must not change
//! identity because an exporter switched from one spelling to the other (or from the text format
//! to OpenMetrics).
//!
//! Prometheus normalises a value only when it parses as a float and the label is `quantile` of a
//! summary or `le` of a histogram, where "of a summary/histogram" means: the most recent `# TYPE`
//! line (whatever family it named) said so. That quirk is kept: the scrape cache is keyed by the
//! raw line, exactly like Prometheus's, so identical input must give identical labels.

use crate::exposition::MetricType;

/// The value to store for label `name` with raw value `value`, given the last `# TYPE` seen.
/// `None` means "unchanged" (the common case, so callers keep their borrowed text).
pub fn normalize_label_value(
    metric_type: Option<MetricType>,
    name: &str,
    value: &str,
) -> Option<String> {
    let applies = matches!(
        (metric_type, name),
        (Some(MetricType::Summary), "quantile") | (Some(MetricType::Histogram), "le")
    );
    if !applies {
        return None;
    }
    let parsed = parse_go_float(value)?;
    let canonical = format_openmetrics_float(parsed);
    (canonical != value).then_some(canonical)
}

/// Go's `strconv.ParseFloat` for the spellings exporters use: decimal, exponent, `Inf`/`NaN`
/// in any case with an optional sign. (Go also takes hex floats and `_` separators after a base
/// prefix; no exporter writes those into `le`.)
fn parse_go_float(s: &str) -> Option<f64> {
    if s.is_empty() || s.contains('_') {
        return None;
    }
    s.parse::<f64>().ok()
}

/// Prometheus's `FormatOpenMetricsFloat`: Go's `strconv.FormatFloat(f, 'g', -1, 64)`, with `.0`
/// appended when the result has neither a `.` nor an `e`; infinities as `+Inf`/`-Inf`.
pub fn format_openmetrics_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    if f == 0.0 {
        return "0.0".to_string();
    }
    let mut out = format_go_g(f);
    if !out.contains(['.', 'e']) {
        out.push_str(".0");
    }
    out
}

/// Go's `%g` with the shortest round-trip digits: exponent form when the decimal exponent is
/// below -4 or at least 6 (Go's threshold for shortest formatting), plain digits otherwise.
fn format_go_g(f: f64) -> String {
    // Rust's `{:e}` gives the shortest round-trip digits as `d.ddde±x`.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = match sci.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (sci.as_str(), 0),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let mut out = String::with_capacity(digits.len() + 8);
    if f < 0.0 {
        out.push('-');
    }
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let abs = exp.unsigned_abs();
        if abs < 10 {
            out.push('0');
        }
        out.push_str(&abs.to_string());
    } else if exp >= 0 {
        let int_len = usize::try_from(exp).unwrap_or(0) + 1;
        if digits.len() <= int_len {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', int_len - digits.len()));
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    } else {
        out.push_str("0.");
        let zeros = usize::try_from(-exp - 1).unwrap_or(0);
        out.extend(std::iter::repeat_n('0', zeros));
        out.push_str(&digits);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openmetrics_float_spelling_matches_go() {
        // Expected strings are what Go's strconv.FormatFloat(f, 'g', -1, 64) (+ ".0") prints.
        let cases: &[(f64, &str)] = &[
            (1.0, "1.0"),
            (0.0, "0.0"),
            (-0.0, "0.0"),
            (-1.0, "-1.0"),
            (0.5, "0.5"),
            (0.005, "0.005"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (2.5, "2.5"),
            (10.0, "10.0"),
            (100000.0, "100000.0"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (1.5e-7, "1.5e-07"),
            (1e100, "1e+100"),
            (-250.0, "-250.0"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ];
        for (f, want) in cases {
            assert_eq!(format_openmetrics_float(*f), *want, "{f}");
        }
    }

    #[test]
    fn only_le_of_histograms_and_quantile_of_summaries_change() {
        let h = Some(MetricType::Histogram);
        let s = Some(MetricType::Summary);
        assert_eq!(normalize_label_value(h, "le", "1"), Some("1.0".into()));
        assert_eq!(normalize_label_value(h, "le", "+Inf"), None);
        assert_eq!(normalize_label_value(h, "le", "inf"), Some("+Inf".into()));
        assert_eq!(normalize_label_value(h, "le", "0.25"), None);
        assert_eq!(normalize_label_value(h, "le", "1e3"), Some("1000.0".into()));
        assert_eq!(normalize_label_value(h, "le", "abc"), None);
        assert_eq!(normalize_label_value(h, "quantile", "1"), None);
        assert_eq!(
            normalize_label_value(s, "quantile", "0"),
            Some("0.0".into())
        );
        assert_eq!(normalize_label_value(s, "le", "1"), None);
        assert_eq!(normalize_label_value(None, "le", "1"), None);
        assert_eq!(
            normalize_label_value(Some(MetricType::Gauge), "le", "1"),
            None
        );
    }
}
