//! Protobuf reading and validation for the encoded traces path.
//!
//! The encoded path must never accept bytes that `prost` would reject (a rejected request is a
//! permanent error today, with prost's message). So this reader accepts a strict *subset* of
//! what prost accepts: anything unusual (groups, over-deep nesting, a varint prost would refuse,
//! a field with the wrong wire type, invalid UTF-8, …) is reported as [`Unhandled`] and the
//! caller runs the prost path, which then produces today's result or today's error.

use std::ops::Range;

pub const VARINT: u8 = 0;
pub const I64: u8 = 1;
pub const LEN: u8 = 2;
pub const I32: u8 = 5;

/// Input this path does not handle; the prost path decides instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unhandled;

pub type R<T> = Result<T, Unhandled>;

/// `AnyValue` nesting (arrays, kvlists) accepted before handing over to prost. Each level costs
/// at most 3 of prost's 100 recursion levels, so this stays far below prost's limit.
const MAX_VALUE_DEPTH: u32 = 16;

/// Read a varint at `*pos` (before `end`) as prost does: at most 10 bytes, the 10th at most 1.
/// One-byte varints (tags, short lengths) take the inlined path.
#[inline(always)]
pub fn varint(buf: &[u8], pos: &mut usize, end: usize) -> R<u64> {
    let start = *pos;
    if start < end {
        let b0 = buf[start];
        if b0 < 0x80 {
            *pos = start + 1;
            return Ok(u64::from(b0));
        }
    }
    varint_slow(buf, pos, end)
}

#[inline(never)]
fn varint_slow(buf: &[u8], pos: &mut usize, end: usize) -> R<u64> {
    let start = *pos;
    let mut value = 0u64;
    for i in 0..10 {
        let at = start + i;
        if at >= end {
            return Err(Unhandled);
        }
        let b = buf[at];
        if i == 9 && b >= 2 {
            return Err(Unhandled);
        }
        value |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            *pos = at + 1;
            return Ok(value);
        }
    }
    Err(Unhandled)
}

/// Bytes a varint of `v` takes.
#[inline]
pub fn varint_len(v: u64) -> usize {
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Append `v` as a varint.
#[inline]
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Append a length-delimited field with a one-byte tag.
#[inline]
pub fn put_len_field(out: &mut Vec<u8>, tag: u8, payload: &[u8]) {
    out.push(tag);
    put_varint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

/// One field as found on the wire.
#[derive(Debug, Clone)]
pub struct Field {
    pub number: u32,
    pub wire_type: u8,
    /// The whole field, tag included.
    pub whole: Range<usize>,
    /// The payload of a `LEN` field (empty otherwise).
    pub value: Range<usize>,
    /// The value of a `VARINT` field, or the little-endian value of a fixed-width one.
    pub scalar: u64,
}

/// The fields of the message in `buf[range]`.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], range: Range<usize>) -> Self {
        Reader {
            buf,
            pos: range.start,
            end: range.end.min(buf.len()),
        }
    }

    /// Where the next field starts.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Go on at `pos`, which a caller read up to itself (within the message).
    pub fn skip_to(&mut self, pos: usize) {
        self.pos = pos.clamp(self.pos, self.end);
    }

    /// The next field, `None` at the end of the message.
    #[inline(always)]
    pub fn next_field(&mut self) -> R<Option<Field>> {
        if self.pos >= self.end {
            return Ok(None);
        }
        let start = self.pos;
        let key = varint(self.buf, &mut self.pos, self.end)?;
        if key > u64::from(u32::MAX) {
            return Err(Unhandled);
        }
        let wire_type = (key & 7) as u8;
        let number = (key >> 3) as u32;
        if number == 0 {
            return Err(Unhandled);
        }
        let mut value = self.pos..self.pos;
        let scalar = match wire_type {
            VARINT => varint(self.buf, &mut self.pos, self.end)?,
            I64 => u64::from_le_bytes(self.fixed::<8>()?),
            I32 => u64::from(u32::from_le_bytes(self.fixed::<4>()?)),
            LEN => {
                let len = varint(self.buf, &mut self.pos, self.end)?;
                let len = usize::try_from(len).map_err(|_| Unhandled)?;
                if len > self.end - self.pos {
                    return Err(Unhandled);
                }
                value = self.pos..self.pos + len;
                self.pos += len;
                0
            }
            // Groups (legal but never used by OTLP) and invalid wire types.
            _ => return Err(Unhandled),
        };
        Ok(Some(Field {
            number,
            wire_type,
            whole: start..self.pos,
            value,
            scalar,
        }))
    }

    #[inline]
    fn fixed<const N: usize>(&mut self) -> R<[u8; N]> {
        if self.end - self.pos < N {
            return Err(Unhandled);
        }
        let mut out = [0u8; N];
        out.copy_from_slice(&self.buf[self.pos..self.pos + N]);
        self.pos += N;
        Ok(out)
    }
}

