#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `kill -9` tests for the durable queue.
//!
//! The parent re-executes this test binary with `SOLDER_QUEUE_CRASH_CHILD` set, which turns the
//! `crash_child` test into a child process that works on a queue and reports on stdout every
//! operation that returned `Ok`. The parent kills it with SIGKILL at varying moments, reopens the
//! queue and checks that everything reported is there, intact and in order.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use solder_core::queue::{FsyncPolicy, Queue, QueueOptions, Seq};

const CHILD_ENV: &str = "SOLDER_QUEUE_CRASH_CHILD";
const DIR_ENV: &str = "SOLDER_QUEUE_CRASH_DIR";
/// Consumer child: after reporting its n-th read, stall before committing (to be killed there).
const STALL_ENV: &str = "SOLDER_QUEUE_CRASH_STALL_AT_READ";

/// Small segments so that the children cross many segment boundaries.
fn options() -> QueueOptions {
    QueueOptions {
        max_bytes: 1 << 30,
        segment_bytes: 16 << 10,
        fsync: FsyncPolicy::Never,
    }
}

/// The payload of the record with sequence `seq`: self-describing, with varying lengths
/// (including empty) so frames straddle segment and page boundaries differently.
fn payload(seq: Seq) -> Vec<u8> {
    let len = (seq * 37 % 1500) as usize;
    if len == 0 {
        return Vec::new();
    }
    let mut out = format!("{seq}:").into_bytes();
    out.extend((0..len).map(|i| (seq as usize * 31 + i) as u8));
    out
}

/// Runs in the child process only (a no-op test otherwise).
#[test]
fn crash_child() {
    let Ok(mode) = std::env::var(CHILD_ENV) else {
        return;
    };
    let dir = std::env::var(DIR_ENV).unwrap();
    let (q, _) = Queue::open(&dir, options()).unwrap();
    let stall_at_read: Option<usize> = std::env::var(STALL_ENV).ok().map(|n| n.parse().unwrap());
    let mut reads = 0usize;
    let mut out = std::io::stdout().lock();
    writeln!(out, "OPENED").unwrap();
    out.flush().unwrap();
    match mode.as_str() {
        "append" => loop {
            let expected = q.next_seq();
            let seq = q.append(&payload(expected)).unwrap();
            assert_eq!(seq, expected);
            writeln!(out, "APPENDED {seq}").unwrap();
            out.flush().unwrap();
        },
        "append_batch" => loop {
            // batches of 1..=17 records, each reported once the whole batch returned
            let first = q.next_seq();
            let n = first % 17 + 1;
            let payloads: Vec<Vec<u8>> = (first..first + n).map(payload).collect();
            assert_eq!(q.append_batch(&payloads).unwrap(), first);
            for seq in first..first + n {
                writeln!(out, "APPENDED {seq}").unwrap();
            }
            out.flush().unwrap();
        },
        "both" => {
            // a writer thread and a consumer on the same queue, as in a real writer component;
            // each takes the stdout lock per report
            drop(out);
            let writer = {
                let q = q.clone();
                std::thread::spawn(move || loop {
                    let expected = q.next_seq();
                    let seq = q.append(&payload(expected)).unwrap();
                    assert_eq!(seq, expected);
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "APPENDED {seq}").unwrap();
                    out.flush().unwrap();
                })
            };
            loop {
                let batch = q.read_batch(50, 1 << 20).unwrap();
                let Some(&(last, _)) = batch.last() else {
                    assert!(!writer.is_finished(), "writer died");
                    std::thread::yield_now();
                    continue;
                };
                for (seq, bytes) in &batch {
                    assert_eq!(bytes.as_ref(), payload(*seq).as_slice());
                }
                q.commit(last).unwrap();
                let mut out = std::io::stdout().lock();
                writeln!(out, "COMMITTED {last}").unwrap();
                out.flush().unwrap();
            }
        }
        "consume" => loop {
            reads += 1;
            let batch = q.read_batch(10, 1 << 20).unwrap();
            let Some(&(last, _)) = batch.last() else {
                writeln!(out, "DRAINED").unwrap();
                out.flush().unwrap();
                std::thread::sleep(Duration::from_secs(60));
                return;
            };
            for (seq, bytes) in &batch {
                assert_eq!(bytes.as_ref(), payload(*seq).as_slice());
            }
            writeln!(out, "READ {last}").unwrap();
            out.flush().unwrap();
            if stall_at_read == Some(reads) {
                std::thread::sleep(Duration::from_secs(60));
            }
            q.commit(last).unwrap();
            writeln!(out, "COMMITTED {last}").unwrap();
            out.flush().unwrap();
        },
        other => panic!("unknown child mode {other}"),
    }
}

