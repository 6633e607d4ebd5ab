//! The relabel result cache of `prometheus.relabel`: input label set → relabeled label set, or
//! `None` when the rules drop the series (or leave it without labels).
//!
//! Two modes, as Alloy's `max_cache_size` / `cache_ttl`:
//! - **bounded** (`max_cache_size > 0`): an approximate LRU made of two generations. New entries
//!   go into the current generation; when it holds half the capacity (or the whole cache is
//!   full) it becomes the previous generation and the old previous one is dropped. A hit in the
//!   previous generation moves the entry back to the current one, so series that are still being
//!   seen survive a rotation and only entries unused for a whole generation are evicted. This
//!   costs no per-hit bookkeeping beyond a hash lookup, unlike a linked-list LRU.
//! - **TTL** (`cache_ttl > 0`): unbounded; every hit slides the entry's expiry, and entries not
//!   seen for `cache_ttl` are removed by a scan that runs at most every `cache_ttl / 4` (on the
//!   next access rather than from a background task, so the cache owns no task).
//!
//! Keys are the full input label sets, so unlike Alloy's hash-keyed cache two series can never
//! share an entry by hash collision.

use solder_core::signals::metrics::Labels;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How the cache is bounded; built from validated arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheMode {
    /// At most this many entries (at least 1).
    Bounded(usize),
    /// Entries expire this long after their last use.
    Ttl(Duration),
}

/// A cached relabel outcome; `None` means "dropped".
pub type Outcome = Option<Labels>;

struct TtlEntry {
    outcome: Outcome,
    expires: Instant,
}

enum Store {
    Bounded {
        capacity: usize,
        current: HashMap<Labels, Outcome>,
        previous: HashMap<Labels, Outcome>,
    },
    Ttl {
        ttl: Duration,
        entries: HashMap<Labels, TtlEntry>,
        next_scan: Instant,
    },
}

/// The cache itself; not synchronized (the component wraps it in a mutex).
pub struct RelabelCache {
    mode: CacheMode,
    store: Store,
}

impl RelabelCache {
    pub fn new(mode: CacheMode, now: Instant) -> Self {
        let store = match mode {
            CacheMode::Bounded(capacity) => Store::Bounded {
                capacity: capacity.max(1),
                current: HashMap::new(),
                previous: HashMap::new(),
            },
            CacheMode::Ttl(ttl) => Store::Ttl {
                ttl,
                entries: HashMap::new(),
                next_scan: now + scan_interval(ttl),
            },
        };
        RelabelCache { mode, store }
    }

    pub fn mode(&self) -> CacheMode {
        self.mode
    }

    /// The cached outcome for `input`, if any; a hit refreshes the entry's recency.
    pub fn get(&mut self, input: &Labels, now: Instant) -> Option<Outcome> {
        match &mut self.store {
            Store::Bounded {
                current, previous, ..
            } => {
                if let Some(outcome) = current.get(input) {
                    return Some(outcome.clone());
                }
                // Promote: a series seen again is recent, whatever generation it was in.
                let (key, outcome) = previous.remove_entry(input)?;
                current.insert(key, outcome.clone());
                Some(outcome)
            }
            Store::Ttl { ttl, entries, .. } => {
                let entry = entries.get_mut(input)?;
                entry.expires = now + *ttl;
                Some(entry.outcome.clone())
            }
        }
    }

    /// Records the outcome for `input`.
    pub fn insert(&mut self, input: Labels, outcome: Outcome, now: Instant) {
        match &mut self.store {
            Store::Bounded {
                capacity,
                current,
                previous,
            } => {
                let capacity = *capacity;
                if !current.contains_key(&input) {
                    let half = capacity.div_ceil(2);
                    if current.len() >= half || current.len() + previous.len() >= capacity {
                        *previous = std::mem::take(current);
                        if previous.len() >= capacity {
                            previous.clear();
                        }
                    }
                    // The entry may still sit in the old generation; keep one copy only.
                    previous.remove(&input);
                }
                current.insert(input, outcome);
            }
            Store::Ttl { ttl, entries, .. } => {
                entries.insert(
                    input,
                    TtlEntry {
                        outcome,
                        expires: now + *ttl,
                    },
                );
            }
        }
    }

