//! The attributes processor on an *encoded* `ExportTraceServiceRequest` or
//! `ExportLogsServiceRequest`.
//!
//! One pass over the request validates it as prost would (see [`super::pb`]) and rewrites only
//! the attribute lists of the spans / log records the actions change: every other byte is copied
//! as received, so nothing else is decoded or re-encoded. A changed item is written as its other
//! fields followed by its new attribute list (prost concatenates repeated fields, so the decoded
//! item is the same as if the list had stayed in place). Enclosing messages get new length
//! prefixes.
//!
//! Matching (`include` / `exclude`) uses prost-decoded resources and scopes (one decode per
//! resource or scope entry, only when a matcher exists) and decodes item attribute values (and
//! log bodies) on demand.

use super::edit::AttrList;
use super::fast::{FastItem, Plan};
use super::matcher::{AttrLookup, LogParts};
use super::pb::{self, put_varint, varint_len, Field, Reader, Unhandled, LEN, R, VARINT};
use super::Compiled;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use solder_core::signals::otlp::Signal;
use std::borrow::Cow;
use std::cell::Cell;
use std::ops::Range;

/// What the encoded path made of a request.
#[derive(Debug)]
pub enum Outcome {
    /// No span changed: the request can be forwarded as received.
    Unchanged,
    Rewritten(Vec<u8>),
}

/// Tag of field 1 / field 2 with wire type `LEN`.
const TAG_1_LEN: u8 = 0x0a;
const TAG_2_LEN: u8 = 0x12;
/// The items a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Items {
    Spans,
    LogRecords,
}

impl Items {
    /// The field number of the item's `attributes`.
    fn attributes_field(self) -> u32 {
        match self {
            Items::Spans => 9,
            Items::LogRecords => 6,
        }
    }
}

/// A length-prefixed field being written whose length is not known yet: the prefix gets as
/// many bytes as the received length needed and is widened (moving the body) only if the new
/// length needs more or fewer.
struct Pending {
    at: usize,
    reserved: usize,
}

fn begin(out: &mut Vec<u8>, tag: u8, received_len: usize) -> Pending {
    out.push(tag);
    let at = out.len();
    let reserved = varint_len(received_len as u64);
    out.resize(at + reserved, 0);
    Pending { at, reserved }
}

fn finish(out: &mut Vec<u8>, p: Pending) {
    let body_start = p.at + p.reserved;
    let len = out.len() - body_start;
    let need = varint_len(len as u64);
    if need > p.reserved {
        let grow = need - p.reserved;
        let end = out.len();
        out.resize(end + grow, 0);
        out.copy_within(body_start..end, body_start + grow);
    } else if need < p.reserved {
        let shrink = p.reserved - need;
        let end = out.len();
        out.copy_within(body_start..end, body_start - shrink);
        out.truncate(end - shrink);
    }
    let mut v = len as u64;
    for b in &mut out[p.at..p.at + need] {
        *b = (v as u8 & 0x7f) | 0x80;
        v >>= 7;
    }
    out[p.at + need - 1] &= 0x7f;
}

/// State for one request.
struct Walk<'a> {
    c: &'a Compiled,
    buf: &'a [u8],
    out: Vec<u8>,
    /// Whether include/exclude exist (then resources and scopes are decoded for them).
    matching: bool,
    items: Items,
    attrs: AttrList<'a>,
    /// The shortcut for simple action lists, when they are and nothing is matched.
    plan: Option<&'a Plan>,
    fast: FastItem<'a>,
    /// Byte ranges of the current span's fields other than its attributes.
    segments: Vec<Range<usize>>,
    dirty: bool,
}