fn spawn_child(mode: &str, dir: &Path, stall_at_read: Option<usize>) -> Child {
    let mut command = Command::new(std::env::current_exe().unwrap());
    if let Some(n) = stall_at_read {
        command.env(STALL_ENV, n.to_string());
    }
    command
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, mode)
        .env(DIR_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// Reads the child's report lines until `stop` says so (or the child ends), kills it with
/// SIGKILL, and returns every line it managed to print. A watchdog kills a child that stops
/// talking, so a hung child fails the test instead of hanging it.
fn run_and_kill(mut child: Child, mut stop: impl FnMut(&str) -> bool) -> Vec<String> {
    let stdout = child.stdout.take().unwrap();
    let child = Arc::new(Mutex::new(child));
    let finished = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let child = Arc::clone(&child);
        let finished = Arc::clone(&finished);
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            while !finished.load(Ordering::Relaxed) {
                if Instant::now() > deadline {
                    let _ = child.lock().unwrap().kill();
                    return true;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            false
        })
    };
    let mut lines = BufReader::new(stdout).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = stop(&line);
        seen.push(line);
        if done {
            break;
        }
    }
    {
        let mut child = child.lock().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }
    finished.store(true, Ordering::Relaxed);
    assert!(
        !watchdog.join().unwrap(),
        "child stopped reporting and was killed by the watchdog"
    );
    // whatever the child printed before it died is still in the pipe
    seen.extend(lines.map_while(Result::ok));
    seen
}

fn numbers(lines: &[String], prefix: &str) -> Vec<Seq> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix(prefix))
        .map(|n| n.trim().parse().unwrap())
        .collect()
}

/// Everything unacknowledged in the queue, checked for order and integrity.
fn read_everything(q: &Queue) -> Vec<Seq> {
    let mut seqs = Vec::new();
    loop {
        let batch = q.read_batch(1000, 4 << 20).unwrap();
        if batch.is_empty() {
            return seqs;
        }
        for (seq, bytes) in batch {
            assert_eq!(
                bytes.as_ref(),
                payload(seq).as_slice(),
                "record {seq} delivered damaged"
            );
            if let Some(&prev) = seqs.last() {
                assert!(seq > prev, "record {seq} delivered after {prev}");
            }
            seqs.push(seq);
        }
    }
}

#[test]
fn kill_during_appends_loses_nothing_acknowledged() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut acknowledged: BTreeSet<Seq> = BTreeSet::new();
    // Kill after this many acknowledged appends in each round: from "while still opening" to
    // "deep into many segments". Rounds share the directory, so each also recovers from the
    // previous crash.
    let rounds = [
        ("append", 0usize),
        ("append", 1),
        ("append_batch", 1),
        ("append", 37),
        ("append_batch", 300),
        ("append", 400),
        ("append", 2500),
        ("append_batch", 5000),
        ("append", 6000),
    ];
    for (round, (mode, kill_after)) in rounds.into_iter().enumerate() {
        let child = spawn_child(mode, dir, None);
        let mut count = 0usize;
        let lines = run_and_kill(child, |line| {
            if kill_after == 0 {
                return true; // kill as soon as the child says anything
            }
            if line.starts_with("APPENDED") {
                count += 1;
            }
            count >= kill_after
        });
        let reported = numbers(&lines, "APPENDED ");
        assert!(
            reported.len() >= kill_after,
            "round {round}: child reported {} appends",
            reported.len()
        );
        acknowledged.extend(reported.iter().copied());

        let (q, report) = Queue::open(dir, options()).unwrap();
        assert_eq!(
            report.corrupt_records, 0,
            "round {round}: a process crash must not corrupt data: {report:?}"
        );
        let present: BTreeSet<Seq> = read_everything(&q).into_iter().collect();
        let missing: Vec<&Seq> = acknowledged.difference(&present).collect();
        assert!(
            missing.is_empty(),
            "round {round}: acknowledged appends lost: {missing:?} ({report:?})"
        );
        // nothing is acknowledged by the consumer here, so everything stays pending
        assert_eq!(q.pending_records() as usize, present.len());
    }
    assert!(
        acknowledged.len() > 6000,
        "children appended {}",
        acknowledged.len()
    );
}

