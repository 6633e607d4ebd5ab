//! Argument types with Alloy-specific syntax: Go durations, base-2 byte sizes, capsules, and the
//! serde glue that lets [`Secret`] and [`Value`] fields pass through the decoder untouched.

use crate::decode::{magic, take_slot};
use crate::value::{Capsule, Number, Object, Secret, Value};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

// ------------------------------------------------------------------------------------------------
// Durations

/// A duration in Go's `time.ParseDuration` syntax (`"1h30m"`, `"1.5s"`, `"0"`; no `d`).
/// Displays in Go's `String()` form (`1h30m0s`, `15s`, `500ms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct GoDuration(pub Duration);

impl GoDuration {
    pub fn from_secs(s: u64) -> Self {
        GoDuration(Duration::from_secs(s))
    }

    pub fn from_millis(ms: u64) -> Self {
        GoDuration(Duration::from_millis(ms))
    }
}

impl From<Duration> for GoDuration {
    fn from(d: Duration) -> Self {
        GoDuration(d)
    }
}

impl From<GoDuration> for Duration {
    fn from(d: GoDuration) -> Self {
        d.0
    }
}

impl std::str::FromStr for GoDuration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse_go_duration(s).map(GoDuration)
    }
}

/// Go's `time.ParseDuration`, with Go's error texts. Negative durations are refused since a
/// `std::time::Duration` cannot hold them (no Alloy argument accepts one).
pub fn parse_go_duration(s: &str) -> Result<Duration, String> {
    let invalid = || format!("time: invalid duration {}", crate::value::quote_go(s));
    let mut rest = s;
    let mut negative = false;
    if let Some(r) = rest.strip_prefix('-') {
        negative = true;
        rest = r;
    } else if let Some(r) = rest.strip_prefix('+') {
        rest = r;
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        // The number: digits, optionally a fraction.
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let int_part = &rest[..int_len];
        rest = &rest[int_len..];
        let mut frac_part = "";
        if let Some(r) = rest.strip_prefix('.') {
            let frac_len = r.bytes().take_while(u8::is_ascii_digit).count();
            frac_part = &r[..frac_len];
            rest = &r[frac_len..];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(invalid());
        }
        // The unit: everything up to the next digit or dot.
        let unit_len = rest
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        if unit.is_empty() {
            return Err(format!(
                "time: missing unit in duration {}",
                crate::value::quote_go(s)
            ));
        }
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    crate::value::quote_go(unit),
                    crate::value::quote_go(s)
                ))
            }
        };
        let int: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| invalid())?
        };
        let mut nanos = int.checked_mul(scale).ok_or_else(invalid)?;
        if !frac_part.is_empty() {
            // Digits beyond 18 cannot change a nanosecond count (the largest unit, 1h, is
            // 3.6e12 ns), and keeping 18 keeps `frac * scale` far inside u128.
            let digits = &frac_part[..frac_part.len().min(18)];
            let frac: u128 = digits.parse().map_err(|_| invalid())?;
            let denom = 10u128.pow(digits.len() as u32);
            nanos += frac * scale / denom;
        }
        total = total.checked_add(nanos).ok_or_else(invalid)?;
        if total > i64::MAX as u128 {
            return Err(invalid());
        }
    }
    if negative && total != 0 {
        return Err(format!(
            "time: negative duration {} is not supported",
            crate::value::quote_go(s)
        ));
    }
    Ok(Duration::from_nanos(total as u64))
}

impl fmt::Display for GoDuration {
    /// Go's `Duration.String()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&go_duration_string(self.0))
    }
}

