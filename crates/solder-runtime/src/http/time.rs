//! RFC 3339 timestamps without a date-time crate: the JSON API's `updatedTime` (Go's
//! `time.Time` JSON form) and the log formatter both need one, nothing more.

use std::time::{SystemTime, UNIX_EPOCH};

/// How many fractional-second digits to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// Milliseconds, always three digits (go-kit log's `ts`).
    Millis,
    /// Nanoseconds with trailing zeros trimmed (Go's `time.RFC3339Nano`).
    NanosTrimmed,
}

/// Format `t` in UTC as `YYYY-MM-DDTHH:MM:SS[.frac]Z`. Times before 1970 clamp to the epoch.
pub fn rfc3339(t: SystemTime, precision: Precision) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let nanos = since.subsec_nanos();
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    let mut out = format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}");
    match precision {
        Precision::Millis => out.push_str(&format!(".{:03}", nanos / 1_000_000)),
        Precision::NanosTrimmed => {
            if nanos != 0 {
                let frac = format!("{nanos:09}");
                out.push('.');
                out.push_str(frac.trim_end_matches('0'));
            }
        }
    }
    out.push('Z');
    out
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day), after Howard Hinnant's
/// `civil_from_days` algorithm (eras of 400 years, March-based years).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64, nanos: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(secs, nanos)
    }

    #[test]
    fn formats_known_instants() {
        let cases = [
            (at(0, 0), Precision::NanosTrimmed, "1970-01-01T00:00:00Z"),
            (at(0, 0), Precision::Millis, "1970-01-01T00:00:00.000Z"),
            // 2000-02-29 (leap day in a century leap year) 12:34:56.5
            (
                at(951_827_696, 500_000_000),
                Precision::NanosTrimmed,
                "2000-02-29T12:34:56.5Z",
            ),
            (
                at(951_827_696, 500_000_000),
                Precision::Millis,
                "2000-02-29T12:34:56.500Z",
            ),
            // 2024-12-31T23:59:59.123456789Z
            (
                at(1_735_689_599, 123_456_789),
                Precision::NanosTrimmed,
                "2024-12-31T23:59:59.123456789Z",
            ),
            // 2100-03-01 (2100 is not a leap year)
            (
                at(4_107_542_400, 0),
                Precision::NanosTrimmed,
                "2100-03-01T00:00:00Z",
            ),
        ];
        for (t, p, want) in cases {
            assert_eq!(rfc3339(t, p), want);
        }
    }

    #[test]
    fn before_epoch_clamps() {
        let t = UNIX_EPOCH - Duration::from_secs(10);
        assert_eq!(rfc3339(t, Precision::NanosTrimmed), "1970-01-01T00:00:00Z");
    }
}
