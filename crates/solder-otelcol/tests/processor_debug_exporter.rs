//! `otelcol.exporter.debug`: what reaches the log at each verbosity, captured with a minimal
//! tracing subscriber.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "processor_harness.rs"]
mod harness;

use harness::*;
use solder_core::{ComponentBuilder, Typed};
use solder_otelcol::exporter::debug::DebugExporter;
use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Every event's fields rendered as `name=value`, the message first.
#[derive(Default, Clone)]
struct Capture(Arc<Mutex<Vec<String>>>);

struct Fields(Vec<String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0.insert(0, format!("{value:?}"));
        } else {
            self.0.push(format!("{}={value:?}", field.name()));
        }
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut f = Fields(Vec::new());
        event.record(&mut f);
        self.0.lock().unwrap().push(f.0.join(" "));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn builder() -> Typed<DebugExporter> {
    Typed::<DebugExporter>::new()
}

/// Send `payloads` through an exporter configured with `body`; the captured log lines.
fn run(body: &str, payloads: Vec<solder_core::signals::otlp::OtlpPayload>) -> Vec<String> {
    let capture = Capture::default();
    let rec = Arc::new(Recorder::default());
    let args = decode(&builder(), body, &sink_scope(&rec)).unwrap();
    let built = options("otelcol.exporter.debug.test");
    let _c = builder().build(built.opts.clone(), args).unwrap();
    let input = built.exports.input();
    tracing::subscriber::with_default(capture.clone(), || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            for p in payloads {
                input.consume(p).await.unwrap();
            }
        });
    });
    let lines = capture.0.lock().unwrap().clone();
    lines
}

#[test]
fn basic_logs_one_summary_per_request() {
    let lines = run(
        "",
        vec![
            traces_payload(&traces(&[("a", &["s1", "s2"]), ("b", &["s3"])])),
            metrics_payload(&metrics(&[("m", &["g1", "g2"])], 3)),
            logs_payload(&logs(&[("l", &["hello"])])),
        ],
    );
    assert_eq!(
        lines,
        [
            "Traces component_id=\"otelcol.exporter.debug.test\" resource spans=2 spans=3",
            "Metrics component_id=\"otelcol.exporter.debug.test\" resource metrics=1 metrics=2 data points=6",
            "Logs component_id=\"otelcol.exporter.debug.test\" resource logs=1 log records=1",
        ]
    );
}

#[test]
fn normal_adds_one_line_per_item() {
    let mut req = traces(&[("svc", &["op"])]);
    req.resource_spans[0].scope_spans[0].spans[0]
        .attributes
        .push(kv("k", "v"));
    let lines = run("verbosity = \"Normal\"", vec![traces_payload(&req)]);
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[1],
        "ResourceTraces #0 service.name=svc\nScopeTraces #0\nop 07070707070707070707070707070707 0101010101010101 k=v\n component_id=\"otelcol.exporter.debug.test\""
    );
    let lines = run(
        "verbosity = \"normal\"",
        vec![metrics_payload(&metrics(&[("svc", &["g"])], 1))],
    );
    assert_eq!(
        lines[1],
        "ResourceMetrics #0 service.name=svc\nScopeMetrics #0\ng{} \n component_id=\"otelcol.exporter.debug.test\""
    );
}

#[test]
fn sampling_limits_repeated_messages() {
    let p = traces_payload(&traces(&[("a", &["s"])]));
    let lines = run(
        "sampling_initial = 1\nsampling_thereafter = 100",
        vec![p.clone(), p.clone(), p],
    );
    assert_eq!(lines.len(), 1);
}

#[test]
fn unsupported_settings_are_rejected() {
    for (body, want) in [
        (
            "verbosity = \"detailed\"",
            "verbosity \"detailed\" is not supported by Solder yet",
        ),
        ("verbosity = \"loud\"", "invalid verbosity"),
        (
            "use_internal_logger = false",
            "use_internal_logger = false is not supported",
        ),
    ] {
        let err = decode_err(&builder(), body);
        assert!(err.contains(want), "{body}: {err}");
    }
}
