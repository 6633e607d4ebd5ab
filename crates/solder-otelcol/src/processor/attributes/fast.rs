//! The encoded path's shortcut for the common action lists: only `insert`, `update`, `upsert`,
//! `hash` and `delete` by key (no `pattern`), and no `include` / `exclude`.
//!
//! Such actions only ever read or change the attributes whose keys they name (their *tracked*
//! keys: action keys and `from_attribute` keys). So instead of building an editable entry for
//! every attribute of an item, as [`super::edit::AttrList`] does, an item's attribute list is
//! kept as runs of untouched received fields (copied as they are) around the few tracked
//! entries, and each action is applied to the state of one tracked key. The bytes written are
//! exactly those `AttrList` writes: received entries in order (deleted ones left out, changed
//! ones re-encoded the same way), then appended entries in the order they were appended.
//!
//! An item with a tracked key more than once needs "first match wins" lookups and "delete
//! every match" over the whole list: [`FastItem::attribute`] reports it and the caller uses
//! `AttrList` for that item.

use super::action::{sha256_hex_of, Action, Kind, Source};
use super::edit::{canonical_key_value, received_key_value, split_at_value, Val};
use super::pb::{self, put_len_field, put_varint, varint_len, Scalar, R};
use std::ops::Range;

/// Tracked keys are numbered in a `u8`-sized table; lists naming more keys take `AttrList`.
const MAX_KEYS: usize = 64;

/// Actions compiled for [`FastItem`]; `None` from [`Plan::new`] when they need `AttrList`.
#[derive(Debug)]
pub struct Plan {
    keys: Vec<Box<[u8]>>,
    /// Bit `n` is set when a tracked key is `n` bytes long (bit 63: 63 bytes or more), so most
    /// keys are dismissed without comparing bytes.
    len_mask: u64,
    steps: Vec<Step>,
}

#[derive(Debug)]
struct Step {
    kind: Kind,
    slot: usize,
    source: Option<Src>,
}

#[derive(Debug)]
enum Src {
    /// An encoded `AnyValue` body from the config.
    Literal(Box<[u8]>),
    /// The value of another tracked key.
    Slot(usize),
}

fn len_bit(len: usize) -> u64 {
    1 << len.min(63)
}

impl Plan {
    pub fn new(actions: &[Action]) -> Option<Plan> {
        let mut plan = Plan {
            keys: Vec::new(),
            len_mask: 0,
            steps: Vec::with_capacity(actions.len()),
        };
        for a in actions {
            let simple = matches!(
                a.kind,
                Kind::Insert | Kind::Update | Kind::Upsert | Kind::Delete | Kind::Hash
            );
            if !simple || a.regex.is_some() {
                return None;
            }
            let source = match &a.source {
                None => None,
                Some(Source::Literal(_, encoded)) => {
                    Some(Src::Literal(encoded.clone().into_boxed_slice()))
                }
                Some(Source::Attribute(k)) => Some(Src::Slot(plan.slot_for(k.as_bytes())?)),
            };
            let slot = plan.slot_for(a.key.as_bytes())?;
            plan.steps.push(Step {
                kind: a.kind,
                slot,
                source,
            });
        }
        Some(plan)
    }

    /// The slot of a tracked key, adding it if new; `None` past [`MAX_KEYS`].
    fn slot_for(&mut self, key: &[u8]) -> Option<usize> {
        if let Some(i) = self.keys.iter().position(|k| **k == *key) {
            return Some(i);
        }
        if self.keys.len() == MAX_KEYS {
            return None;
        }
        self.keys.push(key.into());
        self.len_mask |= len_bit(key.len());
        Some(self.keys.len() - 1)
    }

    #[inline]
    fn slot_of(&self, key: &[u8]) -> Option<usize> {
        if self.len_mask & len_bit(key.len()) == 0 {
            return None;
        }
        self.keys.iter().position(|k| **k == *key)
    }
}

/// Where a tracked key's entry is in the list being built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presence {
    Absent,
    /// The received entry (at its place in the list).
    Received,
    /// Appended; the number orders appended entries.
    Appended(u32),
}

/// A received entry of a tracked key: its whole field and the bytes of its body around the
/// value field (kept when only the value changes).
#[derive(Debug, Clone)]
struct Received {
    whole: Range<usize>,
    before_value: Range<usize>,
    after_value: Range<usize>,
}

#[derive(Debug, Clone)]
struct Slot<'a> {
    received: Option<Received>,
    presence: Presence,
    /// The current value (`KeyValue.value`; `None` when the field is absent).
    value: Option<Val<'a>>,
    /// The received entry's value was replaced: it is re-encoded.
    changed: bool,
}

const ABSENT: Slot<'static> = Slot {
    received: None,
    presence: Presence::Absent,
    value: None,
    changed: false,
};

/// A stretch of the received attribute list.
#[derive(Debug, Clone)]
enum Piece {
    /// Untracked entries, adjacent on the wire: copied as they are.
    Run(Range<usize>),
    /// The received entry of a tracked key.
    Tracked(usize),
}

