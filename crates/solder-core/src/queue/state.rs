//! The mutable queue state behind the lock: segment list, cursors, pending counters, and the
//! operations on them (append, read, commit, drop).

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use super::cursor::CursorWriter;
use super::format::{
    decode_frame_header, encode_frame, encode_frame_header, encode_segment_header, frame_crc,
    frame_crc_parts, segment_file_name, FrameSalt, FRAME_HEADER_LEN, SEGMENT_HEADER_LEN,
    SEGMENT_VERSION, SPARE_FILE,
};
use super::tail::{MemoryTail, TailEntry};
use super::{io_err, DropReport, FsyncPolicy, QueueError, QueueOptions, QueueStats, Seq};

/// Smallest read issued by `read_batch`; small batches still read ahead this much so that
/// 200-byte records are not fetched one syscall at a time.
const MIN_READ_CHUNK: u64 = 64 << 10;
/// A frame buffer grown by one huge record is released afterwards instead of being kept.
const FRAME_BUF_KEEP: usize = 4 << 20;
/// A batch append issues one write per this many bytes (and per segment), bounding the buffer.
const WRITE_GROUP_BYTES: usize = 1 << 20;

/// One segment file as far as valid data goes.
#[derive(Debug, Clone)]
pub(super) struct Segment {
    /// Unique per file created or opened (a replaced file keeps its name but not its id), so
    /// a cached read handle is never used on the wrong file.
    pub id: u64,
    pub first_seq: Seq,
    /// Valid records in the file, starting at `first_seq`.
    pub records: u64,
    /// Header plus valid records, in bytes. Bytes after it (discarded corruption, or what a
    /// reused file held before) are ignored.
    pub len: u64,
    /// What the CRCs of this segment's frames are salted with (from its header version).
    pub salt: FrameSalt,
}

impl Segment {
    /// A segment just created (or reused) by this code: no records, current format.
    pub fn new_empty(first_seq: Seq) -> Segment {
        Segment {
            id: new_segment_id(),
            first_seq,
            records: 0,
            len: SEGMENT_HEADER_LEN,
            salt: FrameSalt::for_segment(SEGMENT_VERSION, first_seq),
        }
    }
}

/// A position between records: byte `offset` inside the segment starting at `seg_first`, where
/// the record with sequence `seq` starts (or would start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Pos {
    pub seg_first: Seq,
    pub offset: u64,
    pub seq: Seq,
}

impl Pos {
    pub fn start_of(seg_first: Seq) -> Pos {
        Pos {
            seg_first,
            offset: SEGMENT_HEADER_LEN,
            seq: seg_first,
        }
    }

    fn key(self) -> (Seq, u64) {
        (self.seg_first, self.offset)
    }
}

/// A record handed out by `read_batch` and not yet committed; remembers where the
/// acknowledgement cursor goes once it is committed.
#[derive(Debug)]
struct InFlight {
    seq: Seq,
    frame_len: u64,
    after: Pos,
}

/// Where an append goes: segment `idx` (the last one, starting at `seg_first`), whose valid
/// data ends at `start_len` before the append.
struct AppendAt {
    idx: usize,
    seg_first: Seq,
    start_len: u64,
    salt: FrameSalt,
}

pub(super) struct State {
    pub dir: PathBuf,
    pub opts: QueueOptions,
    /// Oldest first; never empty; the last one is the append target.
    pub segments: VecDeque<Segment>,
    /// Write handle of the last segment (not in append mode: every write names its offset,
    /// since a reused file is longer than its data). Shared so the interval fsync can run
    /// unlocked.
    pub active: Arc<File>,
    /// The file position of `active` when known. Vectored writes (which have no positioned
    /// form on stable) go to the position, so they seek first only when it is elsewhere:
    /// a run of single appends costs no extra system call.
    active_pos: Option<u64>,
    /// Set when the last segment must not receive more data (failed write that could not be
    /// rolled back, or corruption found in it): the next append starts a new segment.
    pub active_sealed: bool,
    pub next_seq: Seq,
    /// Acknowledgement cursor: everything before it is committed (persisted in `cursor`).
    pub ack: Pos,
    /// Read cursor: everything before it has been handed out by `read_batch`.
    pub read: Pos,
    in_flight: VecDeque<InFlight>,
    /// Framed bytes and count of records at or after `ack`.
    pub pending_bytes: u64,
    pub pending_records: u64,
    cursor: CursorWriter,
    frame_buf: Vec<u8>,
    /// Copies of unread records, read instead of the file (see `tail`). Starts empty.
    pub tail: MemoryTail,
    /// Data written since the last fsync (only tracked for `FsyncPolicy::Interval`).
    pub dirty: bool,
    /// How many times segment data was forced to disk (appends, rolls, interval, spares).
    pub data_syncs: u64,
    /// Whether the spare file (`SPARE_FILE`, an acknowledged segment kept for reuse) exists.
    pub spare: bool,
}

