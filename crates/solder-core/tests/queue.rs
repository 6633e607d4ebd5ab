#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Behaviour of the durable queue through its public API, including recovery from damaged
//! directories (torn tails, flipped bytes, bad cursors).

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::Duration;

use solder_core::queue::{
    CursorRecovery, DropReport, FsyncPolicy, Queue, QueueError, QueueOptions, Seq, FRAME_OVERHEAD,
};

const HEADER: u64 = Queue::SEGMENT_HEADER_BYTES;

fn opts(max_bytes: u64, segment_bytes: u64) -> QueueOptions {
    QueueOptions {
        max_bytes,
        segment_bytes,
        fsync: FsyncPolicy::Never,
    }
}

/// Options where every segment holds exactly `per_segment` records of `payload_len` bytes.
fn small_segments(payload_len: u64, per_segment: u64) -> QueueOptions {
    opts(
        1 << 30,
        HEADER + per_segment * (FRAME_OVERHEAD + payload_len),
    )
}

fn payload(i: u64, len: usize) -> Vec<u8> {
    let mut out = format!("record-{i:06}-").into_bytes();
    out.resize(len, b'a' + (i % 26) as u8);
    out
}

fn append_n(q: &Queue, range: std::ops::Range<u64>, len: usize) {
    for i in range {
        assert_eq!(q.append(&payload(i, len)).unwrap(), i);
    }
}

fn read_all(q: &Queue) -> Vec<(Seq, Vec<u8>)> {
    let mut out = Vec::new();
    loop {
        let batch = q.read_batch(7, 1 << 20).unwrap();
        if batch.is_empty() {
            return out;
        }
        out.extend(batch.into_iter().map(|(s, b)| (s, b.to_vec())));
    }
}

fn seqs(records: &[(Seq, Vec<u8>)]) -> Vec<Seq> {
    records.iter().map(|(s, _)| *s).collect()
}

fn segment_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".seg"))
        .collect();
    names.sort();
    names
}

fn seg_path(dir: &Path, first: u64) -> PathBuf {
    dir.join(format!("{first:016}.seg"))
}

fn flip_byte(path: &Path, offset: u64) {
    let mut bytes = fs::read(path).unwrap();
    bytes[offset as usize] ^= 0x5a;
    fs::write(path, bytes).unwrap();
}

fn truncate_by(path: &Path, cut: u64) {
    let file = OpenOptions::new().write(true).open(path).unwrap();
    let len = file.metadata().unwrap().len();
    file.set_len(len - cut).unwrap();
}

#[test]
fn empty_directory_opens_clean_and_is_created() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("nested/queue");
    let (q, report) = Queue::open(&dir, opts(1 << 20, 4096)).unwrap();
    assert_eq!(report.cursor, CursorRecovery::Missing);
    assert_eq!(report.pending_records, 0);
    assert_eq!(report.torn_tail_bytes, 0);
    assert_eq!(report.corrupt_records, 0);
    assert_eq!(report.next_seq, 0);
    assert_eq!(report.segments, 1);
    assert!(q.read_batch(10, 1 << 20).unwrap().is_empty());
    assert_eq!(q.pending_records(), 0);
    assert_eq!(q.pending_bytes(), 0);
    assert_eq!(segment_files(&dir), vec!["0000000000000000.seg"]);
    assert!(dir.join("cursor").exists());
    drop(q);
    let (_, report) = Queue::open(&dir, opts(1 << 20, 4096)).unwrap();
    assert_eq!(report.cursor, CursorRecovery::Valid);
    assert_eq!(report.segments, 1);
}

#[test]
fn append_read_commit_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let (q, _) = Queue::open(tmp.path(), opts(1 << 20, 4096)).unwrap();
    append_n(&q, 0..10, 50);
    assert_eq!(q.pending_records(), 10);
    assert_eq!(q.pending_bytes(), 10 * (50 + FRAME_OVERHEAD));

    let first = q.read_batch(4, 1 << 20).unwrap();
    assert_eq!(
        first.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );
    for (seq, bytes) in &first {
        assert_eq!(bytes.as_ref(), payload(*seq, 50).as_slice());
    }
    let second = q.read_batch(4, 1 << 20).unwrap();
    assert_eq!(
        second.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        [4, 5, 6, 7]
    );
    assert_eq!(q.unread_records(), 2);

    q.commit(3).unwrap();
    assert_eq!(q.pending_records(), 6);
    assert_eq!(q.pending_bytes(), 6 * (50 + FRAME_OVERHEAD));
    // an already acknowledged sequence is a no-op
    q.commit(1).unwrap();
    assert_eq!(q.pending_records(), 6);

    let rest = read_all(&q);
    assert_eq!(seqs(&rest), [8, 9]);
    assert!(q.read_batch(4, 1 << 20).unwrap().is_empty());
    q.commit(9).unwrap();
    assert_eq!(q.pending_records(), 0);
    assert_eq!(q.pending_bytes(), 0);
    let stats = q.stats().snapshot();
    assert_eq!(stats.appended_records, 10);
    assert_eq!(stats.appended_bytes, 10 * (50 + FRAME_OVERHEAD));
    assert_eq!(stats.committed_records, 10);
}

#[test]
fn commit_of_unread_sequence_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (q, _) = Queue::open(tmp.path(), opts(1 << 20, 4096)).unwrap();
    append_n(&q, 0..5, 10);
    q.read_batch(2, 1 << 20).unwrap();
    match q.commit(2) {
        Err(QueueError::CommitBeyondRead {
            seq: 2,
            read_next: 2,
        }) => {}
        other => panic!("expected CommitBeyondRead, got {other:?}"),
    }
    assert_eq!(q.pending_records(), 5);
    q.commit(1).unwrap();
    assert_eq!(q.pending_records(), 3);
}

#[test]
fn read_batch_limits_records_and_bytes_but_always_returns_one() {
    let tmp = tempfile::tempdir().unwrap();
    let (q, _) = Queue::open(tmp.path(), opts(1 << 20, 1 << 16)).unwrap();
    append_n(&q, 0..10, 100);
    // the byte budget is reached after the third payload (300 >= 250)
    let batch = q.read_batch(100, 250).unwrap();
    assert_eq!(batch.len(), 3);
    // a budget smaller than one record still yields one record
    let batch = q.read_batch(100, 1).unwrap();
    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0].0, 3);
    assert!(q.read_batch(0, 1 << 20).unwrap().is_empty());
    assert_eq!(seqs(&read_all(&q)), (4..10).collect::<Vec<_>>());
}

#[test]
fn rewind_redelivers_uncommitted_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let (q, _) = Queue::open(tmp.path(), opts(1 << 20, 4096)).unwrap();
    append_n(&q, 0..6, 20);
    q.read_batch(4, 1 << 20).unwrap();
    q.commit(1).unwrap();
    q.rewind();
    assert_eq!(seqs(&read_all(&q)), [2, 3, 4, 5]);
}

