//! The raw series keys of one target's scrape cache, stored in scrape order.
//!
//! A target lists its series in the same order on every scrape, but the agent interleaves
//! hundreds of targets, so by the time a target is scraped again its cache has left the CPU
//! caches. A hash lookup then costs two memory misses per line (the table probe and the key
//! text behind its own allocation). Here every key's text lives in one buffer and every key's
//! slot in one vector, both in the order the keys were first seen, and each slot remembers the
//! slot that followed it in the last scrape. A lookup first compares the line with that
//! expected slot: on a stable target this walks both arrays sequentially (the prefetcher hides
//! the misses) and hashes nothing. Only a mismatch falls back to the hash index.
//!
//! Slot numbers are stable during a scrape; [`KeyTable::retain`] may renumber them (compaction)
//! and is meant for the end of a scrape, when no caller holds one.

use solder_core::signals::metrics::Labels;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

/// "No slot" in links, chains and cursors.
pub const NO_SLOT: u32 = u32::MAX;

/// What the cache keeps per key besides its text.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyValue {
    /// The label set this key builds.
    pub labels: Labels,
    /// Its number among the cache's distinct label sets (the caller's numbering).
    pub series: u32,
    /// The scrape iteration that last saw this key.
    pub last_iter: u64,
}

struct Slot {
    start: usize,
    len: usize,
    /// `None` once the key is removed (its text stays until compaction).
    value: Option<KeyValue>,
    /// The slot matched by the line after this key's line in the last scrape that had it.
    next: u32,
    /// The next slot whose key has the same hash (collision chain of the index).
    chain: u32,
}

/// The index's keys are already foldhash outputs: hashing them again would only cost time.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used by the index; fold anything else so the hasher stays total.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

type Index = HashMap<u64, u32, BuildHasherDefault<PassThrough>>;

/// Keys of one target. See the module documentation.
pub struct KeyTable {
    slots: Vec<Slot>,
    text: Vec<u8>,
    /// Key hash → first slot of its collision chain.
    index: Index,
    /// Keys are target-supplied: a per-process random seed.
    hasher: foldhash::fast::RandomState,
    live: usize,
    /// Bytes of `text` that belong to removed keys.
    dead_text: usize,
    /// The slot of the first line of the last scrape.
    first: u32,
    /// Lookups of keys already in the table during this scrape, and how many of them the
    /// order links predicted.
    found: usize,
    predicted: usize,
    /// Links recorded since the last [`KeyTable::tidy`] that point anywhere but the next slot
    /// in memory.
    jumps: usize,
    /// Whether to try the expected slot before hashing. Turned off for a target whose order
    /// is not stable (the wrong guess would only add a compare and a miss per line); the
    /// prediction is still scored from the links, so it turns back on when the order settles.
    predict: bool,
    /// Tests: every key gets the same hash, so every lookup walks one collision chain.
    #[cfg(test)]
    colliding: bool,
}

impl Default for KeyTable {
    fn default() -> Self {
        KeyTable::new()
    }
}

