//! Sample values and timestamps.
//!
//! Values follow what Prometheus accepts (Go's `strconv.ParseFloat` minus hex floats and digit
//! separators): decimal and exponent forms plus case-insensitive `NaN`, `Inf`, `Infinity` with an
//! optional sign. Most exposition values are short decimals, so a Clinger-style fast path handles
//! them exactly (mantissa ≤ 2^53, power of ten ≤ 22 — both operands exact, one correctly rounded
//! IEEE operation); everything else falls back to the standard library's correct parser.

/// Bit pattern of the NaN Prometheus stores for a scraped `NaN` (`value.NormalNaN`). Every parsed
/// NaN is normalised to it so it can never be mistaken for the staleness marker NaN.
pub const NORMAL_NAN_BITS: u64 = 0x7ff8_0000_0000_0001;

const MAX_EXACT_MANTISSA: u64 = 1 << 53;

const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Parses a sample value (the token's bytes); `None` when it is not a number Prometheus would
/// accept. Bytes rather than `&str` so the caller need not re-check UTF-8 boundaries to slice.
#[inline]
pub(crate) fn parse_value(s: &[u8]) -> Option<f64> {
    let v = match fast_decimal(s) {
        Some(v) => v,
        None => slow_float(s)?,
    };
    if v.is_nan() {
        return Some(f64::from_bits(NORMAL_NAN_BITS));
    }
    Some(v)
}

/// Most digits a mantissa may have for the fast path: 10^19 − 1 still fits a `u64`, so the
/// digit loops need no per-digit overflow test; the 2^53 bound is checked once afterwards.
const MAX_FAST_DIGITS: usize = 19;

/// Advances past ASCII digits from `i`, accumulating them into `mant` (wrapping: the caller
/// bounds the digit count).
#[inline(always)]
fn digits(b: &[u8], mut i: usize, mant: &mut u64) -> usize {
    while let Some(&c) = b.get(i) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        *mant = mant.wrapping_mul(10).wrapping_add(u64::from(d));
        i += 1;
    }
    i
}

/// Exact for plain decimals of at most 19 digits whose value fits 2^53 and whose decimal exponent
/// is within ±22.
#[inline]
fn fast_decimal(b: &[u8]) -> Option<f64> {
    let (neg, start) = match b.first() {
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        _ => (false, 0),
    };
    let mut mant: u64 = 0;
    let mut i = digits(b, start, &mut mant);
    let mut n_digits = i - start;
    let mut frac_digits = 0;
    if b.get(i) == Some(&b'.') {
        let frac_start = i + 1;
        i = digits(b, frac_start, &mut mant);
        frac_digits = i - frac_start;
        n_digits += frac_digits;
    }
    if n_digits == 0 || n_digits > MAX_FAST_DIGITS || mant > MAX_EXACT_MANTISSA {
        return None;
    }
    // At most 19, so the cast is exact.
    let mut exp = -(frac_digits as i32);
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        let eneg = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        let mut e: i32 = 0;
        while i < b.len() && b[i].is_ascii_digit() {
            if e > 10_000 {
                return None;
            }
            e = e * 10 + i32::from(b[i] - b'0');
            i += 1;
        }
        if i == start {
            return None;
        }
        exp += if eneg { -e } else { e };
    }
    if i != b.len() {
        return None;
    }
    // `mant` ≤ 2^53 converts exactly.
    #[allow(clippy::cast_precision_loss)]
    let m = mant as f64;
    let v = if exp == 0 {
        m
    } else if (1..=22).contains(&exp) {
        m * POW10[exp as usize]
    } else if (-22..0).contains(&exp) {
        m / POW10[(-exp) as usize]
    } else if mant == 0 {
        0.0
    } else {
        return None;
    };
    Some(if neg { -v } else { v })
}

/// The standard library parser, with Go's out-of-range rule: a finite literal too large for f64
/// is an error rather than ±Inf.
#[cold]
fn slow_float(s: &[u8]) -> Option<f64> {
    // Rust, like Prometheus, rejects `_` separators and hex floats, and both accept the same
    // case-insensitive `inf`/`infinity`/`nan` spellings, so only the range rule needs adding.
    let v: f64 = std::str::from_utf8(s).ok()?.parse().ok()?;
    if v.is_infinite() && !s.iter().any(|&c| c == b'i' || c == b'I') {
        return None;
    }
    Some(v)
}

/// Text 0.0.4 timestamp: decimal digits only (no sign), milliseconds, must fit i64.
pub(crate) fn parse_prom_timestamp(b: &[u8]) -> Option<i64> {
    if b.is_empty() {
        return None;
    }
    let mut v: i64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(i64::from(c - b'0'))?;
    }
    Some(v)
}

/// OpenMetrics timestamp: seconds as a float, converted to milliseconds truncating toward zero
/// (what Prometheus does). Plain `[-]digits[.digits]` is converted exactly from the decimal text,
/// which avoids the off-by-one a binary `ts * 1000` can produce.
pub(crate) fn parse_om_timestamp(s: &str) -> Option<i64> {
    exact_seconds_to_ms(s.as_bytes()).or_else(|| {
        let v = parse_value(s.as_bytes())?;
        if !v.is_finite() {
            return None;
        }
        let ms = (v * 1000.0).trunc();
        // Anything outside i64 range has no meaningful millisecond timestamp.
        #[allow(clippy::cast_precision_loss)]
        if ms >= i64::MAX as f64 || ms < i64::MIN as f64 {
            return None;
        }
        #[allow(clippy::cast_possible_truncation)]
        Some(ms as i64)
    })
}