/// Run the processor on an encoded request; metrics are left to the prost path.
pub fn process(c: &Compiled, signal: Signal, buf: &[u8]) -> R<Outcome> {
    let items = match signal {
        Signal::Traces => Items::Spans,
        Signal::Logs => Items::LogRecords,
        Signal::Metrics => return Err(Unhandled),
    };
    let matching = c.include.is_some() || c.exclude.is_some();
    let mut w = Walk {
        items,
        c,
        buf,
        out: Vec::with_capacity(buf.len() + buf.len() / 4 + 64),
        matching,
        attrs: AttrList::default(),
        plan: c.fast.as_ref().filter(|_| !matching),
        fast: FastItem::default(),
        segments: Vec::with_capacity(8),
        dirty: false,
    };
    let mut r = Reader::new(buf, 0..buf.len());
    while let Some(f) = r.next_field()? {
        if f.number == 1 {
            pb::want(&f, LEN)?;
            w.resource_entry(&f)?;
        } else {
            w.copy(&f.whole);
        }
    }
    Ok(if w.dirty {
        Outcome::Rewritten(w.out)
    } else {
        Outcome::Unchanged
    })
}

impl<'a> Walk<'a> {
    fn copy(&mut self, r: &Range<usize>) {
        self.out.extend_from_slice(&self.buf[r.clone()]);
    }

    /// `ResourceSpans` / `ResourceLogs`: 1 resource, 2 scope entries, 3 schema_url.
    fn resource_entry(&mut self, entry: &Field) -> R<()> {
        let buf = self.buf;
        // The resource may follow the scopes on the wire; read it first.
        let mut resource = Resource::default();
        let mut r = Reader::new(buf, entry.value.clone());
        while let Some(f) = r.next_field()? {
            match f.number {
                1 => {
                    pb::want(&f, LEN)?;
                    pb::check_resource(buf, f.value.clone())?;
                    if self.matching {
                        resource
                            .merge(&buf[f.value.clone()])
                            .map_err(|_| Unhandled)?;
                    }
                }
                2 => pb::want(&f, LEN)?,
                3 => {
                    pb::check_string(buf, &f)?;
                }
                _ => {}
            }
        }
        let pending = begin(&mut self.out, TAG_1_LEN, entry.value.len());
        let mut r = Reader::new(buf, entry.value.clone());
        while let Some(f) = r.next_field()? {
            if f.number == 2 {
                self.scope_entry(&f, &resource)?;
            } else {
                self.copy(&f.whole);
            }
        }
        finish(&mut self.out, pending);
        Ok(())
    }

    /// `ScopeSpans` / `ScopeLogs`: 1 scope, 2 items, 3 schema_url.
    fn scope_entry(&mut self, entry: &Field, resource: &Resource) -> R<()> {
        let buf = self.buf;
        let mut scope = InstrumentationScope::default();
        let mut r = Reader::new(buf, entry.value.clone());
        while let Some(f) = r.next_field()? {
            match f.number {
                1 => {
                    pb::want(&f, LEN)?;
                    pb::check_scope(buf, f.value.clone())?;
                    if self.matching {
                        scope.merge(&buf[f.value.clone()]).map_err(|_| Unhandled)?;
                    }
                }
                2 => pb::want(&f, LEN)?,
                3 => {
                    pb::check_string(buf, &f)?;
                }
                _ => {}
            }
        }
        let pending = begin(&mut self.out, TAG_2_LEN, entry.value.len());
        let mut r = Reader::new(buf, entry.value.clone());
        while let Some(f) = r.next_field()? {
            if f.number == 2 {
                self.item(&f, resource, &scope)?;
            } else {
                self.copy(&f.whole);
            }
        }
        finish(&mut self.out, pending);
        Ok(())
    }

