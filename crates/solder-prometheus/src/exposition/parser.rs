//! Line-level grammar of both formats.

use std::borrow::Cow;

use super::labels::{next_item, resolve, scan_quoted, unescape, Grammar, Item, Span};
use super::number::{parse_om_timestamp, parse_prom_timestamp, parse_value};
use super::scan::{has, line_end, skip_blanks, skip_name, skip_token, METRIC_START};
use super::{Entry, Exemplar, Fail, Format, Labels, MetricType, ParseError, Sample};

/// Streaming parser over one scrape body.
///
/// Yields entries in order; after an error (or, for OpenMetrics, after `# EOF`) it yields
/// nothing more. Deliberate differences from Prometheus's parsers, all on inputs no real
/// exporter produces:
/// * text format: a value must be separated from the name/labels by a blank (Prometheus also
///   accepts `a{b="c"}1` and even `a-1`);
/// * text format: a NUL byte at the start of a line is an error (Prometheus silently stops);
/// * empty quoted metric or label names (`{""="x"}`) are rejected here rather than later.
#[derive(Clone, Debug)]
pub struct Parser<'a> {
    body: &'a str,
    pos: usize,
    format: Format,
    done: bool,
}

/// The parts of a `name{labels}` prefix.
struct SeriesHead<'a> {
    key_end: usize,
    name: Cow<'a, str>,
    labels: Labels<'a>,
    /// Index just after the name or the closing brace.
    next: usize,
}

impl<'a> Parser<'a> {
    pub fn new(body: &'a str, format: Format) -> Self {
        Parser {
            body,
            pos: 0,
            format,
            done: false,
        }
    }

    /// Validates UTF-8 first (the body of an HTTP response is bytes); an invalid byte fails the
    /// whole payload with the line it is on.
    pub fn from_bytes(body: &'a [u8], format: Format) -> Result<Self, ParseError> {
        match std::str::from_utf8(body) {
            Ok(s) => Ok(Parser::new(s, format)),
            Err(e) => {
                let at = e.valid_up_to();
                let line = body[..at].iter().filter(|&&c| c == b'\n').count() + 1;
                Err(ParseError {
                    line,
                    message: "invalid UTF-8".to_owned(),
                })
            }
        }
    }

    /// Byte offset of the next unread line.
    pub fn offset(&self) -> usize {
        self.pos
    }