/// Require `f` to have `wire_type`.
#[inline]
pub fn want(f: &Field, wire_type: u8) -> R<()> {
    if f.wire_type == wire_type {
        Ok(())
    } else {
        Err(Unhandled)
    }
}

/// A `string` field: `LEN` and valid UTF-8.
#[inline]
pub fn string<'a>(buf: &'a [u8], f: &Field) -> R<&'a str> {
    want(f, LEN)?;
    std::str::from_utf8(&buf[f.value.clone()]).map_err(|_| Unhandled)
}

/// Whether all bytes are ASCII. Attribute keys and values are mostly short ASCII strings of
/// varying length: eight bytes at a time (the last word overlapping) with one test at the end
/// costs fewer unpredictable branches than a byte loop or `<[u8]>::is_ascii`'s set-up.
#[inline(always)]
pub fn ascii(bytes: &[u8]) -> bool {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    if let Some(last) = bytes.last_chunk::<8>() {
        let (words, _) = bytes.as_chunks::<8>();
        let mut acc = u64::from_le_bytes(*last);
        for w in words {
            acc |= u64::from_le_bytes(*w);
        }
        return acc & HIGH == 0;
    }
    if let (Some(first), Some(last)) = (bytes.first_chunk::<4>(), bytes.last_chunk::<4>()) {
        return (u32::from_le_bytes(*first) | u32::from_le_bytes(*last)) & 0x8080_8080 == 0;
    }
    bytes.iter().fold(0u8, |acc, b| acc | b) < 0x80
}

/// Check that bytes are UTF-8 (ASCII, the common case, checked word-wise first).
#[inline]
pub fn utf8(bytes: &[u8]) -> R<()> {
    if ascii(bytes) || std::str::from_utf8(bytes).is_ok() {
        Ok(())
    } else {
        Err(Unhandled)
    }
}

/// Validate a `string` field without borrowing it as `str`.
#[inline]
pub fn check_string(buf: &[u8], f: &Field) -> R<()> {
    want(f, LEN)?;
    utf8(&buf[f.value.clone()])
}

/// Validate a message whose fields are described by `check`, which returns `Ok(())` for fields
/// it accepts (unknown fields included).
#[inline]
pub fn each_field(
    buf: &[u8],
    range: Range<usize>,
    mut check: impl FnMut(&Field) -> R<()>,
) -> R<()> {
    let mut r = Reader::new(buf, range);
    while let Some(f) = r.next_field()? {
        check(&f)?;
    }
    Ok(())
}

/// `KeyValue`: 1 key, 2 value, 3 key_strindex.
pub fn check_key_value(buf: &[u8], range: Range<usize>, depth: u32) -> R<()> {
    each_field(buf, range, |f| match f.number {
        1 => check_string(buf, f),
        2 => {
            want(f, LEN)?;
            check_any_value(buf, f.value.clone(), depth + 1)
        }
        3 => want(f, VARINT),
        _ => Ok(()),
    })
}

/// `AnyValue` (a oneof of scalars, `ArrayValue`, `KeyValueList` and bytes).
pub fn check_any_value(buf: &[u8], range: Range<usize>, depth: u32) -> R<()> {
    if depth > MAX_VALUE_DEPTH {
        return Err(Unhandled);
    }
    each_field(buf, range, |f| match f.number {
        1 => check_string(buf, f),
        2 | 3 | 8 => want(f, VARINT),
        4 => want(f, I64),
        7 => want(f, LEN),
        // ArrayValue: 1 values (AnyValue).
        5 => {
            want(f, LEN)?;
            each_field(buf, f.value.clone(), |g| match g.number {
                1 => {
                    want(g, LEN)?;
                    check_any_value(buf, g.value.clone(), depth + 1)
                }
                _ => Ok(()),
            })
        }
        // KeyValueList: 1 values (KeyValue).
        6 => {
            want(f, LEN)?;
            each_field(buf, f.value.clone(), |g| match g.number {
                1 => {
                    want(g, LEN)?;
                    check_key_value(buf, g.value.clone(), depth)
                }
                _ => Ok(()),
            })
        }
        _ => Ok(()),
    })
}