#[test]
fn reopen_keeps_unacknowledged_and_drops_acknowledged() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let (q, _) = Queue::open(tmp.path(), opts(1 << 20, 4096)).unwrap();
        append_n(&q, 0..10, 30);
        // read everything, acknowledge only the first five
        assert_eq!(read_all(&q).len(), 10);
        q.commit(4).unwrap();
    }
    let (q, report) = Queue::open(tmp.path(), opts(1 << 20, 4096)).unwrap();
    assert_eq!(report.cursor, CursorRecovery::Valid);
    assert_eq!(report.pending_records, 5);
    assert_eq!(report.pending_bytes, 5 * (30 + FRAME_OVERHEAD));
    assert_eq!(report.next_unacked, 5);
    assert_eq!(report.next_seq, 10);
    assert_eq!(report.torn_tail_bytes, 0);
    assert_eq!(report.corrupt_records, 0);
    let records = read_all(&q);
    assert_eq!(seqs(&records), [5, 6, 7, 8, 9]);
    for (seq, bytes) in &records {
        assert_eq!(bytes, &payload(*seq, 30));
    }
    assert_eq!(q.append(b"next").unwrap(), 10);
}

#[test]
fn segments_roll_over_and_are_deleted_when_acknowledged() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let options = small_segments(100, 3);
    {
        let (q, _) = Queue::open(dir, options).unwrap();
        append_n(&q, 0..10, 100);
        assert_eq!(
            segment_files(dir),
            [
                "0000000000000000.seg",
                "0000000000000003.seg",
                "0000000000000006.seg",
                "0000000000000009.seg"
            ]
        );
        assert_eq!(
            fs::metadata(seg_path(dir, 0)).unwrap().len(),
            options.segment_bytes
        );
        read_all(&q);
        q.commit(4).unwrap();
        // segment 0 is fully acknowledged, segment 3 is not
        assert_eq!(segment_files(dir).len(), 3);
        assert_eq!(segment_files(dir)[0], "0000000000000003.seg");
        q.commit(5).unwrap();
        assert_eq!(segment_files(dir)[0], "0000000000000006.seg");
        q.commit(9).unwrap();
        // the append segment stays even when fully acknowledged
        assert_eq!(segment_files(dir), ["0000000000000009.seg"]);
        assert_eq!(q.pending_records(), 0);
    }
    let (q, report) = Queue::open(dir, options).unwrap();
    assert_eq!(report.pending_records, 0);
    // nothing pending: a fresh segment continues the sequence
    assert_eq!(segment_files(dir), ["0000000000000010.seg"]);
    assert_eq!(q.append(b"x").unwrap(), 10);
}

#[test]
fn full_at_the_bound_and_room_again_after_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let frame = 100 + FRAME_OVERHEAD;
    let (q, _) = Queue::open(tmp.path(), opts(3 * frame, 4096)).unwrap();
    append_n(&q, 0..3, 100);
    match q.append(&payload(3, 100)) {
        Err(QueueError::Full {
            pending_bytes,
            needed,
            max_bytes,
        }) => {
            assert_eq!(pending_bytes, 3 * frame);
            assert_eq!(needed, frame);
            assert_eq!(max_bytes, 3 * frame);
        }
        other => panic!("expected Full, got {other:?}"),
    }
    // a smaller record does not fit either: the bound is exact
    assert!(matches!(q.append(b""), Err(QueueError::Full { .. })));
    let stats = q.stats().snapshot();
    assert_eq!(stats.refused_records, 2);
    assert_eq!(stats.refused_bytes, frame + FRAME_OVERHEAD);
    assert_eq!(stats.appended_records, 3);

    q.read_batch(1, 1 << 20).unwrap();
    q.commit(0).unwrap();
    assert_eq!(q.append(&payload(3, 100)).unwrap(), 3);
    assert_eq!(seqs(&read_all(&q)), [1, 2, 3]);
}

#[test]
fn append_batch_spans_segments_with_consecutive_sequences() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let options = small_segments(40, 4);
    let payloads: Vec<Vec<u8>> = (0..10).map(|i| payload(i, 40)).collect();
    {
        let (q, _) = Queue::open(dir, options).unwrap();
        assert_eq!(q.append_batch(&payloads[..3]).unwrap(), 0);
        // continues the partly filled segment, then rolls over twice
        assert_eq!(q.append_batch(&payloads[3..]).unwrap(), 3);
        assert_eq!(
            segment_files(dir),
            [
                "0000000000000000.seg",
                "0000000000000004.seg",
                "0000000000000008.seg"
            ]
        );
        assert_eq!(q.next_seq(), 10);
        assert_eq!(q.stats().snapshot().appended_records, 10);
        let empty: [&[u8]; 0] = [];
        assert_eq!(q.append_batch(&empty).unwrap(), 10);
    }
    let (q, report) = Queue::open(dir, options).unwrap();
    assert_eq!(report.pending_records, 10);
    let records = read_all(&q);
    assert_eq!(seqs(&records), (0..10).collect::<Vec<_>>());
    for (seq, bytes) in records {
        assert_eq!(bytes, payloads[seq as usize]);
    }
}

#[test]
fn append_batch_is_all_or_nothing_against_the_bound() {
    let tmp = tempfile::tempdir().unwrap();
    let frame = 10 + FRAME_OVERHEAD;
    let (q, _) = Queue::open(tmp.path(), opts(5 * frame, 4096)).unwrap();
    append_n(&q, 0..3, 10);
    let three: Vec<Vec<u8>> = (3..6).map(|i| payload(i, 10)).collect();
    assert!(matches!(
        q.append_batch(&three),
        Err(QueueError::Full { .. })
    ));
    assert_eq!(q.pending_records(), 3);
    let stats = q.stats().snapshot();
    assert_eq!(stats.refused_records, 3);
    assert_eq!(stats.refused_bytes, 3 * frame);
    assert_eq!(q.append_batch(&three[..2]).unwrap(), 3);
    assert_eq!(q.pending_bytes(), 5 * frame);
    // one oversized record refuses the whole batch
    let mixed: [&[u8]; 2] = [b"ok", &[0u8; 1000]];
    assert!(matches!(
        q.append_batch(&mixed),
        Err(QueueError::RecordTooLarge { .. })
    ));
    assert_eq!(seqs(&read_all(&q)), [0, 1, 2, 3, 4]);
}

#[test]
fn record_larger_than_the_bound_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let (q, _) = Queue::open(tmp.path(), opts(1000, 4096)).unwrap();
    assert!(q.append(&[0u8; 992]).is_ok()); // exactly max_bytes framed
    q.read_batch(1, 1 << 20).unwrap();
    q.commit(0).unwrap();
    match q.append(&[0u8; 993]) {
        Err(QueueError::RecordTooLarge { size, limit }) => {
            assert_eq!(size, 1001);
            assert_eq!(limit, 1000);
        }
        other => panic!("expected RecordTooLarge, got {other:?}"),
    }
    assert_eq!(q.stats().snapshot().refused_records, 1);
}

#[test]
fn large_records_span_more_than_a_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let options = opts(1 << 20, 256);
    let big = payload(1, 5000);
    {
        let (q, _) = Queue::open(dir, options).unwrap();
        assert_eq!(q.append(b"small-0").unwrap(), 0);
        assert_eq!(q.append(&big).unwrap(), 1);
        assert_eq!(q.append(b"small-2").unwrap(), 2);
        // the big record got a segment of its own
        assert_eq!(
            segment_files(dir),
            [
                "0000000000000000.seg",
                "0000000000000001.seg",
                "0000000000000002.seg"
            ]
        );
        let records = read_all(&q);
        assert_eq!(records[1].1, big);
    }
    let (q, report) = Queue::open(dir, options).unwrap();
    assert_eq!(report.pending_records, 3);
    let records = read_all(&q);
    assert_eq!(seqs(&records), [0, 1, 2]);
    assert_eq!(records[0].1, b"small-0");
    assert_eq!(records[1].1, big);
    assert_eq!(records[2].1, b"small-2");
}

