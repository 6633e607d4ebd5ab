//! Go's `strconv.Quote`, which Alloy's printer applies to block labels and quoted object keys.
//!
//! Both are stored as the raw text between the quotes (never unescaped), so quoting them again
//! doubles any backslash: `{ "a\"b" = 1 }` prints as `{"a\\\"b" = 1}`. That is what `alloy fmt`
//! does, so we do it too.

use std::fmt::Write as _;

/// `s` in double quotes with Go's escaping rules.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if is_go_printable(c) => out.push(c),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space.
///
/// The standard library has no general-category table, so this rejects what it can name:
/// controls, every white space but U+0020, the format characters (Cf), private-use code points
/// and noncharacters. Unassigned code points are treated as printable (Go would escape them).
fn is_go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let u = c as u32;
    const FORMAT: &[(u32, u32)] = &[
        (0x00AD, 0x00AD),
        (0x0600, 0x0605),
        (0x061C, 0x061C),
        (0x06DD, 0x06DD),
        (0x070F, 0x070F),
        (0x0890, 0x0891),
        (0x08E2, 0x08E2),
        (0x180E, 0x180E),
        (0x200B, 0x200F),
        (0x202A, 0x202E),
        (0x2060, 0x2064),
        (0x2066, 0x206F),
        (0xFEFF, 0xFEFF),
        (0xFFF9, 0xFFFB),
        (0x110BD, 0x110BD),
        (0x110CD, 0x110CD),
        (0x13430, 0x1343F),
        (0x1BCA0, 0x1BCA3),
        (0x1D173, 0x1D17A),
        (0xE0001, 0xE0001),
        (0xE0020, 0xE007F),
    ];
    const PRIVATE_OR_NONCHAR: &[(u32, u32)] =
        &[(0xE000, 0xF8FF), (0xFDD0, 0xFDEF), (0xF0000, 0x10FFFF)];
    let in_ranges = |ranges: &[(u32, u32)]| ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&u));
    if in_ranges(FORMAT) || in_ranges(PRIVATE_OR_NONCHAR) {
        return false;
    }
    // U+xxFFFE and U+xxFFFF are noncharacters in every plane.
    (u & 0xFFFE) != 0xFFFE
}

#[cfg(test)]
mod tests {
    use super::go_quote;

    #[test]
    fn quotes_like_go_strconv_quote() {
        let cases = [
            ("abc", r#""abc""#),
            ("", r#""""#),
            (r#"a"b"#, r#""a\"b""#),
            (r"a\nb", r#""a\\nb""#),
            ("tab\there", r#""tab\there""#),
            ("bell\u{7}", r#""bell\a""#),
            ("nul\u{0}", r#""nul\x00""#),
            ("del\u{7f}", r#""del\x7f""#),
            ("héllo wörld", "\"héllo wörld\""),
            ("nbsp\u{a0}", r#""nbsp\u00a0""#),
            ("zwsp\u{200b}", r#""zwsp\u200b""#),
            ("bom\u{feff}", r#""bom\ufeff""#),
            ("pua\u{f0000}", r#""pua\U000f0000""#),
            ("emoji😀", "\"emoji😀\""),
        ];
        for (input, want) in cases {
            assert_eq!(go_quote(input), want, "input {input:?}");
        }
    }
}
