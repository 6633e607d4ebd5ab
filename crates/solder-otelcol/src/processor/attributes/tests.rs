//! Differential tests: the encoded traces path against the prost path (the reference) on many
//! generated requests, action lists and include/exclude blocks, on hand-made unusual encodings
//! and on corrupted input.

use super::action::{self, ActionArgs};
use super::matcher::{AttributeArgs, LibraryArgs, MatchArgs, Matcher};
use super::{encoded, Compiled};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    any_value::Value as V, AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use solder_core::signals::otlp::{OtlpPayload, Signal};
use solder_core::testing::Rng;
use solder_syntax::Value;

const KEYS: &[&str] = &[
    "http.route",
    "enduser.id",
    "db.query.text",
    "deployment.environment",
    "user.email",
    "password",
    "k1",
    "k2",
    "",
    "url.path",
    "retry",
];

fn sv(s: &str) -> AnyValue {
    AnyValue {
        value: Some(V::StringValue(s.into())),
    }
}

fn random_value(rng: &mut Rng, depth: u32) -> Option<AnyValue> {
    let v = match rng.below(if depth > 1 { 8 } else { 11 }) {
        0 => return None,
        1 => AnyValue { value: None },
        2 => sv(rng.pick::<&str>(&[
            "",
            "x",
            "héllo",
            "/api/v1/items",
            "/orders/42",
            "12",
            "-3.5",
            "1e3",
        ])),
        3 => AnyValue {
            value: Some(V::IntValue(*rng.pick(&[0, 1, -7, 200, i64::MAX]))),
        },
        4 => AnyValue {
            value: Some(V::BoolValue(rng.below(2) == 1)),
        },
        5 => AnyValue {
            value: Some(V::DoubleValue(*rng.pick(&[0.0, 1.5, -2.25e-9, 1e21, 3.0]))),
        },
        6 => AnyValue {
            value: Some(V::BytesValue(vec![0, 1, 2, 255])),
        },
        7 => AnyValue {
            value: Some(V::StringValueStrindex(3)),
        },
        8 => AnyValue {
            value: Some(V::ArrayValue(ArrayValue {
                values: (0..rng.below(3))
                    .filter_map(|_| random_value(rng, depth + 1))
                    .collect(),
            })),
        },
        _ => AnyValue {
            value: Some(V::KvlistValue(KeyValueList {
                values: (0..rng.below(3))
                    .map(|_| random_kv(rng, depth + 1))
                    .collect(),
            })),
        },
    };
    Some(v)
}

fn random_kv(rng: &mut Rng, depth: u32) -> KeyValue {
    // Now and then a value longer than 127 bytes (a two-byte length prefix).
    let value = if rng.below(12) == 0 {
        Some(sv(&"long-é".repeat(30)))
    } else {
        random_value(rng, depth)
    };
    KeyValue {
        key: rng.pick(KEYS).to_string(),
        value,
        key_strindex: if rng.below(10) == 0 { 5 } else { 0 },
    }
}

fn random_span(rng: &mut Rng) -> Span {
    Span {
        trace_id: vec![7; 16],
        span_id: vec![rng.below(255) as u8; 8],
        name: rng
            .pick(&["GET /items", "POST /orders", "", "db.query"])
            .to_string(),
        kind: rng.below(7) as i32,
        start_time_unix_nano: rng.next_u64(),
        attributes: (0..rng.below(9)).map(|_| random_kv(rng, 0)).collect(),
        events: (0..rng.below(2))
            .map(|_| span::Event {
                name: "ev".into(),
                attributes: vec![random_kv(rng, 0)],
                ..Default::default()
            })
            .collect(),
        links: (0..rng.below(2))
            .map(|_| span::Link {
                trace_id: vec![1; 16],
                attributes: vec![random_kv(rng, 0)],
                flags: 3,
                ..Default::default()
            })
            .collect(),
        status: (rng.below(2) == 1).then(|| Status {
            message: "boom".into(),
            code: 2,
        }),
        dropped_attributes_count: rng.below(3) as u32,
        flags: 1,
        ..Default::default()
    }
}