impl State {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        dir: PathBuf,
        opts: QueueOptions,
        segments: VecDeque<Segment>,
        active: File,
        cursor: CursorWriter,
        next_seq: Seq,
        ack: Pos,
        pending_bytes: u64,
        pending_records: u64,
        spare: bool,
    ) -> State {
        State {
            dir,
            opts,
            segments,
            active: Arc::new(active),
            active_pos: None,
            active_sealed: false,
            next_seq,
            ack,
            read: ack,
            in_flight: VecDeque::new(),
            pending_bytes,
            pending_records,
            cursor,
            frame_buf: Vec::new(),
            tail: MemoryTail::new(0),
            dirty: false,
            data_syncs: 0,
            spare,
        }
    }

    pub fn segment_path(&self, first_seq: Seq) -> PathBuf {
        self.dir.join(segment_file_name(first_seq))
    }

    fn index_of(&self, first_seq: Seq) -> Option<usize> {
        self.segments
            .binary_search_by_key(&first_seq, |s| s.first_seq)
            .ok()
    }

    fn last_index(&self) -> usize {
        self.segments.len().saturating_sub(1)
    }

    /// Moves a position sitting at the end of a finished segment to the start of the next one,
    /// so positions compare and resolve uniquely.
    fn normalize(&self, mut pos: Pos) -> Pos {
        loop {
            let Some(idx) = self.index_of(pos.seg_first) else {
                // The segment is gone (only possible for a position behind `ack`): the oldest
                // remaining data is the next thing there is.
                return self
                    .segments
                    .front()
                    .map_or(pos, |s| Pos::start_of(s.first_seq));
            };
            if pos.offset >= self.segments[idx].len && idx + 1 < self.segments.len() {
                pos = Pos::start_of(self.segments[idx + 1].first_seq);
            } else {
                return pos;
            }
        }
    }

    pub fn unread_records(&self) -> u64 {
        self.pending_records
            .saturating_sub(self.in_flight.len() as u64)
    }

    // ---- append -------------------------------------------------------------------------

    /// Checks the bound for a frame of `frame_len` bytes.
    pub fn check_room(&self, frame_len: u64) -> Result<(), QueueError> {
        if self.pending_bytes.saturating_add(frame_len) > self.opts.max_bytes {
            return Err(QueueError::Full {
                pending_bytes: self.pending_bytes,
                needed: frame_len,
                max_bytes: self.opts.max_bytes,
            });
        }
        Ok(())
    }

    /// Writes records (the bound has already been checked) and returns the sequence of the
    /// first; the others follow consecutively.
    ///
    /// Frames are gathered into one buffer and written with one call per segment touched (and
    /// per `WRITE_GROUP_BYTES`): once a call returns, its records are in the OS page cache and
    /// survive the death of this process. If a write fails, the records of earlier calls stay
    /// (they will be delivered), the failed call is rolled back, and the error is returned.
    ///
    /// `cached` is either empty or holds, per payload, the copy to keep in the memory tail
    /// (`None`: not cached). A copy enters the tail only once its frame is in the file.
    pub fn write_records<P: AsRef<[u8]>>(
        &mut self,
        payloads: &[P],
        cached: &[Option<Bytes>],
    ) -> Result<Seq, QueueError> {
        let first_seq = self.next_seq;
        let mut next = 0;
        while next < payloads.len() {
            let first_frame = FRAME_HEADER_LEN + payloads[next].as_ref().len() as u64;
            let at = self.append_target(first_frame)?;

            // The group: at least one record, then as many as fit in the segment.
            self.frame_buf.clear();
            let mut group_len = at.start_len;
            let mut group_records = 0u64;
            for payload in &payloads[next..] {
                let payload = payload.as_ref();
                let frame_len = FRAME_HEADER_LEN + payload.len() as u64;
                if group_records > 0
                    && (group_len + frame_len > self.opts.segment_bytes
                        || self.frame_buf.len() >= WRITE_GROUP_BYTES)
                {
                    break;
                }
                encode_frame(&mut self.frame_buf, at.salt, payload);
                group_len += frame_len;
                group_records += 1;
            }
            let written = self.active.write_all_at(&self.frame_buf, at.start_len);
            if self.frame_buf.capacity() > FRAME_BUF_KEEP {
                self.frame_buf = Vec::new();
            }
            let group = next..next + group_records as usize;
            let copies = if cached.is_empty() {
                &[]
            } else {
                &cached[group.clone()]
            };
            let copies = payloads[group]
                .iter()
                .zip(copies)
                .map(|(payload, copy)| (payload.as_ref().len(), copy.clone()));
            self.finish_append(&at, written, group_len, group_records, copies)?;
            next += group_records as usize;
        }
        Ok(first_seq)
    }

    /// Writes one record whose payload is the concatenation of `parts` (the bound has already
    /// been checked; the total is at most `u32::MAX`) and returns its sequence.
    ///
    /// Same contract as [`State::write_records`] for one record, but the payload is never
    /// gathered into `frame_buf`: the frame header and the parts go to the file with vectored
    /// writes, so a multi-megabyte record costs no extra copy (nor the page faults of a fresh
    /// buffer that size). `cached` is the copy for the memory tail, if any.
    pub fn write_record_parts(
        &mut self,
        parts: &[&[u8]],
        cached: Option<Bytes>,
    ) -> Result<Seq, QueueError> {
        let payload_len: usize = parts.iter().map(|p| p.len()).sum();
        let frame_len = FRAME_HEADER_LEN + payload_len as u64;
        let at = self.append_target(frame_len)?;
        let header = encode_frame_header(payload_len as u32, frame_crc_parts(at.salt, parts));
        let mut slices = Vec::with_capacity(parts.len() + 1);
        slices.push(io::IoSlice::new(&header));
        slices.extend(parts.iter().map(|p| io::IoSlice::new(p)));
        let positioned = match self.active_pos {
            Some(pos) if pos == at.start_len => Ok(pos),
            _ => (&*self.active).seek(SeekFrom::Start(at.start_len)),
        };
        let written = positioned.and_then(|_| write_all_vectored(&self.active, &mut slices));
        self.active_pos = written.is_ok().then_some(at.start_len + frame_len);
        let seq = self.next_seq;
        let copies = std::iter::once((payload_len, cached));
        self.finish_append(&at, written, at.start_len + frame_len, 1, copies)?;
        Ok(seq)
    }

    /// Where the next frame of `frame_len` bytes goes: the last segment, after rolling to a new
    /// one if it is sealed or the frame would overflow it (a segment without records takes a
    /// frame of any size, so an oversized record still gets written).
    fn append_target(&mut self, frame_len: u64) -> Result<AppendAt, QueueError> {
        let last = self.last_index();
        let active_len = self.segments[last].len;
        let has_records = active_len > SEGMENT_HEADER_LEN;
        if self.active_sealed || (has_records && active_len + frame_len > self.opts.segment_bytes) {
            self.roll()?;
        }
        let idx = self.last_index();
        let seg = &self.segments[idx];
        Ok(AppendAt {
            idx,
            seg_first: seg.first_seq,
            start_len: seg.len,
            salt: seg.salt,
        })
    }

    /// Completes an append of `records` frames at `at` whose write returned `written`, the
    /// segment now ending at `end_len` bytes. A failed write is undone and reported; a
    /// successful one gets its copies into the memory tail (`copies`: per record, in order, its
    /// payload length and the copy to keep, if any), is counted, and is synced as the fsync
    /// policy asks.
    fn finish_append(
        &mut self,
        at: &AppendAt,
        written: io::Result<()>,
        end_len: u64,
        records: u64,
        copies: impl IntoIterator<Item = (usize, Option<Bytes>)>,
    ) -> Result<(), QueueError> {
        if let Err(source) = written {
            // Undo a partial write so the segment stays a clean sequence of frames (a partial
            // write may hold whole frames that would pass their checks at open); if even that
            // fails, never append to this file again.
            if self.active.set_len(at.start_len).is_err() {
                self.active_sealed = true;
            }
            return Err(QueueError::Io {
                op: "append to segment",
                path: self.segment_path(at.seg_first),
                source,
            });
        }
        self.cache_written(at, copies);
        let seg = &mut self.segments[at.idx];
        seg.len = end_len;
        seg.records += records;
        self.next_seq += records;
        self.pending_bytes += end_len - at.start_len;
        self.pending_records += records;
        match self.opts.fsync {
            FsyncPolicy::Never => {}
            FsyncPolicy::Interval(_) => self.dirty = true,
            FsyncPolicy::Always => {
                self.active.sync_data().map_err(|source| QueueError::Io {
                    op: "fsync segment",
                    path: self.segment_path(at.seg_first),
                    source,
                })?;
                self.data_syncs += 1;
            }
        }
        Ok(())
    }

    /// Puts copies of records just written at `at` into the memory tail; the first has
    /// sequence `next_seq`. `copies` gives, per record in order, its payload length (to find
    /// where the next frame starts) and the copy to keep, if any.
    fn cache_written(
        &mut self,
        at: &AppendAt,
        copies: impl IntoIterator<Item = (usize, Option<Bytes>)>,
    ) {
        let mut offset = at.start_len;
        for (i, (payload_len, copy)) in copies.into_iter().enumerate() {
            if let Some(payload) = copy {
                let seq = self.next_seq + i as u64;
                let entry = TailEntry {
                    seq,
                    seg_first: at.seg_first,
                    offset,
                    payload,
                };
                self.tail.push(entry, seq == self.read.seq);
            }
            offset += FRAME_HEADER_LEN + payload_len as u64;
        }
    }

    /// Whether some appended record is not acknowledged yet. Records are acknowledged in
    /// order, so then the newest one (in the active segment) is among them.
    pub fn holds_unacknowledged(&self) -> bool {
        self.ack.seq < self.next_seq
    }

    /// Closes the current segment and starts a new one at `next_seq`. The closed segment is
    /// synced unless the policy is `Never` or every record in the queue was acknowledged
    /// already: data the backend has is not worth a disk write (and a sender that keeps up
    /// then leaves segments to be overwritten or deleted in the page cache, never written).
    fn roll(&mut self) -> Result<(), QueueError> {
        let last = self.last_index();
        if self.opts.fsync != FsyncPolicy::Never && self.holds_unacknowledged() {
            let path = self.segment_path(self.segments[last].first_seq);
            self.active
                .sync_data()
                .map_err(io_err("fsync segment", &path))?;
            self.data_syncs += 1;
        }
        self.dirty = false;
        let first_seq = self.next_seq;
        let replaces_last = self.segments[last].first_seq == first_seq;
        if replaces_last {
            // A sealed segment without records would share the new segment's name; it holds
            // nothing, so it is simply replaced.
            let path = self.segment_path(first_seq);
            remove_file_if_exists(&path).map_err(io_err("remove segment", &path))?;
        }
        // On failure the (sealed) entry stays, so the list is never empty and the next append
        // tries again.
        let file = match self.take_spare(first_seq)? {
            Some(file) => file,
            None => create_segment(&self.dir, first_seq, self.opts.fsync)?,
        };
        if replaces_last {
            self.segments.pop_back();
        }
        self.segments.push_back(Segment::new_empty(first_seq));
        self.active = Arc::new(file);
        self.active_pos = None;
        self.active_sealed = false;
        Ok(())
    }

    /// The spare file made segment `first_seq`, if there is a spare and reusing it works
    /// (otherwise the caller creates a new file). Why reuse: writing into the cached pages of
    /// an existing file costs the kernel less than half of what a new file's pages cost
    /// (allocation on write, freeing on unlink).
    fn take_spare(&mut self, first_seq: Seq) -> Result<Option<File>, QueueError> {
        if !std::mem::take(&mut self.spare) {
            return Ok(None);
        }
        let spare = self.dir.join(SPARE_FILE);
        match reuse_spare(&self.dir, &spare, first_seq, self.opts.fsync) {
            Ok(file) => Ok(Some(file)),
            Err(SpareError::Unusable(err)) => {
                tracing::debug!(spare = %spare.display(), %err, "durable queue: spare segment file not reusable, creating a new one");
                // Best effort: a spare left behind is found (and reused or deleted) at open.
                let _ = remove_file_if_exists(&spare);
                Ok(None)
            }
            Err(SpareError::Failed(err)) => Err(err),
        }
    }

    // ---- read ---------------------------------------------------------------------------

    /// Takes the records at the read cursor that are in the memory tail, then says what the
    /// next chunk of the file should be, or `None` when the batch is full or the reader has
    /// caught up. The file is then read without holding the state lock (see
    /// `Queue::read_batch`).
    pub fn plan_read(&mut self, batch: &mut Batch) -> Option<ReadPlan> {
        self.take_from_tail(batch);
        if batch.is_full() {
            return None;
        }
        self.read = self.normalize(self.read);
        let idx = self.index_of(self.read.seg_first)?;
        let seg = &self.segments[idx];
        if self.read.offset >= seg.len {
            return None; // caught up with the writer
        }
        // Stop the chunk where cached records begin: those are taken from memory next time.
        let cached_from = match self.tail.front() {
            Some(e) if e.seg_first == seg.first_seq && e.offset > self.read.offset => e.offset,
            _ => seg.len,
        };
        let avail = cached_from.min(seg.len) - self.read.offset;
        let budget = batch.max_bytes.saturating_sub(batch.payload_bytes);
        Some(ReadPlan {
            pos: self.read,
            seg_id: seg.id,
            path: self.segment_path(seg.first_seq),
            want: avail.min(budget.saturating_add(FRAME_HEADER_LEN).max(MIN_READ_CHUNK)),
        })
    }

    /// Hands out cached records for as long as the record at the read cursor is in the memory
    /// tail, moving the cursor over their frames exactly as reading them from the file would.
    fn take_from_tail(&mut self, batch: &mut Batch) {
        loop {
            if batch.is_full() {
                return;
            }
            let Some(front) = self.tail.front() else {
                return;
            };
            if front.seq != self.read.seq {
                if front.seq < self.read.seq {
                    // Read from the file meanwhile (cannot normally happen): not needed.
                    self.tail.drop_before(self.read.seq);
                    continue;
                }
                return; // the next record is not cached: it comes from the file
            }
            if (front.seg_first, front.offset) != (self.read.seg_first, self.read.offset) {
                // The cursor may sit at the end of the previous segment: the same place.
                self.read = self.normalize(self.read);
                let Some(front) = self.tail.front() else {
                    return;
                };
                if (front.seg_first, front.offset) != (self.read.seg_first, self.read.offset) {
                    // The cache disagrees with the segment list (a bug, not data): forget it
                    // and let the file decide.
                    debug_assert!(false, "memory tail out of step with the read cursor");
                    self.tail.clear();
                    return;
                }
            }
            let Some(entry) = self.tail.pop_front() else {
                return;
            };
            let len = entry.payload.len() as u64;
            let frame_len = FRAME_HEADER_LEN + len;
            self.read = Pos {
                seg_first: entry.seg_first,
                offset: entry.offset + frame_len,
                seq: entry.seq + 1,
            };
            self.in_flight.push_back(InFlight {
                seq: entry.seq,
                frame_len,
                after: self.read,
            });
            batch.payload_bytes += len;
            batch.out.push((entry.seq, entry.payload));
        }
    }

    /// Takes the records of a chunk read according to `plan`, unless the read cursor moved in
    /// the meantime (rewind, drop) — then the chunk is stale and the caller plans again.
    pub fn apply_chunk(
        &mut self,
        plan: &ReadPlan,
        chunk: &Bytes,
        batch: &mut Batch,
        stats: &QueueStats,
    ) -> ChunkEnd {
        let idx = match self.index_of(plan.pos.seg_first) {
            Some(idx) if self.read == plan.pos && self.segments[idx].id == plan.seg_id => idx,
            _ => return ChunkEnd::Stale,
        };
        self.parse_chunk(idx, chunk, batch, stats)
    }

    /// Takes frames from `chunk` (which starts at the read cursor of segment `idx`).
    fn parse_chunk(
        &mut self,
        idx: usize,
        chunk: &Bytes,
        batch: &mut Batch,
        stats: &QueueStats,
    ) -> ChunkEnd {
        let seg_len = self.segments[idx].len;
        let mut off = 0usize;
        while !batch.is_full() {
            let seg_left = seg_len - self.read.offset;
            if seg_left == 0 {
                break;
            }
            if seg_left < FRAME_HEADER_LEN {
                self.discard_tail(idx, self.read, stats);
                break;
            }
            if chunk.len() - off < FRAME_HEADER_LEN as usize {
                break;
            }
            let mut header = [0u8; FRAME_HEADER_LEN as usize];
            header.copy_from_slice(&chunk[off..off + FRAME_HEADER_LEN as usize]);
            let (len, stored_crc) = decode_frame_header(header);
            let frame_len = FRAME_HEADER_LEN + u64::from(len);
            if frame_len > seg_left {
                self.discard_tail(idx, self.read, stats);
                break;
            }
            if (off as u64) + frame_len > chunk.len() as u64 {
                if off == 0 {
                    return ChunkEnd::NeedWholeFrame(frame_len);
                }
                break;
            }
            let start = off + FRAME_HEADER_LEN as usize;
            let end = off + frame_len as usize;
            let payload = chunk.slice(start..end);
            if frame_crc(self.segments[idx].salt, &payload) != stored_crc {
                self.discard_tail(idx, self.read, stats);
                break;
            }
            let seq = self.read.seq;
            self.read = Pos {
                seg_first: self.read.seg_first,
                offset: self.read.offset + frame_len,
                seq: seq + 1,
            };
            self.in_flight.push_back(InFlight {
                seq,
                frame_len,
                after: self.read,
            });
            batch.payload_bytes += u64::from(len);
            batch.out.push((seq, payload));
            off = end;
        }
        ChunkEnd::Done
    }

    /// Gives up on the rest of segment `idx` from `at` on: a record there failed its CRC (or
    /// its length runs past the data), and without a trustworthy length nothing after it can
    /// be framed. The records are counted as lost; reading resumes at the next segment.
    fn discard_tail(&mut self, idx: usize, at: Pos, stats: &QueueStats) {
        let is_last = idx == self.last_index();
        let seg = &mut self.segments[idx];
        let lost_bytes = seg.len.saturating_sub(at.offset);
        let lost_records = (seg.first_seq + seg.records).saturating_sub(at.seq);
        seg.len = at.offset;
        seg.records = at.seq.saturating_sub(seg.first_seq);
        let first_seq = seg.first_seq;
        self.tail.drop_cut(first_seq, at.seq);
        self.pending_bytes = self.pending_bytes.saturating_sub(lost_bytes);
        self.pending_records = self.pending_records.saturating_sub(lost_records);
        stats
            .corrupt_records
            .fetch_add(lost_records, Ordering::Relaxed);
        stats.corrupt_bytes.fetch_add(lost_bytes, Ordering::Relaxed);
        if is_last {
            self.active_sealed = true;
        }
        tracing::warn!(
            segment = %self.segment_path(first_seq).display(),
            offset = at.offset,
            lost_records,
            lost_bytes,
            "durable queue: corrupt record, skipping the rest of the segment"
        );
    }

    /// Forgets what was read but not committed, so the next `read_batch` starts again at the
    /// acknowledgement cursor.
    pub fn rewind(&mut self) {
        self.in_flight.clear();
        self.read = self.ack;
    }

    // ---- acknowledge / drop --------------------------------------------------------------

    /// Acknowledges every record up to and including `seq`. Returns how many records that was.
    pub fn commit(&mut self, seq: Seq) -> Result<u64, QueueError> {
        if seq < self.ack.seq {
            return Ok(0);
        }
        if seq >= self.read.seq {
            return Err(QueueError::CommitBeyondRead {
                seq,
                read_next: self.read.seq,
            });
        }
        let mut records = 0u64;
        let mut bytes = 0u64;
        while let Some(front) = self.in_flight.front() {
            if front.seq > seq {
                break;
            }
            records += 1;
            bytes += front.frame_len;
            self.ack = front.after;
            self.in_flight.pop_front();
        }
        if records == 0 {
            return Ok(0);
        }
        self.pending_bytes = self.pending_bytes.saturating_sub(bytes);
        self.pending_records = self.pending_records.saturating_sub(records);
        self.settle_ack()?;
        Ok(records)
    }

    /// Discards the oldest unacknowledged records until at least `bytes` framed bytes are freed
    /// (or nothing is left).
    pub fn drop_oldest(
        &mut self,
        bytes: u64,
        stats: &QueueStats,
    ) -> Result<DropReport, QueueError> {
        let mut dropped = DropReport::default();
        while dropped.bytes < bytes && self.pending_records > 0 {
            self.ack = self.normalize(self.ack);
            let Some(idx) = self.index_of(self.ack.seg_first) else {
                break;
            };
            let seg = &self.segments[idx];
            let left = seg.len.saturating_sub(self.ack.offset);
            if left == 0 {
                break;
            }
            let is_last = idx == self.last_index();
            if !is_last && left <= bytes - dropped.bytes {
                // The whole rest of a finished segment goes: no need to walk its frames.
                dropped.records += (seg.first_seq + seg.records).saturating_sub(self.ack.seq);
                dropped.bytes += left;
                self.ack = Pos::start_of(self.segments[idx + 1].first_seq);
                continue;
            }
            if left < FRAME_HEADER_LEN {
                self.discard_tail(idx, self.ack, stats);
                continue;
            }
            let header_bytes = read_exact_at(
                &mut File::open(self.segment_path(self.ack.seg_first)).map_err(io_err(
                    "open segment",
                    &self.segment_path(self.ack.seg_first),
                ))?,
                &self.segment_path(self.ack.seg_first),
                self.ack.offset,
                FRAME_HEADER_LEN,
            )?;
            let mut header = [0u8; FRAME_HEADER_LEN as usize];
            header.copy_from_slice(&header_bytes);
            let (len, _) = decode_frame_header(header);
            let frame_len = FRAME_HEADER_LEN + u64::from(len);
            if frame_len > left {
                self.discard_tail(idx, self.ack, stats);
                continue;
            }
            dropped.records += 1;
            dropped.bytes += frame_len;
            self.ack = Pos {
                seg_first: self.ack.seg_first,
                offset: self.ack.offset + frame_len,
                seq: self.ack.seq + 1,
            };
        }
        if dropped.records == 0 {
            return Ok(dropped);
        }
        self.pending_bytes = self.pending_bytes.saturating_sub(dropped.bytes);
        self.pending_records = self.pending_records.saturating_sub(dropped.records);
        while self.in_flight.front().is_some_and(|f| f.seq < self.ack.seq) {
            self.in_flight.pop_front();
        }
        if self.read.key() < self.ack.key() {
            self.read = self.ack;
        }
        // Dropped records leave the memory tail too.
        self.tail.drop_before(self.read.seq);
        stats
            .dropped_records
            .fetch_add(dropped.records, Ordering::Relaxed);
        stats
            .dropped_bytes
            .fetch_add(dropped.bytes, Ordering::Relaxed);
        self.settle_ack()?;
        Ok(dropped)
    }

    /// After the acknowledgement cursor moved: persist it, then delete the segments entirely
    /// behind it. In that order, so a crash in between leaves segments the cursor already
    /// skips rather than a cursor pointing into deleted data.
    fn settle_ack(&mut self) -> Result<(), QueueError> {
        self.ack = self.normalize(self.ack);
        if self.read.key() < self.ack.key() {
            self.read = self.ack;
        }
        self.tail.drop_before(self.read.seq);
        self.persist_cursor()?;
        while self.segments.len() > 1 && self.segments[0].first_seq < self.ack.seg_first {
            let first_seq = self.segments[0].first_seq;
            let path = self.segment_path(first_seq);
            let retired = retire_segment(
                &self.dir,
                &path,
                Some(&mut self.spare),
                self.opts.segment_bytes,
            );
            if let Err(err) = retired {
                // Harmless for correctness (the cursor is past it and reopening deletes it),
                // but the disk space stays in use.
                tracing::warn!(segment = %path.display(), %err, "durable queue: cannot delete acknowledged segment");
            }
            self.segments.pop_front();
        }
        Ok(())
    }

    /// Writes the acknowledgement cursor (see `cursor` for why this is crash-safe).
    pub fn persist_cursor(&mut self) -> Result<(), QueueError> {
        self.cursor.store(self.ack.seq)
    }

    pub fn sync_cursor(&self) -> Result<(), QueueError> {
        self.cursor.sync()
    }

    /// Flushes the append segment to stable storage.
    pub fn sync_active(&mut self) -> Result<(), QueueError> {
        let last = self.last_index();
        let path = self.segment_path(self.segments[last].first_seq);
        self.active
            .sync_data()
            .map_err(io_err("fsync segment", &path))?;
        self.data_syncs += 1;
        self.dirty = false;
        Ok(())
    }
}

