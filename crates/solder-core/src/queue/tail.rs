//! The memory tail: copies of recently appended records that have not been read yet, so a
//! sender that keeps up with its writer gets them without a `read` syscall, a copy out of the
//! page cache and a CRC check.
//!
//! The tail is only a cache of the segment files, which stay the truth: a record enters it
//! after its frame was written (durability is decided by the file, exactly as without the
//! tail), it leaves as soon as it is read (a rewind reads it from the file again), and whatever
//! is not in it is read from the file. It starts empty at open, so recovery never sees it.
//!
//! Entries remember where their frame sits in the file, so the read cursor can move over them
//! exactly as if the frame had been read. They are ordered by sequence and all lie at or after
//! the read cursor; they need not be contiguous (a copied record too large for the budget is
//! not cached, and reading goes to the file for it; a record handed over as `Bytes` is kept
//! whatever its size when the reader has caught up, alone if it exceeds the budget).

use std::collections::VecDeque;

use bytes::Bytes;

use super::Seq;

/// Bytes counted per entry on top of its payload: the entry itself, so that a flood of tiny
/// records cannot hold far more memory than the budget says.
pub(super) const ENTRY_OVERHEAD: usize = std::mem::size_of::<TailEntry>();

/// One cached record.
#[derive(Debug, Clone)]
pub(super) struct TailEntry {
    pub seq: Seq,
    /// First sequence of the segment holding the frame.
    pub seg_first: Seq,
    /// Byte offset of the frame (its header) in that segment.
    pub offset: u64,
    pub payload: Bytes,
}

/// Memory a cached payload of `len` bytes is charged against the budget.
pub(super) fn cost(len: usize) -> usize {
    len.saturating_add(ENTRY_OVERHEAD)
}

/// Cached unread records, oldest first, bounded by a byte budget (see [`cost`]).
#[derive(Debug, Default)]
pub(super) struct MemoryTail {
    entries: VecDeque<TailEntry>,
    bytes: usize,
    budget: usize,
}

impl MemoryTail {
    pub fn new(budget: usize) -> MemoryTail {
        MemoryTail {
            entries: VecDeque::new(),
            bytes: 0,
            budget,
        }
    }

    #[cfg(test)]
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// Changes the budget, evicting the oldest entries until the rest fits (0 empties it).
    pub fn set_budget(&mut self, budget: usize) {
        self.budget = budget;
        self.evict_to(budget);
        if budget == 0 {
            // Give the ring's allocation back too: a disabled tail should cost nothing.
            self.entries = VecDeque::new();
        }
    }

    /// Caches a record that was just written, evicting the oldest entries to make room. A
    /// record larger than the whole budget is kept only when the reader is `caught_up` (it is
    /// the next record to be read), and then alone: the queue offers such records only when the
    /// caller handed over its own buffer (`append_bytes`), so the tail holds at most one record
    /// beyond its budget, one the caller had allocated anyway, and only for as long as the
    /// reader takes to pick it up. Behind a backlog it would be evicted unread by the next one
    /// while keeping the caller from reusing its buffer. A record that is not newer than the
    /// newest entry (which would break the ordering the reader relies on), or any record while
    /// the tail is off, is not cached.
    pub fn push(&mut self, entry: TailEntry, caught_up: bool) {
        if self.budget == 0 || self.entries.back().is_some_and(|b| b.seq >= entry.seq) {
            return;
        }
        let charge = cost(entry.payload.len());
        if charge > self.budget && !caught_up {
            return;
        }
        self.evict_to(self.budget.saturating_sub(charge));
        self.bytes += charge;
        self.entries.push_back(entry);
    }

    /// The most the tail may hold: its budget, or one record larger than that on its own.
    #[cfg(test)]
    pub fn holds_at_most(&self) -> usize {
        match self.entries.front() {
            Some(e) if self.entries.len() == 1 => self.budget.max(cost(e.payload.len())),
            _ => self.budget,
        }
    }

    pub fn front(&self) -> Option<&TailEntry> {
        self.entries.front()
    }

