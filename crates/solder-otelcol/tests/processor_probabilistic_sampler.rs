//! `otelcol.processor.probabilistic_sampler`: decisions table-tested against values computed
//! independently from the contrib algorithms (FNV-1a hash-seed buckets with float32 rate
//! scaling; W3C thresholds from `ProbabilityToThresholdWithPrecision`), not from this code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "processor_harness.rs"]
mod harness;

use harness::*;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::trace::v1::Span;
use solder_core::signals::otlp::OtlpConsumerRef;
use solder_core::{ComponentBuilder, Typed};
use solder_otelcol::processor::probabilistic_sampler::ProbabilisticSampler;
use std::sync::Arc;

/// hash_seed mode, seed 22, 33%: kept spans and the tracestate the Collector writes.
const HASH_SEED_22_AT_33: &[(&str, Option<&str>)] = &[
    ("de57826309ebd2a06097e6f2f25d7b5f", None),
    ("a70d41727df61f21ce0ec81cca51c58f", None),
    (
        "e39994d056999d79ff5a35b02cf2af94",
        Some("ot=rv:fed82d2d498049;th:ab88"),
    ),
    ("6d883bc92d4a429d39d648d1704ac10a", None),
    (
        "f2f2eaae3817b6c02b6e16bd4f3808b6",
        Some("ot=rv:ae4821bb6cd46d;th:ab88"),
    ),
    ("74cbcc56ede48287183cf06d6d40e8fc", None),
    ("8e1051435f528f5734be125e45fe9ead", None),
    (
        "53afe2cf23995e1486c58ff04e885336",
        Some("ot=rv:bb3802baae9131;th:ab88"),
    ),
    (
        "6ed702cbc0b50a460528ff1ac12ea44b",
        Some("ot=rv:c354013b4ecf2a;th:ab88"),
    ),
    ("c1d08a68aafb542db31994213b42b19d", None),
    ("0c5ac8cd2ed1ff9521e54d2d85c87e56", None),
    ("5c9b2828ab2165fcf6b7ce74b0c72a45", None),
];
/// proportional (the default), 25%: th:c against the trace ID's last 56 bits.
const PROPORTIONAL_AT_25: &[(&str, bool)] = &[
    ("de57826309ebd2a06097e6f2f25d7b5f", false),
    ("a70d41727df61f21ce0ec81cca51c58f", false),
    ("e39994d056999d79ff5a35b02cf2af94", false),
    ("6d883bc92d4a429d39d648d1704ac10a", true),
    ("f2f2eaae3817b6c02b6e16bd4f3808b6", false),
    ("74cbcc56ede48287183cf06d6d40e8fc", false),
    ("8e1051435f528f5734be125e45fe9ead", false),
    ("53afe2cf23995e1486c58ff04e885336", true),
    ("6ed702cbc0b50a460528ff1ac12ea44b", false),
    ("c1d08a68aafb542db31994213b42b19d", false),
    ("0c5ac8cd2ed1ff9521e54d2d85c87e56", true),
    ("5c9b2828ab2165fcf6b7ce74b0c72a45", false),
];
/// equalizing, 60%, precision 2 → th:66.
const EQUALIZING_AT_60_PREC_2: &[(&str, bool)] = &[
    ("de57826309ebd2a06097e6f2f25d7b5f", true),
    ("a70d41727df61f21ce0ec81cca51c58f", false),
    ("e39994d056999d79ff5a35b02cf2af94", false),
    ("6d883bc92d4a429d39d648d1704ac10a", true),
    ("f2f2eaae3817b6c02b6e16bd4f3808b6", true),
    ("74cbcc56ede48287183cf06d6d40e8fc", false),
    ("8e1051435f528f5734be125e45fe9ead", true),
    ("53afe2cf23995e1486c58ff04e885336", true),
    ("6ed702cbc0b50a460528ff1ac12ea44b", false),
    ("c1d08a68aafb542db31994213b42b19d", false),
    ("0c5ac8cd2ed1ff9521e54d2d85c87e56", true),
    ("5c9b2828ab2165fcf6b7ce74b0c72a45", true),
];

/// A kept log record: its trace ID and its (string) attributes.
type LogSummary = (Vec<u8>, Vec<(String, String)>);

