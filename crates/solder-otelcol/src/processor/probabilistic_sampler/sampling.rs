//! The arithmetic of OTel consistent probability sampling (contrib `pkg/sampling`) and the
//! probabilistic sampler's legacy hash (FNV-1a over the seed and the trace ID, 14-bit buckets).
//!
//! Randomness and thresholds are 56-bit unsigned values; an item is sampled when
//! `threshold <= randomness`. `th` values are the threshold's 14 hex digits with trailing zeros
//! removed, `rv` values the randomness's 14 hex digits.

/// 2^56: the number of distinct randomness values.
pub const MAX_ADJUSTED_COUNT: u64 = 1 << 56;
const NUM_HEX_DIGITS: i32 = 14;
const HASH_BUCKETS_LG2: u32 = 14;
const HASH_BUCKETS: u32 = 1 << HASH_BUCKETS_LG2;

/// A rejection threshold; `ALWAYS` samples everything, `NEVER` nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Threshold(pub u64);

impl Threshold {
    pub const ALWAYS: Threshold = Threshold(0);
    pub const NEVER: Threshold = Threshold(MAX_ADJUSTED_COUNT);

    pub fn should_sample(self, rnd: Randomness) -> bool {
        self.0 <= rnd.0
    }

    pub fn probability(self) -> f64 {
        (MAX_ADJUSTED_COUNT - self.0.min(MAX_ADJUSTED_COUNT)) as f64 / MAX_ADJUSTED_COUNT as f64
    }

    /// The `th` encoding; empty for `NEVER` (which is never written).
    pub fn tvalue(self) -> String {
        if self.0 == 0 {
            return "0".into();
        }
        if self.0 >= MAX_ADJUSTED_COUNT {
            return String::new();
        }
        let full = format!("{:014x}", self.0);
        full.trim_end_matches('0').to_string()
    }

    /// Parse a `th` value: 1 to 14 hex digits, right-padded with zeros.
    pub fn parse(tv: &str) -> Option<Threshold> {
        if tv.is_empty() || tv.len() > NUM_HEX_DIGITS as usize {
            return None;
        }
        if !tv.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let n = u64::from_str_radix(tv, 16).ok()?;
        Some(Threshold(n << (4 * (NUM_HEX_DIGITS as usize - tv.len()))))
    }
}

/// 56 bits of randomness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Randomness(pub u64);

impl Randomness {
    /// What an item without randomness compares as (samples only at threshold 0).
    pub const ALL_PROBABILITIES: Randomness = Randomness(MAX_ADJUSTED_COUNT - 1);

    /// The W3C rule: the last 7 bytes of the trace ID, big-endian.
    pub fn from_trace_id(tid: &[u8]) -> Randomness {
        let mut v = 0u64;
        for b in tid.iter().rev().take(7).rev() {
            v = (v << 8) | u64::from(*b);
        }
        Randomness(v)
    }

    pub fn rvalue(self) -> String {
        format!("{:014x}", self.0)
    }

    pub fn parse(rv: &str) -> Option<Randomness> {
        if rv.len() != NUM_HEX_DIGITS as usize || !rv.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u64::from_str_radix(rv, 16).ok().map(Randomness)
    }

    /// The legacy hash-seed randomness, arranged so that `threshold <= randomness` decides
    /// exactly as the original `hash & mask < scaled rate` did.
    pub fn from_hash(bytes: &[u8], seed: u32) -> Randomness {
        let hashed32 = fnv1a_with_seed(bytes, seed);
        let hashed = u64::from(hashed32 & (HASH_BUCKETS - 1));
        let rprime14 = u64::from(HASH_BUCKETS) - 1 - hashed;
        let unused18 = u64::from(hashed32 >> (32 - HASH_BUCKETS_LG2));
        let mixed28 = unused18 ^ (unused18 << 10);
        Randomness((rprime14 << 42) | (mixed28 << 14) | hashed)
    }
}

