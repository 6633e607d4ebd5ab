//! Line-level grammar of both formats.

use std::borrow::Cow;

use super::labels::{next_item, resolve, scan_quoted, unescape, Grammar, Item, Span};
use super::number::{parse_om_timestamp, parse_prom_timestamp, parse_value};
use super::raw::{RawEntry, RawSample};
use super::scan::{
    brace_stop, has, line_end, name_stop, simple_set_end, skip_blanks, skip_name, skip_token,
    METRIC_START,
};
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

/// A non-sample line, shared by the full ([`Entry`]) and fast ([`RawEntry`]) paths.
enum Meta<'a> {
    Help {
        name: Cow<'a, str>,
        help: Cow<'a, str>,
    },
    Type {
        name: Cow<'a, str>,
        metric_type: MetricType,
    },
    Unit {
        name: Cow<'a, str>,
        unit: &'a str,
    },
    Comment(&'a str),
    Eof,
}

impl<'a> From<Meta<'a>> for Entry<'a> {
    #[inline]
    fn from(m: Meta<'a>) -> Self {
        match m {
            Meta::Help { name, help } => Entry::Help { name, help },
            Meta::Type { name, metric_type } => Entry::Type { name, metric_type },
            Meta::Unit { name, unit } => Entry::Unit { name, unit },
            Meta::Comment(text) => Entry::Comment(text),
            Meta::Eof => Entry::Eof,
        }
    }
}

impl<'a> From<Meta<'a>> for RawEntry<'a> {
    #[inline]
    fn from(m: Meta<'a>) -> Self {
        match m {
            Meta::Help { name, help } => RawEntry::Help { name, help },
            Meta::Type { name, metric_type } => RawEntry::Type { name, metric_type },
            Meta::Unit { name, unit } => RawEntry::Unit { name, unit },
            Meta::Comment(text) => RawEntry::Comment(text),
            Meta::Eof => RawEntry::Eof,
        }
    }
}

/// What the next line is, found before deciding how thoroughly to parse it.
enum LineStart {
    /// No more entries (text format: end of input).
    End,
    /// A `#` line at this offset.
    Meta(usize),
    /// A sample line whose series key starts at this offset.
    Series(usize),
}

