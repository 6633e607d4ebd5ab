#![allow(clippy::unwrap_used, clippy::expect_used)]
//! API-level behaviour of the exposition parser: borrowing, series keys, errors, iteration.

use std::borrow::Cow;

use solder_prometheus::exposition::{
    format_from_content_type, Entry, Format, MetricType, ParseError, Parser, Sample,
};

fn samples(body: &str, format: Format) -> Vec<Sample<'_>> {
    Parser::new(body, format)
        .map(|e| e.unwrap())
        .filter_map(|e| match e {
            Entry::Series(s) => Some(s),
            _ => None,
        })
        .collect()
}

fn first_error(body: &str, format: Format) -> ParseError {
    Parser::new(body, format)
        .find_map(|e| e.err())
        .expect("expected a parse error")
}

#[test]
fn content_type_selects_format() {
    let cases = [
        (
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::OpenMetrics100,
        ),
        (
            "application/openmetrics-text;version=0.0.1",
            Format::OpenMetrics100,
        ),
        ("Application/OpenMetrics-Text", Format::OpenMetrics100),
        (
            "text/plain; version=0.0.4; charset=utf-8",
            Format::PrometheusText004,
        ),
        ("text/plain", Format::PrometheusText004),
        ("", Format::PrometheusText004),
        ("application/json", Format::PrometheusText004),
    ];
    for (ct, want) in cases {
        assert_eq!(format_from_content_type(ct), want, "{ct}");
    }
}

#[test]
fn plain_lines_borrow_everything() {
    let body = "m{a=\"x\",b=\"y\"} 1\n";
    let s = &samples(body, Format::PrometheusText004)[0];
    assert!(matches!(s.name, Cow::Borrowed("m")));
    for (k, v) in s.labels.iter() {
        assert!(matches!(k, Cow::Borrowed(_)));
        assert!(matches!(v, Cow::Borrowed(_)));
    }
    // The key points into the body itself.
    let body_range = body.as_ptr() as usize..body.as_ptr() as usize + body.len();
    assert!(body_range.contains(&(s.series_key.as_ptr() as usize)));
}

#[test]
fn escapes_allocate_only_the_escaped_value() {
    let s = &samples("m{a=\"x\\\"y\",b=\"plain\"} 1\n", Format::PrometheusText004)[0];
    let labels: Vec<_> = s.labels.iter().collect();
    assert!(matches!(labels[0].1, Cow::Owned(ref v) if v == "x\"y"));
    assert!(matches!(labels[1].1, Cow::Borrowed("plain")));
}

#[test]
fn series_key_spans_name_and_labels_only() {
    let body = "  a 1 5\nb{c=\"d\"} 2\n{\"e.f\",g=\"h\"} 3 7\nx {y=\"z\"} 4\n";
    let keys: Vec<&str> = samples(body, Format::PrometheusText004)
        .iter()
        .map(|s| s.series_key)
        .collect();
    assert_eq!(
        keys,
        ["a", "b{c=\"d\"}", "{\"e.f\",g=\"h\"}", "x {y=\"z\"}"]
    );
}

#[test]
fn equal_keys_mean_equal_series() {
    let body = "m{a=\"1\"} 1\nm{a=\"1\"} 2\nm{a=\"2\"} 3\n";
    let s = samples(body, Format::PrometheusText004);
    assert_eq!(s[0].series_key, s[1].series_key);
    assert_ne!(s[0].series_key, s[2].series_key);
}

#[test]
fn metadata_entries() {
    let body = "# HELP m Some help.\n# TYPE m counter\n# random\nm 1\n";
    let entries: Vec<Entry<'_>> = Parser::new(body, Format::PrometheusText004)
        .map(|e| e.unwrap())
        .collect();
    assert_eq!(
        entries[0],
        Entry::Help {
            name: Cow::Borrowed("m"),
            help: Cow::Borrowed("Some help.")
        }
    );
    assert_eq!(
        entries[1],
        Entry::Type {
            name: Cow::Borrowed("m"),
            metric_type: MetricType::Counter
        }
    );
    assert_eq!(entries[2], Entry::Comment("random"));
    assert_eq!(entries.len(), 4);
}

