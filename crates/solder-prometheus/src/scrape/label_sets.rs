//! The distinct label sets of one target's scrape cache, and which of them the last scrapes
//! appended (Prometheus's staleness tracking).
//!
//! Several raw spellings can build one label set (`le="1"` and `le="1.0"`), and staleness is
//! about label sets, so the cache's keys point at a set here by number. Sets live in one vector
//! in the order they were first seen, so a steady-state scrape touches them sequentially; the
//! sets appended by a scrape are a list of numbers plus a mark on each set, instead of a map
//! from set to labels rebuilt on every scrape.

use solder_core::signals::metrics::Labels;
use std::collections::HashMap;

type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

struct LabelSet {
    labels: Labels,
    /// Cache keys building this set; the set is dropped when the last one goes.
    keys: u32,
    /// The scrape iteration that appended (and tracked) this set; 0 = not in this scrape.
    tracked: u64,
}

/// See the module documentation.
#[derive(Default)]
pub struct LabelSets {
    sets: Vec<Option<LabelSet>>,
    free: Vec<u32>,
    by_labels: Map<Labels, u32>,
    /// Sets tracked by the last successful scrape / by this one.
    prev: Vec<u32>,
    cur: Vec<u32>,
    /// Sets created since the last [`LabelSets::relocate`] pass / during this scrape.
    created: usize,
    created_now: usize,
}

impl LabelSets {
    /// Number of sets.
    pub fn len(&self) -> usize {
        self.by_labels.len()
    }

    /// The set for `labels`, created if new, with one more key using it. `None` only when
    /// 2^32 sets exist (more than memory can hold).
    pub fn acquire(&mut self, labels: &Labels) -> Option<u32> {
        if let Some(&at) = self.by_labels.get(labels) {
            if let Some(set) = self.sets.get_mut(at as usize).and_then(Option::as_mut) {
                set.keys += 1;
            }
            return Some(at);
        }
        let set = LabelSet {
            labels: labels.clone(),
            keys: 1,
            tracked: 0,
        };
        let at = match self.free.pop() {
            Some(at) => {
                self.sets[at as usize] = Some(set);
                at
            }
            None => {
                let at = u32::try_from(self.sets.len()).ok()?;
                self.sets.push(Some(set));
                at
            }
        };
        self.by_labels.insert(labels.clone(), at);
        self.created += 1;
        self.created_now += 1;
        Some(at)
    }

    /// Slot count (set numbers are below it).
    pub fn slot_count(&self) -> usize {
        self.sets.len()
    }

    /// Whether the sets settled since many were created: none new in this scrape, but at least
    /// an eighth of them created since the last relocation pass.
    pub fn wants_relocation(&self) -> bool {
        self.created_now == 0 && self.created > 0 && self.created * 8 >= self.len()
    }

    /// Gives set `at` a fresh copy of its labels and returns it. Called for the sets in scrape
    /// order, this puts their allocations next to each other: the one memory access per
    /// sample the cache cannot avoid (the reference count of the sample's labels) then walks
    /// memory in order and the hardware prefetcher hides it, instead of missing the cache.
    pub fn relocate(&mut self, at: u32) -> Option<Labels> {
        let set = self.sets.get_mut(at as usize)?.as_mut()?;
        let fresh = set.labels.fresh_copy();
        // The map keeps its first key on insert: replace the entry to hold the new copy.
        self.by_labels.remove(&set.labels);
        self.by_labels.insert(fresh.clone(), at);
        set.labels = fresh.clone();
        Some(fresh)
    }

    /// A relocation pass is complete.
    pub fn relocated(&mut self) {
        self.created = 0;
    }

    /// The labels of set `at` (tests).
    #[cfg(test)]
    pub fn labels(&self, at: u32) -> Option<&Labels> {
        self.sets
            .get(at as usize)
            .and_then(Option::as_ref)
            .map(|s| &s.labels)
    }

    /// One key fewer uses the set; the last one drops it.
    pub fn release(&mut self, at: u32) {
        let Some(slot) = self.sets.get_mut(at as usize) else {
            return;
        };
        let Some(set) = slot.as_mut() else {
            return;
        };
        set.keys = set.keys.saturating_sub(1);
        if set.keys == 0 {
            if let Some(set) = slot.take() {
                self.by_labels.remove(&set.labels);
            }
            self.free.push(at);
        }
    }

    /// The set was appended by scrape `iter`: it is compared against in the next one.
    pub fn track(&mut self, at: u32, iter: u64) {
        if let Some(set) = self.sets.get_mut(at as usize).and_then(Option::as_mut) {
            if set.tracked != iter {
                set.tracked = iter;
                self.cur.push(at);
            }
        }
    }

