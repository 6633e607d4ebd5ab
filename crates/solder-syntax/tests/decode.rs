//! Decoding evaluated bodies into typed argument structs (Alloy's block rules, §1.4 and §1.7).
//! Bodies are built by hand so every item has its own span and error positions can be checked.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde::Deserialize;
use solder_syntax::decode::{decode, decode_squashed, decode_value};
use solder_syntax::eval::{AttrValue, BlockValue, BodyItem, BodyValue};
use solder_syntax::types::{ByteSize, CapsuleOf, GoDuration};
use solder_syntax::{Capsule, Diagnostics, FileId, Secret, Span, Value};
use std::collections::BTreeMap;
use std::time::Duration;

// ---- builders -------------------------------------------------------------------------------

/// Item `n` has its name at `10n..10n+1` and its value at `10n+5..10n+6`.
fn name_span(n: u32) -> Span {
    Span::new(FileId(0), n * 10, n * 10 + 1)
}
fn value_span(n: u32) -> Span {
    Span::new(FileId(0), n * 10 + 5, n * 10 + 6)
}
const BODY_SPAN: Span = Span {
    file: FileId(0),
    lo: 9000,
    hi: 9999,
};

fn attr(n: u32, name: &str, value: impl Into<Value>) -> BodyItem {
    BodyItem::Attr(AttrValue {
        name: name.to_string(),
        name_span: name_span(n),
        value: value.into(),
        value_span: value_span(n),
    })
}

fn block(n: u32, name: &str, label: Option<&str>, items: Vec<BodyItem>) -> BodyItem {
    BodyItem::Block(BlockValue {
        name: name.to_string(),
        label: label.map(str::to_string),
        span: name_span(n),
        body: BodyValue {
            items,
            span: name_span(n),
        },
    })
}

fn body(items: Vec<BodyItem>) -> BodyValue {
    BodyValue {
        items,
        span: BODY_SPAN,
    }
}

fn obj(entries: &[(&str, Value)]) -> Value {
    Value::Object(
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}

fn strs(items: &[&str]) -> Value {
    Value::Array(items.iter().map(|s| Value::from(*s)).collect())
}

/// (span, message) of every diagnostic.
fn errs(d: Diagnostics) -> Vec<(Span, String)> {
    d.into_iter().map(|d| (d.span, d.message)).collect()
}

fn one_err<T: std::fmt::Debug>(r: Result<T, Diagnostics>) -> (Span, String) {
    let e = errs(r.expect_err("expected an error"));
    assert_eq!(e.len(), 1, "{e:?}");
    e.into_iter().next().unwrap()
}

// ---- argument structs modelled on real components --------------------------------------------

#[derive(Debug, Deserialize, PartialEq, Default)]
enum Action {
    #[default]
    #[serde(rename = "replace")]
    Replace,
    #[serde(rename = "keep")]
    Keep,
    #[serde(rename = "drop")]
    Drop,
    #[serde(rename = "labelmap")]
    LabelMap,
}

fn default_separator() -> String {
    ";".to_string()
}

#[derive(Debug, Deserialize, PartialEq)]
struct Rule {
    #[serde(default)]
    source_labels: Vec<String>,
    #[serde(default = "default_separator")]
    separator: String,
    #[serde(default)]
    regex: Option<String>,
    #[serde(default)]
    target_label: String,
    #[serde(default)]
    replacement: Option<String>,
    #[serde(default)]
    action: Action,
    #[serde(default)]
    modulus: u64,
}

#[derive(Debug, Deserialize, PartialEq)]
struct RelabelArgs {
    targets: Vec<BTreeMap<String, String>>,
    #[serde(default, rename = "rule")]
    rules: Vec<Rule>,
}

#[derive(Debug, Deserialize, PartialEq)]
struct BasicAuth {
    username: String,
    #[serde(default)]
    password: Option<Secret>,
}

fn default_timeout() -> GoDuration {
    GoDuration::from_secs(30)
}

#[derive(Debug, Deserialize, PartialEq)]
struct Endpoint {
    #[serde(rename = "$label", default)]
    name: String,
    url: String,
    #[serde(default = "default_timeout")]
    remote_timeout: GoDuration,
    #[serde(default)]
    basic_auth: Option<BasicAuth>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize, PartialEq)]
