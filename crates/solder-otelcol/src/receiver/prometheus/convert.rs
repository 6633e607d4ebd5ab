//! One `MetricsBatch` → one OTLP `ExportMetricsServiceRequest`, following the Collector's
//! Prometheus receiver "transaction" that Alloy's `otelcol.receiver.prometheus` embeds:
//! - samples are grouped by resource (`job`, `instance` labels → `service.name`,
//!   `service.instance.id`, host and port attributes), then scope (`otel_scope_name`,
//!   `otel_scope_version`, `otel_scope_schema_url` labels; otherwise the receiver's own scope),
//!   then metric family;
//! - a family's type comes from metadata: the batch's own metadata, and what earlier batches
//!   sent (the [`MetadataStore`]); internal scrape series have built-in metadata. Without
//!   metadata a series is a gauge (Prometheus "unknown"), as in the Collector;
//! - counters → cumulative monotonic sums (start time from `<family>_created`), info and
//!   stateset → non-monotonic sums, histograms (`_bucket{le}`, `_sum`, `_count`) → explicit
//!   bucket histograms, summaries → summaries;
//! - `target_info` and `otel_scope_info` samples become resource and scope attributes;
//! - a stale marker becomes a data point flagged `NO_RECORDED_VALUE`;
//! - exemplars attach to their series' data point; `trace_id`/`span_id` labels become ids.
//!
//! Solder has no scrape target in the call, so a sample without both `job` and `instance`
//! labels is dropped (the Collector would fall back to the target's), and the scheme
//! attributes are empty.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    exemplar, metric, number_data_point, summary_data_point::ValueAtQuantile,
    AggregationTemporality, Exemplar as OtlpExemplar, Gauge, Histogram, HistogramDataPoint, Metric,
    NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use solder_core::signals::metrics::{
    is_stale_nan, Exemplar, Labels, Metadata, MetricType, MetricsBatch,
};
use std::collections::HashMap;

/// The scope name of series without scope labels (the Collector receiver's name).
pub const RECEIVER_SCOPE_NAME: &str = "otelcol/prometheusreceiver";

const FLAG_NO_RECORDED_VALUE: u32 = 1;
const TRIMMABLE_SUFFIXES: [&str; 6] = ["_bucket", "_count", "_sum", "_total", "_info", "_created"];

/// Family name → metadata, remembered across batches.
#[derive(Debug, Default, Clone)]
pub struct MetadataStore(HashMap<String, Metadata>);

impl MetadataStore {
    pub fn update(&mut self, metadata: &[Metadata]) {
        for m in metadata {
            self.0.insert(m.metric_family.clone(), m.clone());
        }
    }

    fn get(&self, name: &str) -> Option<&Metadata> {
        self.0.get(name)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Metadata the Collector knows for the series a scrape adds itself.
fn internal_metadata(name: &str) -> Option<Metadata> {
    let (help, unit) = match name {
        "up" => ("The scraping was successful", ""),
        "scrape_duration_seconds" => ("Duration of the scrape", "seconds"),
        "scrape_samples_scraped" => ("The number of samples the target exposed", ""),
        "scrape_series_added" => ("The approximate number of new series in this scrape", ""),
        "scrape_samples_post_metric_relabeling" => (
            "The number of samples remaining after metric relabeling was applied",
            "",
        ),
        _ => return None,
    };
    Some(Metadata {
        metric_family: name.to_string(),
        kind: MetricType::Gauge,
        help: help.to_string(),
        unit: unit.to_string(),
    })
}

/// Strips one type suffix (`_bucket`, `_count`, `_sum`, `_total`, `_info`, `_created`).
fn normalize_metric_name(name: &str) -> &str {
    for s in TRIMMABLE_SUFFIXES {
        if name != s {
            if let Some(stripped) = name.strip_suffix(s) {
                return stripped;
            }
        }
    }
    name
}

/// The family's metadata and name for a sample's metric name (`metadataForMetric`).
fn metadata_for(name: &str, store: &MetadataStore) -> (Metadata, String) {
    if let Some(md) = internal_metadata(name) {
        return (md, name.to_string());
    }
    if let Some(md) = store.get(name) {
        return (md.clone(), name.to_string());
    }
    let normalized = normalize_metric_name(name);
    if let Some(md) = store.get(normalized) {
        // Counters keep the sample's name (`x_total`); other families the trimmed one.
        let family = if md.kind == MetricType::Counter {
            name
        } else {
            normalized
        };
        return (md.clone(), family.to_string());
    }
    (
        Metadata {
            metric_family: name.to_string(),
            kind: MetricType::Unknown,
            help: String::new(),
            unit: String::new(),
        },
        name.to_string(),
    )
}

/// The OTLP shape of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Gauge,
    Sum { monotonic: bool },
    Histogram,
    Summary,
}

fn shape_of(kind: MetricType) -> Shape {
    match kind {
        MetricType::Counter => Shape::Sum { monotonic: true },
        MetricType::Histogram => Shape::Histogram,
        MetricType::Summary => Shape::Summary,
        MetricType::Info | MetricType::StateSet => Shape::Sum { monotonic: false },
        // Unknown is a gauge so untyped series are kept; gauge histograms have no OTLP form.
        MetricType::Gauge | MetricType::Unknown | MetricType::GaugeHistogram => Shape::Gauge,
    }
}

fn type_name(kind: MetricType) -> &'static str {
    match kind {
        MetricType::Unknown => "unknown",
        MetricType::Counter => "counter",
        MetricType::Gauge => "gauge",
        MetricType::Histogram => "histogram",
        MetricType::GaugeHistogram => "gaugehistogram",
        MetricType::Summary => "summary",
        MetricType::Info => "info",
        MetricType::StateSet => "stateset",
    }
}

