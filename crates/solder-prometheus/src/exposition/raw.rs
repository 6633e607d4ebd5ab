//! The scrape-cache fast path: entries whose label set has been delimited but not yet validated.
//!
//! A scrape loop keeps a cache keyed by the raw series text (`name{labels}` exactly as exposed).
//! For a series already in that cache the identical bytes were fully validated on an earlier
//! scrape, so checking them again is wasted work — it is most of what parsing costs. The
//! [`Parser::next_raw`](super::Parser::next_raw) path therefore only finds where the series key
//! ends (a cheap scan that respects quotes and escapes) and validates everything else on the
//! line exactly as [`Parser::next`](Iterator::next) does. On a cache miss the caller asks for the
//! full validation with [`Parser::validate`](super::Parser::validate).

use std::borrow::Cow;

use super::MetricType;

/// A sample line whose series key has been delimited but not validated.
///
/// The value, timestamp, exemplar and everything after the key were validated exactly as in the
/// full path; only the bytes of `series_key` were not. For text that the full path accepts,
/// `series_key` is byte-for-byte the [`Sample::series_key`](super::Sample::series_key) it yields.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RawSample<'a> {
    /// The raw series text; unvalidated (see the type's documentation).
    pub series_key: &'a str,
    /// The value; a parsed `NaN` has the bits [`NORMAL_NAN_BITS`](super::NORMAL_NAN_BITS).
    pub value: f64,
    /// As [`Sample::timestamp_ms`](super::Sample::timestamp_ms).
    pub timestamp_ms: Option<i64>,
    /// Byte offset of `series_key` in the body.
    pub(crate) start: usize,
    /// Byte offset of the exemplar's `{` in the body; 0 when the line has none (offset 0 always
    /// holds the first byte of a series key, never an exemplar).
    pub(crate) exemplar_open: usize,
}

impl RawSample<'_> {
    /// True when the line carries an OpenMetrics exemplar (read it with
    /// [`Parser::exemplar`](super::Parser::exemplar)).
    pub fn has_exemplar(&self) -> bool {
        self.exemplar_open != 0
    }
}

