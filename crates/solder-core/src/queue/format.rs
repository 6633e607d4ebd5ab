//! On-disk byte layouts of the queue: segment header, record frame, cursor file, file names.
//!
//! Everything is little-endian. The layouts are versioned so a future change can be detected
//! instead of misread.

use super::Seq;

/// Magic at the start of every segment file.
pub(super) const SEGMENT_MAGIC: [u8; 8] = *b"SOLDERQS";
/// Version of the segment layout written by this code: frame CRCs salted with the segment's
/// first sequence (see [`FrameSalt`]).
pub(super) const SEGMENT_VERSION: u32 = 2;
/// The layout of older builds: unsalted frame CRCs. Still read, never written.
pub(super) const SEGMENT_VERSION_UNSALTED: u32 = 1;
/// Segment header: magic (8) + version (4) + flags (4; reserved, zero, in version 1) + first
/// sequence (8).
pub(super) const SEGMENT_HEADER_LEN: u64 = 24;
/// Header flag (version 2): the file is a reused one, so bytes after the valid records may be
/// left from its previous use.
pub(super) const FLAG_RECYCLED: u32 = 1;
/// Record frame header: payload length (4) + CRC32 of (salt ++ length bytes ++ payload) (4).
pub(super) const FRAME_HEADER_LEN: u64 = 8;

/// Magic at the start of each cursor slot.
const CURSOR_MAGIC: [u8; 4] = *b"SQCR";
const CURSOR_VERSION: u32 = 1;
/// One cursor slot: magic (4) + version (4) + generation (8) + next unacknowledged sequence (8)
/// + CRC32 of the first 24 bytes (4) + reserved, zero (4). The cursor file holds two slots.
pub(super) const CURSOR_SLOT_LEN: usize = 32;

pub(super) const CURSOR_FILE: &str = "cursor";
pub(super) const LOCK_FILE: &str = "lock";
const SEGMENT_SUFFIX: &str = ".seg";
/// The one acknowledged segment file kept for reuse (see `state::State::roll`). Its name is no
/// segment name, so recovery never reads it as data.
pub(super) const SPARE_FILE: &str = "spare.seg.free";

/// The header of a new (version 2) segment; `recycled` sets [`FLAG_RECYCLED`].
pub(super) fn encode_segment_header(
    first_seq: Seq,
    recycled: bool,
) -> [u8; SEGMENT_HEADER_LEN as usize] {
    let mut out = [0u8; SEGMENT_HEADER_LEN as usize];
    out[0..8].copy_from_slice(&SEGMENT_MAGIC);
    out[8..12].copy_from_slice(&SEGMENT_VERSION.to_le_bytes());
    let flags = if recycled { FLAG_RECYCLED } else { 0 };
    out[12..16].copy_from_slice(&flags.to_le_bytes());
    out[16..24].copy_from_slice(&first_seq.to_le_bytes());
    out
}

/// What a segment header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SegmentHeader {
    pub version: u32,
    pub flags: u32,
    pub first_seq: Seq,
}

impl SegmentHeader {
    /// The salt of this segment's frames.
    pub fn salt(&self) -> FrameSalt {
        FrameSalt::for_segment(self.version, self.first_seq)
    }

    /// Whether bytes after the valid records may be left from the file's previous use.
    pub fn recycled(&self) -> bool {
        self.version >= SEGMENT_VERSION && self.flags & FLAG_RECYCLED != 0
    }
}

/// The header in `buf` if it has the magic and a supported version (whatever first sequence
/// it names).
pub(super) fn decode_segment_header(buf: &[u8]) -> Option<SegmentHeader> {
    if buf.len() < SEGMENT_HEADER_LEN as usize || buf[0..8] != SEGMENT_MAGIC {
        return None;
    }
    let word = |at: usize| u32::from_le_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]);
    let version = word(8);
    if version != SEGMENT_VERSION && version != SEGMENT_VERSION_UNSALTED {
        return None;
    }
    let mut first = [0u8; 8];
    first.copy_from_slice(&buf[16..24]);
    Some(SegmentHeader {
        version,
        // Version 1 never defined these bytes: ignored there, as that version's reader did.
        flags: if version == SEGMENT_VERSION_UNSALTED {
            0
        } else {
            word(12)
        },
        first_seq: u64::from_le_bytes(first),
    })
}

/// The header in `buf` if it is valid for the segment whose file name says `expected_first_seq`
/// (a mismatch means the file was renamed or overwritten: not trusted).
pub(super) fn segment_header_for(buf: &[u8], expected_first_seq: Seq) -> Option<SegmentHeader> {
    decode_segment_header(buf).filter(|h| h.first_seq == expected_first_seq)
}