/// A `repeated KeyValue` element field.
#[inline]
pub fn check_kv_field(buf: &[u8], f: &Field) -> R<()> {
    want(f, LEN)?;
    check_key_value(buf, f.value.clone(), 0)
}

/// `Resource`: 1 attributes, 2 dropped_attributes_count, 3 entity_refs.
pub fn check_resource(buf: &[u8], range: Range<usize>) -> R<()> {
    each_field(buf, range, |f| match f.number {
        1 => check_kv_field(buf, f),
        2 => want(f, VARINT),
        3 => {
            want(f, LEN)?;
            // EntityRef: 1 schema_url, 2 type, 3 id_keys, 4 description_keys (all strings).
            each_field(buf, f.value.clone(), |g| match g.number {
                1..=4 => check_string(buf, g),
                _ => Ok(()),
            })
        }
        _ => Ok(()),
    })
}

/// `InstrumentationScope`: 1 name, 2 version, 3 attributes, 4 dropped_attributes_count.
pub fn check_scope(buf: &[u8], range: Range<usize>) -> R<()> {
    each_field(buf, range, |f| match f.number {
        1 | 2 => check_string(buf, f),
        3 => check_kv_field(buf, f),
        4 => want(f, VARINT),
        _ => Ok(()),
    })
}

/// `Span.Event`: 1 time, 2 name, 3 attributes, 4 dropped_attributes_count.
pub fn check_event(buf: &[u8], range: Range<usize>) -> R<()> {
    each_field(buf, range, |f| match f.number {
        1 => want(f, I64),
        2 => check_string(buf, f),
        3 => check_kv_field(buf, f),
        4 => want(f, VARINT),
        _ => Ok(()),
    })
}

/// `Span.Link`: 1 trace_id, 2 span_id, 3 trace_state, 4 attributes, 5 dropped count, 6 flags.
pub fn check_link(buf: &[u8], range: Range<usize>) -> R<()> {
    each_field(buf, range, |f| match f.number {
        1 | 2 => want(f, LEN),
        3 => check_string(buf, f),
        4 => check_kv_field(buf, f),
        5 => want(f, VARINT),
        6 => want(f, I32),
        _ => Ok(()),
    })
}

/// `Status`: 2 message, 3 code.
pub fn check_status(buf: &[u8], range: Range<usize>) -> R<()> {
    each_field(buf, range, |f| match f.number {
        2 => check_string(buf, f),
        3 => want(f, VARINT),
        _ => Ok(()),
    })
}

/// The final value of an `AnyValue`'s oneof, for the scalar kinds the hash reads. Later fields
/// replace earlier ones, as prost's oneof merge does for scalars.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar<'a> {
    Str(&'a str),
    Bool(bool),
    Int(i64),
    Double(f64),
    /// Not set, or a non-scalar kind (array, kvlist, bytes, string index).
    Other,
}

/// Read an already validated `AnyValue`.
pub fn scalar(buf: &[u8]) -> R<Scalar<'_>> {
    let mut out = Scalar::Other;
    let mut r = Reader::new(buf, 0..buf.len());
    while let Some(f) = r.next_field()? {
        out = match f.number {
            1 => Scalar::Str(string(buf, &f)?),
            2 => Scalar::Bool(f.scalar != 0),
            3 => Scalar::Int(f.scalar as i64),
            4 => Scalar::Double(f64::from_bits(f.scalar)),
            5..=8 => Scalar::Other,
            _ => continue,
        };
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_agrees_with_std_at_every_length_and_position() {
        for len in 0..40 {
            let clean = vec![b'a'; len];
            assert!(ascii(&clean), "{len}");
            for at in 0..len {
                for high in [0x80u8, 0xc3, 0xff] {
                    let mut bytes = clean.clone();
                    bytes[at] = high;
                    assert!(!ascii(&bytes), "len {len}, high byte at {at}");
                    assert_eq!(utf8(&bytes).is_ok(), std::str::from_utf8(&bytes).is_ok());
                }
            }
        }
    }

    #[test]
    fn varints_follow_prost_limits() {
        let mut pos = 0;
        let ok = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(varint(&ok, &mut pos, ok.len()), Ok(u64::MAX));
        let bad = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        pos = 0;
        assert_eq!(varint(&bad, &mut pos, bad.len()), Err(Unhandled));
        pos = 0;
        assert_eq!(varint(&[0x80], &mut pos, 1), Err(Unhandled));
        for v in [0u64, 1, 127, 128, 16_383, 16_384, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out.len(), varint_len(v), "{v}");
            pos = 0;
            assert_eq!(varint(&out, &mut pos, out.len()), Ok(v));
        }
    }
}
