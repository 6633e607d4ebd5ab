//! Walking encoded OTLP `Export*ServiceRequest` bytes without decoding them into prost structs.
//!
//! The pass-through path (receiver → batch → exporter) keeps the bytes as received; this module
//! gives it what it needs cheaply: a validation of the protobuf framing from the request down to
//! every item (span, metric data point, log record) together with the item count, and the byte
//! ranges of the top-level `resource_*` entries so a batcher can cut and concatenate requests.
//!
//! Validation is *framing* validation: varints terminate within 10 bytes, every length stays
//! inside its parent, every field has a legal wire type, and the fields this walker descends
//! through (and the top-level fields of each item) have the wire type the OTLP schema gives
//! them. Item contents below their own top level are not interpreted.

use solder_core::signals::otlp::Signal;
use std::ops::Range;
use std::sync::LazyLock;

/// Why a byte string is not a well-framed OTLP export request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("truncated message at byte {offset}")]
    Truncated { offset: usize },
    #[error("varint longer than 10 bytes at byte {offset}")]
    VarintTooLong { offset: usize },
    #[error("length-delimited field at byte {offset} runs past the end of its message")]
    LengthOutOfBounds { offset: usize },
    #[error("invalid wire type {wire_type} at byte {offset}")]
    InvalidWireType { wire_type: u8, offset: usize },
    #[error("invalid field number 0 at byte {offset}")]
    InvalidFieldNumber { offset: usize },
    #[error("field {field} of {message} has wire type {found}, expected {expected}")]
    UnexpectedWireType {
        message: &'static str,
        field: u32,
        found: u8,
        expected: u8,
    },
    #[error("unbalanced group at byte {offset}")]
    UnbalancedGroup { offset: usize },
    #[error("message nested too deeply")]
    TooDeep,
}

/// Protobuf wire types.
const VARINT: u8 = 0;
const I64: u8 = 1;
const LEN: u8 = 2;
const SGROUP: u8 = 3;
const EGROUP: u8 = 4;
const I32: u8 = 5;

/// Groups are the only construct that nests without a length; cap it so hostile input cannot
/// recurse without bound.
const MAX_GROUP_DEPTH: u32 = 64;

/// One field as found on the wire. `value` is the payload range for `LEN` fields; for other
/// wire types it is empty and `varint` holds the value where there is one.
#[derive(Debug, Clone)]
struct Field {
    number: u32,
    wire_type: u8,
    /// The whole field, tag included.
    whole: Range<usize>,
    /// The payload of a length-delimited field (empty for other wire types).
    value: Range<usize>,
}

/// Read a varint at `*pos` within `buf[..end]`, advancing `*pos`.
#[inline]
fn read_varint(buf: &[u8], pos: &mut usize, end: usize) -> Result<u64, WireError> {
    let start = *pos;
    let mut value: u64 = 0;
    for i in 0..10 {
        let at = start + i;
        if at >= end {
            return Err(WireError::Truncated { offset: at });
        }
        let b = buf[at];
        value |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            *pos = at + 1;
            return Ok(value);
        }
    }
    Err(WireError::VarintTooLong { offset: start })
}

/// Iterator over the fields of the message occupying `buf[range]`.
struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
    failed: bool,
}

impl<'a> Fields<'a> {
    fn new(buf: &'a [u8], range: Range<usize>) -> Self {
        Fields {
            buf,
            pos: range.start,
            end: range.end,
            failed: false,
        }
    }

    fn next_field(&mut self) -> Result<Field, WireError> {
        let start = self.pos;
        let key = read_varint(self.buf, &mut self.pos, self.end)?;
        let wire_type = (key & 7) as u8;
        let number = key >> 3;
        if number == 0 {
            return Err(WireError::InvalidFieldNumber { offset: start });
        }
        // Field numbers are at most 2^29-1; a larger key is garbage.
        let number = u32::try_from(number)
            .ok()
            .filter(|n| *n < (1 << 29))
            .ok_or(WireError::InvalidFieldNumber { offset: start })?;
        let mut value = self.pos..self.pos;
        match wire_type {
            VARINT => {
                read_varint(self.buf, &mut self.pos, self.end)?;
            }
            I64 => self.skip_fixed(8)?,
            I32 => self.skip_fixed(4)?,
            LEN => {
                let len_at = self.pos;
                let len = read_varint(self.buf, &mut self.pos, self.end)?;
                let len = usize::try_from(len)
                    .map_err(|_| WireError::LengthOutOfBounds { offset: len_at })?;
                let value_end = self
                    .pos
                    .checked_add(len)
                    .filter(|e| *e <= self.end)
                    .ok_or(WireError::LengthOutOfBounds { offset: len_at })?;
                value = self.pos..value_end;
                self.pos = value_end;
            }
            SGROUP => self.skip_group(number, start)?,
            _ => {
                return Err(WireError::InvalidWireType {
                    wire_type,
                    offset: start,
                })
            }
        }
        Ok(Field {
            number,
            wire_type,
            whole: start..self.pos,
            value,
        })
    }

