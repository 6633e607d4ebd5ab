//! Load errors: each case is a config and the one-line diagnostics it must produce.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use solder_core::Stability;
use solder_runtime::loader::parse_sources;

fn check_errors(src: &str, min: Stability) -> Vec<String> {
    let sources = parse_sources(&[("main.alloy", src)]).unwrap();
    match solder_runtime::controller::check_sources(sources, &support::registry(), min) {
        Ok(()) => Vec::new(),
        Err(e) => e.one_line_each(),
    }
}

fn errors(src: &str) -> Vec<String> {
    check_errors(src, Stability::GenerallyAvailable)
}

#[test]
fn table_of_graph_errors() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "top-level attribute",
            "log_level = \"debug\"\n",
            &["main.alloy:1:1: unrecognized attribute log_level"],
        ),
        (
            "missing label",
            "test.sink {\n}\n",
            &["main.alloy:1:1: component \"test.sink\" must have a label"],
        ),
        (
            "duplicate id",
            "test.sink \"a\" {}\n\ntest.sink \"a\" {}\n",
            &["main.alloy:3:1: block test.sink.a already declared at main.alloy:1:1"],
        ),
        (
            "unknown component with suggestion",
            "test.snik \"a\" {}\n",
            &["main.alloy:1:1: cannot find the definition of component name \"test.snik\" (did you mean \"test.sink\"?)"],
        ),
        (
            "unknown component without suggestion",
            "zzz.qqq.www \"a\" {}\n",
            &["main.alloy:1:1: cannot find the definition of component name \"zzz.qqq.www\""],
        ),
        (
            "known Alloy component not implemented",
            "loki.source.kubernetes \"pods\" {}\n",
            &["main.alloy:1:1: component \"loki.source.kubernetes\" is not supported by Solder yet"],
        ),
        (
            "unknown export",
            "test.counter \"c\" {}\ntest.sink \"s\" {\n  input = test.counter.c.nope\n}\n",
            &["main.alloy:3:11: field \"nope\" does not exist: component test.counter.c (test.counter) does not export \"nope\"; its exports are: count"],
        ),
        (
            "reference to a missing component",
            "test.sink \"s\" {\n  input = test.counter.missing.count\n}\n",
            &["main.alloy:2:11: component \"test.counter.missing.count\" does not exist or is out of scope"],
        ),
        (
            "self reference",
            "test.sink \"s\" {\n  input = test.sink.s.out\n}\n",
            &["main.alloy:2:11: self reference: test.sink.s"],
        ),
        (
            "cycle",
            "test.sink \"a\" {\n  input = test.sink.b.out\n}\ntest.sink \"b\" {\n  input = test.sink.c.out\n}\ntest.sink \"c\" {\n  input = test.sink.a.out\n}\n",
            &["main.alloy:1:1: cycle: test.sink.a, test.sink.b, test.sink.c"],
        ),
        (
            "remotecfg is not supported",
            "remotecfg {\n  url = \"http://x\"\n}\n",
            &["main.alloy:1:1: the remotecfg block (remote configuration) is not supported by Solder yet"],
        ),
        (
            "declare is not supported",
            "declare \"x\" {\n}\n",
            &["main.alloy:1:1: declare blocks (custom components) are not supported by Solder yet"],
        ),
        (
            "import.file is not supported",
            "import.file \"m\" {\n  filename = \"x\"\n}\n",
            &["main.alloy:1:1: import.file blocks (modules) are not supported by Solder yet"],
        ),
        (
            "http tls is not supported",
            "http {\n  tls {\n  }\n}\n",
            &["main.alloy:2:3: http { tls } is not supported by Solder yet"],
        ),
        (
            "logging write_to is not supported",
            "test.sink \"s\" {}\nlogging {\n  write_to = [test.sink.s.out]\n}\n",
            &["main.alloy:3:3: logging { write_to } is not supported by Solder yet"],
        ),
        (
            "logging bad level",
            "logging {\n  level = \"loud\"\n}\n",
            &["main.alloy:2:11: unrecognized log level \"loud\""],
        ),
        (
            "logging duplicated",
            "logging {}\nlogging {}\n",
            &["main.alloy:2:1: block logging already declared at main.alloy:1:1"],
        ),
        (
            "labelled config block",
            "logging \"x\" {}\n",
            &["main.alloy:1:1: block \"logging\" does not support specifying labels"],
        ),
        (
            "tracing accepted",
            "tracing {\n  sampling_fraction = 0.5\n  send_traceparent = true\n  sampler {\n    jaeger_remote {\n      url = \"http://j\"\n    }\n  }\n}\n",
            &[],
        ),
        (
            "argument validation error",
            "test.sink \"s\" {\n  input = \"invalid\"\n}\n",
            &["main.alloy:1:1: input must not be \"invalid\""],
        ),
        (
            "several errors at once",
            "test.snik \"a\" {}\nloki.source.kubernetes \"b\" {}\nfoo = 1\n",
            &[
                "main.alloy:1:1: cannot find the definition of component name \"test.snik\" (did you mean \"test.sink\"?)",
                "main.alloy:2:1: component \"loki.source.kubernetes\" is not supported by Solder yet",
                "main.alloy:3:1: unrecognized attribute foo",
            ],
        ),
        (
            "valid graph",
            "test.counter \"c\" {}\ntest.sink \"s\" {\n  input = test.counter.c.count + 1\n}\nlogging {\n  level = \"debug\"\n  format = \"json\"\n}\n",
            &[],
        ),
    ];
    for (name, src, want) in cases {
        let got = errors(src);
        assert_eq!(&got, want, "case {name:?}");
    }
}

