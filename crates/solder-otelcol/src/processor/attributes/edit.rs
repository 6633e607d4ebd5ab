//! The actions applied to one *encoded* attribute list (`repeated KeyValue`), with the same
//! semantics as [`super::action::apply`] on a decoded `Vec<KeyValue>`: first key wins for
//! lookups, delete removes every match, insert appends, upsert replaces in place or appends.
//!
//! Attributes that no action touches keep their original bytes; values are handled as encoded
//! `AnyValue` message bodies and only decoded where an action must read them.

use super::action::{converted, sha256_hex_of, Action, Kind, Source};
use super::pb::{self, put_len_field, put_varint, varint_len, Scalar, Unhandled, R};
use opentelemetry_proto::tonic::common::v1::AnyValue;
use prost::Message;
use std::ops::Range;

/// An encoded `AnyValue` body: borrowed from the request or the config, or built for this list.
#[derive(Debug, Clone, Copy)]
pub enum Val<'a> {
    Borrowed(&'a [u8]),
    Scratch(usize, usize),
}

/// A received `KeyValue`: its whole field (for a verbatim copy) and the bytes of its body other
/// than the value field (kept when only the value changes, e.g. `key_strindex`).
#[derive(Debug, Clone)]
pub struct Orig {
    pub whole: Range<usize>,
    pub before_value: Range<usize>,
    pub after_value: Range<usize>,
}

#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// The key's bytes (validated UTF-8 for received entries; compared as bytes).
    pub key: &'a [u8],
    pub orig: Option<Orig>,
    /// `KeyValue.value`; `None` when the field is absent.
    pub value: Option<Val<'a>>,
    /// Needs re-encoding (a received entry whose value was replaced).
    pub changed: bool,
}

/// One attribute list being edited, with the buffers it reuses from list to list.
#[derive(Default)]
pub struct AttrList<'a> {
    pub entries: Vec<Entry<'a>>,
    scratch: Vec<u8>,
    /// Anything differs from the received list.
    pub dirty: bool,
}

const EMPTY: &[u8] = &[];

impl<'a> AttrList<'a> {
    pub fn clear(&mut self) {
        self.entries.clear();
        self.scratch.clear();
        self.dirty = false;
    }

    /// Add a received `KeyValue` whose body is `buf[body]`, validated by
    /// [`received_key_value`].
    pub fn push_received(
        &mut self,
        buf: &'a [u8],
        whole: Range<usize>,
        body: Range<usize>,
    ) -> R<()> {
        let kv = received_key_value(buf, body.clone())?;
        self.push_orig(buf, whole, body, kv.key, kv.value_field);
        Ok(())
    }

    fn push_orig(
        &mut self,
        buf: &'a [u8],
        whole: Range<usize>,
        body: Range<usize>,
        key: &'a [u8],
        value_field: Option<(Range<usize>, Range<usize>)>,
    ) {
        let (before_value, after_value, value) = split_at_value(buf, &body, value_field);
        self.entries.push(Entry {
            key,
            orig: Some(Orig {
                whole,
                before_value,
                after_value,
            }),
            value,
            changed: false,
        });
    }

    fn find(&self, key: &[u8]) -> Option<usize> {
        self.entries.iter().position(|e| e.key == key)
    }

    pub fn bytes(&self, v: Val<'a>) -> &[u8] {
        match v {
            Val::Borrowed(b) => b,
            Val::Scratch(s, e) => &self.scratch[s..e],
        }
    }