#[test]
fn zero_length_payloads() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let (q, _) = Queue::open(tmp.path(), opts(1 << 20, 4096)).unwrap();
        for i in 0..3 {
            assert_eq!(q.append(b"").unwrap(), i);
        }
        assert_eq!(q.pending_bytes(), 3 * FRAME_OVERHEAD);
        let records = read_all(&q);
        assert_eq!(seqs(&records), [0, 1, 2]);
        assert!(records.iter().all(|(_, b)| b.is_empty()));
    }
    let (q, report) = Queue::open(tmp.path(), opts(1 << 20, 4096)).unwrap();
    assert_eq!(report.pending_records, 3);
    assert_eq!(report.torn_tail_bytes, 0);
    assert_eq!(seqs(&read_all(&q)), [0, 1, 2]);
}

#[test]
fn drop_oldest_discards_from_the_front_and_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let frame = 100 + FRAME_OVERHEAD;
    let (q, _) = Queue::open(tmp.path(), small_segments(100, 3)).unwrap();
    append_n(&q, 0..10, 100);
    let dropped = q.drop_oldest(frame + 1).unwrap();
    assert_eq!(
        dropped,
        DropReport {
            records: 2,
            bytes: 2 * frame
        }
    );
    assert_eq!(q.pending_records(), 8);
    // whole segments at once (records 2..=5 span the rest of segment 0 and all of segment 3)
    let dropped = q.drop_oldest(4 * frame).unwrap();
    assert_eq!(dropped.records, 4);
    assert_eq!(q.pending_bytes(), 4 * frame);
    let stats = q.stats().snapshot();
    assert_eq!(stats.dropped_records, 6);
    assert_eq!(stats.dropped_bytes, 6 * frame);
    assert_eq!(seqs(&read_all(&q)), [6, 7, 8, 9]);
    // dropping more than exists empties the queue
    let dropped = q.drop_oldest(u64::MAX).unwrap();
    assert_eq!(dropped.records, 4);
    assert_eq!(q.pending_records(), 0);
    assert_eq!(q.drop_oldest(10).unwrap(), DropReport::default());
}

#[test]
fn drop_oldest_of_read_records_keeps_the_read_position() {
    let tmp = tempfile::tempdir().unwrap();
    let (q, _) = Queue::open(tmp.path(), opts(1 << 20, 4096)).unwrap();
    append_n(&q, 0..8, 10);
    q.read_batch(5, 1 << 20).unwrap();
    q.drop_oldest(3 * (10 + FRAME_OVERHEAD)).unwrap();
    // records 3 and 4 are still in flight; committing them works
    q.commit(4).unwrap();
    assert_eq!(q.pending_records(), 3);
    assert_eq!(seqs(&read_all(&q)), [5, 6, 7]);
    // dropping past the read position moves reading forward
    q.rewind();
    q.drop_oldest(2 * (10 + FRAME_OVERHEAD)).unwrap();
    assert_eq!(seqs(&read_all(&q)), [7]);
}

#[test]
fn drop_oldest_survives_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let (q, _) = Queue::open(tmp.path(), opts(1 << 20, 4096)).unwrap();
        append_n(&q, 0..5, 10);
        q.drop_oldest(1).unwrap();
    }
    let (q, report) = Queue::open(tmp.path(), opts(1 << 20, 4096)).unwrap();
    assert_eq!(report.next_unacked, 1);
    assert_eq!(seqs(&read_all(&q)), [1, 2, 3, 4]);
}

#[test]
fn append_dropping_oldest_makes_room() {
    let tmp = tempfile::tempdir().unwrap();
    let frame = 20 + FRAME_OVERHEAD;
    let (q, _) = Queue::open(tmp.path(), opts(3 * frame, 4096)).unwrap();
    for i in 0..3 {
        let (seq, dropped) = q.append_dropping_oldest(&payload(i, 20)).unwrap();
        assert_eq!(seq, i);
        assert_eq!(dropped, DropReport::default());
    }
    let (seq, dropped) = q.append_dropping_oldest(&payload(3, 20)).unwrap();
    assert_eq!(seq, 3);
    assert_eq!(dropped.records, 1);
    let (_, dropped) = q.append_dropping_oldest(&payload(4, 20)).unwrap();
    assert_eq!(dropped.records, 1);
    assert_eq!(q.pending_bytes(), 3 * frame);
    let records = read_all(&q);
    assert_eq!(seqs(&records), [2, 3, 4]);
    assert_eq!(records[2].1, payload(4, 20));
    let stats = q.stats().snapshot();
    assert_eq!(stats.dropped_records, 2);
    assert_eq!(stats.refused_records, 0);
}

#[test]
fn torn_tail_is_truncated_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let frame = 40 + FRAME_OVERHEAD;
    {
        let (q, _) = Queue::open(dir, opts(1 << 20, 4096)).unwrap();
        append_n(&q, 0..5, 40);
    }
    truncate_by(&seg_path(dir, 0), 3);
    {
        let (q, report) = Queue::open(dir, opts(1 << 20, 4096)).unwrap();
        assert_eq!(report.torn_tail_bytes, frame - 3);
        assert_eq!(report.corrupt_records, 0);
        assert_eq!(report.pending_records, 4);
        assert_eq!(report.next_seq, 4);
        assert_eq!(
            fs::metadata(seg_path(dir, 0)).unwrap().len(),
            HEADER + 4 * frame
        );
        let records = read_all(&q);
        assert_eq!(seqs(&records), [0, 1, 2, 3]);
        // appending after the repair continues cleanly
        assert_eq!(q.append(b"after-repair").unwrap(), 4);
    }
    let (q, report) = Queue::open(dir, opts(1 << 20, 4096)).unwrap();
    assert_eq!(report.torn_tail_bytes, 0);
    let records = read_all(&q);
    assert_eq!(seqs(&records), [0, 1, 2, 3, 4]);
    assert_eq!(records[4].1, b"after-repair");
}

#[test]
fn torn_tail_inside_a_frame_header_and_zero_filled_tail() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    {
        let (q, _) = Queue::open(dir, opts(1 << 20, 4096)).unwrap();
        append_n(&q, 0..2, 40);
    }
    // half a frame header
    let path = seg_path(dir, 0);
    let mut bytes = fs::read(&path).unwrap();
    bytes.extend_from_slice(&[7, 0, 0]);
    fs::write(&path, &bytes).unwrap();
    let (q, report) = Queue::open(dir, opts(1 << 20, 4096)).unwrap();
    assert_eq!(report.torn_tail_bytes, 3);
    assert_eq!(seqs(&read_all(&q)), [0, 1]);
    drop(q);

    // a run of zeros, as a machine crash can leave after blocks were allocated
    let mut bytes = fs::read(&path).unwrap();
    bytes.extend_from_slice(&[0u8; 100]);
    fs::write(&path, &bytes).unwrap();
    let (q, report) = Queue::open(dir, opts(1 << 20, 4096)).unwrap();
    assert_eq!(report.torn_tail_bytes, 100);
    assert_eq!(report.corrupt_records, 0);
    assert_eq!(seqs(&read_all(&q)), [0, 1]);
}