fn exact_seconds_to_ms(b: &[u8]) -> Option<i64> {
    let (neg, mut i) = match b.first() {
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        _ => (false, 0),
    };
    let start = i;
    let mut secs: i64 = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        secs = secs.checked_mul(10)?.checked_add(i64::from(b[i] - b'0'))?;
        i += 1;
    }
    if i == start {
        return None;
    }
    let mut millis: i64 = 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let mut place = 100;
        while i < b.len() && b[i].is_ascii_digit() {
            millis += place * i64::from(b[i] - b'0');
            place /= 10;
            i += 1;
        }
    }
    if i != b.len() {
        return None;
    }
    let ms = secs.checked_mul(1000)?.checked_add(millis)?;
    Some(if neg { -ms } else { ms })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_path_agrees_with_std() {
        let cases = [
            "0",
            "1",
            "-1",
            "+1",
            "1.5",
            "4.9351e-05",
            "7.424100000000001e-05",
            "1e3",
            "1E-3",
            "123456789012345",
            "9007199254740992",
            "0.1",
            "0.3",
            "-0",
            ".5",
            "5.",
            "1e22",
            "1e-22",
            "3.14159",
            "0.000001",
            "2.5e+10",
            "1e0",
            "0e400",
            // Around the fast path's 19-digit limit (and past it, through the slow path).
            "1234567890123456789",
            "123456789012345678",
            "0.0000000000000000001",
            "0.00000000000000000001",
            "00000000000000000000001",
            "123456789012345678901234",
            "9007199254740992.0",
            "900719925474099.25",
            "1.5e-0",
            "25e-3",
        ];
        for c in cases {
            let want: f64 = c.parse().unwrap();
            let got = parse_value(c.as_bytes()).unwrap();
            assert_eq!(got.to_bits(), want.to_bits(), "{c}");
        }
    }

    /// Random decimals in the shapes exporters write, compared bit for bit with `f64::from_str`
    /// (whichever internal path `parse_value` takes).
    #[test]
    fn random_decimals_round_like_std() {
        let mut s: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        for _ in 0..200_000 {
            let digits = 1 + next() % 19;
            let int = next() % 10u64.pow(digits as u32);
            let frac_digits = next() % 20;
            let frac = next() % 10u64.pow(frac_digits.min(19) as u32);
            let mut text = match next() % 4 {
                0 => format!("{int}"),
                1 => format!("{int}.{frac:0w$}", w = frac_digits as usize),
                2 => format!("-{int}.{frac}e{}", (next() % 60) as i64 - 30),
                _ => format!("{}", f64::from_bits(next() >> 2)),
            };
            if next() % 7 == 0 {
                text.insert(0, '+');
            }
            let Ok(want) = text.parse::<f64>() else {
                continue;
            };
            if want.is_nan() || want.is_infinite() {
                continue;
            }
            let got = parse_value(text.as_bytes()).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(got.to_bits(), want.to_bits(), "{text}");
        }
    }

    #[test]
    fn slow_path_and_specials() {
        assert_eq!(parse_value(b"9007199254740993"), Some(9007199254740993f64));
        assert_eq!(parse_value(b"1e23"), Some(1e23));
        assert_eq!(parse_value(b"+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_value(b"-Inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_value(b"inf"), Some(f64::INFINITY));
        assert_eq!(parse_value(b"NaN").map(f64::to_bits), Some(NORMAL_NAN_BITS));
        assert_eq!(parse_value(b"nan").map(f64::to_bits), Some(NORMAL_NAN_BITS));
    }

    #[test]
    fn rejects_what_prometheus_rejects() {
        for c in [
            "", "-", ".", "e5", "1e", "1_2", "0x1p-3", "0x10", "true", "1z", "1 ", "1e400",
            "-1e400", "1..2", "++1",
        ] {
            assert_eq!(parse_value(c.as_bytes()), None, "{c:?}");
        }
    }

    #[test]
    fn prom_timestamps() {
        assert_eq!(parse_prom_timestamp(b"123123"), Some(123123));
        assert_eq!(parse_prom_timestamp(b"-5"), None);
        assert_eq!(parse_prom_timestamp(b""), None);
        assert_eq!(parse_prom_timestamp(b"9223372036854775808"), None);
        assert_eq!(parse_prom_timestamp(b"9223372036854775807"), Some(i64::MAX));
    }

    #[test]
    fn om_timestamps() {
        assert_eq!(
            parse_om_timestamp("1520879607.789"),
            Some(1_520_879_607_789)
        );
        assert_eq!(parse_om_timestamp("1520879607"), Some(1_520_879_607_000));
        assert_eq!(parse_om_timestamp("1.5"), Some(1500));
        assert_eq!(parse_om_timestamp("1.0009"), Some(1000));
        assert_eq!(parse_om_timestamp("-1.5"), Some(-1500));
        assert_eq!(parse_om_timestamp("1.5e3"), Some(1_500_000));
        assert_eq!(parse_om_timestamp("NaN"), None);
        assert_eq!(parse_om_timestamp("+Inf"), None);
        assert_eq!(parse_om_timestamp("1e300"), None);
        assert_eq!(parse_om_timestamp("x"), None);
    }
}