/// What a frame CRC is salted with: the CRC state after the segment's first sequence (8 bytes
/// LE) in version 2, the empty state in version 1.
///
/// Why: a reused segment file still holds the frames of its previous use after the new valid
/// data. Those were salted with another, smaller first sequence (sequences only grow), so they
/// fail the check of the new one even where their boundaries line up with the new frames.
/// Keeping the salt as a precomputed CRC state makes it free per frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FrameSalt(u32);

impl FrameSalt {
    /// Version 1 frames.
    pub const UNSALTED: FrameSalt = FrameSalt(0);

    pub fn for_segment(version: u32, first_seq: Seq) -> FrameSalt {
        if version == SEGMENT_VERSION_UNSALTED {
            FrameSalt::UNSALTED
        } else {
            FrameSalt(crc32fast::hash(&first_seq.to_le_bytes()))
        }
    }

    /// A CRC hasher that has already taken the salt.
    fn hasher(self) -> crc32fast::Hasher {
        crc32fast::Hasher::new_with_initial(self.0)
    }
}

/// CRC of a record. The length is covered too, so a damaged length field is caught even when
/// it happens to point at plausible data.
pub(super) fn frame_crc(salt: FrameSalt, payload: &[u8]) -> u32 {
    let mut hasher = salt.hasher();
    hasher.update(&(payload.len() as u32).to_le_bytes());
    hasher.update(payload);
    hasher.finalize()
}

/// [`frame_crc`] of the concatenation of `parts`, without concatenating them.
pub(super) fn frame_crc_parts(salt: FrameSalt, parts: &[&[u8]]) -> u32 {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut hasher = salt.hasher();
    hasher.update(&(len as u32).to_le_bytes());
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize()
}

/// The 8-byte frame header: payload length, then CRC (both u32 LE).
pub(super) fn encode_frame_header(len: u32, crc: u32) -> [u8; FRAME_HEADER_LEN as usize] {
    let mut header = [0u8; FRAME_HEADER_LEN as usize];
    header[0..4].copy_from_slice(&len.to_le_bytes());
    header[4..8].copy_from_slice(&crc.to_le_bytes());
    header
}

/// Appends one framed record to `out`. The caller guarantees `payload.len() <= u32::MAX`.
pub(super) fn encode_frame(out: &mut Vec<u8>, salt: FrameSalt, payload: &[u8]) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&frame_crc(salt, payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// Splits a frame header into (payload length, stored CRC).
pub(super) fn decode_frame_header(buf: [u8; FRAME_HEADER_LEN as usize]) -> (u32, u32) {
    let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let crc = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
    (len, crc)
}

pub(super) fn encode_cursor_slot(generation: u64, next_unacked: Seq) -> [u8; CURSOR_SLOT_LEN] {
    let mut out = [0u8; CURSOR_SLOT_LEN];
    out[0..4].copy_from_slice(&CURSOR_MAGIC);
    out[4..8].copy_from_slice(&CURSOR_VERSION.to_le_bytes());
    out[8..16].copy_from_slice(&generation.to_le_bytes());
    out[16..24].copy_from_slice(&next_unacked.to_le_bytes());
    let crc = crc32fast::hash(&out[0..24]);
    out[24..28].copy_from_slice(&crc.to_le_bytes());
    out
}

/// (generation, next unacknowledged sequence) of a cursor slot, or `None` if the bytes are not
/// a valid slot (wrong size, magic, version or CRC).
pub(super) fn decode_cursor_slot(buf: &[u8]) -> Option<(u64, Seq)> {
    if buf.len() != CURSOR_SLOT_LEN || buf[0..4] != CURSOR_MAGIC {
        return None;
    }
    let word = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&buf[at..at + 8]);
        u64::from_le_bytes(b)
    };
    let version = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
    let stored_crc = u32::from_le_bytes([buf[24], buf[25], buf[26], buf[27]]);
    if version != CURSOR_VERSION || crc32fast::hash(&buf[0..24]) != stored_crc {
        return None;
    }
    Some((word(8), word(16)))
}

pub(super) fn segment_file_name(first_seq: Seq) -> String {
    format!("{first_seq:016}{SEGMENT_SUFFIX}")
}

