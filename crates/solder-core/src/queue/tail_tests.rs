//! The memory tail must be invisible except in speed: a queue with it and a queue without it,
//! given the same operations, return the same batches, counters and errors and leave the same
//! bytes on disk. Each test runs a queue with the tail next to one without (the reference) and
//! also checks, through the state, that the tail really served what it claims.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::testing::Rng;
use tempfile::TempDir;

fn opts(max_bytes: u64, segment_bytes: u64) -> QueueOptions {
    QueueOptions {
        max_bytes,
        segment_bytes,
        fsync: FsyncPolicy::Never,
    }
}

/// A queue with a memory tail of `budget` bytes and a reference queue without one.
struct Pair {
    _dirs: (TempDir, TempDir),
    cached: Queue,
    plain: Queue,
}

impl Pair {
    fn new(o: QueueOptions, budget: usize) -> Pair {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let (cached, _) = Queue::open(a.path(), o).unwrap();
        let (plain, _) = Queue::open(b.path(), o).unwrap();
        cached.set_memory_tail_bytes(budget);
        assert_eq!(cached.memory_tail_bytes(), budget);
        assert_eq!(plain.memory_tail_bytes(), 0);
        Pair {
            _dirs: (a, b),
            cached,
            plain,
        }
    }

    fn append(&self, payload: &[u8]) -> Seq {
        let seq = self.cached.append(payload).unwrap();
        assert_eq!(seq, self.plain.append(payload).unwrap());
        seq
    }

    /// Reads one batch from both queues, asserts they agree, and returns it.
    fn read(&self, max_records: usize, max_bytes: u64) -> Vec<(Seq, Vec<u8>)> {
        let a = owned(self.cached.read_batch(max_records, max_bytes).unwrap());
        let b = owned(self.plain.read_batch(max_records, max_bytes).unwrap());
        assert_eq!(a, b, "batch({max_records}, {max_bytes}) differs");
        a
    }

    fn commit(&self, seq: Seq) {
        self.cached.commit(seq).unwrap();
        self.plain.commit(seq).unwrap();
    }

    fn rewind(&self) {
        self.cached.rewind();
        self.plain.rewind();
    }

    fn drop_oldest(&self, bytes: u64) -> DropReport {
        let a = self.cached.drop_oldest(bytes).unwrap();
        assert_eq!(a, self.plain.drop_oldest(bytes).unwrap());
        a
    }

    fn assert_same(&self) {
        let (a, b) = (&self.cached, &self.plain);
        assert_eq!(a.stats().snapshot(), b.stats().snapshot());
        assert_eq!(a.pending_records(), b.pending_records());
        assert_eq!(a.pending_bytes(), b.pending_bytes());
        assert_eq!(a.unread_records(), b.unread_records());
        assert_eq!(a.next_seq(), b.next_seq());
        assert_eq!(segment_files(a.dir()), segment_files(b.dir()));
        let tail = a.lock();
        assert!(tail.tail.bytes() <= tail.tail.holds_at_most());
    }

    fn cached_seqs(&self) -> Vec<Seq> {
        self.cached.lock().tail.seqs()
    }
}

fn owned(batch: Vec<(Seq, Bytes)>) -> Vec<(Seq, Vec<u8>)> {
    batch.into_iter().map(|(s, b)| (s, b.to_vec())).collect()
}

fn payload(seq: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (seq as usize * 31 + i * 7) as u8)
        .collect()
}

/// Segment files by name with their contents.
fn segment_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".seg"))
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name, std::fs::read(e.path()).unwrap())
        })
        .collect();
    out.sort();
    out
}

#[test]
fn handed_over_records_larger_than_the_budget_are_served_alone_when_the_reader_is_caught_up() {
    let budget = 4 * tail::cost(100);
    let pair = Pair::new(opts(1 << 30, 1 << 20), budget);
    let small = payload(1, 100);
    let big = payload(2, 10 * budget);
    let append_bytes = |p: &[u8]| {
        let seq = pair.cached.append_bytes(Bytes::from(p.to_vec())).unwrap();
        assert_eq!(seq, pair.plain.append(p).unwrap());
        seq
    };
    let s0 = append_bytes(&small);
    // A copying append of a record over the budget is not cached...
    let s1 = pair.append(&big);
    assert_eq!(pair.cached_seqs(), [s0]);
    // ...nor is one handed over as `Bytes` while older records wait to be read...
    let s2 = append_bytes(&big);
    assert_eq!(pair.cached_seqs(), [s0]);
    pair.assert_same();
    let got = pair.read(3, 1 << 30);
    assert_eq!(got, [(s0, small), (s1, big.clone()), (s2, big.clone())]);
    // ...but once the reader has caught up it is kept, alone, and served from memory.
    let s3 = append_bytes(&payload(3, 10));
    assert_eq!(pair.read(1, 1), [(s3, payload(3, 10))]);
    let s4 = append_bytes(&big);
    assert_eq!(pair.cached_seqs(), [s4]);
    assert_eq!(pair.read(1, 1), [(s4, big)]);
    assert!(pair.cached_seqs().is_empty());
    pair.commit(s4);
    pair.assert_same();
}