    fn skip_fixed(&mut self, n: usize) -> Result<(), WireError> {
        if self.end - self.pos < n {
            return Err(WireError::Truncated { offset: self.end });
        }
        self.pos += n;
        Ok(())
    }

    /// Skip a (deprecated) group up to its matching end tag. Groups never occur in OTLP, but
    /// prost skips them as unknown fields, so a valid message may contain one.
    fn skip_group(&mut self, number: u32, start: usize) -> Result<(), WireError> {
        let mut open = vec![number];
        loop {
            if open.len() as u32 > MAX_GROUP_DEPTH {
                return Err(WireError::TooDeep);
            }
            let key_at = self.pos;
            let key = read_varint(self.buf, &mut self.pos, self.end)
                .map_err(|_| WireError::UnbalancedGroup { offset: start })?;
            let wire_type = (key & 7) as u8;
            let n = u32::try_from(key >> 3).unwrap_or(0);
            match wire_type {
                EGROUP => {
                    if open.pop() != Some(n) {
                        return Err(WireError::UnbalancedGroup { offset: key_at });
                    }
                    if open.is_empty() {
                        return Ok(());
                    }
                }
                SGROUP => open.push(n),
                VARINT => {
                    read_varint(self.buf, &mut self.pos, self.end)?;
                }
                I64 => self.skip_fixed(8)?,
                I32 => self.skip_fixed(4)?,
                LEN => {
                    let len_at = self.pos;
                    let len = read_varint(self.buf, &mut self.pos, self.end)?;
                    let len = usize::try_from(len)
                        .map_err(|_| WireError::LengthOutOfBounds { offset: len_at })?;
                    self.pos = self
                        .pos
                        .checked_add(len)
                        .filter(|e| *e <= self.end)
                        .ok_or(WireError::LengthOutOfBounds { offset: len_at })?;
                }
                _ => {
                    return Err(WireError::InvalidWireType {
                        wire_type,
                        offset: key_at,
                    })
                }
            }
        }
    }
}

impl Iterator for Fields<'_> {
    type Item = Result<Field, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.end {
            return None;
        }
        let r = self.next_field();
        if r.is_err() {
            self.failed = true;
        }
        Some(r)
    }
}

/// The wire type the OTLP schema gives a field, where this walker checks it.
type Schema = fn(u32) -> Option<u8>;

fn expect(message: &'static str, schema: Schema, f: &Field) -> Result<(), WireError> {
    match schema(f.number) {
        Some(expected) if expected != f.wire_type => {
            // Repeated scalar fields may arrive packed (LEN) or not; the schemas below list
            // only non-packable fields, so a mismatch is always an error.
            Err(WireError::UnexpectedWireType {
                message,
                field: f.number,
                found: f.wire_type,
                expected,
            })
        }
        _ => Ok(()),
    }
}

/// Validate the top level of an item and everything it contains only as framing.
///
/// Items are where nearly all the bytes and fields of a request are, so they are first checked
/// by a tight loop over a per-field-number table ([`item_ok`]); only an item that loop does not
/// accept goes through the general walker, which then names the exact problem (or accepts a
/// rare legal form the fast loop leaves out, such as a group).
fn check_item(
    buf: &[u8],
    range: Range<usize>,
    message: &'static str,
    schema: Schema,
    table: &ItemTable,
) -> Result<(), WireError> {
    if item_ok(buf, range.start, range.end, table) {
        return Ok(());
    }
    for f in Fields::new(buf, range) {
        expect(message, schema, &f?)?;
    }
    Ok(())
}

/// Field numbers the fast item check looks up in its table; every item schema here only names
/// fields below this, so higher numbers are unchecked (as `schema` returns `None` for them).
const TABLE_FIELDS: usize = 32;
/// Table entry for a field whose wire type is not checked.
const ANY_WIRE_TYPE: u8 = 0xff;

/// What the fast item check does after a field key: skip a varint, 8 bytes, a length-delimited
/// payload or 4 bytes, or give up (a wire type the schema forbids, a group, an invalid key).
const STEP_REJECT: u8 = 0;
const STEP_VARINT: u8 = 1;
const STEP_I64: u8 = 2;
const STEP_LEN: u8 = 3;
const STEP_I32: u8 = 4;

