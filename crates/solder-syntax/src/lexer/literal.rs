//! Decoding of literal values: number text into [`Number`] (Go's `ParseInt(lit, 0, 64)`, then
//! `ParseUint`, then `ParseFloat`, which configs rely on: `010` is 8), and the escape sequences of
//! double-quoted strings.

use crate::value::Number;

/// Decodes a NUMBER token (ASCII digits only). Mirrors Go base-0 parsing: a leading `0` means octal;
/// anything that fails as int64 and uint64 (bad octal digit, overflow) is re-read as a decimal float.
/// `None` only when the float is out of range too (more than ~309 digits).
pub fn decode_int(lit: &str) -> Option<Number> {
    let (digits, radix) = match lit.strip_prefix('0') {
        Some(rest) if !rest.is_empty() => (rest, 8),
        _ => (lit, 10),
    };
    if let Ok(i) = i64::from_str_radix(digits, radix) {
        return Some(Number::Int(i));
    }
    if let Ok(u) = u64::from_str_radix(digits, radix) {
        return Some(Number::Uint(u));
    }
    decode_float(lit).map(Number::Float)
}

/// Decodes a FLOAT token (`1.`, `.5`, `1e3`, `2.5E-3`). Underflow gives 0 like Go; overflow to
/// infinity is `None` because Go's `ParseFloat` fails with a range error there.
pub fn decode_float(lit: &str) -> Option<f64> {
    let f: f64 = lit.parse().ok()?;
    f.is_finite().then_some(f)
}

/// The value of one hex or octal digit, or 16 for anything else (larger than any base used).
pub fn digit_val(c: Option<char>) -> u32 {
    match c {
        Some(c @ '0'..='9') => c as u32 - '0' as u32,
        Some(c @ 'a'..='f') => c as u32 - 'a' as u32 + 10,
        Some(c @ 'A'..='F') => c as u32 - 'A' as u32 + 10,
        _ => 16,
    }
}

/// The byte a simple one-letter escape (`\n`, `\"`, …) stands for.
pub fn simple_escape(c: char) -> Option<u8> {
    Some(match c {
        'a' => 0x07,
        'b' => 0x08,
        'f' => 0x0c,
        'n' => b'\n',
        'r' => b'\r',
        't' => b'\t',
        'v' => 0x0b,
        '\\' => b'\\',
        '"' => b'"',
        _ => return None,
    })
}

/// Go's `%#U` rendering of a character, used in "illegal character" messages: `U+0007` for
/// non-printable characters, `U+2026 '…'` otherwise.
pub fn go_char_repr(c: char) -> String {
    let printable = !c.is_control() && (c == ' ' || !c.is_whitespace());
    if printable {
        format!("U+{:04X} '{c}'", c as u32)
    } else {
        format!("U+{:04X}", c as u32)
    }
}

/// Strips carriage returns from comment text as Go's scanner does: a trailing `\r` always goes, and
/// a `\r` inside a block comment is kept only where removing it would create a premature `*/`.
pub fn strip_comment_cr(text: &str) -> String {
    let text = text.strip_suffix('\r').unwrap_or(text);
    if !text.contains('\r') {
        return text.to_string();
    }
    let block = text.starts_with("/*");
    let bytes = text.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    for (j, &b) in bytes.iter().enumerate() {
        let keep_cr =
            block && out.len() > 2 && out.last() == Some(&b'*') && bytes.get(j + 1) == Some(&b'/');
        if b != b'\r' || keep_cr {
            out.push(b);
        }
    }
    // Only ASCII `\r` bytes were removed, so the text is still valid UTF-8.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_use_go_base_zero() {
        assert_eq!(decode_int("0"), Some(Number::Int(0)));
        assert_eq!(decode_int("10"), Some(Number::Int(10)));
        assert!(matches!(decode_int("010"), Some(Number::Int(8))));
        assert!(matches!(decode_int("08"), Some(Number::Float(f)) if f == 8.0));
        assert!(matches!(
            decode_int("01234567"),
            Some(Number::Int(0o1234567))
        ));
        assert!(matches!(
            decode_int("18446744073709551615"),
            Some(Number::Uint(u64::MAX))
        ));
        assert!(matches!(
            decode_int("9223372036854775807"),
            Some(Number::Int(i64::MAX))
        ));
        assert!(matches!(
            decode_int("9223372036854775808"),
            Some(Number::Uint(9223372036854775808))
        ));
        assert!(
            matches!(decode_int("123456789012345678890"), Some(Number::Float(f)) if f == 123456789012345678890.0)
        );
        assert_eq!(decode_int(&"9".repeat(400)), None);
    }

    #[test]
    fn floats_accept_every_spec_form() {
        assert_eq!(decode_float("1."), Some(1.0));
        assert_eq!(decode_float(".5"), Some(0.5));
        assert_eq!(decode_float("1e3"), Some(1000.0));
        assert_eq!(decode_float("1.e2"), Some(100.0));
        assert_eq!(decode_float("2.71828e-1000"), Some(0.0));
        assert_eq!(decode_float("1e400"), None);
    }

    #[test]
    fn go_char_repr_matches_percent_hash_u() {
        assert_eq!(go_char_repr('\u{7}'), "U+0007");
        assert_eq!(go_char_repr('…'), "U+2026 '…'");
        assert_eq!(go_char_repr('@'), "U+0040 '@'");
    }

    #[test]
    fn comment_cr_stripping() {
        assert_eq!(strip_comment_cr("//\r"), "//");
        assert_eq!(strip_comment_cr("/*\r*/"), "/**/");
        assert_eq!(strip_comment_cr("/**\r/*/"), "/**\r/*/");
        assert_eq!(strip_comment_cr("/**\r\r/*/"), "/**\r/*/");
    }
}
