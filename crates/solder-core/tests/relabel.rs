#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Relabel engine conformance. Cases follow the behaviour documented for Prometheus/Alloy
//! relabeling (alloy-spec.md §3); hashmod expectations were computed with Python's `hashlib`
//! (`int.from_bytes(md5(v).digest()[8:16], "big") % m`), not with this crate.

use std::collections::{BTreeMap, HashMap};

use solder_core::relabel::{
    process_labels, process_labels_with, process_map, Action, CowLabels, LabelSet, NameValidation,
    Regex, RelabelError, Rule,
};

// ---------------------------------------------------------------------------------------------
// Helpers

fn rules(json: &str) -> Vec<Rule> {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("rules {json} do not decode: {e}"))
}

fn decode_error(json: &str) -> String {
    match serde_json::from_str::<Rule>(json) {
        Ok(rule) => panic!("{json} decoded to {rule:?}, expected an error"),
        Err(e) => e.to_string(),
    }
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// Runs `rules` over `input` through every `LabelSet` implementation and checks they agree.
fn relabel_with(
    rules: &[Rule],
    input: &[(&str, &str)],
    names: NameValidation,
) -> Option<BTreeMap<String, String>> {
    let mut tree = map(input);
    let tree_keep = process_labels_with(rules, &mut tree, names);

    let mut sorted: Vec<(String, String)> = map(input).into_iter().collect();
    let sorted_keep = process_labels_with(rules, &mut sorted, names);
    assert!(
        sorted.windows(2).all(|w| w[0].0 < w[1].0),
        "vector stays sorted and unique: {sorted:?}"
    );

    let mut hashed: HashMap<String, String> = map(input).into_iter().collect();
    let hashed_keep = process_labels_with(rules, &mut hashed, names);

    // Shared series labels: relabeled through a copy-on-write view.
    let base: Vec<(String, String)> = map(input).into_iter().collect();
    let mut cow = CowLabels::new(&base[..]);
    let cow_keep = process_labels_with(rules, &mut cow, names);
    let cow_result: BTreeMap<String, String> = match cow.into_changed() {
        Some(changed) => changed.into_iter().collect(),
        None => base.iter().cloned().collect(),
    };

    assert_eq!(tree_keep, sorted_keep, "BTreeMap and Vec disagree on keep");
    assert_eq!(
        tree_keep, cow_keep,
        "BTreeMap and CowLabels disagree on keep"
    );
    assert_eq!(
        tree_keep, hashed_keep,
        "BTreeMap and HashMap disagree on keep"
    );
    if !tree_keep {
        return None;
    }
    assert_eq!(tree, sorted.into_iter().collect::<BTreeMap<_, _>>());
    assert_eq!(tree, hashed.into_iter().collect::<BTreeMap<_, _>>());
    assert_eq!(tree, cow_result, "CowLabels result");
    Some(tree)
}

fn relabel(rules_json: &str, input: &[(&str, &str)]) -> Option<BTreeMap<String, String>> {
    relabel_with(&rules(rules_json), input, NameValidation::Utf8)
}

struct Case {
    name: &'static str,
    rules: &'static str,
    input: &'static [(&'static str, &'static str)],
    /// `None` means the label set is dropped.
    output: Option<&'static [(&'static str, &'static str)]>,
}

fn check(cases: &[Case]) {
    for case in cases {
        let got = relabel(case.rules, case.input);
        let want = case.output.map(map);
        assert_eq!(got, want, "case {:?}", case.name);
    }
}

// ---------------------------------------------------------------------------------------------
// replace

#[test]
fn replace_cases() {
    check(&[
        Case {
            name: "braced references",
            rules: r#"[{"source_labels":["a"],"regex":"f(.*)","target_label":"d","replacement":"ch${1}-ch${1}"}]"#,
            input: &[("a", "foo"), ("b", "bar")],
            output: Some(&[("a", "foo"), ("b", "bar"), ("d", "choo-choo")]),
        },
        Case {
            name: "two rules, several sources, second sees the first's output",
            rules: r#"[
                {"source_labels":["a","b"],"regex":"f(.*);(.*)r","target_label":"a","replacement":"b${1}${2}m"},
                {"source_labels":["c","a"],"regex":"(b).*b(.*)ba(.*)","target_label":"d","replacement":"$1$2$2$3"}
            ]"#,
            input: &[("a", "foo"), ("b", "bar"), ("c", "baz")],
            output: Some(&[("a", "boobam"), ("b", "bar"), ("c", "baz"), ("d", "boooom")]),
        },
        Case {
            name: "capture in the middle",
            rules: r#"[{"source_labels":["a"],"regex":".*(b).*","target_label":"d"}]"#,
            input: &[("a", "abc")],
            output: Some(&[("a", "abc"), ("d", "b")]),
        },
        Case {
            name: "no match, no change",
            rules: r#"[{"source_labels":["a"],"regex":"f","target_label":"b","replacement":"bar"}]"#,
            input: &[("a", "boo")],
            output: Some(&[("a", "boo")]),
        },
        Case {
            name: "empty replacement deletes the (templated) target",
            rules: r#"[{"source_labels":["a"],"regex":"(f).*","target_label":"$1","replacement":"$2"}]"#,
            input: &[("a", "foo"), ("f", "baz")],
            output: Some(&[("a", "foo")]),
        },
        Case {
            name: "templated target and value",
            rules: r#"[{"source_labels":["a"],"regex":"some-([^-]+)-([^,]+)","target_label":"${1}","replacement":"${2}"}]"#,
            input: &[("a", "some-name-value")],
            output: Some(&[("a", "some-name-value"), ("name", "value")]),
        },
        Case {
            name: "out-of-range replacement group expands to nothing",
            rules: r#"[{"source_labels":["a"],"regex":"some-([^-]+)-([^,]+)","target_label":"${1}","replacement":"${3}"}]"#,
            input: &[("a", "some-name-value")],
            output: Some(&[("a", "some-name-value")]),
        },
        Case {
            name: "target expanding to an empty name is a no-op",
            rules: r#"[{"source_labels":["a"],"regex":"some-([^-]+)-([^,]+)","target_label":"${3}","replacement":"${1}"}]"#,
            input: &[("a", "some-name-0")],
            output: Some(&[("a", "some-name-0")]),
        },
        Case {
            name: "service-discovery tags",
            rules: r#"[
                {"source_labels":["__meta_sd_tags"],"regex":"(?:.+,|^)path:(/[^,]+).*","target_label":"__metrics_path__","replacement":"${1}"},
                {"source_labels":["__meta_sd_tags"],"regex":"(?:.+,|^)job:([^,]+).*","target_label":"job","replacement":"${1}"},
                {"source_labels":["__meta_sd_tags"],"regex":"(?:.+,|^)label:([^=]+)=([^,]+).*","target_label":"${1}","replacement":"${2}"}
            ]"#,
            input: &[("__meta_sd_tags", "path:/secret,job:some-job,label:foo=bar")],
            output: Some(&[
                ("__meta_sd_tags", "path:/secret,job:some-job,label:foo=bar"),
                ("__metrics_path__", "/secret"),
                ("foo", "bar"),
                ("job", "some-job"),
            ]),
        },
        Case {
            name: "defaults copy one label to another",
            rules: r#"[{"source_labels":["__meta_kubernetes_namespace"],"target_label":"namespace"}]"#,
            input: &[("__meta_kubernetes_namespace", "kube-system")],
            output: Some(&[
                ("__meta_kubernetes_namespace", "kube-system"),
                ("namespace", "kube-system"),
            ]),
        },
        Case {
            name: "a missing source reads as empty, which deletes the target",
            rules: r#"[{"source_labels":["missing"],"target_label":"t"}]"#,
            input: &[("t", "old"), ("x", "y")],
            output: Some(&[("x", "y")]),
        },
        Case {
            name: "static value without sources",
            rules: r#"[{"target_label":"cluster","replacement":"prod"}]"#,
            input: &[("a", "1")],
            output: Some(&[("a", "1"), ("cluster", "prod")]),
        },
        Case {
            name: "$1x names group 1x, which is empty, so the target is deleted",
            rules: r#"[{"source_labels":["a"],"regex":"(.*)","target_label":"b","replacement":"$1x"}]"#,
            input: &[("a", "v"), ("b", "old")],
            output: Some(&[("a", "v")]),
        },
        Case {
            name: "${1}x delimits the reference",
            rules: r#"[{"source_labels":["a"],"target_label":"b","replacement":"${1}x"}]"#,
            input: &[("a", "v")],
            output: Some(&[("a", "v"), ("b", "vx")]),
        },
        Case {
            name: "$$ is a literal dollar",
            rules: r#"[{"source_labels":["a"],"target_label":"b","replacement":"$$1 costs $$$1"}]"#,
            input: &[("a", "5")],
            output: Some(&[("a", "5"), ("b", "$1 costs $5")]),
        },
        Case {
            name: "named groups",
            rules: r#"[{"source_labels":["addr"],"regex":"(?P<host>[^:]+):(?P<port>[0-9]+)","target_label":"port","replacement":"$port/${host}"}]"#,
            input: &[("addr", "db:5432")],
            output: Some(&[("addr", "db:5432"), ("port", "5432/db")]),
        },
        Case {
            name: "the regex is anchored: a substring match is no match",
            rules: r#"[{"source_labels":["a"],"regex":"oo","target_label":"b","replacement":"hit"}]"#,
            input: &[("a", "foo")],
            output: Some(&[("a", "foo")]),
        },
        Case {
            name: "explicit anchors inside still match",
            rules: r#"[{"source_labels":["a"],"regex":"^foo$","target_label":"b","replacement":"hit"}]"#,
            input: &[("a", "foo")],
            output: Some(&[("a", "foo"), ("b", "hit")]),
        },
        Case {
            name: "dot matches newline",
            rules: r#"[{"source_labels":["a"],"regex":"foo.(b)ar","target_label":"b"}]"#,
            input: &[("a", "foo\nbar")],
            output: Some(&[("a", "foo\nbar"), ("b", "b")]),
        },
        Case {
            name: "multi-line value copied whole by the default regex",
            rules: r#"[{"source_labels":["a"],"target_label":"b"}]"#,
            input: &[("a", "line1\nline2\n")],
            output: Some(&[("a", "line1\nline2\n"), ("b", "line1\nline2\n")]),
        },
        Case {
            name: "custom separator",
            rules: r#"[{"source_labels":["ns","c"],"separator":"/","target_label":"job"}]"#,
            input: &[("c", "app"), ("ns", "default")],
            output: Some(&[("c", "app"), ("job", "default/app"), ("ns", "default")]),
        },
        Case {
            name: "a missing label still contributes its separator",
            rules: r#"[{"source_labels":["a","missing","b"],"target_label":"j"}]"#,
            input: &[("a", "1"), ("b", "2")],
            output: Some(&[("a", "1"), ("b", "2"), ("j", "1;;2")]),
        },
        Case {
            name: "Appendix A: address and port annotation",
            rules: r#"[{"source_labels":["__address__","__meta_kubernetes_pod_annotation_prometheus_io_port"],"regex":"(.+?)(?::\\d+)?;(\\d+)","replacement":"$1:$2","target_label":"__address__"}]"#,
            input: &[
                ("__address__", "10.0.0.1:8080"),
                (
                    "__meta_kubernetes_pod_annotation_prometheus_io_port",
                    "9090",
                ),
            ],
            output: Some(&[
                ("__address__", "10.0.0.1:9090"),
                (
                    "__meta_kubernetes_pod_annotation_prometheus_io_port",
                    "9090",
                ),
            ]),
        },
        Case {
            name: "Appendix A: address without port annotation is unchanged",
            rules: r#"[{"source_labels":["__address__","__meta_kubernetes_pod_annotation_prometheus_io_port"],"regex":"(.+?)(?::\\d+)?;(\\d+)","replacement":"$1:$2","target_label":"__address__"}]"#,
            input: &[("__address__", "10.0.0.1:8080")],
            output: Some(&[("__address__", "10.0.0.1:8080")]),
        },
        Case {
            name: "Appendix A: container runtime with escaped slashes",
            rules: r#"[{"source_labels":["__meta_kubernetes_pod_container_id"],"regex":"^(\\S+):\\/\\/.+$","target_label":"container_runtime"}]"#,
            input: &[("__meta_kubernetes_pod_container_id", "containerd://0123abc")],
            output: Some(&[
                ("__meta_kubernetes_pod_container_id", "containerd://0123abc"),
                ("container_runtime", "containerd"),
            ]),
        },
        Case {
            name: "Appendix A: log path glob",
            rules: r#"[{"source_labels":["__meta_kubernetes_pod_uid","__meta_kubernetes_pod_container_name"],"separator":"/","target_label":"__path__","replacement":"/var/log/pods/*$1/*.log"}]"#,
            input: &[
                ("__meta_kubernetes_pod_container_name", "app"),
                ("__meta_kubernetes_pod_uid", "u-1"),
            ],
            output: Some(&[
                ("__meta_kubernetes_pod_container_name", "app"),
                ("__meta_kubernetes_pod_uid", "u-1"),
                ("__path__", "/var/log/pods/*u-1/app/*.log"),
            ]),
        },
        Case {
            name: "overwriting with the same value changes nothing",
            rules: r#"[{"source_labels":["a"],"target_label":"b"}]"#,
            input: &[("a", "same"), ("b", "same")],
            output: Some(&[("a", "same"), ("b", "same")]),
        },
        Case {
            name: "UTF-8 literal target",
            rules: r#"[{"source_labels":["a"],"target_label":"service.name"}]"#,
            input: &[("a", "checkout")],
            output: Some(&[("a", "checkout"), ("service.name", "checkout")]),
        },
    ]);
}

