//! Verification of one segment file at open: walks every frame, checks its CRC and finds where
//! the trustworthy data ends.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use super::format::{
    decode_frame_header, frame_crc, segment_header_is_valid, FRAME_HEADER_LEN, SEGMENT_HEADER_LEN,
};
use super::Seq;

/// How the data of a segment ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tail {
    /// Every byte belongs to a valid record.
    Clean,
    /// The file ends inside a record, or the last record (or an all-zero remainder) fails its
    /// CRC: the signature of a write interrupted by a crash.
    Torn,
    /// A record fails its CRC with more non-zero data after it, or the segment holds more
    /// records than the next segment's first sequence allows.
    Corrupt,
}

/// Result of scanning one segment file.
#[derive(Debug)]
pub(super) struct SegmentScan {
    pub file_len: u64,
    pub header_ok: bool,
    /// Valid records from the start of the segment.
    pub records: u64,
    /// Byte length of the header plus the valid records; anything after it is discarded.
    pub valid_len: u64,
    pub tail: Tail,
    /// Offset of the first valid record whose sequence is >= the acknowledgement cursor.
    pub ack_offset: Option<u64>,
    /// Valid records (and their framed bytes) at or after the acknowledgement cursor.
    pub pending_records: u64,
    pub pending_bytes: u64,
}

const SCAN_BUFFER: usize = 1 << 20;

/// Scans `path`, a segment whose file name says it starts at `first_seq`.
///
/// `ack` is the first unacknowledged sequence (records below it count as acknowledged) and
/// `max_records` caps how many records the segment may hold (the gap to the next segment).
pub(super) fn scan_segment(
    path: &Path,
    first_seq: Seq,
    ack: Seq,
    max_records: u64,
) -> io::Result<SegmentScan> {
    let file = File::open(path)?;
    let file_len = file.metadata()?.len();
    let mut scan = SegmentScan {
        file_len,
        header_ok: false,
        records: 0,
        valid_len: 0,
        tail: Tail::Clean,
        ack_offset: None,
        pending_records: 0,
        pending_bytes: 0,
    };
    let mut reader = BufReader::with_capacity(SCAN_BUFFER, file);
    let mut header = [0u8; SEGMENT_HEADER_LEN as usize];
    if file_len < SEGMENT_HEADER_LEN {
        return Ok(scan);
    }
    reader.read_exact(&mut header)?;
    if !segment_header_is_valid(&header, first_seq) {
        return Ok(scan);
    }
    scan.header_ok = true;

    let mut offset = SEGMENT_HEADER_LEN;
    let mut payload = Vec::new();
    loop {
        let remaining = file_len - offset;
        if remaining == 0 {
            break;
        }
        if remaining < FRAME_HEADER_LEN {
            scan.tail = Tail::Torn;
            break;
        }
        let mut frame_header = [0u8; FRAME_HEADER_LEN as usize];
        reader.read_exact(&mut frame_header)?;
        let (len, stored_crc) = decode_frame_header(frame_header);
        let frame_len = FRAME_HEADER_LEN + u64::from(len);
        if scan.records >= max_records {
            scan.tail = Tail::Corrupt;
            break;
        }
        if frame_len > remaining {
            // A length running past the end of the file: the write was cut short (or the
            // length field is damaged, which cannot be told apart). Either way nothing after
            // this offset can be framed.
            scan.tail = Tail::Torn;
            break;
        }
        // `len` is bounded by the file size here, so this allocation is too.
        payload.resize(len as usize, 0);
        reader.read_exact(&mut payload)?;
        if frame_crc(&payload) != stored_crc {
            let is_last_frame = frame_len == remaining;
            scan.tail = if is_last_frame || rest_is_zero(path, offset)? {
                Tail::Torn
            } else {
                Tail::Corrupt
            };
            break;
        }
        let seq = first_seq + scan.records;
        if seq >= ack {
            scan.ack_offset.get_or_insert(offset);
            scan.pending_records += 1;
            scan.pending_bytes += frame_len;
        }
        scan.records += 1;
        offset += frame_len;
    }
    scan.valid_len = offset;
    Ok(scan)
}

/// Whether every byte of `path` from `offset` to the end is zero.
fn rest_is_zero(path: &Path, offset: u64) -> io::Result<bool> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut reader = BufReader::with_capacity(SCAN_BUFFER, file);
    let mut buf = [0u8; 8192];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            return Ok(true);
        }
        if buf[..n].iter().any(|&b| b != 0) {
            return Ok(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::format::{encode_frame, encode_segment_header};
    use super::*;

    /// A segment starting at sequence 10 holding `payloads`, followed by `trailer`.
    fn segment(payloads: &[&[u8]], trailer: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seg");
        let mut bytes = encode_segment_header(10).to_vec();
        for p in payloads {
            encode_frame(&mut bytes, p);
        }
        bytes.extend_from_slice(trailer);
        std::fs::write(&path, bytes).unwrap();
        (dir, path)
    }

    #[test]
    fn clean_segment_counts_pending_from_the_cursor() {
        let (_dir, path) = segment(&[b"a", b"bb", b"ccc"], b"");
        let scan = scan_segment(&path, 10, 11, u64::MAX).unwrap();
        assert!(scan.header_ok);
        assert_eq!(scan.tail, Tail::Clean);
        assert_eq!(scan.records, 3);
        assert_eq!(scan.valid_len, scan.file_len);
        assert_eq!(scan.ack_offset, Some(SEGMENT_HEADER_LEN + 9));
        assert_eq!(scan.pending_records, 2);
        assert_eq!(scan.pending_bytes, 10 + 11);
    }

    #[test]
    fn tails_are_classified() {
        let cases: [(&str, &[u8], Tail, u64); 4] = [
            ("partial header", &[1, 0, 0], Tail::Torn, 2),
            (
                "length past the end",
                &[200, 0, 0, 0, 1, 2, 3, 4, 5],
                Tail::Torn,
                2,
            ),
            ("zeros", &[0; 64], Tail::Torn, 2),
            // a frame whose CRC fails, followed by a valid-looking one
            (
                "bad crc then data",
                &[1, 0, 0, 0, 9, 9, 9, 9, b'x', 1, 0, 0, 0, 0, 0, 0, 0, b'y'],
                Tail::Corrupt,
                2,
            ),
        ];
        for (name, trailer, tail, records) in cases {
            let (_dir, path) = segment(&[b"one", b"two"], trailer);
            let scan = scan_segment(&path, 10, 0, u64::MAX).unwrap();
            assert_eq!(scan.tail, tail, "{name}");
            assert_eq!(scan.records, records, "{name}");
            assert_eq!(
                scan.valid_len,
                scan.file_len - trailer.len() as u64,
                "{name}"
            );
        }
    }

    #[test]
    fn record_cap_and_header_mismatch() {
        let (_dir, path) = segment(&[b"a", b"b", b"c"], b"");
        let scan = scan_segment(&path, 10, 0, 2).unwrap();
        assert_eq!(scan.tail, Tail::Corrupt);
        assert_eq!(scan.records, 2);
        let scan = scan_segment(&path, 11, 0, u64::MAX).unwrap();
        assert!(!scan.header_ok);
    }
}