/// Prometheus unit words back to UCUM (`UnitWordToUCUM`); unknown words pass through.
fn unit_word_to_ucum(unit: &str) -> String {
    fn word(w: &str) -> &str {
        match w {
            "days" => "d",
            "hours" => "h",
            "minutes" => "min",
            "seconds" => "s",
            "milliseconds" => "ms",
            "microseconds" => "us",
            "nanoseconds" => "ns",
            "bytes" => "By",
            "kibibytes" => "KiBy",
            "mebibytes" => "MiBy",
            "gibibytes" => "GiBy",
            "tibibytes" => "TiBy",
            "kilobytes" => "KBy",
            "megabytes" => "MBy",
            "gigabytes" => "GBy",
            "terabytes" => "TBy",
            "meters" => "m",
            "volts" => "V",
            "amperes" => "A",
            "joules" => "J",
            "watts" => "W",
            "grams" => "g",
            "celsius" => "Cel",
            "hertz" => "Hz",
            "percent" => "%",
            other => other,
        }
    }
    fn per_word(w: &str) -> &str {
        match w {
            "second" => "s",
            "minute" => "m",
            "hour" => "h",
            "day" => "d",
            "week" => "w",
            "month" => "mo",
            "year" => "y",
            other => other,
        }
    }
    if unit.is_empty() {
        return String::new();
    }
    match unit.split_once("_per_") {
        Some((main, per)) => format!("{}/{}", word(main), per_word(per)),
        None => word(unit).to_string(),
    }
}

/// Labels that never become data point attributes (and do not separate data points).
fn is_identity_label(name: &str, shape: Shape) -> bool {
    matches!(
        name,
        "__name__"
            | "instance"
            | "job"
            | "__scheme__"
            | "__metrics_path__"
            | "otel_scope_name"
            | "otel_scope_version"
            | "otel_scope_schema_url"
    ) || (shape == Shape::Histogram && name == "le")
        || (shape == Shape::Summary && name == "quantile")
}

type GroupKey = Vec<(String, String)>;