#[test]
fn newest_segment_without_complete_header_is_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let options = small_segments(10, 2);
    {
        let (q, _) = Queue::open(dir, options).unwrap();
        append_n(&q, 0..4, 10);
    }
    // a crash right after creating the next segment file
    fs::write(seg_path(dir, 4), b"SOLD").unwrap();
    let (q, report) = Queue::open(dir, options).unwrap();
    assert_eq!(report.torn_tail_bytes, 4);
    assert_eq!(report.corrupt_segments, 0);
    assert!(!seg_path(dir, 4).exists());
    assert_eq!(seqs(&read_all(&q)), [0, 1, 2, 3]);
    assert_eq!(q.append(b"x").unwrap(), 4);
}

#[test]
fn crc_mismatch_mid_segment_skips_to_the_next_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let frame = 50 + FRAME_OVERHEAD;
    let options = small_segments(50, 3);
    {
        let (q, _) = Queue::open(dir, options).unwrap();
        append_n(&q, 0..9, 50);
    }
    // a payload byte of record 1 (segment 0 holds records 0, 1, 2)
    flip_byte(&seg_path(dir, 0), HEADER + frame + FRAME_OVERHEAD + 10);
    let (q, report) = Queue::open(dir, options).unwrap();
    assert_eq!(report.corrupt_records, 2, "records 1 and 2 are lost");
    assert_eq!(report.corrupt_bytes, 2 * frame);
    assert_eq!(report.torn_tail_bytes, 0);
    assert_eq!(report.pending_records, 7);
    assert_eq!(q.stats().snapshot().corrupt_records, 2);
    let records = read_all(&q);
    assert_eq!(seqs(&records), [0, 3, 4, 5, 6, 7, 8]);
    for (seq, bytes) in &records {
        assert_eq!(bytes, &payload(*seq, 50), "record {seq} intact");
    }
    drop(q);
    // the damage was cut away: a second open finds nothing more to report
    let (_, report) = Queue::open(dir, options).unwrap();
    assert_eq!(report.corrupt_records, 0);
    assert_eq!(report.pending_records, 7);
}

#[test]
fn crc_mismatch_in_the_newest_segment_keeps_what_precedes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let frame = 50 + FRAME_OVERHEAD;
    let options = small_segments(50, 3);
    {
        let (q, _) = Queue::open(dir, options).unwrap();
        append_n(&q, 0..9, 50);
    }
    // record 7, the middle one of the newest segment (6, 7, 8); flip its length field this
    // time, which the CRC covers too
    flip_byte(&seg_path(dir, 6), HEADER + frame + 1);
    let (q, report) = Queue::open(dir, options).unwrap();
    assert!(report.corrupt_records >= 1 || report.torn_tail_bytes > 0);
    let records = read_all(&q);
    assert_eq!(seqs(&records), [0, 1, 2, 3, 4, 5, 6]);
    for (seq, bytes) in &records {
        assert_eq!(bytes, &payload(*seq, 50));
    }
    // appends continue with increasing sequences
    assert_eq!(q.append(b"new").unwrap(), 7);
}

#[test]
fn crc_mismatch_with_data_after_it_in_the_newest_segment_is_corruption() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let frame = 50 + FRAME_OVERHEAD;
    {
        let (q, _) = Queue::open(dir, opts(1 << 20, 4096)).unwrap();
        append_n(&q, 0..5, 50);
    }
    flip_byte(&seg_path(dir, 0), HEADER + 2 * frame + FRAME_OVERHEAD + 3);
    let (q, report) = Queue::open(dir, opts(1 << 20, 4096)).unwrap();
    assert_eq!(report.torn_tail_bytes, 0);
    assert_eq!(
        report.corrupt_records, 1,
        "lower bound in the newest segment"
    );
    assert_eq!(report.corrupt_bytes, 3 * frame);
    assert_eq!(seqs(&read_all(&q)), [0, 1]);
}

#[test]
fn segment_with_bad_header_is_reported_and_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let options = small_segments(10, 2);
    {
        let (q, _) = Queue::open(dir, options).unwrap();
        append_n(&q, 0..6, 10);
    }
    flip_byte(&seg_path(dir, 2), 0);
    let (q, report) = Queue::open(dir, options).unwrap();
    assert_eq!(report.corrupt_segments, 1);
    assert_eq!(report.corrupt_records, 2);
    assert_eq!(seqs(&read_all(&q)), [0, 1, 4, 5]);
}

#[test]
fn corruption_found_while_reading_is_skipped_and_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let frame = 50 + FRAME_OVERHEAD;
    let options = small_segments(50, 3);
    let (q, _) = Queue::open(dir, options).unwrap();
    append_n(&q, 0..6, 50);
    // damage record 1 behind the queue's back
    flip_byte(&seg_path(dir, 0), HEADER + frame + FRAME_OVERHEAD + 1);
    let records = read_all(&q);
    assert_eq!(seqs(&records), [0, 3, 4, 5]);
    let stats = q.stats().snapshot();
    assert_eq!(stats.corrupt_records, 2);
    assert_eq!(q.pending_records(), 4);
    q.commit(5).unwrap();
    assert_eq!(q.pending_records(), 0);
    assert_eq!(q.pending_bytes(), 0);

    // damage in the append segment: the queue moves on to a new segment
    append_n(&q, 6..8, 50);
    flip_byte(&seg_path(dir, 6), HEADER + FRAME_OVERHEAD + 1);
    assert!(read_all(&q).is_empty());
    assert_eq!(q.pending_records(), 0);
    assert_eq!(q.append(&payload(8, 50)).unwrap(), 8);
    assert!(seg_path(dir, 8).exists());
    assert_eq!(seqs(&read_all(&q)), [8]);
}

/// Generation of each of the two cursor slots (see the module docs for the layout).
fn cursor_generations(dir: &Path) -> [u64; 2] {
    let bytes = fs::read(dir.join("cursor")).unwrap();
    assert_eq!(bytes.len(), 64);
    let generation = |slot: usize| {
        let at = slot * 32 + 8;
        u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
    };
    [generation(0), generation(1)]
}

#[test]
fn corrupt_cursor_falls_back_to_the_oldest_data() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    {
        let (q, _) = Queue::open(dir, opts(1 << 20, 4096)).unwrap();
        append_n(&q, 0..5, 10);
        read_all(&q);
        q.commit(2).unwrap();
    }
    let cursor = dir.join("cursor");
    // both copies damaged
    flip_byte(&cursor, 17);
    flip_byte(&cursor, 32 + 17);
    let (q, report) = Queue::open(dir, opts(1 << 20, 4096)).unwrap();
    assert_eq!(report.cursor, CursorRecovery::Corrupt);
    assert_eq!(report.pending_records, 5);
    assert_eq!(seqs(&read_all(&q)), [0, 1, 2, 3, 4]);
    q.commit(3).unwrap();
    drop(q);
    // the cursor written since is valid again
    let (q, report) = Queue::open(dir, opts(1 << 20, 4096)).unwrap();
    assert_eq!(report.cursor, CursorRecovery::Valid);
    assert_eq!(seqs(&read_all(&q)), [4]);
    drop(q);

    fs::write(&cursor, b"garbage").unwrap();
    let (_, report) = Queue::open(dir, opts(1 << 20, 4096)).unwrap();
    assert_eq!(report.cursor, CursorRecovery::Corrupt);
    assert_eq!(report.pending_records, 5);
}