struct WriteArgs {
    #[serde(default, rename = "endpoint")]
    endpoints: Vec<Endpoint>,
    #[serde(default)]
    external_labels: BTreeMap<String, String>,
}

// ---- relabel-like rules ----------------------------------------------------------------------

#[test]
fn relabel_rules_keep_source_order_and_defaults() {
    let b = body(vec![
        attr(
            1,
            "targets",
            Value::Array(vec![obj(&[("__address__", "h:9090".into())])]),
        ),
        block(
            2,
            "rule",
            None,
            vec![
                attr(3, "source_labels", strs(&["__meta_a", "__meta_b"])),
                attr(4, "target_label", "a"),
            ],
        ),
        block(
            5,
            "rule",
            None,
            vec![attr(6, "action", "keep"), attr(7, "regex", "x.*")],
        ),
    ]);
    let args: RelabelArgs = decode(&b).unwrap();
    assert_eq!(args.targets[0]["__address__"], "h:9090");
    assert_eq!(args.rules.len(), 2);
    assert_eq!(args.rules[0].source_labels, vec!["__meta_a", "__meta_b"]);
    assert_eq!(args.rules[0].separator, ";");
    assert_eq!(args.rules[0].action, Action::Replace);
    assert_eq!(args.rules[1].action, Action::Keep);
    assert_eq!(args.rules[1].regex.as_deref(), Some("x.*"));
}

#[test]
fn missing_required_attribute_points_at_the_body() {
    let b = body(vec![block(1, "rule", None, vec![])]);
    let (span, msg) = one_err(decode::<RelabelArgs>(&b));
    assert_eq!(msg, "missing required attribute \"targets\"");
    assert_eq!(span, BODY_SPAN);
}

#[test]
fn missing_required_inside_a_block_points_at_the_block() {
    let b = body(vec![block(1, "endpoint", Some("a"), vec![])]);
    let (span, msg) = one_err(decode::<WriteArgs>(&b));
    assert_eq!(msg, "missing required attribute \"url\"");
    assert_eq!(span, name_span(1));
}

#[test]
fn missing_required_block_is_named_a_block() {
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Args {
        client: BasicAuth,
        rules: Vec<Rule>,
        name: String,
    }
    let e = errs(decode::<Args>(&body(vec![attr(1, "name", "x")])).unwrap_err());
    assert_eq!(
        e,
        vec![(BODY_SPAN, "missing required block \"client\"".to_string())]
    );
    let b = body(vec![
        attr(1, "name", "x"),
        block(2, "client", None, vec![attr(3, "username", "u")]),
    ]);
    let e = errs(decode::<Args>(&b).unwrap_err());
    assert_eq!(
        e,
        vec![(BODY_SPAN, "missing required block \"rules\"".to_string())]
    );
    let b = body(vec![
        block(2, "client", None, vec![]),
        block(4, "rules", None, vec![]),
    ]);
    let e = errs(decode::<Args>(&b).unwrap_err());
    // Inside `client`, `username` is an attribute; decoding stops at the first missing field.
    assert_eq!(
        e,
        vec![(
            name_span(2),
            "missing required attribute \"username\"".to_string()
        )]
    );
}

#[test]
fn unknown_attribute_is_rejected_at_its_name() {
    let b = body(vec![
        attr(1, "targets", Value::Array(vec![])),
        attr(2, "tragets", 1),
    ]);
    let (span, msg) = one_err(decode::<RelabelArgs>(&b));
    assert_eq!(msg, "unrecognized attribute name \"tragets\"");
    assert_eq!(span, name_span(2));
}

#[test]
fn unknown_block_is_rejected_at_its_name() {
    let b = body(vec![
        attr(1, "targets", Value::Array(vec![])),
        block(2, "rules", None, vec![]),
    ]);
    let (span, msg) = one_err(decode::<RelabelArgs>(&b));
    assert_eq!(msg, "unrecognized block name \"rules\"");
    assert_eq!(span, name_span(2));
}

#[test]
fn unknown_attribute_inside_nested_block() {
    let b = body(vec![
        attr(1, "targets", Value::Array(vec![])),
        block(2, "rule", None, vec![attr(3, "target", "x")]),
    ]);
    let (span, msg) = one_err(decode::<RelabelArgs>(&b));
    assert_eq!(msg, "unrecognized attribute name \"target\"");
    assert_eq!(span, name_span(3));
}

