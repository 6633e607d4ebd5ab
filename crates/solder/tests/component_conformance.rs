//! Component conformance (DESIGN.md §6, layer 2): every registered component type passes one
//! shared harness —
//! - a minimal valid body decodes through its `ComponentBuilder`;
//! - an unknown attribute and an unknown block are rejected by name;
//! - it builds twice in a row with the same arguments and data directory (the second build after
//!   the first instance was shut down), publishes every declared export, keeps running until
//!   cancelled, and returns from `run` within [`SHUTDOWN_DEADLINE`] of cancellation.
//!
//! Integration tests cannot import the binary's `registry.rs`, so the harness builds the same
//! registry itself; [`harness_covers_the_binary_registry`] reads `registry.rs` as text so a new
//! registration there without a case here fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use solder_core::{
    ComponentBuilder, ComponentOptions, ExportSink, HealthReporter, HostInfo, Registry,
};
use solder_syntax::eval::{eval_body, BodyValue, EmptyScope};
use solder_syntax::parser::parse_file;
use solder_syntax::span::{FileId, Span};
use solder_syntax::{Diagnostics, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long a cancelled component may take to return from `run`.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(5);

/// How long a component must keep running before it is cancelled: a `run` that returns on its
/// own would leave the component "exited" in the real agent.
const RUN_FOR: Duration = Duration::from_millis(300);

/// The registration calls `registry.rs` must make, in the same words, so the harness registers
/// exactly what the binary does.
const REGISTRATION_CALLS: &[&str] = &[
    "solder_runtime::register_builtins(&mut reg)",
    "solder_prometheus::register(&mut reg)",
    "solder_otelcol::register(&mut reg)",
];

/// The harness's copy of `solder`'s registry: the same crate-level registration functions.
fn harness_registry() -> Registry {
    let mut reg = Registry::new();
    solder_runtime::register_builtins(&mut reg);
    solder_prometheus::register(&mut reg);
    solder_otelcol::register(&mut reg);
    reg
}

/// A minimal valid body for each component type. `dir` is a scratch directory holding `input.txt`
/// for components that read a file.
fn minimal_body(name: &str, dir: &Path) -> Option<String> {
    let body = match name {
        "local.file" => format!(
            "filename = {:?}\n",
            dir.join("input.txt").display().to_string()
        ),
        "discovery.relabel" => "targets = []\n".to_string(),
        "prometheus.exporter.self" => String::new(),
        "prometheus.relabel" => "forward_to = []\n".to_string(),
        "otelcol.exporter.prometheus" | "otelcol.exporter.loki" => "forward_to = []\n".to_string(),
        "otelcol.receiver.prometheus"
        | "otelcol.processor.batch"
        | "otelcol.processor.attributes"
        | "otelcol.processor.probabilistic_sampler" => "output {}\n".to_string(),
        "otelcol.processor.memory_limiter" => {
            "check_interval = \"1s\"\nlimit = \"1GiB\"\noutput {}\n".to_string()
        }
        "otelcol.exporter.debug" => String::new(),
        "otelcol.exporter.otlp" => "client {\n  endpoint = \"127.0.0.1:9\"\n}\n".to_string(),
        "otelcol.exporter.otlphttp" => {
            "client {\n  endpoint = \"http://127.0.0.1:9\"\n}\n".to_string()
        }
        "otelcol.auth.basic" => "username = \"u\"\npassword = \"p\"\n".to_string(),
        "otelcol.auth.bearer" => "token = \"t\"\n".to_string(),
        "prometheus.scrape" => "targets = []\nforward_to = []\n".to_string(),
        "otelcol.receiver.otlp" => {
            "grpc {\n  endpoint = \"127.0.0.1:0\"\n}\nhttp {\n  endpoint = \"127.0.0.1:0\"\n}\noutput {}\n"
                .to_string()
        }
        "prometheus.remote_write" => {
            "endpoint {\n  url = \"http://127.0.0.1:9/api/v1/write\"\n}\n".to_string()
        }
        _ => return None,
    };
    Some(body)
}

/// Scratch files every case may rely on.
fn scratch_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("input.txt"), "conformance\n").unwrap();
    dir
}