impl Drop for State {
    fn drop(&mut self) {
        if self.dirty && self.holds_unacknowledged() {
            // Best effort: an interval policy promises a bounded window, closing ends it.
            let _ = self.active.sync_data();
        }
    }
}

/// Records collected by one `read_batch` call.
pub(super) struct Batch {
    pub out: Vec<(Seq, Bytes)>,
    payload_bytes: u64,
    max_records: usize,
    max_bytes: u64,
}

impl Batch {
    pub fn new(max_records: usize, max_bytes: u64) -> Batch {
        Batch {
            out: Vec::new(),
            payload_bytes: 0,
            max_records,
            max_bytes,
        }
    }

    /// Full once either limit is reached; an empty batch always takes one record so that a
    /// record larger than `max_bytes` still gets through.
    fn is_full(&self) -> bool {
        self.out.len() >= self.max_records
            || (!self.out.is_empty() && self.payload_bytes >= self.max_bytes)
    }
}

pub(super) enum ChunkEnd {
    Done,
    /// The first frame of the chunk is larger than the chunk: read it whole.
    NeedWholeFrame(u64),
    /// The read cursor moved while the chunk was read: plan again.
    Stale,
}

/// Which bytes the next read of a batch takes.
pub(super) struct ReadPlan {
    pos: Pos,
    seg_id: u64,
    path: PathBuf,
    pub want: u64,
}