fn group_key(labels: &Labels, shape: Shape) -> GroupKey {
    labels
        .iter()
        .filter(|(n, _)| !is_identity_label(n, shape))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// One data point being assembled from several series (`metricGroup`).
#[derive(Default)]
struct Group {
    ts_ms: i64,
    labels: Labels,
    value: f64,
    count: Option<f64>,
    sum: Option<f64>,
    created_seconds: f64,
    /// (boundary, value): bucket upper bounds or quantiles.
    points: Vec<(f64, f64)>,
    exemplars: Vec<OtlpExemplar>,
}

struct Family {
    name: String,
    metadata: Metadata,
    shape: Shape,
    groups: HashMap<GroupKey, usize>,
    order: Vec<Group>,
}

impl Family {
    fn includes(&self, metric_name: &str) -> bool {
        if self.shape == Shape::Gauge {
            metric_name == self.name
        } else {
            normalize_metric_name(metric_name) == self.name
        }
    }

    fn group(&mut self, key: GroupKey, labels: &Labels, ts_ms: i64) -> &mut Group {
        let idx = *self.groups.entry(key).or_insert_with(|| {
            self.order.push(Group {
                ts_ms,
                labels: labels.clone(),
                ..Group::default()
            });
            self.order.len() - 1
        });
        &mut self.order[idx]
    }

    /// `addSeries`; an error means the sample is skipped (the scrape goes on).
    fn add(
        &mut self,
        metric_name: &str,
        labels: &Labels,
        ts_ms: i64,
        v: f64,
    ) -> Result<(), String> {
        let shape = self.shape;
        let created = format!("{}_created", self.metadata.metric_family);
        let group = self.group(group_key(labels, shape), labels, ts_ms);
        if group.ts_ms != ts_ms {
            return Err(format!(
                "inconsistent timestamps on metric points for metric {metric_name}"
            ));
        }
        match shape {
            Shape::Histogram | Shape::Summary => {
                if metric_name.ends_with("_sum") {
                    group.sum = Some(v);
                } else if metric_name.ends_with("_count") {
                    group.count = Some(v);
                } else if metric_name == created {
                    group.created_seconds = v;
                } else {
                    let label = if shape == Shape::Histogram {
                        "le"
                    } else {
                        "quantile"
                    };
                    let raw = labels.get(label).unwrap_or("");
                    if raw.is_empty() {
                        return Err(format!(
                            "'{label}' label on {metric_name} is missing or empty"
                        ));
                    }
                    let boundary = parse_go_float(raw).ok_or_else(|| {
                        format!("invalid '{label}' value {raw:?} on {metric_name}")
                    })?;
                    group.points.push((boundary, v));
                }
            }
            Shape::Sum { .. } if metric_name == created => group.created_seconds = v,
            _ => group.value = v,
        }
        Ok(())
    }
}

/// `strconv.ParseFloat` for label values (`+Inf`, `-Inf`, `NaN`, decimals, exponents).
fn parse_go_float(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

#[derive(Default)]
struct ScopeData {
    families: HashMap<String, usize>,
    order: Vec<Family>,
}

#[derive(Default)]
struct ResourceData {
    attributes: Vec<KeyValue>,
    scopes: HashMap<(String, String, String), usize>,
    scope_order: Vec<((String, String, String), ScopeData)>,
    scope_attributes: HashMap<(String, String, String), Vec<KeyValue>>,
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_string())),
        }),
        ..Default::default()
    }
}

fn put_str(attrs: &mut Vec<KeyValue>, key: &str, value: &str) {
    match attrs.iter_mut().find(|a| a.key == key) {
        Some(a) => *a = kv(key, value),
        None => attrs.push(kv(key, value)),
    }
}

/// Localhost-like and unspecified hosts say nothing about where the data came from.
fn is_discernible_host(host: &str) -> bool {
    match host.trim_matches(['[', ']']).parse::<std::net::IpAddr>() {
        Ok(ip) => !ip.is_loopback() && !ip.is_unspecified(),
        Err(_) => host != "localhost",
    }
}

/// `CreateResource(job, instance, <no discovered labels>)`.
fn create_resource(job: &str, instance: &str) -> Vec<KeyValue> {
    let (host, port) = match instance.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') && (!h.contains(':') || h.starts_with('[')) => {
            (h.trim_start_matches('[').trim_end_matches(']'), p)
        }
        _ => (instance, ""),
    };
    let mut attrs = vec![kv("service.name", job)];
    if is_discernible_host(host) {
        attrs.push(kv("net.host.name", host));
        attrs.push(kv("server.address", host));
    }
    attrs.push(kv("service.instance.id", instance));
    attrs.push(kv("net.host.port", port));
    attrs.push(kv("http.scheme", ""));
    attrs.push(kv("server.port", port));
    attrs.push(kv("url.scheme", ""));
    attrs
}

fn scope_id(labels: &Labels) -> (String, String, String) {
    let get = |n| labels.get(n).unwrap_or("").to_string();
    (
        get("otel_scope_name"),
        get("otel_scope_version"),
        get("otel_scope_schema_url"),
    )
}

/// What a conversion skipped, for self-metrics and logs.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Samples without `job` or `instance`.
    pub no_job_instance: u64,
    /// Samples the transaction refused (inconsistent timestamps, bad `le`/`quantile`).
    pub invalid: u64,
}