#[test]
fn all_errors_of_a_body_are_collected() {
    let b = body(vec![
        attr(1, "targets", Value::Array(vec![])),
        attr(2, "bogus", 1),
        block(3, "rule", None, vec![attr(4, "modulus", true)]),
        block(5, "nope", None, vec![]),
        block(
            6,
            "rule",
            None,
            vec![attr(7, "separator", Value::Array(vec![]))],
        ),
    ]);
    let e = errs(decode::<RelabelArgs>(&b).unwrap_err());
    assert_eq!(
        e,
        vec![
            (
                name_span(2),
                "unrecognized attribute name \"bogus\"".to_string()
            ),
            (value_span(4), "true should be number, got bool".to_string()),
            (name_span(5), "unrecognized block name \"nope\"".to_string()),
            (value_span(7), "[] should be string, got array".to_string()),
        ]
    );
}

#[test]
fn non_repeatable_block_twice() {
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Args {
        #[serde(default)]
        basic_auth: Option<BasicAuth>,
    }
    let b = body(vec![
        block(1, "basic_auth", None, vec![attr(2, "username", "a")]),
        block(3, "basic_auth", None, vec![attr(4, "username", "b")]),
    ]);
    let (span, msg) = one_err(decode::<Args>(&b));
    assert_eq!(msg, "block \"basic_auth\" may only be specified once");
    assert_eq!(span, name_span(3));
}

#[test]
fn block_used_as_attribute() {
    let b = body(vec![block(
        1,
        "endpoint",
        Some("a"),
        vec![
            attr(2, "url", "http://x"),
            attr(3, "basic_auth", obj(&[("username", "u".into())])),
        ],
    )]);
    let (span, msg) = one_err(decode::<WriteArgs>(&b));
    assert_eq!(
        msg,
        "\"basic_auth\" must be a block, but is used as an attribute"
    );
    assert_eq!(span, name_span(3));
}

#[test]
fn attribute_used_as_block() {
    let b = body(vec![block(
        1,
        "endpoint",
        Some("a"),
        vec![block(2, "url", None, vec![])],
    )]);
    let (span, msg) = one_err(decode::<WriteArgs>(&b));
    assert_eq!(msg, "\"url\" must be an attribute, but is used as a block");
    assert_eq!(span, name_span(2));
}

#[test]
fn duplicate_attribute() {
    let b = body(vec![
        attr(1, "targets", Value::Array(vec![])),
        attr(2, "targets", Value::Array(vec![])),
    ]);
    let (span, msg) = one_err(decode::<RelabelArgs>(&b));
    assert_eq!(msg, "attribute \"targets\" may only be provided once");
    assert_eq!(span, name_span(2));
}

// ---- labels ----------------------------------------------------------------------------------

#[test]
fn label_goes_into_label_field() {
    let b = body(vec![
        block(
            1,
            "endpoint",
            Some("primary"),
            vec![attr(2, "url", "http://a")],
        ),
        block(
            3,
            "endpoint",
            Some("backup"),
            vec![attr(4, "url", "http://b")],
        ),
    ]);
    let args: WriteArgs = decode(&b).unwrap();
    let names: Vec<&str> = args.endpoints.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["primary", "backup"]);
}

#[test]
fn label_required_when_struct_wants_one() {
    let b = body(vec![block(
        1,
        "endpoint",
        None,
        vec![attr(2, "url", "http://a")],
    )]);
    let (span, msg) = one_err(decode::<WriteArgs>(&b));
    assert_eq!(msg, "block \"endpoint\" requires non-empty label");
    assert_eq!(span, name_span(1));
}

#[test]
fn label_refused_when_struct_has_no_label_field() {
    let b = body(vec![
        attr(1, "targets", Value::Array(vec![])),
        block(2, "rule", Some("x"), vec![]),
    ]);
    let (span, msg) = one_err(decode::<RelabelArgs>(&b));
    assert_eq!(msg, "block \"rule\" does not support specifying labels");
    assert_eq!(span, name_span(2));
}

// ---- enum blocks -----------------------------------------------------------------------------

#[derive(Debug, Deserialize, PartialEq, Default)]
struct CriArgs {
    #[serde(default)]
    max_partial_lines: u64,
}