fn builder() -> Typed<ProbabilisticSampler> {
    Typed::<ProbabilisticSampler>::new()
}

fn start(args: &str) -> (OtlpConsumerRef, Arc<Recorder>) {
    let rec = Arc::new(Recorder::default());
    let body = format!("{args}\noutput {{\n  traces = [sink.rec]\n  logs = [sink.rec]\n}}");
    let decoded = decode(&builder(), &body, &sink_scope(&rec)).unwrap();
    let built = options("otelcol.processor.probabilistic_sampler.test");
    let _c = builder().build(built.opts.clone(), decoded).unwrap();
    (built.exports.input(), rec)
}

fn tid(hex: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

/// One span per table row (named by its trace ID) in one request; returns the kept spans.
async fn run(args: &str, ids: &[&str], tracestate: &str) -> Vec<Span> {
    let (input, rec) = start(args);
    let mut req = traces(&[("svc", &[])]);
    for id in ids {
        let mut s = span_named(id, tid(id));
        s.trace_state = tracestate.to_string();
        req.resource_spans[0].scope_spans[0].spans.push(s);
    }
    input.consume(traces_payload(&req)).await.unwrap();
    let out = rec.take();
    match out.as_slice() {
        [] => Vec::new(),
        [p] => {
            let spans: Vec<Span> = decode_traces(p)
                .resource_spans
                .into_iter()
                .flat_map(|r| r.scope_spans)
                .flat_map(|s| s.spans)
                .collect();
            assert_eq!(p.items, spans.len() as u64);
            spans
        }
        more => panic!("expected one request, got {}", more.len()),
    }
}

#[tokio::test]
async fn hash_seed_mode_matches_the_collector() {
    let ids: Vec<&str> = HASH_SEED_22_AT_33.iter().map(|r| r.0).collect();
    let kept = run("sampling_percentage = 33\nhash_seed = 22", &ids, "").await;
    let got: Vec<(String, String)> = kept
        .iter()
        .map(|s| (s.name.clone(), s.trace_state.clone()))
        .collect();
    let want: Vec<(String, String)> = HASH_SEED_22_AT_33
        .iter()
        .filter_map(|(id, ts)| ts.map(|ts| (id.to_string(), ts.to_string())))
        .collect();
    assert_eq!(got, want);
}

#[tokio::test]
async fn proportional_is_the_default_mode() {
    let ids: Vec<&str> = PROPORTIONAL_AT_25.iter().map(|r| r.0).collect();
    let kept = run("sampling_percentage = 25", &ids, "vendor=abc").await;
    let got: Vec<&str> = kept.iter().map(|s| s.name.as_str()).collect();
    let want: Vec<&str> = PROPORTIONAL_AT_25
        .iter()
        .filter(|r| r.1)
        .map(|r| r.0)
        .collect();
    assert_eq!(got, want);
    for s in &kept {
        assert_eq!(s.trace_state, "ot=th:c,vendor=abc");
    }
}

#[tokio::test]
async fn equalizing_uses_the_precision() {
    let ids: Vec<&str> = EQUALIZING_AT_60_PREC_2.iter().map(|r| r.0).collect();
    let kept = run(
        "sampling_percentage = 60\nmode = \"equalizing\"\nsampling_precision = 2",
        &ids,
        "",
    )
    .await;
    let got: Vec<&str> = kept.iter().map(|s| s.name.as_str()).collect();
    let want: Vec<&str> = EQUALIZING_AT_60_PREC_2
        .iter()
        .filter(|r| r.1)
        .map(|r| r.0)
        .collect();
    assert_eq!(got, want);
    assert!(kept.iter().all(|s| s.trace_state == "ot=th:66"));
}

#[tokio::test]
async fn proportional_multiplies_an_arriving_threshold() {
    // Arriving th:8 (50%) × 10% = 5% → th:f3333 (precision grows by one leading f). Only
    // IDs whose randomness passes th:8 are consistent; the others are dropped (fail_closed).
    let all = [
        "0af7651916cd43dd8448eb211c80319c",
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "ffffffffffffffffffffffffffffffff",
    ];
    let kept = run("sampling_percentage = 10", &all, "ot=th:8").await;
    let got: Vec<(&str, &str)> = kept
        .iter()
        .map(|s| (s.name.as_str(), s.trace_state.as_str()))
        .collect();
    assert_eq!(got, [("ffffffffffffffffffffffffffffffff", "ot=th:f3333")]);
    // fail_closed = false keeps the inconsistent one, with its bad threshold cleared and the
    // always-sample threshold written.
    let kept = run(
        "sampling_percentage = 10\nfail_closed = false",
        &all[..1],
        "ot=th:8",
    )
    .await;
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].trace_state, "ot=th:0");
}