#[test]
fn torn_cursor_update_falls_back_to_the_previous_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    {
        let (q, _) = Queue::open(dir, opts(1 << 20, 4096)).unwrap();
        append_n(&q, 0..6, 10);
        read_all(&q);
        q.commit(1).unwrap();
        q.commit(3).unwrap();
    }
    // damage the newest copy (the commit of 3): the previous one (commit of 1) is used
    let [g0, g1] = cursor_generations(dir);
    let newest = if g0 > g1 { 0 } else { 1 };
    flip_byte(&dir.join("cursor"), newest * 32 + 20);
    let (q, report) = Queue::open(dir, opts(1 << 20, 4096)).unwrap();
    assert_eq!(report.cursor, CursorRecovery::OneCopyDamaged);
    assert_eq!(report.next_unacked, 2);
    assert_eq!(seqs(&read_all(&q)), [2, 3, 4, 5]);
    drop(q);
    // open rewrote the damaged slot
    let (_, report) = Queue::open(dir, opts(1 << 20, 4096)).unwrap();
    assert_eq!(report.cursor, CursorRecovery::Valid);
    assert_eq!(report.next_unacked, 2);
}

#[test]
fn cursor_updates_alternate_between_slots() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (q, _) = Queue::open(dir, opts(1 << 20, 4096)).unwrap();
    append_n(&q, 0..3, 10);
    read_all(&q);
    let before = cursor_generations(dir);
    q.commit(0).unwrap();
    let after = cursor_generations(dir);
    // exactly one slot changed, and it now carries the highest generation
    assert_eq!(before.iter().zip(&after).filter(|(b, a)| b != a).count(), 1);
    assert_eq!(
        after.iter().max(),
        Some(&(before.iter().max().unwrap() + 1))
    );
}

#[test]
fn missing_cursor_falls_back_to_the_oldest_data() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    {
        let (q, _) = Queue::open(dir, opts(1 << 20, 4096)).unwrap();
        append_n(&q, 0..3, 10);
        read_all(&q);
        q.commit(1).unwrap();
    }
    fs::remove_file(dir.join("cursor")).unwrap();
    let (q, report) = Queue::open(dir, opts(1 << 20, 4096)).unwrap();
    assert_eq!(report.cursor, CursorRecovery::Missing);
    assert_eq!(seqs(&read_all(&q)), [0, 1, 2]);
    drop(q);
    // an empty file (crash right after creating it) counts as missing too
    fs::write(dir.join("cursor"), b"").unwrap();
    let (_, report) = Queue::open(dir, opts(1 << 20, 4096)).unwrap();
    assert_eq!(report.cursor, CursorRecovery::Missing);
}

#[test]
fn cursor_ahead_of_lost_acknowledged_data() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    {
        let (q, _) = Queue::open(dir, opts(1 << 20, 4096)).unwrap();
        append_n(&q, 0..5, 10);
        read_all(&q);
        q.commit(4).unwrap();
    }
    // the last (acknowledged) record is torn away
    truncate_by(&seg_path(dir, 0), 2);
    let (q, report) = Queue::open(dir, opts(1 << 20, 4096)).unwrap();
    assert_eq!(report.cursor, CursorRecovery::Ahead);
    assert_eq!(report.pending_records, 0);
    // sequences never go backwards past the cursor
    assert_eq!(q.append(b"x").unwrap(), 5);
    assert_eq!(seqs(&read_all(&q)), [5]);
}

#[test]
fn second_open_of_the_same_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (q, _) = Queue::open(tmp.path(), opts(1 << 20, 4096)).unwrap();
    match Queue::open(tmp.path(), opts(1 << 20, 4096)) {
        Err(QueueError::Locked(path)) => assert_eq!(path, tmp.path()),
        other => panic!("expected Locked, got {other:?}"),
    }
    drop(q);
    assert!(Queue::open(tmp.path(), opts(1 << 20, 4096)).is_ok());
}