#[derive(Debug, Deserialize, PartialEq)]
struct JsonArgs {
    expressions: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize, PartialEq)]
struct MatchArgs {
    selector: String,
    #[serde(default, rename = "stage")]
    stages: Vec<Stage>,
}

#[derive(Debug, Deserialize, PartialEq)]
enum Stage {
    #[serde(rename = "cri")]
    Cri(CriArgs),
    #[serde(rename = "json")]
    Json(JsonArgs),
    #[serde(rename = "match")]
    Match(MatchArgs),
    #[serde(rename = "drop")]
    Drop {
        #[serde(default)]
        source: String,
    },
}

#[derive(Debug, Deserialize, PartialEq)]
struct ProcessArgs {
    #[serde(default, rename = "stage")]
    stages: Vec<Stage>,
    forward_to: Vec<Value>,
}

#[test]
fn enum_blocks_become_ordered_variants() {
    let b = body(vec![
        block(1, "stage.cri", None, vec![]),
        attr(2, "forward_to", Value::Array(vec![])),
        block(
            3,
            "stage.json",
            None,
            vec![attr(4, "expressions", obj(&[("level", "lvl".into())]))],
        ),
        block(
            5,
            "stage.match",
            None,
            vec![
                attr(6, "selector", "{app=\"x\"}"),
                block(7, "stage.drop", None, vec![attr(8, "source", "msg")]),
            ],
        ),
        block(
            9,
            "stage.cri",
            None,
            vec![attr(10, "max_partial_lines", 10)],
        ),
    ]);
    let args: ProcessArgs = decode(&b).unwrap();
    assert_eq!(
        args.stages,
        vec![
            Stage::Cri(CriArgs::default()),
            Stage::Json(JsonArgs {
                expressions: [("level".to_string(), "lvl".to_string())].into()
            }),
            Stage::Match(MatchArgs {
                selector: "{app=\"x\"}".to_string(),
                stages: vec![Stage::Drop {
                    source: "msg".to_string()
                }],
            }),
            Stage::Cri(CriArgs {
                max_partial_lines: 10
            }),
        ]
    );
}

#[test]
fn unknown_enum_block_kind() {
    let b = body(vec![
        attr(1, "forward_to", Value::Array(vec![])),
        block(2, "stage.crii", None, vec![]),
        block(3, "stage.json", None, vec![attr(4, "expressions", 5)]),
    ]);
    let e = errs(decode::<ProcessArgs>(&b).unwrap_err());
    assert_eq!(
        e[0],
        (
            name_span(2),
            "unrecognized block name \"stage.crii\"".to_string()
        )
    );
    // Decoding went on: the type error in the next stage is reported too.
    assert_eq!(
        e[1],
        (value_span(4), "5 should be object, got number".to_string())
    );
}

// ---- conversions -----------------------------------------------------------------------------

#[derive(Debug, Deserialize, PartialEq)]
struct ScrapeArgs {
    #[serde(default = "default_job")]
    job_name: String,
    #[serde(default = "default_interval")]
    scrape_interval: GoDuration,
    #[serde(default = "default_true")]
    honor_labels: bool,
    #[serde(default = "default_limit")]
    sample_limit: u64,
    #[serde(default)]
    port: i32,
    #[serde(default)]
    ratio: f64,
    #[serde(default)]
    body_size_limit: ByteSize,
}

fn default_job() -> String {
    "job".into()
}
fn default_interval() -> GoDuration {
    GoDuration::from_secs(60)
}
fn default_true() -> bool {
    true
}
fn default_limit() -> u64 {
    100
}

#[test]
fn absent_fields_take_defaults() {
    let args: ScrapeArgs = decode(&body(vec![])).unwrap();
    assert_eq!(args.job_name, "job");
    assert_eq!(args.scrape_interval, GoDuration::from_secs(60));
    assert!(args.honor_labels);
    assert_eq!(args.sample_limit, 100);
}

