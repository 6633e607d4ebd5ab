//! Byte classification and small scanning helpers shared by both text formats.
//!
//! The parser works on bytes (every delimiter in both formats is ASCII) and only slices the
//! `&str` body at ASCII positions, so slices always land on UTF-8 character boundaries.

/// `[a-zA-Z_:]`: may start a metric name.
pub(crate) const METRIC_START: u8 = 1;
/// `[a-zA-Z0-9_:]`: may continue a metric name.
pub(crate) const METRIC_CONT: u8 = 2;
/// `[a-zA-Z_]`: may start a label name.
pub(crate) const LABEL_START: u8 = 4;
/// `[a-zA-Z0-9_]`: may continue a label name.
pub(crate) const LABEL_CONT: u8 = 8;
/// `"`, `\` or a line break: stops the fast scan of a quoted string.
pub(crate) const QUOTED_STOP: u8 = 16;
/// Space, tab or line break: ends a value or timestamp token in the text format.
pub(crate) const TOKEN_STOP: u8 = 32;

const fn build_classes() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut c = 0usize;
    while c < 256 {
        let b = c as u8;
        let alpha = b.is_ascii_alphabetic() || b == b'_';
        let digit = b.is_ascii_digit();
        let mut v = 0;
        if alpha || b == b':' {
            v |= METRIC_START | METRIC_CONT;
        }
        if digit {
            v |= METRIC_CONT | LABEL_CONT;
        }
        if alpha {
            v |= LABEL_START | LABEL_CONT;
        }
        if b == b'"' || b == b'\\' || b == b'\n' {
            v |= QUOTED_STOP;
        }
        if b == b' ' || b == b'\t' || b == b'\n' {
            v |= TOKEN_STOP;
        }
        t[c] = v;
        c += 1;
    }
    t
}

/// One table lookup per byte keeps the hot loops branch-light.
pub(crate) static CLASS: [u8; 256] = build_classes();

#[inline(always)]
pub(crate) fn has(b: u8, class: u8) -> bool {
    CLASS[b as usize] & class != 0
}

/// Advances past bytes of `class`, starting at `i`.
#[inline(always)]
pub(crate) fn skip_class(b: &[u8], mut i: usize, class: u8) -> usize {
    while i < b.len() && has(b[i], class) {
        i += 1;
    }
    i
}

/// Advances past spaces and tabs (the text format's in-line whitespace).
#[inline(always)]
pub(crate) fn skip_blanks(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    i
}

/// Advances to the next byte that is a space, tab or line break (or the end).
#[inline(always)]
pub(crate) fn skip_token(b: &[u8], i: usize) -> usize {
    let mut j = i;
    while let Some(w) = word_at(b, j) {
        let m = eq_mask(w, b' ') | eq_mask(w, b'\t') | eq_mask(w, b'\n');
        if m != 0 {
            return j + first_set_byte(m);
        }
        j += 8;
    }
    while j < b.len() && !has(b[j], TOKEN_STOP) {
        j += 1;
    }
    j
}

/// Index of the next `\n` at or after `i`, or `b.len()`.
#[inline]
pub(crate) fn line_end(b: &[u8], i: usize) -> usize {
    let mut j = i;
    while let Some(w) = word_at(b, j) {
        let m = eq_mask(w, b'\n');
        if m != 0 {
            return j + first_set_byte(m);
        }
        j += 8;
    }
    while j < b.len() && b[j] != b'\n' {
        j += 1;
    }
    j.min(b.len())
}

// SWAR ("SIMD within a register") helpers: test 8 bytes per step with plain u64 arithmetic,
// which needs neither `unsafe` nor target-specific intrinsics.

const LO_BITS: u64 = 0x0101_0101_0101_0101;
const HI_BITS: u64 = 0x8080_8080_8080_8080;

/// Eight bytes at `i` as a little-endian word, if that many remain.
#[inline(always)]
pub(crate) fn word_at(b: &[u8], i: usize) -> Option<u64> {
    let chunk: [u8; 8] = b.get(i..i.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(chunk))
}

/// High bit set in each byte lane equal to `c`. Lanes above the first match may hold false
/// positives (borrow propagation), but the lowest set lane is always exact — which is the only
/// thing callers use.
#[inline(always)]
pub(crate) fn eq_mask(w: u64, c: u8) -> u64 {
    let x = w ^ (LO_BITS * u64::from(c));
    x.wrapping_sub(LO_BITS) & !x & HI_BITS
}

