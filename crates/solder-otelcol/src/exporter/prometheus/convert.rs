//! OTLP metrics → Prometheus samples, exemplars and metadata, following Alloy's
//! `otelcol/exporter/prometheus/internal/convert`:
//! - every series carries `job` (`service.namespace/service.name`) and `instance`
//!   (`service.instance.id`), the scope's `otel_scope_name`/`otel_scope_version` (if
//!   `include_scope_labels`), and the data point's attributes with sanitized names; a label
//!   whose value is empty is left out, and a later label of the same name replaces an
//!   earlier one (attributes are applied last);
//! - `target_info` (value 1, stamped now) per resource, `otel_scope_info` per scope;
//! - gauges and non-monotonic cumulative sums → gauges; monotonic cumulative sums →
//!   counters; cumulative histograms → `_bucket{le}` (cumulative counts, `+Inf` = count),
//!   `_sum`, `_count`; summaries → `{quantile}`, `_sum`, `_count`;
//! - delta sums and histograms, and every exponential histogram, are dropped (the last because
//!   Solder's `MetricsBatch` carries no native histograms; Alloy converts them);
//! - `NO_RECORDED_VALUE` data points become Prometheus stale markers;
//! - a data point older than the last one written for its series is skipped, per series, and
//!   likewise exemplars; series not seen for [`SERIES_STALE_AFTER`] are forgotten by
//!   [`Converter::gc`].

use super::attr::{self, get};
use super::naming::{label_name, metric_name, NameKind};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    exemplar, metric::Data, number_data_point, AggregationTemporality, Exemplar as OtlpExemplar,
    Histogram, Metric, NumberDataPoint, Sum, Summary,
};
use solder_core::signals::metrics::{
    stale_nan, Exemplar, Labels, Metadata, MetricType, MetricsBatch, Sample,
};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// Alloy's GC forgets series not seen for this long (hard-coded there too).
pub const SERIES_STALE_AFTER: Duration = Duration::from_secs(5 * 60);

const FLAG_NO_RECORDED_VALUE: u32 = 1;

const SCOPE_NAME_LABEL: &str = "otel_scope_name";
const SCOPE_VERSION_LABEL: &str = "otel_scope_version";
const SERVICE_NAME: &str = "service.name";
const SERVICE_NAMESPACE: &str = "service.namespace";
const SERVICE_INSTANCE_ID: &str = "service.instance.id";

/// The conversion switches of the component's arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    pub include_target_info: bool,
    pub include_scope_info: bool,
    pub include_scope_labels: bool,
    pub add_metric_suffixes: bool,
    pub resource_to_telemetry_conversion: bool,
    pub honor_metadata: bool,
    pub keep_identifying_resource_attributes: bool,
}

impl Default for Options {
    /// Alloy's defaults.
    fn default() -> Self {
        Options {
            include_target_info: true,
            include_scope_info: false,
            include_scope_labels: true,
            add_metric_suffixes: true,
            resource_to_telemetry_conversion: false,
            honor_metadata: false,
            keep_identifying_resource_attributes: false,
        }
    }
}

/// What a conversion dropped, for self-metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Dropped {
    /// Data points of delta (or unspecified) temporality sums and histograms.
    pub non_cumulative: u64,
    /// Data points of exponential histograms.
    pub exponential_histogram: u64,
}

/// Per-series memory: out-of-order detection and garbage collection.
struct SeriesState {
    last_ts_ns: Option<u64>,
    last_exemplar_ts_ns: Option<u64>,
    last_seen: Instant,
}

/// Per-metric-family metadata, re-sent only when it changes (or after an update flushed it).
struct MetadataState {
    metadata: Metadata,
    written: bool,
    last_seen: Instant,
}

/// The stateful converter; one per component.
#[derive(Default)]
pub struct Converter {
    series: HashMap<Labels, SeriesState>,
    metadata: HashMap<String, MetadataState>,
}

/// A label set under construction: sorted, and setting an empty value removes the label
/// (Prometheus `labels.Builder` semantics).
#[derive(Default, Clone)]
struct LabelBuilder(BTreeMap<String, String>);

