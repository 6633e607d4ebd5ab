//! Zero-copy parser for the Prometheus text exposition format 0.0.4 and OpenMetrics 1.0 text.
//!
//! ```
//! use solder_prometheus::exposition::{Entry, Format, Parser};
//!
//! let body = "# TYPE up gauge\nup{job=\"node\"} 1 1700000000000\n";
//! for entry in Parser::new(body, Format::PrometheusText004) {
//!     if let Entry::Series(s) = entry.unwrap() {
//!         assert_eq!(s.series_key, "up{job=\"node\"}");
//!         assert_eq!(s.value, 1.0);
//!         assert_eq!(s.timestamp_ms, Some(1_700_000_000_000));
//!         let labels: Vec<_> = s.labels.iter().collect();
//!         assert_eq!(labels[0].1, "node");
//!     }
//! }
//! ```
//!
//! Design:
//! * [`Parser`] is an iterator of `Result<Entry, ParseError>`; it stops after the first error
//!   (a malformed payload fails the whole scrape, as in Prometheus).
//! * Nothing is allocated per sample: names, label text and help strings borrow from the body.
//!   `Cow::Owned` appears only where a backslash escape must be undone.
//! * Labels are validated while parsing but decoded lazily ([`Labels::iter`]). Together with
//!   [`Sample::series_key`] (the raw name-and-labels text) this lets the scrape loop look a line
//!   up in its cache and skip label work for series it has seen before.
//! * The scrape-cache fast path, [`Parser::next_raw`], goes one step further: it only delimits
//!   the series key and leaves its validation to [`Parser::validate`], which the caller runs on a
//!   cache miss (a hit means the identical bytes were validated on an earlier scrape).
//! * Acceptance follows Prometheus's own parsers (`model/textparse`), including its lenient
//!   corners in the text format (whitespace inside braces, optional commas between pairs),
//!   except where noted on [`Parser`].

mod labels;
mod number;
mod parser;
mod raw;
mod scan;

use std::borrow::Cow;
use std::fmt;

pub use labels::{Labels, LabelsIter};
pub use number::NORMAL_NAN_BITS;
pub use parser::Parser;
pub use raw::{RawEntry, RawSample};

/// Which text format a body is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// `text/plain; version=0.0.4`.
    PrometheusText004,
    /// `application/openmetrics-text; version=1.0.0` (0.0.1 is parsed the same way).
    OpenMetrics100,
}

/// Picks the parser for a response `Content-Type`: OpenMetrics for
/// `application/openmetrics-text` (any version or parameters, case-insensitive), the text format
/// for everything else, including a missing header — the text format is the historical default.
pub fn format_from_content_type(ct: &str) -> Format {
    let media = ct.split(';').next().unwrap_or("").trim();
    if media.eq_ignore_ascii_case("application/openmetrics-text") {
        Format::OpenMetrics100
    } else {
        Format::PrometheusText004
    }
}

/// A metric family type from a `# TYPE` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
    /// OpenMetrics only.
    GaugeHistogram,
    Summary,
    /// OpenMetrics only.
    Info,
    /// OpenMetrics only.
    StateSet,
    /// `untyped` in the text format, `unknown` in OpenMetrics.
    Unknown,
}

impl MetricType {
    /// The OpenMetrics spelling (`unknown` for untyped).
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
            MetricType::Unknown => "unknown",
        }
    }
}

impl fmt::Display for MetricType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One parsed line (or the end marker).
#[derive(Clone, Debug, PartialEq)]
pub enum Entry<'a> {
    Series(Sample<'a>),
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
    /// Any other `#` line (text format only): the text after `#` and the blanks following it.
    Comment(&'a str),
    /// `# EOF` (OpenMetrics only); always the last entry.
    Eof,
}

/// A sample line.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample<'a> {
    /// The raw text from the first byte of the metric name (or `{`) to the end of the label set
    /// (or of the name when there is none). Equal keys always decode to equal names and labels,
    /// so the scrape loop can use it as its cache key.
    pub series_key: &'a str,
    /// The metric name, unescaped when it was a quoted UTF-8 name with escapes.
    pub name: Cow<'a, str>,
    /// The label pairs (not including the name).
    pub labels: Labels<'a>,
    /// The value; a parsed `NaN` has the bits [`NORMAL_NAN_BITS`].
    pub value: f64,
    /// Text format: the integer milliseconds as written. OpenMetrics: seconds × 1000, truncated.
    pub timestamp_ms: Option<i64>,
    /// OpenMetrics exemplar (` # {labels} value [timestamp]`).
    pub exemplar: Option<Exemplar<'a>>,
}

/// An OpenMetrics exemplar attached to a sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Exemplar<'a> {
    pub labels: Labels<'a>,
    pub value: f64,
    pub timestamp_ms: Option<i64>,
}

/// A malformed payload. `line` is 1-based; `message` says what was expected and quotes the
/// start of the offending line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

/// Internal failure: a byte offset and a fixed description; turned into a [`ParseError`] (with
/// line number and the offending line quoted) only when a parse actually fails. Kept two words
/// small so `Result`s on the hot path stay in registers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fail {
    at: usize,
    what: &'static str,
}

impl Fail {
    pub(crate) fn at(at: usize, what: &'static str) -> Fail {
        Fail { at, what }
    }

    fn into_error(self, body: &str) -> ParseError {
        let b = body.as_bytes();
        let at = self.at.min(b.len());
        let line_start = b[..at]
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(0, |p| p + 1);
        let line = b[..at].iter().filter(|&&c| c == b'\n').count() + 1;
        let line_stop = scan::line_end(b, at);
        let text = body.get(line_start..line_stop).unwrap_or("");
        let message = if text.is_empty() {
            self.what.to_owned()
        } else {
            // Keep health/debug output readable for huge lines.
            let shown: String = text.chars().take(120).collect();
            format!("{} in {:?}", self.what, shown)
        };
        ParseError { line, message }
    }
}