/// Converts a batch. `store` is updated with the batch's metadata first.
pub fn batch_to_otlp(
    batch: &MetricsBatch,
    store: &mut MetadataStore,
    receiver_version: &str,
) -> (ExportMetricsServiceRequest, Skipped) {
    store.update(&batch.metadata);
    let mut skipped = Skipped::default();
    let mut resources: HashMap<(String, String), usize> = HashMap::new();
    let mut res_order: Vec<ResourceData> = Vec::new();

    let mut resource_for = |labels: &Labels, res_order: &mut Vec<ResourceData>| {
        let (job, instance) = (labels.get("job")?, labels.get("instance")?);
        if job.is_empty() || instance.is_empty() {
            return None;
        }
        let key = (job.to_string(), instance.to_string());
        Some(*resources.entry(key).or_insert_with(|| {
            res_order.push(ResourceData {
                attributes: create_resource(job, instance),
                ..ResourceData::default()
            });
            res_order.len() - 1
        }))
    };

    for sample in &batch.samples {
        let Some(r) = resource_for(&sample.labels, &mut res_order) else {
            skipped.no_job_instance += 1;
            continue;
        };
        let Some(name) = sample.labels.get("__name__") else {
            skipped.invalid += 1;
            continue;
        };
        let res = &mut res_order[r];
        if name == "target_info" {
            for (n, v) in sample.labels.iter() {
                if !matches!(n, "job" | "instance" | "__name__") {
                    put_str(&mut res.attributes, n, v);
                }
            }
            continue;
        }
        if name == "otel_scope_info" {
            let mut attrs = Vec::new();
            for (n, v) in sample.labels.iter() {
                if !matches!(
                    n,
                    "job"
                        | "instance"
                        | "__name__"
                        | "otel_scope_name"
                        | "otel_scope_version"
                        | "otel_scope_schema_url"
                ) {
                    put_str(&mut attrs, n, v);
                }
            }
            res.scope_attributes.insert(scope_id(&sample.labels), attrs);
            continue;
        }
        let family = family_for(res, scope_id(&sample.labels), name, store);
        if family
            .add(name, &sample.labels, sample.timestamp_ms, sample.value)
            .is_err()
        {
            skipped.invalid += 1;
        }
    }

    for ex in &batch.exemplars {
        let Some(r) = resource_for(&ex.series, &mut res_order) else {
            continue;
        };
        let Some(name) = ex.series.get("__name__") else {
            continue;
        };
        let family = family_for(&mut res_order[r], scope_id(&ex.series), name, store);
        let key = group_key(&ex.series, family.shape);
        if let Some(idx) = family.groups.get(&key) {
            family.order[*idx].exemplars.push(convert_exemplar(ex));
        }
    }

    let mut req = ExportMetricsServiceRequest::default();
    for res in res_order {
        let mut rm = ResourceMetrics {
            resource: Some(Resource {
                attributes: res.attributes,
                ..Default::default()
            }),
            ..Default::default()
        };
        for (id, scope_data) in res.scope_order {
            let mut scope = InstrumentationScope::default();
            let mut schema_url = String::new();
            if id == Default::default() {
                scope.name = RECEIVER_SCOPE_NAME.to_string();
                scope.version = receiver_version.to_string();
            } else {
                scope.name = id.0.clone();
                scope.version = id.1.clone();
                schema_url = id.2.clone();
                if let Some(attrs) = res.scope_attributes.get(&id) {
                    scope.attributes = attrs.clone();
                }
            }
            let metrics: Vec<Metric> = scope_data
                .order
                .into_iter()
                .filter_map(family_to_metric)
                .collect();
            if !metrics.is_empty() {
                rm.scope_metrics.push(ScopeMetrics {
                    scope: Some(scope),
                    metrics,
                    schema_url,
                });
            }
        }
        if !rm.scope_metrics.is_empty() {
            req.resource_metrics.push(rm);
        }
    }
    (req, skipped)
}

/// `getOrCreateMetricFamily`.
fn family_for<'a>(
    res: &'a mut ResourceData,
    scope: (String, String, String),
    name: &str,
    store: &MetadataStore,
) -> &'a mut Family {
    let si = match res.scopes.get(&scope) {
        Some(i) => *i,
        None => {
            res.scope_order.push((scope.clone(), ScopeData::default()));
            res.scopes.insert(scope, res.scope_order.len() - 1);
            res.scope_order.len() - 1
        }
    };
    let data = &mut res.scope_order[si].1;
    let existing = data.families.get(name).copied().or_else(|| {
        let family_name = if store.get(name).is_some() {
            name
        } else {
            normalize_metric_name(name)
        };
        data.families
            .get(family_name)
            .copied()
            .filter(|i| data.order[*i].includes(name))
    });
    let idx = match existing {
        Some(i) => i,
        None => {
            let (metadata, family_name) = metadata_for(name, store);
            data.order.push(Family {
                shape: shape_of(metadata.kind),
                name: family_name.clone(),
                metadata,
                groups: HashMap::new(),
                order: Vec::new(),
            });
            let i = data.order.len() - 1;
            data.families.insert(family_name, i);
            i
        }
    };
    &mut data.order[idx]
}