/// FNV-1a (32 bit) over the seed's 4 little-endian bytes followed by `bytes`.
pub fn fnv1a_with_seed(bytes: &[u8], seed: u32) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in seed.to_le_bytes().iter().chain(bytes) {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// The hash-seed mode threshold: `uint32(pct * 163.84)` computed in float32 as the Collector
/// does, turned into a rejection threshold. `None` when it rounds to zero (never sample).
pub fn hash_seed_threshold(pct: f32) -> Option<Threshold> {
    let pct = pct.min(100.0);
    let scale: f32 = HASH_BUCKETS as f32 / 100.0;
    let scaled = (pct * scale) as u32;
    if scaled == 0 {
        return None;
    }
    let reject = u64::from(HASH_BUCKETS - scaled.min(HASH_BUCKETS));
    Some(Threshold(reject << 42))
}

/// `math.Frexp`'s exponent for a positive finite number.
fn frexp_exp(x: f64) -> i32 {
    let bits = x.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    if exp == 0 {
        // Subnormal: normalise first.
        return frexp_exp(x * (1u64 << 54) as f64) - 54;
    }
    exp - 1022
}

/// `ProbabilityToThresholdWithPrecision`; `None` when the probability is out of range.
pub fn probability_to_threshold(fraction: f64, precision: i32) -> Option<Threshold> {
    let precision = if precision == 0 {
        NUM_HEX_DIGITS
    } else {
        precision
    };
    let min_prob = 1.0 / MAX_ADJUSTED_COUNT as f64;
    if !(min_prob..=1.0).contains(&fraction) {
        return None;
    }
    if fraction == 1.0 {
        return Some(Threshold::ALWAYS);
    }
    let exp_f = frexp_exp(fraction);
    let exp_r = frexp_exp(1.0 - fraction);
    let precision = NUM_HEX_DIGITS.min((precision + exp_f / -4).max(precision + exp_r / -4));
    let scaled = (fraction * MAX_ADJUSTED_COUNT as f64).round() as u64;
    let mut threshold = MAX_ADJUSTED_COUNT - scaled;
    let shift = 4 * (NUM_HEX_DIGITS - precision);
    if shift > 0 {
        let half = 1u64 << (shift - 1);
        threshold += half;
        threshold >>= shift;
        threshold <<= shift;
    }
    Some(Threshold(threshold))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_reference_vectors() {
        // FNV-1a of "" is the offset basis; with a zero seed the 4 zero bytes come first.
        fn plain(b: &[u8]) -> u32 {
            let mut h: u32 = 0x811c_9dc5;
            for x in b {
                h ^= u32::from(*x);
                h = h.wrapping_mul(0x0100_0193);
            }
            h
        }
        assert_eq!(plain(b"a"), 0xe40c_292c);
        assert_eq!(plain(b"foobar"), 0xbf9c_f968);
        assert_eq!(fnv1a_with_seed(b"x", 0), plain(&[0, 0, 0, 0, b'x']));
        assert_eq!(
            fnv1a_with_seed(b"x", 0x0403_0201),
            plain(&[1, 2, 3, 4, b'x'])
        );
    }

    #[test]
    fn hash_seed_rates_use_float32_truncation() {
        // 10% → uint32(float32(10)*float32(163.84)) = 1638 → reject 14746 << 42.
        assert_eq!(hash_seed_threshold(10.0), Some(Threshold(14746 << 42)));
        assert_eq!(hash_seed_threshold(10.0).unwrap().tvalue(), "e668");
        assert_eq!(hash_seed_threshold(100.0), Some(Threshold(0)));
        assert_eq!(hash_seed_threshold(250.0), Some(Threshold(0)));
        assert_eq!(hash_seed_threshold(0.001), None);
    }

    #[test]
    fn hash_randomness_decides_like_the_bucket_rule() {
        for seed in [0u32, 1, 22, 0xdead_beef] {
            for i in 0u8..200 {
                let tid = [
                    i,
                    3,
                    5,
                    7,
                    11,
                    13,
                    17,
                    19,
                    23,
                    29,
                    31,
                    37,
                    41,
                    43,
                    47,
                    i ^ 0x5a,
                ];
                let bucket = fnv1a_with_seed(&tid, seed) & (HASH_BUCKETS - 1);
                for pct in [1.0f32, 10.0, 33.3, 50.0, 99.0] {
                    let th = hash_seed_threshold(pct).unwrap();
                    let scaled = (pct * (HASH_BUCKETS as f32 / 100.0)) as u32;
                    assert_eq!(
                        th.should_sample(Randomness::from_hash(&tid, seed)),
                        bucket < scaled,
                        "seed {seed} tid {i} pct {pct}"
                    );
                }
            }
        }
    }

    #[test]
    fn probability_thresholds_follow_the_spec_examples() {
        // From the OTel tracestate-probability-sampling spec: 1/3 at precision 4 → th:aaab,
        // 1/2 → th:8, 1/10 at precision 4 → e666 (0.1 → reject 0.9 = 0xe666…).
        let th = |p: f64, prec| probability_to_threshold(p, prec).unwrap().tvalue();
        assert_eq!(th(1.0 / 3.0, 4), "aaab");
        assert_eq!(th(0.5, 4), "8");
        assert_eq!(th(0.1, 4), "e666");
        assert_eq!(th(0.25, 4), "c");
        assert_eq!(th(1.0, 4), "0");
        // Small probabilities gain precision for their leading f digits.
        assert_eq!(th(0.001, 4), "ffbe77");
        assert!(probability_to_threshold(0.0, 4).is_none());
    }

    #[test]
    fn trace_id_randomness_is_the_last_seven_bytes() {
        let tid = [0u8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
        assert_eq!(Randomness::from_trace_id(&tid).rvalue(), "090a0b0c0d0e0f");
        assert_eq!(Threshold::parse("e668"), Some(Threshold(14746 << 42)));
    }
}