#[test]
fn null_gives_the_zero_value_not_the_default() {
    let b = body(vec![
        attr(1, "job_name", Value::Null),
        attr(2, "scrape_interval", Value::Null),
        attr(3, "honor_labels", Value::Null),
        attr(4, "sample_limit", Value::Null),
        attr(5, "body_size_limit", Value::Null),
    ]);
    let args: ScrapeArgs = decode(&b).unwrap();
    assert_eq!(args.job_name, "");
    assert_eq!(args.scrape_interval, GoDuration(Duration::ZERO));
    assert!(!args.honor_labels);
    assert_eq!(args.sample_limit, 0);
    assert_eq!(args.body_size_limit, ByteSize(0));
}

#[test]
fn numbers_convert_to_strings() {
    let b = body(vec![attr(1, "job_name", 5)]);
    assert_eq!(decode::<ScrapeArgs>(&b).unwrap().job_name, "5");
    let b = body(vec![attr(1, "job_name", 1.5)]);
    assert_eq!(decode::<ScrapeArgs>(&b).unwrap().job_name, "1.5");
    let b = body(vec![attr(1, "job_name", -7i64)]);
    assert_eq!(decode::<ScrapeArgs>(&b).unwrap().job_name, "-7");
}

#[test]
fn strings_convert_to_numbers() {
    let b = body(vec![
        attr(1, "sample_limit", "42"),
        attr(2, "port", "-3"),
        attr(3, "ratio", "2.5"),
    ]);
    let args: ScrapeArgs = decode(&b).unwrap();
    assert_eq!((args.sample_limit, args.port, args.ratio), (42, -3, 2.5));
}

#[test]
fn bad_numeric_strings_are_type_errors() {
    let b = body(vec![attr(1, "sample_limit", ""), attr(2, "port", "eighty")]);
    let e = errs(decode::<ScrapeArgs>(&b).unwrap_err());
    assert_eq!(
        e,
        vec![
            (
                value_span(1),
                "\"\" should be number, got string".to_string()
            ),
            (
                value_span(2),
                "\"eighty\" should be number, got string".to_string()
            ),
        ]
    );
}

#[test]
fn floats_truncate_into_integers() {
    let b = body(vec![attr(1, "port", 8080.9), attr(2, "sample_limit", 3.99)]);
    let args: ScrapeArgs = decode(&b).unwrap();
    assert_eq!((args.port, args.sample_limit), (8080, 3));
}

#[test]
fn integer_out_of_range_is_an_error_with_the_value_span() {
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Args {
        level: u8,
    }
    let (span, msg) = one_err(decode::<Args>(&body(vec![attr(1, "level", 300)])));
    assert_eq!(span, value_span(1));
    assert!(msg.contains("300"), "{msg}");
}

#[test]
fn wrong_kinds_use_alloy_messages() {
    let b = body(vec![
        attr(1, "job_name", true),
        attr(2, "honor_labels", "yes"),
        attr(3, "job_name", 1),
    ]);
    let e = errs(decode::<ScrapeArgs>(&b).unwrap_err());
    assert_eq!(e.len(), 3, "{e:?}");
    assert_eq!(
        e[0],
        (value_span(1), "true should be string, got bool".to_string())
    );
    assert_eq!(
        e[1],
        (
            value_span(2),
            "\"yes\" should be bool, got string".to_string()
        )
    );
    assert_eq!(e[2].1, "attribute \"job_name\" may only be provided once");
}

#[test]
fn element_errors_name_the_element() {
    let b = body(vec![attr(
        1,
        "targets",
        Value::Array(vec![obj(&[("a", Value::Array(vec![Value::from(1)]))])]),
    )]);
    let (span, msg) = one_err(decode::<RelabelArgs>(&b));
    assert_eq!(span, value_span(1));
    assert_eq!(msg, "[1] should be string, got array");
}

#[test]
fn durations_use_go_syntax() {
    let b = body(vec![attr(1, "scrape_interval", "1m30s")]);
    assert_eq!(
        decode::<ScrapeArgs>(&b).unwrap().scrape_interval,
        GoDuration::from_secs(90)
    );
    let b = body(vec![attr(1, "scrape_interval", "1d")]);
    let (span, msg) = one_err(decode::<ScrapeArgs>(&b));
    assert_eq!(span, value_span(1));
    assert_eq!(msg, "\"1d\" time: unknown unit \"d\" in duration \"1d\"");
    let b = body(vec![attr(1, "scrape_interval", 5)]);
    let (_, msg) = one_err(decode::<ScrapeArgs>(&b));
    assert_eq!(msg, "5 time: missing unit in duration \"5\"");
}

