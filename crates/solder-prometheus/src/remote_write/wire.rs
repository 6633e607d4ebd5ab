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
}

/// Bytes a varint takes.
#[inline]
pub(crate) fn varint_len(v: u64) -> usize {
    // 1 byte per started group of 7 bits; 0 still takes one byte.
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

#[inline]
pub(crate) fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

#[inline]
pub(crate) fn put_tag(buf: &mut Vec<u8>, field: u32, wire_type: u8) {
    put_varint(buf, (u64::from(field) << 3) | u64::from(wire_type));
}

/// A length-delimited field's header (tag + length); the caller writes `len` bytes after it.
#[inline]
pub(crate) fn put_len_header(buf: &mut Vec<u8>, field: u32, len: usize) {
    put_tag(buf, field, LEN);
    put_varint(buf, len as u64);
}

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
    put_len_header(buf, field, sample_body_len(timestamp_ms));
    put_double_field(buf, 1, value);
    put_int64_field(buf, 2, timestamp_ms);
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
pub(crate) fn read_sample(body: &[u8]) -> Result<(f64, i64), WireError> {
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