impl KeyTable {
    pub fn new() -> Self {
        KeyTable {
            slots: Vec::new(),
            text: Vec::new(),
            index: Index::default(),
            hasher: foldhash::fast::RandomState::default(),
            live: 0,
            dead_text: 0,
            first: NO_SLOT,
            found: 0,
            predicted: 0,
            jumps: 0,
            predict: true,
            #[cfg(test)]
            colliding: false,
        }
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    fn hash(&self, key: &[u8]) -> u64 {
        #[cfg(test)]
        if self.colliding {
            return 42;
        }
        self.hasher.hash_one(key)
    }

    fn key_of(&self, slot: &Slot) -> &[u8] {
        &self.text[slot.start..slot.start + slot.len]
    }

    /// The slot `after` was followed by in the last scrape (`after` = [`NO_SLOT`]: the first).
    fn expected_after(&self, after: u32) -> u32 {
        if after == NO_SLOT {
            self.first
        } else {
            self.slots.get(after as usize).map_or(NO_SLOT, |s| s.next)
        }
    }

    fn matches(&self, slot: u32, key: &[u8]) -> bool {
        self.slots
            .get(slot as usize)
            .is_some_and(|s| s.value.is_some() && self.key_of(s) == key)
    }

    /// The slot holding `key`, if any. `after` is the slot of the previous line of this scrape
    /// ([`NO_SLOT`] for the first line): the key that followed it last time is tried first.
    pub fn find(&mut self, key: &[u8], after: u32) -> Option<u32> {
        let expected = self.expected_after(after);
        if self.predict && expected != NO_SLOT && self.matches(expected, key) {
            self.found += 1;
            self.predicted += 1;
            return Some(expected);
        }
        let found = self.find_hashed(key, self.hash(key));
        if let Some(slot) = found {
            self.found += 1;
            // Scored even when not used, so prediction comes back once the order is stable.
            self.predicted += usize::from(slot == expected);
        }
        found
    }

    fn find_hashed(&self, key: &[u8], hash: u64) -> Option<u32> {
        let mut at = *self.index.get(&hash)?;
        while at != NO_SLOT {
            let slot = &self.slots[at as usize];
            if self.key_of(slot) == key {
                return Some(at);
            }
            at = slot.chain;
        }
        None
    }

    /// Adds a key that [`KeyTable::find`] did not find; returns its slot, or `None` when the
    /// table already holds 2^32 - 1 slots even after compaction (more keys than any target's
    /// memory could hold; the caller then simply does not cache the line).
    pub fn insert(&mut self, key: &[u8], value: KeyValue) -> Option<u32> {
        let hash = self.hash(key);
        debug_assert!(self.find_hashed(key, hash).is_none());
        if self.slots.len() >= NO_SLOT as usize {
            self.compact();
        }
        let at = u32::try_from(self.slots.len())
            .ok()
            .filter(|&at| at != NO_SLOT)?;
        let chain = self.index.insert(hash, at).unwrap_or(NO_SLOT);
        let start = self.text.len();
        self.text.extend_from_slice(key);
        self.slots.push(Slot {
            start,
            len: key.len(),
            value: Some(value),
            next: NO_SLOT,
            chain,
        });
        self.live += 1;
        Some(at)
    }

    /// Records that `slot` came right after `after` in this scrape (`after` = [`NO_SLOT`]: it
    /// was the first).
    pub fn link(&mut self, after: u32, slot: u32) {
        if after == NO_SLOT {
            self.first = slot;
            return;
        }
        self.jumps += usize::from(after.wrapping_add(1) != slot);
        if let Some(s) = self.slots.get_mut(after as usize) {
            s.next = slot;
        }
    }

    /// The slot expected `ahead` lines after `slot`, following the order links of the last
    /// scrape (`None` where they run out).
    pub fn expected_ahead(&self, slot: u32, ahead: usize) -> Option<u32> {
        (0..ahead).try_fold(slot, |at, _| {
            let next = self.slots.get(at as usize)?.next;
            (next != NO_SLOT).then_some(next)
        })
    }

    /// Prefetches the label set of the key expected `ahead` lines after `slot`, so that its
    /// memory is on its way when that line is reached (see [`Labels::prefetch`]).
    #[inline]
    pub fn prefetch_ahead(&self, slot: u32, ahead: usize) {
        let value = self
            .expected_ahead(slot, ahead)
            .and_then(|at| self.slots.get(at as usize))
            .and_then(|s| s.value.as_ref());
        if let Some(value) = value {
            value.labels.prefetch();
        }
    }

    /// The value of a live slot returned by [`KeyTable::find`] or [`KeyTable::insert`].
    pub fn value_mut(&mut self, slot: u32) -> Option<&mut KeyValue> {
        self.slots
            .get_mut(slot as usize)
            .and_then(|s| s.value.as_mut())
    }

    /// The values of the live keys, in memory order.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut KeyValue> {
        self.slots.iter_mut().filter_map(|s| s.value.as_mut())
    }

    /// Drops every key.
    pub fn clear(&mut self) {
        self.slots.clear();
        self.text.clear();
        self.index.clear();
        self.live = 0;
        self.dead_text = 0;
        self.first = NO_SLOT;
        self.found = 0;
        self.predicted = 0;
        self.jumps = 0;
    }

    /// The end of a scrape: decides whether the next one tries the order links, and resets
    /// the scores.
    pub fn end_scrape(&mut self) {
        // Half the found keys where they were expected: worth a compare before hashing.
        self.predict = self.predicted * 2 >= self.found;
        self.found = 0;
        self.predicted = 0;
    }

    /// Keeps the keys for which `keep` is true (given the value; `removed` is told of every
    /// other one). Compacts the table when removed keys take much room, or when the order has
    /// drifted from the memory layout of a target whose order is stable; compaction renumbers
    /// slots and lays keys out in the last scrape's order.
    pub fn retain(
        &mut self,
        mut keep: impl FnMut(&KeyValue) -> bool,
        mut removed: impl FnMut(&KeyValue),
    ) {
        for at in 0..self.slots.len() {
            match &self.slots[at].value {
                Some(value) if !keep(value) => removed(value),
                _ => continue,
            }
            self.unindex(at as u32);
        }
        self.tidy();
    }