#[test]
fn invalid_options_are_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    for bad in [
        opts(0, 4096),
        opts(1 << 20, 10),
        QueueOptions {
            fsync: FsyncPolicy::Interval(Duration::ZERO),
            ..opts(1 << 20, 4096)
        },
    ] {
        assert!(
            matches!(
                Queue::open(tmp.path(), bad),
                Err(QueueError::InvalidOptions(_))
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn unrelated_files_are_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fs::write(dir.join("notes.txt"), b"keep me").unwrap();
    fs::write(dir.join("12.seg"), b"not canonical").unwrap();
    let (q, report) = Queue::open(dir, opts(1 << 20, 4096)).unwrap();
    assert_eq!(report.corrupt_segments, 0);
    append_n(&q, 0..2, 5);
    assert_eq!(fs::read(dir.join("notes.txt")).unwrap(), b"keep me");
    assert!(dir.join("12.seg").exists());
}

#[test]
fn fsync_policies_persist_data() {
    for fsync in [
        FsyncPolicy::Always,
        FsyncPolicy::Interval(Duration::from_millis(5)),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        {
            let (q, _) = Queue::open(
                tmp.path(),
                QueueOptions {
                    fsync,
                    ..small_segments(10, 2)
                },
            )
            .unwrap();
            append_n(&q, 0..5, 10);
            std::thread::sleep(Duration::from_millis(20));
            q.read_batch(2, 1 << 20).unwrap();
            q.commit(1).unwrap();
            q.sync().unwrap();
        }
        let (q, report) = Queue::open(tmp.path(), small_segments(10, 2)).unwrap();
        assert_eq!(report.pending_records, 3, "{fsync:?}");
        assert_eq!(seqs(&read_all(&q)), [2, 3, 4]);
    }
}

/// Appends record `i` and, when `ack` says so, reads and acknowledges it at once (the queue
/// must be fully read before).
fn append_one(q: &Queue, i: u64, ack: bool) {
    append_n(q, i..i + 1, 10);
    if ack {
        let read = q.read_batch(1, 1 << 20).unwrap();
        assert_eq!(read.iter().map(|r| r.0).collect::<Vec<_>>(), [i]);
        q.commit(i).unwrap();
    }
}

#[test]
fn only_unacknowledged_data_is_synced_at_roll() {
    let tmp = tempfile::tempdir().unwrap();
    let (q, _) = Queue::open(
        tmp.path(),
        QueueOptions {
            // No tick during the test: only rolls sync here.
            fsync: FsyncPolicy::Interval(Duration::from_secs(3600)),
            ..small_segments(10, 2)
        },
    )
    .unwrap();
    for i in 0..7 {
        append_one(&q, i, true);
    }
    assert_eq!(q.data_syncs(), 0, "rolls over acknowledged data");
    // Two records per segment: 6 and 7 share one, and 8 rolls over it with 7 unacknowledged.
    append_one(&q, 7, false);
    assert_eq!(q.data_syncs(), 0);
    append_one(&q, 8, false);
    assert_eq!(q.data_syncs(), 1, "the roll over 7 syncs it");

    let always = tempfile::tempdir().unwrap();
    let (q, _) = Queue::open(
        always.path(),
        QueueOptions {
            fsync: FsyncPolicy::Always,
            ..small_segments(10, 2)
        },
    )
    .unwrap();
    for i in 0..5 {
        append_one(&q, i, true);
    }
    assert_eq!(
        q.data_syncs(),
        5,
        "Always syncs every append, acknowledged or not"
    );
}

#[test]
fn interval_fsync_skips_ticks_when_everything_was_acknowledged() {
    let tick = Duration::from_millis(50);
    let tmp = tempfile::tempdir().unwrap();
    let (q, _) = Queue::open(
        tmp.path(),
        QueueOptions {
            fsync: FsyncPolicy::Interval(tick),
            ..small_segments(10, 100)
        },
    )
    .unwrap();
    let synced_beyond = |n: u64| {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while q.data_syncs() <= n && std::time::Instant::now() < deadline {
            std::thread::sleep(tick / 5);
        }
        q.data_syncs() > n
    };
    append_one(&q, 0, false);
    assert!(synced_beyond(0), "unacknowledged data is synced on a tick");
    q.read_batch(10, 1 << 20).unwrap();
    q.commit(0).unwrap();
    // A tick that took the file before the acknowledgement may still finish its sync.
    std::thread::sleep(tick * 2);
    let settled = q.data_syncs();
    // Data written and acknowledged between ticks: each tick finds the file written to, but
    // nothing in it unacknowledged. (One tick may fall into the microseconds between an
    // append and its acknowledgement, hence "at most one".)
    for i in 1..5 {
        append_one(&q, i, true);
        std::thread::sleep(tick * 2);
    }
    assert!(
        q.data_syncs() <= settled + 1,
        "ticks over acknowledged data synced {} times",
        q.data_syncs() - settled
    );
    let before = q.data_syncs();
    append_one(&q, 5, false);
    assert!(
        synced_beyond(before),
        "new unacknowledged data is synced again"
    );
}

#[test]
fn dropped_queue_can_be_reopened_at_once() {
    // the interval fsync thread must not keep the directory locked after the last handle
    let tmp = tempfile::tempdir().unwrap();
    let options = QueueOptions {
        fsync: FsyncPolicy::Interval(Duration::from_millis(1)),
        ..opts(1 << 20, 4096)
    };
    for round in 0..50u64 {
        let (q, report) = Queue::open(tmp.path(), options).unwrap();
        assert_eq!(report.pending_records, round);
        q.append(b"x").unwrap();
        std::thread::sleep(Duration::from_micros(round * 40));
    }
}

#[test]
fn clones_share_one_queue_across_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let (q, _) = Queue::open(tmp.path(), opts(1 << 30, 1 << 14)).unwrap();
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let q = q.clone();
            std::thread::spawn(move || {
                for i in 0..500u32 {
                    q.append(format!("{t}:{i}").as_bytes()).unwrap();
                }
            })
        })
        .collect();
    let mut seen = Vec::new();
    while seen.len() < 2000 {
        for (seq, bytes) in q.read_batch(100, 1 << 20).unwrap() {
            seen.push((seq, String::from_utf8(bytes.to_vec()).unwrap()));
            q.commit(seq).unwrap();
        }
    }
    for w in writers {
        w.join().unwrap();
    }
    let expected_seqs: Vec<Seq> = (0..2000).collect();
    assert_eq!(
        seen.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        expected_seqs
    );
    // per writer, records arrive in the order they were appended
    for t in 0..4 {
        let order: Vec<u32> = seen
            .iter()
            .filter_map(|(_, s)| s.strip_prefix(&format!("{t}:")))
            .map(|n| n.parse().unwrap())
            .collect();
        assert_eq!(order, (0..500).collect::<Vec<_>>());
    }
    assert_eq!(q.pending_records(), 0);
}

#[tokio::test]
async fn wait_for_data_wakes_on_append() {
    let tmp = tempfile::tempdir().unwrap();
    let (q, _) = Queue::open(tmp.path(), opts(1 << 20, 4096)).unwrap();
    let waiter = {
        let q = q.clone();
        tokio::spawn(async move {
            q.wait_for_data().await;
            q.read_batch(10, 1 << 20).unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiter.is_finished(), "must wait while the queue is empty");
    q.append(b"hello").unwrap();
    let batch = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("woken by the append")
        .unwrap();
    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0].1.as_ref(), b"hello");

    // with unread data present it returns at once
    q.append(b"again").unwrap();
    tokio::time::timeout(Duration::from_secs(1), q.wait_for_data())
        .await
        .expect("returns immediately");
}

// ---- reuse of acknowledged segment files ----------------------------------------------------

/// The name of the one acknowledged segment file kept for reuse (see the module docs).
const SPARE: &str = "spare.seg.free";
/// Offset of the header flags; flag 1 marks a reused file.
const FLAGS_AT: usize = 12;

fn inode(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(path).unwrap().ino()
}

/// Files of the queue directory other than segments, cursor and lock.
fn other_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.ends_with(".seg") && n != "cursor" && n != "lock")
        .collect();
    names.sort();
    names
}

fn assert_payloads(records: &[(Seq, Vec<u8>)], len: impl Fn(Seq) -> usize) {
    for (seq, bytes) in records {
        assert_eq!(bytes, &payload(*seq, len(*seq)), "record {seq}");
    }
}

#[test]
fn acknowledged_segments_are_reused_and_their_old_records_never_come_back() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // 19 records of 200 bytes per 4 KiB segment; every incarnation of a file holds records of
    // the same size, so its old frames sit exactly where new ones start: only the salt tells
    // them apart.
    let len = 200;
    let options = opts(1 << 30, 4096);
    let mut next = 0u64;
    let mut reused = 0;
    {
        let (q, _) = Queue::open(dir, options).unwrap();
        for _ in 0..40 {
            let spare = dir.join(SPARE);
            let spare_inode = spare.exists().then(|| inode(&spare));
            let before = segment_files(dir);
            append_n(&q, next..next + 7, len);
            next += 7;
            let created: Vec<String> = segment_files(dir)
                .into_iter()
                .filter(|n| !before.contains(n))
                .collect();
            if let (Some(spare_inode), [name]) = (spare_inode, created.as_slice()) {
                // the new segment is the spare file, renamed
                assert!(!spare.exists());
                assert_eq!(inode(&dir.join(name)), spare_inode, "{name}");
                assert_eq!(fs::read(dir.join(name)).unwrap()[FLAGS_AT], 1, "{name}");
                reused += 1;
            }
            let records = read_all(&q);
            assert_eq!(seqs(&records), (next - 7..next).collect::<Vec<_>>());
            assert_payloads(&records, |_| len);
            q.commit(next - 1).unwrap();
            let others = other_files(dir);
            assert!(others.is_empty() || others == [SPARE], "{others:?}");
        }
        assert!(reused >= 5, "only {reused} segments were reused");
        // Leave records unacknowledged: the rest of the active segment, then a reused newest
        // segment holding a few new records in front of most of its old ones.
        assert!(dir.join(SPARE).exists());
        let pending_from = next;
        while dir.join(SPARE).exists() {
            q.append(&payload(next, len)).unwrap();
            next += 1;
        }
        append_n(&q, next..next + 3, len);
        next += 3;
        assert_eq!(q.pending_records(), next - pending_from);
    }
    let pending_from = next - {
        let (q, report) = Queue::open(dir, options).unwrap();
        assert_eq!(report.corrupt_records, 0, "{report:?}");
        assert_eq!(report.corrupt_segments, 0, "{report:?}");
        assert_eq!(report.torn_tail_bytes, 0, "{report:?}");
        assert!(
            report.stale_bytes >= 10 * (len as u64 + FRAME_OVERHEAD),
            "{report:?}"
        );
        let records = read_all(&q);
        assert_eq!(records.last().map(|r| r.0), Some(next - 1));
        assert_eq!(
            seqs(&records),
            (next - records.len() as u64..next).collect::<Vec<_>>()
        );
        assert_payloads(&records, |_| len);
        assert_eq!(report.pending_records, records.len() as u64);
        // appends continue after the last record, over the old frames
        assert_eq!(q.append(&payload(next, len)).unwrap(), next);
        records.len() as u64
    };
    let (q, report) = Queue::open(dir, options).unwrap();
    assert_eq!(report.corrupt_records, 0, "{report:?}");
    let records = read_all(&q);
    assert_eq!(seqs(&records), (pending_from..=next).collect::<Vec<_>>());
    assert_payloads(&records, |_| len);
}