#[test]
fn kill_between_read_and_commit_redelivers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    const TOTAL: Seq = 3000;
    {
        let (q, _) = Queue::open(dir, options()).unwrap();
        for seq in 0..TOTAL {
            assert_eq!(q.append(&payload(seq)).unwrap(), seq);
        }
    }
    let mut last_committed: Option<Seq> = None;
    // Each round kills the consumer right after it reported reading its n-th batch: either
    // while it is known to stall before committing that batch (`stall`), or wherever it happens
    // to be (before, during or after the commit).
    let rounds = [
        (1usize, true),
        (3, false),
        (20, true),
        (7, false),
        (50, false),
        (4, true),
    ];
    for (round, (kill_at_read, stall)) in rounds.into_iter().enumerate() {
        let child = spawn_child("consume", dir, stall.then_some(kill_at_read));
        let mut reads = 0usize;
        let lines = run_and_kill(child, |line| {
            if line.starts_with("READ ") {
                reads += 1;
            }
            reads >= kill_at_read
        });
        assert!(
            !lines.iter().any(|l| l == "DRAINED"),
            "round {round}: ran out of data"
        );
        let committed = numbers(&lines, "COMMITTED ");
        let read = numbers(&lines, "READ ");
        if let Some(&c) = committed.last() {
            last_committed = Some(c);
        }
        let last_read = *read.last().expect("the child read something");
        let floor = last_committed.map_or(0, |c| c + 1);

        let (q, report) = Queue::open(dir, options()).unwrap();
        assert_eq!(report.corrupt_records, 0, "round {round}");
        let redelivered = read_everything(&q);
        drop(q);
        let first = *redelivered.first().expect("records remain");
        // nothing after the first redelivered record is missing
        assert_eq!(
            redelivered,
            (first..TOTAL).collect::<Vec<_>>(),
            "round {round}: gap in redelivered records"
        );
        if stall {
            // killed between read and commit: the whole uncommitted batch comes back, and
            // nothing committed does
            assert_eq!(
                first, floor,
                "round {round}: after read {last_read}, committed {last_committed:?}"
            );
            assert!(redelivered.contains(&last_read));
        } else {
            // the last batch's commit may or may not have happened before the kill
            assert!(
                first == floor || first == last_read + 1,
                "round {round}: first redelivered {first}, committed {last_committed:?}, read {last_read}"
            );
            last_committed = first.checked_sub(1);
        }
    }
    assert!(
        last_committed.is_some(),
        "the consumers committed something"
    );
}

#[test]
fn kill_with_concurrent_writer_and_consumer() {
    const BATCH: Seq = 50; // the child's read_batch size
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut appended: BTreeSet<Seq> = BTreeSet::new();
    let mut next_unacked: Seq = 0;
    for (round, kill_after) in [5usize, 300, 2000, 50, 4000].into_iter().enumerate() {
        let child = spawn_child("both", dir, None);
        let mut count = 0usize;
        let lines = run_and_kill(child, |line| {
            if line.starts_with("APPENDED") {
                count += 1;
            }
            count >= kill_after
        });
        appended.extend(numbers(&lines, "APPENDED "));
        if let Some(&c) = numbers(&lines, "COMMITTED ").last() {
            next_unacked = c + 1;
        }

        let (q, report) = Queue::open(dir, options()).unwrap();
        assert_eq!(report.corrupt_records, 0, "round {round}");
        let delivered = read_everything(&q);
        drop(q);
        let first = delivered.first().copied().unwrap_or(report.next_seq);
        // A returned commit is never undone; at most the one batch whose commit returned but
        // was not reported before the kill is missing in addition.
        assert!(
            first >= next_unacked && first <= next_unacked + BATCH,
            "round {round}: reported commits up to {next_unacked}, delivery starts at {first}"
        );
        // every acknowledged append from there on is still there
        let present: BTreeSet<Seq> = delivered.iter().copied().collect();
        let lost: Vec<&Seq> = appended
            .range(first..)
            .filter(|s| !present.contains(s))
            .collect();
        assert!(lost.is_empty(), "round {round}: lost {lost:?}");
        next_unacked = first;
    }
}
