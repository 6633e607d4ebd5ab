//! Byte classification and small scanning helpers shared by both text formats.
//!
//! The parser works on bytes (every delimiter in both formats is ASCII) and only slices the
//! `&str` body at ASCII positions, so slices always land on UTF-8 character boundaries.
//!
//! The scans that run over most of a payload's bytes (label values, names, line ends) test 16
//! bytes per step with SSE2 on x86-64 (part of its baseline, so no run-time detection), through
//! the `safe_arch` crate because the workspace denies `unsafe` and `std::arch` intrinsics need
//! it. Elsewhere, and for the last few bytes of the input, they fall back to 8-byte SWAR words.
//! Every vector routine has a portable twin, and the tests check both against naive scans.

/// `[a-zA-Z_:]`: may start a metric name.
pub(crate) const METRIC_START: u8 = 1;
/// `[a-zA-Z0-9_:]`: may continue a metric name.
pub(crate) const METRIC_CONT: u8 = 2;
/// `[a-zA-Z_]`: may start a label name.
pub(crate) const LABEL_START: u8 = 4;
/// `[a-zA-Z0-9_]`: may continue a label name.
pub(crate) const LABEL_CONT: u8 = 8;

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
    find_any(b, i, [b' ', b'\t', b'\n'])
}

/// Index of the next `\n` at or after `i`, or `b.len()`.
#[inline]
pub(crate) fn line_end(b: &[u8], i: usize) -> usize {
    find_any(b, i, [b'\n']).min(b.len())
}

/// Index of the next space, tab, `{` or line break at or after `i` (or `b.len()`): where an
/// unvalidated metric name ends (see `Parser::next_raw`). Every byte a valid name may hold passes,
/// and a valid name is always followed by one of these, so for valid input this is `skip_name`.
#[inline(always)]
pub(crate) fn name_stop(b: &[u8], i: usize) -> usize {
    find_any(b, i, [b' ', b'{', b'\n', b'\t'])
}

/// Index of the next `"`, `}` or line break at or after `i` (or `b.len()`): the only bytes that
/// matter when a label set is skipped rather than validated (see `Parser::next_raw`).
#[inline(always)]
pub(crate) fn brace_stop(b: &[u8], i: usize) -> usize {
    find_any(b, i, [b'"', b'}', b'\n'])
}

/// Index of the first byte at or after `i` equal to one of `set`, or `b.len()`. Sixteen bytes per
/// step with SSE2 where the target has it, eight (SWAR) elsewhere and for the last few bytes.
#[inline(always)]
pub(crate) fn find_any<const N: usize>(b: &[u8], i: usize, set: [u8; N]) -> usize {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    let i = {
        let (blocks, _) = b.get(i..).unwrap_or_default().as_chunks::<16>();
        for (n, block) in blocks.iter().enumerate() {
            let m = sse2::Block::load(block).any_eq(set);
            if m != 0 {
                return i + 16 * n + m.trailing_zeros() as usize;
            }
        }
        i + 16 * blocks.len()
    };
    find_any_swar(b, i, set)
}

/// [`find_any`] eight bytes per step (the portable path, and the tail of the SSE2 one).
#[inline(always)]
fn find_any_swar<const N: usize>(b: &[u8], i: usize, set: [u8; N]) -> usize {
    let mut j = i;
    while let Some(w) = word_at(b, j) {
        let m = set.iter().fold(0, |m, &c| m | eq_mask(w, c));
        if m != 0 {
            return j + first_set_byte(m);
        }
        j += 8;
    }
    while j < b.len() && !set.contains(&b[j]) {
        j += 1;
    }
    j
}

/// End (index after `}`) of a label set opened at `open`, for the common case of a set with no
/// backslash and no raw line break: the first `}` preceded by an even number of `"` is then
/// outside every quoted string. `None` when that shortcut does not apply (an escape, a line break,
/// a `}` inside quotes, or too few bytes left for a whole step); the caller then scans exactly.
#[inline(always)]
pub(crate) fn simple_set_end(b: &[u8], open: usize) -> Option<usize> {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    return sse2::simple_set_end(b, open);
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    return simple_set_end_swar(b, open);
}

