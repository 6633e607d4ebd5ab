//! `otelcol.exporter.prometheus` conversion, one table row per rule of the OTLP→Prometheus
//! compatibility spec as Alloy implements it (cases derived from its documented behaviour and
//! converter tests), plus the component path: encoded OTLP in, `MetricsBatch` out.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    exemplar, metric::Data, number_data_point, summary_data_point::ValueAtQuantile,
    AggregationTemporality, Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge,
    Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    Summary, SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use solder_core::consume::ConsumeError;
use solder_core::signals::metrics::{
    is_stale_nan, Labels, MetricType, MetricsBatch, MetricsReceiver,
};
use solder_core::signals::otlp::{OtlpPayload, Signal};
use solder_core::{ComponentOptions, ExportSink, HealthReporter, HostInfo, TypedComponent};
use solder_otelcol::exporter::prometheus::convert::{Converter, Options};
use solder_otelcol::exporter::prometheus::{Args, PrometheusExporter};
use solder_syntax::types::{CapsuleOf, GoDuration};
use std::sync::{Arc, Mutex};
use std::time::Instant;

const NOW_MS: i64 = 1_700_000_000_000;

fn s(v: &str) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::StringValue(v.into())),
    })
}

fn attr(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: s(v),
        ..Default::default()
    }
}

fn request(
    resource: Vec<KeyValue>,
    scope: InstrumentationScope,
    metrics: Vec<Metric>,
) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: resource,
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(scope),
                metrics,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn metric(name: &str, unit: &str, data: Data) -> Metric {
    Metric {
        name: name.into(),
        description: String::new(),
        unit: unit.into(),
        metadata: vec![],
        data: Some(data),
    }
}

fn number(ts_s: u64, v: f64, attrs: Vec<KeyValue>) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attrs,
        start_time_unix_nano: ts_s * 1_000_000_000,
        time_unix_nano: ts_s * 1_000_000_000,
        exemplars: vec![],
        flags: 0,
        value: Some(number_data_point::Value::AsDouble(v)),
    }
}

fn ex(ts_ns: u64, v: f64, id_byte: u8) -> Exemplar {
    Exemplar {
        filtered_attributes: vec![],
        time_unix_nano: ts_ns,
        span_id: vec![id_byte; 8],
        trace_id: vec![id_byte; 16],
        value: Some(exemplar::Value::AsDouble(v)),
    }
}

fn gauge(name: &str, unit: &str, points: Vec<NumberDataPoint>) -> Metric {
    metric(
        name,
        unit,
        Data::Gauge(Gauge {
            data_points: points,
        }),
    )
}

fn sum(
    name: &str,
    unit: &str,
    monotonic: bool,
    temporality: AggregationTemporality,
    points: Vec<NumberDataPoint>,
) -> Metric {
    metric(
        name,
        unit,
        Data::Sum(Sum {
            data_points: points,
            aggregation_temporality: temporality as i32,
            is_monotonic: monotonic,
        }),
    )
}

fn histogram(name: &str, bounds: Vec<f64>, counts: Vec<u64>, exemplars: Vec<Exemplar>) -> Metric {
    metric(
        name,
        "",
        Data::Histogram(Histogram {
            data_points: vec![HistogramDataPoint {
                attributes: vec![],
                start_time_unix_nano: 1_000_000_000,
                time_unix_nano: 1_000_000_000,
                count: 333,
                sum: Some(100.0),
                bucket_counts: counts,
                explicit_bounds: bounds,
                exemplars,
                flags: 0,
                min: None,
                max: None,
            }],
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
        }),
    )
}

/// Rows of (series text, value) in batch order; series as `name{a="b",...}` without `__name__`.
fn rows(batch: &MetricsBatch) -> Vec<(String, f64)> {
    batch
        .samples
        .iter()
        .map(|s| (series_text(&s.labels), s.value))
        .collect()
}

fn series_text(l: &Labels) -> String {
    let name = l.get("__name__").unwrap_or("").to_string();
    let rest: Vec<String> = l
        .iter()
        .filter(|(n, _)| *n != "__name__")
        .map(|(n, v)| format!("{n}={v:?}"))
        .collect();
    if rest.is_empty() {
        name
    } else {
        format!("{name}{{{}}}", rest.join(","))
    }
}

