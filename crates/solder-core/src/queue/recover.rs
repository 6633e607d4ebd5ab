//! Rebuilding the queue state from its directory at open.

use std::collections::VecDeque;
use std::fs::{self, OpenOptions};
use std::io;
use std::path::Path;

use super::cursor::{self, CursorWriter, Loaded};
use super::format::{
    parse_segment_file_name, segment_file_name, CURSOR_FILE, SEGMENT_HEADER_LEN, SPARE_FILE,
};
use super::scan::{scan_segment, SegmentScan, Tail};
use super::state::{
    create_segment, new_segment_id, remove_file_if_exists, retire_segment, sync_dir, Pos, Segment,
    State,
};
use super::{io_err, CursorRecovery, FsyncPolicy, QueueError, QueueOptions, RecoveryReport, Seq};

/// Reads the cursor and every segment, repairs what a crash can leave behind (torn tail,
/// half-created segment, stale temporary cursor), cuts corrupt data away, deletes what is
/// acknowledged and returns the state positioned at the oldest unacknowledged record.
pub(super) fn recover(
    dir: &Path,
    opts: QueueOptions,
) -> Result<(State, RecoveryReport), QueueError> {
    let mut report = RecoveryReport::default();
    let cursor_path = dir.join(CURSOR_FILE);
    let loaded = cursor::load(&cursor_path)?;
    let (stored_cursor, last_generation) = match loaded {
        Loaded::Missing => {
            report.cursor = CursorRecovery::Missing;
            (None, 0)
        }
        Loaded::Corrupt => {
            tracing::warn!(path = %cursor_path.display(), "durable queue: corrupt cursor, re-delivering from the oldest data");
            report.cursor = CursorRecovery::Corrupt;
            (None, 0)
        }
        Loaded::Valid {
            next_unacked,
            generation,
            one_slot_damaged,
        } => {
            report.cursor = if one_slot_damaged {
                CursorRecovery::OneCopyDamaged
            } else {
                CursorRecovery::Valid
            };
            (Some(next_unacked), generation)
        }
    };
    // Without a trustworthy cursor every record counts as unacknowledged: re-delivery is
    // acceptable, loss is not.
    let ack_hint = stored_cursor.unwrap_or(0);
    // (see `keep_spare` for why only with a valid cursor)
    let spare_allowed = stored_cursor.is_some();
    let mut spare = keep_spare(dir, spare_allowed, opts.segment_bytes);
    // Deletes an acknowledged (or stale) segment at `path`, or keeps it as the spare.
    let retire = |path: &Path, spare: &mut bool| {
        retire_segment(
            dir,
            path,
            spare_allowed.then_some(spare),
            opts.segment_bytes,
        )
        .map_err(io_err("remove segment", path))
    };

    let firsts = list_segments(dir)?;
    let mut kept: Vec<(Segment, SegmentScan)> = Vec::with_capacity(firsts.len());
    for (i, &first_seq) in firsts.iter().enumerate() {
        let next_first = firsts.get(i + 1).copied();
        let path = dir.join(segment_file_name(first_seq));
        let scan = scan_segment(&path, first_seq, ack_hint, next_first)
            .map_err(io_err("scan segment", &path))?;
        if !scan.header_ok {
            if next_first.is_none() && scan.file_len < SEGMENT_HEADER_LEN {
                // Crash between creating the newest segment and writing its header.
                report.torn_tail_bytes += scan.file_len;
            } else if next_first.is_none() && scan.unfinished_reuse {
                // A reused file whose new header never reached the disk: no record was
                // written to it (appends come after the header), it is all old content.
                report.stale_bytes += scan.file_len;
                retire(&path, &mut spare)?;
                continue;
            } else {
                report.corrupt_segments += 1;
                report.corrupt_bytes += scan.file_len;
                report.corrupt_records += next_first.map_or(0, |n| n - first_seq);
                tracing::warn!(segment = %path.display(), "durable queue: segment header invalid, segment discarded");
            }
            remove_file_if_exists(&path).map_err(io_err("remove segment", &path))?;
            continue;
        }
        if scan.valid_len < scan.file_len {
            let cut = scan.file_len - scan.valid_len;
            if scan.tail == Tail::Stale {
                // Old content of a reused file behind its records: not data, not damage.
                report.stale_bytes += cut;
            } else if next_first.is_none() && scan.tail == Tail::Torn {
                report.torn_tail_bytes += cut;
            } else {
                report.corrupt_bytes += cut;
                // With a following segment the gap in sequences says exactly how many
                // records were lost; in the newest segment at least one was.
                report.corrupt_records += next_first.map_or(1, |n| n - (first_seq + scan.records));
                tracing::warn!(segment = %path.display(), offset = scan.valid_len, "durable queue: corrupt record, rest of segment discarded");
            }
            // Behind a finished segment's records old content is never read (reads stop at
            // the valid length) nor written over, so it stays; the newest segment is cut to
            // its data as after a torn write (appends continue there).
            if next_first.is_none() || scan.tail != Tail::Stale {
                OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .and_then(|f| f.set_len(scan.valid_len))
                    .map_err(io_err("truncate segment", &path))?;
            }
        }
        kept.push((
            Segment {
                id: new_segment_id(),
                first_seq,
                records: scan.records,
                len: scan.valid_len,
                salt: scan.salt,
            },
            scan,
        ));
    }

    let next_seq = kept
        .last()
        .map_or(ack_hint, |(s, _)| s.first_seq + s.records);
    if stored_cursor.is_some_and(|c| c > next_seq) {
        // Acknowledged records that no longer exist (lost with a torn tail): nothing to redo.
        report.cursor = CursorRecovery::Ahead;
    }
    let pending_records: u64 = kept.iter().map(|(_, scan)| scan.pending_records).sum();
    let pending_bytes: u64 = kept.iter().map(|(_, scan)| scan.pending_bytes).sum();

    let (segments, ack) = if pending_records == 0 {
        // Everything is acknowledged: start a fresh segment where the sequence left off, so
        // sequences keep increasing across restarts.
        let start = next_seq.max(ack_hint);
        let reusable =
            kept.len() == 1 && kept[0].0.first_seq == start && kept[0].0.len == SEGMENT_HEADER_LEN;
        let mut segments = VecDeque::new();
        if reusable {
            segments.push_back(kept[0].0.clone());
        } else {
            for (seg, _) in &kept {
                let path = dir.join(segment_file_name(seg.first_seq));
                retire(&path, &mut spare)?;
            }
            drop(create_segment(dir, start, opts.fsync)?);
            segments.push_back(Segment::new_empty(start));
        }
        (segments, Pos::start_of(start))
    } else {
        let first_pending = kept
            .iter()
            .position(|(_, scan)| scan.pending_records > 0)
            .unwrap_or(0);
        for (seg, _) in &kept[..first_pending] {
            let path = dir.join(segment_file_name(seg.first_seq));
            retire(&path, &mut spare)?;
        }
        let (seg, scan) = &kept[first_pending];
        let ack = Pos {
            seg_first: seg.first_seq,
            offset: scan.ack_offset.unwrap_or(SEGMENT_HEADER_LEN),
            seq: ack_hint.max(seg.first_seq),
        };
        let segments = kept[first_pending..]
            .iter()
            .map(|(seg, _)| seg.clone())
            .collect();
        (segments, ack)
    };

    let next_seq = segments
        .back()
        .map_or(ack.seq, |s: &Segment| s.first_seq + s.records);
    let active_first = segments
        .back()
        .map_or(ack.seg_first, |s: &Segment| s.first_seq);
    let active_path = dir.join(segment_file_name(active_first));
    // Not in append mode: writes name their offsets (see `State::active`).
    let active = OpenOptions::new()
        .write(true)
        .open(&active_path)
        .map_err(io_err("open segment", &active_path))?;
    let mut cursor = CursorWriter::open(cursor_path, last_generation, opts.fsync)?;
    cursor.store(ack.seq)?;
    if opts.fsync != FsyncPolicy::Never {
        sync_dir(dir)?;
    }

    report.segments = segments.len();
    report.pending_records = pending_records;
    report.pending_bytes = pending_bytes;
    report.next_unacked = ack.seq;
    report.next_seq = next_seq;
    let state = State::new(
        dir.to_path_buf(),
        opts,
        segments,
        active,
        cursor,
        next_seq,
        ack,
        pending_bytes,
        pending_records,
        spare,
    );
    Ok((state, report))
}