#[test]
fn reused_segments_with_records_of_varying_sizes_recover_exactly() {
    // Old incarnations end at other offsets than new ones: finished segments then have old
    // bytes behind their records, which must not count as corruption.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let len = |seq: Seq| (seq * 97 % 700) as usize + 20;
    let options = opts(1 << 30, 4096);
    let mut next = 0u64;
    {
        let (q, _) = Queue::open(dir, options).unwrap();
        for round in 0..60u64 {
            let n = 3 + round % 5;
            for seq in next..next + n {
                assert_eq!(q.append(&payload(seq, len(seq))).unwrap(), seq);
            }
            next += n;
            let records = read_all(&q);
            assert_eq!(records.len() as u64, n);
            assert_payloads(&records, len);
            // keep the last two rounds unacknowledged
            if round < 58 {
                q.commit(next - 1).unwrap();
            }
        }
    }
    let (q, report) = Queue::open(dir, options).unwrap();
    assert_eq!(report.corrupt_records, 0, "{report:?}");
    assert_eq!(report.corrupt_bytes, 0, "{report:?}");
    let records = read_all(&q);
    let first = records.first().unwrap().0;
    assert_eq!(seqs(&records), (first..next).collect::<Vec<_>>());
    assert_eq!(report.pending_records, next - first);
    assert_payloads(&records, len);
}

/// A queue of 50-byte records, 4 per segment, whose newest segment (8) is the reused file of
/// segment 0: record 8 sits where record 0 was, old records 1–3 follow. Records 5–8 are
/// unacknowledged.
fn queue_with_reused_newest_segment(dir: &Path) -> (Queue, QueueOptions) {
    let options = small_segments(50, 4);
    let (q, _) = Queue::open(dir, options).unwrap();
    append_n(&q, 0..5, 50);
    read_all(&q);
    q.commit(4).unwrap();
    assert_eq!(other_files(dir), [SPARE]);
    let spare_inode = inode(&dir.join(SPARE));
    append_n(&q, 5..9, 50);
    assert!(other_files(dir).is_empty());
    assert_eq!(inode(&seg_path(dir, 8)), spare_inode);
    q.rewind();
    (q, options)
}

#[test]
fn torn_write_over_old_frames_of_a_reused_segment_is_not_corruption() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let frame = 50 + FRAME_OVERHEAD;
    let (q, options) = queue_with_reused_newest_segment(dir);
    let path = seg_path(dir, 8);
    let old = fs::read(&path).unwrap();
    q.append(&payload(9, 50)).unwrap();
    drop(q);
    // Only the first 20 bytes of record 9 made it; the old bytes follow.
    let mut bytes = fs::read(&path).unwrap();
    let cut = (HEADER + frame + 20) as usize;
    bytes.truncate(cut);
    bytes.extend_from_slice(&old[cut..]);
    fs::write(&path, &bytes).unwrap();

    let (q, report) = Queue::open(dir, options).unwrap();
    assert_eq!(report.corrupt_records, 0, "{report:?}");
    assert_eq!(report.corrupt_bytes, 0, "{report:?}");
    assert_eq!(report.stale_bytes, 3 * frame, "{report:?}");
    assert_eq!(report.pending_records, 4);
    assert_holds_records_5_to_8(&q);
    assert_eq!(q.append(&payload(9, 50)).unwrap(), 9);
    drop(q);
    let (q, report) = Queue::open(dir, options).unwrap();
    assert_eq!(report.stale_bytes + report.torn_tail_bytes, 0, "{report:?}");
    assert_eq!(seqs(&read_all(&q)), [5, 6, 7, 8, 9]);
}

/// What `queue_with_reused_newest_segment` leaves pending: records 5 to 8, 50 bytes each.
fn assert_holds_records_5_to_8(q: &Queue) {
    let records = read_all(q);
    assert_eq!(seqs(&records), [5, 6, 7, 8]);
    assert_payloads(&records, |_| 50);
}

#[test]
fn old_frames_of_a_reused_segment_after_a_clean_close_are_not_corruption() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let frame = 50 + FRAME_OVERHEAD;
    let (q, options) = queue_with_reused_newest_segment(dir);
    drop(q);
    let (q, report) = Queue::open(dir, options).unwrap();
    assert_eq!(report.corrupt_records, 0, "{report:?}");
    assert_eq!(report.torn_tail_bytes, 0, "{report:?}");
    assert_eq!(report.stale_bytes, 3 * frame, "{report:?}");
    assert_holds_records_5_to_8(&q);
}

#[test]
fn damaged_record_followed_by_records_in_a_reused_segment_is_corruption() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let frame = 50 + FRAME_OVERHEAD;
    let (q, options) = queue_with_reused_newest_segment(dir);
    append_n(&q, 9..11, 50);
    drop(q);
    // segment 8 holds records 8, 9, 10 and one old frame; damage record 9's payload
    flip_byte(&seg_path(dir, 8), HEADER + frame + FRAME_OVERHEAD + 7);
    let (q, report) = Queue::open(dir, options).unwrap();
    assert_eq!(report.corrupt_records, 1, "{report:?}");
    assert_eq!(report.corrupt_bytes, 3 * frame, "{report:?}");
    assert_eq!(report.stale_bytes, 0, "{report:?}");
    assert_holds_records_5_to_8(&q);
}

