//! Hand-rolled protobuf primitives for the remote-write hot path. Every scraped sample is
//! written to the WAL and read back once per endpoint; building and dropping prost message
//! structs (two owned `String`s per label, per series) for that cost most of the agent's CPU.
//! With these, WAL records are written straight from the batch, and read back as byte ranges
//! that go into requests without being decoded into owned labels.
//!
//! Only what `prometheus.WriteRequest` needs: varints, 64-bit fixed fields and
//! length-delimited fields.

/// Protobuf wire types used by `prometheus.WriteRequest`.
pub(crate) const VARINT: u8 = 0;
pub(crate) const FIXED64: u8 = 1;
pub(crate) const LEN: u8 = 2;
pub(crate) const FIXED32: u8 = 5;

/// Why bytes could not be walked as protobuf.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("truncated protobuf field")]
    Truncated,
    #[error("malformed varint")]
    Varint,
    #[error("unsupported protobuf wire type {0}")]
    WireType(u8),
    #[error("label text is not UTF-8")]
    Utf8,
    #[error("record larger than 4 GiB")]
    TooLarge,
}

/// Bytes a varint takes.
#[inline]
pub(crate) fn varint_len(v: u64) -> usize {
    // 1 byte per started group of 7 bits; 0 still takes one byte.
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

#[inline]
pub(crate) fn put_varint(buf: &mut Vec<u8>, v: u64) {
    let mut s = Stack::<10>::new();
    s.varint(v);
    s.append_to(buf);
}

#[inline]
pub(crate) fn put_tag(buf: &mut Vec<u8>, field: u32, wire_type: u8) {
    put_varint(buf, (u64::from(field) << 3) | u64::from(wire_type));
}

/// A length-delimited field's header (tag + length); the caller writes `len` bytes after it.
#[inline]
pub(crate) fn put_len_header(buf: &mut Vec<u8>, field: u32, len: usize) {
    let mut s = Stack::<20>::new();
    s.len_header(field, len);
    s.append_to(buf);
}

/// A few encoded bytes assembled on the stack and appended with one copy. Pushing byte by
/// byte into the `Vec` re-checks its capacity and reloads its length for every byte, which
/// was most of the cost of writing a sample (this runs for every sample, twice).
pub(crate) struct Stack<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> Stack<N> {
    #[inline]
    pub(crate) fn new() -> Self {
        Stack {
            buf: [0; N],
            len: 0,
        }
    }

    /// Callers size `N` for what they write; a byte past the end would be a bug, and is
    /// dropped rather than panicking (the encoding tests would see it).
    #[inline]
    pub(crate) fn byte(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    #[inline]
    pub(crate) fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.byte((v as u8) | 0x80);
            v >>= 7;
        }
        self.byte(v as u8);
    }

    #[inline]
    pub(crate) fn len_header(&mut self, field: u32, len: usize) {
        self.varint((u64::from(field) << 3) | u64::from(LEN));
        self.varint(len as u64);
    }

    #[inline]
    pub(crate) fn fixed64(&mut self, v: u64) {
        if let Some(dst) = self.buf.get_mut(self.len..self.len + 8) {
            dst.copy_from_slice(&v.to_le_bytes());
            self.len += 8;
        }
    }

    /// A whole `Sample` field (see [`put_sample`]): at most 10 + 10 + 1 + 9 + 1 + 10 bytes.
    #[inline]
    pub(crate) fn sample(&mut self, field: u32, value: f64, timestamp_ms: i64) {
        self.len_header(field, sample_body_len(timestamp_ms));
        self.byte((1 << 3) | FIXED64);
        self.fixed64(value.to_bits());
        self.byte((2 << 3) | VARINT);
        self.varint(timestamp_ms as u64);
    }

    /// Appends the bytes written to `out`. The whole `N`-byte buffer is copied and the
    /// excess cut off again: a copy of a size known at compile time is a few inlined moves,
    /// where one of a run-time length is a call into `memcpy`, and these copies (a few bytes,
    /// several per sample) were a tenth of the path's instructions that way. Callers that
    /// size `out` exactly leave `N` bytes of slack, or the last copy grows it.
    #[inline]
    pub(crate) fn append_to(&self, out: &mut Vec<u8>) {
        let end = out.len() + self.len.min(N);
        out.extend_from_slice(&self.buf);
        out.truncate(end);
    }
}