fn bare() -> Options {
    // Alloy's converter-test baseline: everything off, then each case turns on what it needs.
    Options {
        include_target_info: false,
        include_scope_info: false,
        include_scope_labels: false,
        add_metric_suffixes: false,
        resource_to_telemetry_conversion: false,
        honor_metadata: false,
        keep_identifying_resource_attributes: false,
    }
}

fn convert(req: &ExportMetricsServiceRequest, opts: Options) -> MetricsBatch {
    Converter::new()
        .convert(req, &opts, Instant::now(), NOW_MS)
        .0
}

fn no_scope() -> InstrumentationScope {
    InstrumentationScope::default()
}

#[test]
fn conversion_table() {
    let svc = vec![
        attr("service.name", "myservice"),
        attr("service.instance.id", "instance"),
        attr("custom_attr", "test"),
    ];
    let scoped = InstrumentationScope {
        name: "a-name".into(),
        version: "a-version".into(),
        attributes: vec![attr("something.extra", "zzz-extra-value")],
        dropped_attributes_count: 0,
    };
    type Case = (
        &'static str,
        ExportMetricsServiceRequest,
        Options,
        Vec<(&'static str, f64)>,
    );
    let cases: Vec<Case> = vec![
        (
            "gauge keeps its name without suffixes",
            request(vec![], no_scope(), vec![gauge("test_metric", "seconds", vec![number(1, 1234.56, vec![])])]),
            bare(),
            vec![("test_metric", 1234.56)],
        ),
        (
            "gauge gets the unit suffix",
            request(vec![], no_scope(), vec![gauge("test_metric", "seconds", vec![number(1, 1234.56, vec![])])]),
            Options { add_metric_suffixes: true, ..bare() },
            vec![("test_metric_seconds", 1234.56)],
        ),
        (
            "gauge with unit 1 gets _ratio",
            request(vec![], no_scope(), vec![gauge("cpu.utilization", "1", vec![number(1, 0.5, vec![])])]),
            Options { add_metric_suffixes: true, ..bare() },
            vec![("cpu_utilization_ratio", 0.5)],
        ),
        (
            "monotonic cumulative sum is a counter with _total",
            request(vec![], no_scope(), vec![sum("test_metric", "seconds", true, AggregationTemporality::Cumulative, vec![number(1, 15.0, vec![])])]),
            Options { add_metric_suffixes: true, ..bare() },
            vec![("test_metric_seconds_total", 15.0)],
        ),
        (
            "non-monotonic cumulative sum is a gauge without _total",
            request(vec![], no_scope(), vec![sum("test_metric", "seconds", false, AggregationTemporality::Cumulative, vec![number(1, 15.0, vec![])])]),
            Options { add_metric_suffixes: true, ..bare() },
            vec![("test_metric_seconds", 15.0)],
        ),
        (
            "delta sums are dropped",
            request(vec![], no_scope(), vec![sum("d", "", true, AggregationTemporality::Delta, vec![number(1, 15.0, vec![])])]),
            bare(),
            vec![],
        ),
        (
            "histogram: cumulative buckets, +Inf is the count, sum and count",
            request(vec![], no_scope(), vec![histogram("test_metric_seconds", vec![0.25, 0.5, 0.75, 1.0], vec![0, 111, 0, 222], vec![])]),
            bare(),
            vec![
                ("test_metric_seconds_sum", 100.0),
                ("test_metric_seconds_count", 333.0),
                ("test_metric_seconds_bucket{le=\"0.25\"}", 0.0),
                ("test_metric_seconds_bucket{le=\"0.5\"}", 111.0),
                ("test_metric_seconds_bucket{le=\"0.75\"}", 111.0),
                ("test_metric_seconds_bucket{le=\"1\"}", 333.0),
                ("test_metric_seconds_bucket{le=\"+Inf\"}", 333.0),
            ],
        ),
        (
            "histogram with out-of-order bounds accumulates in bound order",
            request(vec![], no_scope(), vec![histogram("h", vec![0.5, 1.0, 0.25, 0.75], vec![0, 111, 0, 222], vec![])]),
            bare(),
            vec![
                ("h_sum", 100.0),
                ("h_count", 333.0),
                ("h_bucket{le=\"0.5\"}", 0.0),
                ("h_bucket{le=\"1\"}", 333.0),
                ("h_bucket{le=\"0.25\"}", 0.0),
                ("h_bucket{le=\"0.75\"}", 222.0),
                ("h_bucket{le=\"+Inf\"}", 333.0),
            ],
        ),
        (
            "summary: quantiles, sum, count",
            request(vec![], no_scope(), vec![metric("test_metric", "seconds", Data::Summary(Summary {
                data_points: vec![SummaryDataPoint {
                    time_unix_nano: 1_000_000_000,
                    count: 333,
                    sum: 100.0,
                    quantile_values: vec![
                        ValueAtQuantile { quantile: 0.0, value: 100.0 },
                        ValueAtQuantile { quantile: 0.5, value: 300.0 },
                        ValueAtQuantile { quantile: 1.0, value: 500.0 },
                    ],
                    ..Default::default()
                }],
            }))]),
            Options { add_metric_suffixes: true, ..bare() },
            vec![
                ("test_metric_seconds_sum", 100.0),
                ("test_metric_seconds_count", 333.0),
                ("test_metric_seconds{quantile=\"0\"}", 100.0),
                ("test_metric_seconds{quantile=\"0.5\"}", 300.0),
                ("test_metric_seconds{quantile=\"1\"}", 500.0),
            ],
        ),
        (
            "job and instance from service.name and service.instance.id",
            request(svc.clone(), no_scope(), vec![gauge("g", "", vec![number(1, 1.0, vec![])])]),
            bare(),
            vec![("g{instance=\"instance\",job=\"myservice\"}", 1.0)],
        ),
        (
            "job includes service.namespace",
            request(vec![attr("service.namespace", "ns"), attr("service.name", "svc")], no_scope(), vec![gauge("g", "", vec![number(1, 1.0, vec![])])]),
            bare(),
            vec![("g{job=\"ns/svc\"}", 1.0)],
        ),
        (
            "target_info carries the other resource attributes",
            request(svc.clone(), no_scope(), vec![gauge("g", "", vec![number(1, 1.0, vec![])])]),
            Options { include_target_info: true, ..bare() },
            vec![
                ("target_info{custom_attr=\"test\",instance=\"instance\",job=\"myservice\"}", 1.0),
                ("g{instance=\"instance\",job=\"myservice\"}", 1.0),
            ],
        ),
        (
            "keep_identifying_resource_attributes keeps service.* on target_info only",
            request(svc.clone(), no_scope(), vec![gauge("g", "", vec![number(1, 1.0, vec![])])]),
            Options { include_target_info: true, keep_identifying_resource_attributes: true, ..bare() },
            vec![
                ("target_info{custom_attr=\"test\",instance=\"instance\",job=\"myservice\",service_instance_id=\"instance\",service_name=\"myservice\"}", 1.0),
                ("g{instance=\"instance\",job=\"myservice\"}", 1.0),
            ],
        ),
        (
            "scope info metric and no scope labels",
            request(vec![], scoped.clone(), vec![gauge("g", "", vec![number(1, 1.0, vec![])])]),
            Options { include_scope_info: true, ..bare() },
            vec![
                ("otel_scope_info{otel_scope_name=\"a-name\",otel_scope_version=\"a-version\",something_extra=\"zzz-extra-value\"}", 1.0),
                ("g", 1.0),
            ],
        ),
        (
            "scope labels and sanitized data point attributes",
            request(vec![], scoped.clone(), vec![gauge("g", "", vec![number(1, 1.0, vec![attr("foo.bar", "baz"), attr("0lead", "x"), attr("empty", "")])])]),
            Options { include_scope_labels: true, ..bare() },
            vec![("g{foo_bar=\"baz\",key_0lead=\"x\",otel_scope_name=\"a-name\",otel_scope_version=\"a-version\"}", 1.0)],
        ),
        (
            "resource_to_telemetry_conversion copies every resource attribute",
            request(svc.clone(), no_scope(), vec![gauge("g", "", vec![number(1, 1.0, vec![attr("custom_attr", "from-point")])])]),
            Options { resource_to_telemetry_conversion: true, ..bare() },
            vec![("g{custom_attr=\"test\",instance=\"instance\",job=\"myservice\",service_instance_id=\"instance\",service_name=\"myservice\"}", 1.0)],
        ),
        (
            "exponential histograms are dropped",
            request(vec![], no_scope(), vec![metric("e", "", Data::ExponentialHistogram(ExponentialHistogram {
                data_points: vec![ExponentialHistogramDataPoint::default()],
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
            }))]),
            bare(),
            vec![],
        ),
    ];
    for (name, req, opts, want) in cases {
        let got = rows(&convert(&req, opts));
        let want: Vec<(String, f64)> = want.into_iter().map(|(s, v)| (s.to_string(), v)).collect();
        assert_eq!(got, want, "case: {name}");
    }
}

#[test]
fn histogram_exemplars_go_to_the_first_bucket_above_their_value() {
    let req = request(
        vec![],
        no_scope(),
        vec![histogram(
            "h",
            vec![0.25, 0.5, 0.75, 1.0],
            vec![0, 111, 0, 222],
            vec![
                ex(1_000_000_001, 0.3, 0xaa),
                ex(1_000_000_003, 1.5, 0xcc),
                ex(1_000_000_002, 0.5, 0xbb),
            ],
        )],
    );
    let batch = convert(&req, bare());
    let got: Vec<(String, String, f64)> = batch
        .exemplars
        .iter()
        .map(|e| (series_text(&e.series), series_text(&e.labels), e.value))
        .collect();
    let a = format!(
        "{{span_id={:?},trace_id={:?}}}",
        "aa".repeat(8),
        "aa".repeat(16)
    );
    let b = format!(
        "{{span_id={:?},trace_id={:?}}}",
        "bb".repeat(8),
        "bb".repeat(16)
    );
    let c = format!(
        "{{span_id={:?},trace_id={:?}}}",
        "cc".repeat(8),
        "cc".repeat(16)
    );
    assert_eq!(
        got,
        vec![
            ("h_bucket{le=\"0.5\"}".to_string(), a, 0.3),
            ("h_bucket{le=\"0.75\"}".to_string(), b, 0.5),
            ("h_bucket{le=\"+Inf\"}".to_string(), c, 1.5),
        ]
    );
    assert_eq!(batch.exemplars[0].timestamp_ms, 1000);
}

#[test]
fn counter_exemplars_are_kept_and_gauge_exemplars_are_not() {
    let mut p = number(1, 15.0, vec![]);
    p.exemplars = vec![ex(1_000_000_001, 0.3, 0xaa)];
    let req = request(
        vec![],
        no_scope(),
        vec![
            sum(
                "c",
                "",
                true,
                AggregationTemporality::Cumulative,
                vec![p.clone()],
            ),
            gauge("g", "", vec![p]),
        ],
    );
    let batch = convert(&req, bare());
    assert_eq!(batch.exemplars.len(), 1);
    assert_eq!(series_text(&batch.exemplars[0].series), "c");
}

#[test]
fn no_recorded_value_becomes_a_stale_marker() {
    let mut p = number(1, 15.0, vec![]);
    p.flags = 1;
    let req = request(vec![], no_scope(), vec![gauge("g", "", vec![p])]);
    let batch = convert(&req, bare());
    assert_eq!(batch.samples.len(), 1);
    assert!(is_stale_nan(batch.samples[0].value));
}

#[test]
fn out_of_order_points_of_a_series_are_skipped() {
    let mut conv = Converter::new();
    let at = |t| {
        request(
            vec![],
            no_scope(),
            vec![gauge("g", "", vec![number(t, t as f64, vec![])])],
        )
    };
    let now = Instant::now();
    let first = conv.convert(&at(10), &bare(), now, NOW_MS).0;
    let older = conv.convert(&at(5), &bare(), now, NOW_MS).0;
    let same = conv.convert(&at(10), &bare(), now, NOW_MS).0;
    let newer = conv.convert(&at(11), &bare(), now, NOW_MS).0;
    assert_eq!(first.samples.len(), 1);
    assert!(older.samples.is_empty(), "an older point must be skipped");
    assert_eq!(same.samples.len(), 1, "an equal timestamp is written again");
    assert_eq!(newer.samples[0].timestamp_ms, 11_000);
    // GC forgets the series, after which the old point is accepted again.
    conv.gc(
        now + std::time::Duration::from_secs(600),
        std::time::Duration::from_secs(300),
    );
    assert_eq!(conv.series_len(), 0);
    assert_eq!(
        conv.convert(&at(5), &bare(), now, NOW_MS).0.samples.len(),
        1
    );
}

#[test]
fn honor_metadata_sends_metadata_once_until_flushed() {
    let mut conv = Converter::new();
    let mut m = sum(
        "requests",
        "",
        true,
        AggregationTemporality::Cumulative,
        vec![number(1, 1.0, vec![])],
    );
    m.description = "All requests".into();
    let req = request(vec![], no_scope(), vec![m]);
    let opts = Options {
        honor_metadata: true,
        add_metric_suffixes: true,
        ..bare()
    };
    let first = conv.convert(&req, &opts, Instant::now(), NOW_MS).0;
    assert_eq!(first.metadata.len(), 1);
    assert_eq!(first.metadata[0].metric_family, "requests_total");
    assert_eq!(first.metadata[0].kind, MetricType::Counter);
    assert_eq!(first.metadata[0].help, "All requests");
    assert!(conv
        .convert(&req, &opts, Instant::now(), NOW_MS)
        .0
        .metadata
        .is_empty());
    conv.flush_metadata();
    assert_eq!(
        conv.convert(&req, &opts, Instant::now(), NOW_MS)
            .0
            .metadata
            .len(),
        1
    );
    // Without honor_metadata nothing is sent.
    assert!(Converter::new()
        .convert(&req, &bare(), Instant::now(), NOW_MS)
        .0
        .metadata
        .is_empty());
}

#[test]
fn target_info_is_stamped_with_conversion_time() {
    let req = request(vec![attr("service.name", "s")], no_scope(), vec![]);
    let batch = convert(&req, Options::default());
    assert_eq!(
        rows(&batch),
        vec![("target_info{job=\"s\"}".to_string(), 1.0)]
    );
    assert_eq!(batch.samples[0].timestamp_ms, NOW_MS);
}

// ---- component path ----

struct NullSink;
impl ExportSink for NullSink {
    fn publish(&self, _exports: solder_syntax::Value) {}
}

#[derive(Default)]
struct Capture(Mutex<Vec<MetricsBatch>>);

#[async_trait::async_trait]
impl MetricsReceiver for Capture {
    async fn append(&self, batch: MetricsBatch) -> Result<(), ConsumeError> {
        self.0.lock().unwrap().push(batch);
        Ok(())
    }
}

struct Refuse;
#[async_trait::async_trait]
impl MetricsReceiver for Refuse {
    async fn append(&self, _batch: MetricsBatch) -> Result<(), ConsumeError> {
        Err(ConsumeError::Overloaded {
            message: "full".into(),
            retry_after: None,
        })
    }
}

fn options() -> ComponentOptions {
    ComponentOptions {
        id: "otelcol.exporter.prometheus.test".into(),
        data_dir: std::env::temp_dir(),
        registry: prometheus::Registry::new(),
        health: HealthReporter::new(),
        host: Arc::new(HostInfo {
            http_listen_addr: "127.0.0.1:12345".into(),
            http_memory_addr: "alloy.internal:12345".into(),
            hostname: "test".into(),
            self_registry: prometheus::Registry::new(),
        }),
        exports: Arc::new(NullSink),
    }
}

fn args(forward_to: Vec<Arc<dyn MetricsReceiver>>) -> Args {
    Args {
        forward_to: forward_to.into_iter().map(CapsuleOf).collect(),
        include_target_info: true,
        include_scope_info: false,
        include_scope_labels: true,
        gc_frequency: GoDuration::from_secs(300),
        add_metric_suffixes: true,
        resource_to_telemetry_conversion: false,
        honor_metadata: false,
        keep_identifying_resource_attributes: false,
        convert_classic_histograms_to_nhcb: false,
        start_timestamp_zero_ingestion: false,
    }
}

#[tokio::test]
async fn input_decodes_otlp_and_forwards_to_every_receiver() {
    let a = Arc::new(Capture::default());
    let b = Arc::new(Capture::default());
    let exporter = PrometheusExporter::build(options(), args(vec![a.clone(), b.clone()])).unwrap();
    let req = request(
        vec![attr("service.name", "svc")],
        InstrumentationScope {
            name: "lib".into(),
            ..Default::default()
        },
        vec![sum(
            "http.requests",
            "",
            true,
            AggregationTemporality::Cumulative,
            vec![number(1, 7.0, vec![])],
        )],
    );
    let payload = OtlpPayload {
        signal: Signal::Metrics,
        encoded: req.encode_to_vec().into(),
        items: 1,
    };
    exporter.input().consume(payload).await.unwrap();
    for cap in [&a, &b] {
        let got = cap.0.lock().unwrap();
        assert_eq!(got.len(), 1);
        let r = rows(&got[0]);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].0, "target_info{job=\"svc\"}");
        assert_eq!(
            r[1],
            (
                "http_requests_total{job=\"svc\",otel_scope_name=\"lib\"}".to_string(),
                7.0
            )
        );
    }
}