    /// Forgets `input` (its series went stale).
    pub fn remove(&mut self, input: &Labels) {
        match &mut self.store {
            Store::Bounded {
                current, previous, ..
            } => {
                current.remove(input);
                previous.remove(input);
            }
            Store::Ttl { entries, .. } => {
                entries.remove(input);
            }
        }
    }

    pub fn len(&self) -> usize {
        match &self.store {
            Store::Bounded {
                current, previous, ..
            } => current.len() + previous.len(),
            Store::Ttl { entries, .. } => entries.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// In TTL mode, removes expired entries when a scan is due; returns how many it removed.
    pub fn expire(&mut self, now: Instant) -> usize {
        match &mut self.store {
            Store::Bounded { .. } => 0,
            Store::Ttl {
                ttl,
                entries,
                next_scan,
            } => {
                if now < *next_scan {
                    return 0;
                }
                *next_scan = now + scan_interval(*ttl);
                let before = entries.len();
                entries.retain(|_, e| e.expires > now);
                let removed = before - entries.len();
                // A spike in cardinality would otherwise pin the map's peak allocation.
                if entries.capacity() > 4 * entries.len().max(1024) {
                    entries.shrink_to_fit();
                }
                removed
            }
        }
    }
}

/// Expired entries linger at most a quarter of the TTL past their expiry.
fn scan_interval(ttl: Duration) -> Duration {
    ttl / 4
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn labels(name: &str) -> Labels {
        Labels::new(vec![("__name__".into(), name.into())])
    }

    #[test]
    fn bounded_never_exceeds_capacity() {
        for capacity in 1..8 {
            let now = Instant::now();
            let mut c = RelabelCache::new(CacheMode::Bounded(capacity), now);
            for i in 0..50 {
                c.insert(labels(&format!("m{i}")), None, now);
                assert!(c.len() <= capacity, "capacity {capacity}: {}", c.len());
                // The entry just inserted is always there.
                assert_eq!(c.get(&labels(&format!("m{i}")), now), Some(None));
            }
        }
    }

    #[test]
    fn bounded_keeps_recently_used_entries() {
        let now = Instant::now();
        let mut c = RelabelCache::new(CacheMode::Bounded(4), now);
        let hot = labels("hot");
        c.insert(hot.clone(), Some(labels("out")), now);
        for i in 0..20 {
            // `hot` is used between every insert, so it must survive every rotation.
            assert_eq!(c.get(&hot, now), Some(Some(labels("out"))));
            c.insert(labels(&format!("cold{i}")), None, now);
        }
        assert_eq!(c.get(&hot, now), Some(Some(labels("out"))));
        // Old cold entries are gone.
        assert_eq!(c.get(&labels("cold0"), now), None);
    }

    #[test]
    fn remove_forgets_both_generations() {
        let now = Instant::now();
        let mut c = RelabelCache::new(CacheMode::Bounded(4), now);
        c.insert(labels("a"), None, now);
        c.insert(labels("b"), None, now);
        c.insert(labels("c"), None, now); // rotates: a, b are in the previous generation
        c.remove(&labels("a"));
        c.remove(&labels("c"));
        assert_eq!(c.get(&labels("a"), now), None);
        assert_eq!(c.get(&labels("c"), now), None);
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn ttl_expires_unused_entries_and_slides_on_hit() {
        let start = Instant::now();
        let ttl = Duration::from_secs(60);
        let mut c = RelabelCache::new(CacheMode::Ttl(ttl), start);
        c.insert(labels("used"), None, start);
        c.insert(labels("unused"), None, start);
        assert_eq!(c.expire(start), 0, "no scan is due yet");
        let later = start + Duration::from_secs(45);
        assert!(c.get(&labels("used"), later).is_some());
        let after = start + Duration::from_secs(61);
        assert_eq!(c.expire(after), 1);
        assert!(c.get(&labels("used"), after).is_some());
        assert!(c.get(&labels("unused"), after).is_none());
    }
}