#[test]
fn openmetrics_ends_with_eof_entry() {
    let body = "# UNIT m_seconds seconds\nm_seconds 1\n# EOF\n";
    let entries: Vec<Entry<'_>> = Parser::new(body, Format::OpenMetrics100)
        .map(|e| e.unwrap())
        .collect();
    assert_eq!(
        entries[0],
        Entry::Unit {
            name: Cow::Borrowed("m_seconds"),
            unit: "seconds"
        }
    );
    assert_eq!(entries.last(), Some(&Entry::Eof));
    // In the text format, `# EOF` is just a comment.
    let text: Vec<Entry<'_>> = Parser::new("# EOF\n", Format::PrometheusText004)
        .map(|e| e.unwrap())
        .collect();
    assert_eq!(text, [Entry::Comment("EOF")]);
}

#[test]
fn parser_stops_after_first_error() {
    let mut p = Parser::new("a 1\nb x\nc 3\n", Format::PrometheusText004);
    assert!(matches!(p.next(), Some(Ok(Entry::Series(_)))));
    let err = p.next().unwrap().unwrap_err();
    assert_eq!(err.line, 2);
    assert!(p.next().is_none());
    assert!(p.next().is_none());
}

#[test]
fn error_display_names_line_and_context() {
    let err = first_error("ok 1\nbad{a=\"b\"} zzz\n", Format::PrometheusText004);
    let shown = err.to_string();
    assert!(shown.starts_with("line 2: invalid sample value"), "{shown}");
    assert!(shown.contains("bad{a="), "{shown}");
}

#[test]
fn error_context_is_truncated_for_huge_lines() {
    let long = format!("m{{a=\"{}\"}} nope\n", "v".repeat(10_000));
    let err = first_error(&long, Format::PrometheusText004);
    assert!(err.message.len() < 300, "{}", err.message.len());
}

#[test]
fn from_bytes_rejects_invalid_utf8_with_line() {
    let err = Parser::from_bytes(b"a 1\nb{c=\"\xff\"} 1\n", Format::PrometheusText004).unwrap_err();
    assert_eq!(err.line, 2);
    assert!(Parser::from_bytes(b"a 1\n", Format::PrometheusText004).is_ok());
}

#[test]
fn labels_iter_skips_quoted_metric_name_and_handles_empty_sets() {
    let s = samples(
        "{\"my.metric\", a=\"b\"} 1\nn{} 2\nn 3\n",
        Format::PrometheusText004,
    );
    assert_eq!(s[0].name, "my.metric");
    let labels: Vec<_> = s[0].labels.iter().collect();
    assert_eq!(labels, [(Cow::Borrowed("a"), Cow::Borrowed("b"))]);
    assert!(s[1].labels.is_empty());
    assert!(s[2].labels.is_empty());
    assert_eq!(s[2].labels.raw(), "");
}

#[test]
fn duplicate_label_names_are_reported_as_written() {
    // Rejecting duplicates is the scrape loop's job (Prometheus fails the sample there).
    let s = samples("m{a=\"1\",a=\"2\"} 1\n", Format::PrometheusText004);
    assert_eq!(s[0].labels.iter().count(), 2);
}

#[test]
fn exemplar_fields() {
    let body =
        "foo_total 17 1520879607.789 # {trace_id=\"KOO5S4vxi0o\"} 0.67 1520879602.890\n# EOF\n";
    let s = &samples(body, Format::OpenMetrics100)[0];
    assert_eq!(s.timestamp_ms, Some(1_520_879_607_789));
    let ex = s.exemplar.as_ref().unwrap();
    assert_eq!(ex.value, 0.67);
    assert_eq!(ex.timestamp_ms, Some(1_520_879_602_890));
    assert_eq!(ex.labels.iter().next().unwrap().1, "KOO5S4vxi0o");
    assert_eq!(s.series_key, "foo_total");
}

#[test]
fn exemplar_syntax_is_a_value_error_in_text_format() {
    // The text format has no exemplars; Prometheus rejects the extra tokens too.
    let err = first_error("foo_total 17 # {a=\"b\"} 1\n", Format::PrometheusText004);
    assert_eq!(err.line, 1);
}

#[test]
fn offset_advances_line_by_line() {
    let mut p = Parser::new("a 1\nbb 2\n", Format::PrometheusText004);
    assert_eq!(p.offset(), 0);
    p.next();
    assert_eq!(p.offset(), 4);
    p.next();
    assert_eq!(p.offset(), 9);
    assert!(p.next().is_none());
}