/// Hex into the low bytes of an id, as the Collector does; `None` if not hex.
fn decode_id<const N: usize>(s: &str) -> Option<[u8; N]> {
    // Checked before slicing: a byte index inside a multi-byte character would panic.
    if !s.is_ascii() {
        return None;
    }
    let s = &s[..s.len().min(2 * N)];
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok())
        .collect();
    let bytes = bytes?;
    let mut out = [0u8; N];
    out[N - bytes.len()..].copy_from_slice(&bytes);
    Some(out)
}

fn convert_exemplar(ex: &Exemplar) -> OtlpExemplar {
    let mut out = OtlpExemplar {
        time_unix_nano: u64::try_from(ex.timestamp_ms)
            .unwrap_or(0)
            .saturating_mul(1_000_000),
        value: Some(exemplar::Value::AsDouble(ex.value)),
        ..Default::default()
    };
    for (n, v) in ex.labels.iter() {
        match n.to_ascii_lowercase().as_str() {
            "trace_id" => match decode_id::<16>(v) {
                Some(id) => out.trace_id = id.to_vec(),
                None => out.filtered_attributes.push(kv(n, v)),
            },
            "span_id" => match decode_id::<8>(v) {
                Some(id) => out.span_id = id.to_vec(),
                None => out.filtered_attributes.push(kv(n, v)),
            },
            _ => out.filtered_attributes.push(kv(n, v)),
        }
    }
    out
}

fn ts_ns(ms: i64) -> u64 {
    u64::try_from(ms).unwrap_or(0).saturating_mul(1_000_000)
}

fn seconds_to_ns(s: f64) -> u64 {
    if s.is_finite() && s > 0.0 {
        (s * 1e9) as u64
    } else {
        0
    }
}

fn attributes(labels: &Labels, shape: Shape) -> Vec<KeyValue> {
    // Data point attributes use the gauge list for numbers (a histogram's `le` is kept only
    // where it is not a bucket label), as the Collector's populateAttributes does.
    let filter_shape = match shape {
        Shape::Histogram | Shape::Summary => shape,
        _ => Shape::Gauge,
    };
    labels
        .iter()
        .filter(|(n, v)| !v.is_empty() && !is_identity_label(n, filter_shape))
        .map(|(n, v)| kv(n, v))
        .collect()
}

fn family_to_metric(family: Family) -> Option<Metric> {
    let Family {
        name,
        metadata,
        shape,
        order,
        ..
    } = family;
    let data = match shape {
        Shape::Gauge => metric::Data::Gauge(Gauge {
            data_points: order.into_iter().map(|g| number_point(g, false)).collect(),
        }),
        Shape::Sum { monotonic } => metric::Data::Sum(Sum {
            data_points: order.into_iter().map(|g| number_point(g, true)).collect(),
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
            is_monotonic: monotonic,
        }),
        Shape::Histogram => metric::Data::Histogram(Histogram {
            data_points: order.into_iter().filter_map(histogram_point).collect(),
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
        }),
        Shape::Summary => metric::Data::Summary(Summary {
            data_points: order.into_iter().filter_map(summary_point).collect(),
        }),
    };
    let points = match &data {
        metric::Data::Gauge(g) => g.data_points.len(),
        metric::Data::Sum(s) => s.data_points.len(),
        metric::Data::Histogram(h) => h.data_points.len(),
        metric::Data::Summary(s) => s.data_points.len(),
        metric::Data::ExponentialHistogram(h) => h.data_points.len(),
    };
    (points > 0).then(|| Metric {
        name,
        description: metadata.help.clone(),
        unit: unit_word_to_ucum(&metadata.unit),
        metadata: vec![kv("prometheus.type", type_name(metadata.kind))],
        data: Some(data),
    })
}

fn number_point(g: Group, is_sum: bool) -> NumberDataPoint {
    let stale = is_stale_nan(g.value);
    NumberDataPoint {
        attributes: attributes(&g.labels, Shape::Gauge),
        start_time_unix_nano: if is_sum {
            seconds_to_ns(g.created_seconds)
        } else {
            0
        },
        time_unix_nano: ts_ns(g.ts_ms),
        exemplars: g.exemplars,
        flags: if stale { FLAG_NO_RECORDED_VALUE } else { 0 },
        value: (!stale).then_some(number_data_point::Value::AsDouble(g.value)),
    }
}