#[test]
fn drop_stops_processing_and_issue_12283_sequence() {
    check(&[
        Case {
            name: "first drop stops",
            rules: r#"[
                {"source_labels":["a"],"regex":".*o.*","action":"drop"},
                {"source_labels":["a"],"regex":"f(.*)","target_label":"d","replacement":"ch$1-ch$1"}
            ]"#,
            input: &[("a", "foo")],
            output: None,
        },
        Case {
            name: "labeldrop, then recreate, then keep (prometheus#12283)",
            rules: r#"[
                {"regex":"^__meta_kubernetes_pod_container_port_name$","action":"labeldrop"},
                {"source_labels":["__meta_kubernetes_pod_annotation_XXX_metrics_port"],"regex":"(.+)","target_label":"__meta_kubernetes_pod_container_port_name","replacement":"metrics"},
                {"source_labels":["__meta_kubernetes_pod_container_port_name"],"regex":"^metrics$","action":"keep"}
            ]"#,
            input: &[
                ("__meta_kubernetes_pod_annotation_XXX_metrics_port", "9091"),
                ("__meta_kubernetes_pod_container_port_name", "foo"),
            ],
            output: Some(&[
                ("__meta_kubernetes_pod_annotation_XXX_metrics_port", "9091"),
                ("__meta_kubernetes_pod_container_port_name", "metrics"),
            ]),
        },
    ]);
}