/// Go's `Duration.String()`: `0s`, `1.5µs`, `100ms`, `1m30s`, `1h0m0s`.
pub fn go_duration_string(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_string();
    }
    // Fractional part `frac` of `unit` nanoseconds, without trailing zeros.
    let with_fraction = |whole: u128, frac: u128, digits: usize| -> String {
        if frac == 0 {
            return whole.to_string();
        }
        let f = format!("{frac:0digits$}");
        format!("{whole}.{}", f.trim_end_matches('0'))
    };
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}µs", with_fraction(nanos / 1_000, nanos % 1_000, 3));
    }
    if nanos < 1_000_000_000 {
        return format!(
            "{}ms",
            with_fraction(nanos / 1_000_000, nanos % 1_000_000, 6)
        );
    }
    let secs_total = nanos / 1_000_000_000;
    let sub = nanos % 1_000_000_000;
    let hours = secs_total / 3600;
    let minutes = (secs_total % 3600) / 60;
    let secs = secs_total % 60;
    let s = format!("{}s", with_fraction(secs, sub, 9));
    if hours > 0 {
        format!("{hours}h{minutes}m{s}")
    } else if minutes > 0 {
        format!("{minutes}m{s}")
    } else {
        s
    }
}

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = GoDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"30s\"")
            }
            // From this crate's decoder: already parsed, in nanoseconds.
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<GoDuration, E> {
                Ok(GoDuration(Duration::from_nanos(n)))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<GoDuration, E> {
                u64::try_from(n)
                    .map(|n| GoDuration(Duration::from_nanos(n)))
                    .map_err(|_| E::custom("duration must not be negative"))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<GoDuration, E> {
                parse_go_duration(s).map(GoDuration).map_err(E::custom)
            }
            fn visit_unit<E: de::Error>(self) -> Result<GoDuration, E> {
                Ok(GoDuration::default())
            }
            fn visit_newtype_struct<D: Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<GoDuration, D::Error> {
                d.deserialize_any(V)
            }
        }
        d.deserialize_newtype_struct(magic::DURATION, V)
    }
}

// ------------------------------------------------------------------------------------------------
// Byte sizes

/// A byte count from `units.Base2Bytes`: a plain number of bytes, or a string with a unit where
/// every unit is a power of 1024 (`"4MiB"`, `"20MB"` = 20·1024², `"1.5GB"`). A string without a
/// unit is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

/// Parse a base-2 byte size string; units may be combined (`"1GiB512MiB"`).
pub fn parse_byte_size(s: &str) -> Result<u64, String> {
    let quoted = crate::value::quote_go(s);
    if s.is_empty() {
        return Err(format!("units: invalid {quoted}"));
    }
    // Like time.ParseDuration, a bare "0" needs no unit.
    if s == "0" {
        return Ok(0);
    }
    let mut rest = s;
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        let num = &rest[..num_len];
        rest = &rest[num_len..];
        let value: f64 = num
            .parse()
            .map_err(|_| format!("units: invalid {quoted}"))?;
        let unit_len = rest
            .bytes()
            .take_while(|b| !(b.is_ascii_digit() || *b == b'.'))
            .count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let power = match unit {
            "" => return Err(format!("units: missing unit in {quoted}")),
            "B" => 0,
            "KB" | "KiB" => 1,
            "MB" | "MiB" => 2,
            "GB" | "GiB" => 3,
            "TB" | "TiB" => 4,
            "PB" | "PiB" => 5,
            "EB" | "EiB" => 6,
            other => {
                return Err(format!(
                    "units: unknown unit {} in {quoted}",
                    crate::value::quote_go(other)
                ))
            }
        };
        total += value * 1024f64.powi(power);
    }
    if total > u64::MAX as f64 {
        return Err(format!("units: overflow in {quoted}"));
    }
    Ok(total as u64)
}

impl std::str::FromStr for ByteSize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse_byte_size(s).map(ByteSize)
    }
}

impl fmt::Display for ByteSize {
    /// Like Go's `Base2Bytes.String()`: `0B`, `4MiB`, `1KiB512B`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        if self.0 == 0 {
            return f.write_str("0B");
        }
        let mut rest = self.0;
        let mut out = String::new();
        for (i, unit) in UNITS.iter().enumerate().rev() {
            let size = 1u64 << (10 * i);
            if rest >= size {
                out.push_str(&format!("{}{unit}", rest / size));
                rest %= size;
            }
        }
        f.write_str(&out)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a byte size such as \"4MiB\" or a number of bytes")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(n))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<ByteSize, E> {
                u64::try_from(n)
                    .map(ByteSize)
                    .map_err(|_| E::custom("byte size must not be negative"))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<ByteSize, E> {
                if n < 0.0 {
                    return Err(E::custom("byte size must not be negative"));
                }
                Ok(ByteSize(n as u64))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<ByteSize, E> {
                parse_byte_size(s).map(ByteSize).map_err(E::custom)
            }
            fn visit_unit<E: de::Error>(self) -> Result<ByteSize, E> {
                Ok(ByteSize(0))
            }
            fn visit_newtype_struct<D: Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<ByteSize, D::Error> {
                d.deserialize_any(V)
            }
        }
        d.deserialize_newtype_struct(magic::BYTE_SIZE, V)
    }
}

