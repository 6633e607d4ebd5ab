//! Label sets: one scanner used twice — once by the parser to validate a `{...}` block (and find
//! a quoted metric name in it), and again, lazily, by [`LabelsIter`] when the caller wants the
//! pairs. Keeping a single scanner guarantees both passes agree on what the text means, and lets
//! the scrape loop skip label decoding entirely for series it has already cached.

use std::borrow::Cow;

use super::scan::{find_any, has, skip_name, LABEL_START};
use super::Fail;

/// How strict the label-set grammar is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Grammar {
    /// Text 0.0.4: spaces/tabs around every token, optional commas between pairs, raw line
    /// breaks inside quoted values.
    Prometheus,
    /// OpenMetrics: no whitespace, pairs separated by exactly one comma (trailing comma allowed),
    /// no raw line breaks in quoted strings.
    OpenMetrics,
    /// OpenMetrics exemplar label set: as `OpenMetrics`, and a quoted metric name is not allowed.
    Exemplar,
}

/// A token's inner byte range (quotes excluded) and whether it contains backslash escapes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Span {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) escaped: bool,
}

/// One element of a label set.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Item {
    /// A quoted string standing alone: the UTF-8 metric name (`{"my.metric", a="b"}`).
    MetricName(Span),
    Pair {
        name: Span,
        value: Span,
    },
}

#[inline(always)]
fn skip_ws(b: &[u8], mut i: usize, g: Grammar) -> usize {
    if g == Grammar::Prometheus {
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
    }
    i
}

/// Scans a quoted string whose opening quote is at `i`; returns its span and the index after the
/// closing quote. A backslash escapes any following character except a line break.
#[inline(always)]
pub(crate) fn scan_quoted(b: &[u8], i: usize, g: Grammar) -> Result<(Span, usize), Fail> {
    let start = i + 1;
    let mut j = start;
    let mut escaped = false;
    loop {
        j = quoted_stop(b, j);
        match b.get(j) {
            None => return Err(Fail::at(i, "unterminated quoted string")),
            Some(b'"') => {
                let span = Span {
                    start,
                    end: j,
                    escaped,
                };
                return Ok((span, j + 1));
            }
            Some(b'\\') => match b.get(j + 1) {
                None | Some(b'\n') => {
                    return Err(Fail::at(j, "invalid escape sequence in quoted string"))
                }
                Some(_) => {
                    escaped = true;
                    j += 2;
                }
            },
            // A raw line break.
            Some(_) => {
                if g != Grammar::Prometheus {
                    return Err(Fail::at(j, "line break inside quoted string"));
                }
                j += 1;
            }
        }
    }
}

/// Index of the next `"`, `\` or line break at or after `j` (or `b.len()`). Label values are
/// the bulk of a payload, so plain runs are skipped a block at a time (see `find_any`), and a hit
/// is returned directly rather than re-tested byte by byte.
#[inline(always)]
fn quoted_stop(b: &[u8], j: usize) -> usize {
    find_any(b, j, [b'"', b'\\', b'\n'])
}