/// One item schema, as the fast item check reads it.
struct ItemTable {
    /// The wire type `schema` expects for each field number below [`TABLE_FIELDS`].
    wire_types: [u8; TABLE_FIELDS],
    /// The step for every one-byte key (field numbers 1 to 15 with their wire type): nearly
    /// every field of an item has one, so the common case is one table load per field.
    one_byte_keys: [u8; 0x80],
}

static SPAN_TABLE: LazyLock<ItemTable> = LazyLock::new(|| item_table(span_schema));
static LOG_RECORD_TABLE: LazyLock<ItemTable> = LazyLock::new(|| item_table(log_record_schema));
static NUMBER_POINT_TABLE: LazyLock<ItemTable> = LazyLock::new(|| item_table(number_point_schema));
static HISTOGRAM_POINT_TABLE: LazyLock<ItemTable> =
    LazyLock::new(|| item_table(histogram_point_schema));
static EXP_HISTOGRAM_POINT_TABLE: LazyLock<ItemTable> =
    LazyLock::new(|| item_table(exp_histogram_point_schema));
static SUMMARY_POINT_TABLE: LazyLock<ItemTable> =
    LazyLock::new(|| item_table(summary_point_schema));

fn item_table(schema: Schema) -> ItemTable {
    let mut wire_types = [ANY_WIRE_TYPE; TABLE_FIELDS];
    for (n, slot) in wire_types.iter_mut().enumerate() {
        if let Some(wt) = u32::try_from(n).ok().and_then(schema) {
            *slot = wt;
        }
    }
    let mut one_byte_keys = [STEP_REJECT; 0x80];
    for (key, slot) in (0u64..).zip(one_byte_keys.iter_mut()) {
        *slot = step_for(&wire_types, key);
    }
    ItemTable {
        wire_types,
        one_byte_keys,
    }
}

/// The step for field key `key` under the rules of [`Fields`] and [`expect`].
fn step_for(wire_types: &[u8; TABLE_FIELDS], key: u64) -> u8 {
    let wire_type = (key & 7) as u8;
    let number = key >> 3;
    if number == 0 || number >= (1 << 29) {
        return STEP_REJECT;
    }
    if let Some(&expected) = usize::try_from(number).ok().and_then(|n| wire_types.get(n)) {
        if expected != ANY_WIRE_TYPE && expected != wire_type {
            return STEP_REJECT;
        }
    }
    match wire_type {
        VARINT => STEP_VARINT,
        I64 => STEP_I64,
        LEN => STEP_LEN,
        I32 => STEP_I32,
        _ => STEP_REJECT,
    }
}

/// `true` when the fields of `buf[start..end]` are well framed and match `table` under exactly
/// the rules [`Fields`] and [`expect`] apply. `false` means "not shown valid here": groups are
/// left to the general walker, as is producing the error.
#[inline]
fn item_ok(buf: &[u8], start: usize, end: usize, table: &ItemTable) -> bool {
    // From here on every index below `end` is in bounds.
    let Some(buf) = buf.get(..end) else {
        return false;
    };
    let mut pos = start;
    while let Some(&first) = buf.get(pos) {
        let step = if first < 0x80 {
            pos += 1;
            table.one_byte_keys[usize::from(first)]
        } else {
            match read_varint(buf, &mut pos, end) {
                Ok(key) => step_for(&table.wire_types, key),
                Err(_) => return false,
            }
        };
        match step {
            STEP_VARINT => match buf.get(pos) {
                Some(b) if *b < 0x80 => pos += 1,
                _ => {
                    if read_varint(buf, &mut pos, end).is_err() {
                        return false;
                    }
                }
            },
            STEP_LEN => {
                let len = match buf.get(pos) {
                    Some(b) if *b < 0x80 => {
                        pos += 1;
                        u64::from(*b)
                    }
                    _ => match read_varint(buf, &mut pos, end) {
                        Ok(len) => len,
                        Err(_) => return false,
                    },
                };
                match usize::try_from(len)
                    .ok()
                    .and_then(|l| pos.checked_add(l))
                    .filter(|e| *e <= end)
                {
                    Some(e) => pos = e,
                    None => return false,
                }
            }
            STEP_I64 | STEP_I32 => {
                let n = if step == STEP_I64 { 8 } else { 4 };
                if end - pos < n {
                    return false;
                }
                pos += n;
            }
            _ => return false,
        }
    }
    true
}