/// The read side's file handle, kept across batches (outside the state lock).
#[derive(Default)]
pub(super) struct SegmentReader {
    cached: Option<(u64, File)>,
}

impl SegmentReader {
    pub fn read(&mut self, plan: &ReadPlan) -> Result<Bytes, QueueError> {
        let file = match &mut self.cached {
            Some((id, file)) if *id == plan.seg_id => file,
            slot => {
                let file = File::open(&plan.path).map_err(io_err("open segment", &plan.path))?;
                &mut slot.insert((plan.seg_id, file)).1
            }
        };
        read_exact_at(file, &plan.path, plan.pos.offset, plan.want)
    }
}

/// Reads exactly `len` bytes at `offset` into one shared buffer.
fn read_exact_at(file: &mut File, path: &Path, offset: u64, len: u64) -> Result<Bytes, QueueError> {
    let mut buf = Vec::with_capacity(len as usize);
    let got = file
        .seek(SeekFrom::Start(offset))
        .and_then(|_| Read::by_ref(file).take(len).read_to_end(&mut buf))
        .map_err(io_err("read segment", path))?;
    if (got as u64) < len {
        return Err(QueueError::Io {
            op: "read segment",
            path: path.to_path_buf(),
            source: io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "segment file is shorter than the data written to it",
            ),
        });
    }
    Ok(Bytes::from(buf))
}