#[tokio::test]
async fn input_reports_receiver_refusal_and_bad_payloads() {
    let exporter = PrometheusExporter::build(options(), args(vec![Arc::new(Refuse)])).unwrap();
    let req = request(
        vec![],
        no_scope(),
        vec![gauge("g", "", vec![number(1, 1.0, vec![])])],
    );
    let payload = OtlpPayload {
        signal: Signal::Metrics,
        encoded: req.encode_to_vec().into(),
        items: 1,
    };
    let err = exporter.input().consume(payload).await.unwrap_err();
    assert!(matches!(err, ConsumeError::Overloaded { .. }));
    let garbage = OtlpPayload {
        signal: Signal::Metrics,
        encoded: vec![0xff, 0xff, 0xff].into(),
        items: 0,
    };
    assert!(matches!(
        exporter.input().consume(garbage).await,
        Err(ConsumeError::Permanent(_))
    ));
    // Logs are not this exporter's signal: accepted and ignored.
    let logs = OtlpPayload {
        signal: Signal::Logs,
        encoded: vec![0xff].into(),
        items: 0,
    };
    assert!(exporter.input().consume(logs).await.is_ok());
}

#[test]
fn validation_rejects_what_solder_cannot_do() {
    let mut a = args(vec![]);
    a.gc_frequency = GoDuration::from_secs(0);
    assert_eq!(
        a.validate().unwrap_err(),
        "gc_frequency must be greater than 0"
    );
    let mut a = args(vec![]);
    a.convert_classic_histograms_to_nhcb = true;
    assert!(a
        .validate()
        .unwrap_err()
        .contains("not supported by Solder yet"));
    assert!(args(vec![]).validate().is_ok());
}

