//! Rewrites a Go RE2 pattern into an equivalent pattern for the Rust `regex` crate.
//!
//! Relabel regexes are written for Go's `regexp` package. The two dialects agree on almost
//! everything relabel configs use, but differ in ways that silently change matches:
//!
//! - Perl classes `\d \w \s` (and `\b`) are ASCII-only in Go and Unicode-aware in Rust. Go's `\s`
//!   is `[\t\n\f\r ]` (no `\v`). We spell them out as ASCII classes.
//! - Inside a bracket class Go takes `[`, `&&`, `--` and `~~` literally; Rust reads them as nested
//!   classes and set operations. We escape them.
//! - Go treats a `{` that does not start a valid `{n}`, `{n,}` or `{n,m}` as a literal; Rust rejects it.
//! - Go supports `\Q…\E` literal quoting and octal escapes (`\0`, `\012`, `\141`); Rust has neither.
//!
//! Everything else is copied through, and the Rust compiler reports what it cannot parse (for
//! example backreferences, which neither engine supports, or `\C`, which only Go has).

/// Go's `\d`, `\w`, `\s` as bracket-class bodies.
const DIGIT: &str = "0-9";
const WORD: &str = "0-9A-Za-z_";
const SPACE: &str = r"\t\n\f\r ";

/// Translates `pattern` (Go RE2 syntax) into Rust `regex` syntax with the same meaning.
pub(crate) fn translate(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => i = translate_escape(&chars, i, &mut out, false),
            '[' => i = translate_class(&chars, i, &mut out),
            '{' => {
                if let Some(len) = counted_repetition_len(&chars[i..]) {
                    out.extend(&chars[i..i + len]);
                    i += len;
                } else {
                    out.push_str(r"\{");
                    i += 1;
                }
            }
            '}' => {
                out.push_str(r"\}");
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Length of a Go counted repetition `{n}`, `{n,}` or `{n,m}` at the start of `s`, if any.
fn counted_repetition_len(s: &[char]) -> Option<usize> {
    let mut i = 1;
    let digits_from = |mut j: usize| {
        while j < s.len() && s[j].is_ascii_digit() {
            j += 1;
        }
        j
    };
    let after_min = digits_from(i);
    if after_min == i {
        return None;
    }
    i = after_min;
    if s.get(i) == Some(&',') {
        i = digits_from(i + 1);
    }
    (s.get(i) == Some(&'}')).then_some(i + 1)
}

/// Translates the escape starting at `chars[at] == '\\'`; returns the index after it.
fn translate_escape(chars: &[char], at: usize, out: &mut String, in_class: bool) -> usize {
    let Some(&c) = chars.get(at + 1) else {
        // A trailing backslash: let the Rust compiler report it.
        out.push('\\');
        return at + 1;
    };
    let next = at + 2;
    match c {
        'd' | 'w' | 's' => {
            let body = perl_class_body(c);
            if in_class {
                out.push_str(body);
            } else {
                out.push('[');
                out.push_str(body);
                out.push(']');
            }
            next
        }
        'D' | 'W' | 'S' => {
            // A nested negated class is a union member inside a class, and a plain class outside.
            out.push_str("[^");
            out.push_str(perl_class_body(c.to_ascii_lowercase()));
            out.push(']');
            next
        }
        'b' | 'B' if !in_class => {
            out.push_str("(?-u:\\");
            out.push(c);
            out.push(')');
            next
        }
        'Q' if !in_class => {
            let mut j = next;
            while j < chars.len() && !(chars[j] == '\\' && chars.get(j + 1) == Some(&'E')) {
                push_escaped_literal(chars[j], out);
                j += 1;
            }
            if j < chars.len() {
                j + 2
            } else {
                j
            }
        }
        '0'..='7' if c == '0' || chars.get(next).is_some_and(|d| d.is_digit(8)) => {
            // Go octal: `\0` plus up to two more octal digits, or a multi-digit escape `\1x..`.
            let mut j = next;
            let mut value = c.to_digit(8).unwrap_or(0);
            while j < chars.len() && j < at + 4 && chars[j].is_digit(8) {
                value = value * 8 + chars[j].to_digit(8).unwrap_or(0);
                j += 1;
            }
            out.push_str(&format!("\\x{{{value:X}}}"));
            j
        }
        'p' | 'P' | 'x' if chars.get(next) == Some(&'{') => {
            // `\p{Greek}`, `\x{263a}`: copy through the closing brace unchanged.
            let mut j = next;
            while j < chars.len() && chars[j] != '}' {
                j += 1;
            }
            let end = (j + 1).min(chars.len());
            out.extend(&chars[at..end]);
            end
        }
        _ => {
            out.push('\\');
            out.push(c);
            next
        }
    }
}

fn perl_class_body(c: char) -> &'static str {
    match c {
        'd' => DIGIT,
        'w' => WORD,
        _ => SPACE,
    }
}

/// Pushes `c` so that Rust reads it as a literal outside a class.
fn push_escaped_literal(c: char, out: &mut String) {
    if regex_syntax_meta(c) {
        out.push('\\');
    }
    out.push(c);
}

fn regex_syntax_meta(c: char) -> bool {
    matches!(
        c,
        '\\' | '.'
            | '+'
            | '*'
            | '?'
            | '('
            | ')'
            | '|'
            | '['
            | ']'
            | '{'
            | '}'
            | '^'
            | '$'
            | '#'
            | '&'
            | '-'
            | '~'
    )
}

/// Translates the bracket class starting at `chars[at] == '['`; returns the index after it.
fn translate_class(chars: &[char], at: usize, out: &mut String) -> usize {
    let mut i = at + 1;
    out.push('[');
    if chars.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    // In Go (as in POSIX) a `]` right after the opening bracket is a literal.
    if chars.get(i) == Some(&']') {
        out.push_str(r"\]");
        i += 1;
    }
    while i < chars.len() {
        match chars[i] {
            ']' => {
                out.push(']');
                return i + 1;
            }
            '\\' => i = translate_escape(chars, i, out, true),
            '[' => {
                if let Some(len) = posix_class_len(&chars[i..]) {
                    out.extend(&chars[i..i + len]);
                    i += len;
                } else {
                    out.push_str(r"\[");
                    i += 1;
                }
            }
            '&' | '~' => {
                out.push('\\');
                out.push(chars[i]);
                i += 1;
            }
            '-' if chars.get(i + 1) == Some(&'-') => {
                out.push_str(r"\-");
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    // Unterminated class: leave it unterminated so the Rust compiler reports it.
    i
}

/// Length of a POSIX class such as `[:alpha:]` or `[:^digit:]` at the start of `s`, if any.
fn posix_class_len(s: &[char]) -> Option<usize> {
    if s.get(1) != Some(&':') {
        return None;
    }
    let mut i = 2;
    if s.get(i) == Some(&'^') {
        i += 1;
    }
    let name_start = i;
    while i < s.len() && s[i].is_ascii_lowercase() {
        i += 1;
    }
    (i > name_start && s.get(i) == Some(&':') && s.get(i + 1) == Some(&']')).then_some(i + 2)
}

#[cfg(test)]
mod tests {
    use super::translate;

    #[test]
    fn leaves_common_patterns_alone() {
        for p in [
            "(.*)",
            "a|b",
            "(.+?)(?::[0-9]+)?;([0-9]+)",
            "(?i)foo",
            "x{2,3}",
            "[a-z]+",
        ] {
            assert_eq!(translate(p), p);
        }
    }

    #[test]
    fn rewrites_go_only_constructs() {
        let cases = [
            (r"\d+", "[0-9]+"),
            (r"[\d.]", "[0-9.]"),
            (r"\S", r"[^\t\n\f\r ]"),
            (r"\bx", r"(?-u:\b)x"),
            (r"a{", r"a\{"),
            (r"a{x}", r"a\{x\}"),
            (r"[[]", r"[\[]"),
            (r"[a&&b]", r"[a\&\&b]"),
            (r"[[:alpha:]]", "[[:alpha:]]"),
            (r"\Q.*\E+", r"\.\*+"),
            (r"\012", r"\x{A}"),
            (r"\p{Greek}\x{41}", r"\p{Greek}\x{41}"),
        ];
        for (go, rust) in cases {
            assert_eq!(translate(go), rust, "translating {go}");
        }
    }
}