/// `write_all` for vectored writes (the std one is unstable): retries short writes and
/// interruptions until every slice is written.
fn write_all_vectored(file: &File, mut slices: &mut [io::IoSlice<'_>]) -> io::Result<()> {
    while !slices.is_empty() {
        match (&*file).write_vectored(slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => io::IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A process-wide unique id for a segment file (see `Segment::id`).
pub(super) fn new_segment_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

pub(super) fn remove_file_if_exists(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}

/// Why a spare file could not become a segment.
enum SpareError {
    /// Nothing changed under a segment name: create a new file instead.
    Unusable(io::Error),
    /// The spare became the segment but syncing the directory failed (reported like the same
    /// failure of `create_segment`; the file was removed again so a retry can create it).
    Failed(QueueError),
}

/// Makes the spare file `spare` segment `first_seq`, ready for appending: the new header
/// (flagged as reused) goes in first, then the file gets the segment's name, so a crash leaves
/// either a spare or a segment with a valid header, never a segment named after a header
/// that is not its own (recovery copes with that too, for a machine crash without fsync).
/// Not truncated: the old content stays behind the valid data (rejected by its salt) and
/// is overwritten as records arrive.
fn reuse_spare(
    dir: &Path,
    spare: &Path,
    first_seq: Seq,
    fsync: FsyncPolicy,
) -> Result<File, SpareError> {
    let file = OpenOptions::new()
        .write(true)
        .open(spare)
        .map_err(SpareError::Unusable)?;
    file.write_all_at(&encode_segment_header(first_seq, true), 0)
        .map_err(SpareError::Unusable)?;
    if fsync == FsyncPolicy::Always {
        // The header must be on disk before the name is, or recovery after a machine crash
        // could take records synced since for a stale spare's. Under an interval policy those
        // records are not promised to the disk before the next tick anyway, which syncs the
        // header with them; syncing here would also write the spare's old content, whose
        // records were acknowledged (see `State::roll`).
        file.sync_data().map_err(SpareError::Unusable)?;
    }
    let path = dir.join(segment_file_name(first_seq));
    fs::rename(spare, &path).map_err(SpareError::Unusable)?;
    if fsync != FsyncPolicy::Never {
        if let Err(err) = sync_dir(dir) {
            let _ = remove_file_if_exists(&path);
            return Err(SpareError::Failed(err));
        }
    }
    Ok(file)
}

/// Gets rid of an acknowledged segment file: it becomes the spare if a spare may be kept
/// (`spare` is given), there is none yet, and the file is no larger than a segment (so a file
/// grown by one oversized record is not kept); otherwise it is deleted. Fails only when the
/// deletion does.
pub(super) fn retire_segment(
    dir: &Path,
    path: &Path,
    spare: Option<&mut bool>,
    segment_bytes: u64,
) -> io::Result<()> {
    if let Some(spare) = spare.filter(|s| !**s) {
        if fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() <= segment_bytes) {
            // The spare name is free (no spare), so this is no replacing rename (which ext4
            // follows with a forced writeback).
            match fs::rename(path, dir.join(SPARE_FILE)) {
                Ok(()) => {
                    *spare = true;
                    return Ok(());
                }
                Err(err) => {
                    tracing::debug!(segment = %path.display(), %err, "durable queue: cannot keep acknowledged segment as spare, deleting it");
                }
            }
        }
    }
    remove_file_if_exists(path)
}

/// Creates segment `first_seq` with its header, ready for appending.
pub(super) fn create_segment(
    dir: &Path,
    first_seq: Seq,
    fsync: FsyncPolicy,
) -> Result<File, QueueError> {
    let path = dir.join(segment_file_name(first_seq));
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(io_err("create segment", &path))?;
    file.write_all(&encode_segment_header(first_seq, false))
        .map_err(io_err("write segment header", &path))?;
    if fsync != FsyncPolicy::Never {
        file.sync_all().map_err(io_err("fsync segment", &path))?;
        sync_dir(dir)?;
    }
    Ok(file)
}

/// Makes file creations and deletions in `dir` durable.
pub(super) fn sync_dir(dir: &Path) -> Result<(), QueueError> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err("fsync directory", dir))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}
