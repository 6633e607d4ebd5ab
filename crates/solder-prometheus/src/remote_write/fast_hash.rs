//! A fast, non-cryptographic hasher for the per-batch maps of the remote-write hot path
//! (grouping samples into series, picking a series' shard). The standard SipHash cost about a
//! fifth of the agent's CPU there: every scraped sample is hashed several times on its way out.
//!
//! Each 8-byte word is mixed in with a folded multiply (as foldhash does). It is not
//! resistant to crafted collisions; that is acceptable here because every map it backs lives
//! for one batch (at most a scrape or `max_samples_per_send` entries), so a collision attack can
//! only slow one batch down, and the shard choice only has to be stable within the process.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// See the module documentation.
#[derive(Default, Clone, Copy)]
pub(crate) struct FastHasher(u64);

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        // A folded 64×64→128 multiply: unlike a plain multiply, the high product bits feed
        // back into the low ones, so inputs differing only in high bytes do not cancel out.
        let x = u128::from(self.0 ^ word) * u128::from(SEED);
        self.0 = (x as u64) ^ ((x >> 64) as u64);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            // The length keeps "ab" and "ab\0" apart.
            self.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 56));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // A final mix so the low bits (used for `% shards` and bucket choice) depend on all.
        // (Each step is invertible, so distinct states keep distinct hashes.)
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h ^ (h >> 29)
    }
}

pub(crate) type FastBuild = BuildHasherDefault<FastHasher>;
pub(crate) type FastMap<K, V> = HashMap<K, V, FastBuild>;

/// Hash of one value with [`FastHasher`].
pub(crate) fn hash_one<T: std::hash::Hash + ?Sized>(value: &T) -> u64 {
    let mut h = FastHasher::default();
    value.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_hash_equal_and_different_ones_spread() {
        assert_eq!(hash_one("abc"), hash_one("abc"));
        assert_ne!(hash_one("ab"), hash_one("ab\0"));
        let buckets: std::collections::HashSet<u64> = (0..1000)
            .map(|i| hash_one(&format!("series_{i}")) % 8)
            .collect();
        assert_eq!(buckets.len(), 8);
        let distinct: std::collections::HashSet<u64> = (0..1000)
            .map(|i| hash_one(&format!("series_{i}")))
            .collect();
        assert_eq!(distinct.len(), 1000);
    }
}