#[test]
fn tail_is_off_by_default_and_caches_once_enabled() {
    let dir = tempfile::tempdir().unwrap();
    let (q, _) = Queue::open(dir.path(), opts(1 << 20, 4096)).unwrap();
    q.append(b"a").unwrap();
    assert!(q.lock().tail.seqs().is_empty());
    q.set_memory_tail_bytes(DEFAULT_MEMORY_TAIL_BYTES);
    q.append(b"b").unwrap();
    q.append_parts(&[b"c", b"d"]).unwrap();
    q.append_bytes(Bytes::from_static(b"e")).unwrap();
    assert_eq!(q.lock().tail.seqs(), [1, 2, 3]);
    let got = owned(q.read_batch(10, 1 << 20).unwrap());
    let want: Vec<(Seq, Vec<u8>)> = vec![
        (0, b"a".to_vec()),
        (1, b"b".to_vec()),
        (2, b"cd".to_vec()),
        (3, b"e".to_vec()),
    ];
    assert_eq!(got, want);
    assert!(
        q.lock().tail.seqs().is_empty(),
        "read records leave the tail"
    );
    q.set_memory_tail_bytes(0);
    q.append(b"f").unwrap();
    assert!(q.lock().tail.seqs().is_empty());
}

#[test]
fn fresh_records_are_served_from_memory_not_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (q, _) = Queue::open(dir.path(), opts(1 << 20, 1 << 16)).unwrap();
    q.set_memory_tail_bytes(1 << 20);
    q.append(&payload(0, 100)).unwrap();
    // Damage the record in the file: only a read from memory still returns it.
    let path = dir.path().join(format::segment_file_name(0));
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[SEGMENT_HEADER_LEN as usize + FRAME_HEADER_LEN as usize + 5] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(owned(q.read_batch(1, 1).unwrap()), [(0, payload(0, 100))]);
    assert_eq!(q.stats().snapshot().corrupt_records, 0);
}

#[test]
fn batches_mix_file_and_memory_records_like_the_file_alone() {
    // Room for 4 of the 200-byte records: older ones are evicted and come from the file.
    let pair = Pair::new(opts(1 << 20, 1 << 16), 4 * tail::cost(200));
    for seq in 0..10 {
        pair.append(&payload(seq, 200));
    }
    assert_eq!(pair.cached_seqs(), [6, 7, 8, 9]);
    // 6 from the file, then 1 from memory in one batch; then from memory only.
    let first = pair.read(7, 1 << 20);
    assert_eq!(
        first.iter().map(|r| r.0).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4, 5, 6]
    );
    assert_eq!(pair.cached_seqs(), [7, 8, 9]);
    assert_eq!(pair.read(2, 1 << 20).len(), 2);
    for seq in 10..12 {
        pair.append(&payload(seq, 200));
    }
    assert_eq!(pair.cached_seqs(), [9, 10, 11]);
    // byte limit inside the memory part: stops once 400 payload bytes are reached
    assert_eq!(pair.read(100, 400).len(), 2);
    assert_eq!(pair.read(100, 1 << 20).len(), 1);
    assert!(pair.read(100, 1 << 20).is_empty());
    pair.commit(11);
    pair.assert_same();
}

#[test]
fn mixed_batch_across_segment_boundaries() {
    // 3 records of 50 bytes per segment; the tail covers the last 5, which straddle a segment.
    let frame = 50 + FRAME_OVERHEAD;
    let pair = Pair::new(
        opts(1 << 20, SEGMENT_HEADER_LEN + 3 * frame),
        5 * tail::cost(50),
    );
    for seq in 0..12 {
        pair.append(&payload(seq, 50));
    }
    assert_eq!(pair.cached_seqs(), [7, 8, 9, 10, 11]);
    for limit in [2, 5, 1, 7] {
        pair.read(limit, 1 << 20);
    }
    assert!(pair.cached_seqs().is_empty());
    pair.commit(11);
    pair.assert_same();
}