/// Room for a `Sample` field written by [`Stack::sample`] with its own tag and length.
pub(crate) const SAMPLE_FIELD_MAX: usize = 41;

#[inline]
pub(crate) fn put_bytes_field(buf: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_len_header(buf, field, bytes.len());
    buf.extend_from_slice(bytes);
}

#[inline]
pub(crate) fn put_double_field(buf: &mut Vec<u8>, field: u32, v: f64) {
    put_tag(buf, field, FIXED64);
    buf.extend_from_slice(&v.to_bits().to_le_bytes());
}

#[inline]
pub(crate) fn put_int64_field(buf: &mut Vec<u8>, field: u32, v: i64) {
    put_tag(buf, field, VARINT);
    // int64 is sent as its two's-complement u64 (10 bytes when negative), as protobuf does.
    put_varint(buf, v as u64);
}

/// Size of a length-delimited field with a one-byte tag (all fields used here are < 16).
#[inline]
pub(crate) fn len_field_size(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

/// Encoded size of one `prometheus.Label` message body.
#[inline]
pub(crate) fn label_body_len(name: &[u8], value: &[u8]) -> usize {
    len_field_size(name.len()) + len_field_size(value.len())
}

/// Writes one `Label` as field `field` of the enclosing message.
#[inline]
pub(crate) fn put_label(buf: &mut Vec<u8>, field: u32, name: &[u8], value: &[u8]) {
    put_len_header(buf, field, label_body_len(name, value));
    put_bytes_field(buf, 1, name);
    put_bytes_field(buf, 2, value);
}

/// Encoded size of a `Sample { value, timestamp }` body; both fields are always written.
#[inline]
pub(crate) fn sample_body_len(timestamp_ms: i64) -> usize {
    9 + 1 + varint_len(timestamp_ms as u64)
}

#[inline]
pub(crate) fn put_sample(buf: &mut Vec<u8>, field: u32, value: f64, timestamp_ms: i64) {
    let mut s = Stack::<SAMPLE_FIELD_MAX>::new();
    s.sample(field, value, timestamp_ms);
    s.append_to(buf);
}

/// Encoded size of an `Exemplar { labels = 1; value = 2; timestamp = 3 }` body whose label
/// fields take `labels_len` bytes (value and timestamp are shaped as in a `Sample`).
#[inline]
pub(crate) fn exemplar_body_len(labels_len: usize, timestamp_ms: i64) -> usize {
    labels_len + sample_body_len(timestamp_ms)
}

/// Writes an `Exemplar` as field `field`; `labels` are its encoded `Label` fields.
#[inline]
pub(crate) fn put_exemplar(buf: &mut Vec<u8>, field: u32, labels: &[u8], value: f64, ts: i64) {
    put_len_header(buf, field, exemplar_body_len(labels.len(), ts));
    buf.extend_from_slice(labels);
    put_double_field(buf, 2, value);
    put_int64_field(buf, 3, ts);
}

/// One field read by [`FieldReader`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Field<'a> {
    Varint(u64),
    Fixed64(u64),
    Fixed32(u32),
    Bytes(&'a [u8]),
}

/// Walks the fields of one message without copying.
pub(crate) struct FieldReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> FieldReader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        FieldReader { buf, pos: 0 }
    }

    /// Offset of the next field from the start of the message.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    fn varint(&mut self) -> Result<u64, WireError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos).ok_or(WireError::Truncated)?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(WireError::Varint)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).ok_or(WireError::Truncated)?;
        let s = self.buf.get(self.pos..end).ok_or(WireError::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    /// If the next field has the one-byte key `key` (a length-delimited field) and a one-byte
    /// length, its body, consumed; otherwise `None` and nothing consumed. Exactly what
    /// [`FieldReader::next_field`] would return for such a field, without its general
    /// decoding: records and requests are mostly samples, which are this shape.
    #[inline]
    pub(crate) fn next_short_bytes(&mut self, key: u8) -> Option<&'a [u8]> {
        let rest = self.buf.get(self.pos..)?;
        let (&k, rest) = rest.split_first()?;
        let (&len, rest) = rest.split_first()?;
        if k != key || len >= 0x80 {
            return None;
        }
        let body = rest.get(..usize::from(len))?;
        self.pos += 2 + usize::from(len);
        Some(body)
    }

    /// The next `(field number, value)`, or `None` at the end of the message.
    pub(crate) fn next_field(&mut self) -> Result<Option<(u32, Field<'a>)>, WireError> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = u32::try_from(key >> 3).map_err(|_| WireError::Varint)?;
        let value = match (key & 7) as u8 {
            VARINT => Field::Varint(self.varint()?),
            FIXED64 => {
                let mut w = [0u8; 8];
                w.copy_from_slice(self.take(8)?);
                Field::Fixed64(u64::from_le_bytes(w))
            }
            LEN => {
                let n = usize::try_from(self.varint()?).map_err(|_| WireError::Truncated)?;
                Field::Bytes(self.take(n)?)
            }
            FIXED32 => {
                let mut w = [0u8; 4];
                w.copy_from_slice(self.take(4)?);
                Field::Fixed32(u32::from_le_bytes(w))
            }
            other => return Err(WireError::WireType(other)),
        };
        Ok(Some((field, value)))
    }
}