/// One line read by [`Parser::next_raw`](super::Parser::next_raw). Metadata lines are fully
/// parsed and validated, as in [`Entry`](super::Entry).
#[derive(Clone, Debug, PartialEq)]
pub enum RawEntry<'a> {
    Series(RawSample<'a>),
    /// `# HELP name text`; `help` is unescaped.
    Help {
        name: Cow<'a, str>,
        help: Cow<'a, str>,
    },
    /// `# TYPE name type`.
    Type {
        name: Cow<'a, str>,
        metric_type: MetricType,
    },
    /// `# UNIT name unit` (OpenMetrics only).
    Unit {
        name: Cow<'a, str>,
        unit: &'a str,
    },
    /// Any other `#` line (text format only).
    Comment(&'a str),
    /// `# EOF` (OpenMetrics only); always the last entry.
    Eof,
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::{Entry, Format, ParseError, Parser};
    use super::*;

    /// Everything the full iterator yields, errors included.
    fn full(body: &str, format: Format) -> Vec<Result<Entry<'_>, ParseError>> {
        Parser::new(body, format).collect()
    }

    /// The fast path as a scrape loop with an always-missing cache uses it: every sample is
    /// validated, and a validation error ends the payload.
    fn fast(body: &str, format: Format) -> Vec<Result<Entry<'_>, ParseError>> {
        let mut p = Parser::new(body, format);
        let mut out = Vec::new();
        while let Some(next) = p.next_raw() {
            let entry = match next {
                Err(e) => Err(e),
                Ok(RawEntry::Series(raw)) => p.validate(&raw).map(Entry::Series),
                Ok(RawEntry::Help { name, help }) => Ok(Entry::Help { name, help }),
                Ok(RawEntry::Type { name, metric_type }) => Ok(Entry::Type { name, metric_type }),
                Ok(RawEntry::Unit { name, unit }) => Ok(Entry::Unit { name, unit }),
                Ok(RawEntry::Comment(text)) => Ok(Entry::Comment(text)),
                Ok(RawEntry::Eof) => Ok(Entry::Eof),
            };
            let stop = entry.is_err();
            out.push(entry);
            if stop {
                break;
            }
        }
        out
    }

    /// Both paths yield the same entries, and a malformed payload fails both at the same entry.
    fn assert_agree(body: &str, format: Format, what: &str) {
        let f = full(body, format);
        let r = fast(body, format);
        assert_eq!(f.len(), r.len(), "{what}: entry count\n{f:?}\n{r:?}");
        for (a, b) in f.iter().zip(&r) {
            match (a, b) {
                // Debug form, because `NaN != NaN` (values are compared bit for bit below).
                (Ok(a), Ok(b)) => {
                    assert_eq!(format!("{a:?}"), format!("{b:?}"), "{what}");
                    if let (Entry::Series(a), Entry::Series(b)) = (a, b) {
                        assert_eq!(a.value.to_bits(), b.value.to_bits(), "{what}");
                    }
                }
                // The fast path reads the rest of the line before the key is validated, so a
                // line broken twice may be reported at its second fault, which can sit on a later
                // line when a quoted value holds a raw line break.
                (Err(a), Err(b)) if a.message == b.message => assert_eq!(a.line, b.line, "{what}"),
                (Err(a), Err(b)) => assert!(b.line >= a.line, "{what}: {a} vs {b}"),
                _ => panic!("{what}: {a:?} vs {b:?}"),
            }
        }
    }

    fn corpus() -> Vec<(String, String, Format)> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let format = match p.extension().and_then(|x| x.to_str()) {
                Some("prom") => Format::PrometheusText004,
                Some("om") => Format::OpenMetrics100,
                _ => continue,
            };
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            out.push((name, std::fs::read_to_string(&p).unwrap(), format));
        }
        assert!(out.len() >= 70, "corpus too small: {}", out.len());
        out
    }

    #[test]
    fn fast_and_full_paths_agree_on_the_corpus() {
        for (name, body, format) in corpus() {
            assert_agree(&body, format, &name);
            // Same error messages too: in the corpus each broken line has one fault.
            let f = full(&body, format);
            let r = fast(&body, format);
            assert_eq!(format!("{f:?}"), format!("{r:?}"), "{name}");
        }
    }

    #[test]
    fn fast_and_full_paths_agree_on_mutated_corpus() {
        // Deterministic xorshift so a failure reproduces.
        let mut s: u64 = 0x2545_f491_4f6c_dd1d;
        let mut rnd = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let alphabet = b"{}\"\\=, \t\n#a_:0.e-+";
        for (name, body, format) in corpus() {
            if body.is_empty() {
                continue;
            }
            for _ in 0..300 {
                let mut b = body.clone().into_bytes();
                for _ in 0..=(rnd() % 3) {
                    let at = (rnd() % b.len() as u64) as usize;
                    let c = alphabet[(rnd() % alphabet.len() as u64) as usize];
                    match rnd() % 3 {
                        0 => b[at] = c,
                        1 => b.insert(at, c),
                        _ => {
                            b.remove(at);
                        }
                    }
                    if b.is_empty() {
                        break;
                    }
                }
                // Keep only mutations that are still UTF-8 (the parser works on `&str`).
                let Ok(text) = String::from_utf8(b) else {
                    continue;
                };
                assert_agree(&text, format, &format!("{name}: {text:?}"));
            }
        }
    }

    #[test]
    fn raw_key_is_the_full_series_key() {
        let body = "a 1\nb{x=\"}\\\"{\"} 2 5\nc {y=\"1\" , z=\"2\"} 3\n{\"d.e\",k=\"v\"} 4\n";
        let mut p = Parser::new(body, Format::PrometheusText004);
        let mut keys = Vec::new();
        while let Some(e) = p.next_raw() {
            if let RawEntry::Series(raw) = e.unwrap() {
                keys.push((raw.series_key, raw.value, raw.timestamp_ms));
            }
        }
        assert_eq!(
            keys,
            vec![
                ("a", 1.0, None),
                ("b{x=\"}\\\"{\"}", 2.0, Some(5)),
                ("c {y=\"1\" , z=\"2\"}", 3.0, None),
                ("{\"d.e\",k=\"v\"}", 4.0, None),
            ]
        );
    }

    #[test]
    fn raw_path_defers_label_validation_to_validate() {
        // `a-b` is not a label name: the fast path delimits the key, `validate` rejects it.
        let body = "m{a-b=\"x\"} 1\n";
        let mut p = Parser::new(body, Format::PrometheusText004);
        let Some(Ok(RawEntry::Series(raw))) = p.next_raw() else {
            panic!("expected a raw sample");
        };
        assert_eq!(raw.series_key, "m{a-b=\"x\"}");
        let err = p.validate(&raw).unwrap_err();
        assert_eq!(err.line, 1);
        assert_eq!(
            Parser::new(body, Format::PrometheusText004)
                .next()
                .unwrap()
                .unwrap_err(),
            err
        );
    }

    #[test]
    fn raw_path_still_validates_the_rest_of_the_line() {
        let mut p = Parser::new("m{a=\"x\"} 1 2 3\n", Format::PrometheusText004);
        let err = p.next_raw().unwrap().unwrap_err();
        assert!(err.message.contains("line break after timestamp"), "{err}");
        assert!(p.next_raw().is_none(), "the parser stops after an error");
    }

    #[test]
    fn raw_exemplar_is_read_on_demand() {
        let body =
            "# TYPE c counter\nc_total{a=\"b\"} 1 # {trace_id=\"x\"} 0.5 12.5\nc_total 2\n# EOF\n";
        let mut p = Parser::new(body, Format::OpenMetrics100);
        let mut seen = Vec::new();
        while let Some(e) = p.next_raw() {
            if let RawEntry::Series(raw) = e.unwrap() {
                let ex = p.exemplar(&raw);
                assert_eq!(raw.has_exemplar(), ex.is_some());
                seen.push(ex.map(|ex| (ex.value, ex.timestamp_ms, ex.labels.raw())));
            }
        }
        assert_eq!(
            seen,
            vec![Some((0.5, Some(12_500), "trace_id=\"x\"}")), None]
        );
    }

    /// Label values of every length around the 8/16/32-byte scan steps, holding a quote, a
    /// backslash, a brace, a comma or a line break at every position, on short and long lines,
    /// at the end of the input with and without a final line break: both paths agree.
    #[test]
    fn fast_and_full_paths_agree_across_scan_blocks() {
        let specials = ["\\\"", "\\\\", "}", "{", ",", "\\n", "=", "\n"];
        let mut checked = 0;
        for len in 0..40 {
            for at in 0..=len {
                for special in specials {
                    let mut value = "v".repeat(len);
                    value.insert_str(at, special);
                    for (prefix, suffix) in [("", ""), ("a{b=\"c\"} 1\n", "\n"), ("x 2\n", "")] {
                        let body = format!("{prefix}m{{l=\"{value}\",k=\"w\"}} 3{suffix}");
                        assert_agree(&body, Format::PrometheusText004, &body);
                        let body = format!("{prefix}m{{l=\"{value}\"}} 4\n# EOF\n");
                        assert_agree(&body, Format::OpenMetrics100, &body);
                        checked += 2;
                    }
                }
            }
        }
        assert!(checked > 10_000);
    }

    #[test]
    fn raw_sample_stays_small() {
        // Moving the 128-byte `Entry` out of the iterator was a measurable cost.
        assert!(std::mem::size_of::<RawEntry<'_>>() <= 64);
    }
}