    /// The value of entry `i` as `get_mut` sees it: an absent value reads as an empty one.
    fn value_at(&self, i: usize) -> Val<'a> {
        self.entries[i].value.unwrap_or(Val::Borrowed(EMPTY))
    }

    /// The first value stored under `key`, decoded (for the matchers).
    pub fn decoded(&self, key: &str) -> Option<R<AnyValue>> {
        let i = self.find(key.as_bytes())?;
        Some(AnyValue::decode(self.bytes(self.value_at(i))).map_err(|_| Unhandled))
    }

    fn set(&mut self, i: usize, v: Val<'a>) {
        let e = &mut self.entries[i];
        e.value = Some(v);
        e.changed = true;
        self.dirty = true;
    }

    fn put(&mut self, key: &'a [u8], v: Val<'a>) {
        match self.find(key) {
            Some(i) => self.set(i, v),
            None => self.append(key, v),
        }
    }

    fn append(&mut self, key: &'a [u8], v: Val<'a>) {
        self.entries.push(Entry {
            key,
            orig: None,
            value: Some(v),
            changed: true,
        });
        self.dirty = true;
    }

    fn retain(&mut self, keep: impl Fn(&[u8]) -> bool) {
        let before = self.entries.len();
        self.entries.retain(|e| keep(e.key));
        if self.entries.len() != before {
            self.dirty = true;
        }
    }

    /// Store `AnyValue { string_value: s }` in the scratch buffer.
    fn string_value(&mut self, s: &[u8]) -> Val<'a> {
        let start = self.scratch.len();
        put_len_field(&mut self.scratch, 0x0a, s);
        Val::Scratch(start, self.scratch.len())
    }

    fn hash_at(&mut self, i: usize) -> R<()> {
        let hex = match pb::scalar(self.bytes(self.value_at(i)))? {
            Scalar::Str(s) => Some(sha256_hex_of(s.as_bytes())),
            Scalar::Bool(b) => Some(sha256_hex_of(&[u8::from(b)])),
            Scalar::Int(n) => Some(sha256_hex_of(&n.to_le_bytes())),
            Scalar::Double(f) => Some(sha256_hex_of(&f.to_bits().to_le_bytes())),
            Scalar::Other => None,
        };
        let v = match &hex {
            Some(h) => self.string_value(h),
            None => self.string_value(b""),
        };
        self.set(i, v);
        Ok(())
    }

    fn source(&self, a: &'a Action) -> Option<Val<'a>> {
        match a.source.as_ref()? {
            Source::Literal(_, encoded) => Some(Val::Borrowed(encoded)),
            Source::Attribute(k) => self.find(k.as_bytes()).map(|i| self.value_at(i)),
        }
    }

    /// Apply every action, in order (the encoded twin of `action::apply`).
    pub fn apply(&mut self, actions: &'a [Action]) -> R<()> {
        for a in actions {
            match a.kind {
                Kind::Delete => {
                    self.retain(|k| k != a.key.as_bytes());
                    if let Some(re) = &a.regex {
                        self.retain(|k| !key_matches(re, k));
                    }
                }
                Kind::Insert => {
                    if let Some(v) = self.source(a) {
                        if self.find(a.key.as_bytes()).is_none() {
                            self.append(a.key.as_bytes(), v);
                        }
                    }
                }
                Kind::Update => {
                    if let Some(v) = self.source(a) {
                        if let Some(i) = self.find(a.key.as_bytes()) {
                            self.set(i, v);
                        }
                    }
                }
                Kind::Upsert => {
                    if let Some(v) = self.source(a) {
                        self.put(a.key.as_bytes(), v);
                    }
                }
                Kind::Hash => {
                    if let Some(i) = self.find(a.key.as_bytes()) {
                        self.hash_at(i)?;
                    }
                    if let Some(re) = &a.regex {
                        for i in 0..self.entries.len() {
                            if key_matches(re, self.entries[i].key) {
                                self.hash_at(i)?;
                            }
                        }
                    }
                }
                Kind::Extract => self.extract(a)?,
                Kind::Convert => {
                    if let (Some(target), Some(i)) = (a.target, self.find(a.key.as_bytes())) {
                        // `get_mut` turns an absent value into an empty one.
                        let current = self.value_at(i);
                        if self.entries[i].value.is_none() {
                            self.set(i, current);
                        }
                        let decoded =
                            AnyValue::decode(self.bytes(current)).map_err(|_| Unhandled)?;
                        if let Some(new) = converted(target, &decoded) {
                            let start = self.scratch.len();
                            AnyValue { value: Some(new) }
                                .encode(&mut self.scratch)
                                .map_err(|_| Unhandled)?;
                            self.set(i, Val::Scratch(start, self.scratch.len()));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn extract(&mut self, a: &'a Action) -> R<()> {
        let Some(re) = &a.regex else { return Ok(()) };
        let Some(i) = self.find(a.key.as_bytes()) else {
            return Ok(());
        };
        let subject = match pb::scalar(self.bytes(self.value_at(i)))? {
            Scalar::Str(s) => s.to_string(),
            _ => return Ok(()),
        };
        let Some(caps) = re.captures(&subject) else {
            return Ok(());
        };
        for (g, name) in a.group_names.iter().enumerate().skip(1) {
            // An unmatched optional group sets "" as Go's FindStringSubmatch does.
            let text = caps.get(g).map_or("", |m| m.as_str());
            let v = self.string_value(text.as_bytes());
            self.put(name.as_bytes(), v);
        }
        Ok(())
    }

    fn value_field_len(&self, v: Option<Val<'a>>) -> usize {
        v.map_or(0, |v| {
            let n = self.bytes(v).len();
            1 + varint_len(n as u64) + n
        })
    }

    /// The body length of a re-encoded entry.
    fn body_len(&self, e: &Entry<'a>) -> usize {
        let rest = match &e.orig {
            Some(o) => o.before_value.len() + o.after_value.len(),
            None if e.key.is_empty() => 0,
            None => 1 + varint_len(e.key.len() as u64) + e.key.len(),
        };
        rest + self.value_field_len(e.value)
    }

    /// Bytes the list takes encoded as repeated field `tag` (a one-byte tag).
    pub fn encoded_len(&self) -> usize {
        self.entries
            .iter()
            .map(|e| match &e.orig {
                Some(o) if !e.changed => o.whole.len(),
                _ => {
                    let body = self.body_len(e);
                    1 + varint_len(body as u64) + body
                }
            })
            .sum()
    }

    /// Append the list as repeated field `tag`, copying unchanged entries from `buf` (runs of
    /// entries that were adjacent on the wire in one copy).
    pub fn encode(&self, buf: &[u8], tag: u8, out: &mut Vec<u8>) {
        let mut run: Range<usize> = 0..0;
        for e in &self.entries {
            match &e.orig {
                Some(o) if !e.changed => {
                    if run.end == o.whole.start && !run.is_empty() {
                        run.end = o.whole.end;
                    } else {
                        out.extend_from_slice(&buf[run.clone()]);
                        run = o.whole.clone();
                    }
                }
                orig => {
                    out.extend_from_slice(&buf[run.clone()]);
                    run = 0..0;
                    out.push(tag);
                    put_varint(out, self.body_len(e) as u64);
                    match orig {
                        Some(o) => {
                            out.extend_from_slice(&buf[o.before_value.clone()]);
                            out.extend_from_slice(&buf[o.after_value.clone()]);
                        }
                        None if e.key.is_empty() => {}
                        None => put_len_field(out, 0x0a, e.key),
                    }
                    if let Some(v) = e.value {
                        put_len_field(out, 0x12, self.bytes(v));
                    }
                }
            }
        }
        out.extend_from_slice(&buf[run]);
    }
}

/// A received `KeyValue`: its key and, when present, its value field (the whole field and the
/// value's body).
pub struct ReceivedKv<'a> {
    pub key: &'a [u8],
    pub value_field: Option<(Range<usize>, Range<usize>)>,
}

/// Read a received `KeyValue` whose body is `buf[body]`, validating it as
/// [`pb::check_key_value`] does. More than one value field would need prost's message merge:
/// left to the prost path.
#[inline]
/// A received `KeyValue` body split around its `value` field: the bytes before it, the bytes
/// after it, and the value's payload (`None` without a value field: all of the body is
/// "before", an empty range at its end "after").
pub fn split_at_value<'a>(
    buf: &'a [u8],
    body: &Range<usize>,
    value_field: Option<(Range<usize>, Range<usize>)>,
) -> (Range<usize>, Range<usize>, Option<Val<'a>>) {
    match value_field {
        Some((field, payload)) => (
            body.start..field.start,
            field.end..body.end,
            Some(Val::Borrowed(&buf[payload])),
        ),
        None => (body.clone(), body.end..body.end, None),
    }
}

pub fn received_key_value(buf: &[u8], body: Range<usize>) -> R<ReceivedKv<'_>> {
    if let Some((key, value_field)) = canonical_key_value(buf, body.clone())? {
        // One-byte tag and one-byte length, then the value's body.
        let payload = value_field.start + 2..value_field.end;
        return Ok(ReceivedKv {
            key,
            value_field: Some((value_field, payload)),
        });
    }
    let mut key: &[u8] = &[];
    let mut value_field: Option<(Range<usize>, Range<usize>)> = None;
    let mut r = pb::Reader::new(buf, body);
    while let Some(f) = r.next_field()? {
        match f.number {
            1 => {
                pb::check_string(buf, &f)?;
                key = &buf[f.value.clone()];
            }
            2 => {
                pb::want(&f, pb::LEN)?;
                if value_field.is_some() {
                    return Err(Unhandled);
                }
                pb::check_any_value(buf, f.value.clone(), 1)?;
                value_field = Some((f.whole, f.value));
            }
            3 => pb::want(&f, pb::VARINT)?,
            _ => {}
        }
    }
    Ok(ReceivedKv { key, value_field })
}

/// Whether a pattern matches a key (keys of received entries are validated UTF-8).
fn key_matches(re: &regex::Regex, key: &[u8]) -> bool {
    std::str::from_utf8(key).is_ok_and(|k| re.is_match(k))
}

/// The common shape of a `KeyValue` (key field, then value field, one-byte lengths, a string,
/// bool, int, string-index or double value or none), checked without the generic reader: the
/// key bytes and the value field's range. `Ok(None)` for other shapes (the generic path
/// decides); an error only where prost would fail too.
#[inline(always)]
pub fn canonical_key_value(buf: &[u8], body: Range<usize>) -> R<Option<(&[u8], Range<usize>)>> {
    let b = &buf[body.clone()];
    if b.len() < 4 || b[0] != 0x0a || b[1] >= 0x80 {
        return Ok(None);
    }
    let key_end = 2 + usize::from(b[1]);
    if key_end + 2 > b.len() || b[key_end] != 0x12 || b[key_end + 1] >= 0x80 {
        return Ok(None);
    }
    let v = &b[key_end + 2..];
    if v.len() != usize::from(b[key_end + 1]) {
        return Ok(None);
    }
    let simple = match v.first() {
        None => true,
        // string_value with a one-byte length covering the rest. Tags and one-byte lengths
        // are ASCII bytes, so one check of the whole body covers key and value when both are
        // ASCII (the common case).
        Some(0x0a) => {
            if !(v.len() >= 2 && v[1] < 0x80 && 2 + usize::from(v[1]) == v.len()) {
                return Ok(None);
            }
            let key = &b[2..key_end];
            if !pb::ascii(b) {
                pb::utf8(key)?;
                pb::utf8(&v[2..])?;
            }
            return Ok(Some((key, body.start + key_end..body.end)));
        }
        // bool_value, int_value, string_value_strindex: one varint covering the rest.
        Some(0x10 | 0x18 | 0x40) => {
            let mut pos = 1;
            pb::varint(v, &mut pos, v.len()).is_ok() && pos == v.len()
        }
        // double_value.
        Some(0x21) => v.len() == 9,
        Some(_) => false,
    };
    if !simple {
        return Ok(None);
    }
    let key = &b[2..key_end];
    pb::utf8(key)?;
    let field_start = body.start + key_end;
    Ok(Some((key, field_start..body.end)))
}