/// What follows the series key on a sample line.
struct Tail<'a> {
    value: f64,
    timestamp_ms: Option<i64>,
    /// The exemplar and the offset of its `{` (OpenMetrics only).
    exemplar: Option<(Exemplar<'a>, usize)>,
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

    #[inline(always)]
    fn grammar(&self) -> Grammar {
        match self.format {
            Format::PrometheusText004 => Grammar::Prometheus,
            Format::OpenMetrics100 => Grammar::OpenMetrics,
        }
    }

    // The per-line helpers take the grammar as an argument rather than reading `self.format`:
    // `step`/`step_raw` branch on the format once and pass a constant, so each format gets its
    // own specialised copy of the inlined line parser.

    #[inline(always)]
    fn line_start(&mut self, g: Grammar) -> Result<LineStart, Fail> {
        if g == Grammar::Prometheus {
            self.prom_line_start()
        } else {
            self.om_line_start()
        }
    }

    #[inline(always)]
    fn meta(&mut self, hash: usize, g: Grammar) -> Result<Meta<'a>, Fail> {
        if g == Grammar::Prometheus {
            self.prom_comment(hash)
        } else {
            self.om_meta(hash)
        }
    }

    /// Parses the value, timestamp and (OpenMetrics) exemplar after a series key ending at
    /// `next`, and moves to the next line.
    #[inline(always)]
    fn tail(&mut self, next: usize, g: Grammar) -> Result<Tail<'a>, Fail> {
        if g == Grammar::Prometheus {
            self.prom_tail(next)
        } else {
            self.om_tail(next)
        }
    }

    fn step(&mut self) -> Result<Option<Entry<'a>>, Fail> {
        match self.format {
            Format::PrometheusText004 => self.step_as(Grammar::Prometheus),
            Format::OpenMetrics100 => self.step_as(Grammar::OpenMetrics),
        }
    }

    #[inline(always)]
    fn step_as(&mut self, g: Grammar) -> Result<Option<Entry<'a>>, Fail> {
        let start = match self.line_start(g)? {
            LineStart::End => return Ok(None),
            LineStart::Meta(hash) => return self.meta(hash, g).map(|m| Some(m.into())),
            LineStart::Series(start) => start,
        };
        let head = self.series_head(start, g)?;
        let tail = self.tail(head.next, g)?;
        Ok(Some(Entry::Series(Sample {
            series_key: self.slice(start, head.key_end),
            name: head.name,
            labels: head.labels,
            value: tail.value,
            timestamp_ms: tail.timestamp_ms,
            exemplar: tail.exemplar.map(|(ex, _)| ex),
        })))
    }

    // ---------------------------------------------------------------- scrape-cache fast path

    /// Reads the next entry like [`Iterator::next`], except that a sample's series key is only
    /// delimited, not validated: the scan finds the closing `}` while respecting quoted strings
    /// and escapes, but does not check label names, `=`/`,` placement or a quoted metric name.
    /// Everything else on the line (value, timestamp, exemplar, line end) and every metadata line
    /// is validated exactly as in the full path, and errors stop the parser as there.
    ///
    /// Contract: the caller looks `series_key` up in a cache of keys it obtained from
    /// [`Parser::validate`] (or from the full iterator) for the same [`Format`]. A hit means the
    /// identical bytes were validated before, so the line is exactly as valid as a fully parsed
    /// one. On a miss the caller must call [`Parser::validate`] and treat its error as the
    /// failure of the whole payload. A cache shared across formats would break this: text 0.0.4
    /// accepts keys (blanks inside braces, missing commas) that OpenMetrics rejects.
    pub fn next_raw(&mut self) -> Option<Result<RawEntry<'a>, ParseError>> {
        if self.done {
            return None;
        }
        match self.step_raw() {
            Ok(Some(entry)) => Some(Ok(entry)),
            Ok(None) => None,
            Err(fail) => {
                self.done = true;
                Some(Err(fail.into_error(self.body)))
            }
        }
    }

    /// Fully validates the series key of a sample from [`Parser::next_raw`] on this parser and
    /// returns the complete [`Sample`] (name, labels and exemplar decoded as the full path would).
    /// An error means the payload is malformed; this does not stop the parser, so the caller
    /// must stop reading itself.
    pub fn validate(&self, raw: &RawSample<'a>) -> Result<Sample<'a>, ParseError> {
        let head = self
            .series_head(raw.start, self.grammar())
            .map_err(|f| f.into_error(self.body))?;
        // For input the full path accepts, both scans end at the same `}`.
        if head.key_end != raw.start + raw.series_key.len() {
            return Err(Fail::at(head.key_end, "malformed label set").into_error(self.body));
        }
        Ok(Sample {
            series_key: raw.series_key,
            name: head.name,
            labels: head.labels,
            value: raw.value,
            timestamp_ms: raw.timestamp_ms,
            exemplar: self.exemplar(raw),
        })
    }

    /// The exemplar of a sample from [`Parser::next_raw`] on this parser (already validated by
    /// `next_raw`); `None` when the line has none.
    pub fn exemplar(&self, raw: &RawSample<'a>) -> Option<Exemplar<'a>> {
        if raw.exemplar_open == 0 {
            return None;
        }
        self.om_exemplar(raw.exemplar_open).ok().map(|(ex, _)| ex)
    }

    fn step_raw(&mut self) -> Result<Option<RawEntry<'a>>, Fail> {
        match self.format {
            Format::PrometheusText004 => self.step_raw_as(Grammar::Prometheus),
            Format::OpenMetrics100 => self.step_raw_as(Grammar::OpenMetrics),
        }
    }

    #[inline(always)]
    fn step_raw_as(&mut self, g: Grammar) -> Result<Option<RawEntry<'a>>, Fail> {
        let start = match self.line_start(g)? {
            LineStart::End => return Ok(None),
            LineStart::Meta(hash) => return self.meta(hash, g).map(|m| Some(m.into())),
            LineStart::Series(start) => start,
        };
        let key_end = self.raw_key_end(start, g)?;
        let tail = self.tail(key_end, g)?;
        Ok(Some(RawEntry::Series(RawSample {
            series_key: self.slice(start, key_end),
            value: tail.value,
            timestamp_ms: tail.timestamp_ms,
            start,
            exemplar_open: tail.exemplar.map_or(0, |(_, open)| open),
        })))
    }

    /// End of the series key starting at `start`, found without validating the label set.
    #[inline(always)]
    fn raw_key_end(&self, start: usize, g: Grammar) -> Result<usize, Fail> {
        let b = self.body.as_bytes();
        let mut i = start;
        if b[start] != b'{' {
            // The name is not checked either; it is part of the key.
            i = name_stop(b, start + 1);
            let key_end = i;
            if g == Grammar::Prometheus {
                i = skip_blanks(b, i);
            }
            if b.get(i) != Some(&b'{') {
                return Ok(key_end);
            }
        }
        // At '{'. Outside quoted strings a valid set holds only names, blanks, `=` and `,`, so
        // the first unquoted `}` closes it.
        if let Some(end) = simple_set_end(b, i) {
            return Ok(end);
        }
        i += 1;
        loop {
            i = brace_stop(b, i);
            match b.get(i) {
                Some(b'}') => return Ok(i + 1),
                Some(b'"') => match scan_quoted(b, i, g) {
                    Ok((_, end)) => i = end,
                    Err(_) => break,
                },
                _ => break,
            }
        }
        // Malformed: let the full scanner report the same error the full path would.
        self.series_head(start, g).map(|head| head.key_end)
    }

    // ---------------------------------------------------------------- text format 0.0.4

    /// Skips blank lines and classifies the next one.
    #[inline(always)]
    fn prom_line_start(&mut self) -> Result<LineStart, Fail> {
        let b = self.body.as_bytes();
        loop {
            let start = skip_blanks(b, self.pos);
            let Some(&c) = b.get(start) else {
                self.pos = b.len();
                self.done = true;
                return Ok(LineStart::End);
            };
            if c == b'\n' {
                self.pos = start + 1;
                continue;
            }
            if c == b'#' {
                return Ok(LineStart::Meta(start));
            }
            if c == b'{' || has(c, METRIC_START) {
                return Ok(LineStart::Series(start));
            }
            return Err(Fail::at(
                start,
                "expected metric name, '{', '#' or line break",
            ));
        }
    }

    fn prom_comment(&mut self, hash: usize) -> Result<Meta<'a>, Fail> {
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
        Ok(Meta::Comment(self.body.get(after_hash..end).unwrap_or("")))
    }

    fn prom_meta(&self, from: usize, end: usize, is_help: bool) -> Result<Meta<'a>, Fail> {
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
            return Ok(Meta::Help { name, help });
        }
        let metric_type = match text {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "histogram" => MetricType::Histogram,
            "summary" => MetricType::Summary,
            "untyped" => MetricType::Unknown,
            _ => return Err(Fail::at(text_start, "invalid metric type")),
        };
        Ok(Meta::Type { name, metric_type })
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

    /// Value and optional timestamp after the series key (ending at `next`).
    #[inline(always)]
    fn prom_tail(&mut self, next: usize) -> Result<Tail<'a>, Fail> {
        let b = self.body.as_bytes();
        let v_start = skip_blanks(b, next);
        if v_start == next || v_start >= b.len() || b[v_start] == b'\n' {
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
        Ok(Tail {
            value,
            timestamp_ms,
            exemplar: None,
        })
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

    #[inline(always)]
    fn value_at(&self, from: usize, to: usize) -> Result<f64, Fail> {
        let token = self.body.as_bytes().get(from..to).unwrap_or_default();
        parse_value(token).ok_or(Fail::at(from, "invalid sample value"))
    }

    #[inline(always)]
    fn slice(&self, from: usize, to: usize) -> &'a str {
        // Bounds are always ASCII delimiter positions inside the body.
        self.body.get(from..to).unwrap_or("")
    }

    // ---------------------------------------------------------------- OpenMetrics 1.0

    #[inline(always)]
    fn om_line_start(&mut self) -> Result<LineStart, Fail> {
        let b = self.body.as_bytes();
        let start = self.pos;
        let Some(&c) = b.get(start) else {
            return Err(Fail::at(start, "data does not end with # EOF"));
        };
        if c == b'#' {
            return Ok(LineStart::Meta(start));
        }
        if c == b'{' || has(c, METRIC_START) {
            return Ok(LineStart::Series(start));
        }
        Err(Fail::at(start, "expected metric name, '{' or '#'"))
    }

    fn om_meta(&mut self, hash: usize) -> Result<Meta<'a>, Fail> {
        let b = self.body.as_bytes();
        let rest = &b[hash..];
        if rest.starts_with(b"# EOF") {
            let after = hash + 5;
            let tail = &b[after..];
            if tail.is_empty() || tail == b"\n" {
                self.pos = b.len();
                self.done = true;
                return Ok(Meta::Eof);
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
                Ok(Meta::Help { name, help })
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
                Ok(Meta::Type { name, metric_type })
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
                Ok(Meta::Unit { name, unit: text })
            }
        }
    }

    /// Value, optional timestamp and optional exemplar after the series key (ending at `next`).
    #[inline(always)]
    fn om_tail(&mut self, next: usize) -> Result<Tail<'a>, Fail> {
        let b = self.body.as_bytes();
        let mut i = next;
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
                exemplar = Some((ex, i + 3));
                i = next;
            }
        }
        match b.get(i) {
            Some(b'\n') => self.pos = i + 1,
            None => return Err(Fail::at(i, "data does not end with # EOF")),
            Some(_) => return Err(Fail::at(i, "expected line break")),
        }
        Ok(Tail {
            value,
            timestamp_ms,
            exemplar,
        })
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