/// Reads a `Label` body into `(name, value)`; missing fields are empty, as in protobuf.
pub(crate) fn read_label(body: &[u8]) -> Result<(&[u8], &[u8]), WireError> {
    let mut r = FieldReader::new(body);
    let (mut name, mut value): (&[u8], &[u8]) = (&[], &[]);
    while let Some((field, v)) = r.next_field()? {
        match (field, v) {
            (1, Field::Bytes(b)) => name = b,
            (2, Field::Bytes(b)) => value = b,
            _ => {}
        }
    }
    Ok((name, value))
}

/// Reads a `Sample` body into `(value, timestamp_ms)`.
#[inline]
pub(crate) fn read_sample(body: &[u8]) -> Result<(f64, i64), WireError> {
    // The shape [`put_sample`] writes (value, then timestamp, nothing else) is read directly;
    // anything else goes through the general reader, which gives the same result for it.
    if let Some(sample) = read_canonical_sample(body) {
        return Ok(sample);
    }
    read_sample_fields(body)
}

#[inline]
fn read_canonical_sample(body: &[u8]) -> Option<(f64, i64)> {
    let (&tag_v, rest) = body.split_first()?;
    let (bits, rest) = rest.split_first_chunk::<8>()?;
    let (&tag_t, rest) = rest.split_first()?;
    if tag_v != (1 << 3) | FIXED64 || tag_t != (2 << 3) | VARINT || rest.len() > 10 {
        return None;
    }
    let mut ts = 0u64;
    for (i, &b) in rest.iter().enumerate() {
        ts |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            // The varint must end exactly at the end of the body.
            return (i + 1 == rest.len())
                .then_some((f64::from_bits(u64::from_le_bytes(*bits)), ts as i64));
        }
    }
    None
}

