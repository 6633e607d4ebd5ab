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

/// Index of the next space, tab, `{` or line break at or after `i` (or `b.len()`): where an
/// unvalidated metric name ends (see `Parser::next_raw`). Every byte a valid name may hold passes,
/// and a valid name is always followed by one of these, so for valid input this is `skip_name`.
#[inline(always)]
pub(crate) fn name_stop(b: &[u8], i: usize) -> usize {
    let mut j = i;
    while let Some(w) = word_at(b, j) {
        let m = eq_mask(w, b' ') | eq_mask(w, b'{') | eq_mask(w, b'\n') | eq_mask(w, b'\t');
        if m != 0 {
            return j + first_set_byte(m);
        }
        j += 8;
    }
    while j < b.len() && !matches!(b[j], b' ' | b'{' | b'\n' | b'\t') {
        j += 1;
    }
    j
}

/// Index of the next `"`, `}` or line break at or after `i` (or `b.len()`): the only bytes that
/// matter when a label set is skipped rather than validated (see `Parser::next_raw`).
#[inline(always)]
pub(crate) fn brace_stop(b: &[u8], i: usize) -> usize {
    let mut j = i;
    while let Some(w) = word_at(b, j) {
        let m = eq_mask(w, b'"') | eq_mask(w, b'}') | eq_mask(w, b'\n');
        if m != 0 {
            return j + first_set_byte(m);
        }
        j += 8;
    }
    while j < b.len() && !matches!(b[j], b'"' | b'}' | b'\n') {
        j += 1;
    }
    j
}

/// End (index after `}`) of a label set opened at `open`, for the common case of a set with no
/// backslash and no raw line break: the first `}` preceded by an even number of `"` is then
/// outside every quoted string. `None` when that shortcut does not apply (an escape, a line break,
/// a `}` inside quotes, or fewer than eight bytes left); the caller then scans exactly.
#[inline(always)]
pub(crate) fn simple_set_end(b: &[u8], open: usize) -> Option<usize> {
    let mut j = open + 1;
    // XOR of the quote masks: its popcount has the parity of the number of quotes seen. Only
    // the parity matters, and it is folded once at the end (baseline x86-64 has no `popcnt`).
    let mut quotes = 0u64;
    // Two words per step while no stop byte shows up: label values are long and plain.
    while let (Some(w0), Some(w1)) = (word_at(b, j), word_at(b, j + 8)) {
        let stop = |w| eq_mask(w, b'}') | eq_mask(w, b'\n') | eq_mask(w, b'\\');
        if stop(w0) | stop(w1) != 0 {
            break;
        }
        quotes ^= eq_exact(w0, b'"') ^ eq_exact(w1, b'"');
        j += 16;
    }
    while let Some(w) = word_at(b, j) {
        // The lowest lane of an OR of `eq_mask`s is exact, so this finds the first `}`, line
        // break or backslash; only a `}` there lets the shortcut answer.
        let stop = eq_mask(w, b'}') | eq_mask(w, b'\n') | eq_mask(w, b'\\');
        let q = eq_exact(w, b'"');
        if stop != 0 {
            let k = first_set_byte(stop);
            if b[j + k] != b'}' {
                return None;
            }
            quotes ^= q & ((1u64 << (8 * k)) - 1);
            return (odd_parity(quotes) == 0).then_some(j + k + 1);
        }
        quotes ^= q;
        j += 8;
    }
    None
}

/// 1 when an odd number of bits of `x` are set.
#[inline(always)]
fn odd_parity(mut x: u64) -> u64 {
    x ^= x >> 32;
    x ^= x >> 16;
    x ^= x >> 8;
    x ^= x >> 4;
    x ^= x >> 2;
    x ^= x >> 1;
    x & 1
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

/// High bit set in exactly the byte lanes equal to `c` (no false positives, unlike `eq_mask`).
#[inline(always)]
pub(crate) fn eq_exact(w: u64, c: u8) -> u64 {
    let t = w ^ (LO_BITS * u64::from(c));
    // A lane is non-zero iff adding 0x7f to its low seven bits carries into bit 7, or bit 7 is set.
    !(((t & !HI_BITS).wrapping_add(LO_BITS * 0x7f)) | t) & HI_BITS
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
                let brace = b[i..]
                    .iter()
                    .position(|&c| c == b'"' || c == b'}' || c == b'\n')
                    .map_or(b.len(), |p| i + p);
                assert_eq!(brace_stop(&b, i), brace);
                let name = b[i..]
                    .iter()
                    .position(|&c| matches!(c, b' ' | b'{' | b'\n' | b'\t'))
                    .map_or(b.len(), |p| i + p);
                assert_eq!(name_stop(&b, i), name);
            }
        }
    }

    /// Reference for `simple_set_end`: exact quote/escape-aware scan, `None` for the cases the
    /// shortcut declines.
    fn naive_set_end(b: &[u8], open: usize) -> Option<usize> {
        let mut inside = false;
        for (k, &c) in b.iter().enumerate().skip(open + 1) {
            match c {
                b'\\' | b'\n' => return None,
                b'"' => inside = !inside,
                b'}' if inside => return None,
                b'}' => return Some(k + 1),
                _ => {}
            }
        }
        None
    }

    #[test]
    fn simple_set_end_matches_naive() {
        for seed in 0..3000u64 {
            let b = bytes(seed, 48);
            for open in 0..b.len() {
                if let Some(end) = simple_set_end(&b, open) {
                    assert_eq!(Some(end), naive_set_end(&b, open), "{b:?} {open}");
                }
            }
        }
        let set = b"{a=\"x}y\",b=\"1\"} 1\n";
        assert_eq!(
            simple_set_end(set, 0),
            None,
            "a closing brace inside quotes is declined"
        );
        let set = b"{a=\"xy\",b=\"1\"} 1\n";
        assert_eq!(simple_set_end(set, 0), Some(14));
    }

    #[test]
    fn eq_exact_flags_every_equal_lane() {
        for seed in 0..2000u64 {
            let b = bytes(seed, 8);
            let w = word_at(&b, 0).unwrap();
            for c in [b'"', b'\\', b'}', 0u8, 0x80, 0xff] {
                let naive =
                    b.iter().enumerate().fold(
                        0u64,
                        |m, (k, &x)| if x == c { m | 0x80 << (8 * k) } else { m },
                    );
                assert_eq!(eq_exact(w, c), naive, "{b:?} {c}");
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