#[test]
fn byte_sizes_are_base_two() {
    for (v, want) in [
        (Value::from("4MiB"), 4u64 << 20),
        (Value::from("20MB"), 20 << 20),
        (Value::from("1.5KB"), 1536),
        (Value::from(1024), 1024),
    ] {
        let b = body(vec![attr(1, "body_size_limit", v)]);
        assert_eq!(
            decode::<ScrapeArgs>(&b).unwrap().body_size_limit,
            ByteSize(want)
        );
    }
    let b = body(vec![attr(1, "body_size_limit", "10")]);
    let (_, msg) = one_err(decode::<ScrapeArgs>(&b));
    assert!(msg.contains("missing unit"), "{msg}");
}

#[test]
fn objects_decode_into_maps_with_conversion() {
    let b = body(vec![attr(
        1,
        "external_labels",
        obj(&[("cluster", "prod".into()), ("replica", 2.into())]),
    )]);
    let args: WriteArgs = decode(&b).unwrap();
    assert_eq!(args.external_labels["cluster"], "prod");
    assert_eq!(args.external_labels["replica"], "2");
}

#[test]
fn object_into_struct_rejects_unknown_keys() {
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Target {
        address: String,
    }
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Args {
        targets: Vec<Target>,
    }
    let b = body(vec![attr(
        1,
        "targets",
        Value::Array(vec![obj(&[
            ("address", "a".into()),
            ("adress", "b".into()),
        ])]),
    )]);
    let (span, msg) = one_err(decode::<Args>(&b));
    assert_eq!(span, value_span(1));
    assert!(
        msg.ends_with("does not have field named \"adress\""),
        "{msg}"
    );
}

#[test]
fn empty_block_still_gets_defaults() {
    #[derive(Debug, Deserialize, PartialEq)]
    struct Grpc {
        #[serde(default = "grpc_endpoint")]
        endpoint: String,
    }
    fn grpc_endpoint() -> String {
        "0.0.0.0:4317".into()
    }
    #[derive(Debug, Deserialize, PartialEq)]
    struct Args {
        #[serde(default)]
        grpc: Option<Grpc>,
        #[serde(default)]
        http: Option<Grpc>,
    }
    let args: Args = decode(&body(vec![block(1, "grpc", None, vec![])])).unwrap();
    assert_eq!(
        args,
        Args {
            grpc: Some(Grpc {
                endpoint: "0.0.0.0:4317".into()
            }),
            http: None
        }
    );
}

#[test]
fn block_body_into_a_map() {
    #[derive(Debug, Deserialize)]
    struct Args {
        #[serde(default)]
        labels: BTreeMap<String, String>,
    }
    let b = body(vec![block(
        1,
        "labels",
        None,
        vec![attr(2, "a", "1"), attr(3, "b", 2)],
    )]);
    let args: Args = decode(&b).unwrap();
    assert_eq!(args.labels["a"], "1");
    assert_eq!(args.labels["b"], "2");
}

// ---- secrets, capsules, raw values -----------------------------------------------------------

#[test]
fn strings_and_secrets_go_into_secret_fields() {
    let b = body(vec![block(
        1,
        "endpoint",
        Some("a"),
        vec![
            attr(2, "url", "http://x"),
            block(
                3,
                "basic_auth",
                None,
                vec![attr(4, "username", "u"), attr(5, "password", "plain")],
            ),
        ],
    )]);
    let args: WriteArgs = decode(&b).unwrap();
    let auth = args.endpoints[0].basic_auth.as_ref().unwrap();
    assert_eq!(auth.password.as_ref().unwrap().expose(), "plain");

    let b = body(vec![block(
        1,
        "endpoint",
        Some("a"),
        vec![
            attr(2, "url", "http://x"),
            block(
                3,
                "basic_auth",
                None,
                vec![
                    attr(4, "username", "u"),
                    attr(5, "password", Secret::new("hunter2")),
                ],
            ),
        ],
    )]);
    let args: WriteArgs = decode(&b).unwrap();
    let auth = args.endpoints[0].basic_auth.as_ref().unwrap();
    assert_eq!(auth.password.as_ref().unwrap().expose(), "hunter2");
}