fn histogram_point(mut g: Group) -> Option<HistogramDataPoint> {
    let count = g.count?;
    g.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    let stale = g.sum.is_some_and(is_stale_nan) || is_stale_nan(count);
    let mut n = g.points.len() + 1;
    if n > 1 && g.points[n - 2].0 == f64::INFINITY {
        n -= 1;
    }
    let bounds: Vec<f64> = g.points[..n - 1].iter().map(|p| p.0).collect();
    let mut buckets = Vec::with_capacity(n);
    for i in 0..n - 1 {
        let v = if stale {
            0.0
        } else if i == 0 {
            g.points[0].1
        } else {
            g.points[i].1 - g.points[i - 1].1
        };
        buckets.push(v as u64);
    }
    let last = if stale {
        0.0
    } else if n > 1 {
        count - g.points[n - 2].1
    } else {
        count
    };
    buckets.push(last as u64);
    Some(HistogramDataPoint {
        attributes: attributes(&g.labels, Shape::Histogram),
        start_time_unix_nano: seconds_to_ns(g.created_seconds),
        time_unix_nano: ts_ns(g.ts_ms),
        count: if stale { 0 } else { count as u64 },
        sum: if stale { None } else { g.sum },
        bucket_counts: buckets,
        explicit_bounds: bounds,
        exemplars: g.exemplars,
        flags: if stale { FLAG_NO_RECORDED_VALUE } else { 0 },
        min: None,
        max: None,
    })
}

fn summary_point(mut g: Group) -> Option<SummaryDataPoint> {
    let count = g.count?;
    g.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    let stale = g.sum.is_some_and(is_stale_nan) || is_stale_nan(count);
    Some(SummaryDataPoint {
        attributes: attributes(&g.labels, Shape::Summary),
        start_time_unix_nano: seconds_to_ns(g.created_seconds),
        time_unix_nano: ts_ns(g.ts_ms),
        count: if stale { 0 } else { count as u64 },
        sum: if stale { 0.0 } else { g.sum.unwrap_or(0.0) },
        quantile_values: g
            .points
            .iter()
            .map(|(q, v)| ValueAtQuantile {
                quantile: *q,
                value: if stale { 0.0 } else { *v },
            })
            .collect(),
        flags: if stale { FLAG_NO_RECORDED_VALUE } else { 0 },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffix_normalization() {
        assert_eq!(normalize_metric_name("a_bucket"), "a");
        assert_eq!(normalize_metric_name("a_total"), "a");
        assert_eq!(normalize_metric_name("_sum"), "_sum");
        assert_eq!(normalize_metric_name("plain"), "plain");
    }

    #[test]
    fn units_back_to_ucum() {
        assert_eq!(unit_word_to_ucum("seconds"), "s");
        assert_eq!(unit_word_to_ucum("bytes_per_second"), "By/s");
        assert_eq!(unit_word_to_ucum("widgets"), "widgets");
        assert_eq!(unit_word_to_ucum(""), "");
    }

    #[test]
    fn resource_from_job_and_instance() {
        let attrs = create_resource("api", "10.0.0.1:9090");
        let get = |k: &str| {
            attrs
                .iter()
                .find(|a| a.key == k)
                .and_then(|a| a.value.as_ref())
                .and_then(|v| match &v.value {
                    Some(any_value::Value::StringValue(s)) => Some(s.clone()),
                    _ => None,
                })
        };
        assert_eq!(get("service.name").as_deref(), Some("api"));
        assert_eq!(get("service.instance.id").as_deref(), Some("10.0.0.1:9090"));
        assert_eq!(get("server.address").as_deref(), Some("10.0.0.1"));
        assert_eq!(get("server.port").as_deref(), Some("9090"));
        let local = create_resource("api", "localhost:9090");
        assert!(!local.iter().any(|a| a.key == "server.address"));
    }

    #[test]
    fn ids_decode_into_low_bytes() {
        assert_eq!(decode_id::<4>("abcd"), Some([0, 0, 0xab, 0xcd]));
        assert_eq!(decode_id::<2>("abcdef"), Some([0xab, 0xcd]));
        assert_eq!(decode_id::<2>("zz"), None);
        assert_eq!(decode_id::<2>("aéé"), None);
    }
}