#[test]
fn eviction_keeps_the_newest_records_within_the_budget() {
    let budget = 10 * tail::cost(100);
    let pair = Pair::new(opts(1 << 30, 1 << 20), budget);
    let mut seq = 0;
    for round in 0..50u64 {
        let len = (round as usize * 37) % 700;
        seq = pair.append(&payload(round, len));
        let state = pair.cached.lock();
        assert!(state.tail.bytes() <= budget);
        // the newest record is cached whenever it fits on its own
        if tail::cost(len) <= budget {
            assert_eq!(state.tail.seqs().last(), Some(&seq));
        }
        let seqs = state.tail.seqs();
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    }
    // A record larger than the whole budget is not cached (and evicts nothing).
    let before = pair.cached_seqs();
    pair.append(&payload(99, budget));
    assert_eq!(pair.cached_seqs(), before);
    // Shrinking the budget evicts the oldest.
    pair.cached.set_memory_tail_bytes(2 * tail::cost(700));
    assert!(pair.cached.lock().tail.bytes() <= 2 * tail::cost(700));
    let mut total = 0;
    loop {
        let batch = pair.read(7, 3000);
        if batch.is_empty() {
            break;
        }
        total += batch.len();
    }
    assert_eq!(total as u64, seq + 2);
    pair.assert_same();
}

#[test]
fn rewind_after_memory_reads_reads_the_file_again() {
    let pair = Pair::new(opts(1 << 20, 1 << 16), 1 << 20);
    for seq in 0..6 {
        pair.append(&payload(seq, 80));
    }
    let first = pair.read(4, 1 << 20);
    assert_eq!(pair.cached_seqs(), [4, 5]);
    pair.commit(1);
    pair.rewind();
    // 2 and 3 come back from the file, 4 and 5 are still in memory
    let again = pair.read(10, 1 << 20);
    assert_eq!(again[..2], first[2..]);
    assert_eq!(again.iter().map(|r| r.0).collect::<Vec<_>>(), [2, 3, 4, 5]);
    assert!(pair.cached_seqs().is_empty());
    pair.rewind();
    assert_eq!(pair.read(10, 1 << 20).len(), 4);
    pair.commit(5);
    pair.assert_same();
}

#[test]
fn drop_oldest_removes_dropped_records_from_the_tail() {
    let pair = Pair::new(opts(1 << 20, 1 << 16), 1 << 20);
    for seq in 0..8 {
        pair.append(&payload(seq, 100));
    }
    pair.read(2, 1 << 20);
    // frees records 0..=4 (2 read, 3 cached and unread)
    let dropped = pair.drop_oldest(5 * (100 + FRAME_OVERHEAD));
    assert_eq!(dropped.records, 5);
    assert_eq!(pair.cached_seqs(), [5, 6, 7]);
    let (seq, _) = pair
        .cached
        .append_dropping_oldest(&payload(8, 100))
        .unwrap();
    pair.plain.append_dropping_oldest(&payload(8, 100)).unwrap();
    assert_eq!(seq, 8);
    assert_eq!(
        pair.read(10, 1 << 20)
            .iter()
            .map(|r| r.0)
            .collect::<Vec<_>>(),
        [5, 6, 7, 8]
    );
    pair.drop_oldest(u64::MAX);
    assert!(pair.cached_seqs().is_empty());
    pair.assert_same();
}

#[test]
fn append_dropping_oldest_at_the_bound_keeps_tail_and_file_in_step() {
    let frame = 100 + FRAME_OVERHEAD;
    let pair = Pair::new(opts(4 * frame, SEGMENT_HEADER_LEN + 3 * frame), 1 << 20);
    for seq in 0..10 {
        let a = pair
            .cached
            .append_bytes_dropping_oldest(Bytes::from(payload(seq, 100)))
            .unwrap();
        let b = pair
            .plain
            .append_dropping_oldest(&payload(seq, 100))
            .unwrap();
        assert_eq!(a, b);
        if seq % 3 == 0 {
            pair.read(1, 1);
        }
    }
    assert_eq!(pair.cached_seqs(), [7, 8, 9]);
    let rest = pair.read(10, 1 << 20);
    assert_eq!(rest.last().map(|r| r.0), Some(9));
    assert!(pair.cached_seqs().is_empty());
    pair.assert_same();
}

#[test]
fn reopen_starts_with_an_empty_tail_and_reads_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(1 << 20, 1 << 12);
    let (q, _) = Queue::open(dir.path(), o).unwrap();
    q.set_memory_tail_bytes(1 << 20);
    for seq in 0..30 {
        q.append(&payload(seq, 90)).unwrap();
    }
    let first = owned(q.read_batch(5, 1 << 20).unwrap());
    q.commit(first[4].0).unwrap();
    assert_eq!(q.lock().tail.seqs().len(), 25);
    drop(q);
    let (q, report) = Queue::open(dir.path(), o).unwrap();
    assert_eq!(report.pending_records, 25);
    q.set_memory_tail_bytes(1 << 20);
    assert!(q.lock().tail.seqs().is_empty());
    let rest = owned(q.read_batch(100, 1 << 20).unwrap());
    let want: Vec<(Seq, Vec<u8>)> = (5..30).map(|s| (s, payload(s, 90))).collect();
    assert_eq!(rest, want);
    // new appends after the reopen are cached again
    assert_eq!(q.append(b"new").unwrap(), 30);
    assert_eq!(q.lock().tail.seqs(), [30]);
}