#[test]
fn crash_between_renaming_the_spare_and_writing_its_header_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (q, options) = queue_with_reused_newest_segment(dir);
    append_n(&q, 9..12, 50);
    let records = read_all(&q);
    q.commit(records[3].0).unwrap(); // up to 8: segment 4 becomes the spare
    assert_eq!(other_files(dir), [SPARE]);
    drop(q);
    // The next roll would make the spare segment 12; the crash leaves it renamed with the
    // header (and records) of segment 4.
    let spare_len = fs::metadata(dir.join(SPARE)).unwrap().len();
    fs::rename(dir.join(SPARE), seg_path(dir, 12)).unwrap();

    let (q, report) = Queue::open(dir, options).unwrap();
    assert_eq!(report.corrupt_segments, 0, "{report:?}");
    assert_eq!(report.corrupt_records, 0, "{report:?}");
    assert_eq!(report.stale_bytes, spare_len, "{report:?}");
    assert_eq!(report.pending_records, 3);
    assert!(!seg_path(dir, 12).exists());
    // the file is the spare again
    assert_eq!(other_files(dir), [SPARE]);
    let records = read_all(&q);
    assert_eq!(seqs(&records), [9, 10, 11]);
    assert_payloads(&records, |_| 50);
    assert_eq!(q.append(&payload(12, 50)).unwrap(), 12);
    assert!(other_files(dir).is_empty());
    drop(q);
    let (q, report) = Queue::open(dir, options).unwrap();
    assert_eq!(report.corrupt_records, 0, "{report:?}");
    assert_eq!(seqs(&read_all(&q)), [9, 10, 11, 12]);
}

#[test]
fn spare_is_dropped_when_the_cursor_is_lost() {
    // Without a cursor sequences may start over, and a reused file's old frames could carry
    // the salt of a new segment: such a spare is deleted, not reused.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (q, options) = queue_with_reused_newest_segment(dir);
    read_all(&q);
    q.commit(8).unwrap();
    drop(q);
    assert_eq!(other_files(dir), [SPARE]);
    fs::remove_file(dir.join("cursor")).unwrap();
    let (_q, report) = Queue::open(dir, options).unwrap();
    assert_eq!(report.cursor, CursorRecovery::Missing);
    assert!(other_files(dir).is_empty());

    // nor does a reused file found unfinished become the spare then
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (q, options) = queue_with_reused_newest_segment(dir);
    read_all(&q);
    q.commit(8).unwrap();
    drop(q);
    fs::rename(dir.join(SPARE), seg_path(dir, 12)).unwrap();
    fs::remove_file(dir.join("cursor")).unwrap();
    let (q, report) = Queue::open(dir, options).unwrap();
    assert_eq!(report.corrupt_segments, 0, "{report:?}");
    assert!(report.stale_bytes > 0, "{report:?}");
    assert!(!seg_path(dir, 12).exists());
    assert!(other_files(dir).is_empty());
    // without a cursor everything left is delivered again
    assert_eq!(seqs(&read_all(&q)), [8]);
}

/// A version 1 segment (as older builds wrote it: unsalted CRCs).
fn v1_segment(first: Seq, records: std::ops::Range<Seq>, len: usize) -> Vec<u8> {
    let mut out = b"SOLDERQS".to_vec();
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&first.to_le_bytes());
    for seq in records {
        let body = payload(seq, len);
        let len_bytes = (body.len() as u32).to_le_bytes();
        let mut crc = crc32fast::Hasher::new();
        crc.update(&len_bytes);
        crc.update(&body);
        out.extend_from_slice(&len_bytes);
        out.extend_from_slice(&crc.finalize().to_le_bytes());
        out.extend_from_slice(&body);
    }
    out
}

#[test]
fn version_1_segments_are_read_appended_to_and_reused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let options = small_segments(50, 3);
    fs::write(seg_path(dir, 0), v1_segment(0, 0..3, 50)).unwrap();
    fs::write(seg_path(dir, 3), v1_segment(3, 3..5, 50)).unwrap();
    {
        let (q, report) = Queue::open(dir, options).unwrap();
        assert_eq!(report.corrupt_records, 0, "{report:?}");
        assert_eq!(report.torn_tail_bytes + report.stale_bytes, 0, "{report:?}");
        assert_eq!(report.pending_records, 5);
        let records = read_all(&q);
        assert_eq!(seqs(&records), [0, 1, 2, 3, 4]);
        assert_payloads(&records, |_| 50);
        // record 5 goes into the version 1 segment, framed as version 1
        append_n(&q, 5..6, 50);
        assert_eq!(fs::read(seg_path(dir, 3)).unwrap(), v1_segment(3, 3..6, 50));
        q.rewind();
    }
    {
        let (q, report) = Queue::open(dir, options).unwrap();
        assert_eq!(report.corrupt_records, 0, "{report:?}");
        let records = read_all(&q);
        assert_eq!(seqs(&records), [0, 1, 2, 3, 4, 5]);
        assert_payloads(&records, |_| 50);
        // acknowledging segment 0 makes it the spare; the next segment reuses it
        q.commit(3).unwrap();
        assert_eq!(other_files(dir), [SPARE]);
        append_n(&q, 6..7, 50);
        assert!(other_files(dir).is_empty());
        let reused = fs::read(seg_path(dir, 6)).unwrap();
        assert_eq!(
            &reused[8..12],
            &2u32.to_le_bytes(),
            "new segments are version 2"
        );
    }
    let (q, report) = Queue::open(dir, options).unwrap();
    assert_eq!(report.corrupt_records, 0, "{report:?}");
    let records = read_all(&q);
    assert_eq!(seqs(&records), [4, 5, 6]);
    assert_payloads(&records, |_| 50);
}

#[test]
fn single_batched_and_split_appends_interleave_in_reused_segments() {
    // Single appends and parts are written at the file position, batches at explicit offsets:
    // mixing them over reused files must still leave one clean run of frames.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let len = |seq: Seq| (seq * 53 % 300) as usize;
    let options = opts(1 << 30, 2048);
    let mut next = 0u64;
    {
        let (q, _) = Queue::open(dir, options).unwrap();
        for round in 0..50u64 {
            match round % 3 {
                0 => {
                    let batch: Vec<Vec<u8>> =
                        (next..next + 4).map(|s| payload(s, len(s))).collect();
                    assert_eq!(q.append_batch(&batch).unwrap(), next);
                    next += 4;
                }
                1 => {
                    let body = payload(next, len(next));
                    let (a, b) = body.split_at(body.len() / 2);
                    assert_eq!(q.append_parts(&[a, b]).unwrap(), next);
                    next += 1;
                }
                _ => {
                    for seq in next..next + 2 {
                        assert_eq!(q.append(&payload(seq, len(seq))).unwrap(), seq);
                    }
                    next += 2;
                    let records = read_all(&q);
                    assert_payloads(&records, len);
                    q.commit(records.last().unwrap().0).unwrap();
                }
            }
        }
    }
    // Pending: what rounds 48 (a batch of 4) and 49 (one record in parts) appended.
    let (q, report) = Queue::open(dir, options).unwrap();
    assert_eq!(report.corrupt_records, 0, "{report:?}");
    let records = read_all(&q);
    assert_eq!(seqs(&records), (next - 5..next).collect::<Vec<_>>());
    assert_payloads(&records, len);
}

#[test]
fn records_missing_from_a_finished_reused_segment_are_corruption() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let frame = 50 + FRAME_OVERHEAD;
    let (q, options) = queue_with_reused_newest_segment(dir);
    append_n(&q, 9..13, 50);
    drop(q);
    // segment 8 (reused) is finished with records 8..12; cut it inside record 10
    truncate_by(&seg_path(dir, 8), frame + 10);
    let (q, report) = Queue::open(dir, options).unwrap();
    assert_eq!(report.corrupt_records, 2, "{report:?}");
    assert_eq!(report.stale_bytes, 0, "{report:?}");
    assert_eq!(seqs(&read_all(&q)), [5, 6, 7, 8, 9, 12]);
}
