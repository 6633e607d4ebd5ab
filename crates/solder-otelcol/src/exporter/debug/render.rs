//! The Collector debug exporter's summaries and its `normal` verbosity text (one line per span,
//! log record or data point, under `Resource…`/`Scope…` headers).

use crate::processor::attributes::value::as_string;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point, Metric};
use std::fmt::Write;

fn attrs(kvs: &[KeyValue]) -> Vec<String> {
    kvs.iter()
        .map(|kv| {
            let v = kv.value.as_ref().map_or_else(String::new, as_string);
            format!("{}={v}", kv.key)
        })
        .collect()
}

fn attrs_suffix(kvs: &[KeyValue]) -> String {
    let a = attrs(kvs);
    if a.is_empty() {
        String::new()
    } else {
        format!(" {}", a.join(" "))
    }
}

fn resource_details(schema_url: &str) -> String {
    if schema_url.is_empty() {
        String::new()
    } else {
        format!(" [{schema_url}]")
    }
}

fn scope_details(scope: Option<&InstrumentationScope>, schema_url: &str) -> String {
    let (name, version) = scope.map_or(("", ""), |s| (s.name.as_str(), s.version.as_str()));
    let mut d = name.to_string();
    if !version.is_empty() {
        d.push('@');
        d.push_str(version);
    }
    if !schema_url.is_empty() {
        if !d.is_empty() {
            d.push(' ');
        }
        d.push('[');
        d.push_str(schema_url);
        d.push(']');
    }
    if d.is_empty() {
        d
    } else {
        format!(" {d}")
    }
}

fn scope_attrs(scope: Option<&InstrumentationScope>) -> String {
    scope.map_or_else(String::new, |s| attrs_suffix(&s.attributes))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Go's `%v` for a float64: shortest decimal, exponent form below 1e-4 or from 1e21.
pub fn go_float(f: f64) -> String {
    if f == 0.0 || !f.is_finite() {
        return match f {
            x if x.is_nan() => "NaN".into(),
            x if x == f64::INFINITY => "+Inf".into(),
            x if x == f64::NEG_INFINITY => "-Inf".into(),
            _ => "0".into(),
        };
    }
    let exp = f.abs().log10().floor() as i32;
    if !(-4..21).contains(&exp) {
        let s = format!("{f:e}");
        if let Some((m, e)) = s.split_once('e') {
            let (sign, digits) = match e.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', e),
            };
            return format!("{m}e{sign}{digits:0>2}");
        }
        s
    } else {
        format!("{f}")
    }
}

pub fn traces_summary(req: &ExportTraceServiceRequest) -> (usize, usize) {
    let spans = req
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum();
    (req.resource_spans.len(), spans)
}

pub fn logs_summary(req: &ExportLogsServiceRequest) -> (usize, usize) {
    let n = req
        .resource_logs
        .iter()
        .flat_map(|r| &r.scope_logs)
        .map(|s| s.log_records.len())
        .sum();
    (req.resource_logs.len(), n)
}

fn point_count(m: &Metric) -> usize {
    match &m.data {
        Some(Data::Gauge(g)) => g.data_points.len(),
        Some(Data::Sum(s)) => s.data_points.len(),
        Some(Data::Histogram(h)) => h.data_points.len(),
        Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(Data::Summary(s)) => s.data_points.len(),
        None => 0,
    }
}

/// (resource metrics, metrics, data points)
pub fn metrics_summary(req: &ExportMetricsServiceRequest) -> (usize, usize, usize) {
    let metrics: Vec<&Metric> = req
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .collect();
    let points = metrics.iter().map(|m| point_count(m)).sum();
    (req.resource_metrics.len(), metrics.len(), points)
}

pub fn traces_normal(req: &ExportTraceServiceRequest) -> String {
    let mut out = String::new();
    for (i, rs) in req.resource_spans.iter().enumerate() {
        let res = rs.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
        let _ = writeln!(
            out,
            "ResourceTraces #{i}{}{}",
            resource_details(&rs.schema_url),
            attrs_suffix(res)
        );
        for (j, ss) in rs.scope_spans.iter().enumerate() {
            let scope = ss.scope.as_ref();
            let _ = writeln!(
                out,
                "ScopeTraces #{j}{}{}",
                scope_details(scope, &ss.schema_url),
                scope_attrs(scope)
            );
            for span in &ss.spans {
                let _ = write!(
                    out,
                    "{} {} {}",
                    span.name,
                    hex(&span.trace_id),
                    hex(&span.span_id)
                );
                let a = attrs(&span.attributes);
                if !a.is_empty() {
                    let _ = write!(out, " {}", a.join(" "));
                }
                out.push('\n');
            }
        }
    }
    out
}