/// A request of one resource, one scope and `span`.
fn one_span_request(span: Span) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![span],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn random_request(rng: &mut Rng) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: (0..1 + rng.below(3))
            .map(|_| ResourceSpans {
                resource: (rng.below(5) != 0).then(|| Resource {
                    attributes: {
                        let mut a = vec![KeyValue {
                            key: "env".into(),
                            value: Some(sv(rng.pick::<&str>(&["prod", "dev"]))),
                            ..Default::default()
                        }];
                        if rng.below(4) != 0 {
                            a.push(KeyValue {
                                key: "service.name".into(),
                                value: Some(sv(rng.pick::<&str>(&["svc-a", "svc-b"]))),
                                ..Default::default()
                            });
                        }
                        a
                    },
                    ..Default::default()
                }),
                scope_spans: (0..1 + rng.below(3))
                    .map(|_| ScopeSpans {
                        scope: (rng.below(4) != 0).then(|| InstrumentationScope {
                            name: rng.pick(&["lib-a", "lib-b"]).to_string(),
                            version: rng.pick(&["1.0", "2.0"]).to_string(),
                            ..Default::default()
                        }),
                        spans: (0..rng.below(6)).map(|_| random_span(rng)).collect(),
                        schema_url: "https://schema".into(),
                    })
                    .collect(),
                schema_url: String::new(),
            })
            .collect(),
    }
}

fn act(action: &str, key: &str) -> ActionArgs {
    ActionArgs {
        action: action.into(),
        key: key.into(),
        ..Default::default()
    }
}

fn with_value(mut a: ActionArgs, v: Value) -> ActionArgs {
    a.value = Some(v);
    a
}

fn with_from(mut a: ActionArgs, from: &str) -> ActionArgs {
    a.from_attribute = from.into();
    a
}

fn with_pattern(mut a: ActionArgs, p: &str) -> ActionArgs {
    a.pattern = p.into();
    a
}

fn with_type(mut a: ActionArgs, t: &str) -> ActionArgs {
    a.converted_type = t.into();
    a
}

fn action_sets() -> Vec<Vec<ActionArgs>> {
    vec![
        // The benchmark's enrichment and redaction.
        vec![
            with_value(
                act("insert", "deployment.environment"),
                Value::string("production"),
            ),
            with_value(
                act("upsert", "http.route"),
                Value::string("/api/v1/orders/{id}"),
            ),
            act("hash", "enduser.id"),
            act("delete", "db.query.text"),
        ],
        vec![
            with_from(act("update", "k1"), "k2"),
            with_from(act("insert", "k2"), "k1"),
            with_from(act("upsert", "new.key"), "retry"),
            with_value(act("upsert", "k1"), Value::int(42)),
            with_value(act("update", "retry"), Value::Bool(true)),
            with_value(
                act("insert", "password"),
                Value::Number(solder_syntax::Number::Float(2.5)),
            ),
        ],
        vec![
            with_value(
                act("upsert", "arr"),
                Value::Array(vec![Value::string("a"), Value::int(1), Value::Null]),
            ),
            with_value(
                act("insert", "obj"),
                Value::Object(
                    [("x".to_string(), Value::string("y"))]
                        .into_iter()
                        .collect(),
                ),
            ),
            with_value(act("update", "url.path"), Value::string("")),
        ],
        vec![
            with_pattern(act("delete", ""), "^k"),
            with_pattern(act("hash", "user.email"), "pass.*|user\\..*"),
            act("hash", "retry"),
            act("hash", "k1"),
        ],
        vec![
            with_pattern(
                act("extract", "url.path"),
                "^/(?P<first>[a-z]+)/(?P<second>[a-z0-9]+)(?P<third>/x)?",
            ),
            with_pattern(act("extract", "http.route"), "^/(?P<http.route>api)/"),
        ],
        vec![
            with_type(act("convert", "k1"), "int"),
            with_type(act("convert", "k2"), "double"),
            with_type(act("convert", "http.route"), "string"),
            with_type(act("convert", "enduser.id"), "string"),
            with_type(act("convert", "retry"), "int"),
            with_type(act("convert", "url.path"), "double"),
        ],
        vec![
            act("delete", "nothing-has-this"),
            with_from(act("update", "absent"), "also-absent"),
        ],
    ]
}

fn attr_args(key: &str, value: Option<Value>) -> AttributeArgs {
    AttributeArgs {
        key: key.into(),
        value,
    }
}