/// Index (0..8) of the lowest lane flagged in a non-zero mask.
#[inline(always)]
pub(crate) fn first_set_byte(m: u64) -> usize {
    (m.trailing_zeros() / 8) as usize
}

/// Lanes (high bit) whose byte lies in `lo..=hi`; exact for lanes below 0x80.
#[inline(always)]
fn between(x: u64, lo: u8, hi: u8) -> u64 {
    let ge_lo = x.wrapping_add(LO_BITS * u64::from(0x80 - lo));
    let gt_hi = x.wrapping_add(LO_BITS * u64::from(0x7f - hi));
    ge_lo & !gt_hi & HI_BITS
}

/// Lanes (high bit) whose byte equals `c`; exact for lanes below 0x80.
#[inline(always)]
fn equal7(x: u64, c: u8) -> u64 {
    let t = x ^ (LO_BITS * u64::from(c));
    !(t.wrapping_add(LO_BITS * 0x7f) | t) & HI_BITS
}

/// Lanes holding a name byte: `[a-zA-Z0-9_]`, plus `:` when `colon` (metric names).
/// Non-ASCII lanes are masked to 7 bits first so no lane can carry into its neighbour,
/// then excluded.
#[inline(always)]
fn name_lanes(w: u64, colon: bool) -> u64 {
    let x = w & !HI_BITS;
    let alpha = between(x | (LO_BITS * 0x20), b'a', b'z');
    let digit = between(x, b'0', b'9');
    let mut ok = alpha | digit | equal7(x, b'_');
    if colon {
        ok |= equal7(x, b':');
    }
    ok & !w & HI_BITS
}

/// End of the run of name bytes starting at `i` (`[a-zA-Z0-9_]`, with `:` when `colon`):
/// the same result as `skip_class` with `METRIC_CONT`/`LABEL_CONT`, eight bytes per step.
#[inline(always)]
pub(crate) fn skip_name(b: &[u8], i: usize, colon: bool) -> usize {
    let mut j = i;
    while let Some(w) = word_at(b, j) {
        let ok = name_lanes(w, colon);
        if ok != HI_BITS {
            return j + first_set_byte(!ok & HI_BITS);
        }
        j += 8;
    }
    skip_class(b, j, if colon { METRIC_CONT } else { LABEL_CONT })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic xorshift so failures reproduce.
    fn bytes(seed: u64, n: usize) -> Vec<u8> {
        let mut s = seed | 1;
        let alphabet = b"aZ09_:{}= \t\n\"\\,.\x00\x7f\x80\xc3\xff";
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                if s.is_multiple_of(4) {
                    alphabet[(s >> 8) as usize % alphabet.len()]
                } else {
                    (s >> 16) as u8
                }
            })
            .collect()
    }

    #[test]
    fn swar_name_scan_matches_table_scan() {
        for seed in 0..2000u64 {
            let b = bytes(seed, 40);
            for i in 0..b.len() {
                assert_eq!(
                    skip_name(&b, i, true),
                    skip_class(&b, i, METRIC_CONT),
                    "{b:?} {i}"
                );
                assert_eq!(
                    skip_name(&b, i, false),
                    skip_class(&b, i, LABEL_CONT),
                    "{b:?} {i}"
                );
            }
        }
        // Long valid runs cross several words.
        let long = b"abcdefghijklmnopqrstuvwxyz_ABCDEFGHIJKLMNOPQRSTUVWXYZ:0123456789{";
        assert_eq!(skip_name(long, 0, true), long.len() - 1);
        assert_eq!(skip_name(long, 0, false), 53);
    }

    #[test]
    fn swar_line_end_and_token_match_naive() {
        for seed in 0..500u64 {
            let b = bytes(seed, 64);
            for i in 0..=b.len() {
                let naive = b[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |p| i + p);
                assert_eq!(line_end(&b, i), naive);
                let token = b[i..]
                    .iter()
                    .position(|&c| c == b' ' || c == b'\t' || c == b'\n')
                    .map_or(b.len(), |p| i + p);
                assert_eq!(skip_token(&b, i), token);
            }
        }
    }

    #[test]
    fn eq_mask_lowest_lane_is_exact() {
        for seed in 0..2000u64 {
            let b = bytes(seed, 8);
            let w = word_at(&b, 0).unwrap();
            for c in [b'"', b'\\', b'\n', 0u8, 1u8] {
                let m = eq_mask(w, c);
                let naive = b.iter().position(|&x| x == c);
                assert_eq!((m != 0).then(|| first_set_byte(m)), naive, "{b:?} {c}");
            }
        }
    }
}
