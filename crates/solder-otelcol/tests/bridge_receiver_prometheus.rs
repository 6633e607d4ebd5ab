//! `otelcol.receiver.prometheus`: Prometheus samples in through the exported receiver, OTLP
//! out (decoded with the official proto types), and the round trip back through
//! `otelcol.exporter.prometheus`'s converter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point, Metric};
use prost::Message;
use solder_core::consume::ConsumeError;
use solder_core::signals::metrics::{
    is_stale_nan, stale_nan, Exemplar, Labels, Metadata, MetricType, MetricsBatch, Sample,
};
use solder_core::signals::otlp::{OtlpConsumer, OtlpConsumerRef, OtlpPayload, Signal};
use solder_core::{ComponentOptions, ExportSink, HealthReporter, HostInfo, TypedComponent};
use solder_otelcol::exporter::prometheus::convert::{Converter, Options};
use solder_otelcol::output::Output;
use solder_otelcol::receiver::prometheus::convert::{
    batch_to_otlp, MetadataStore, RECEIVER_SCOPE_NAME,
};
use solder_otelcol::receiver::prometheus::{Args, PrometheusReceiver};
use solder_syntax::types::CapsuleOf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

const TS: i64 = 1_700_000_000_123;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
    )
}

fn sample(name: &str, extra: &[(&str, &str)], value: f64) -> Sample {
    let mut pairs = vec![
        ("__name__", name),
        ("job", "api"),
        ("instance", "10.1.2.3:8080"),
    ];
    pairs.extend_from_slice(extra);
    Sample {
        labels: labels(&pairs),
        timestamp_ms: TS,
        value,
    }
}

fn md(family: &str, kind: MetricType, help: &str, unit: &str) -> Metadata {
    Metadata {
        metric_family: family.into(),
        kind,
        help: help.into(),
        unit: unit.into(),
    }
}

fn convert(batch: &MetricsBatch) -> ExportMetricsServiceRequest {
    let (req, _) = batch_to_otlp(batch, &mut MetadataStore::default(), "test");
    // Through the wire, decoded with the official types.
    ExportMetricsServiceRequest::decode(req.encode_to_vec().as_slice()).unwrap()
}

fn metrics(req: &ExportMetricsServiceRequest) -> Vec<&Metric> {
    req.resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .collect()
}

fn find<'a>(req: &'a ExportMetricsServiceRequest, name: &str) -> &'a Metric {
    metrics(req)
        .into_iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no metric {name}"))
}

fn str_attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| match a.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.as_str()),
            _ => None,
        })
}