// ---------------------------------------------------------------------------------------------
// keep / drop / keepequal / dropequal

#[test]
fn keep_and_drop_cases() {
    check(&[
        Case {
            name: "drop on match",
            rules: r#"[{"source_labels":["a"],"regex":".*o.*","action":"drop"}]"#,
            input: &[("a", "foo"), ("b", "bar")],
            output: None,
        },
        Case {
            name: "drop needs a full match",
            rules: r#"[{"source_labels":["a"],"regex":"f|o","action":"drop"}]"#,
            input: &[("a", "foo")],
            output: Some(&[("a", "foo")]),
        },
        Case {
            name: "drop without match",
            rules: r#"[{"source_labels":["a"],"regex":"no-match","action":"drop"}]"#,
            input: &[("a", "foo")],
            output: Some(&[("a", "foo")]),
        },
        Case {
            name: "keep without match drops",
            rules: r#"[{"source_labels":["a"],"regex":"no-match","action":"keep"}]"#,
            input: &[("a", "foo")],
            output: None,
        },
        Case {
            name: "keep on match",
            rules: r#"[{"source_labels":["a"],"regex":"f.*","action":"keep"}]"#,
            input: &[("a", "foo")],
            output: Some(&[("a", "foo")]),
        },
        Case {
            name: "drop when a label is missing (empty regex)",
            rules: r#"[{"source_labels":["missing"],"regex":"","action":"drop"}]"#,
            input: &[("a", "foo")],
            output: None,
        },
        Case {
            name: "keep annotated pods (Appendix A)",
            rules: r#"[{"source_labels":["__meta_kubernetes_pod_annotation_prometheus_io_scrape"],"regex":"true","action":"keep"}]"#,
            input: &[(
                "__meta_kubernetes_pod_annotation_prometheus_io_scrape",
                "false",
            )],
            output: None,
        },
        Case {
            name: "keep is anchored against multi-line values",
            rules: r#"[{"source_labels":["a"],"regex":"foo","action":"keep"}]"#,
            input: &[("a", "foo\n")],
            output: None,
        },
        Case {
            name: "keep with several sources",
            rules: r#"[{"source_labels":["a","b"],"regex":"x;y","action":"keep"}]"#,
            input: &[("a", "x"), ("b", "y")],
            output: Some(&[("a", "x"), ("b", "y")]),
        },
    ]);
}

