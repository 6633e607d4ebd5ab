#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Durable queue throughput: append (FsyncPolicy::Never, so this measures framing, CRC and the
//! write syscall into the page cache) and read + commit, for small (200 B) and large (16 KiB)
//! records; append immediately followed by read + commit (a sender keeping up), with the
//! memory tail off and on; and what the tail adds to appends during a backlog. The plain
//! append and read_commit cases run with the tail off. Byte throughput is payload bytes;
//! records/s = bytes/s divided by the record size.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use solder_core::queue::{FsyncPolicy, Queue, QueueOptions, DEFAULT_MEMORY_TAIL_BYTES};

const SIZES: [(&str, usize); 2] = [("200B", 200), ("16KiB", 16 << 10)];
/// Memory tail off (records read back from the segment file) and on (the default budget).
const TAIL_MODES: [(&str, usize); 2] = [("file", 0), ("tail", DEFAULT_MEMORY_TAIL_BYTES)];
/// Data appended between reclaiming passes, so a long measurement does not fill the disk.
const RECLAIM_EVERY_BYTES: usize = 64 << 20;

fn open_queue(dir: &std::path::Path) -> Queue {
    let (queue, _) = Queue::open(
        dir,
        QueueOptions {
            max_bytes: 1 << 40,
            segment_bytes: 64 << 20,
            fsync: FsyncPolicy::Never,
        },
    )
    .unwrap();
    queue
}

/// A queue in a fresh temporary directory with a memory tail of `tail_bytes` (0: off). Bind
/// it as `let (_dir, queue) = ...`: the directory is declared first, so it is dropped (and
/// deleted) after the queue.
fn queue_with_tail(tail_bytes: usize) -> (tempfile::TempDir, Queue) {
    let dir = tempfile::tempdir().unwrap();
    let queue = open_queue(dir.path());
    queue.set_memory_tail_bytes(tail_bytes);
    (dir, queue)
}

fn record(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3) as u8).collect()
}

fn bench_append(c: &mut Criterion) {
    let mut group = c.benchmark_group("queue/append");
    for (name, len) in SIZES {
        let dir = tempfile::tempdir().unwrap();
        let queue = open_queue(dir.path());
        let payload = record(len);
        let per_pass = (RECLAIM_EVERY_BYTES / len) as u64;
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter_custom(|iters| {
                let mut measured = Duration::ZERO;
                let mut done = 0;
                while done < iters {
                    let n = per_pass.min(iters - done);
                    let start = Instant::now();
                    for _ in 0..n {
                        queue.append(&payload).unwrap();
                    }
                    measured += start.elapsed();
                    // not measured: free the disk again
                    queue.drop_oldest(u64::MAX).unwrap();
                    done += n;
                }
                measured
            });
        });
    }
    group.finish();
}

/// `append_batch` of 100 small records per call: what a writer that queues a whole push
/// request (or scrape) gets per record.
fn bench_append_batch(c: &mut Criterion) {
    const PER_CALL: usize = 100;
    let mut group = c.benchmark_group("queue/append_batch100");
    let (name, len) = SIZES[0];
    let dir = tempfile::tempdir().unwrap();
    let queue = open_queue(dir.path());
    let payloads: Vec<Vec<u8>> = (0..PER_CALL).map(|_| record(len)).collect();
    let per_pass = (RECLAIM_EVERY_BYTES / (len * PER_CALL)) as u64;
    group.throughput(Throughput::Bytes((len * PER_CALL) as u64));
    group.bench_function(BenchmarkId::from_parameter(name), |b| {
        b.iter_custom(|iters| {
            let mut measured = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                let n = per_pass.min(iters - done);
                let start = Instant::now();
                for _ in 0..n {
                    queue.append_batch(&payloads).unwrap();
                }
                measured += start.elapsed();
                queue.drop_oldest(u64::MAX).unwrap();
                done += n;
            }
            measured
        });
    });
    group.finish();
}

fn bench_read_commit(c: &mut Criterion) {
    let mut group = c.benchmark_group("queue/read_commit");
    for (name, len) in SIZES {
        let dir = tempfile::tempdir().unwrap();
        let queue = open_queue(dir.path());
        let payload = record(len);
        let per_pass = (RECLAIM_EVERY_BYTES / len) as u64;
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter_custom(|iters| {
                let mut measured = Duration::ZERO;
                let mut done = 0;
                while done < iters {
                    let n = per_pass.min(iters - done);
                    // not measured: the data to consume
                    for _ in 0..n {
                        queue.append(&payload).unwrap();
                    }
                    let start = Instant::now();
                    let mut got = 0;
                    while got < n {
                        // batches as a remote-write sender would take them
                        let batch = queue.read_batch(2000, 1 << 20).unwrap();
                        let (last, _) = batch.last().expect("records were appended");
                        queue.commit(*last).unwrap();
                        got += batch.len() as u64;
                    }
                    measured += start.elapsed();
                    done += n;
                }
                measured
            });
        });
    }
    group.finish();
}