// ------------------------------------------------------------------------------------------------
// Capsules

/// A capsule argument whose inner value is a `T` (a receiver handle, relabel rules…). Decoding
/// anything else fails with `should be capsule("T"), got …`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CapsuleOf<T>(pub T);

fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

impl<'de, T: Clone + Send + Sync + 'static> Deserialize<'de> for CapsuleOf<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Clone + Send + Sync + 'static> Visitor<'de> for V<T> {
            type Value = CapsuleOf<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "capsule({:?})", short_type_name::<T>())
            }
            fn visit_unit<E: de::Error>(self) -> Result<CapsuleOf<T>, E> {
                match take_slot() {
                    Some(Value::Capsule(c)) => match c.downcast_ref::<T>() {
                        Some(t) => Ok(CapsuleOf(t.clone())),
                        None => Err(E::custom(format!(
                            "should be capsule({:?}), got capsule({:?})",
                            short_type_name::<T>(),
                            c.type_name
                        ))),
                    },
                    Some(other) => Err(E::custom(format!(
                        "should be capsule({:?}), got {}",
                        short_type_name::<T>(),
                        other.kind()
                    ))),
                    None => Err(E::custom(format!(
                        "should be capsule({:?}), got null",
                        short_type_name::<T>()
                    ))),
                }
            }
        }
        d.deserialize_newtype_struct(magic::CAPSULE, V(PhantomData))
    }
}

impl<T: Clone + Send + Sync + 'static> CapsuleOf<T> {
    /// Wrap `T` as a language value, named `type_name` in errors and the API.
    pub fn to_value(&self, type_name: &'static str) -> Value {
        Value::Capsule(Capsule::new(type_name, self.0.clone()))
    }
}

// ------------------------------------------------------------------------------------------------
// Serialization (for the admin API's view of arguments): durations as Go strings, sizes as byte
// counts, secrets redacted, values as in `value_to_json`.

impl serde::Serialize for GoDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl serde::Serialize for ByteSize {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("(secret)")
    }
}

impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        crate::value::value_to_json(self).serialize(s)
    }
}

// ------------------------------------------------------------------------------------------------
// Secret and Value

impl<'de> Deserialize<'de> for Secret {
    /// A string or a secret (a plain `String` field refuses a secret, see the decoder).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Secret;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a secret or a string")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Secret, E> {
                Ok(Secret::new(s))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Secret, E> {
                Ok(Secret::new(s))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Secret, E> {
                Ok(Secret::default())
            }
            fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Secret, D::Error> {
                String::deserialize(d).map(Secret::new)
            }
        }
        d.deserialize_newtype_struct(magic::SECRET, V)
    }
}

impl<'de> Deserialize<'de> for Value {
    /// Any value, unchanged (capsules and secrets included) when it comes from this crate's
    /// decoder; built from the data model otherwise.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_newtype_struct(magic::VALUE, ValueVisitor { from_slot: true })
    }
}