#[test]
fn types_follow_metadata() {
    let batch = MetricsBatch {
        samples: vec![
            sample("requests_total", &[("code", "200")], 10.0),
            sample("temperature", &[], 21.5),
            sample("untyped_thing", &[], 3.0),
            sample("latency_seconds_bucket", &[("le", "0.1")], 1.0),
            sample("latency_seconds_bucket", &[("le", "1")], 3.0),
            sample("latency_seconds_bucket", &[("le", "+Inf")], 4.0),
            sample("latency_seconds_sum", &[], 2.5),
            sample("latency_seconds_count", &[], 4.0),
            sample("latency_seconds_created", &[], 1_600_000_000.0),
            sample("rpc_seconds", &[("quantile", "0.9")], 0.7),
            sample("rpc_seconds", &[("quantile", "0.5")], 0.2),
            sample("rpc_seconds_sum", &[], 9.0),
            sample("rpc_seconds_count", &[], 20.0),
        ],
        exemplars: vec![],
        metadata: vec![
            md("requests", MetricType::Counter, "Requests.", ""),
            md("temperature", MetricType::Gauge, "Temp.", "celsius"),
            md(
                "latency_seconds",
                MetricType::Histogram,
                "Latency.",
                "seconds",
            ),
            md("rpc_seconds", MetricType::Summary, "", ""),
        ],
    };
    let req = convert(&batch);
    assert_eq!(req.resource_metrics.len(), 1);
    let res = req.resource_metrics[0].resource.as_ref().unwrap();
    assert_eq!(str_attr(&res.attributes, "service.name"), Some("api"));
    assert_eq!(
        str_attr(&res.attributes, "service.instance.id"),
        Some("10.1.2.3:8080")
    );
    assert_eq!(str_attr(&res.attributes, "server.port"), Some("8080"));
    let scope = req.resource_metrics[0].scope_metrics[0]
        .scope
        .as_ref()
        .unwrap();
    assert_eq!(scope.name, RECEIVER_SCOPE_NAME);

    let counter = find(&req, "requests_total");
    assert_eq!(counter.description, "Requests.");
    match counter.data.as_ref().unwrap() {
        Data::Sum(s) => {
            assert!(s.is_monotonic);
            assert_eq!(s.aggregation_temporality, 2);
            assert_eq!(s.data_points.len(), 1);
            let p = &s.data_points[0];
            assert_eq!(p.value, Some(number_data_point::Value::AsDouble(10.0)));
            assert_eq!(p.time_unix_nano, TS as u64 * 1_000_000);
            assert_eq!(str_attr(&p.attributes, "code"), Some("200"));
            assert!(str_attr(&p.attributes, "job").is_none());
        }
        other => panic!("counter became {other:?}"),
    }
    let gauge = find(&req, "temperature");
    assert_eq!(gauge.unit, "Cel");
    assert!(matches!(gauge.data, Some(Data::Gauge(_))));
    assert_eq!(str_attr(&gauge.metadata, "prometheus.type"), Some("gauge"));
    // No metadata: a gauge, as for Prometheus "unknown".
    let unknown = find(&req, "untyped_thing");
    assert!(matches!(unknown.data, Some(Data::Gauge(_))));
    assert_eq!(
        str_attr(&unknown.metadata, "prometheus.type"),
        Some("unknown")
    );

    match find(&req, "latency_seconds").data.as_ref().unwrap() {
        Data::Histogram(h) => {
            let p = &h.data_points[0];
            assert_eq!(p.explicit_bounds, vec![0.1, 1.0]);
            assert_eq!(p.bucket_counts, vec![1, 2, 1]);
            assert_eq!(p.count, 4);
            assert_eq!(p.sum, Some(2.5));
            // `<family>_created` is the start time.
            assert_eq!(p.start_time_unix_nano, 1_600_000_000 * 1_000_000_000);
        }
        other => panic!("histogram became {other:?}"),
    }
    match find(&req, "rpc_seconds").data.as_ref().unwrap() {
        Data::Summary(s) => {
            let p = &s.data_points[0];
            assert_eq!(p.count, 20);
            assert_eq!(p.sum, 9.0);
            let q: Vec<(f64, f64)> = p
                .quantile_values
                .iter()
                .map(|q| (q.quantile, q.value))
                .collect();
            assert_eq!(q, vec![(0.5, 0.2), (0.9, 0.7)]);
        }
        other => panic!("summary became {other:?}"),
    }
}

#[test]
fn metadata_is_remembered_across_batches() {
    let mut store = MetadataStore::default();
    let first = MetricsBatch {
        samples: vec![],
        exemplars: vec![],
        metadata: vec![md("jobs", MetricType::Counter, "", "")],
    };
    let _ = batch_to_otlp(&first, &mut store, "test");
    let second = MetricsBatch {
        samples: vec![sample("jobs_total", &[], 1.0)],
        ..Default::default()
    };
    let (req, _) = batch_to_otlp(&second, &mut store, "test");
    assert!(matches!(find(&req, "jobs_total").data, Some(Data::Sum(_))));
}

#[test]
fn stale_markers_exemplars_target_info_and_unlabelled_samples() {
    let series = labels(&[
        ("__name__", "hits_total"),
        ("job", "api"),
        ("instance", "h:1"),
    ]);
    let batch = MetricsBatch {
        samples: vec![
            Sample {
                labels: series.clone(),
                timestamp_ms: TS,
                value: stale_nan(),
            },
            Sample {
                labels: labels(&[
                    ("__name__", "target_info"),
                    ("job", "api"),
                    ("instance", "h:1"),
                    ("env", "prod"),
                ]),
                timestamp_ms: TS,
                value: 1.0,
            },
            Sample {
                labels: labels(&[("__name__", "orphan")]),
                timestamp_ms: TS,
                value: 1.0,
            },
        ],
        exemplars: vec![Exemplar {
            series: series.clone(),
            labels: labels(&[
                ("trace_id", "0102030405060708090a0b0c0d0e0f10"),
                ("span_id", "1112131415161718"),
                ("user", "u"),
            ]),
            timestamp_ms: TS,
            value: 1.0,
        }],
        metadata: vec![md("hits", MetricType::Counter, "", "")],
    };
    let (req, skipped) = batch_to_otlp(&batch, &mut MetadataStore::default(), "test");
    assert_eq!(skipped.no_job_instance, 1);
    let res = req.resource_metrics[0].resource.as_ref().unwrap();
    assert_eq!(str_attr(&res.attributes, "env"), Some("prod"));
    let Some(Data::Sum(sum)) = find(&req, "hits_total").data.as_ref() else {
        panic!()
    };
    let p = &sum.data_points[0];
    assert_eq!(p.flags, 1, "stale marker → NO_RECORDED_VALUE");
    assert_eq!(p.value, None);
    assert_eq!(p.exemplars.len(), 1);
    let e = &p.exemplars[0];
    assert_eq!(e.trace_id, (1..=16).collect::<Vec<u8>>());
    assert_eq!(e.span_id, (0x11..=0x18).collect::<Vec<u8>>());
    assert_eq!(str_attr(&e.filtered_attributes, "user"), Some("u"));
}