/// One item's attribute list under a [`Plan`], with the buffers it reuses from item to item.
#[derive(Default)]
pub struct FastItem<'a> {
    slots: Vec<Slot<'a>>,
    pieces: Vec<Piece>,
    scratch: Vec<u8>,
    appended: Vec<(u32, usize)>,
    next_append: u32,
    /// Anything differs from the received list.
    pub dirty: bool,
}

const EMPTY: &[u8] = &[];

impl<'a> FastItem<'a> {
    pub fn begin(&mut self, plan: &Plan) {
        self.slots.clear();
        self.slots.resize(plan.keys.len(), ABSENT);
        self.pieces.clear();
        self.scratch.clear();
        self.next_append = 0;
        self.dirty = false;
    }

    /// Add a received attribute field (`buf[whole]`, body `buf[body]`), validated as
    /// `AttrList::push_received` does. `Ok(false)`: a tracked key occurs twice, so this item
    /// needs `AttrList`.
    #[inline]
    pub fn attribute(
        &mut self,
        plan: &Plan,
        buf: &'a [u8],
        whole: Range<usize>,
        body: Range<usize>,
    ) -> R<bool> {
        let kv = received_key_value(buf, body.clone())?;
        Ok(self.take(plan, buf, whole, body, kv.key, kv.value_field))
    }

    /// Take the attribute fields that follow at `pos` (before `end`) while they have the
    /// common shape: tag `tag`, a one-byte length and a body [`canonical_key_value`] reads,
    /// without the generic field reader. Returns where it stopped (the caller's reader goes on
    /// from there and reads whatever stopped this loop as usual), or `None` as
    /// [`Self::attribute`] returns `Ok(false)`.
    #[inline]
    pub fn attribute_run(
        &mut self,
        plan: &Plan,
        buf: &'a [u8],
        mut pos: usize,
        end: usize,
        tag: u8,
    ) -> R<Option<usize>> {
        while let Some(&[t, len]) = buf.get(pos..pos + 2) {
            let body = pos + 2..pos + 2 + usize::from(len);
            if t != tag || len >= 0x80 || body.end > end {
                break;
            }
            let Some((key, value_field)) = canonical_key_value(buf, body.clone())? else {
                break;
            };
            // One-byte tag and one-byte length, then the value's body.
            let payload = value_field.start + 2..value_field.end;
            if !self.take(
                plan,
                buf,
                pos..body.end,
                body.clone(),
                key,
                Some((value_field, payload)),
            ) {
                return Ok(None);
            }
            pos = body.end;
        }
        Ok(Some(pos))
    }

    #[inline(always)]
    fn take(
        &mut self,
        plan: &Plan,
        buf: &'a [u8],
        whole: Range<usize>,
        body: Range<usize>,
        key: &[u8],
        value_field: Option<(Range<usize>, Range<usize>)>,
    ) -> bool {
        let Some(s) = plan.slot_of(key) else {
            match self.pieces.last_mut() {
                Some(Piece::Run(run)) if run.end == whole.start => run.end = whole.end,
                _ => self.pieces.push(Piece::Run(whole)),
            }
            return true;
        };
        let slot = &mut self.slots[s];
        if slot.received.is_some() {
            return false;
        }
        let (before_value, after_value, value) = split_at_value(buf, &body, value_field);
        *slot = Slot {
            received: Some(Received {
                whole,
                before_value,
                after_value,
            }),
            presence: Presence::Received,
            value,
            changed: false,
        };
        self.pieces.push(Piece::Tracked(s));
        true
    }

    fn bytes(&self, v: Val<'a>) -> &[u8] {
        match v {
            Val::Borrowed(b) => b,
            Val::Scratch(s, e) => &self.scratch[s..e],
        }
    }

    fn present(&self, s: usize) -> bool {
        self.slots[s].presence != Presence::Absent
    }