/// Append one record, then read and commit it at once: the steady state of a sender that keeps
/// up with its writer (remote_write WAL, OTLP sending_queue), where the record is read back
/// milliseconds after it was written. Measures append + read + commit per record, reading from
/// the file (memory tail off: what every queue did before the tail) and from the memory tail.
fn bench_append_read_fresh(c: &mut Criterion) {
    let mut group = c.benchmark_group("queue/append_read_fresh");
    for (mode, tail) in TAIL_MODES {
        for (name, len) in SIZES {
            let (_dir, queue) = queue_with_tail(tail);
            let payload = record(len);
            group.throughput(Throughput::Bytes(len as u64));
            group.bench_function(BenchmarkId::new(mode, name), |b| {
                b.iter(|| {
                    queue.append(&payload).unwrap();
                    let batch = queue.read_batch(2000, 1 << 20).unwrap();
                    let (last, _) = batch.last().expect("a record was appended");
                    queue.commit(*last).unwrap();
                    batch.len()
                });
            });
        }
    }
    group.finish();
}

/// As `append_read_fresh` with the memory tail on, but appending with `append_bytes`: the tail
/// keeps the caller's buffer instead of a copy (a writer that builds each record for the queue
/// can hand it over as `Bytes::from(vec)`).
fn bench_append_bytes_read_fresh(c: &mut Criterion) {
    let mut group = c.benchmark_group("queue/append_bytes_read_fresh");
    for (name, len) in SIZES {
        let (_dir, queue) = queue_with_tail(DEFAULT_MEMORY_TAIL_BYTES);
        let payload = bytes::Bytes::from(record(len));
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(BenchmarkId::new("tail", name), |b| {
            b.iter(|| {
                queue.append_bytes(payload.clone()).unwrap();
                let batch = queue.read_batch(2000, 1 << 20).unwrap();
                let (last, _) = batch.last().expect("a record was appended");
                queue.commit(*last).unwrap();
                batch.len()
            });
        });
    }
    group.finish();
}

/// The OTLP sending queue's pattern: a record appended in two parts (item count + request),
/// read one record at a time (`read_batch(1, 1)`), committed.
fn bench_append_parts_read_one(c: &mut Criterion) {
    let mut group = c.benchmark_group("queue/append_parts_read_one");
    for (mode, tail) in TAIL_MODES {
        for (name, len) in SIZES {
            let (_dir, queue) = queue_with_tail(tail);
            let body = record(len);
            let header = 7u64.to_le_bytes();
            group.throughput(Throughput::Bytes(len as u64));
            group.bench_function(BenchmarkId::new(mode, name), |b| {
                b.iter(|| {
                    queue.append_parts(&[&header, &body]).unwrap();
                    let batch = queue.read_batch(1, 1).unwrap();
                    queue.commit(batch[0].0).unwrap();
                    batch.len()
                });
            });
        }
    }
    group.finish();
}

/// What the tail adds to an append whose record is never read while cached (a backlog: every
/// append copies its payload and evicts an old copy).
fn bench_append_tail_backlog(c: &mut Criterion) {
    let mut group = c.benchmark_group("queue/append_tail_backlog");
    for (name, len) in SIZES {
        let (_dir, queue) = queue_with_tail(DEFAULT_MEMORY_TAIL_BYTES);
        let payload = record(len);
        let per_pass = (RECLAIM_EVERY_BYTES / len) as u64;
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter_custom(|iters| {
                let mut measured = Duration::ZERO;
                let mut done = 0;
                while done < iters {
                    let n = per_pass.min(iters - done);
                    let start = Instant::now();
                    for _ in 0..n {
                        queue.append(&payload).unwrap();
                    }
                    measured += start.elapsed();
                    queue.drop_oldest(u64::MAX).unwrap();
                    done += n;
                }
                measured
            });
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    bench_append,
    bench_append_batch,
    bench_read_commit,
    bench_append_read_fresh,
    bench_append_bytes_read_fresh,
    bench_append_parts_read_one,
    bench_append_tail_backlog
);
criterion_main!(benches);