    /// Forgets what this scrape tracked (it failed and was rolled back).
    pub fn clear_current(&mut self) {
        for &at in &self.cur {
            if let Some(set) = self.sets.get_mut(at as usize).and_then(Option::as_mut) {
                set.tracked = 0;
            }
        }
        self.cur.clear();
    }

    /// Calls `stale` with each set tracked by the last successful scrape but not by `iter`.
    pub fn for_each_stale(&self, iter: u64, mut stale: impl FnMut(&Labels)) {
        for &at in &self.prev {
            if let Some(set) = self.sets.get(at as usize).and_then(Option::as_ref) {
                if set.tracked != iter {
                    stale(&set.labels);
                }
            }
        }
    }

    /// Sets the last successful scrape would mark stale.
    pub fn tracked(&self) -> usize {
        self.prev.len()
    }

    /// The end of a scrape: what it tracked becomes what the next one is compared against
    /// (nothing, after a failed scrape, whose tracking was cleared).
    pub fn rotate(&mut self) {
        std::mem::swap(&mut self.prev, &mut self.cur);
        self.cur.clear();
        self.created_now = 0;
    }

    /// Every key was dropped (a format change): the sets stay, unused, so a series present in
    /// both bodies keeps its identity; [`LabelSets::drop_unused`] removes the others later.
    pub fn orphan_all(&mut self) {
        for set in self.sets.iter_mut().flatten() {
            set.keys = 0;
        }
    }

    pub fn drop_unused(&mut self) {
        for (at, slot) in self.sets.iter_mut().enumerate() {
            if slot.as_ref().is_some_and(|s| s.keys == 0) {
                if let Some(set) = slot.take() {
                    self.by_labels.remove(&set.labels);
                }
                self.free.push(at as u32);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(name: &str) -> Labels {
        Labels::new(vec![("__name__".into(), name.into())])
    }

    fn stale(s: &LabelSets, iter: u64) -> Vec<String> {
        let mut out = Vec::new();
        s.for_each_stale(iter, |l| {
            out.push(l.get("__name__").unwrap_or("").to_string())
        });
        out.sort();
        out
    }

    #[test]
    fn equal_labels_share_a_set_until_the_last_key_goes() {
        let mut s = LabelSets::default();
        let a = s.acquire(&l("a")).unwrap();
        assert_eq!(s.acquire(&l("a")), Some(a));
        let b = s.acquire(&l("b")).unwrap();
        assert_ne!(a, b);
        s.release(a);
        assert_eq!(s.labels(a), Some(&l("a")));
        s.release(a);
        assert_eq!(s.labels(a), None);
        assert_eq!(s.len(), 1);
        // The free slot is reused by the next new set.
        assert_eq!(s.acquire(&l("c")), Some(a));
        assert_eq!(s.labels(a), Some(&l("c")));
    }

    #[test]
    fn staleness_compares_the_last_scrape_with_this_one() {
        let mut s = LabelSets::default();
        let a = s.acquire(&l("a")).unwrap();
        let b = s.acquire(&l("b")).unwrap();
        s.track(a, 1);
        s.track(b, 1);
        s.track(b, 1);
        assert_eq!(stale(&s, 1), Vec::<String>::new());
        s.rotate();
        assert_eq!(s.tracked(), 2);
        s.track(a, 2);
        assert_eq!(stale(&s, 2), ["b"]);
        // Rolled back: everything of the last good scrape is stale.
        s.clear_current();
        assert_eq!(stale(&s, 2), ["a", "b"]);
        s.rotate();
        assert_eq!(s.tracked(), 0);
    }

    #[test]
    fn relocation_keeps_identity_and_tracking() {
        let mut s = LabelSets::default();
        let a = s.acquire(&l("a")).unwrap();
        let b = s.acquire(&l("b")).unwrap();
        assert!(!s.wants_relocation(), "sets created in this scrape");
        s.track(a, 1);
        s.track(b, 1);
        s.rotate();
        assert!(s.wants_relocation());
        let copy = s.relocate(a).unwrap();
        s.relocated();
        assert!(!s.wants_relocation());
        assert_eq!(copy, l("a"));
        assert_eq!(s.labels(a), Some(&l("a")));
        // Found by content as before, and the index holds one entry per set.
        assert_eq!(s.acquire(&l("a")), Some(a));
        assert_eq!(s.len(), 2);
        s.track(b, 2);
        assert_eq!(stale(&s, 2), ["a"]);
    }

    #[test]
    fn orphaned_sets_keep_identity_until_dropped() {
        let mut s = LabelSets::default();
        let a = s.acquire(&l("a")).unwrap();
        let b = s.acquire(&l("b")).unwrap();
        s.orphan_all();
        assert_eq!(s.acquire(&l("a")), Some(a));
        s.drop_unused();
        assert_eq!(s.labels(b), None);
        assert_eq!(s.labels(a), Some(&l("a")));
        assert_eq!(s.len(), 1);
    }
}