#[tokio::test]
async fn sampling_priority_overrides_and_zero_percent_drops_all() {
    let (input, rec) = start("sampling_percentage = 0");
    let mut req = traces(&[("svc", &["a"])]);
    let mut keep = span_named("keep", [1; 16]);
    keep.attributes.push(kv("sampling.priority", "1"));
    req.resource_spans[0].scope_spans[0].spans.push(keep);
    input.consume(traces_payload(&req)).await.unwrap();
    let out = rec.take();
    assert_eq!(span_names(&decode_traces(&out[0])), ["keep"]);
    let (input, rec) = start("sampling_percentage = 100");
    let mut req = traces(&[("svc", &["a"])]);
    let mut drop = span_named("drop", [1; 16]);
    drop.attributes.push(kv("sampling.priority", "0"));
    req.resource_spans[0].scope_spans[0].spans.push(drop);
    input.consume(traces_payload(&req)).await.unwrap();
    assert_eq!(span_names(&decode_traces(&rec.take()[0])), ["a"]);
}

#[tokio::test]
async fn logs_use_trace_ids_and_write_sampling_attributes() {
    let (input, rec) = start("sampling_percentage = 33\nhash_seed = 22");
    let mut req = logs(&[("svc", &[])]);
    for (id, _) in HASH_SEED_22_AT_33 {
        req.resource_logs[0].scope_logs[0]
            .log_records
            .push(LogRecord {
                trace_id: tid(id).to_vec(),
                body: None,
                ..Default::default()
            });
    }
    input.consume(logs_payload(&req)).await.unwrap();
    let got = decode_logs(&rec.take()[0]);
    let kept: Vec<LogSummary> = got.resource_logs[0].scope_logs[0]
        .log_records
        .iter()
        .map(|r| {
            let attrs = r
                .attributes
                .iter()
                .map(|kv| {
                    let v = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                        Some(
                            opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(
                                s,
                            ),
                        ) => s.clone(),
                        other => panic!("{other:?}"),
                    };
                    (kv.key.clone(), v)
                })
                .collect();
            (r.trace_id.clone(), attrs)
        })
        .collect();
    let want: Vec<LogSummary> = HASH_SEED_22_AT_33
        .iter()
        .filter_map(|(id, ts)| {
            let ts = (*ts)?;
            let (rv, th) = ts.trim_start_matches("ot=rv:").split_once(";th:").unwrap();
            Some((
                tid(id).to_vec(),
                vec![
                    ("sampling.randomness".to_string(), rv.to_string()),
                    ("sampling.threshold".to_string(), th.to_string()),
                ],
            ))
        })
        .collect();
    assert_eq!(kept, want);
}

#[test]
fn validation() {
    for (args, want) in [
        ("sampling_percentage = -1", "sampling rate is negative"),
        (
            "sampling_percentage = 10\nsampling_precision = 15",
            "sampling precision is too great",
        ),
        (
            "sampling_percentage = 10\nsampling_precision = 0",
            "invalid sampling precision: 0",
        ),
        (
            "sampling_percentage = 10\nmode = \"fancy\"",
            "unsupported sampler mode",
        ),
        (
            "sampling_percentage = 10\nattribute_source = \"span\"",
            "invalid attribute source",
        ),
        (
            "sampling_percentage = 10\nsampling_priority = \"prio\"",
            "sampling_priority is not supported by Solder yet",
        ),
    ] {
        let err = decode_err(&builder(), &format!("{args}\noutput {{}}"));
        assert!(err.contains(want), "{args}: {err}");
    }
}