    /// A span or log record: validated field by field, its attributes collected for the
    /// actions and, when selected and changed, written with its new attribute list.
    fn item(&mut self, entry: &Field, resource: &Resource, scope: &InstrumentationScope) -> R<()> {
        if let Some(plan) = self.plan {
            if self.fast_item(entry, plan)? {
                return Ok(());
            }
        }
        let buf = self.buf;
        self.attrs.clear();
        self.segments.clear();
        let attributes_field = self.items.attributes_field();
        let mut view = ItemView::default();
        let mut r = Reader::new(buf, entry.value.clone());
        while let Some(f) = r.next_field()? {
            if f.number == attributes_field {
                pb::want(&f, LEN)?;
                self.attrs
                    .push_received(buf, f.whole.clone(), f.value.clone())?;
                continue;
            }
            match self.items {
                Items::Spans => check_span_field(buf, &f, &mut view, self.matching)?,
                Items::LogRecords => check_log_field(buf, &f, &mut view, self.matching)?,
            }
            match self.segments.last_mut() {
                Some(last) if last.end == f.whole.start => last.end = f.whole.end,
                _ => self.segments.push(f.whole.clone()),
            }
        }
        let c = self.c;
        if self.matching {
            let lookup = EncodedAttrs {
                list: &self.attrs,
                failed: Cell::new(false),
            };
            let res_attrs = &resource.attributes[..];
            let selected = match self.items {
                Items::Spans => c.sel(|m| {
                    m.matches_span_parts(view.name, view.kind, &lookup, res_attrs, Some(scope))
                }),
                Items::LogRecords => {
                    let parts = LogParts {
                        body: view.body.as_ref(),
                        severity_text: view.severity_text,
                        severity_number: view.severity_number,
                    };
                    c.sel(|m| m.matches_log_parts(&parts, &lookup, res_attrs, Some(scope)))
                }
            };
            if lookup.failed.get() {
                return Err(Unhandled);
            }
            if !selected {
                self.copy(&entry.whole);
                return Ok(());
            }
        }
        self.attrs.apply(&c.actions)?;
        if !self.attrs.dirty {
            self.copy(&entry.whole);
            return Ok(());
        }
        self.dirty = true;
        let kept: usize = self.segments.iter().map(Range::len).sum();
        let len = kept + self.attrs.encoded_len();
        self.out.push(TAG_2_LEN);
        put_varint(&mut self.out, len as u64);
        for s in &self.segments {
            self.out.extend_from_slice(&buf[s.clone()]);
        }
        let tag = (attributes_field << 3 | u32::from(LEN)) as u8;
        self.attrs.encode(buf, tag, &mut self.out);
        Ok(())
    }
}

impl<'a> Walk<'a> {
    /// [`Walk::item`] under a [`Plan`] (nothing is matched). `Ok(false)`: the item needs the
    /// general path (a tracked key occurs twice); nothing was written.
    fn fast_item(&mut self, entry: &Field, plan: &'a Plan) -> R<bool> {
        let buf = self.buf;
        self.fast.begin(plan);
        self.segments.clear();
        let attributes_field = self.items.attributes_field();
        let mut view = ItemView::default();
        let mut r = Reader::new(buf, entry.value.clone());
        while let Some(f) = r.next_field()? {
            if f.number == attributes_field {
                pb::want(&f, LEN)?;
                if !self.fast.attribute(plan, buf, f.whole, f.value)? {
                    return Ok(false);
                }
                // Attributes mostly follow one another: take the rest in a tighter loop.
                let tag = (attributes_field << 3 | u32::from(LEN)) as u8;
                match self
                    .fast
                    .attribute_run(plan, buf, r.position(), entry.value.end, tag)?
                {
                    Some(pos) => r.skip_to(pos),
                    None => return Ok(false),
                }
                continue;
            }
            match self.items {
                Items::Spans => check_span_field(buf, &f, &mut view, false)?,
                Items::LogRecords => check_log_field(buf, &f, &mut view, false)?,
            }
            match self.segments.last_mut() {
                Some(last) if last.end == f.whole.start => last.end = f.whole.end,
                _ => self.segments.push(f.whole.clone()),
            }
        }
        self.fast.apply(plan)?;
        if !self.fast.dirty {
            self.copy(&entry.whole);
            return Ok(true);
        }
        self.dirty = true;
        self.fast.finish();
        let kept: usize = self.segments.iter().map(Range::len).sum();
        let len = kept + self.fast.encoded_len(plan);
        self.out.push(TAG_2_LEN);
        put_varint(&mut self.out, len as u64);
        for s in &self.segments {
            self.out.extend_from_slice(&buf[s.clone()]);
        }
        let tag = (attributes_field << 3 | u32::from(LEN)) as u8;
        self.fast.encode(plan, buf, tag, &mut self.out);
        Ok(true)
    }
}