#[test]
fn a_secret_never_goes_into_a_string() {
    let b = body(vec![block(
        1,
        "endpoint",
        Some("a"),
        vec![attr(2, "url", Secret::new("hunter2"))],
    )]);
    let (span, msg) = one_err(decode::<WriteArgs>(&b));
    assert_eq!(span, value_span(2));
    assert_eq!(msg, "(secret) should be string, got capsule");
    assert!(!msg.contains("hunter2"));
}

#[derive(Debug, Clone, PartialEq)]
struct Receiver(u32);

#[derive(Debug, Clone, PartialEq)]
struct OtherHandle;

#[derive(Debug, Deserialize)]
struct ForwardArgs {
    forward_to: Vec<CapsuleOf<Receiver>>,
}

#[test]
fn capsules_decode_by_inner_type() {
    let r = Value::Capsule(Capsule::new("loki.LogsReceiver", Receiver(7)));
    let b = body(vec![attr(
        1,
        "forward_to",
        Value::Array(vec![r.clone(), r]),
    )]);
    let args: ForwardArgs = decode(&b).unwrap();
    assert_eq!(
        args.forward_to,
        vec![CapsuleOf(Receiver(7)), CapsuleOf(Receiver(7))]
    );
}

#[test]
fn capsule_of_the_wrong_type_is_refused() {
    let other = Value::Capsule(Capsule::new("otelcol.Consumer", OtherHandle));
    let b = body(vec![attr(1, "forward_to", Value::Array(vec![other]))]);
    let (span, msg) = one_err(decode::<ForwardArgs>(&b));
    assert_eq!(span, value_span(1));
    assert_eq!(
        msg,
        "should be capsule(\"Receiver\"), got capsule(\"otelcol.Consumer\")"
    );

    let b = body(vec![attr(
        1,
        "forward_to",
        strs(&["loki.write.default.receiver"]),
    )]);
    let (_, msg) = one_err(decode::<ForwardArgs>(&b));
    assert_eq!(
        msg,
        "\"loki.write.default.receiver\" should be capsule, got string"
    );
}

#[test]
fn value_fields_keep_anything() {
    let cap = Value::Capsule(Capsule::new("x", Receiver(1)));
    let v = Value::Array(vec![cap.clone(), Value::Secret(Secret::new("s")), 1.into()]);
    let b = body(vec![attr(1, "forward_to", v.clone())]);
    let args: ProcessArgs = decode(&b).unwrap();
    assert_eq!(Value::Array(args.forward_to), v);
}

#[test]
fn decode_value_converts_one_value() {
    let v = Value::Array(vec![Value::from("1"), Value::from(2), Value::from(3.0)]);
    let got: Vec<u64> = decode_value(&v, value_span(1)).unwrap();
    assert_eq!(got, vec![1, 2, 3]);
    let err = decode_value::<Vec<u64>>(&Value::from(true), value_span(1)).unwrap_err();
    assert_eq!(err.message, "true should be array, got bool");
    assert_eq!(err.span, value_span(1));
}

#[test]
fn squashed_structs_share_one_body() {
    #[derive(Debug, Deserialize)]
    struct Client {
        #[serde(default)]
        bearer_token: Option<Secret>,
    }
    #[derive(Debug, Deserialize)]
    struct Own {
        url: String,
    }
    let b = body(vec![
        attr(1, "url", "http://x"),
        attr(2, "bearer_token", "t"),
    ]);
    let (own, client): (Own, Client) = decode_squashed(&b).unwrap();
    assert_eq!(own.url, "http://x");
    assert_eq!(client.bearer_token.unwrap().expose(), "t");

    let b = body(vec![attr(1, "url", "http://x"), attr(2, "nope", 1)]);
    let e = errs(decode_squashed::<Own, Client>(&b).unwrap_err());
    assert_eq!(
        e,
        vec![(
            name_span(2),
            "unrecognized attribute name \"nope\"".to_string()
        )]
    );
}

#[test]
fn string_enums_reject_unknown_values() {
    let b = body(vec![
        attr(1, "targets", Value::Array(vec![])),
        block(2, "rule", None, vec![attr(3, "action", "kep")]),
    ]);
    let (span, msg) = one_err(decode::<RelabelArgs>(&b));
    assert_eq!(span, value_span(3));
    assert!(msg.contains("\"kep\""), "{msg}");
}

