//! `Queue::append_parts` must be indistinguishable from `Queue::append` of the concatenated
//! parts: same files on disk, same sequences, same bound and errors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn opts(max_bytes: u64, segment_bytes: u64) -> QueueOptions {
    QueueOptions {
        max_bytes,
        segment_bytes,
        fsync: FsyncPolicy::Never,
    }
}

/// Records of varied sizes, each split into parts in a different way (including empty parts).
fn records() -> Vec<Vec<Vec<u8>>> {
    (0..40u8)
        .map(|i| {
            let body: Vec<u8> = (0..(i as usize * 37) % 500).map(|j| i ^ j as u8).collect();
            let cut = body.len() / 3;
            match i % 4 {
                0 => vec![body],
                1 => vec![i.to_le_bytes().to_vec(), body],
                2 => vec![Vec::new(), body[..cut].to_vec(), body[cut..].to_vec()],
                _ => vec![body[..cut].to_vec(), Vec::new(), body[cut..].to_vec()],
            }
        })
        .collect()
}

fn dir_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".seg"))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn append_parts_writes_what_append_of_the_concatenation_writes() {
    let whole = tempfile::tempdir().unwrap();
    let parts = tempfile::tempdir().unwrap();
    // Small segments so that records roll over to new files on both paths.
    let o = opts(1 << 20, 2048);
    let (qa, _) = Queue::open(whole.path(), o).unwrap();
    let (qb, _) = Queue::open(parts.path(), o).unwrap();
    for r in records() {
        let joined = r.concat();
        let slices: Vec<&[u8]> = r.iter().map(Vec::as_slice).collect();
        assert_eq!(
            qa.append(&joined).unwrap(),
            qb.append_parts(&slices).unwrap()
        );
    }
    assert_eq!(qa.pending_bytes(), qb.pending_bytes());
    assert_eq!(qa.pending_records(), qb.pending_records());
    assert_eq!(qa.stats().snapshot(), qb.stats().snapshot());
    assert!(dir_files(whole.path()).len() > 2);
    assert_eq!(dir_files(whole.path()), dir_files(parts.path()));

    // The records read back (and, after reopening, pass recovery's CRC checks) intact.
    drop(qb);
    let (qb, report) = Queue::open(parts.path(), o).unwrap();
    assert_eq!(report.torn_tail_bytes, 0);
    assert_eq!(report.corrupt_records, 0);
    let mut read = Vec::new();
    loop {
        let batch = qb.read_batch(5, 1 << 20).unwrap();
        if batch.is_empty() {
            break;
        }
        read.extend(batch.into_iter().map(|(_, b)| b.to_vec()));
    }
    let expected: Vec<Vec<u8>> = records().into_iter().map(|r| r.concat()).collect();
    assert_eq!(read, expected);
}

#[test]
fn append_parts_respects_the_bound_like_append() {
    let dir = tempfile::tempdir().unwrap();
    let (q, _) = Queue::open(dir.path(), opts(100, 4096)).unwrap();
    let a = [0u8; 30];
    // 2 × (30 + 30 + 8) = 136 > 100: the second does not fit.
    q.append_parts(&[&a, &a]).unwrap();
    assert!(matches!(
        q.append_parts(&[&a, &a]),
        Err(QueueError::Full { .. })
    ));
    assert!(matches!(
        q.append_parts(&[&[0u8; 60], &[0u8; 40]]),
        Err(QueueError::RecordTooLarge {
            size: 108,
            limit: 100
        })
    ));
    let s = q.stats().snapshot();
    assert_eq!((s.appended_records, s.refused_records), (1, 2));
    assert_eq!(s.refused_bytes, 68 + 108);
}