#[tokio::test]
async fn update_swaps_receivers_and_resends_metadata_and_run_stops_on_cancel() {
    use solder_core::{AnyArgs, Component};
    let first = Arc::new(Capture::default());
    let second = Arc::new(Capture::default());
    let mut a = args(vec![first.clone()]);
    a.honor_metadata = true;
    let exporter = Arc::new(PrometheusExporter::build(options(), a).unwrap());
    let send = || {
        let req = request(
            vec![],
            no_scope(),
            vec![gauge("g", "", vec![number(1, 1.0, vec![])])],
        );
        OtlpPayload {
            signal: Signal::Metrics,
            encoded: req.encode_to_vec().into(),
            items: 1,
        }
    };
    exporter.input().consume(send()).await.unwrap();
    exporter.input().consume(send()).await.unwrap();
    {
        let got = first.0.lock().unwrap();
        assert_eq!(got.len(), 2);
        // target_info and g: metadata once, then not again.
        assert_eq!(got[0].metadata.len(), 2);
        assert!(got[1].metadata.is_empty());
    }
    let mut b = args(vec![second.clone()]);
    b.honor_metadata = true;
    exporter.update(AnyArgs::new(b)).unwrap();
    exporter.input().consume(send()).await.unwrap();
    assert_eq!(
        first.0.lock().unwrap().len(),
        2,
        "old receiver no longer used"
    );
    {
        let got = second.0.lock().unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].metadata.len(), 2, "metadata re-sent after an update");
    }

    let token = tokio_util::sync::CancellationToken::new();
    let run = tokio::spawn(Arc::clone(&exporter).run(token.clone()));
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(!run.is_finished());
    token.cancel();
    tokio::time::timeout(std::time::Duration::from_secs(5), run)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