/// Reads the next element of a label set. `i` is just after `{` or after the previous element.
/// Returns `None` (with the index after `}`) at the end of the set.
#[inline(always)]
pub(crate) fn next_item(b: &[u8], i: &mut usize, g: Grammar) -> Result<Option<Item>, Fail> {
    let mut p = skip_ws(b, *i, g);
    let name = match b.get(p) {
        Some(b'}') => {
            *i = p + 1;
            return Ok(None);
        }
        Some(&c) if has(c, LABEL_START) => {
            let end = skip_name(b, p + 1, false);
            let span = Span {
                start: p,
                end,
                escaped: false,
            };
            p = end;
            span
        }
        Some(b'"') => {
            let (span, end) = scan_quoted(b, p, g)?;
            p = skip_ws(b, end, g);
            match b.get(p) {
                Some(b',') | Some(b'}') if g != Grammar::Exemplar => {
                    if span.start == span.end {
                        return Err(Fail::at(span.start, "empty metric name"));
                    }
                    if b[p] == b',' {
                        p += 1;
                    }
                    *i = p;
                    return Ok(Some(Item::MetricName(span)));
                }
                _ => {}
            }
            if span.start == span.end {
                return Err(Fail::at(span.start, "empty label name"));
            }
            span
        }
        _ => return Err(Fail::at(p, "expected label name")),
    };
    p = skip_ws(b, p, g);
    if b.get(p) != Some(&b'=') {
        return Err(Fail::at(p, "expected '=' after label name"));
    }
    p = skip_ws(b, p + 1, g);
    if b.get(p) != Some(&b'"') {
        return Err(Fail::at(p, "expected quoted label value"));
    }
    let (value, end) = scan_quoted(b, p, g)?;
    p = skip_ws(b, end, g);
    match b.get(p) {
        Some(b',') => p += 1,
        Some(b'}') => {}
        // Text 0.0.4 tolerates a missing comma between pairs, as Prometheus does.
        _ if g == Grammar::Prometheus => {}
        _ => return Err(Fail::at(p, "expected ',' or '}' after label value")),
    }
    *i = p;
    Ok(Some(Item::Pair { name, value }))
}

/// Resolves a span of `text` to a string, unescaping `\\`, `\"` and `\n` only when needed.
/// Unknown escapes are kept verbatim, matching Prometheus.
#[inline]
pub(crate) fn resolve<'a>(text: &'a str, span: Span) -> Cow<'a, str> {
    let raw = text.get(span.start..span.end).unwrap_or("");
    if span.escaped {
        Cow::Owned(unescape(raw, true))
    } else {
        Cow::Borrowed(raw)
    }
}

/// Undoes backslash escapes: `\\` and `\n` always, `\"` when `quotes` is set (label values,
/// quoted names, OpenMetrics help; the text format's `# HELP` leaves `\"` alone).
pub(crate) fn unescape(raw: &str, quotes: bool) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if quotes => out.push('"'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// The label set of a sample or exemplar, kept as raw validated text and decoded on demand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Labels<'a> {
    /// From just after `{` up to and including `}`; empty when the line had no label set.
    text: &'a str,
}

impl<'a> Labels<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Labels { text }
    }

    /// The raw label-set text after `{`, including the closing `}` (empty without a set).
    pub fn raw(&self) -> &'a str {
        self.text
    }

    /// Iterates `(name, value)` pairs in exposition order, unescaped. A quoted metric name
    /// inside the braces is not a pair and is skipped. Duplicates are reported as they appear.
    pub fn iter(&self) -> LabelsIter<'a> {
        LabelsIter {
            text: self.text,
            pos: 0,
        }
    }

    /// True when the set has no label pairs.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

impl<'a> IntoIterator for Labels<'a> {
    type Item = (Cow<'a, str>, Cow<'a, str>);
    type IntoIter = LabelsIter<'a>;
    fn into_iter(self) -> LabelsIter<'a> {
        self.iter()
    }
}

/// Iterator over a validated label set; allocates only for values that contain escapes.
#[derive(Clone, Debug)]
pub struct LabelsIter<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Iterator for LabelsIter<'a> {
    type Item = (Cow<'a, str>, Cow<'a, str>);

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.text.as_bytes();
        loop {
            if self.pos >= b.len() {
                return None;
            }
            // The text was validated by the parser under a grammar at least as strict as
            // `Prometheus`, so scanning leniently here reads it the same way.
            match next_item(b, &mut self.pos, Grammar::Prometheus) {
                Ok(Some(Item::Pair { name, value })) => {
                    return Some((resolve(self.text, name), resolve(self.text, value)))
                }
                Ok(Some(Item::MetricName(_))) => continue,
                Ok(None) | Err(_) => {
                    self.pos = b.len();
                    return None;
                }
            }
        }
    }
}