/// Whether the spare file a previous run left (see `State::take_spare`) is kept for reuse;
/// one that is not is deleted. It is kept only with a trustworthy cursor: the frames in a
/// reused file are told from its old ones by the first sequence, which must therefore be
/// larger than any the file held before, and only a valid cursor guarantees that sequences
/// did not start over. A spare larger than a segment (an older, larger `segment_bytes`) is
/// not kept either, which bounds the disk use.
fn keep_spare(dir: &Path, cursor_valid: bool, segment_bytes: u64) -> bool {
    let path = dir.join(SPARE_FILE);
    match fs::metadata(&path) {
        Ok(m) if cursor_valid && m.is_file() && m.len() <= segment_bytes => true,
        Err(err) if err.kind() == io::ErrorKind::NotFound => false,
        _ => {
            if let Err(err) = remove_file_if_exists(&path) {
                tracing::warn!(path = %path.display(), %err, "durable queue: cannot delete spare segment file");
            }
            false
        }
    }
}

/// First sequences of the segment files in `dir`, ascending. Other files are left alone.
fn list_segments(dir: &Path) -> Result<Vec<Seq>, QueueError> {
    let mut firsts = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err("list directory", dir))? {
        let entry = entry.map_err(io_err("list directory", dir))?;
        if let Some(first) = entry.file_name().to_str().and_then(parse_segment_file_name) {
            firsts.push(first);
        }
    }
    firsts.sort_unstable();
    Ok(firsts)
}