/// [`simple_set_end`] with SWAR words (the portable path). Not inlined: its seven 64-bit
/// constants then stay in registers instead of competing with the caller's (measured: ~5% fewer
/// instructions per line than inlined).
#[cfg(any(test, not(all(target_arch = "x86_64", target_feature = "sse2"))))]
#[inline(never)]
fn simple_set_end_swar(b: &[u8], open: usize) -> Option<usize> {
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

/// SSE2 (baseline on x86-64) through `safe_arch`, whose wrappers are safe to call wherever the
/// target feature is enabled at compile time: the workspace forbids `unsafe`, and calling
/// `std::arch` intrinsics directly needs it. Masks are plain bitmasks, bit `k` for byte `k`.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod sse2 {
    use safe_arch::{
        add_i8_m128i, cmp_eq_mask_i8_m128i, cmp_gt_mask_i8_m128i, load_unaligned_m128i, m128i,
        move_mask_i8_m128i, set_splat_i8_m128i,
    };

    /// Sixteen input bytes in one register.
    #[derive(Clone, Copy)]
    pub(super) struct Block(m128i);

    impl Block {
        #[inline(always)]
        pub(super) fn load(bytes: &[u8; 16]) -> Block {
            Block(load_unaligned_m128i(bytes))
        }

        /// Lanes (all ones) whose byte equals one of `set`.
        #[inline(always)]
        fn lanes_eq<const N: usize>(self, set: [u8; N]) -> m128i {
            let mut hit = set_splat_i8_m128i(0);
            for c in set {
                hit |= cmp_eq_mask_i8_m128i(self.0, set_splat_i8_m128i(c as i8));
            }
            hit
        }

        /// Bit `k` set when byte `k` equals one of `set`.
        #[inline(always)]
        pub(super) fn any_eq<const N: usize>(self, set: [u8; N]) -> u32 {
            mask(self.lanes_eq(set))
        }
    }

    impl Block {
        /// Bit `k` set when byte `k` may be part of a name: `[a-zA-Z0-9_]`, and `:` when
        /// `colon`. A range test is one wrapping add that moves the range to the bottom of the
        /// signed bytes (`-128..`) and one signed compare; nothing else lands there, non-ASCII
        /// bytes included.
        #[inline(always)]
        pub(super) fn name_bytes(self, colon: bool) -> u32 {
            let x = self.0;
            let in_range = |v: m128i, lo: u8, len: u8| {
                let shifted = add_i8_m128i(v, set_splat_i8_m128i(0x80u8.wrapping_sub(lo) as i8));
                cmp_gt_mask_i8_m128i(set_splat_i8_m128i((0x80 + len) as i8), shifted)
            };
            // ASCII letters differ from their lower case only in bit 5.
            let lower = x | set_splat_i8_m128i(0x20);
            let mut ok = in_range(lower, b'a', 26)
                | in_range(x, b'0', 10)
                | cmp_eq_mask_i8_m128i(x, set_splat_i8_m128i(b'_' as i8));
            if colon {
                ok |= cmp_eq_mask_i8_m128i(x, set_splat_i8_m128i(b':' as i8));
            }
            mask(ok)
        }
    }

    /// Bit `k` set when lane `k` has its high bit set.
    #[inline(always)]
    fn mask(lanes: m128i) -> u32 {
        move_mask_i8_m128i(lanes) as u32
    }

    /// See [`super::simple_set_end`]. Label values are long and plain, so the set is read 32 bytes
    /// per step, then 16 at most once. Inside the loop nothing leaves the vector registers but
    /// one "any stop byte here?" mask: the quotes are counted (mod 2) by XOR-ing their lanes into
    /// an accumulator, and exact bit positions are worked out only for the final step.
    #[inline(always)]
    pub(super) fn simple_set_end(b: &[u8], open: usize) -> Option<usize> {
        let from = open + 1;
        let (pairs, rest) = b.get(from..)?.as_chunks::<32>();
        // Lane-wise XOR of every quote lane seen: the number of set lanes has the parity of the
        // number of quotes.
        let mut quotes = set_splat_i8_m128i(0);
        for (n, pair) in pairs.iter().enumerate() {
            let (lo, hi) = pair.split_at(16);
            let (Ok(lo), Ok(hi)) = (<&[u8; 16]>::try_from(lo), <&[u8; 16]>::try_from(hi)) else {
                return None;
            };
            let (lo, hi) = (Block::load(lo), Block::load(hi));
            let (stop_lo, stop_hi) = (lo.lanes_eq(SET_STOP), hi.lanes_eq(SET_STOP));
            if mask(stop_lo | stop_hi) != 0 {
                let stop = mask(stop_lo) | mask(stop_hi) << 16;
                let q = lo.any_eq([b'"']) | hi.any_eq([b'"']) << 16;
                return settle(b, from + 32 * n, stop, q, mask(quotes));
            }
            quotes ^= lo.lanes_eq([b'"']) ^ hi.lanes_eq([b'"']);
        }
        let block = Block::load(rest.first_chunk::<16>()?);
        let stop = block.any_eq(SET_STOP);
        if stop != 0 {
            let base = from + 32 * pairs.len();
            return settle(b, base, stop, block.any_eq([b'"']), mask(quotes));
        }
        None
    }

    /// What ends the shortcut's scan: the closing brace, or a byte it cannot handle.
    const SET_STOP: [u8; 3] = [b'}', b'\n', b'\\'];

    /// The answer once a stop byte shows up in the masks of the bytes from `base`: the set ends
    /// there if that byte is a `}` and an even number of quotes precede it.
    #[inline(always)]
    fn settle(b: &[u8], base: usize, stop: u32, q: u32, quotes: u32) -> Option<usize> {
        let k = stop.trailing_zeros();
        let at = base + k as usize;
        if b.get(at) != Some(&b'}') {
            return None;
        }
        // `k` < 32: the bits of the quotes before the brace.
        let before = q & ((1u64 << k) - 1) as u32;
        (parity32(quotes ^ before) == 0).then_some(at + 1)
    }

    /// 1 when an odd number of bits of `x` are set (no `popcnt` on baseline x86-64): fold to
    /// four bits, then look the answer up in a 16-bit constant.
    #[inline(always)]
    fn parity32(mut x: u32) -> u32 {
        x ^= x >> 16;
        x ^= x >> 8;
        x ^= x >> 4;
        (0x6996 >> (x & 0xf)) & 1
    }
}