#[test]
fn equal_actions() {
    let input: &[(&str, &str)] = &[
        ("__port1", "1234"),
        ("__port2", "5678"),
        ("__tmp_port", "1234"),
    ];
    check(&[
        Case {
            name: "keepequal keeps on equal",
            rules: r#"[{"source_labels":["__tmp_port"],"action":"keepequal","target_label":"__port1"}]"#,
            input,
            output: Some(input),
        },
        Case {
            name: "dropequal drops on equal",
            rules: r#"[{"source_labels":["__tmp_port"],"action":"dropequal","target_label":"__port1"}]"#,
            input,
            output: None,
        },
        Case {
            name: "dropequal keeps on different",
            rules: r#"[{"source_labels":["__tmp_port"],"action":"dropequal","target_label":"__port2"}]"#,
            input,
            output: Some(input),
        },
        Case {
            name: "keepequal drops on different",
            rules: r#"[{"source_labels":["__tmp_port"],"action":"keepequal","target_label":"__port2"}]"#,
            input,
            output: None,
        },
        Case {
            name: "missing source equals missing target",
            rules: r#"[{"source_labels":["nope"],"action":"keepequal","target_label":"nada"}]"#,
            input,
            output: Some(input),
        },
    ]);
}

// ---------------------------------------------------------------------------------------------
// hashmod (expected values from Python hashlib, see the file header)

type Labels = &'static [(&'static str, &'static str)];