    /// The value as a lookup sees it: an absent value field reads as an empty value.
    fn value_at(&self, s: usize) -> Val<'a> {
        self.slots[s].value.unwrap_or(Val::Borrowed(EMPTY))
    }

    fn source(&self, src: &'a Option<Src>) -> Option<Val<'a>> {
        match src.as_ref()? {
            Src::Literal(encoded) => Some(Val::Borrowed(encoded)),
            Src::Slot(k) => self.present(*k).then(|| self.value_at(*k)),
        }
    }

    fn set(&mut self, s: usize, v: Val<'a>) {
        let slot = &mut self.slots[s];
        slot.value = Some(v);
        slot.changed = true;
        self.dirty = true;
    }

    fn append(&mut self, s: usize, v: Val<'a>) {
        let slot = &mut self.slots[s];
        slot.presence = Presence::Appended(self.next_append);
        slot.value = Some(v);
        self.next_append += 1;
        self.dirty = true;
    }

    fn hash(&mut self, s: usize) -> R<()> {
        let hex = match pb::scalar(self.bytes(self.value_at(s)))? {
            Scalar::Str(v) => Some(sha256_hex_of(v.as_bytes())),
            Scalar::Bool(b) => Some(sha256_hex_of(&[u8::from(b)])),
            Scalar::Int(n) => Some(sha256_hex_of(&n.to_le_bytes())),
            Scalar::Double(f) => Some(sha256_hex_of(&f.to_bits().to_le_bytes())),
            Scalar::Other => None,
        };
        let start = self.scratch.len();
        let text: &[u8] = hex.as_ref().map_or(b"", |h| &h[..]);
        put_len_field(&mut self.scratch, 0x0a, text);
        self.set(s, Val::Scratch(start, self.scratch.len()));
        Ok(())
    }

    /// Apply every action, in order (the twin of `AttrList::apply` for the actions a plan
    /// admits).
    pub fn apply(&mut self, plan: &'a Plan) -> R<()> {
        for step in &plan.steps {
            let s = step.slot;
            match step.kind {
                Kind::Delete => {
                    if self.present(s) {
                        self.slots[s].presence = Presence::Absent;
                        self.dirty = true;
                    }
                }
                Kind::Insert => {
                    if let Some(v) = self.source(&step.source) {
                        if !self.present(s) {
                            self.append(s, v);
                        }
                    }
                }
                Kind::Update => {
                    if let Some(v) = self.source(&step.source) {
                        if self.present(s) {
                            self.set(s, v);
                        }
                    }
                }
                Kind::Upsert => {
                    if let Some(v) = self.source(&step.source) {
                        if self.present(s) {
                            self.set(s, v);
                        } else {
                            self.append(s, v);
                        }
                    }
                }
                Kind::Hash => {
                    if self.present(s) {
                        self.hash(s)?;
                    }
                }
                // `Plan::new` admits no other kind.
                Kind::Extract | Kind::Convert => {}
            }
        }
        Ok(())
    }

    fn value_field_len(&self, v: Option<Val<'a>>) -> usize {
        v.map_or(0, |v| {
            let n = self.bytes(v).len();
            1 + varint_len(n as u64) + n
        })
    }

    /// The body length of a re-encoded received entry.
    fn changed_body_len(&self, slot: &Slot<'a>, r: &Received) -> usize {
        r.before_value.len() + r.after_value.len() + self.value_field_len(slot.value)
    }

    fn appended_body_len(&self, key: &[u8], slot: &Slot<'a>) -> usize {
        let key_len = if key.is_empty() {
            0
        } else {
            1 + varint_len(key.len() as u64) + key.len()
        };
        key_len + self.value_field_len(slot.value)
    }

    /// Order the appended entries (call once, before [`Self::encoded_len`] and
    /// [`Self::encode`]).
    pub fn finish(&mut self) {
        self.appended.clear();
        for (s, slot) in self.slots.iter().enumerate() {
            if let Presence::Appended(n) = slot.presence {
                self.appended.push((n, s));
            }
        }
        self.appended.sort_unstable();
    }

    /// Bytes the list takes encoded.
    pub fn encoded_len(&self, plan: &Plan) -> usize {
        let mut n = 0;
        for p in &self.pieces {
            match p {
                Piece::Run(r) => n += r.len(),
                Piece::Tracked(s) => {
                    let slot = &self.slots[*s];
                    match (&slot.received, slot.presence) {
                        (Some(r), Presence::Received) if !slot.changed => n += r.whole.len(),
                        (Some(r), Presence::Received) => {
                            let body = self.changed_body_len(slot, r);
                            n += 1 + varint_len(body as u64) + body;
                        }
                        _ => {}
                    }
                }
            }
        }
        for &(_, s) in &self.appended {
            let body = self.appended_body_len(&plan.keys[s], &self.slots[s]);
            n += 1 + varint_len(body as u64) + body;
        }
        n
    }

    /// Append the list as repeated field `tag` (a one-byte tag).
    pub fn encode(&self, plan: &Plan, buf: &[u8], tag: u8, out: &mut Vec<u8>) {
        for p in &self.pieces {
            match p {
                Piece::Run(r) => out.extend_from_slice(&buf[r.clone()]),
                Piece::Tracked(s) => {
                    let slot = &self.slots[*s];
                    match (&slot.received, slot.presence) {
                        (Some(r), Presence::Received) if !slot.changed => {
                            out.extend_from_slice(&buf[r.whole.clone()]);
                        }
                        (Some(r), Presence::Received) => {
                            out.push(tag);
                            put_varint(out, self.changed_body_len(slot, r) as u64);
                            out.extend_from_slice(&buf[r.before_value.clone()]);
                            out.extend_from_slice(&buf[r.after_value.clone()]);
                            if let Some(v) = slot.value {
                                put_len_field(out, 0x12, self.bytes(v));
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        for &(_, s) in &self.appended {
            let (key, slot) = (&plan.keys[s][..], &self.slots[s]);
            out.push(tag);
            put_varint(out, self.appended_body_len(key, slot) as u64);
            if !key.is_empty() {
                put_len_field(out, 0x0a, key);
            }
            if let Some(v) = slot.value {
                put_len_field(out, 0x12, self.bytes(v));
            }
        }
    }
}