fn matcher_sets() -> Vec<(Option<MatchArgs>, Option<MatchArgs>)> {
    let strict = |m: MatchArgs| MatchArgs {
        match_type: "strict".into(),
        ..m
    };
    let regexp = |m: MatchArgs| MatchArgs {
        match_type: "regexp".into(),
        ..m
    };
    vec![
        (None, None),
        (
            Some(strict(MatchArgs {
                services: vec!["svc-a".into()],
                ..Default::default()
            })),
            None,
        ),
        (
            Some(regexp(MatchArgs {
                span_names: vec!["^GET".into(), "orders".into()],
                ..Default::default()
            })),
            Some(strict(MatchArgs {
                attribute: vec![attr_args("k1", None)],
                ..Default::default()
            })),
        ),
        (
            Some(strict(MatchArgs {
                attribute: vec![attr_args("k2", Some(Value::string("12")))],
                ..Default::default()
            })),
            None,
        ),
        (
            Some(regexp(MatchArgs {
                attribute: vec![attr_args("http.route", Some(Value::string("^/api")))],
                ..Default::default()
            })),
            Some(regexp(MatchArgs {
                services: vec!["b$".into()],
                ..Default::default()
            })),
        ),
        (
            Some(strict(MatchArgs {
                resource: vec![attr_args("env", Some(Value::string("prod")))],
                library: vec![LibraryArgs {
                    name: "lib-a".into(),
                    version: Some("1.0".into()),
                }],
                ..Default::default()
            })),
            None,
        ),
        (
            None,
            Some(strict(MatchArgs {
                span_kinds: vec!["SPAN_KIND_SERVER".into(), "SPAN_KIND_CLIENT".into()],
                ..Default::default()
            })),
        ),
        (
            Some(strict(MatchArgs {
                attribute: vec![attr_args("retry", Some(Value::Bool(false)))],
                ..Default::default()
            })),
            None,
        ),
    ]
}

fn compiled(
    actions: &[ActionArgs],
    include: Option<&MatchArgs>,
    exclude: Option<&MatchArgs>,
) -> Compiled {
    Compiled::new(
        action::compile(actions).unwrap(),
        include.map(|m| Matcher::new(m).unwrap()),
        exclude.map(|m| Matcher::new(m).unwrap()),
    )
}

fn payload(encoded: Vec<u8>) -> OtlpPayload {
    OtlpPayload {
        signal: Signal::Traces,
        encoded: encoded.into(),
        items: 1,
    }
}

/// The request both paths produce, in prost's canonical encoding (so NaN-free comparison of
/// the decoded messages), or the error text.
fn outcome(r: Result<OtlpPayload, prost::DecodeError>) -> Result<Vec<u8>, String> {
    match r {
        Ok(p) => ExportTraceServiceRequest::decode(p.encoded)
            .map(|req| req.encode_to_vec())
            .map_err(|e| format!("output does not decode: {e}")),
        Err(e) => Err(e.to_string()),
    }
}

/// Assert both paths agree on `encoded`; returns whether the encoded path handled it itself.
fn agree(c: &Compiled, encoded: &[u8], what: &str) -> bool {
    let fast = outcome(c.process(payload(encoded.to_vec())));
    let reference = outcome(c.process_prost(payload(encoded.to_vec())));
    assert_eq!(fast, reference, "{what}");
    encoded::process(c, Signal::Traces, encoded).is_ok()
}

#[test]
fn encoded_path_matches_prost_on_generated_requests() {
    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
    let requests: Vec<Vec<u8>> = (0..60)
        .map(|_| random_request(&mut rng).encode_to_vec())
        .collect();
    let mut cases = 0;
    for (ai, actions) in action_sets().iter().enumerate() {
        for (mi, (inc, exc)) in matcher_sets().iter().enumerate() {
            let c = compiled(actions, inc.as_ref(), exc.as_ref());
            for (ri, req) in requests.iter().enumerate() {
                let handled = agree(
                    &c,
                    req,
                    &format!("actions {ai}, matchers {mi}, request {ri}"),
                );
                assert!(
                    handled,
                    "fell back on a well-formed request: {ai}/{mi}/{ri}"
                );
                cases += 1;
            }
        }
    }
    assert_eq!(cases, 7 * 8 * 60);
}

#[test]
fn unchanged_requests_are_forwarded_as_received() {
    let mut rng = Rng::new(42);
    let req = random_request(&mut rng).encode_to_vec();
    let c = compiled(&[act("delete", "nothing-has-this")], None, None);
    let out = c.process(payload(req.clone())).unwrap();
    assert_eq!(&out.encoded[..], &req[..]);
}

