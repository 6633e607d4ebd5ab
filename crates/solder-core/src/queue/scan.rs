//! Verification of one segment file at open: walks every frame, checks its CRC and finds where
//! the trustworthy data ends.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::format::{
    decode_frame_header, decode_segment_header, frame_crc, segment_header_for, FrameSalt,
    FRAME_HEADER_LEN, SEGMENT_HEADER_LEN, SEGMENT_VERSION,
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
    /// The valid records of a reused file end before the file does; what follows is left from
    /// its previous use (possibly with a torn write over it: the two cannot be told apart).
    /// Not data, not damage.
    Stale,
    /// A record fails its CRC with more data after it (in a reused file: with a valid record
    /// right after it), or the segment holds more records than the next segment's first
    /// sequence allows.
    Corrupt,
}

/// Result of scanning one segment file.
#[derive(Debug)]
pub(super) struct SegmentScan {
    pub file_len: u64,
    pub header_ok: bool,
    /// With an invalid header: the file is a reused one whose new header never made it (it
    /// still names an older first sequence and no record of the new one follows). Nothing in
    /// it is data.
    pub unfinished_reuse: bool,
    /// The salt of the segment's frames (meaningful when `header_ok`).
    pub salt: FrameSalt,
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
/// `next_first` the first sequence of the next segment (`None` for the newest), which caps how
/// many records this one may hold.
pub(super) fn scan_segment(
    path: &Path,
    first_seq: Seq,
    ack: Seq,
    next_first: Option<Seq>,
) -> io::Result<SegmentScan> {
    let file = File::open(path)?;
    let file_len = file.metadata()?.len();
    let mut scan = SegmentScan {
        file_len,
        header_ok: false,
        unfinished_reuse: false,
        salt: FrameSalt::UNSALTED,
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
    let Some(header) = segment_header_for(&header, first_seq) else {
        // A header of an older first sequence is what a reused file renamed before its new
        // header reached the disk looks like (the header is written first, so only a machine
        // crash without fsync leaves this); unless a record of this segment follows (then the
        // header itself is what got damaged).
        let own_salt = FrameSalt::for_segment(SEGMENT_VERSION, first_seq);
        scan.unfinished_reuse = decode_segment_header(&header)
            .is_some_and(|h| h.first_seq < first_seq)
            && !frame_is_valid_at(reader.get_ref(), SEGMENT_HEADER_LEN, own_salt, file_len)?;
        return Ok(scan);
    };
    scan.header_ok = true;
    scan.salt = header.salt();
    let salt = scan.salt;
    // Only a reused file can hold bytes that are neither data nor damage.
    let stale_possible = header.recycled();
    let is_newest = next_first.is_none();
    let max_records = next_first.map_or(u64::MAX, |n| n.saturating_sub(first_seq));
    // What the file ending inside a frame means. Only in the newest segment of a reused file
    // can that be old content; a finished segment missing records has lost data (recovery
    // reports a torn end there as corruption, as always).
    let end_of_data = if stale_possible && is_newest {
        Tail::Stale
    } else {
        Tail::Torn
    };

    let mut offset = SEGMENT_HEADER_LEN;
    let mut payload = Vec::new();
    loop {
        let remaining = file_len - offset;
        if remaining == 0 {
            break;
        }
        if scan.records >= max_records {
            // A finished segment holds exactly its share of sequences; in a reused file the
            // rest is its previous content.
            scan.tail = if stale_possible {
                Tail::Stale
            } else {
                Tail::Corrupt
            };
            break;
        }
        if remaining < FRAME_HEADER_LEN {
            scan.tail = end_of_data;
            break;
        }
        let mut frame_header = [0u8; FRAME_HEADER_LEN as usize];
        reader.read_exact(&mut frame_header)?;
        let (len, stored_crc) = decode_frame_header(frame_header);
        let frame_len = FRAME_HEADER_LEN + u64::from(len);
        if frame_len > remaining {
            // A length running past the end of the file: the write was cut short (or the
            // length field is damaged, which cannot be told apart). Either way nothing after
            // this offset can be framed.
            scan.tail = end_of_data;
            break;
        }
        // `len` is bounded by the file size here, so this allocation is too.
        payload.resize(len as usize, 0);
        reader.read_exact(&mut payload)?;
        if frame_crc(salt, &payload) != stored_crc {
            scan.tail = if !is_newest && stale_possible {
                // Fewer records than the segment's share: data is missing.
                Tail::Corrupt
            } else if stale_possible {
                // Stale frames and torn writes look alike; only a valid record of this
                // segment right after the failed one proves that data was lost.
                let next = offset + frame_len;
                if frame_is_valid_at(reader.get_ref(), next, salt, file_len)? {
                    Tail::Corrupt
                } else {
                    Tail::Stale
                }
            } else if frame_len == remaining || rest_is_zero(path, offset)? {
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

/// Whether a whole frame passing `salt`'s check starts at `offset` of `file` (`file_len`
/// bytes). Positioned reads: the caller's buffered reader is not disturbed.
fn frame_is_valid_at(file: &File, offset: u64, salt: FrameSalt, file_len: u64) -> io::Result<bool> {
    if file_len.saturating_sub(offset) < FRAME_HEADER_LEN {
        return Ok(false);
    }
    let mut header = [0u8; FRAME_HEADER_LEN as usize];
    file.read_exact_at(&mut header, offset)?;
    let (len, stored_crc) = decode_frame_header(header);
    if FRAME_HEADER_LEN + u64::from(len) > file_len - offset {
        return Ok(false);
    }
    let mut payload = vec![0u8; len as usize];
    file.read_exact_at(&mut payload, offset + FRAME_HEADER_LEN)?;
    Ok(frame_crc(salt, &payload) == stored_crc)
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
    use super::super::format::{encode_frame, encode_segment_header, SEGMENT_VERSION_UNSALTED};
    use super::*;

    /// Frames of `payloads` salted for a segment starting at `first_seq` (version 2).
    fn frames(first_seq: Seq, payloads: &[&[u8]]) -> Vec<u8> {
        let salt = FrameSalt::for_segment(SEGMENT_VERSION, first_seq);
        let mut out = Vec::new();
        for p in payloads {
            encode_frame(&mut out, salt, p);
        }
        out
    }

    fn write(bytes: Vec<u8>) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seg");
        std::fs::write(&path, bytes).unwrap();
        (dir, path)
    }

    /// A fresh version 2 segment starting at sequence 10 holding `payloads`, then `trailer`.
    fn segment(payloads: &[&[u8]], trailer: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let mut bytes = encode_segment_header(10, false).to_vec();
        bytes.extend_from_slice(&frames(10, payloads));
        bytes.extend_from_slice(trailer);
        write(bytes)
    }

    /// A reused version 2 segment starting at sequence 10 holding `payloads`, then `trailer`.
    fn recycled(payloads: &[&[u8]], trailer: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let mut bytes = encode_segment_header(10, true).to_vec();
        bytes.extend_from_slice(&frames(10, payloads));
        bytes.extend_from_slice(trailer);
        write(bytes)
    }

    #[test]
    fn clean_segment_counts_pending_from_the_cursor() {
        let (_dir, path) = segment(&[b"a", b"bb", b"ccc"], b"");
        let scan = scan_segment(&path, 10, 11, None).unwrap();
        assert!(scan.header_ok);
        assert_eq!(scan.salt, FrameSalt::for_segment(SEGMENT_VERSION, 10));
        assert_eq!(scan.tail, Tail::Clean);
        assert_eq!(scan.records, 3);
        assert_eq!(scan.valid_len, scan.file_len);
        assert_eq!(scan.ack_offset, Some(SEGMENT_HEADER_LEN + 9));
        assert_eq!(scan.pending_records, 2);
        assert_eq!(scan.pending_bytes, 10 + 11);
    }

    type Build = fn(&[&[u8]], &[u8]) -> (tempfile::TempDir, std::path::PathBuf);

    /// Each case: two records ("one", "two") of a newest segment made by `build`, then the
    /// trailer; how the scan classifies the end, and that it keeps exactly the two records.
    fn assert_tails(build: Build, cases: &[(&str, &[u8], Tail)]) {
        for &(name, trailer, tail) in cases {
            let (_dir, path) = build(&[b"one", b"two"], trailer);
            let scan = scan_segment(&path, 10, 0, None).unwrap();
            assert_eq!(scan.tail, tail, "{name}");
            assert_eq!(scan.records, 2, "{name}");
            assert_eq!(
                scan.valid_len,
                scan.file_len - trailer.len() as u64,
                "{name}"
            );
        }
    }

    #[test]
    fn tails_are_classified() {
        let mut bad_then_valid = vec![1, 0, 0, 0, 9, 9, 9, 9, b'x'];
        bad_then_valid.extend_from_slice(&frames(10, &[b"y"]));
        let cases: [(&str, &[u8], Tail); 5] = [
            ("partial header", &[1, 0, 0], Tail::Torn),
            (
                "length past the end",
                &[200, 0, 0, 0, 1, 2, 3, 4, 5],
                Tail::Torn,
            ),
            ("zeros", &[0; 64], Tail::Torn),
            // a frame whose CRC fails, followed by a valid one or by anything non-zero
            ("bad crc then a record", &bad_then_valid, Tail::Corrupt),
            (
                "bad crc then data",
                &[1, 0, 0, 0, 9, 9, 9, 9, b'x', 1, 0, 0, 0, 0, 0, 0, 0, b'y'],
                Tail::Corrupt,
            ),
        ];
        assert_tails(segment, &cases);
    }

    #[test]
    fn tails_of_a_reused_newest_segment_are_classified() {
        // Stale frames of the file's previous use (first sequence 4), the same sizes as the
        // new ones, so their boundaries line up with where new frames would be.
        let stale = frames(4, &[b"old", b"old", b"old"]);
        let mut torn_then_stale = frames(10, &[b"new"])[..6].to_vec();
        torn_then_stale.extend_from_slice(&stale[6..]);
        let mut bad_then_valid = frames(10, &[b"bad"]);
        bad_then_valid[FRAME_HEADER_LEN as usize] ^= 1;
        bad_then_valid.extend_from_slice(&frames(10, &[b"new"]));
        let mut bad_then_stale = frames(10, &[b"bad"]);
        bad_then_stale[FRAME_HEADER_LEN as usize] ^= 1;
        bad_then_stale.extend_from_slice(&stale);
        let cases: [(&str, &[u8], Tail); 6] = [
            ("nothing", &[], Tail::Clean),
            ("stale frames", &stale, Tail::Stale),
            ("zeros", &[0; 64], Tail::Stale),
            ("torn frame over stale bytes", &torn_then_stale, Tail::Stale),
            ("bad crc then a record", &bad_then_valid, Tail::Corrupt),
            ("bad crc then stale frames", &bad_then_stale, Tail::Stale),
        ];
        assert_tails(recycled, &cases);
    }

    #[test]
    fn record_cap_and_header_mismatch() {
        let (_dir, path) = segment(&[b"a", b"b", b"c"], b"");
        let scan = scan_segment(&path, 10, 0, Some(12)).unwrap();
        assert_eq!(scan.tail, Tail::Corrupt);
        assert_eq!(scan.records, 2);
        let scan = scan_segment(&path, 11, 0, None).unwrap();
        assert!(!scan.header_ok);
    }

    #[test]
    fn reused_finished_segment_ends_after_its_share_of_records() {
        // Exactly the records up to the next segment, then stale ones that pass no check
        // but would even if they did: the cap ends the data.
        let stale = frames(10, &[b"x", b"y"]);
        let (_dir, path) = recycled(&[b"a", b"b", b"c"], &stale);
        let scan = scan_segment(&path, 10, 0, Some(13)).unwrap();
        assert_eq!(scan.tail, Tail::Stale);
        assert_eq!(scan.records, 3);
        assert_eq!(scan.valid_len, scan.file_len - stale.len() as u64);
        // fewer records than the share: data is missing
        let mut damaged = frames(10, &[b"a", b"b", b"c"]);
        damaged[FRAME_HEADER_LEN as usize + 9] ^= 1;
        let mut bytes = encode_segment_header(10, true).to_vec();
        bytes.extend_from_slice(&damaged);
        let (_dir, path) = write(bytes);
        let scan = scan_segment(&path, 10, 0, Some(13)).unwrap();
        assert_eq!(scan.tail, Tail::Corrupt);
        assert_eq!(scan.records, 1);
        // nor is a finished segment ending inside its third record old content
        let mut bytes = encode_segment_header(10, true).to_vec();
        bytes.extend_from_slice(&frames(10, &[b"a", b"b", b"c"])[..2 * 9 + 4]);
        let (_dir, path) = write(bytes);
        let scan = scan_segment(&path, 10, 0, Some(13)).unwrap();
        assert_eq!(scan.tail, Tail::Torn);
        assert_eq!(scan.records, 2);
    }

    #[test]
    fn header_of_an_older_first_sequence_is_an_unfinished_reuse() {
        // Renamed to segment 10 but still the header and frames of segment 4.
        let mut bytes = encode_segment_header(4, false).to_vec();
        bytes.extend_from_slice(&frames(4, &[b"old", b"old"]));
        let (_dir, path) = write(bytes);
        let scan = scan_segment(&path, 10, 0, None).unwrap();
        assert!(!scan.header_ok);
        assert!(scan.unfinished_reuse);
        // the same header in front of records of segment 10: the header is what is damaged
        let mut bytes = encode_segment_header(4, false).to_vec();
        bytes.extend_from_slice(&frames(10, &[b"new"]));
        let (_dir, path) = write(bytes);
        let scan = scan_segment(&path, 10, 0, None).unwrap();
        assert!(!scan.header_ok);
        assert!(!scan.unfinished_reuse);
    }

    #[test]
    fn version_1_segment_is_read_with_unsalted_crcs() {
        let mut bytes = b"SOLDERQS".to_vec();
        bytes.extend_from_slice(&SEGMENT_VERSION_UNSALTED.to_le_bytes());
        bytes.extend_from_slice(&[0; 4]);
        bytes.extend_from_slice(&10u64.to_le_bytes());
        for p in [&b"a"[..], b"bb"] {
            encode_frame(&mut bytes, FrameSalt::UNSALTED, p);
        }
        // garbage after a bad frame is corruption in version 1, as it always was
        bytes.extend_from_slice(&[1, 0, 0, 0, 9, 9, 9, 9, b'x', 5]);
        let (_dir, path) = write(bytes);
        let scan = scan_segment(&path, 10, 0, None).unwrap();
        assert!(scan.header_ok);
        assert_eq!(scan.salt, FrameSalt::UNSALTED);
        assert_eq!(scan.records, 2);
        assert_eq!(scan.tail, Tail::Corrupt);
    }
}