/// Parse and evaluate `src` as a block body against the empty scope (stdlib only).
fn evaluate(src: &str) -> BodyValue {
    let (file, diags) = parse_file(src, FileId(0));
    assert!(!diags.has_errors(), "parse of {src:?}: {diags}");
    let span = Span::new(FileId(0), 0, src.len() as u32);
    eval_body(&file.body, span, &EmptyScope).unwrap_or_else(|d| panic!("eval of {src:?}: {d}"))
}

fn decode_errors(builder: &dyn ComponentBuilder, src: &str) -> Diagnostics {
    match builder.decode(&evaluate(src)) {
        Ok(_) => panic!("{}: {src:?} decoded but must be rejected", builder.name()),
        Err(d) => d,
    }
}

/// An export sink that keeps every published value.
#[derive(Default)]
struct RecordingSink(Mutex<Vec<Value>>);

impl ExportSink for RecordingSink {
    fn publish(&self, exports: Value) {
        self.0.lock().unwrap().push(exports);
    }
}

impl RecordingSink {
    /// Every export name published so far, across all publications.
    fn published_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .0
            .lock()
            .unwrap()
            .iter()
            .filter_map(|v| match v {
                Value::Object(o) => Some(o.keys().cloned().collect::<Vec<_>>()),
                _ => None,
            })
            .flatten()
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

/// Options as the controller builds them: a registry pre-labelled with the id, a private data
/// directory, fresh health and a recording export sink.
fn options(id: &str, data_dir: PathBuf) -> (ComponentOptions, Arc<RecordingSink>) {
    let labels: HashMap<String, String> = [
        ("component_id".to_string(), id.to_string()),
        ("component_path".to_string(), "/".to_string()),
    ]
    .into();
    let sink = Arc::new(RecordingSink::default());
    let opts = ComponentOptions {
        id: id.to_string(),
        data_dir,
        registry: prometheus::Registry::new_custom(None, Some(labels)).unwrap(),
        health: HealthReporter::new(),
        host: Arc::new(HostInfo {
            http_listen_addr: "127.0.0.1:12345".to_string(),
            http_memory_addr: "alloy.internal:12345".to_string(),
            hostname: "conformance-host".to_string(),
            self_registry: prometheus::Registry::new(),
        }),
        exports: sink.clone(),
    };
    (opts, sink)
}

/// Build, run for a moment, cancel, and require `run` to return in time.
async fn build_run_and_stop(
    builder: &dyn ComponentBuilder,
    src: &str,
    data_dir: &Path,
    round: u32,
) {
    let name = builder.name();
    let id = format!("{name}.conformance");
    let args = builder
        .decode(&evaluate(src))
        .unwrap_or_else(|d| panic!("{name}: round {round}: decode: {d}"));
    let (opts, sink) = options(&id, data_dir.to_path_buf());
    let component = builder
        .build(opts, args)
        .unwrap_or_else(|e| panic!("{name}: round {round}: build failed: {e}"));

    let token = CancellationToken::new();
    let task = tokio::spawn(component.run(token.clone()));
    tokio::time::sleep(RUN_FOR).await;
    assert!(
        !task.is_finished(),
        "{name}: round {round}: run returned before it was cancelled"
    );

    // Every declared export has been published by now (build, or the first moments of run),
    // so dependants never evaluate against a missing field.
    let published = sink.published_names();
    for export in builder.exports() {
        assert!(
            published.iter().any(|p| p == export),
            "{name}: round {round}: export {export:?} never published; got {published:?}"
        );
    }

    token.cancel();
    let finished = tokio::time::timeout(SHUTDOWN_DEADLINE, task).await;
    let joined = finished.unwrap_or_else(|_| {
        panic!("{name}: round {round}: run did not return within {SHUTDOWN_DEADLINE:?} of cancellation")
    });
    let result = joined.unwrap_or_else(|e| panic!("{name}: round {round}: run panicked: {e}"));
    if let Err(e) = result {
        panic!("{name}: round {round}: run returned an error after cancellation: {e}");
    }
}

#[test]
fn every_component_has_a_case() {
    let reg = harness_registry();
    let dir = scratch_dir();
    let missing: Vec<&str> = reg
        .names()
        .filter(|n| minimal_body(n, dir.path()).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "components without a conformance case in minimal_body: {missing:?}"
    );
    // At least the four components of the foundation are covered.
    let names: Vec<&str> = reg.names().collect();
    for want in [
        "local.file",
        "discovery.relabel",
        "prometheus.exporter.self",
        "prometheus.relabel",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
}

#[test]
fn harness_covers_the_binary_registry() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/registry.rs");
    let text = std::fs::read_to_string(&path).unwrap();
    // Only the code that builds the registry, not its unit tests.
    let code = text.split("#[cfg(test)]").next().unwrap();
    for call in REGISTRATION_CALLS {
        assert!(
            code.contains(call),
            "registry.rs no longer makes the call {call:?} that this harness mirrors"
        );
    }
    // Any other registration in registry.rs would escape the harness.
    let registrations = code.matches("(&mut reg)").count();
    assert_eq!(
        registrations,
        REGISTRATION_CALLS.len(),
        "registry.rs registers something the conformance harness does not mirror; add the \
         call to REGISTRATION_CALLS and harness_registry()"
    );
}

#[test]
fn minimal_bodies_decode() {
    let reg = harness_registry();
    let dir = scratch_dir();
    for name in reg.names() {
        let builder = reg.get(name).unwrap();
        let src = minimal_body(name, dir.path()).unwrap();
        if let Err(d) = builder.decode(&evaluate(&src)) {
            panic!("{name}: minimal body {src:?} does not decode: {d}");
        }
    }
}

#[test]
fn unknown_attribute_is_rejected_by_name() {
    let reg = harness_registry();
    let dir = scratch_dir();
    for name in reg.names() {
        let builder = reg.get(name).unwrap();
        let src = format!(
            "{}bogus_attr = 1\n",
            minimal_body(name, dir.path()).unwrap()
        );
        let diags = decode_errors(builder.as_ref(), &src);
        let messages: Vec<&str> = diags.iter().map(|d| d.message.as_str()).collect();
        assert!(
            messages.contains(&"unrecognized attribute name \"bogus_attr\""),
            "{name}: {messages:?}"
        );
    }
}

#[test]
fn unknown_block_is_rejected_by_name() {
    let reg = harness_registry();
    let dir = scratch_dir();
    for name in reg.names() {
        let builder = reg.get(name).unwrap();
        let src = format!(
            "{}bogus_block {{}}\n",
            minimal_body(name, dir.path()).unwrap()
        );
        let diags = decode_errors(builder.as_ref(), &src);
        let messages: Vec<&str> = diags.iter().map(|d| d.message.as_str()).collect();
        assert!(
            messages.contains(&"unrecognized block name \"bogus_block\""),
            "{name}: {messages:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builds_twice_runs_and_stops_within_deadline() {
    let reg = harness_registry();
    let dir = scratch_dir();
    for name in reg.names() {
        let builder = reg.get(name).unwrap();
        let src = minimal_body(name, dir.path()).unwrap();
        // One data directory for both rounds: the second instance must cope with whatever the
        // first one left behind (a queue, a WAL, a lock file).
        let data_dir = dir.path().join("data").join(name);
        build_run_and_stop(builder.as_ref(), &src, &data_dir, 1).await;
        build_run_and_stop(builder.as_ref(), &src, &data_dir, 2).await;
    }
}

/// The harness itself must be able to fail: a body with a missing required attribute is not a
/// minimal valid body, and the unknown-name checks see a real diagnostic.
#[test]
fn harness_detects_a_broken_body() {
    let reg = harness_registry();
    let builder = reg.get("prometheus.relabel").unwrap();
    let diags = decode_errors(builder.as_ref(), "");
    assert!(
        diags.iter().any(|d| d.message.contains("forward_to")),
        "{diags}"
    );
}
