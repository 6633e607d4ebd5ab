//! The relabel `regex` attribute: a Go RE2 pattern compiled fully anchored as `^(?s:<regex>)$`.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;

use serde::{Deserialize, Deserializer};

use super::go_syntax;
use super::RelabelError;

/// The default relabel regex, which matches any value and captures all of it as `$1`.
pub const DEFAULT_REGEX: &str = "(.*)";

/// Hands every compiled regex an identity, so per-thread capture buffers can be cached per regex.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A compiled relabel regex. Displays and compares as the pattern the user wrote.
#[derive(Clone)]
pub struct Regex {
    original: String,
    compiled: regex::Regex,
    /// Shared by clones, which are the same compiled program.
    id: u64,
    /// True for the default `(.*)`: every value matches and `$1` is the whole value, so the
    /// engine can skip running the regex.
    matches_everything: bool,
    /// A cheap pre-check derived from the pattern text (see [`Shortcut`]).
    shortcut: Shortcut,
}

/// What the pattern text alone says about matches. Relabel regexes are very often plain
/// literals (`"true"`, `"Running"`) or a literal prefix plus a group
/// (`__meta_kubernetes_pod_label_(.+)`); checking those with a string comparison skips the
/// regex engine for most label names a `labelmap` looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shortcut {
    None,
    /// The pattern is this literal: a value matches iff it is equal.
    Exact(String),
    /// The pattern is an alternation of plain literals (`id|uid|name`).
    AnyOf(Vec<String>),
    /// Every match starts with this literal.
    Prefix(String),
}

impl Shortcut {
    /// Conservative: only plain characters before the first metacharacter count, and any `|`
    /// anywhere (which could make the leading literal optional) disables the shortcut.
    fn of(pattern: &str) -> Shortcut {
        let plain = |c: char| c.is_ascii_alphanumeric() || "_-/:=,@; ".contains(c);
        if pattern.contains('|') {
            if pattern.chars().all(|c| c == '|' || plain(c)) {
                return Shortcut::AnyOf(pattern.split('|').map(str::to_owned).collect());
            }
            return Shortcut::None;
        }
        let literal_len = pattern.find(|c: char| !plain(c)).unwrap_or(pattern.len());
        if literal_len == pattern.len() {
            return Shortcut::Exact(pattern.to_owned());
        }
        let mut prefix = &pattern[..literal_len];
        // A quantifier after the literal applies to its last character only.
        if pattern[literal_len..].starts_with(['?', '*', '+', '{']) {
            prefix = &prefix[..prefix.len().saturating_sub(1)];
        }
        if prefix.is_empty() {
            Shortcut::None
        } else {
            Shortcut::Prefix(prefix.to_owned())
        }
    }
}

impl Regex {
    /// Compiles `pattern` (Go RE2 syntax) anchored at both ends, with `.` matching `\n`.
    pub fn new(pattern: &str) -> Result<Self, RelabelError> {
        let anchored = format!("^(?s:{})$", go_syntax::translate(pattern));
        let compiled = regex::Regex::new(&anchored).map_err(|source| RelabelError::Regex {
            pattern: pattern.to_owned(),
            message: source.to_string(),
        })?;
        Ok(Self {
            original: pattern.to_owned(),
            compiled,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            matches_everything: pattern == DEFAULT_REGEX,
            shortcut: Shortcut::of(pattern),
        })
    }

    /// The pattern as written in the config, without the added anchors.
    pub fn as_str(&self) -> &str {
        &self.original
    }

    /// Whether the whole of `value` matches.
    pub fn is_match(&self, value: &str) -> bool {
        if self.matches_everything {
            return true;
        }
        match &self.shortcut {
            Shortcut::Exact(literal) => value == literal,
            Shortcut::AnyOf(literals) => literals.iter().any(|l| l == value),
            Shortcut::Prefix(prefix) if !value.starts_with(prefix.as_str()) => false,
            _ => self.compiled.is_match(value),
        }
    }

    /// Matches `value` and fills `locations` (which must come from [`Regex::compiled`]).
    pub(crate) fn captures_read(
        &self,
        locations: &mut regex::CaptureLocations,
        value: &str,
    ) -> bool {
        if let Shortcut::Prefix(prefix) = &self.shortcut {
            if !value.starts_with(prefix.as_str()) {
                return false;
            }
        }
        self.compiled.captures_read(locations, value).is_some()
    }

    /// The compiled (anchored, translated) program.
    pub fn compiled(&self) -> &regex::Regex {
        &self.compiled
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn matches_everything(&self) -> bool {
        self.matches_everything
    }
}

impl Default for Regex {
    /// The default `(.*)`, compiled once per process and shared.
    fn default() -> Self {
        DEFAULT.clone()
    }
}

static DEFAULT: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::expect_used)] // a constant pattern; a unit test compiles it
    Regex::new(DEFAULT_REGEX).expect("the default relabel regex compiles")
});

impl PartialEq for Regex {
    fn eq(&self, other: &Self) -> bool {
        self.original == other.original
    }
}

impl Eq for Regex {}

impl fmt::Debug for Regex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Regex").field(&self.original).finish()
    }
}

impl fmt::Display for Regex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

impl std::str::FromStr for Regex {
    type Err = RelabelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl<'de> Deserialize<'de> for Regex {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // `regex = null` yields Go's zero value, which Prometheus treats as the empty pattern.
        let pattern = Option::<String>::deserialize(deserializer)?.unwrap_or_default();
        Self::new(&pattern).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortcuts_are_conservative() {
        let cases = [
            ("true", Shortcut::Exact("true".into())),
            ("", Shortcut::Exact(String::new())),
            (
                "__meta_kubernetes_pod_label_(.+)",
                Shortcut::Prefix("__meta_kubernetes_pod_label_".into()),
            ),
            ("abc?d", Shortcut::Prefix("ab".into())),
            ("a*", Shortcut::None),
            ("ab{2}", Shortcut::Prefix("a".into())),
            (
                "Succeeded|Failed",
                Shortcut::AnyOf(vec!["Succeeded".into(), "Failed".into()]),
            ),
            (
                "a||b",
                Shortcut::AnyOf(vec!["a".into(), String::new(), "b".into()]),
            ),
            ("go_.*|x", Shortcut::None),
            ("foo(bar|baz)", Shortcut::None),
            ("(?i)true", Shortcut::None),
            ("abc(?i)def", Shortcut::Prefix("abc".into())),
            ("a.b", Shortcut::Prefix("a".into())),
            (r"a\.b", Shortcut::Prefix("a".into())),
            ("(.*)", Shortcut::None),
        ];
        for (pattern, want) in cases {
            assert_eq!(Shortcut::of(pattern), want, "{pattern:?}");
        }
    }

    #[test]
    fn shortcut_agrees_with_the_engine() {
        let values = [
            "", "true", "True", "abd", "abcd", "abbd", "ab", "abcdef", "xabcdef",
        ];
        for pattern in [
            "true",
            "",
            "abc?d",
            "ab{2}d",
            "abc(?i)def",
            "a.b",
            "ab+",
            "true|ab|",
            "ab|abcd",
        ] {
            let re = Regex::new(pattern).unwrap();
            for v in values {
                assert_eq!(
                    re.is_match(v),
                    re.compiled().is_match(v),
                    "{pattern:?} on {v:?}"
                );
            }
        }
    }
}