#[test]
fn logging_write_to_is_rejected_when_non_empty_at_run_time() {
    // `check` cannot know the list's content (it comes from a component); a literal can.
    let got = errors("logging {\n  write_to = [1]\n}\n");
    assert_eq!(
        got,
        ["main.alloy:2:3: logging { write_to } is not supported by Solder yet"]
    );
}

#[test]
fn stability_gating() {
    let src = "test.experimental \"x\" {}\n";
    assert_eq!(
        check_errors(src, Stability::GenerallyAvailable),
        ["main.alloy:1:1: component \"test.experimental\" is at stability level \"experimental\", which is below the minimum allowed stability level \"generally-available\". Use --stability.level command-line flag to enable \"experimental\" features"]
    );
    assert_eq!(
        check_errors(src, Stability::PublicPreview).len(),
        1,
        "public-preview still rejects experimental"
    );
    assert!(check_errors(src, Stability::Experimental).is_empty());

    let src = "test.sink \"x\" {\n  input = array.group_by([], \"k\", false)\n}\n";
    assert_eq!(
        check_errors(src, Stability::GenerallyAvailable),
        ["main.alloy:2:11: array.group_by is at stability level \"experimental\", which is below the minimum allowed stability level \"generally-available\". Use --stability.level command-line flag to enable \"experimental\" features"]
    );
}

#[test]
fn render_shows_caret_snippets_for_every_error() {
    let sources = parse_sources(&[("main.alloy", "test.snik \"a\" {}\nfoo = 1\n")]).unwrap();
    let err = solder_runtime::controller::check_sources(
        sources,
        &support::registry(),
        Stability::GenerallyAvailable,
    )
    .unwrap_err();
    let text = err.render();
    assert!(
        text.contains("Error: main.alloy:1:1: cannot find the definition"),
        "{text}"
    );
    assert!(
        text.contains("1 | test.snik \"a\" {}\n  | ^^^^^^^^^"),
        "{text}"
    );
    assert!(
        text.contains("Error: main.alloy:2:1: unrecognized attribute foo"),
        "{text}"
    );
    assert_eq!(
        err.to_string(),
        "main.alloy:1:1: cannot find the definition of component name \"test.snik\" (did you mean \"test.sink\"?) (and 1 more diagnostics)"
    );
}

#[test]
fn check_reads_a_path_and_builds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.alloy");
    std::fs::write(&path, "test.sink \"check_only\" {\n  input = 1\n}\n").unwrap();
    solder_runtime::check(&path, &support::registry(), Stability::GenerallyAvailable).unwrap();
    assert!(support::events_of("test.sink.check_only").is_empty());
    std::fs::write(&path, "test.sink \"check_only\" {\n  nope = 1\n}\n").unwrap();
    let err = solder_runtime::check(&path, &support::registry(), Stability::GenerallyAvailable)
        .unwrap_err();
    assert_eq!(err.diagnostics.len(), 1, "{}", err.render());
}