    pub fn pop_front(&mut self) -> Option<TailEntry> {
        let entry = self.entries.pop_front()?;
        self.bytes -= cost(entry.payload.len());
        Some(entry)
    }

    /// Drops entries before `seq` (records that were read from the file, or dropped).
    pub fn drop_before(&mut self, seq: Seq) {
        while self.entries.front().is_some_and(|e| e.seq < seq) {
            self.pop_front();
        }
    }

    /// Drops the entries of segment `seg_first` from sequence `from` on: that part of the
    /// segment was cut away (corruption found in the file), so those records are lost there
    /// and must not be delivered from memory either.
    pub fn drop_cut(&mut self, seg_first: Seq, from: Seq) {
        let mut freed = 0;
        self.entries.retain(|e| {
            let cut = e.seg_first == seg_first && e.seq >= from;
            if cut {
                freed += cost(e.payload.len());
            }
            !cut
        });
        self.bytes -= freed;
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }

    /// Bytes charged by the cached entries.
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    #[cfg(test)]
    pub fn seqs(&self) -> Vec<Seq> {
        self.entries.iter().map(|e| e.seq).collect()
    }

    fn evict_to(&mut self, limit: usize) {
        while self.bytes > limit {
            if self.pop_front().is_none() {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn entry(seq: Seq, len: usize) -> TailEntry {
        TailEntry {
            seq,
            seg_first: 0,
            offset: 24 + seq * 100,
            payload: Bytes::from(vec![seq as u8; len]),
        }
    }

    #[test]
    fn evicts_oldest_first_within_the_budget() {
        let mut tail = MemoryTail::new(3 * cost(10));
        for seq in 0..5 {
            tail.push(entry(seq, 10), false);
            assert!(tail.bytes() <= tail.budget());
        }
        assert_eq!(tail.seqs(), [2, 3, 4]);
        assert_eq!(tail.bytes(), 3 * cost(10));
        // A larger record pushes out as many old ones as it needs.
        tail.push(entry(5, 10 + cost(10)), false);
        assert_eq!(tail.seqs(), [4, 5]);
    }

    #[test]
    fn keeps_a_record_over_the_budget_alone_and_refuses_out_of_order() {
        let mut tail = MemoryTail::new(cost(100));
        tail.push(entry(0, 40), false);
        // Over the budget behind a backlog: not kept; with the reader caught up: kept alone.
        tail.push(entry(1, 101), false);
        assert_eq!(tail.seqs(), [0]);
        tail.push(entry(1, 101), true);
        assert_eq!(tail.seqs(), [1]);
        assert_eq!(tail.bytes(), cost(101));
        assert_eq!(tail.holds_at_most(), cost(101));
        tail.push(entry(3, 10), false);
        assert_eq!(tail.seqs(), [3]);
        tail.push(entry(2, 10), false);
        tail.push(entry(3, 10), false);
        assert_eq!(tail.seqs(), [3]);
        // Off means off, whatever the size.
        tail.set_budget(0);
        tail.push(entry(4, 1), true);
        assert!(tail.seqs().is_empty());
    }

    #[test]
    fn drops_read_and_cut_records_and_keeps_the_count() {
        let mut tail = MemoryTail::new(1 << 20);
        for seq in 0..10 {
            tail.push(
                TailEntry {
                    seg_first: if seq < 6 { 0 } else { 6 },
                    ..entry(seq, 7)
                },
                false,
            );
        }
        tail.drop_before(2);
        assert_eq!(tail.seqs(), [2, 3, 4, 5, 6, 7, 8, 9]);
        tail.drop_cut(0, 4);
        assert_eq!(tail.seqs(), [2, 3, 6, 7, 8, 9]);
        assert_eq!(tail.bytes(), 6 * cost(7));
        tail.set_budget(2 * cost(7));
        assert_eq!(tail.seqs(), [8, 9]);
        tail.set_budget(0);
        assert!(tail.seqs().is_empty());
        assert_eq!(tail.bytes(), 0);
    }
}