#[test]
fn corruption_before_cached_records_loses_them_as_the_file_does() {
    // One segment; the tail holds the last three records. Record 1 is damaged in both files:
    // reading cuts the rest of the segment away, cached records included.
    let frame = 60 + FRAME_OVERHEAD;
    let pair = Pair::new(opts(1 << 20, 1 << 16), 3 * tail::cost(60));
    for seq in 0..6 {
        pair.append(&payload(seq, 60));
    }
    assert_eq!(pair.cached_seqs(), [3, 4, 5]);
    for q in [&pair.cached, &pair.plain] {
        let path = q.dir().join(format::segment_file_name(0));
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[(SEGMENT_HEADER_LEN + frame + FRAME_OVERHEAD + 3) as usize] ^= 0x55;
        std::fs::write(&path, &bytes).unwrap();
    }
    assert_eq!(pair.read(10, 1 << 20).len(), 1);
    assert!(pair.cached_seqs().is_empty());
    assert_eq!(pair.cached.stats().snapshot().corrupt_records, 5);
    // the queue moves on to a new segment, and caches there
    assert_eq!(pair.append(b"after"), 6);
    assert_eq!(pair.cached_seqs(), [6]);
    assert_eq!(pair.read(10, 1 << 20), [(6, b"after".to_vec())]);
    pair.assert_same();
}

/// A record length: mostly small records, some large, a few empty.
fn record_len(rng: &mut Rng) -> usize {
    match rng.below(10) {
        0 => 0,
        1 | 2 => rng.below(3000),
        _ => rng.below(200),
    }
}

#[test]
fn random_operations_give_identical_results_with_and_without_the_tail() {
    // non-empty batches by source: [file only, file and memory, memory only]
    let mut served = [0u32; 3];
    for seed in 1..=40u64 {
        let mut rng = Rng::new(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let segment = 256 + rng.below_u64(8000);
        let budget = match seed % 4 {
            0 => usize::MAX,
            1 => 1 << 20,
            _ => rng.below(6000),
        };
        let pair = Pair::new(opts(20_000 + rng.below_u64(40_000), segment), budget);
        let mut tag = 0u64;
        for _ in 0..300 {
            tag += 1;
            match rng.below(12) {
                0..=3 => {
                    let p = payload(tag, record_len(&mut rng));
                    let a = pair.cached.append(&p).ok();
                    assert_eq!(a, pair.plain.append(&p).ok(), "seed {seed}");
                }
                4 => {
                    let n = rng.below(20);
                    let ps: Vec<Vec<u8>> = (0..n)
                        .map(|i| payload(tag + i as u64, record_len(&mut rng)))
                        .collect();
                    let a = pair.cached.append_batch(&ps).ok();
                    assert_eq!(a, pair.plain.append_batch(&ps).ok(), "seed {seed}");
                }
                5 => {
                    let p = payload(tag, record_len(&mut rng));
                    let cut = p.len() / 2;
                    let a = pair.cached.append_parts(&[&p[..cut], &p[cut..]]).ok();
                    assert_eq!(a, pair.plain.append_parts(&[&p]).ok(), "seed {seed}");
                }
                6 => {
                    let p = payload(tag, record_len(&mut rng));
                    let a = pair
                        .cached
                        .append_bytes_dropping_oldest(Bytes::from(p.clone()))
                        .ok();
                    let b = pair.plain.append_dropping_oldest(&p).ok();
                    assert_eq!(a, b, "seed {seed}");
                }
                7..=9 => {
                    let max_records = 1 + rng.below(30);
                    let max_bytes = 1 + rng.below_u64(5000);
                    let cached = pair.cached_seqs();
                    let batch = pair.read(max_records, max_bytes);
                    let from_memory = batch.iter().filter(|r| cached.contains(&r.0)).count();
                    if !batch.is_empty() {
                        let kind = match from_memory {
                            0 => 0,
                            n if n < batch.len() => 1,
                            _ => 2,
                        };
                        served[kind] += 1;
                    }
                    if let Some((last, _)) = batch.last() {
                        match rng.below(3) {
                            0 => pair.commit(*last),
                            1 => pair.commit(batch[0].0),
                            _ => {}
                        }
                    }
                }
                10 => pair.rewind(),
                _ => {
                    pair.drop_oldest(rng.below_u64(4000));
                }
            }
            pair.assert_same();
        }
        // Drain: whatever is left comes out the same.
        loop {
            let batch = pair.read(50, 1 << 20);
            let Some((last, _)) = batch.last() else {
                break;
            };
            pair.commit(*last);
        }
        pair.assert_same();
    }
    println!("batches by source: {served:?}");
    assert!(served.iter().all(|&n| n > 20), "{served:?}");
}