/// 1 when an odd number of bits of `x` are set.
#[cfg(any(test, not(all(target_arch = "x86_64", target_feature = "sse2"))))]
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
#[cfg(any(test, not(all(target_arch = "x86_64", target_feature = "sse2"))))]
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
/// the same result as `skip_class` with `METRIC_CONT`/`LABEL_CONT`, sixteen bytes per step with
/// SSE2, else (and for the last few bytes) eight.
#[inline(always)]
pub(crate) fn skip_name(b: &[u8], i: usize, colon: bool) -> usize {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    let i = {
        let (blocks, _) = b.get(i..).unwrap_or_default().as_chunks::<16>();
        for (n, block) in blocks.iter().enumerate() {
            let ok = sse2::Block::load(block).name_bytes(colon);
            if ok != 0xffff {
                return i + 16 * n + (!ok).trailing_zeros() as usize;
            }
        }
        i + 16 * blocks.len()
    };
    skip_name_swar(b, i, colon)
}

/// [`skip_name`] eight bytes per step.
#[inline(always)]
fn skip_name_swar(b: &[u8], i: usize, colon: bool) -> usize {
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
        // Runs of every length up to four blocks, ended by each kind of byte that stops a name.
        let name = b"abcdefghijklmnopqrstuvwxyz_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        for len in 0..name.len() {
            for end in [
                b'{', b' ', b'=', b':', b'-', b'\n', 0x80, 0xc3, b'`', b'@', b'[', b'/',
            ] {
                let mut b = name[..len].to_vec();
                b.push(end);
                b.extend_from_slice(b"abc");
                for i in 0..=len {
                    let metric = if end == b':' { len + 4 } else { len };
                    assert_eq!(skip_name(&b, i, true), metric, "{len} {end} {i}");
                    assert_eq!(skip_name(&b, i, false), len, "{len} {end} {i}");
                    assert_eq!(skip_name_swar(&b, i, false), len, "{len} {end} {i}");
                }
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

    type SetEnd = fn(&[u8], usize) -> Option<usize>;

    /// Every implementation of `simple_set_end` this target has, by name.
    fn set_end_impls() -> Vec<(&'static str, SetEnd)> {
        #[allow(unused_mut)]
        let mut impls: Vec<(&'static str, SetEnd)> =
            vec![("dispatch", simple_set_end), ("swar", simple_set_end_swar)];
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
        impls.push(("sse2", sse2::simple_set_end));
        impls
    }

    #[test]
    fn simple_set_end_matches_naive() {
        for (name, set_end) in set_end_impls() {
            for seed in 0..3000u64 {
                let b = bytes(seed, 80);
                for open in 0..b.len() {
                    if let Some(end) = set_end(&b, open) {
                        assert_eq!(Some(end), naive_set_end(&b, open), "{name}: {b:?} {open}");
                    }
                }
            }
            let set = b"{a=\"x}y\",b=\"1\"} 1\n";
            assert_eq!(set_end(set, 0), None, "{name}: a brace inside quotes");
        }
        let set = b"{a=\"xy\",b=\"1\"} 1\n";
        assert_eq!(simple_set_end(set, 0), Some(14));
    }

    /// A plain label set (no escape, no line break, no brace inside quotes) with a stop byte at
    /// every offset across the 8/16/32-byte steps: each implementation answers, and exactly.
    #[test]
    fn simple_set_end_answers_at_every_block_offset() {
        for (name, set_end) in set_end_impls() {
            for len in 0..100 {
                for quote_at in (0..len).step_by(3) {
                    // `{` then `len` bytes of text holding one quoted value, then `}`.
                    let mut b = vec![b'{'];
                    b.extend((0..len).map(|k| if k % 7 == 6 { b',' } else { b'a' }));
                    if quote_at + 2 < len {
                        b[1 + quote_at] = b'"';
                        b[1 + len - 1] = b'"';
                    }
                    b.push(b'}');
                    // Room for a whole step after the brace, as inside a real payload.
                    b.extend_from_slice(b" 1\nnext_metric_name{x=\"yyyyyyyyyyyy\"} 2\n");
                    assert_eq!(set_end(&b, 0), Some(len + 2), "{name}: {len} {quote_at}");
                    assert_eq!(naive_set_end(&b, 0), Some(len + 2));
                }
                // A backslash, a line break or an unbalanced quote at each offset declines.
                for at in 0..len {
                    for bad in [b'\\', b'\n', b'"'] {
                        let mut b = vec![b'{'];
                        b.extend(std::iter::repeat_n(b'a', len));
                        b[1 + at] = bad;
                        b.push(b'}');
                        b.extend_from_slice(&[b' '; 40]);
                        assert_eq!(set_end(&b, 0), None, "{name}: {len} {at} {bad}");
                    }
                }
            }
        }
    }

    #[test]
    fn find_any_matches_naive_at_every_offset() {
        let naive = |b: &[u8], i: usize, set: &[u8]| {
            b.get(i..)
                .unwrap_or_default()
                .iter()
                .position(|c| set.contains(c))
                .map_or(b.len().max(i), |p| i + p)
        };
        // Random bytes: every start, several sets, lengths around the block sizes.
        for seed in 0..400u64 {
            let b = bytes(seed, (seed % 70) as usize);
            for i in 0..=b.len() + 1 {
                assert_eq!(find_any(&b, i, [b'"']), naive(&b, i, b"\""));
                assert_eq!(
                    find_any(&b, i, [b'"', b'\\', b'\n']),
                    naive(&b, i, b"\"\\\n")
                );
                let set = [b' ', b'{', b'\n', b'\t'];
                assert_eq!(find_any(&b, i, set), naive(&b, i, &set));
                assert_eq!(find_any_swar(&b, i, set), naive(&b, i, &set));
            }
        }
        // One stop byte at every position of lines shorter and longer than a block, found from
        // every start before it; none at all runs to the end.
        for len in 0..70 {
            let plain = vec![b'x'; len];
            for i in 0..=len {
                assert_eq!(find_any(&plain, i, [b'}', b'"']), len, "{len} {i}");
            }
            for at in 0..len {
                for stop in [b'}', b'"'] {
                    let mut b = plain.clone();
                    b[at] = stop;
                    for i in 0..=at {
                        assert_eq!(find_any(&b, i, [b'}', b'"']), at, "{len} {at} {i}");
                        assert_eq!(find_any_swar(&b, i, [b'}', b'"']), at);
                    }
                }
            }
        }
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
