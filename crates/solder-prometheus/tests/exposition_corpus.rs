#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Conformance corpus: every `tests/corpus/*.prom` / `*.om` payload is parsed and rendered in a
//! normalised form, which must equal the hand-written `*.expect` next to it.
//!
//! `.expect` format, one entry per line:
//! * sample: `name{l1="v1",...} value [timestamp_ms] [# {exemplar labels} value [timestamp_ms]]`
//!   (names and label values escaped as `\\`, `\"`, `\n`; values in Rust `{:?}` form except
//!   `NaN`, `+Inf`, `-Inf`; no braces when there are no labels)
//! * metadata: `# HELP name text`, `# TYPE name type`, `# UNIT name unit`, `# COMMENT text`,
//!   `# EOF` (free text escaped as `\\` and `\n`)
//! * failure: `ERROR <line> <substring of the message>`, after the entries parsed before it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use solder_prometheus::exposition::{Entry, Format, Labels, Parser, NORMAL_NAN_BITS};

fn escape_text(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_label(s: &str) -> String {
    escape_text(s).replace('"', "\\\"")
}

fn fmt_value(v: f64) -> String {
    if v.is_nan() {
        assert_eq!(v.to_bits(), NORMAL_NAN_BITS, "NaN must be normalised");
        "NaN".to_owned()
    } else if v == f64::INFINITY {
        "+Inf".to_owned()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else {
        format!("{v:?}")
    }
}

fn fmt_labels(labels: &Labels<'_>) -> String {
    let pairs: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{}=\"{}\"", escape_label(&k), escape_label(&v)))
        .collect();
    if pairs.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", pairs.join(","))
    }
}

fn render(body: &str, format: Format) -> String {
    let mut out = String::new();
    for entry in Parser::new(body, format) {
        match entry {
            Ok(Entry::Series(s)) => {
                write!(
                    out,
                    "{}{} {}",
                    escape_label(&s.name),
                    fmt_labels(&s.labels),
                    fmt_value(s.value)
                )
                .unwrap();
                if let Some(ts) = s.timestamp_ms {
                    write!(out, " {ts}").unwrap();
                }
                if let Some(ex) = &s.exemplar {
                    write!(out, " # {} {}", fmt_labels(&ex.labels), fmt_value(ex.value)).unwrap();
                    if let Some(ts) = ex.timestamp_ms {
                        write!(out, " {ts}").unwrap();
                    }
                }
                out.push('\n');
            }
            Ok(Entry::Help { name, help }) => {
                writeln!(out, "# HELP {} {}", escape_label(&name), escape_text(&help)).unwrap()
            }
            Ok(Entry::Type { name, metric_type }) => {
                writeln!(out, "# TYPE {} {}", escape_label(&name), metric_type).unwrap()
            }
            Ok(Entry::Unit { name, unit }) => {
                writeln!(out, "# UNIT {} {}", escape_label(&name), unit).unwrap()
            }
            Ok(Entry::Comment(text)) => writeln!(out, "# COMMENT {}", escape_text(text)).unwrap(),
            Ok(Entry::Eof) => out.push_str("# EOF\n"),
            Err(e) => writeln!(out, "ERROR {} {}", e.line, e.message).unwrap(),
        }
    }
    out
}

/// Compares rendered output with the expectation; an `ERROR` line matches when the line number
/// is equal and the expected text is a substring of the actual message.
fn matches(actual: &str, expected: &str) -> bool {
    let a: Vec<&str> = actual.lines().collect();
    let e: Vec<&str> = expected.lines().collect();
    a.len() == e.len()
        && a.iter().zip(&e).all(|(a, e)| {
            if let (Some(a), Some(e)) = (a.strip_prefix("ERROR "), e.strip_prefix("ERROR ")) {
                let (al, am) = a.split_once(' ').unwrap_or((a, ""));
                let (el, em) = e.split_once(' ').unwrap_or((e, ""));
                al == el && am.contains(em)
            } else {
                a == e
            }
        })
}

fn corpus_files() -> Vec<(PathBuf, Format)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<(PathBuf, Format)> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            match p.extension().and_then(|x| x.to_str()) {
                Some("prom") => Some((p, Format::PrometheusText004)),
                Some("om") => Some((p, Format::OpenMetrics100)),
                _ => None,
            }
        })
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

#[test]
fn corpus_matches_expectations() {
    let files = corpus_files();
    assert!(files.len() >= 40, "corpus too small: {}", files.len());
    let mut failures = Vec::new();
    for (path, format) in &files {
        let body = std::fs::read_to_string(path).unwrap();
        let expected = std::fs::read_to_string(path.with_extension("expect"))
            .unwrap_or_else(|_| panic!("missing .expect for {}", path.display()));
        let actual = render(&body, *format);
        if !matches(&actual, &expected) {
            failures.push(format!(
                "== {}\n-- expected\n{expected}-- actual\n{actual}",
                path.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} corpus mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn corpus_has_malformed_payloads_of_both_formats() {
    let files = corpus_files();
    let errors = |ext: &str| {
        files
            .iter()
            .filter(|(p, _)| p.extension().unwrap() == ext)
            .filter(|(p, _)| {
                std::fs::read_to_string(p.with_extension("expect"))
                    .unwrap()
                    .contains("ERROR ")
            })
            .count()
    };
    assert!(errors("prom") >= 10);
    assert!(errors("om") >= 10);
}