/// Schemas of the levels above the items: every one of these fields is a message or string.
fn all_len(_: u32) -> Option<u8> {
    Some(LEN)
}

fn span_schema(n: u32) -> Option<u8> {
    match n {
        1..=5 | 9 | 11 | 13 | 15 => Some(LEN),
        6 | 10 | 12 | 14 => Some(VARINT),
        7 | 8 => Some(I64),
        16 => Some(I32),
        _ => None,
    }
}

fn log_record_schema(n: u32) -> Option<u8> {
    match n {
        1 | 11 => Some(I64),
        2 | 7 => Some(VARINT),
        3 | 5 | 6 | 9 | 10 | 12 => Some(LEN),
        8 => Some(I32),
        _ => None,
    }
}

fn number_point_schema(n: u32) -> Option<u8> {
    match n {
        2 | 3 | 4 | 6 => Some(I64),
        5 | 7 => Some(LEN),
        8 => Some(VARINT),
        _ => None,
    }
}

fn histogram_point_schema(n: u32) -> Option<u8> {
    match n {
        2 | 3 | 4 | 5 | 11 | 12 => Some(I64),
        // 6 bucket_counts and 7 explicit_bounds are packable repeated fixed64/double.
        8 | 9 => Some(LEN),
        10 => Some(VARINT),
        _ => None,
    }
}

fn exp_histogram_point_schema(n: u32) -> Option<u8> {
    match n {
        2 | 3 | 4 | 5 | 7 | 12 | 13 | 14 => Some(I64),
        1 | 8 | 9 | 11 => Some(LEN),
        6 | 10 => Some(VARINT),
        _ => None,
    }
}

fn summary_point_schema(n: u32) -> Option<u8> {
    match n {
        2..=5 => Some(I64),
        6 | 7 => Some(LEN),
        8 => Some(VARINT),
        _ => None,
    }
}

/// Walk `request` (an `Export*ServiceRequest`) → resource entries (field 1) → scope entries
/// (field 2) → items (field 2), calling `per_scope` for each scope entry's payload.
fn walk_scopes(
    buf: &[u8],
    resource_name: &'static str,
    mut per_scope: impl FnMut(Range<usize>) -> Result<u64, WireError>,
) -> Result<u64, WireError> {
    let mut total = 0u64;
    for f in Fields::new(buf, 0..buf.len()) {
        let f = f?;
        if f.number != 1 {
            continue;
        }
        expect("Export request", all_len, &f)?;
        for g in Fields::new(buf, f.value) {
            let g = g?;
            expect(resource_name, resource_level_schema, &g)?;
            if g.number == 2 {
                total = total.saturating_add(per_scope(g.value)?);
            }
        }
    }
    Ok(total)
}

/// `Resource{Spans,Metrics,Logs}`: 1 resource, 2 scope entries, 3 schema_url.
fn resource_level_schema(n: u32) -> Option<u8> {
    matches!(n, 1..=3).then_some(LEN)
}

/// How deep [`count_items`] looks: into every item, or only at the levels above the items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Depth {
    /// Validate each item's framing too (requests from the network).
    Items,
    /// Count items without entering them (requests that were validated when received).
    Count,
}