    /// The end-of-scrape housekeeping of [`KeyTable::retain`] when no key is to be removed:
    /// compacts when the layout has drifted from the scrape order of a stable target.
    pub fn tidy(&mut self) {
        let dead = self.slots.len() - self.live;
        let drifted = self.predict && self.jumps > self.live / 8 + 16;
        if dead > self.live / 4 + 16 || drifted {
            self.compact();
        } else if self.text.capacity() - self.text.len() > self.text.len() / 4 + 4096 {
            // The first scrape grew the buffer by doubling; with hundreds of targets the slack
            // would be a sizeable part of the cache's memory.
            self.text.shrink_to_fit();
            self.slots.shrink_to_fit();
        }
        self.jumps = 0;
    }

    /// Takes a live slot out of the index and marks it dead (its text stays until compaction).
    fn unindex(&mut self, at: u32) {
        let hash = self.hash(self.key_of(&self.slots[at as usize]));
        let chain = self.slots[at as usize].chain;
        match self.index.get(&hash).copied() {
            Some(head) if head == at => {
                if chain == NO_SLOT {
                    self.index.remove(&hash);
                } else {
                    self.index.insert(hash, chain);
                }
            }
            Some(head) => {
                let mut prev = head;
                while prev != NO_SLOT {
                    let next = self.slots[prev as usize].chain;
                    if next == at {
                        self.slots[prev as usize].chain = chain;
                        break;
                    }
                    prev = next;
                }
            }
            None => {}
        }
        let slot = &mut self.slots[at as usize];
        slot.value = None;
        slot.chain = NO_SLOT;
        self.live -= 1;
        self.dead_text += slot.len;
    }

    /// Rewrites slots and text without dead keys, in the order of the last scrape (following
    /// the links from the first line), then any live key that order did not reach.
    fn compact(&mut self) {
        let mut remap = vec![NO_SLOT; self.slots.len()];
        let mut order: Vec<u32> = Vec::with_capacity(self.live);
        let mut at = self.first;
        while let Some(slot) = self.slots.get(at as usize) {
            if slot.value.is_none() || remap[at as usize] != NO_SLOT {
                break;
            }
            remap[at as usize] = order.len() as u32;
            order.push(at);
            at = slot.next;
        }
        for (i, slot) in self.slots.iter().enumerate() {
            if slot.value.is_some() && remap[i] == NO_SLOT {
                remap[i] = order.len() as u32;
                order.push(i as u32);
            }
        }
        let renumber = |s: u32| remap.get(s as usize).copied().unwrap_or(NO_SLOT);
        let mut text = Vec::with_capacity(self.text.len() - self.dead_text);
        let mut slots = Vec::with_capacity(order.len());
        for &old in &order {
            let s = &mut self.slots[old as usize];
            let value = s.value.take();
            let (next, chain) = (renumber(s.next), renumber(s.chain));
            let s = &self.slots[old as usize];
            let start = text.len();
            text.extend_from_slice(self.key_of(s));
            slots.push(Slot {
                start,
                len: s.len,
                value,
                next,
                chain,
            });
        }
        for head in self.index.values_mut() {
            *head = renumber(*head);
        }
        self.first = renumber(self.first);
        self.slots = slots;
        self.text = text;
        self.dead_text = 0;
    }

    /// The live keys in memory order (tests).
    #[cfg(test)]
    fn layout(&self) -> Vec<&[u8]> {
        self.slots
            .iter()
            .filter(|s| s.value.is_some())
            .map(|s| self.key_of(s))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(series: u32) -> KeyValue {
        KeyValue {
            labels: Labels::new(Vec::new()),
            series,
            last_iter: 1,
        }
    }

    /// Looks every key up in order (inserting unknown ones) like one scrape; returns the slots
    /// and how many lookups the links predicted.
    fn scrape(t: &mut KeyTable, keys: &[&str]) -> (Vec<u32>, usize) {
        let before = t.predicted;
        let mut after = NO_SLOT;
        let mut slots = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            let slot = match t.find(k.as_bytes(), after) {
                Some(s) => s,
                None => t.insert(k.as_bytes(), value(i as u32)).unwrap(),
            };
            t.link(after, slot);
            after = slot;
            slots.push(slot);
        }
        let predicted = t.predicted - before;
        (slots, predicted)
    }

