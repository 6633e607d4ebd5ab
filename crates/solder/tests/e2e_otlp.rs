//! OTLP end to end with real clients: the OpenTelemetry Python SDK (gRPC and HTTP/protobuf
//! exporters) and JS SDK (HTTP/JSON exporters) send known traces, metrics and logs to the real
//! `solder` binary running `otelcol.receiver.otlp` → `otelcol.processor.batch` →
//! `otelcol.exporter.otlp`, which forwards to an in-test OTLP/gRPC backend decoding with the
//! official `opentelemetry-proto` types. Every span, metric point and log record must arrive
//! exactly once with ids, attributes, resource and timing unchanged.
//!
//! Needs the clients: `scripts/install-otlp-clients.sh` (the tests say so if they are missing).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod otlp_clients;

use otlp_clients::{
    assert_logs_arrived_once, assert_metrics_arrived_once, assert_spans_arrived_once,
    pipeline_config, wait_listening, Client, Send,
};
use solder_e2e::otlp_sink::OtlpSink;
use solder_e2e::{free_port, poll, Agent};
use std::path::Path;
use std::time::Duration;

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_solder"))
}

/// Wait until the sink holds at least `spans` spans, `metrics` metrics and `logs` records,
/// then a little longer so duplicates (which would arrive late) are seen too.
fn wait_for(sink: &OtlpSink, spans: usize, metrics: usize, logs: usize, agent: &Agent) {
    let done = poll(Duration::from_secs(30), || {
        (sink.span_count() >= spans && sink.metrics().len() >= metrics && sink.logs().len() >= logs)
            .then_some(())
    });
    assert!(
        done.is_some(),
        "sink has {} spans / {} metrics / {} logs, want {spans}/{metrics}/{logs}; agent log:\n{}",
        sink.span_count(),
        sink.metrics().len(),
        sink.logs().len(),
        agent.logs()
    );
    std::thread::sleep(Duration::from_millis(800));
}

/// The harness itself, without Solder: the Python gRPC SDK straight into the sink must pass
/// the same exactly-once comparison (so a failure below is Solder's, not the harness's).
#[test]
fn control_python_grpc_straight_into_sink() {
    let sink = OtlpSink::start();
    let sent = Send::new(Client::PythonGrpc, &sink.endpoint(), "ctl", 9).run();
    assert_eq!(assert_spans_arrived_once(&sent, &sink.spans()), 20);
    assert_metrics_arrived_once(&sent, &sink.metrics());
    assert_logs_arrived_once(&sent, &sink.logs());
}

#[test]
fn real_clients_through_receiver_batch_exporter_arrive_exactly_once() {
    let sink = OtlpSink::start();
    let grpc = format!("127.0.0.1:{}", free_port());
    let http = format!("127.0.0.1:{}", free_port());
    let agent = Agent::start(
        bin(),
        &pipeline_config(&grpc, &http, &sink.endpoint(), "", "", ""),
    );
    wait_listening(&grpc);
    wait_listening(&http);

    let mut py_http = Send::new(Client::PythonHttpProto, &http, "pyhttp", 2);
    // One client compresses, so the receiver's gzip path is crossed by a real SDK too.
    py_http.env.push(("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"));
    let sends = [
        Send::new(Client::PythonGrpc, &grpc, "pygrpc", 1),
        py_http,
        Send::new(Client::NodeHttpJson, &http, "nodejson", 3),
    ];
    // The three clients run at once, as independent applications would.
    let sent: Vec<serde_json::Value> = std::thread::scope(|s| {
        let handles: Vec<_> = sends.iter().map(|c| s.spawn(move || c.run())).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    wait_for(&sink, 60, 6, 15, &agent);
    let spans = sink.spans();
    let mut checked = 0;
    for s in &sent {
        checked += assert_spans_arrived_once(s, &spans);
        assert_metrics_arrived_once(s, &sink.metrics());
        assert_logs_arrived_once(s, &sink.logs());
    }
    assert_eq!(checked, 60);
    assert_eq!(spans.len(), 60, "no span may arrive that was not sent");
    assert_eq!(sink.logs().len(), 15);
}

#[test]
fn exporter_basic_auth_reaches_the_backend() {
    let sink = OtlpSink::start();
    // base64("tempo:s3cret")
    sink.require_authorization("Basic dGVtcG86czNjcmV0");
    let grpc = format!("127.0.0.1:{}", free_port());
    let http = format!("127.0.0.1:{}", free_port());
    let auth = r#"
otelcol.auth.basic "creds" {
  client_auth {
    username = "tempo"
    password = "s3cret"
  }
}
"#;
    let agent = Agent::start(
        bin(),
        &pipeline_config(
            &grpc,
            &http,
            &sink.endpoint(),
            "    auth = otelcol.auth.basic.creds.handler",
            "",
            auth,
        ),
    );
    wait_listening(&grpc);
    let mut send = Send::new(Client::PythonGrpc, &grpc, "auth", 4);
    send.signals = "traces";
    send.spans = 5;
    let sent = send.run();
    wait_for(&sink, 5, 0, 0, &agent);
    assert_spans_arrived_once(&sent, &sink.spans());
    assert_eq!(
        sink.refused(),
        0,
        "every request must carry the credentials"
    );
    for r in sink.trace_requests() {
        assert_eq!(
            r.metadata.get("authorization").map(String::as_str),
            Some("Basic dGVtcG86czNjcmV0")
        );
    }
}