fn read_sample_fields(body: &[u8]) -> Result<(f64, i64), WireError> {
    let mut r = FieldReader::new(body);
    let (mut value, mut ts) = (0.0, 0i64);
    while let Some((field, v)) = r.next_field()? {
        match (field, v) {
            (1, Field::Fixed64(bits)) => value = f64::from_bits(bits),
            (2, Field::Varint(t)) => ts = t as i64,
            _ => {}
        }
    }
    Ok((value, ts))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use solder_proto::prometheus as pb;
    use solder_proto::prost::Message;

    /// Whatever the buffer's capacity, exactly the written bytes are appended after what was
    /// there, for every varint length and the longest sample field.
    #[test]
    fn stack_appends_exactly_what_was_written() {
        for v in [0u64, 127, 128, 1 << 35, u64::MAX] {
            for capacity in [0, 3, 64] {
                let mut out = Vec::with_capacity(capacity);
                out.extend_from_slice(b"ab");
                put_varint(&mut out, v);
                let mut want = b"ab".to_vec();
                let mut v2 = v;
                while v2 >= 0x80 {
                    want.push((v2 as u8) | 0x80);
                    v2 >>= 7;
                }
                want.push(v2 as u8);
                assert_eq!(out, want);
            }
        }
        let mut out = Vec::new();
        put_sample(&mut out, 2, f64::MAX, i64::MIN);
        // Tag, length, then value (1 + 8) and a ten-byte timestamp (1 + 10).
        assert_eq!(out.len(), 2 + 9 + 11);
        let decoded = pb::Sample::decode(&out[2..]).unwrap();
        assert_eq!((decoded.value, decoded.timestamp), (f64::MAX, i64::MIN));
    }

    #[test]
    fn varint_len_matches_the_encoding() {
        for v in [
            0u64,
            1,
            127,
            128,
            16_383,
            16_384,
            u32::MAX as u64,
            u64::MAX,
            -1i64 as u64,
        ] {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            assert_eq!(buf.len(), varint_len(v), "{v}");
        }
    }

    #[test]
    fn labels_and_samples_decode_with_prost() {
        let mut body = Vec::new();
        put_label(&mut body, 1, b"__name__", b"up");
        put_label(&mut body, 1, b"job", "ünï".as_bytes());
        for (v, t) in [(1.5, 1_700_000_000_000i64), (-0.0, -5), (f64::NAN, 0)] {
            put_sample(&mut body, 2, v, t);
        }
        let ts = pb::TimeSeries::decode(body.as_slice()).unwrap();
        assert_eq!(ts.labels.len(), 2);
        assert_eq!(ts.labels[1].value, "ünï");
        assert_eq!(ts.samples[0].timestamp, 1_700_000_000_000);
        assert_eq!(ts.samples[1].timestamp, -5);
        assert_eq!(ts.samples[1].value.to_bits(), (-0.0f64).to_bits());
        assert!(ts.samples[2].value.is_nan());
    }

    #[test]
    fn reads_back_what_prost_wrote() {
        let l = pb::Label {
            name: "a".into(),
            value: "b".into(),
        };
        assert_eq!(
            read_label(&l.encode_to_vec()).unwrap(),
            (&b"a"[..], &b"b"[..])
        );
        let s = pb::Sample {
            value: 2.5,
            timestamp: 42,
        };
        assert_eq!(read_sample(&s.encode_to_vec()).unwrap(), (2.5, 42));
        // prost leaves out zero fields; they read back as zero.
        assert_eq!(
            read_sample(&pb::Sample::default().encode_to_vec()).unwrap(),
            (0.0, 0)
        );
    }

    /// The direct read of the usual sample shape and the general field walk agree on every
    /// body: canonical ones (all timestamp lengths), and ones that only look similar.
    #[test]
    fn sample_fast_path_agrees_with_the_field_walk() {
        let mut bodies: Vec<Vec<u8>> = Vec::new();
        for ts in [0i64, 1, 127, 128, 1_700_000_000_000, i64::MAX, -1, i64::MIN] {
            let mut field = Vec::new();
            put_sample(&mut field, 2, 1.25, ts);
            // Strip the field's own tag and length: the body as a reader sees it.
            let (_, body) = match FieldReader::new(&field).next_field().unwrap() {
                Some((2, Field::Bytes(b))) => ((), b.to_vec()),
                other => panic!("{other:?}"),
            };
            let decoded = pb::Sample::decode(body.as_slice()).unwrap();
            assert_eq!((decoded.value, decoded.timestamp), (1.25, ts));
            bodies.push(body);
        }
        let canonical = bodies[4].clone();
        // Fields reversed, a repeated field, trailing bytes, a varint running over the end,
        // an 11-byte varint, a truncated value.
        let mut reversed = vec![0x10, 0x05];
        reversed.extend_from_slice(&canonical[..9]);
        bodies.push(reversed);
        let mut repeated = canonical.clone();
        repeated.extend_from_slice(&[0x10, 0x07]);
        bodies.push(repeated);
        let mut trailing = canonical.clone();
        trailing.push(0x00);
        bodies.push(trailing);
        let mut open = canonical.clone();
        *open.last_mut().unwrap() |= 0x80;
        bodies.push(open);
        let mut long = canonical[..10].to_vec();
        long.extend_from_slice(&[0xff; 10]);
        long.push(0x01);
        bodies.push(long);
        bodies.push(canonical[..7].to_vec());
        bodies.push(Vec::new());
        for body in &bodies {
            let fast = read_sample(body);
            let walked = read_sample_fields(body);
            match (&fast, &walked) {
                (Ok((a, t1)), Ok((b, t2))) => {
                    assert_eq!((a.to_bits(), t1), (b.to_bits(), t2), "{body:02x?}")
                }
                _ => assert_eq!(fast.is_err(), walked.is_err(), "{body:02x?}"),
            }
            if let Ok(s) = pb::Sample::decode(body.as_slice()) {
                assert_eq!(walked.unwrap(), (s.value, s.timestamp), "{body:02x?}");
            }
        }
    }

    /// The short-field shortcut returns what the general reader returns, or leaves the field
    /// to it untouched.
    #[test]
    fn short_bytes_shortcut_matches_next_field() {
        let mut msg = Vec::new();
        put_sample(&mut msg, 2, 3.5, 1_700_000_000_000);
        put_bytes_field(&mut msg, 2, &[7u8; 200]); // two-byte length: not short
        put_label(&mut msg, 1, b"a", b"b"); // another field number
        put_sample(&mut msg, 2, -1.0, -1);
        for cut in 0..=msg.len() {
            let part = &msg[..cut];
            let mut fast = FieldReader::new(part);
            let mut slow = FieldReader::new(part);
            loop {
                let before = fast.position();
                match fast.next_short_bytes((2 << 3) | LEN) {
                    Some(body) => {
                        assert_eq!(slow.next_field(), Ok(Some((2, Field::Bytes(body)))));
                        assert_eq!(fast.position(), slow.position());
                    }
                    None => {
                        assert_eq!(fast.position(), before);
                        let a = fast.next_field();
                        let b = slow.next_field();
                        assert_eq!(a, b);
                        if !matches!(a, Ok(Some(_))) {
                            break;
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn truncated_input_is_an_error_not_a_panic() {
        let mut body = Vec::new();
        put_label(&mut body, 1, b"name", b"value");
        for cut in 0..body.len() {
            let mut r = FieldReader::new(&body[..cut]);
            let mut outcome = Ok(None);
            for _ in 0..4 {
                outcome = r.next_field();
                if !matches!(outcome, Ok(Some(_))) {
                    break;
                }
            }
            assert!(cut == 0 || outcome.is_err(), "cut at {cut}");
        }
        assert_eq!(
            FieldReader::new(&[0x0b]).next_field(),
            Err(WireError::WireType(3))
        );
        assert_eq!(
            FieldReader::new(&[0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
                .next_field(),
            Err(WireError::Varint)
        );
    }
}