/// What the matchers read of an item besides its attributes (the last occurrence of a field
/// wins, as in prost).
#[derive(Default)]
struct ItemView<'a> {
    name: &'a str,
    kind: i32,
    /// Decoded (merged, as prost does) only when matching.
    body: Option<AnyValue>,
    severity_text: &'a str,
    severity_number: i32,
}

/// A `Span` field other than its attributes (its name kept in `view` only when matching).
fn check_span_field<'a>(
    buf: &'a [u8],
    f: &Field,
    view: &mut ItemView<'a>,
    matching: bool,
) -> R<()> {
    match f.number {
        5 if !matching => pb::check_string(buf, f)?,
        1 | 2 | 4 => pb::want(f, LEN)?,
        3 => {
            pb::check_string(buf, f)?;
        }
        5 => view.name = pb::string(buf, f)?,
        6 => {
            pb::want(f, VARINT)?;
            view.kind = f.scalar as i32;
        }
        7 | 8 => pb::want(f, pb::I64)?,
        10 | 12 | 14 => pb::want(f, VARINT)?,
        11 => {
            pb::want(f, LEN)?;
            pb::check_event(buf, f.value.clone())?;
        }
        13 => {
            pb::want(f, LEN)?;
            pb::check_link(buf, f.value.clone())?;
        }
        15 => {
            pb::want(f, LEN)?;
            pb::check_status(buf, f.value.clone())?;
        }
        16 => pb::want(f, pb::I32)?,
        _ => {}
    }
    Ok(())
}

/// A `LogRecord` field other than its attributes: 1 time, 11 observed time, 2 severity number,
/// 3 severity text, 5 body, 7 dropped count, 8 flags, 9 trace id, 10 span id, 12 event name.
fn check_log_field<'a>(buf: &'a [u8], f: &Field, view: &mut ItemView<'a>, matching: bool) -> R<()> {
    match f.number {
        1 | 11 => pb::want(f, pb::I64)?,
        2 => {
            pb::want(f, VARINT)?;
            view.severity_number = f.scalar as i32;
        }
        3 if !matching => pb::check_string(buf, f)?,
        3 => view.severity_text = pb::string(buf, f)?,
        5 => {
            pb::want(f, LEN)?;
            pb::check_any_value(buf, f.value.clone(), 1)?;
            if matching {
                view.body
                    .get_or_insert_with(AnyValue::default)
                    .merge(&buf[f.value.clone()])
                    .map_err(|_| Unhandled)?;
            }
        }
        7 => pb::want(f, VARINT)?,
        8 => pb::want(f, pb::I32)?,
        9 | 10 => pb::want(f, LEN)?,
        12 => {
            pb::check_string(buf, f)?;
        }
        _ => {}
    }
    Ok(())
}

/// Item attributes as the matchers look them up: values decoded on demand. A value that does
/// not decode (cannot happen after validation) marks the lookup failed so the request goes to
/// the prost path rather than being matched wrongly.
struct EncodedAttrs<'l, 'a> {
    list: &'l AttrList<'a>,
    failed: Cell<bool>,
}

impl AttrLookup for EncodedAttrs<'_, '_> {
    fn lookup(&self, key: &str) -> Option<Cow<'_, AnyValue>> {
        match self.list.decoded(key)? {
            Ok(v) => Some(Cow::Owned(v)),
            Err(_) => {
                self.failed.set(true);
                None
            }
        }
    }
}