#[test]
fn benchmark_span_changes_as_the_collector_does() {
    let span = Span {
        name: "s".into(),
        attributes: vec![
            KeyValue {
                key: "http.route".into(),
                value: Some(sv("/old")),
                ..Default::default()
            },
            KeyValue {
                key: "db.query.text".into(),
                value: Some(sv("SELECT 1")),
                ..Default::default()
            },
            KeyValue {
                key: "enduser.id".into(),
                value: Some(sv("foo")),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let req = one_span_request(span);
    let c = compiled(&action_sets()[0], None, None);
    let out = c.process(payload(req.encode_to_vec())).unwrap();
    let got = ExportTraceServiceRequest::decode(out.encoded).unwrap();
    let attrs: Vec<(String, AnyValue)> = got.resource_spans[0].scope_spans[0].spans[0]
        .attributes
        .iter()
        .map(|kv| (kv.key.clone(), kv.value.clone().unwrap()))
        .collect();
    assert_eq!(
        attrs,
        vec![
            // upsert replaces in place, delete removes, insert appends.
            ("http.route".to_string(), sv("/api/v1/orders/{id}")),
            (
                "enduser.id".to_string(),
                sv("2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae")
            ),
            ("deployment.environment".to_string(), sv("production")),
        ]
    );
}

// ---- hand-made encodings ----

fn key(num: u32, wire_type: u8) -> Vec<u8> {
    let mut out = Vec::new();
    super::pb::put_varint(&mut out, u64::from(num << 3 | u32::from(wire_type)));
    out
}

fn len_field(num: u32, body: &[u8]) -> Vec<u8> {
    let mut out = key(num, 2);
    super::pb::put_varint(&mut out, body.len() as u64);
    out.extend_from_slice(body);
    out
}

fn varint_field(num: u32, v: u64) -> Vec<u8> {
    let mut out = key(num, 0);
    super::pb::put_varint(&mut out, v);
    out
}

fn kv_bytes(k: &str, v: &str) -> Vec<u8> {
    KeyValue {
        key: k.into(),
        value: Some(sv(v)),
        ..Default::default()
    }
    .encode_to_vec()
}

/// A request with one resource (given body), one scope (given body) and the given span bodies.
fn request(resource: &[u8], scope: &[u8], spans: &[Vec<u8>], scope_first: bool) -> Vec<u8> {
    let mut ss = Vec::new();
    let span_fields: Vec<u8> = spans.iter().flat_map(|s| len_field(2, s)).collect();
    if scope_first {
        ss.extend(len_field(1, scope));
        ss.extend(span_fields);
    } else {
        ss.extend(span_fields);
        ss.extend(len_field(1, scope));
    }
    let mut rs = Vec::new();
    if scope_first {
        rs.extend(len_field(1, resource));
        rs.extend(len_field(2, &ss));
    } else {
        rs.extend(len_field(2, &ss));
        rs.extend(len_field(1, resource));
    }
    len_field(1, &rs)
}

fn service(name: &str) -> Vec<u8> {
    len_field(1, &kv_bytes("service.name", name))
}

fn all_compiled() -> Vec<Compiled> {
    let mut out = Vec::new();
    for actions in action_sets() {
        for (inc, exc) in matcher_sets() {
            out.push(compiled(&actions, inc.as_ref(), exc.as_ref()));
        }
    }
    out
}

#[test]
fn unusual_but_valid_encodings() {
    let attr = |k: &str, v: &str| len_field(9, &kv_bytes(k, v));
    // Attributes interleaved with other fields, name after them, unknown fields everywhere.
    let mut interleaved = Vec::new();
    interleaved.extend(attr("k1", "12"));
    interleaved.extend(varint_field(6, 2));
    interleaved.extend(attr("enduser.id", "x"));
    interleaved.extend(varint_field(99, 5));
    interleaved.extend(len_field(5, b"GET /x"));
    interleaved.extend(attr("http.route", "/api/v"));
    interleaved.extend(len_field(100, b"\xff\xfe unknown, not UTF-8"));
    // A KeyValue with an unknown field and a repeated key (the last one counts).
    let mut odd_kv = len_field(1, b"first");
    odd_kv.extend(len_field(2, &sv("v").encode_to_vec()));
    odd_kv.extend(key(7, 5));
    odd_kv.extend([1, 2, 3, 4]);
    odd_kv.extend(len_field(1, b"k2"));
    interleaved.extend(len_field(9, &odd_kv));
    // AnyValue with two oneof fields: the last one counts.
    let mut two = len_field(1, b"str");
    two.extend(varint_field(3, 12));
    let mut kv = len_field(1, b"retry");
    kv.extend(len_field(2, &two));
    interleaved.extend(len_field(9, &kv));
    // A KeyValue without a value field.
    interleaved.extend(len_field(9, &len_field(1, b"url.path")));

    let plain = [attr("k2", "12"), len_field(5, b"POST /orders")].concat();
    // Two resource fields (prost merges them) and a scope split likewise.
    let resource = [service("svc-b"), len_field(1, &kv_bytes("env", "prod"))].concat();
    let scope = [len_field(1, b"lib-a"), len_field(2, b"1.0")].concat();
    let mut cases = vec![
        request(
            &resource,
            &scope,
            &[interleaved.clone(), plain.clone()],
            true,
        ),
        request(
            &resource,
            &scope,
            &[interleaved.clone(), plain.clone()],
            false,
        ),
        request(
            &service("svc-a"),
            &scope,
            std::slice::from_ref(&plain),
            false,
        ),
    ];
    // Resource field given twice inside ResourceSpans.
    let rs = [
        len_field(1, &service("svc-b")),
        len_field(
            2,
            &[len_field(2, &interleaved), len_field(1, &scope)].concat(),
        ),
        len_field(1, &service("svc-a")),
        len_field(3, b"schema"),
        varint_field(50, 1),
    ]
    .concat();
    cases.push([len_field(1, &rs), varint_field(9, 1)].concat());
    // Non-minimal length varints.
    let mut wide = key(1, 2);
    let inner = [len_field(2, &[len_field(2, &plain)].concat())].concat();
    wide.extend([
        0x80 | (inner.len() as u8 & 0x7f),
        0x80 | (inner.len() >> 7) as u8,
        0x00,
    ]);
    wide.extend(&inner);
    cases.push(wide);
    // A large request: 3-byte lengths that change size class when attributes grow.
    let big: Vec<Vec<u8>> = (0..300).map(|_| interleaved.clone()).collect();
    cases.push(request(&resource, &scope, &big, true));
    let small: Vec<Vec<u8>> = (0..127)
        .map(|_| attr("db.query.text", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"))
        .collect();
    cases.push(request(&resource, &scope, &[small.concat()], true));

    for c in all_compiled() {
        for (i, case) in cases.iter().enumerate() {
            assert!(
                agree(&c, case, &format!("unusual case {i}")),
                "case {i} fell back"
            );
        }
    }
}

#[test]
fn inputs_left_to_prost_give_the_same_results() {
    let plain = [len_field(9, &kv_bytes("k1", "v")), len_field(5, b"n")].concat();
    // Two value fields in one attribute (prost merges the AnyValues).
    let mut kv = len_field(1, b"k1");
    kv.extend(len_field(2, &sv("a").encode_to_vec()));
    kv.extend(len_field(
        2,
        &AnyValue {
            value: Some(V::IntValue(3)),
        }
        .encode_to_vec(),
    ));
    let two_values = len_field(9, &kv);
    // A group (legal for prost as an unknown field).
    let group = [key(20, 3), varint_field(1, 5), key(20, 4), plain.clone()].concat();
    // Nesting deeper than the encoded path follows.
    let mut deep = sv("leaf");
    for _ in 0..40 {
        deep = AnyValue {
            value: Some(V::ArrayValue(ArrayValue { values: vec![deep] })),
        };
    }
    let deep_kv = len_field(
        9,
        &KeyValue {
            key: "k1".into(),
            value: Some(deep),
            ..Default::default()
        }
        .encode_to_vec(),
    );
    let bad_utf8 = len_field(5, b"\xc3\x28");
    let bad_wire = [key(5, 0), vec![1]].concat();
    let end_group = [key(20, 4)].concat();
    let cases = [
        (request(&[], &[], &[two_values], true), true),
        (request(&[], &[], &[group], true), true),
        (request(&[], &[], &[deep_kv], true), true),
        (request(&[], &[], &[bad_utf8], true), false),
        (request(&[], &[], &[bad_wire], true), false),
        (request(&[], &[], &[end_group], true), false),
        (
            request(&[0x0a, 0x05, 0x0a], &[], std::slice::from_ref(&plain), true),
            false,
        ),
    ];
    for c in all_compiled() {
        for (i, (case, prost_accepts)) in cases.iter().enumerate() {
            agree(&c, case, &format!("case {i}"));
            assert_eq!(
                c.process_prost(payload(case.clone())).is_ok(),
                *prost_accepts,
                "case {i}"
            );
            assert!(
                encoded::process(&c, Signal::Traces, case).is_err(),
                "case {i} should be left to prost"
            );
        }
    }
}

#[test]
fn corrupted_requests_behave_as_with_prost() {
    let mut rng = Rng::new(7);
    let compiled_sets = [
        compiled(&action_sets()[0], None, None),
        compiled(
            &action_sets()[3],
            matcher_sets()[4].0.as_ref(),
            matcher_sets()[4].1.as_ref(),
        ),
    ];
    let mut fast_errors = 0;
    for round in 0..1500 {
        let mut req = random_request(&mut rng).encode_to_vec();
        if req.is_empty() {
            continue;
        }
        match rng.below(4) {
            0 => {
                let i = rng.below(req.len());
                req[i] = rng.next_u64() as u8;
            }
            1 => req.truncate(rng.below(req.len())),
            2 => {
                let i = rng.below(req.len());
                req.insert(i, rng.next_u64() as u8);
            }
            _ => {
                for _ in 0..3 {
                    let i = rng.below(req.len());
                    req[i] ^= 1 << rng.below(8);
                }
            }
        }
        for c in &compiled_sets {
            agree(c, &req, &format!("round {round}"));
            if c.process_prost(payload(req.clone())).is_err() {
                fast_errors += 1;
            }
        }
    }
    // Enough of the corruptions must be real decode errors for this test to mean something.
    assert!(fast_errors > 300, "{fast_errors}");
}

// ---- logs ----

use super::matcher::SeverityArgs;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};

fn random_log(rng: &mut Rng) -> LogRecord {
    LogRecord {
        time_unix_nano: rng.next_u64(),
        observed_time_unix_nano: 5,
        severity_number: rng.below(25) as i32,
        severity_text: rng.pick(&["", "INFO", "ERROR"]).to_string(),
        body: random_value(rng, 0),
        attributes: (0..rng.below(9)).map(|_| random_kv(rng, 0)).collect(),
        dropped_attributes_count: rng.below(2) as u32,
        flags: 1,
        trace_id: vec![3; 16],
        span_id: vec![4; 8],
        event_name: rng.pick(&["", "ev"]).to_string(),
    }
}

fn random_logs_request(rng: &mut Rng) -> ExportLogsServiceRequest {
    let traces = random_request(rng);
    // Reuse the trace generator's resources and scopes.
    ExportLogsServiceRequest {
        resource_logs: traces
            .resource_spans
            .into_iter()
            .map(|rs| ResourceLogs {
                resource: rs.resource,
                scope_logs: rs
                    .scope_spans
                    .into_iter()
                    .map(|ss| ScopeLogs {
                        scope: ss.scope,
                        log_records: (0..rng.below(6)).map(|_| random_log(rng)).collect(),
                        schema_url: ss.schema_url,
                    })
                    .collect(),
                schema_url: rs.schema_url,
            })
            .collect(),
    }
}

fn log_matcher_sets() -> Vec<(Option<MatchArgs>, Option<MatchArgs>)> {
    let strict = |m: MatchArgs| MatchArgs {
        match_type: "strict".into(),
        ..m
    };
    let regexp = |m: MatchArgs| MatchArgs {
        match_type: "regexp".into(),
        ..m
    };
    vec![
        (None, None),
        (
            Some(regexp(MatchArgs {
                log_bodies: vec!["^/api".into(), "^1".into(), "true".into()],
                ..Default::default()
            })),
            None,
        ),
        (
            Some(strict(MatchArgs {
                log_severity_texts: vec!["ERROR".into()],
                ..Default::default()
            })),
            Some(strict(MatchArgs {
                attribute: vec![attr_args("k1", None)],
                ..Default::default()
            })),
        ),
        (
            Some(strict(MatchArgs {
                log_severity: Some(SeverityArgs {
                    min: "WARN".into(),
                    match_undefined: true,
                }),
                ..Default::default()
            })),
            Some(strict(MatchArgs {
                resource: vec![attr_args("env", Some(Value::string("dev")))],
                ..Default::default()
            })),
        ),
        (
            Some(regexp(MatchArgs {
                library: vec![LibraryArgs {
                    name: "-a$".into(),
                    version: None,
                }],
                ..Default::default()
            })),
            None,
        ),
    ]
}

fn logs_outcome(r: Result<OtlpPayload, prost::DecodeError>) -> Result<Vec<u8>, String> {
    match r {
        Ok(p) => ExportLogsServiceRequest::decode(p.encoded)
            .map(|req| req.encode_to_vec())
            .map_err(|e| format!("output does not decode: {e}")),
        Err(e) => Err(e.to_string()),
    }
}

fn logs_payload(encoded: &[u8]) -> OtlpPayload {
    OtlpPayload {
        signal: Signal::Logs,
        encoded: encoded.to_vec().into(),
        items: 1,
    }
}

fn logs_agree(c: &Compiled, encoded: &[u8], what: &str) -> bool {
    let fast = logs_outcome(c.process(logs_payload(encoded)));
    let reference = logs_outcome(c.process_prost(logs_payload(encoded)));
    assert_eq!(fast, reference, "{what}");
    encoded::process(c, Signal::Logs, encoded).is_ok()
}

#[test]
fn encoded_logs_path_matches_prost() {
    let mut rng = Rng::new(0x51_7cc1_b727_220a);
    let requests: Vec<Vec<u8>> = (0..40)
        .map(|_| random_logs_request(&mut rng).encode_to_vec())
        .collect();
    for (ai, actions) in action_sets().iter().enumerate() {
        for (mi, (inc, exc)) in log_matcher_sets().iter().enumerate() {
            let c = compiled(actions, inc.as_ref(), exc.as_ref());
            for (ri, req) in requests.iter().enumerate() {
                let what = format!("logs: actions {ai}, matchers {mi}, request {ri}");
                assert!(logs_agree(&c, req, &what), "fell back: {what}");
            }
        }
    }
    // A body given twice (prost merges the two AnyValues) and corrupted requests.
    let c = compiled(&action_sets()[0], log_matcher_sets()[1].0.as_ref(), None);
    let body = |v: &AnyValue| len_field(5, &v.encode_to_vec());
    let record = [
        body(&sv("/api/x")),
        len_field(6, &kv_bytes("enduser.id", "u")),
        body(&AnyValue {
            value: Some(V::IntValue(12)),
        }),
    ]
    .concat();
    let req = len_field(1, &len_field(2, &len_field(2, &record)));
    assert!(logs_agree(&c, &req, "two bodies"));
    for round in 0..600 {
        let mut req = requests[round % requests.len()].clone();
        if req.is_empty() {
            continue;
        }
        let i = rng.below(req.len());
        if round % 2 == 0 {
            req[i] = rng.next_u64() as u8;
        } else {
            req.truncate(i);
        }
        logs_agree(&c, &req, &format!("corrupted logs round {round}"));
    }
}

#[test]
fn metrics_keep_the_prost_path() {
    let c = compiled(&action_sets()[0], None, None);
    assert_eq!(
        encoded::process(&c, Signal::Metrics, &[]).err(),
        Some(super::pb::Unhandled)
    );
}

// ---- the shortcut for simple action lists (`fast`) ----

/// Action lists the shortcut admits, aimed at its state handling: a key deleted then
/// inserted again, values read from keys changed or deleted before, absent values hashed or
/// copied, a key longer than the length mask distinguishes.
fn fast_action_sets() -> Vec<Vec<ActionArgs>> {
    let long_key = "x".repeat(70);
    vec![
        vec![
            act("delete", "k1"),
            with_value(act("insert", "k1"), Value::string("again")),
            with_value(act("insert", "k2"), Value::int(5)),
            act("delete", "k2"),
            with_value(act("upsert", "k2"), Value::Bool(true)),
        ],
        vec![
            with_from(act("insert", "k1"), "k2"),
            act("delete", "k2"),
            with_from(act("upsert", "k2"), "k1"),
            act("hash", "k1"),
            with_from(act("update", "retry"), "k1"),
        ],
        vec![
            with_from(act("update", "k1"), "absent"),
            with_from(act("upsert", "absent"), "k1"),
            act("delete", "k1"),
            with_from(act("insert", "k1"), "absent"),
            act("hash", "absent"),
            act("hash", "password"),
        ],
        vec![
            act("hash", "retry"),
            act("hash", "k2"),
            act("hash", "url.path"),
            with_value(act("upsert", &long_key), Value::string("long")),
            with_from(act("insert", "enduser.id"), &long_key),
        ],
        vec![
            act("delete", &long_key),
            act("delete", "http.route"),
            act("delete", "k1"),
        ],
    ]
}

/// `random_request` with, in every other span, each key at most once (so the shortcut keeps
/// every span) and now and then a 70-byte key.
fn unique_key_request(rng: &mut Rng) -> ExportTraceServiceRequest {
    let mut req = random_request(rng);
    let long_key = "x".repeat(70);
    for rs in &mut req.resource_spans {
        for ss in &mut rs.scope_spans {
            for (i, span) in ss.spans.iter_mut().enumerate() {
                if i % 2 == 1 {
                    continue;
                }
                let mut seen = std::collections::HashSet::new();
                span.attributes.retain(|kv| seen.insert(kv.key.clone()));
                if let Some(kv) = span.attributes.first_mut() {
                    if rng.below(3) == 0 && !seen.contains(&long_key) {
                        kv.key.clone_from(&long_key);
                    }
                }
            }
        }
    }
    req
}

/// The encoded path's result with and without the shortcut must be the same bytes.
fn same_with_and_without_shortcut(c: &Compiled, signal: Signal, encoded: &[u8], what: &str) {
    let general = Compiled::new(c.actions.clone(), None, None);
    let general = Compiled {
        fast: None,
        ..general
    };
    let with = encoded::process(c, signal, encoded).map(|o| match o {
        encoded::Outcome::Unchanged => None,
        encoded::Outcome::Rewritten(b) => Some(b),
    });
    let without = encoded::process(&general, signal, encoded).map(|o| match o {
        encoded::Outcome::Unchanged => None,
        encoded::Outcome::Rewritten(b) => Some(b),
    });
    assert_eq!(with, without, "{what}");
}

#[test]
fn shortcut_is_taken_only_for_simple_action_lists() {
    let admitted: Vec<bool> = action_sets()
        .iter()
        .map(|a| compiled(a, None, None).fast.is_some())
        .collect();
    // Sets 3, 4 and 5 use patterns, extract and convert.
    assert_eq!(
        admitted,
        [true, true, true, false, false, false, true],
        "{admitted:?}"
    );
    for (i, a) in fast_action_sets().iter().enumerate() {
        assert!(compiled(a, None, None).fast.is_some(), "fast set {i}");
    }
    // More distinct keys than the slot table holds.
    let many: Vec<ActionArgs> = (0..70).map(|i| act("delete", &format!("k{i}"))).collect();
    assert!(compiled(&many, None, None).fast.is_none());
}

#[test]
fn shortcut_writes_what_the_general_path_writes() {
    let mut rng = Rng::new(0x2545_f491_4f6c_dd1d);
    let requests: Vec<Vec<u8>> = (0..80)
        .map(|i| {
            if i % 2 == 0 {
                unique_key_request(&mut rng).encode_to_vec()
            } else {
                random_request(&mut rng).encode_to_vec()
            }
        })
        .collect();
    let sets: Vec<Vec<ActionArgs>> = action_sets()
        .into_iter()
        .chain(fast_action_sets())
        .collect();
    let mut rewritten = 0;
    for (ai, actions) in sets.iter().enumerate() {
        let c = compiled(actions, None, None);
        for (ri, req) in requests.iter().enumerate() {
            let what = format!("actions {ai}, request {ri}");
            same_with_and_without_shortcut(&c, Signal::Traces, req, &what);
            // And against prost, decoding the output with the official types.
            assert!(agree(&c, req, &what), "fell back: {what}");
            if matches!(
                encoded::process(&c, Signal::Traces, req),
                Ok(encoded::Outcome::Rewritten(_))
            ) {
                rewritten += 1;
            }
        }
    }
    assert!(rewritten > 500, "{rewritten}");
}

#[test]
fn shortcut_on_logs_and_corrupted_input() {
    let mut rng = Rng::new(0x0bad_cafe);
    let sets: Vec<Vec<ActionArgs>> = action_sets()
        .into_iter()
        .chain(fast_action_sets())
        .collect();
    let logs: Vec<Vec<u8>> = (0..30)
        .map(|_| random_logs_request(&mut rng).encode_to_vec())
        .collect();
    for (ai, actions) in sets.iter().enumerate() {
        let c = compiled(actions, None, None);
        for (ri, req) in logs.iter().enumerate() {
            let what = format!("logs: actions {ai}, request {ri}");
            same_with_and_without_shortcut(&c, Signal::Logs, req, &what);
            assert!(logs_agree(&c, req, &what), "fell back: {what}");
        }
    }
    let c = compiled(&fast_action_sets()[0], None, None);
    for round in 0..1000 {
        let mut req = unique_key_request(&mut rng).encode_to_vec();
        if req.is_empty() {
            continue;
        }
        let i = rng.below(req.len());
        match round % 3 {
            0 => req[i] = rng.next_u64() as u8,
            1 => req.truncate(i),
            _ => req[i] ^= 1 << rng.below(8),
        }
        let what = format!("corrupted round {round}");
        same_with_and_without_shortcut(&c, Signal::Traces, &req, &what);
        agree(&c, &req, &what);
    }
}

#[test]
fn shortcut_keeps_the_benchmark_span_shape() {
    // Attribute order after the benchmark's actions: upsert in place, delete removes, hash in
    // place, insert appends; decoded with the official types.
    let c = compiled(&action_sets()[0], None, None);
    assert!(c.fast.is_some());
    let span = Span {
        name: "s".into(),
        attributes: ["a", "http.route", "b", "db.query.text", "enduser.id", "c"]
            .iter()
            .map(|k| KeyValue {
                key: (*k).into(),
                value: Some(sv("v")),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let req = one_span_request(span);
    let out = c.process(payload(req.encode_to_vec())).unwrap();
    let got = ExportTraceServiceRequest::decode(out.encoded).unwrap();
    let keys: Vec<&str> = got.resource_spans[0].scope_spans[0].spans[0]
        .attributes
        .iter()
        .map(|kv| kv.key.as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "a",
            "http.route",
            "b",
            "enduser.id",
            "c",
            "deployment.environment"
        ]
    );
}