impl LabelBuilder {
    fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let (name, value) = (name.into(), value.into());
        if value.is_empty() {
            self.0.remove(&name);
        } else {
            self.0.insert(name, value);
        }
    }

    fn build(self) -> Labels {
        Labels::new(self.0.into_iter().collect())
    }
}

/// What identifies a resource in Prometheus terms.
struct ResourceIds {
    job: String,
    instance: String,
}

/// Conversion context for one data point's series.
struct SeriesContext<'a> {
    ids: &'a ResourceIds,
    scope_name: &'a str,
    scope_version: &'a str,
    attrs: Vec<&'a KeyValue>,
}

/// The batch being built plus the moment of conversion.
struct Out {
    batch: MetricsBatch,
    now: Instant,
    now_ms: i64,
    dropped: Dropped,
}

fn ns_to_ms(ns: u64) -> i64 {
    i64::try_from(ns / 1_000_000).unwrap_or(i64::MAX)
}

impl Converter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Forget every metadata entry so the next conversion re-sends metadata (Alloy does this
    /// on every update, so new `forward_to` receivers get it).
    pub fn flush_metadata(&mut self) {
        self.metadata.clear();
    }

    /// Forget series and metadata not seen within `stale_after` of `now`.
    pub fn gc(&mut self, now: Instant, stale_after: Duration) {
        self.series
            .retain(|_, s| now.saturating_duration_since(s.last_seen) <= stale_after);
        self.metadata
            .retain(|_, m| now.saturating_duration_since(m.last_seen) <= stale_after);
    }

    /// Number of series currently remembered.
    pub fn series_len(&self) -> usize {
        self.series.len()
    }

    /// Convert one request. `now_ms` stamps `target_info` and `otel_scope_info`.
    pub fn convert(
        &mut self,
        req: &ExportMetricsServiceRequest,
        opts: &Options,
        now: Instant,
        now_ms: i64,
    ) -> (MetricsBatch, Dropped) {
        let mut out = Out {
            batch: MetricsBatch::default(),
            now,
            now_ms,
            dropped: Dropped::default(),
        };
        let empty_scope = InstrumentationScope::default();
        for rm in &req.resource_metrics {
            let res_attrs: &[KeyValue] = rm
                .resource
                .as_ref()
                .map(|r| r.attributes.as_slice())
                .unwrap_or(&[]);
            let ids = resource_ids(res_attrs);
            self.update_metadata(
                &mut out,
                opts,
                "target_info",
                MetricType::Gauge,
                "Target metadata",
                "",
                opts.include_target_info,
            );
            if opts.include_target_info {
                let labels = target_info_labels(&ids, res_attrs, opts);
                self.write_info(&mut out, labels);
            }
            for sm in &rm.scope_metrics {
                let scope = sm.scope.as_ref().unwrap_or(&empty_scope);
                self.update_metadata(
                    &mut out,
                    opts,
                    "otel_scope_info",
                    MetricType::Gauge,
                    "",
                    "",
                    opts.include_scope_info,
                );
                if opts.include_scope_info {
                    let labels = scope_info_labels(&ids, scope);
                    self.write_info(&mut out, labels);
                }
                for metric in &sm.metrics {
                    self.convert_metric(&mut out, opts, &ids, scope, res_attrs, metric);
                }
            }
        }
        (out.batch, out.dropped)
    }

    /// `target_info` / `otel_scope_info`: value 1 at conversion time, no ordering check.
    fn write_info(&mut self, out: &mut Out, labels: Labels) {
        self.touch(&labels, out.now);
        out.batch.samples.push(Sample {
            labels,
            timestamp_ms: out.now_ms,
            value: 1.0,
        });
    }

    fn touch(&mut self, labels: &Labels, now: Instant) -> &mut SeriesState {
        let state = self.series.entry(labels.clone()).or_insert(SeriesState {
            last_ts_ns: None,
            last_exemplar_ts_ns: None,
            last_seen: now,
        });
        state.last_seen = now;
        state
    }

    /// Records (and, with `honor_metadata`, emits when changed) a family's metadata.
    #[allow(clippy::too_many_arguments)]
    fn update_metadata(
        &mut self,
        out: &mut Out,
        opts: &Options,
        family: &str,
        kind: MetricType,
        help: &str,
        unit: &str,
        emit: bool,
    ) {
        let md = Metadata {
            metric_family: family.to_string(),
            kind,
            help: help.to_string(),
            unit: unit.to_string(),
        };
        let entry = self
            .metadata
            .entry(family.to_string())
            .or_insert_with(|| MetadataState {
                metadata: md.clone(),
                written: false,
                last_seen: out.now,
            });
        entry.last_seen = out.now;
        if entry.metadata != md {
            entry.metadata = md;
            entry.written = false;
        }
        if emit && opts.honor_metadata && !entry.written {
            entry.written = true;
            out.batch.metadata.push(entry.metadata.clone());
        }
    }

    fn convert_metric(
        &mut self,
        out: &mut Out,
        opts: &Options,
        ids: &ResourceIds,
        scope: &InstrumentationScope,
        res_attrs: &[KeyValue],
        metric: &Metric,
    ) {
        let Some(data) = &metric.data else { return };
        match data {
            Data::Gauge(g) => {
                let name = metric_name(
                    &metric.name,
                    &metric.unit,
                    NameKind::Gauge,
                    opts.add_metric_suffixes,
                );
                for dp in &g.data_points {
                    let attrs = merged_attributes(
                        &dp.attributes,
                        res_attrs,
                        opts.resource_to_telemetry_conversion,
                    );
                    let ctx = series_ctx(ids, scope, attrs);
                    let labels = series_labels(&ctx, opts, &name, None);
                    self.write_sample(out, labels, dp.time_unix_nano, dp.flags, number_value(dp));
                }
                self.update_metadata(
                    out,
                    opts,
                    &name,
                    MetricType::Gauge,
                    &metric.description,
                    &metric.unit,
                    true,
                );
            }
            Data::Sum(sum) => self.convert_sum(out, opts, ids, scope, res_attrs, metric, sum),
            Data::Histogram(h) => {
                self.convert_histogram(out, opts, ids, scope, res_attrs, metric, h)
            }
            Data::Summary(s) => self.convert_summary(out, opts, ids, scope, res_attrs, metric, s),
            Data::ExponentialHistogram(h) => {
                out.dropped.exponential_histogram += h.data_points.len() as u64;
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn convert_sum(
        &mut self,
        out: &mut Out,
        opts: &Options,
        ids: &ResourceIds,
        scope: &InstrumentationScope,
        res_attrs: &[KeyValue],
        metric: &Metric,
        sum: &Sum,
    ) {
        // The spec: cumulative monotonic → counter, cumulative non-monotonic → gauge,
        // anything else dropped (Alloy does not convert delta to cumulative).
        if sum.aggregation_temporality != AggregationTemporality::Cumulative as i32 {
            out.dropped.non_cumulative += sum.data_points.len() as u64;
            return;
        }
        let (kind, name_kind) = if sum.is_monotonic {
            (MetricType::Counter, NameKind::MonotonicSum)
        } else {
            (MetricType::Gauge, NameKind::Other)
        };
        let name = metric_name(
            &metric.name,
            &metric.unit,
            name_kind,
            opts.add_metric_suffixes,
        );
        for dp in &sum.data_points {
            let attrs = merged_attributes(
                &dp.attributes,
                res_attrs,
                opts.resource_to_telemetry_conversion,
            );
            let ctx = series_ctx(ids, scope, attrs);
            let labels = series_labels(&ctx, opts, &name, None);
            self.write_sample(
                out,
                labels.clone(),
                dp.time_unix_nano,
                dp.flags,
                number_value(dp),
            );
            if kind == MetricType::Counter {
                for ex in &dp.exemplars {
                    self.write_exemplar(out, &labels, ex);
                }
            }
        }
        self.update_metadata(
            out,
            opts,
            &name,
            kind,
            &metric.description,
            &metric.unit,
            true,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn convert_histogram(
        &mut self,
        out: &mut Out,
        opts: &Options,
        ids: &ResourceIds,
        scope: &InstrumentationScope,
        res_attrs: &[KeyValue],
        metric: &Metric,
        h: &Histogram,
    ) {
        if h.aggregation_temporality != AggregationTemporality::Cumulative as i32 {
            out.dropped.non_cumulative += h.data_points.len() as u64;
            return;
        }
        let name = metric_name(
            &metric.name,
            &metric.unit,
            NameKind::Other,
            opts.add_metric_suffixes,
        );
        for dp in &h.data_points {
            let attrs = merged_attributes(
                &dp.attributes,
                res_attrs,
                opts.resource_to_telemetry_conversion,
            );
            let ctx = series_ctx(ids, scope, attrs);
            let ts = dp.time_unix_nano;
            if let Some(sum) = dp.sum {
                let labels = series_labels(&ctx, opts, &format!("{name}_sum"), None);
                self.write_sample(out, labels, ts, dp.flags, sum);
            }
            let labels = series_labels(&ctx, opts, &format!("{name}_count"), None);
            self.write_sample(out, labels, ts, dp.flags, dp.count as f64);

            let n = dp.explicit_bounds.len().min(dp.bucket_counts.len());
            let cumulative = cumulative_counts(&dp.explicit_bounds[..n], &dp.bucket_counts[..n]);
            // Exemplars go to the first bucket (in the order the bounds were given) whose
            // bound is above their value; Alloy compares the double value, which is 0 for
            // integer exemplars.
            let mut exemplars: Vec<&OtlpExemplar> = dp.exemplars.iter().collect();
            exemplars.sort_by(|a, b| exemplar_double(a).total_cmp(&exemplar_double(b)));
            let mut next = 0;
            let bucket_name = format!("{name}_bucket");
            for (bound, count) in dp.explicit_bounds[..n].iter().zip(&cumulative) {
                let le = attr::go_format_float(*bound);
                let labels = series_labels(&ctx, opts, &bucket_name, Some(("le", &le)));
                self.write_sample(out, labels.clone(), ts, dp.flags, *count as f64);
                while next < exemplars.len() && exemplar_double(exemplars[next]) < *bound {
                    self.write_exemplar(out, &labels, exemplars[next]);
                    next += 1;
                }
            }
            let labels = series_labels(&ctx, opts, &bucket_name, Some(("le", "+Inf")));
            self.write_sample(out, labels.clone(), ts, dp.flags, dp.count as f64);
            for ex in &exemplars[next..] {
                self.write_exemplar(out, &labels, ex);
            }
        }
        self.update_metadata(
            out,
            opts,
            &name,
            MetricType::Histogram,
            &metric.description,
            &metric.unit,
            true,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn convert_summary(
        &mut self,
        out: &mut Out,
        opts: &Options,
        ids: &ResourceIds,
        scope: &InstrumentationScope,
        res_attrs: &[KeyValue],
        metric: &Metric,
        s: &Summary,
    ) {
        let name = metric_name(
            &metric.name,
            &metric.unit,
            NameKind::Other,
            opts.add_metric_suffixes,
        );
        for dp in &s.data_points {
            let attrs = merged_attributes(
                &dp.attributes,
                res_attrs,
                opts.resource_to_telemetry_conversion,
            );
            let ctx = series_ctx(ids, scope, attrs);
            let ts = dp.time_unix_nano;
            let labels = series_labels(&ctx, opts, &format!("{name}_sum"), None);
            self.write_sample(out, labels, ts, dp.flags, dp.sum);
            let labels = series_labels(&ctx, opts, &format!("{name}_count"), None);
            self.write_sample(out, labels, ts, dp.flags, dp.count as f64);
            for q in &dp.quantile_values {
                let quantile = attr::go_format_float(q.quantile);
                let labels = series_labels(&ctx, opts, &name, Some(("quantile", &quantile)));
                self.write_sample(out, labels, ts, dp.flags, q.value);
            }
        }
        self.update_metadata(
            out,
            opts,
            &name,
            MetricType::Summary,
            &metric.description,
            &metric.unit,
            true,
        );
    }

    /// Appends one sample unless it is older than the last one of its series.
    fn write_sample(&mut self, out: &mut Out, labels: Labels, ts_ns: u64, flags: u32, value: f64) {
        let state = self.touch(&labels, out.now);
        if state.last_ts_ns.is_some_and(|last| ts_ns < last) {
            return;
        }
        state.last_ts_ns = Some(ts_ns);
        let value = if flags & FLAG_NO_RECORDED_VALUE != 0 {
            stale_nan()
        } else {
            value
        };
        out.batch.samples.push(Sample {
            labels,
            timestamp_ms: ns_to_ms(ts_ns),
            value,
        });
    }

    /// Appends one exemplar unless it is older than the last exemplar of its series.
    fn write_exemplar(&mut self, out: &mut Out, series: &Labels, ex: &OtlpExemplar) {
        let state = self.touch(series, out.now);
        if state
            .last_exemplar_ts_ns
            .is_some_and(|last| ex.time_unix_nano < last)
        {
            return;
        }
        state.last_exemplar_ts_ns = Some(ex.time_unix_nano);
        let mut labels = Vec::with_capacity(2);
        if let Some(id) = non_zero_id::<16>(&ex.trace_id) {
            labels.push(("trace_id".to_string(), id));
        }
        if let Some(id) = non_zero_id::<8>(&ex.span_id) {
            labels.push(("span_id".to_string(), id));
        }
        let value = match ex.value {
            Some(exemplar::Value::AsDouble(d)) => d,
            Some(exemplar::Value::AsInt(i)) => i as f64,
            None => 0.0,
        };
        out.batch.exemplars.push(Exemplar {
            series: series.clone(),
            labels: Labels::new(labels),
            timestamp_ms: ns_to_ms(ex.time_unix_nano),
            value,
        });
    }
}

/// A trace or span id as lowercase hex, or `None` when absent or all zero.
fn non_zero_id<const N: usize>(bytes: &[u8]) -> Option<String> {
    (bytes.len() == N && bytes.iter().any(|b| *b != 0)).then(|| {
        bytes.iter().fold(String::with_capacity(2 * N), |mut s, b| {
            use std::fmt::Write;
            let _ = write!(s, "{b:02x}");
            s
        })
    })
}

fn exemplar_double(ex: &OtlpExemplar) -> f64 {
    match ex.value {
        Some(exemplar::Value::AsDouble(d)) => d,
        _ => 0.0,
    }
}

fn number_value(dp: &NumberDataPoint) -> f64 {
    match dp.value {
        Some(number_data_point::Value::AsDouble(d)) => d,
        Some(number_data_point::Value::AsInt(i)) => i as f64,
        None => 0.0,
    }
}

/// Prometheus bucket counts are cumulative over the bounds in ascending order, whatever
/// order the bounds were given in; the result is in the given order. A repeated bound
/// shares one count, as in Alloy (which keys a map by bound).
fn cumulative_counts(bounds: &[f64], counts: &[u64]) -> Vec<u64> {
    let key = |b: f64| if b == 0.0 { 0u64 } else { b.to_bits() };
    let mut per_bound: HashMap<u64, u64> = HashMap::with_capacity(bounds.len());
    for (b, c) in bounds.iter().zip(counts) {
        per_bound.insert(key(*b), *c);
    }
    let mut sorted: Vec<f64> = bounds.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let mut running = 0u64;
    for b in sorted {
        if let Some(c) = per_bound.get_mut(&key(b)) {
            running = running.saturating_add(*c);
            *c = running;
        }
    }
    bounds
        .iter()
        .map(|b| per_bound.get(&key(*b)).copied().unwrap_or(0))
        .collect()
}

fn resource_ids(attrs: &[KeyValue]) -> ResourceIds {
    let value = |k: &str| get(attrs, k).map(|kv| attr::as_string(kv.value.as_ref()));
    let job = match (value(SERVICE_NAME), value(SERVICE_NAMESPACE)) {
        (Some(name), Some(ns)) => format!("{ns}/{name}"),
        (Some(name), None) => name,
        (None, _) => String::new(),
    };
    ResourceIds {
        job,
        instance: value(SERVICE_INSTANCE_ID).unwrap_or_default(),
    }
}

fn target_info_labels(ids: &ResourceIds, attrs: &[KeyValue], opts: &Options) -> Labels {
    let mut b = LabelBuilder::default();
    b.set("__name__", "target_info");
    b.set("job", ids.job.as_str());
    b.set("instance", ids.instance.as_str());
    for kv in attrs {
        let identifying = matches!(
            kv.key.as_str(),
            SERVICE_NAME | SERVICE_NAMESPACE | SERVICE_INSTANCE_ID
        );
        if identifying && !opts.keep_identifying_resource_attributes {
            continue;
        }
        b.set(label_name(&kv.key), attr::as_string(kv.value.as_ref()));
    }
    b.build()
}

fn scope_info_labels(ids: &ResourceIds, scope: &InstrumentationScope) -> Labels {
    let mut b = LabelBuilder::default();
    b.set("__name__", "otel_scope_info");
    b.set("job", ids.job.as_str());
    b.set("instance", ids.instance.as_str());
    b.set(SCOPE_NAME_LABEL, scope.name.as_str());
    b.set(SCOPE_VERSION_LABEL, scope.version.as_str());
    for kv in &scope.attributes {
        b.set(label_name(&kv.key), attr::as_string(kv.value.as_ref()));
    }
    b.build()
}

/// The data point's attributes, with the resource's merged in (replacing same-named ones in
/// place) when `resource_to_telemetry_conversion` is on.
fn merged_attributes<'a>(
    dp_attrs: &'a [KeyValue],
    res_attrs: &'a [KeyValue],
    merge: bool,
) -> Vec<&'a KeyValue> {
    let mut out: Vec<&KeyValue> = dp_attrs.iter().collect();
    if merge {
        for kv in res_attrs {
            match out.iter_mut().find(|e| e.key == kv.key) {
                Some(slot) => *slot = kv,
                None => out.push(kv),
            }
        }
    }
    out
}

fn series_ctx<'a>(
    ids: &'a ResourceIds,
    scope: &'a InstrumentationScope,
    attrs: Vec<&'a KeyValue>,
) -> SeriesContext<'a> {
    SeriesContext {
        ids,
        scope_name: &scope.name,
        scope_version: &scope.version,
        attrs,
    }
}

fn series_labels(
    ctx: &SeriesContext<'_>,
    opts: &Options,
    name: &str,
    extra: Option<(&str, &str)>,
) -> Labels {
    let mut b = LabelBuilder::default();
    b.set("__name__", name);
    b.set("job", ctx.ids.job.as_str());
    b.set("instance", ctx.ids.instance.as_str());
    if let Some((n, v)) = extra {
        b.set(n, v);
    }
    if opts.include_scope_labels {
        b.set(SCOPE_NAME_LABEL, ctx.scope_name);
        b.set(SCOPE_VERSION_LABEL, ctx.scope_version);
    }
    for kv in &ctx.attrs {
        b.set(label_name(&kv.key), attr::as_string(kv.value.as_ref()));
    }
    b.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cumulative_counts_follow_sorted_bounds() {
        assert_eq!(
            cumulative_counts(&[0.25, 0.5, 0.75, 1.0], &[0, 111, 0, 222]),
            vec![0, 111, 111, 333]
        );
        // Out-of-order bounds: accumulated in ascending order, reported in the given order.
        assert_eq!(
            cumulative_counts(&[0.5, 1.0, 0.25, 0.75], &[0, 111, 0, 222]),
            vec![0, 333, 0, 222]
        );
    }

    #[test]
    fn label_builder_drops_empty_values() {
        let mut b = LabelBuilder::default();
        b.set("job", "x");
        b.set("job", "");
        b.set("a", "1");
        assert_eq!(b.build(), Labels::new(vec![("a".into(), "1".into())]));
    }

    #[test]
    fn ids_render_as_hex_only_when_set() {
        assert_eq!(non_zero_id::<8>(&[0; 8]), None);
        assert_eq!(non_zero_id::<8>(&[]), None);
        assert_eq!(
            non_zero_id::<8>(&[0xaa; 8]).as_deref(),
            Some("aaaaaaaaaaaaaaaa")
        );
    }
}