struct ValueVisitor {
    /// `visit_unit` means "take the value handed over by the decoder" (else it is null).
    from_slot: bool,
}

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        if self.from_slot {
            Ok(take_slot().unwrap_or(Value::Null))
        } else {
            Ok(Value::Null)
        }
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor { from_slot: false })
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E: de::Error>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Number(Number::Int(i)))
    }
    fn visit_u64<E: de::Error>(self, u: u64) -> Result<Value, E> {
        Ok(Value::Number(Number::Uint(u)))
    }
    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Value, E> {
        Ok(Value::Number(Number::Float(f)))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_string()))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element::<Value>()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Object::new();
        while let Some((k, v)) = map.next_entry::<String, Value>()? {
            out.insert(k, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_go() {
        let ok = [
            ("0", 0u64),
            ("1s", 1_000_000_000),
            ("1.5s", 1_500_000_000),
            ("1h30m", 5_400_000_000_000),
            ("100ms", 100_000_000),
            ("2us", 2_000),
            ("3µs", 3_000),
            ("10ns", 10),
            (".5m", 30_000_000_000),
            ("1m0.5s", 60_500_000_000),
            ("1.123456789012345678901234567890h", 4_044_444_440_444),
        ];
        for (s, n) in ok {
            assert_eq!(parse_go_duration(s), Ok(Duration::from_nanos(n)), "{s}");
        }
        assert_eq!(
            parse_go_duration("1d").unwrap_err(),
            "time: unknown unit \"d\" in duration \"1d\""
        );
        assert_eq!(
            parse_go_duration("5").unwrap_err(),
            "time: missing unit in duration \"5\""
        );
        assert_eq!(
            parse_go_duration("").unwrap_err(),
            "time: invalid duration \"\""
        );
        assert_eq!(
            parse_go_duration("s").unwrap_err(),
            "time: invalid duration \"s\""
        );
    }

    #[test]
    fn durations_print_like_go() {
        let cases = [
            (0u64, "0s"),
            (15_000_000_000, "15s"),
            (5_400_000_000_000, "1h30m0s"),
            (3_600_000_000_000, "1h0m0s"),
            (90_000_000_000, "1m30s"),
            (1_500_000_000, "1.5s"),
            (100_000_000, "100ms"),
            (1_500_000, "1.5ms"),
            (1_500, "1.5µs"),
            (7, "7ns"),
        ];
        for (n, want) in cases {
            assert_eq!(GoDuration(Duration::from_nanos(n)).to_string(), want);
        }
    }

    #[test]
    fn byte_sizes_are_base_2() {
        assert_eq!(parse_byte_size("4MiB"), Ok(4 << 20));
        assert_eq!(parse_byte_size("20MB"), Ok(20 << 20));
        assert_eq!(parse_byte_size("1.5KB"), Ok(1536));
        assert_eq!(parse_byte_size("1GiB512MiB"), Ok((1 << 30) + (512 << 20)));
        assert_eq!(parse_byte_size("100B"), Ok(100));
        assert!(parse_byte_size("1024")
            .unwrap_err()
            .contains("missing unit"));
        assert!(parse_byte_size("3XB").unwrap_err().contains("unknown unit"));
        assert_eq!(ByteSize(4 << 20).to_string(), "4MiB");
        assert_eq!(ByteSize(1536).to_string(), "1KiB512B");
        assert_eq!(parse_byte_size("0"), Ok(0));
    }

    #[test]
    fn serialization_redacts_secrets() {
        let v = Value::Array(vec![Value::Secret(Secret::new("pw")), Value::from(1)]);
        assert_eq!(serde_json::to_string(&v).unwrap(), r#"["(secret)",1]"#);
        assert_eq!(
            serde_json::to_string(&GoDuration::from_secs(90)).unwrap(),
            r#""1m30s""#
        );
    }

    #[test]
    fn types_deserialize_from_other_formats() {
        let d: GoDuration = serde_json::from_str(r#""1h""#).unwrap();
        assert_eq!(d, GoDuration::from_secs(3600));
        let b: ByteSize = serde_json::from_str(r#""2MiB""#).unwrap();
        assert_eq!(b, ByteSize(2 << 20));
        let s: Secret = serde_json::from_str(r#""pw""#).unwrap();
        assert_eq!(s.expose(), "pw");
        let v: Value = serde_json::from_str(r#"{"a":[1,-2,1.5,null,"x"]}"#).unwrap();
        assert_eq!(
            crate::value::value_to_alloy(&v),
            r#"{ a = [1, -2, 1.5, null, "x"] }"#
        );
    }
}
