//! Go `regexp.Expand` template expansion, used for `target_label`, `replacement` and `labelmap`.
//!
//! Rules (from Go's documentation and implementation):
//! - `$$` is a literal `$`.
//! - `$name` takes the longest run of letters, digits and `_`, so `$1x` names group `1x`;
//!   `${name}` delimits explicitly. A purely numeric name (without a leading zero, below 10^8)
//!   is a group index; anything else is a group name.
//! - A reference to a missing, unnamed or non-participating group expands to nothing.
//! - A `$` not followed by a valid reference (`$-`, `${`, `${x`, trailing `$`) is copied as is.

use regex::CaptureLocations;

/// Capture groups of one successful match of an anchored relabel regex.
pub(crate) enum Groups<'a> {
    /// The default `(.*)` regex: groups 0 and 1 are the whole haystack.
    Everything(&'a str),
    /// A real match.
    Captured {
        haystack: &'a str,
        locations: &'a CaptureLocations,
        regex: &'a regex::Regex,
    },
}

impl<'a> Groups<'a> {
    fn by_index(&self, index: usize) -> Option<&'a str> {
        match *self {
            Groups::Everything(all) => (index <= 1).then_some(all),
            Groups::Captured {
                haystack,
                locations,
                ..
            } => locations
                .get(index)
                .and_then(|(start, end)| haystack.get(start..end)),
        }
    }

    fn by_name(&self, name: &str) -> Option<&'a str> {
        match *self {
            Groups::Everything(_) => None,
            Groups::Captured { regex, .. } => regex
                .capture_names()
                .position(|n| n == Some(name))
                .and_then(|index| self.by_index(index)),
        }
    }
}

/// True when `template` contains no `$` and so expands to itself.
pub(crate) fn is_literal(template: &str) -> bool {
    !template.contains('$')
}

/// Appends the expansion of `template` against `groups` to `out`.
pub(crate) fn expand(template: &str, groups: &Groups<'_>, out: &mut String) {
    let mut rest = template;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
            continue;
        }
        match parse_reference(after) {
            Some((reference, tail)) => {
                let value = match reference {
                    Reference::Index(index) => groups.by_index(index),
                    Reference::Name(name) => groups.by_name(name),
                };
                out.push_str(value.unwrap_or(""));
                rest = tail;
            }
            None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
}

enum Reference<'t> {
    Index(usize),
    Name(&'t str),
}

/// Parses the reference after a `$`; returns it and the remaining template.
fn parse_reference(s: &str) -> Option<(Reference<'_>, &str)> {
    let (braced, body) = match s.strip_prefix('{') {
        Some(body) => (true, body),
        None => (false, s),
    };
    // Go accepts Unicode letters and digits here (`unicode.IsLetter`, `unicode.IsDigit`).
    let name_len = body
        .char_indices()
        .find(|&(_, c)| !(c.is_alphanumeric() || c == '_'))
        .map_or(body.len(), |(i, _)| i);
    if name_len == 0 {
        return None;
    }
    let name = &body[..name_len];
    let rest = if braced {
        body[name_len..].strip_prefix('}')?
    } else {
        &body[name_len..]
    };
    Some((classify(name), rest))
}

fn classify(name: &str) -> Reference<'_> {
    const MAX_INDEX: usize = 100_000_000;
    if name.len() > 1 && name.starts_with('0') {
        return Reference::Name(name);
    }
    let mut index = 0usize;
    for b in name.bytes() {
        if !b.is_ascii_digit() || index >= MAX_INDEX {
            return Reference::Name(name);
        }
        index = index * 10 + usize::from(b - b'0');
    }
    Reference::Index(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(pattern: &str, haystack: &str, template: &str) -> String {
        let regex = regex::Regex::new(pattern).unwrap();
        let mut locations = regex.capture_locations();
        regex.captures_read(&mut locations, haystack).unwrap();
        let groups = Groups::Captured {
            haystack,
            locations: &locations,
            regex: &regex,
        };
        let mut out = String::new();
        expand(template, &groups, &mut out);
        out
    }

    #[test]
    fn go_expand_cases() {
        let re = r"^(?P<first>a+)(b)?(?P<x1>c)$";
        let cases = [
            ("$1", "aa"),
            ("${1}", "aa"),
            ("$1x", ""),
            ("${1}x", "aax"),
            ("$first-$x1", "aa-c"),
            ("${first}", "aa"),
            ("$2", ""),
            ("$9", ""),
            ("$$1", "$1"),
            ("$", "$"),
            ("a$-b", "a$-b"),
            ("${1", "${1"),
            ("${}", "${}"),
            ("$01", ""),
            ("$0", "aac"),
            ("$3", "c"),
            ("$unknown", ""),
            ("no refs", "no refs"),
        ];
        for (template, want) in cases {
            assert_eq!(run(re, "aac", template), want, "template {template:?}");
        }
    }

    #[test]
    fn everything_groups() {
        let mut out = String::new();
        expand("<$0|$1|$2|${name}>", &Groups::Everything("v"), &mut out);
        assert_eq!(out, "<v|v||>");
    }
}
