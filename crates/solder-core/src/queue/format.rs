//! On-disk byte layouts of the queue: segment header, record frame, cursor file, file names.
//!
//! Everything is little-endian. The layouts are versioned so a future change can be detected
//! instead of misread.

use super::Seq;

/// Magic at the start of every segment file.
pub(super) const SEGMENT_MAGIC: [u8; 8] = *b"SOLDERQS";
/// Version of the segment layout written by this code.
pub(super) const SEGMENT_VERSION: u32 = 1;
/// Segment header: magic (8) + version (4) + reserved, zero (4) + first sequence (8).
pub(super) const SEGMENT_HEADER_LEN: u64 = 24;
/// Record frame header: payload length (4) + CRC32 of (length bytes ++ payload) (4).
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

pub(super) fn encode_segment_header(first_seq: Seq) -> [u8; SEGMENT_HEADER_LEN as usize] {
    let mut out = [0u8; SEGMENT_HEADER_LEN as usize];
    out[0..8].copy_from_slice(&SEGMENT_MAGIC);
    out[8..12].copy_from_slice(&SEGMENT_VERSION.to_le_bytes());
    // bytes 12..16 stay zero (reserved)
    out[16..24].copy_from_slice(&first_seq.to_le_bytes());
    out
}

/// Whether `buf` is a segment header of a supported version whose first sequence matches the
/// one in the file name (a mismatch means the file was renamed or overwritten: not trusted).
pub(super) fn segment_header_is_valid(buf: &[u8], expected_first_seq: Seq) -> bool {
    if buf.len() < SEGMENT_HEADER_LEN as usize || buf[0..8] != SEGMENT_MAGIC {
        return false;
    }
    let version = u32::from_le_bytes([buf[8], buf[9], buf[10], buf[11]]);
    let mut first = [0u8; 8];
    first.copy_from_slice(&buf[16..24]);
    version == SEGMENT_VERSION && u64::from_le_bytes(first) == expected_first_seq
}

/// CRC of a record. The length is covered too, so a damaged length field is caught even when
/// it happens to point at plausible data.
pub(super) fn frame_crc(payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&(payload.len() as u32).to_le_bytes());
    hasher.update(payload);
    hasher.finalize()
}

/// [`frame_crc`] of the concatenation of `parts`, without concatenating them.
pub(super) fn frame_crc_parts(parts: &[&[u8]]) -> u32 {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut hasher = crc32fast::Hasher::new();
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
pub(super) fn encode_frame(out: &mut Vec<u8>, payload: &[u8]) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&frame_crc(payload).to_le_bytes());
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

    #[test]
    fn segment_header_round_trips_and_checks_first_seq() {
        let header = encode_segment_header(42);
        assert!(segment_header_is_valid(&header, 42));
        assert!(!segment_header_is_valid(&header, 43));
        assert!(!segment_header_is_valid(&header[..20], 42));
        let mut bad_magic = header;
        bad_magic[0] ^= 1;
        assert!(!segment_header_is_valid(&bad_magic, 42));
        let mut bad_version = header;
        bad_version[8] = 9;
        assert!(!segment_header_is_valid(&bad_version, 42));
    }

    #[test]
    fn frame_layout_is_length_crc_payload() {
        let mut buf = Vec::new();
        encode_frame(&mut buf, b"abc");
        assert_eq!(buf.len(), 11);
        assert_eq!(&buf[0..4], &3u32.to_le_bytes());
        let mut header = [0u8; 8];
        header.copy_from_slice(&buf[0..8]);
        let (len, crc) = decode_frame_header(header);
        assert_eq!(len, 3);
        assert_eq!(crc, frame_crc(b"abc"));
        assert_eq!(&buf[8..], b"abc");
        // the length is part of the checksum: an empty payload does not have CRC 0
        assert_ne!(frame_crc(b""), 0);
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
        ] {
            assert_eq!(parse_segment_file_name(other), None, "{other}");
        }
    }
}