#[test]
fn hashmod_values() {
    // (input, source_labels, modulus, expected bucket)
    let cases: &[(Labels, &str, u64, &str)] = &[
        (&[("c", "baz")], r#"["c"]"#, 1000, "976"),
        (&[("a", "foo\nbar")], r#"["a"]"#, 1000, "734"),
        (&[("x", "1")], r#"["missing"]"#, 10, "8"),
        (
            &[("__address__", "10.0.0.1:9090")],
            r#"["__address__"]"#,
            3,
            "0",
        ),
        (&[("a", "a"), ("b", "b")], r#"["a","b"]"#, 7, "2"),
        (
            &[("v", "ns/pod")],
            r#"["v"]"#,
            u64::MAX,
            "3766665810482978675",
        ),
        (&[("v", "é")], r#"["v"]"#, 1000, "23"),
        (&[("v", "x")], r#"["v"]"#, 1, "0"),
    ];
    for (input, sources, modulus, want) in cases {
        let json = format!(
            r#"[{{"source_labels":{sources},"action":"hashmod","modulus":{modulus},"target_label":"h"}}]"#
        );
        let out = relabel(&json, input).unwrap();
        assert_eq!(
            out.get("h").map(String::as_str),
            Some(*want),
            "{json} on {input:?}"
        );
    }
}

#[test]
fn hashmod_sharding_keeps_one_bucket() {
    let json = r#"[
        {"source_labels":["__address__"],"action":"hashmod","modulus":3,"target_label":"__tmp_hash"},
        {"source_labels":["__tmp_hash"],"regex":"^0$","action":"keep"},
        {"regex":"__tmp_hash","action":"labeldrop"}
    ]"#;
    assert_eq!(
        relabel(json, &[("__address__", "10.0.0.1:9090")]),
        Some(map(&[("__address__", "10.0.0.1:9090")]))
    );
    // md5("a;b") bucket mod 3 is 2 (hashlib), so this one is dropped.
    assert_eq!(relabel(json, &[("__address__", "a;b")]), None);
}

// ---------------------------------------------------------------------------------------------
// labelmap / labeldrop / labelkeep

#[test]
fn label_set_actions() {
    check(&[
        Case {
            name: "labelmap with prefix",
            rules: r#"[{"regex":"(b.*)","replacement":"bar_${1}","action":"labelmap"}]"#,
            input: &[("a", "foo"), ("b1", "bar"), ("b2", "baz")],
            output: Some(&[
                ("a", "foo"),
                ("b1", "bar"),
                ("b2", "baz"),
                ("bar_b1", "bar"),
                ("bar_b2", "baz"),
            ]),
        },
        Case {
            name: "labelmap strips a prefix and keeps the originals",
            rules: r#"[{"regex":"__meta_(my.*)","replacement":"${1}","action":"labelmap"}]"#,
            input: &[
                ("__meta_my_bar", "aaa"),
                ("__meta_my_baz", "bbb"),
                ("__meta_other", "ccc"),
                ("a", "foo"),
            ],
            output: Some(&[
                ("__meta_my_bar", "aaa"),
                ("__meta_my_baz", "bbb"),
                ("__meta_other", "ccc"),
                ("a", "foo"),
                ("my_bar", "aaa"),
                ("my_baz", "bbb"),
            ]),
        },
        Case {
            name: "labelmap of kubernetes pod labels with the default replacement",
            rules: r#"[{"regex":"__meta_kubernetes_pod_label_(.+)","action":"labelmap"}]"#,
            input: &[("__meta_kubernetes_pod_label_app", "web"), ("app", "old")],
            output: Some(&[("__meta_kubernetes_pod_label_app", "web"), ("app", "web")]),
        },
        Case {
            name: "labelmap sees a snapshot: new labels are not mapped again",
            rules: r#"[{"regex":"(.*)","replacement":"x_${1}","action":"labelmap"}]"#,
            input: &[("a", "1")],
            output: Some(&[("a", "1"), ("x_a", "1")]),
        },
        Case {
            name: "labelmap to an empty name is skipped",
            rules: r#"[{"regex":"drop_me(.*)","replacement":"$1","action":"labelmap"}]"#,
            input: &[("drop_me", "v")],
            output: Some(&[("drop_me", "v")]),
        },
        Case {
            name: "labelmap ignores empty-valued (absent) labels",
            rules: r#"[{"regex":"src_(.*)","action":"labelmap"}]"#,
            input: &[("a", "keep me"), ("src_a", "")],
            output: Some(&[("a", "keep me"), ("src_a", "")]),
        },
        Case {
            name: "labelkeep",
            rules: r#"[{"regex":"(b.*)","action":"labelkeep"}]"#,
            input: &[("a", "foo"), ("b1", "bar"), ("b2", "baz")],
            output: Some(&[("b1", "bar"), ("b2", "baz")]),
        },
        Case {
            name: "labeldrop",
            rules: r#"[{"regex":"(b.*)","action":"labeldrop"}]"#,
            input: &[("a", "foo"), ("b1", "bar"), ("b2", "baz")],
            output: Some(&[("a", "foo")]),
        },
        Case {
            name: "labeldrop matches whole names only",
            rules: r#"[{"regex":"b","action":"labeldrop"}]"#,
            input: &[("ab", "1"), ("b", "2"), ("bc", "3")],
            output: Some(&[("ab", "1"), ("bc", "3")]),
        },
        Case {
            name: "labelkeep can empty the set; the engine still keeps it",
            rules: r#"[{"regex":"nothing","action":"labelkeep"}]"#,
            input: &[("a", "1")],
            output: Some(&[]),
        },
    ]);
}

// ---------------------------------------------------------------------------------------------
// lowercase / uppercase

#[test]
fn case_actions() {
    check(&[
        Case {
            name: "upper and lower",
            rules: r#"[
                {"source_labels":["foo"],"action":"uppercase","target_label":"foo_uppercase"},
                {"source_labels":["foo"],"action":"lowercase","target_label":"foo_lowercase"}
            ]"#,
            input: &[("foo", "bAr123Foo")],
            output: Some(&[
                ("foo", "bAr123Foo"),
                ("foo_lowercase", "bar123foo"),
                ("foo_uppercase", "BAR123FOO"),
            ]),
        },
        Case {
            name: "non-ASCII, Go simple case mapping",
            rules: r#"[
                {"source_labels":["v"],"action":"lowercase","target_label":"lo"},
                {"source_labels":["v"],"action":"uppercase","target_label":"up"}
            ]"#,
            input: &[("v", "ÄΣß")],
            output: Some(&[("lo", "äσß"), ("up", "ÄΣß"), ("v", "ÄΣß")]),
        },
        Case {
            name: "several sources joined before mapping",
            rules: r#"[{"source_labels":["a","b"],"separator":"-","action":"lowercase","target_label":"c"}]"#,
            input: &[("a", "X"), ("b", "Y")],
            output: Some(&[("a", "X"), ("b", "Y"), ("c", "x-y")]),
        },
        Case {
            name: "empty source deletes the target",
            rules: r#"[{"source_labels":["missing"],"action":"lowercase","target_label":"t"}]"#,
            input: &[("t", "old")],
            output: Some(&[]),
        },
    ]);
}

// ---------------------------------------------------------------------------------------------
// Go regex dialect

#[test]
fn go_regex_semantics() {
    check(&[
        Case {
            name: "\\d is ASCII-only, as in Go",
            rules: r#"[{"source_labels":["v"],"regex":"\\d+","action":"keep"}]"#,
            input: &[("v", "٣")],
            output: None,
        },
        Case {
            name: "\\w is ASCII-only, as in Go",
            rules: r#"[{"source_labels":["v"],"regex":"\\w+","action":"drop"}]"#,
            input: &[("v", "é")],
            output: Some(&[("v", "é")]),
        },
        Case {
            name: "\\s excludes vertical tab, as in Go",
            rules: r#"[{"source_labels":["v"],"regex":"\\s","action":"drop"}]"#,
            input: &[("v", "\u{b}")],
            output: Some(&[("v", "\u{b}")]),
        },
        Case {
            name: "\\Q..\\E quotes",
            rules: r#"[{"source_labels":["v"],"regex":"\\Q*.*\\E","action":"keep"}]"#,
            input: &[("v", "*.*")],
            output: Some(&[("v", "*.*")]),
        },
        Case {
            name: "a [ inside a class is a literal",
            rules: r#"[{"source_labels":["v"],"regex":"[[]+","action":"keep"}]"#,
            input: &[("v", "[[")],
            output: Some(&[("v", "[[")]),
        },
        Case {
            name: "a brace that is not a repetition is a literal",
            rules: r#"[{"source_labels":["v"],"regex":"a{b}","action":"keep"}]"#,
            input: &[("v", "a{b}")],
            output: Some(&[("v", "a{b}")]),
        },
        Case {
            name: "case-insensitive flag",
            rules: r#"[{"source_labels":["v"],"regex":"(?i)true","action":"keep"}]"#,
            input: &[("v", "TRUE")],
            output: Some(&[("v", "TRUE")]),
        },
        Case {
            name: "a (?m) inside the group does not unanchor the whole match",
            rules: r#"[{"source_labels":["v"],"regex":"(?m)a$","action":"keep"}]"#,
            input: &[("v", "a\nb")],
            output: None,
        },
    ]);
}

#[test]
fn regex_keeps_original_text() {
    let re = Regex::new(r"(.+?)(?::\d+)?").unwrap();
    assert_eq!(re.as_str(), r"(.+?)(?::\d+)?");
    assert_eq!(re.to_string(), r"(.+?)(?::\d+)?");
    assert_eq!(re, Regex::new(r"(.+?)(?::\d+)?").unwrap());
    assert_ne!(re, Regex::new("(.*)").unwrap());
    assert!(Regex::new("(a").is_err());
    assert!(
        Regex::new(r"(a)\1").is_err(),
        "backreferences are rejected, as in Go"
    );
}

// ---------------------------------------------------------------------------------------------
// Name validation schemes

#[test]
fn legacy_names_reject_templated_utf8_targets() {
    let r =
        rules(r#"[{"source_labels":["a"],"regex":"(.*)","target_label":"$1","replacement":"v"}]"#);
    let input = &[("a", "service.name")];
    assert_eq!(
        relabel_with(&r, input, NameValidation::Utf8),
        Some(map(&[("a", "service.name"), ("service.name", "v")]))
    );
    assert_eq!(
        relabel_with(&r, input, NameValidation::Legacy),
        Some(map(&[("a", "service.name")]))
    );
}

#[test]
fn legacy_literal_target_only_on_prometheus_fast_path() {
    // Prometheus sets a literal target without checking it when the value is empty, the regex is
    // the default and neither template has a `$`; otherwise legacy validation rejects it.
    let r = rules(r#"[{"source_labels":["a"],"target_label":"k8s.ns","replacement":"x"}]"#);
    assert_eq!(
        relabel_with(&r, &[("b", "1")], NameValidation::Legacy),
        Some(map(&[("b", "1"), ("k8s.ns", "x")]))
    );
    assert_eq!(
        relabel_with(&r, &[("a", "1")], NameValidation::Legacy),
        Some(map(&[("a", "1")]))
    );
    assert_eq!(
        relabel_with(&r, &[("a", "1")], NameValidation::Utf8),
        Some(map(&[("a", "1"), ("k8s.ns", "x")]))
    );
}

// ---------------------------------------------------------------------------------------------
// Decoding and validation

#[test]
fn defaults_applied() {
    let rule: Rule = serde_json::from_str(r#"{"target_label":"t"}"#).unwrap();
    assert_eq!(rule.source_labels, None);
    assert_eq!(rule.separator, ";");
    assert_eq!(rule.regex.as_str(), "(.*)");
    assert_eq!(rule.modulus, 0);
    assert_eq!(rule.replacement, "$1");
    assert_eq!(rule.action, Action::Replace);
    assert_eq!(
        rule,
        Rule {
            target_label: "t".into(),
            ..Rule::default()
        }
    );
}

#[test]
fn every_action_name_decodes() {
    let names = [
        ("replace", Action::Replace),
        ("keep", Action::Keep),
        ("drop", Action::Drop),
        ("keepequal", Action::KeepEqual),
        ("dropequal", Action::DropEqual),
        ("hashmod", Action::HashMod),
        ("labelmap", Action::LabelMap),
        ("labeldrop", Action::LabelDrop),
        ("labelkeep", Action::LabelKeep),
        ("lowercase", Action::Lowercase),
        ("uppercase", Action::Uppercase),
    ];
    for (name, action) in names {
        let parsed: Action = serde_json::from_str(&format!("{name:?}")).unwrap();
        assert_eq!(parsed, action);
        assert_eq!(action.to_string(), name);
    }
}

#[test]
fn decode_errors() {
    let cases = [
        (r#"{"action":"Keep"}"#, r#"unrecognized action type "Keep""#),
        (r#"{"action":"nope"}"#, r#"unrecognized action type "nope""#),
        (r#"{"action":null}"#, "relabel action cannot be empty"),
        (
            r#"{"target_label":"t","regexp":"x"}"#,
            "unknown field `regexp`",
        ),
        (
            r#"{"target_label":"t","regex":"(a"}"#,
            r#"error parsing regexp "(a""#,
        ),
        (
            r#"{"action":"hashmod","target_label":"t","modulus":null}"#,
            "relabel configuration for hashmod requires non-zero modulus",
        ),
    ];
    for (json, want) in cases {
        let err = decode_error(json);
        assert!(err.contains(want), "{json}: got {err:?}, want {want:?}");
    }
}

#[test]
fn validation_errors_are_alloys() {
    let cases = [
        (r#"{"action":"hashmod","target_label":"t"}"#, "relabel configuration for hashmod requires non-zero modulus"),
        (r#"{}"#, "relabel configuration for replace action requires 'target_label' value"),
        (r#"{"action":"hashmod","modulus":2}"#, "relabel configuration for hashmod action requires 'target_label' value"),
        (r#"{"action":"lowercase"}"#, "relabel configuration for lowercase action requires 'target_label' value"),
        (r#"{"action":"uppercase"}"#, "relabel configuration for uppercase action requires 'target_label' value"),
        (r#"{"action":"keepequal"}"#, "relabel configuration for keepequal action requires 'target_label' value"),
        (r#"{"action":"dropequal"}"#, "relabel configuration for dropequal action requires 'target_label' value"),
        (r#"{"source_labels":["a"],"target_label":"0${3}"}"#, r#""0${3}" is invalid 'target_label' for replace action"#),
        (r#"{"source_labels":["a"],"target_label":"-${3}"}"#, r#""-${3}" is invalid 'target_label' for replace action"#),
        (r#"{"source_labels":["a"],"target_label":"a$"}"#, r#""a$" is invalid 'target_label' for replace action"#),
        (r#"{"action":"lowercase","target_label":"t","replacement":"x"}"#, "'replacement' can not be set for lowercase action"),
        (r#"{"action":"uppercase","target_label":"t","replacement":""}"#, "'replacement' can not be set for uppercase action"),
        (r#"{"action":"keepequal","target_label":"t","replacement":"$2"}"#, "'replacement' can not be set for keepequal action"),
        (r#"{"action":"labelmap","replacement":"a-$1"}"#, r#""a-$1" is invalid 'replacement' for labelmap action"#),
        (r#"{"action":"labelmap","replacement":""}"#, r#""" is invalid 'replacement' for labelmap action"#),
        (r#"{"action":"labeldrop","regex":"x","source_labels":[]}"#, "labeldrop action requires only 'regex', and no other fields"),
        (r#"{"action":"labelkeep","regex":"x","target_label":"t"}"#, "labelkeep action requires only 'regex', and no other fields"),
        (r#"{"action":"labeldrop","separator":","}"#, "labeldrop action requires only 'regex', and no other fields"),
        (r#"{"action":"labelkeep","modulus":3}"#, "labelkeep action requires only 'regex', and no other fields"),
        (r#"{"action":"labeldrop","replacement":"x"}"#, "labeldrop action requires only 'regex', and no other fields"),
        (r#"{"action":"keepequal","target_label":"t","regex":"x"}"#, "keepequal action requires only 'source_labels' and 'target_label', and no other fields"),
        (r#"{"action":"dropequal","target_label":"t","modulus":1}"#, "dropequal action requires only 'source_labels' and 'target_label', and no other fields"),
        (r#"{"action":"dropequal","target_label":"t","separator":"/"}"#, "dropequal action requires only 'source_labels' and 'target_label', and no other fields"),
    ];
    for (json, want) in cases {
        assert_eq!(decode_error(json), want, "{json}");
    }
}

#[test]
fn valid_rules_that_look_suspicious() {
    for json in [
        // With UTF-8 names a `$` in a lowercase target is just a character.
        r#"{"action":"lowercase","target_label":"${3}"}"#,
        r#"{"source_labels":["a"],"regex":"some-([^-]+)-([^,]+)","target_label":"${3}","replacement":"${1}"}"#,
        // Explicitly writing a default is not "setting" it: Alloy compares against the defaults.
        r#"{"action":"keepequal","target_label":"t","regex":"(.*)","replacement":"$1","separator":";"}"#,
        r#"{"action":"labeldrop","regex":"x","replacement":"$1","separator":";","modulus":0,"target_label":""}"#,
        // A null list is Go's nil slice, which labeldrop accepts.
        r#"{"action":"labeldrop","regex":"x","source_labels":null}"#,
        r#"{"action":"labelmap","regex":"(.*)","replacement":"${1}_x"}"#,
        r#"{"source_labels":["a"],"target_label":"service.name"}"#,
    ] {
        serde_json::from_str::<Rule>(json).unwrap_or_else(|e| panic!("{json}: {e}"));
    }
}

#[test]
fn null_attributes_take_go_zero_values() {
    let rule: Rule =
        serde_json::from_str(r#"{"source_labels":["a","b"],"separator":null,"target_label":"c"}"#)
            .unwrap();
    assert_eq!(rule.separator, "");
    let mut labels = map(&[("a", "x"), ("b", "y")]);
    assert!(process_labels(&[rule], &mut labels));
    assert_eq!(labels.get("c").map(String::as_str), Some("xy"));

    // `replacement = null` is "" (not "$1"), so the target is deleted.
    let rule: Rule =
        serde_json::from_str(r#"{"source_labels":["a"],"replacement":null,"target_label":"b"}"#)
            .unwrap();
    assert_eq!(rule.replacement, "");
}

#[test]
fn validate_on_hand_built_rules() {
    let ok = Rule {
        action: Action::Keep,
        source_labels: Some(vec!["a".into()]),
        regex: Regex::new("x").unwrap(),
        ..Rule::default()
    };
    assert_eq!(ok.validate(), Ok(()));
    let explicit_empty = Rule {
        action: Action::LabelDrop,
        source_labels: Some(vec![]),
        ..Rule::default()
    };
    assert_eq!(
        explicit_empty.validate(),
        Err(RelabelError::OnlyRegexAllowed(Action::LabelDrop))
    );
    let zero = Rule {
        action: Action::HashMod,
        target_label: "t".into(),
        ..Rule::default()
    };
    assert_eq!(zero.validate(), Err(RelabelError::ZeroModulus));
    // The engine must not panic on a rule that skipped validation.
    let mut labels = map(&[("a", "1")]);
    assert!(process_labels(&[zero], &mut labels));
}

// ---------------------------------------------------------------------------------------------
// Entry points

#[test]
fn process_map_returns_none_on_drop() {
    let r = rules(r#"[{"source_labels":["a"],"regex":"1","action":"drop"}]"#);
    assert_eq!(process_map(&r, map(&[("a", "1")])), None);
    assert_eq!(
        process_map(&r, map(&[("a", "2")])),
        Some(map(&[("a", "2")]))
    );
    assert_eq!(
        process_map(&[], map(&[("a", "2")])),
        Some(map(&[("a", "2")]))
    );
}

#[test]
fn works_through_a_trait_object() {
    let r = rules(r#"[{"source_labels":["a"],"target_label":"b"}]"#);
    let mut tree = map(&[("a", "1")]);
    let dynamic: &mut dyn LabelSet = &mut tree;
    assert!(process_labels(&r, dynamic));
    assert_eq!(tree, map(&[("a", "1"), ("b", "1")]));
}