/// The first sequence encoded in a segment file name, or `None` for any other file.
pub(super) fn parse_segment_file_name(name: &str) -> Option<Seq> {
    let digits = name.strip_suffix(SEGMENT_SUFFIX)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seq: Seq = digits.parse().ok()?;
    // Only the canonical spelling counts, so two names can never claim the same sequence.
    (segment_file_name(seq) == name).then_some(seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version 1 header as older builds wrote it.
    fn v1_header(first_seq: Seq) -> [u8; SEGMENT_HEADER_LEN as usize] {
        let mut out = [0u8; SEGMENT_HEADER_LEN as usize];
        out[0..8].copy_from_slice(b"SOLDERQS");
        out[8..12].copy_from_slice(&1u32.to_le_bytes());
        out[16..24].copy_from_slice(&first_seq.to_le_bytes());
        out
    }

    #[test]
    fn segment_header_round_trips_and_checks_first_seq() {
        let header = encode_segment_header(42, false);
        assert_eq!(&header[8..12], &2u32.to_le_bytes());
        let decoded = segment_header_for(&header, 42).unwrap();
        assert_eq!((decoded.version, decoded.first_seq), (2, 42));
        assert!(!decoded.recycled());
        assert!(segment_header_for(&header, 43).is_none());
        assert!(segment_header_for(&header[..20], 42).is_none());
        let mut bad_magic = header;
        bad_magic[0] ^= 1;
        assert!(segment_header_for(&bad_magic, 42).is_none());
        let mut bad_version = header;
        bad_version[8] = 9;
        assert!(segment_header_for(&bad_version, 42).is_none());
        let recycled = encode_segment_header(42, true);
        assert_eq!(&recycled[12..16], &FLAG_RECYCLED.to_le_bytes());
        assert!(segment_header_for(&recycled, 42).unwrap().recycled());
    }

    #[test]
    fn version_1_headers_are_read_unsalted_and_never_recycled() {
        let mut header = v1_header(7);
        // whatever an old build left in the reserved bytes means nothing
        header[12] = 0xff;
        let decoded = segment_header_for(&header, 7).unwrap();
        assert_eq!(decoded.version, 1);
        assert_eq!(decoded.salt(), FrameSalt::UNSALTED);
        assert!(!decoded.recycled());
    }

    #[test]
    fn frame_layout_is_length_crc_payload() {
        let salt = FrameSalt::for_segment(SEGMENT_VERSION, 5);
        let mut buf = Vec::new();
        encode_frame(&mut buf, salt, b"abc");
        assert_eq!(buf.len(), 11);
        assert_eq!(&buf[0..4], &3u32.to_le_bytes());
        let mut header = [0u8; 8];
        header.copy_from_slice(&buf[0..8]);
        let (len, crc) = decode_frame_header(header);
        assert_eq!(len, 3);
        assert_eq!(crc, frame_crc(salt, b"abc"));
        assert_eq!(&buf[8..], b"abc");
        // the length is part of the checksum: an empty payload does not have CRC 0
        assert_ne!(frame_crc(FrameSalt::UNSALTED, b""), 0);
    }

    #[test]
    fn frame_crc_is_a_crc_over_salt_length_and_payload() {
        // Spelled out with a plain one-shot CRC over the concatenated bytes, so the salt state
        // trick in `FrameSalt` is checked against the documented layout.
        let payload = b"payload bytes";
        let mut salted = 1234u64.to_le_bytes().to_vec();
        salted.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        salted.extend_from_slice(payload);
        let salt = FrameSalt::for_segment(SEGMENT_VERSION, 1234);
        assert_eq!(frame_crc(salt, payload), crc32fast::hash(&salted));
        assert_eq!(
            frame_crc_parts(salt, &[b"payload", b" bytes"]),
            crc32fast::hash(&salted)
        );
        // version 1: no salt
        let unsalted = &salted[8..];
        let v1 = FrameSalt::for_segment(SEGMENT_VERSION_UNSALTED, 1234);
        assert_eq!(frame_crc(v1, payload), crc32fast::hash(unsalted));
        // another first sequence, another CRC: a stale frame fails the new segment's check
        assert_ne!(
            frame_crc(FrameSalt::for_segment(SEGMENT_VERSION, 1233), payload),
            frame_crc(salt, payload)
        );
    }

    #[test]
    fn cursor_slot_round_trips_and_rejects_damage() {
        let encoded = encode_cursor_slot(9, 123_456);
        assert_eq!(decode_cursor_slot(&encoded), Some((9, 123_456)));
        for i in 0..28 {
            let mut damaged = encoded;
            damaged[i] ^= 0x10;
            assert_eq!(decode_cursor_slot(&damaged), None, "byte {i} flipped");
        }
        assert_eq!(decode_cursor_slot(&encoded[..31]), None);
        assert_eq!(decode_cursor_slot(&[0u8; CURSOR_SLOT_LEN]), None);
    }

    #[test]
    fn segment_file_names() {
        assert_eq!(segment_file_name(7), "0000000000000007.seg");
        assert_eq!(parse_segment_file_name("0000000000000007.seg"), Some(7));
        assert_eq!(
            parse_segment_file_name("18446744073709551615.seg"),
            Some(u64::MAX)
        );
        for other in [
            "cursor",
            "7.seg",
            "00000000000000007.seg",
            "000000000000000x.seg",
            "0000000000000007.seg.tmp",
            "lock",
            SPARE_FILE,
        ] {
            assert_eq!(parse_segment_file_name(other), None, "{other}");
        }
    }
}