    fn step(&mut self) -> Result<Option<Entry<'a>>, Fail> {
        match self.format {
            Format::PrometheusText004 => self.prom_line(),
            Format::OpenMetrics100 => self.om_line(),
        }
    }

    // ---------------------------------------------------------------- text format 0.0.4

    /// Parses one line; `Ok(None)` for a blank line or the end of input.
    fn prom_line(&mut self) -> Result<Option<Entry<'a>>, Fail> {
        let b = self.body.as_bytes();
        loop {
            let start = skip_blanks(b, self.pos);
            let Some(&c) = b.get(start) else {
                self.pos = b.len();
                self.done = true;
                return Ok(None);
            };
            if c == b'\n' {
                self.pos = start + 1;
                continue;
            }
            if c == b'#' {
                return self.prom_comment(start).map(Some);
            }
            if c == b'{' || has(c, METRIC_START) {
                return self.prom_series(start).map(Some);
            }
            return Err(Fail::at(
                start,
                "expected metric name, '{', '#' or line break",
            ));
        }
    }

    fn prom_comment(&mut self, hash: usize) -> Result<Entry<'a>, Fail> {
        let b = self.body.as_bytes();
        let end = line_end(b, hash);
        let after_hash = skip_blanks(b, hash + 1);
        self.pos = (end + 1).min(b.len());
        if after_hash > hash + 1 {
            let kw = b.get(after_hash..after_hash + 5);
            let kind = match kw {
                Some([b'H', b'E', b'L', b'P', b' ' | b'\t']) => Some(true),
                Some([b'T', b'Y', b'P', b'E', b' ' | b'\t']) => Some(false),
                _ => None,
            };
            if let Some(is_help) = kind {
                return self.prom_meta(after_hash + 5, end, is_help);
            }
        }
        Ok(Entry::Comment(self.body.get(after_hash..end).unwrap_or("")))
    }

    fn prom_meta(&self, from: usize, end: usize, is_help: bool) -> Result<Entry<'a>, Fail> {
        let b = self.body.as_bytes();
        let i = skip_blanks(b, from);
        // Quoted names in metadata may not span lines (the line end is already fixed).
        let (name, after) = self.meta_name(i, Grammar::OpenMetrics, is_help)?;
        // One blank separates name and text; everything after it, to the line end, is text.
        let text_start = match b.get(after) {
            None | Some(b'\n') => after,
            Some(b' ' | b'\t') => after + 1,
            Some(_) => return Err(Fail::at(after, "expected blank after metric name")),
        };
        let text = self.body.get(text_start..end).unwrap_or("");
        if is_help {
            let help = if text.contains('\\') {
                Cow::Owned(unescape(text, false))
            } else {
                Cow::Borrowed(text)
            };
            return Ok(Entry::Help { name, help });
        }
        let metric_type = match text {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "histogram" => MetricType::Histogram,
            "summary" => MetricType::Summary,
            "untyped" => MetricType::Unknown,
            _ => return Err(Fail::at(text_start, "invalid metric type")),
        };
        Ok(Entry::Type { name, metric_type })
    }

    /// A metric name in a metadata line: plain or quoted.
    fn meta_name(
        &self,
        i: usize,
        g: Grammar,
        is_help: bool,
    ) -> Result<(Cow<'a, str>, usize), Fail> {
        let b = self.body.as_bytes();
        let what = if is_help {
            "expected metric name after HELP"
        } else {
            "expected metric name after TYPE/UNIT"
        };
        match b.get(i) {
            Some(&c) if has(c, METRIC_START) => {
                let end = skip_name(b, i + 1, true);
                Ok((Cow::Borrowed(self.slice(i, end)), end))
            }
            Some(b'"') => {
                let (span, end) = scan_quoted(b, i, g)?;
                if span.start == span.end {
                    return Err(Fail::at(i, "empty metric name"));
                }
                Ok((resolve(self.body, span), end))
            }
            _ => Err(Fail::at(i, what)),
        }
    }

    fn prom_series(&mut self, start: usize) -> Result<Entry<'a>, Fail> {
        let b = self.body.as_bytes();
        let head = self.series_head(start, Grammar::Prometheus)?;
        let v_start = skip_blanks(b, head.next);
        if v_start == head.next || v_start >= b.len() || b[v_start] == b'\n' {
            return Err(Fail::at(v_start, "expected blank and value after metric"));
        }
        let v_end = skip_token(b, v_start);
        let value = self.value_at(v_start, v_end)?;
        let mut i = skip_blanks(b, v_end);
        let mut timestamp_ms = None;
        if i < b.len() && b[i] != b'\n' {
            if i == v_end {
                return Err(Fail::at(i, "expected blank after value"));
            }
            let t_end = skip_token(b, i);
            match parse_prom_timestamp(&b[i..t_end]) {
                Some(t) => timestamp_ms = Some(t),
                None => return Err(Fail::at(i, "invalid timestamp (integer milliseconds)")),
            }
            i = skip_blanks(b, t_end);
            if i < b.len() && b[i] != b'\n' {
                return Err(Fail::at(i, "expected line break after timestamp"));
            }
        }
        self.pos = (i + 1).min(b.len());
        Ok(Entry::Series(Sample {
            series_key: self.slice(start, head.key_end),
            name: head.name,
            labels: head.labels,
            value,
            timestamp_ms,
            exemplar: None,
        }))
    }

    /// Parses `name`, `name{...}` or `{...}` starting at `start`.
    fn series_head(&self, start: usize, g: Grammar) -> Result<SeriesHead<'a>, Fail> {
        let b = self.body.as_bytes();
        let mut name: Option<Cow<'a, str>> = None;
        let mut i = start;
        if b[start] != b'{' {
            i = skip_name(b, start + 1, true);
            let key_end = i;
            let plain = self.slice(start, key_end);
            if g == Grammar::Prometheus {
                i = skip_blanks(b, i);
            }
            if b.get(i) != Some(&b'{') {
                return Ok(SeriesHead {
                    key_end,
                    name: Cow::Borrowed(plain),
                    labels: Labels::default(),
                    next: key_end,
                });
            }
            name = Some(Cow::Borrowed(plain));
        }
        // At '{'.
        let open = i;
        i += 1;
        let mut quoted_name: Option<Span> = None;
        while let Some(item) = next_item(b, &mut i, g)? {
            if let Item::MetricName(span) = item {
                if name.is_some() || quoted_name.is_some() {
                    return Err(Fail::at(span.start, "metric name already set"));
                }
                quoted_name = Some(span);
            }
        }
        let name = match (name, quoted_name) {
            (Some(n), _) => n,
            (None, Some(span)) => resolve(self.body, span),
            (None, None) => return Err(Fail::at(start, "metric name not set")),
        };
        Ok(SeriesHead {
            key_end: i,
            name,
            labels: Labels::new(self.slice(open + 1, i)),
            next: i,
        })
    }

    fn value_at(&self, from: usize, to: usize) -> Result<f64, Fail> {
        parse_value(self.slice(from, to)).ok_or_else(|| Fail::at(from, "invalid sample value"))
    }

    #[inline(always)]
    fn slice(&self, from: usize, to: usize) -> &'a str {
        // Bounds are always ASCII delimiter positions inside the body.
        self.body.get(from..to).unwrap_or("")
    }

    // ---------------------------------------------------------------- OpenMetrics 1.0

    fn om_line(&mut self) -> Result<Option<Entry<'a>>, Fail> {
        let b = self.body.as_bytes();
        let start = self.pos;
        let Some(&c) = b.get(start) else {
            return Err(Fail::at(start, "data does not end with # EOF"));
        };
        if c == b'#' {
            return self.om_meta(start).map(Some);
        }
        if c == b'{' || has(c, METRIC_START) {
            return self.om_series(start).map(Some);
        }
        Err(Fail::at(start, "expected metric name, '{' or '#'"))
    }

    fn om_meta(&mut self, hash: usize) -> Result<Entry<'a>, Fail> {
        let b = self.body.as_bytes();
        let rest = &b[hash..];
        if rest.starts_with(b"# EOF") {
            let after = hash + 5;
            let tail = &b[after..];
            if tail.is_empty() || tail == b"\n" {
                self.pos = b.len();
                self.done = true;
                return Ok(Entry::Eof);
            }
            return Err(Fail::at(after, "unexpected data after # EOF"));
        }
        let kind = if rest.starts_with(b"# HELP ") {
            0
        } else if rest.starts_with(b"# TYPE ") {
            1
        } else if rest.starts_with(b"# UNIT ") {
            2
        } else {
            return Err(Fail::at(
                hash,
                "expected '# HELP', '# TYPE', '# UNIT' or '# EOF' (OpenMetrics has no comments)",
            ));
        };
        let (name, after) = self.meta_name(hash + 7, Grammar::OpenMetrics, kind == 0)?;
        let end = line_end(b, after);
        if end >= b.len() {
            return Err(Fail::at(end, "data does not end with # EOF"));
        }
        if b.get(after) != Some(&b' ') {
            return Err(Fail::at(
                after,
                "expected a space and text after metric name",
            ));
        }
        let text = self.slice(after + 1, end);
        self.pos = end + 1;
        match kind {
            0 => {
                let help = if text.contains('\\') {
                    Cow::Owned(unescape(text, true))
                } else {
                    Cow::Borrowed(text)
                };
                Ok(Entry::Help { name, help })
            }
            1 => {
                let metric_type = match text {
                    "counter" => MetricType::Counter,
                    "gauge" => MetricType::Gauge,
                    "histogram" => MetricType::Histogram,
                    "gaugehistogram" => MetricType::GaugeHistogram,
                    "summary" => MetricType::Summary,
                    "info" => MetricType::Info,
                    "stateset" => MetricType::StateSet,
                    "unknown" => MetricType::Unknown,
                    _ => return Err(Fail::at(after + 1, "invalid metric type")),
                };
                Ok(Entry::Type { name, metric_type })
            }
            _ => {
                // A unit must be the name's suffix after an underscore (`foo_seconds`/`seconds`).
                let ok = text.is_empty()
                    || (name.len() > text.len()
                        && name.ends_with(text)
                        && name.as_bytes()[name.len() - text.len() - 1] == b'_');
                if !ok {
                    return Err(Fail::at(
                        after + 1,
                        "unit is not a suffix of the metric name",
                    ));
                }
                Ok(Entry::Unit { name, unit: text })
            }
        }
    }

    fn om_series(&mut self, start: usize) -> Result<Entry<'a>, Fail> {
        let b = self.body.as_bytes();
        let head = self.series_head(start, Grammar::OpenMetrics)?;
        let mut i = head.next;
        if b.get(i) != Some(&b' ') {
            return Err(Fail::at(i, "expected a space and value after metric"));
        }
        let (value, next) = self.om_number(i + 1)?;
        i = next;
        let mut timestamp_ms = None;
        let mut exemplar = None;
        if b.get(i) == Some(&b' ') {
            if !b[i..].starts_with(b" # {") {
                let (ts, next) = self.om_timestamp(i + 1)?;
                timestamp_ms = Some(ts);
                i = next;
            }
            if b[i..].starts_with(b" # {") {
                let (ex, next) = self.om_exemplar(i + 3)?;
                exemplar = Some(ex);
                i = next;
            }
        }
        match b.get(i) {
            Some(b'\n') => self.pos = i + 1,
            None => return Err(Fail::at(i, "data does not end with # EOF")),
            Some(_) => return Err(Fail::at(i, "expected line break")),
        }
        Ok(Entry::Series(Sample {
            series_key: self.slice(start, head.key_end),
            name: head.name,
            labels: head.labels,
            value,
            timestamp_ms,
            exemplar,
        }))
    }

    /// A value token (up to a space or line break) at `i`.
    fn om_number(&self, i: usize) -> Result<(f64, usize), Fail> {
        let end = om_token_end(self.body.as_bytes(), i);
        if end == i {
            return Err(Fail::at(i, "expected value"));
        }
        Ok((self.value_at(i, end)?, end))
    }

    fn om_timestamp(&self, i: usize) -> Result<(i64, usize), Fail> {
        let end = om_token_end(self.body.as_bytes(), i);
        match parse_om_timestamp(self.slice(i, end)) {
            Some(ts) if end > i => Ok((ts, end)),
            _ => Err(Fail::at(i, "invalid timestamp")),
        }
    }

    /// `{labels} value [timestamp]` with `open` at the `{`.
    fn om_exemplar(&self, open: usize) -> Result<(Exemplar<'a>, usize), Fail> {
        let b = self.body.as_bytes();
        let mut i = open + 1;
        while next_item(b, &mut i, Grammar::Exemplar)?.is_some() {}
        let labels = Labels::new(self.slice(open + 1, i));
        if b.get(i) != Some(&b' ') {
            return Err(Fail::at(
                i,
                "expected a space and value after exemplar labels",
            ));
        }
        let (value, mut i) = self.om_number(i + 1)?;
        let mut timestamp_ms = None;
        if b.get(i) == Some(&b' ') {
            let (ts, next) = self.om_timestamp(i + 1)?;
            timestamp_ms = Some(ts);
            i = next;
        }
        Ok((
            Exemplar {
                labels,
                value,
                timestamp_ms,
            },
            i,
        ))
    }
}

/// OpenMetrics tokens end at a space or line break (a tab is part of the token, hence invalid).
#[inline(always)]
fn om_token_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i] != b' ' && b[i] != b'\n' {
        i += 1;
    }
    i
}

impl<'a> Iterator for Parser<'a> {
    type Item = Result<Entry<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.step() {
            Ok(Some(entry)) => Some(Ok(entry)),
            Ok(None) => None,
            Err(fail) => {
                self.done = true;
                Some(Err(fail.into_error(self.body)))
            }
        }
    }
}

impl std::iter::FusedIterator for Parser<'_> {}