#[test]
fn option_fields_are_optional() {
    let b = body(vec![
        attr(1, "targets", Value::Array(vec![])),
        block(2, "rule", None, vec![attr(3, "replacement", "$1")]),
        block(4, "rule", None, vec![]),
    ]);
    let args: RelabelArgs = decode(&b).unwrap();
    assert_eq!(args.rules[0].replacement.as_deref(), Some("$1"));
    assert_eq!(args.rules[1].replacement, None);
    assert_eq!(args.rules[1].action, Action::Replace);
    assert_eq!(Action::LabelMap, Action::LabelMap);
    assert_ne!(Action::Drop, Action::Keep);
}

// ---- from config text (parser + evaluator + decoder) -----------------------------------------

mod from_text {
    use super::*;
    use solder_syntax::ast::Stmt;
    use solder_syntax::eval::{eval_body, EmptyScope};
    use solder_syntax::parser::parse_file;
    use solder_syntax::SourceFile;

    /// Evaluate the body of the first block of `src` and decode it; errors as `line:col: msg`.
    fn decode_block<T: serde::de::DeserializeOwned>(src: &str) -> Result<T, Vec<String>> {
        let (file, diags) = parse_file(src, FileId(0));
        assert!(diags.is_empty(), "{diags:?}");
        let Some(Stmt::Block(b)) = file.body.first() else {
            panic!("no block")
        };
        let sf = SourceFile::new("t", src);
        let pos = |d: &solder_syntax::Diagnostic| {
            let lc = sf.line_col(d.span.lo);
            format!("{}:{}: {}", lc.line, lc.col, d.message)
        };
        let body = eval_body(&b.body, b.name_span(), &EmptyScope)
            .map_err(|d| d.iter().map(pos).collect::<Vec<_>>())?;
        decode(&body).map_err(|d| d.iter().map(pos).collect())
    }

    #[test]
    fn loki_process_pipeline() {
        let src = r#"loki.process "pods" {
  forward_to = []
  stage.cri {}
  stage.json {
    expressions = { level = "lvl", msg = "" }
  }
  stage.match {
    selector = "{app=\"noisy\"}"
    stage.drop {
      source = "msg"
    }
  }
}
"#;
        let args: ProcessArgs = decode_block(src).unwrap();
        assert_eq!(args.stages.len(), 3);
        assert!(matches!(args.stages[0], Stage::Cri(_)));
        match &args.stages[2] {
            Stage::Match(m) => {
                assert_eq!(m.selector, "{app=\"noisy\"}");
                assert_eq!(
                    m.stages,
                    vec![Stage::Drop {
                        source: "msg".into()
                    }]
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn remote_write_with_expressions() {
        let src = r#"prometheus.remote_write "default" {
  endpoint "mimir" {
    url            = "http://" + string.join(["mimir", "svc"], ".") + ":9009/api/v1/push"
    remote_timeout = "1m30s"
    headers        = { "X-Scope-OrgID" = 42 }
    basic_auth {
      username = "u"
      password = "p"
    }
  }
  external_labels = { cluster = coalesce(sys.env("SOLDER_UNSET_FOR_TEST"), "dev") }
}
"#;
        let args: WriteArgs = decode_block(src).unwrap();
        let ep = &args.endpoints[0];
        assert_eq!(ep.name, "mimir");
        assert_eq!(ep.url, "http://mimir.svc:9009/api/v1/push");
        assert_eq!(ep.remote_timeout, GoDuration::from_secs(90));
        assert_eq!(ep.headers["X-Scope-OrgID"], "42");
        assert_eq!(args.external_labels["cluster"], "dev");
    }

    #[test]
    fn errors_have_source_positions() {
        let src = r#"prometheus.remote_write "default" {
  endpoint "a" {
    url            = true
    remote_timeout = "7d"
    retries        = 3
  }
  endpoint {
    url = "x"
  }
}
"#;
        let errors = decode_block::<WriteArgs>(src).unwrap_err();
        assert_eq!(
            errors,
            vec![
                "3:22: true should be string, got bool",
                "4:22: \"7d\" time: unknown unit \"d\" in duration \"7d\"",
                "5:5: unrecognized attribute name \"retries\"",
                "7:3: block \"endpoint\" requires non-empty label",
            ]
        );
    }
}