#[test]
fn round_trip_through_the_exporter_keeps_simple_series() {
    let batch = MetricsBatch {
        samples: vec![
            sample("requests_total", &[("code", "200")], 10.0),
            sample("temperature", &[("room", "a")], 21.5),
            sample("latency_seconds_bucket", &[("le", "0.1")], 1.0),
            sample("latency_seconds_bucket", &[("le", "+Inf")], 4.0),
            sample("latency_seconds_sum", &[], 2.5),
            sample("latency_seconds_count", &[], 4.0),
        ],
        exemplars: vec![],
        metadata: vec![
            md("requests", MetricType::Counter, "", ""),
            md("temperature", MetricType::Gauge, "", ""),
            md("latency_seconds", MetricType::Histogram, "", "seconds"),
        ],
    };
    let req = convert(&batch);
    let opts = Options {
        include_target_info: false,
        include_scope_labels: false,
        ..Options::default()
    };
    let (back, _) = Converter::new().convert(&req, &opts, Instant::now(), 0);
    let mut got: Vec<(Labels, i64, f64)> = back
        .samples
        .into_iter()
        .map(|s| (s.labels, s.timestamp_ms, s.value))
        .collect();
    let mut want: Vec<(Labels, i64, f64)> = batch
        .samples
        .into_iter()
        .map(|s| (s.labels, s.timestamp_ms, s.value))
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got, want);
}

#[test]
fn round_trip_keeps_stale_markers() {
    let batch = MetricsBatch {
        samples: vec![sample("temperature", &[], stale_nan())],
        ..Default::default()
    };
    let (back, _) =
        Converter::new().convert(&convert(&batch), &Options::default(), Instant::now(), 0);
    let t = back
        .samples
        .iter()
        .find(|s| s.labels.get("__name__") == Some("temperature"))
        .unwrap();
    assert!(is_stale_nan(t.value));
}

// ---- component path ----

struct NullSink;
impl ExportSink for NullSink {
    fn publish(&self, _exports: solder_syntax::Value) {}
}

#[derive(Default)]
struct Capture(Mutex<Vec<OtlpPayload>>);

#[async_trait::async_trait]
impl OtlpConsumer for Capture {
    async fn consume(&self, payload: OtlpPayload) -> Result<(), ConsumeError> {
        self.0.lock().unwrap().push(payload);
        Ok(())
    }
}

#[tokio::test]
async fn receiver_sends_one_otlp_request_per_append() {
    let cap = Arc::new(Capture::default());
    let output = Output {
        metrics: vec![CapsuleOf(cap.clone() as OtlpConsumerRef)],
        ..Default::default()
    };
    let opts = ComponentOptions {
        id: "otelcol.receiver.prometheus.test".into(),
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
    };
    let receiver = PrometheusReceiver::build(
        opts,
        Args {
            output,
            debug_metrics: Default::default(),
        },
    )
    .unwrap();
    let batch = MetricsBatch {
        samples: vec![sample("a", &[], 1.0), sample("b", &[], 2.0)],
        ..Default::default()
    };
    receiver.receiver().append(batch).await.unwrap();
    // A batch with nothing convertible sends nothing.
    receiver
        .receiver()
        .append(MetricsBatch {
            samples: vec![Sample {
                labels: labels(&[("__name__", "x")]),
                timestamp_ms: 0,
                value: 1.0,
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    let got = cap.0.lock().unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].signal, Signal::Metrics);
    assert_eq!(got[0].items, 2);
    let req = ExportMetricsServiceRequest::decode(got[0].encoded.as_ref()).unwrap();
    assert_eq!(metrics(&req).len(), 2);
}
