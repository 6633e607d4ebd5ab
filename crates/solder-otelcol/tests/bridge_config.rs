//! The three bridge components decode Alloy config bodies: minimal bodies, defaults, the
//! arguments Alloy has, and rejection of what it does not have.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use solder_core::{ComponentBuilder, Typed};
use solder_otelcol::exporter::loki::LokiExporter;
use solder_otelcol::exporter::prometheus::{Args as PromArgs, PrometheusExporter};
use solder_otelcol::receiver::prometheus::PrometheusReceiver;
use solder_syntax::eval::{eval_body, BodyValue, EmptyScope};
use solder_syntax::parser::parse_file;
use solder_syntax::span::{FileId, Span};
use std::time::Duration;

fn evaluate(src: &str) -> BodyValue {
    let (file, diags) = parse_file(src, FileId(0));
    assert!(!diags.has_errors(), "parse of {src:?}: {diags}");
    let span = Span::new(FileId(0), 0, src.len() as u32);
    eval_body(&file.body, span, &EmptyScope).unwrap()
}

#[test]
fn exporter_prometheus_defaults_are_alloys() {
    let args: PromArgs = solder_syntax::decode::decode(&evaluate("forward_to = []\n")).unwrap();
    assert!(args.include_target_info);
    assert!(!args.include_scope_info);
    assert!(args.include_scope_labels);
    assert!(args.add_metric_suffixes);
    assert!(!args.resource_to_telemetry_conversion);
    assert!(!args.honor_metadata);
    assert!(!args.keep_identifying_resource_attributes);
    assert_eq!(args.gc_frequency.0, Duration::from_secs(300));
}

#[test]
fn exporter_prometheus_accepts_every_alloy_argument() {
    let body = r#"
        forward_to = []
        include_target_info = false
        include_scope_info = true
        include_scope_labels = false
        gc_frequency = "1m"
        add_metric_suffixes = false
        resource_to_telemetry_conversion = true
        honor_metadata = true
        keep_identifying_resource_attributes = true
    "#;
    let builder = Typed::<PrometheusExporter>::new();
    builder.decode(&evaluate(body)).unwrap();
    for bad in [
        "forward_to = []\ngc_frequency = \"0s\"\n",
        "forward_to = []\nconvert_classic_histograms_to_nhcb = true\n",
        "forward_to = []\nstart_timestamp_zero_ingestion = true\n",
        "forward_to = []\nno_such_argument = 1\n",
        "include_target_info = true\n",
    ] {
        assert!(
            builder.decode(&evaluate(bad)).is_err(),
            "{bad:?} must be rejected"
        );
    }
}

#[test]
fn exporter_loki_body() {
    let builder = Typed::<LokiExporter>::new();
    builder.decode(&evaluate("forward_to = []\n")).unwrap();
    assert!(builder.decode(&evaluate("")).is_err());
    assert!(builder
        .decode(&evaluate("forward_to = []\nformat = \"json\"\n"))
        .is_err());
}

#[test]
fn receiver_prometheus_body() {
    let builder = Typed::<PrometheusReceiver>::new();
    builder.decode(&evaluate("output {}\n")).unwrap();
    builder
        .decode(&evaluate(
            "output {\n  metrics = []\n}\ndebug_metrics {\n  disable_high_cardinality_metrics = true\n}\n",
        ))
        .unwrap();
    assert!(builder.decode(&evaluate("")).is_err(), "output is required");
    assert!(builder
        .decode(&evaluate(
            "output {}\ndebug_metrics {\n  level = \"loud\"\n}\n"
        ))
        .is_err());
}