pub fn logs_normal(req: &ExportLogsServiceRequest) -> String {
    let mut out = String::new();
    for (i, rl) in req.resource_logs.iter().enumerate() {
        let res = rl.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
        let _ = writeln!(
            out,
            "ResourceLog #{i}{}{}",
            resource_details(&rl.schema_url),
            attrs_suffix(res)
        );
        for (j, sl) in rl.scope_logs.iter().enumerate() {
            let scope = sl.scope.as_ref();
            let _ = writeln!(
                out,
                "ScopeLog #{j}{}{}",
                scope_details(scope, &sl.schema_url),
                scope_attrs(scope)
            );
            for r in &sl.log_records {
                let body = r.body.as_ref().map_or_else(String::new, as_string);
                let _ = writeln!(out, "{body} {}", attrs(&r.attributes).join(" "));
            }
        }
    }
    out
}

pub fn metrics_normal(req: &ExportMetricsServiceRequest) -> String {
    let mut out = String::new();
    for (i, rm) in req.resource_metrics.iter().enumerate() {
        let res = rm.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
        let _ = writeln!(
            out,
            "ResourceMetrics #{i}{}{}",
            resource_details(&rm.schema_url),
            attrs_suffix(res)
        );
        for (j, sm) in rm.scope_metrics.iter().enumerate() {
            let scope = sm.scope.as_ref();
            let _ = writeln!(
                out,
                "ScopeMetrics #{j}{}{}",
                scope_details(scope, &sm.schema_url),
                scope_attrs(scope)
            );
            for m in &sm.metrics {
                metric_lines(&mut out, m);
            }
        }
    }
    out
}

fn metric_lines(out: &mut String, m: &Metric) {
    let line = |out: &mut String, a: &[KeyValue], value: String| {
        let _ = writeln!(out, "{}{{{}}} {value}", m.name, attrs(a).join(","));
    };
    match &m.data {
        Some(Data::Gauge(g)) => g
            .data_points
            .iter()
            .for_each(|p| line(out, &p.attributes, number(p.value))),
        Some(Data::Sum(s)) => s
            .data_points
            .iter()
            .for_each(|p| line(out, &p.attributes, number(p.value))),
        Some(Data::Histogram(h)) => {
            for p in &h.data_points {
                let mut v = format!("count={}", p.count);
                if let Some(s) = p.sum {
                    let _ = write!(v, " sum={}", go_float(s));
                }
                if let Some(x) = p.min {
                    let _ = write!(v, " min={}", go_float(x));
                }
                if let Some(x) = p.max {
                    let _ = write!(v, " max={}", go_float(x));
                }
                for (k, c) in p.bucket_counts.iter().enumerate() {
                    match p.explicit_bounds.get(k) {
                        Some(b) => {
                            let _ = write!(v, " le{}={c}", go_float(*b));
                        }
                        None => {
                            let _ = write!(v, " {c}");
                        }
                    }
                }
                line(out, &p.attributes, v);
            }
        }
        Some(Data::ExponentialHistogram(h)) => {
            for p in &h.data_points {
                let mut v = format!("count={}", p.count);
                if let Some(s) = p.sum {
                    let _ = write!(v, " sum={}", go_float(s));
                }
                if let Some(x) = p.min {
                    let _ = write!(v, " min={}", go_float(x));
                }
                if let Some(x) = p.max {
                    let _ = write!(v, " max={}", go_float(x));
                }
                let factor = std::f64::consts::LN_2 * 2f64.powi(-p.scale);
                if let Some(neg) = &p.negative {
                    for (j, c) in neg.bucket_counts.iter().enumerate().rev() {
                        let index = f64::from(neg.offset) + j as f64;
                        let _ = write!(v, " le{}={c}", go_float(-(index * factor).exp()));
                    }
                }
                if p.zero_count != 0 {
                    let _ = write!(v, " zero={}", p.zero_count);
                }
                if let Some(pos) = &p.positive {
                    for (j, c) in pos.bucket_counts.iter().enumerate() {
                        let index = f64::from(pos.offset) + j as f64;
                        let _ = write!(v, " le{}={c}", go_float(((index + 1.0) * factor).exp()));
                    }
                }
                line(out, &p.attributes, v);
            }
        }
        Some(Data::Summary(s)) => {
            for p in &s.data_points {
                let mut v = format!("count={} sum={:.6}", p.count, p.sum);
                for q in &p.quantile_values {
                    let _ = write!(v, " q{}={}", go_float(q.quantile), go_float(q.value));
                }
                line(out, &p.attributes, v);
            }
        }
        None => {}
    }
}

fn number(v: Option<number_data_point::Value>) -> String {
    match v {
        Some(number_data_point::Value::AsInt(i)) => i.to_string(),
        Some(number_data_point::Value::AsDouble(d)) => go_float(d),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_go_percent_v() {
        for (f, want) in [
            (1.5, "1.5"),
            (100.0, "100"),
            (1e21, "1e+21"),
            (1e-7, "1e-07"),
            (0.0001, "0.0001"),
            (-2.5e-5, "-2.5e-05"),
        ] {
            assert_eq!(go_float(f), want);
        }
    }
}