fn count_scope_items(
    buf: &[u8],
    scope: Range<usize>,
    scope_name: &'static str,
    item: (&'static str, Schema, &ItemTable),
    depth: Depth,
) -> Result<u64, WireError> {
    let mut n = 0u64;
    for f in Fields::new(buf, scope) {
        let f = f?;
        expect(scope_name, resource_level_schema, &f)?;
        if f.number == 2 {
            if depth == Depth::Items {
                check_item(buf, f.value, item.0, item.1, item.2)?;
            }
            n += 1;
        }
    }
    Ok(n)
}

fn metric_schema(n: u32) -> Option<u8> {
    match n {
        1 | 2 | 3 | 5 | 7 | 9 | 10 | 11 | 12 => Some(LEN),
        _ => None,
    }
}

/// `Gauge`/`Sum`/`Histogram`/`ExponentialHistogram`/`Summary`: 1 data_points; Sum has
/// 2 aggregation_temporality and 3 is_monotonic, the histograms 2 aggregation_temporality.
fn metric_data_schema(n: u32) -> Option<u8> {
    match n {
        1 => Some(LEN),
        2 | 3 => Some(VARINT),
        _ => None,
    }
}

fn count_metric_points(buf: &[u8], metric: Range<usize>, depth: Depth) -> Result<u64, WireError> {
    // `data` is a oneof: a later field of another variant replaces the earlier one, while
    // repeated occurrences of the same variant merge (their points concatenate).
    let mut variant = 0u32;
    let mut points = 0u64;
    for f in Fields::new(buf, metric) {
        let f = f?;
        expect("Metric", metric_schema, &f)?;
        let (name, schema, table): (&'static str, Schema, &ItemTable) = match f.number {
            5 | 7 => ("NumberDataPoint", number_point_schema, &NUMBER_POINT_TABLE),
            9 => (
                "HistogramDataPoint",
                histogram_point_schema,
                &HISTOGRAM_POINT_TABLE,
            ),
            10 => (
                "ExponentialHistogramDataPoint",
                exp_histogram_point_schema,
                &EXP_HISTOGRAM_POINT_TABLE,
            ),
            11 => (
                "SummaryDataPoint",
                summary_point_schema,
                &SUMMARY_POINT_TABLE,
            ),
            _ => continue,
        };
        if f.number != variant {
            variant = f.number;
            points = 0;
        }
        for g in Fields::new(buf, f.value) {
            let g = g?;
            expect("metric data", metric_data_schema, &g)?;
            if g.number == 1 {
                if depth == Depth::Items {
                    check_item(buf, g.value, name, schema, table)?;
                }
                points += 1;
            }
        }
    }
    Ok(points)
}

/// Validate the framing of an encoded `Export{Trace,Metrics,Logs}ServiceRequest` and count its
/// items: spans, metric data points (of every metric type) or log records.
pub fn count_items(signal: Signal, encoded: &[u8]) -> Result<u64, WireError> {
    count_at_depth(signal, encoded, Depth::Items)
}

/// [`count_items`] for a request whose framing was validated before (one read back from the
/// sending queue): the same count, but items are skipped by their length instead of walked,
/// so the cost is per item, not per byte. Framing above the items is still checked.
pub fn count_validated_items(signal: Signal, encoded: &[u8]) -> Result<u64, WireError> {
    count_at_depth(signal, encoded, Depth::Count)
}

fn count_at_depth(signal: Signal, encoded: &[u8], depth: Depth) -> Result<u64, WireError> {
    match signal {
        Signal::Traces => walk_scopes(encoded, "ResourceSpans", |scope| {
            let item = ("Span", span_schema as Schema, &*SPAN_TABLE);
            count_scope_items(encoded, scope, "ScopeSpans", item, depth)
        }),
        Signal::Logs => walk_scopes(encoded, "ResourceLogs", |scope| {
            let item = ("LogRecord", log_record_schema as Schema, &*LOG_RECORD_TABLE);
            count_scope_items(encoded, scope, "ScopeLogs", item, depth)
        }),
        Signal::Metrics => walk_scopes(encoded, "ResourceMetrics", |scope| {
            let mut n = 0u64;
            for f in Fields::new(encoded, scope) {
                let f = f?;
                expect("ScopeMetrics", resource_level_schema, &f)?;
                if f.number == 2 {
                    n = n.saturating_add(count_metric_points(encoded, f.value, depth)?);
                }
            }
            Ok(n)
        }),
    }
}

/// One field of an encoded message, for callers that cut and reassemble messages as bytes.
#[derive(Debug, Clone)]
pub(crate) struct RawField {
    pub number: u32,
    /// `true` for a length-delimited field (whose payload is `value`).
    pub is_len: bool,
    /// The whole field, tag included.
    pub whole: Range<usize>,
    /// The payload of a length-delimited field (empty for other wire types).
    pub value: Range<usize>,
}

/// The fields of the message occupying `buf[range]`, in order, under the framing rules of
/// this module; iteration stops after the first error.
pub(crate) fn raw_fields(
    buf: &[u8],
    range: Range<usize>,
) -> impl Iterator<Item = Result<RawField, WireError>> + '_ {
    Fields::new(buf, range).map(|f| {
        f.map(|f| RawField {
            number: f.number,
            is_len: f.wire_type == LEN,
            whole: f.whole,
            value: f.value,
        })
    })
}

/// The byte ranges of every top-level field-1 entry (`resource_spans`/`resource_metrics`/
/// `resource_logs`) of an encoded export request, each including its tag and length prefix.
/// Concatenating any subset of these slices yields a valid request of the same signal. Other
/// top-level fields (unknown to this OTLP version) are skipped.
pub fn resource_entries(encoded: &[u8]) -> Result<Vec<Range<usize>>, WireError> {
    let mut out = Vec::new();
    for f in Fields::new(encoded, 0..encoded.len()) {
        let f = f?;
        if f.number == 1 {
            expect("Export request", all_len, &f)?;
            out.push(f.whole);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