    fn keys(t: &KeyTable, slots: &[u32]) -> Vec<String> {
        slots
            .iter()
            .map(|&s| String::from_utf8(t.key_of(&t.slots[s as usize]).to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn the_key_expected_ahead_follows_the_last_scrapes_order() {
        let mut t = KeyTable::new();
        let (s, _) = scrape(&mut t, &["a", "b", "c", "d", "e"]);
        assert_eq!(t.expected_ahead(s[0], 2), Some(s[2]));
        assert_eq!(t.expected_ahead(s[1], 0), Some(s[1]));
        assert_eq!(t.expected_ahead(s[3], 1), Some(s[4]));
        assert_eq!(
            t.expected_ahead(s[3], 2),
            None,
            "past the last line of the scrape"
        );
        // A new order: the links, not the memory layout, say what comes next.
        let (r, _) = scrape(&mut t, &["c", "a", "e", "b", "d"]);
        assert_eq!(r, [s[2], s[0], s[4], s[1], s[3]]);
        assert_eq!(t.expected_ahead(s[2], 3), Some(s[1]));
        assert_eq!(t.expected_ahead(s[0], 1), Some(s[4]));
        assert_eq!(t.expected_ahead(NO_SLOT, 1), None);
    }

    #[test]
    fn a_stable_order_is_predicted_after_the_first_scrape() {
        let mut t = KeyTable::new();
        let body = ["a", "b{x=\"1\"}", "c", "d"];
        let (first, p) = scrape(&mut t, &body);
        assert_eq!(p, 0);
        t.end_scrape();
        let (second, p) = scrape(&mut t, &body);
        assert_eq!(second, first);
        assert_eq!(p, 4);
        assert_eq!(keys(&t, &second), body);
    }

    #[test]
    fn a_mismatch_falls_back_to_the_index() {
        let mut t = KeyTable::new();
        scrape(&mut t, &["a", "b", "c", "d"]);
        t.end_scrape();
        // Reordered, one removed, one inserted in the middle, one duplicated.
        let body = ["b", "a", "x", "c", "c"];
        let (slots, _) = scrape(&mut t, &body);
        assert_eq!(keys(&t, &slots), body);
        assert_eq!(slots[3], slots[4]);
        assert_eq!(t.len(), 5);
        t.end_scrape();
        // The new order is now the predicted one.
        let (again, p) = scrape(&mut t, &body);
        assert_eq!(again, slots);
        assert_eq!(p, 5);
    }

    #[test]
    fn a_similar_key_never_matches_the_expected_slot() {
        let mut t = KeyTable::new();
        scrape(&mut t, &["m{a=\"1\"}", "m{a=\"2\"}"]);
        t.end_scrape();
        let (slots, p) = scrape(&mut t, &["m{a=\"1\"}", "m{a=\"3\"}", "m{a=\"2\"}"]);
        assert_eq!(p, 1);
        assert_eq!(keys(&t, &slots), ["m{a=\"1\"}", "m{a=\"3\"}", "m{a=\"2\"}"]);
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn prediction_turns_off_for_a_shuffled_target_and_back_on() {
        let mut t = KeyTable::new();
        let names: Vec<String> = (0..64).map(|i| format!("k{i}")).collect();
        let mut order: Vec<&str> = names.iter().map(String::as_str).collect();
        scrape(&mut t, &order);
        t.end_scrape();
        assert!(t.predict);
        // A fixed pseudo-random shuffle per scrape.
        let mut seed = 7u64;
        for _ in 0..3 {
            for i in (1..order.len()).rev() {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                order.swap(i, (seed >> 33) as usize % (i + 1));
            }
            let (slots, _) = scrape(&mut t, &order);
            assert_eq!(keys(&t, &slots), order);
            t.end_scrape();
            t.tidy();
        }
        assert!(!t.predict);
        assert_eq!(t.len(), 64);
        // Stable again: scored while off, so on after one scrape.
        scrape(&mut t, &order);
        t.end_scrape();
        assert!(t.predict);
        let (_, p) = scrape(&mut t, &order);
        assert_eq!(p, 64);
    }

    #[test]
    fn removal_and_compaction_keep_lookups_right() {
        let mut t = KeyTable::new();
        let names: Vec<String> = (0..100).map(|i| format!("s{{i=\"{i}\"}}")).collect();
        let all: Vec<&str> = names.iter().map(String::as_str).collect();
        scrape(&mut t, &all);
        t.end_scrape();
        // Keep every third key: the removal crosses the compaction threshold.
        let kept: Vec<&str> = all.iter().step_by(3).copied().collect();
        let mut removed = 0;
        t.retain(|v| v.series % 3 == 0, |_| removed += 1);
        assert_eq!(removed, 66);
        assert_eq!(t.len(), 34);
        assert_eq!(t.dead_text, 0, "compacted");
        assert_eq!(t.slots.len(), 34);
        for k in &all {
            let want = kept.contains(k);
            assert_eq!(t.find(k.as_bytes(), NO_SLOT).is_some(), want, "{k}");
        }
        // Links survived the renumbering: the kept keys' order is still predicted... except
        // the links of removed keys were the ones pointing at the kept ones, so one scrape
        // relearns them.
        scrape(&mut t, &kept);
        t.end_scrape();
        let (_, p) = scrape(&mut t, &kept);
        assert_eq!(p, kept.len());
    }

    #[test]
    fn compaction_lays_keys_out_in_scrape_order() {
        let mut t = KeyTable::new();
        let names: Vec<String> = (0..200).map(|i| format!("k{i}")).collect();
        let mut order: Vec<&str> = names.iter().map(String::as_str).collect();
        scrape(&mut t, &order);
        t.end_scrape();
        t.tidy();
        order.reverse();
        let (slots, _) = scrape(&mut t, &order);
        t.end_scrape();
        assert_eq!(keys(&t, &slots), order);
        // Reversed order is stable next time: prediction stays on, the drift compacts.
        let (_, p) = scrape(&mut t, &order);
        assert_eq!(p, 200);
        t.end_scrape();
        t.tidy();
        let layout: Vec<&[u8]> = order.iter().map(|k| k.as_bytes()).collect();
        assert_eq!(t.layout(), layout);
        let (slots, p) = scrape(&mut t, &order);
        assert_eq!(p, 200);
        assert_eq!(slots, (0..200).collect::<Vec<u32>>());
    }

    #[test]
    fn growth_slack_is_returned_after_the_scrape() {
        let mut t = KeyTable::new();
        let names: Vec<String> = (0..2400).map(|i| format!("series_{i:05}_x")).collect();
        let all: Vec<&str> = names.iter().map(String::as_str).collect();
        scrape(&mut t, &all);
        t.end_scrape();
        assert!(t.text.capacity() - t.text.len() > t.text.len() / 4 + 4096);
        t.tidy();
        assert!(t.text.capacity() - t.text.len() <= t.text.len() / 4 + 4096);
        let (_, p) = scrape(&mut t, &all);
        assert_eq!(p, 2400);
    }

    #[test]
    fn colliding_hashes_chain() {
        // Every key in one chain: lookups, removal from the head, middle and tail of the
        // chain, and compaction's renumbering of the chain links must all stay right.
        let mut t = KeyTable::new();
        t.colliding = true;
        let names: Vec<String> = (0..40).map(|i| format!("c{i}")).collect();
        let all: Vec<&str> = names.iter().map(String::as_str).collect();
        let (slots, _) = scrape(&mut t, &all);
        assert_eq!(keys(&t, &slots), all);
        assert_eq!(t.index.len(), 1);
        t.end_scrape();
        // Remove the newest (chain head), the oldest (tail) and every fourth in between.
        t.retain(
            |v| v.series != 39 && v.series != 0 && v.series % 4 != 2,
            |_| {},
        );
        let kept: Vec<&str> = all
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 39 && *i != 0 && i % 4 != 2)
            .map(|(_, k)| *k)
            .collect();
        assert_eq!(t.len(), kept.len());
        for k in &all {
            let got = t.find(k.as_bytes(), NO_SLOT);
            assert_eq!(got.is_some(), kept.contains(k), "{k}");
            if let Some(s) = got {
                assert_eq!(keys(&t, &[s]), [k.to_string()]);
            }
        }
        // Enough removed to compact: the chain links were renumbered too.
        t.retain(|v| v.series < 20, |_| {});
        assert_eq!(t.dead_text, 0);
        for k in &all {
            let want = kept.contains(k) && k[1..].parse::<u32>().unwrap() < 20;
            assert_eq!(t.find(k.as_bytes(), NO_SLOT).is_some(), want, "{k}");
        }
        // New keys join the chain after compaction.
        let (slots, _) = scrape(&mut t, &["c5", "new"]);
        assert_eq!(keys(&t, &slots), ["c5", "new"]);
        assert_eq!(t.index.len(), 1);
    }
}
