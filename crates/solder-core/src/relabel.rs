//! Prometheus relabeling: the `rule {}` / `write_relabel_config {}` block and the engine that
//! applies a list of rules to a label set.
//!
//! Semantics follow Alloy's `internal/component/common/relabel/relabel.go` (a copy of Prometheus'
//! `model/relabel/relabel.go`): rules run in order, the first `keep`/`drop` that rejects stops
//! processing, a label set to `""` is removed, and regexes are fully anchored with `.` matching
//! newlines. See `alloy-spec.md` §3.
//!
//! Usage: decode rules with serde (decoding runs [`Rule::validate`], as Alloy validates blocks
//! while decoding), then call [`process_labels`] (or [`process_map`] for targets) per label set.
//! Series relabeling (`prometheus.relabel`, `loki.relabel`, `write_relabel_config`) should use
//! [`process_labels_with`] and [`NameValidation::Legacy`], which is what Alloy passes to
//! Prometheus for those components.

mod engine;
mod expand;
mod go_syntax;
mod label_set;
mod pattern;
mod validate;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

pub use engine::{process_labels, process_labels_with, process_map, NameValidation};
pub use label_set::{CowLabels, LabelSet};
pub use pattern::{Regex, DEFAULT_REGEX};
pub use validate::{is_valid_legacy_label_name, is_valid_relabel_target};

/// The default `separator`.
pub const DEFAULT_SEPARATOR: &str = ";";
/// The default `replacement`.
pub const DEFAULT_REPLACEMENT: &str = "$1";

/// A config-time error in a relabel rule. Messages are Alloy's, word for word.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelabelError {
    #[error("unrecognized action type {}", go_quote(.0))]
    UnknownAction(String),
    #[error("relabel action cannot be empty")]
    EmptyAction,
    #[error("error parsing regexp {}: {message}", go_quote(.pattern))]
    Regex { pattern: String, message: String },
    #[error("relabel configuration for hashmod requires non-zero modulus")]
    ZeroModulus,
    #[error("relabel configuration for {0} action requires 'target_label' value")]
    MissingTargetLabel(Action),
    #[error("{} is invalid 'target_label' for {action} action", go_quote(.target_label))]
    InvalidTargetLabel {
        target_label: String,
        action: Action,
    },
    #[error("'replacement' can not be set for {0} action")]
    ReplacementNotAllowed(Action),
    #[error("{} is invalid 'replacement' for {action} action", go_quote(.replacement))]
    InvalidReplacement { replacement: String, action: Action },
    #[error("{0} action requires only 'regex', and no other fields")]
    OnlyRegexAllowed(Action),
    #[error("{0} action requires only 'source_labels' and 'target_label', and no other fields")]
    OnlySourceAndTargetAllowed(Action),
}

/// What a rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Action {
    #[default]
    Replace,
    Keep,
    Drop,
    KeepEqual,
    DropEqual,
    HashMod,
    LabelMap,
    LabelDrop,
    LabelKeep,
    Lowercase,
    Uppercase,
}

impl Action {
    pub const ALL: [Action; 11] = [
        Action::Replace,
        Action::Keep,
        Action::Drop,
        Action::KeepEqual,
        Action::DropEqual,
        Action::HashMod,
        Action::LabelMap,
        Action::LabelDrop,
        Action::LabelKeep,
        Action::Lowercase,
        Action::Uppercase,
    ];

    /// The config spelling (`"replace"`, `"hashmod"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Replace => "replace",
            Action::Keep => "keep",
            Action::Drop => "drop",
            Action::KeepEqual => "keepequal",
            Action::DropEqual => "dropequal",
            Action::HashMod => "hashmod",
            Action::LabelMap => "labelmap",
            Action::LabelDrop => "labeldrop",
            Action::LabelKeep => "labelkeep",
            Action::Lowercase => "lowercase",
            Action::Uppercase => "uppercase",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = RelabelError;

    /// Exact, case-sensitive lowercase names, as Alloy's `UnmarshalText` (Prometheus' YAML
    /// loader lowercases first; Alloy does not).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| RelabelError::UnknownAction(s.to_owned()))
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // `action = null` gives Go's zero value "", which `Validate` rejects.
        let name = Option::<String>::deserialize(deserializer)?
            .ok_or_else(|| serde::de::Error::custom(RelabelError::EmptyAction))?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// One relabel rule (`rule {}` in `discovery.relabel`, `prometheus.relabel`, `loki.relabel`;
/// `write_relabel_config {}` in `prometheus.remote_write`).
///
/// Decoding applies Alloy's defaults, rejects unknown attributes, gives `null` attributes Go's
/// zero value (not the default), and then runs [`Rule::validate`].
///
/// `source_labels` is an `Option` because Alloy tells an absent list (nil) from an explicit
/// `[]`: `labeldrop`/`labelkeep` reject even `source_labels = []`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RuleConfig")]
pub struct Rule {
    pub source_labels: Option<Vec<String>>,
    pub separator: String,
    pub regex: Regex,
    pub modulus: u64,
    pub target_label: String,
    pub replacement: String,
    pub action: Action,
}

impl Default for Rule {
    fn default() -> Self {
        Rule {
            source_labels: None,
            separator: DEFAULT_SEPARATOR.to_owned(),
            regex: Regex::default(),
            modulus: 0,
            target_label: String::new(),
            replacement: DEFAULT_REPLACEMENT.to_owned(),
            action: Action::Replace,
        }
    }
}

impl Rule {
    /// The source label names (empty when unset).
    pub fn source_labels(&self) -> &[String] {
        self.source_labels.as_deref().unwrap_or(&[])
    }

    /// Every config-time check Alloy's `Config.Validate` makes, in the same order, so the first
    /// error reported is the same one.
    pub fn validate(&self) -> Result<(), RelabelError> {
        validate::validate(self)
    }
}

/// The block as written, before validation. Field names are Alloy's attribute names.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RuleConfig {
    source_labels: Option<Vec<String>>,
    #[serde(deserialize_with = "zero_if_null")]
    separator: String,
    regex: Regex,
    #[serde(deserialize_with = "zero_if_null")]
    modulus: u64,
    #[serde(deserialize_with = "zero_if_null")]
    target_label: String,
    #[serde(deserialize_with = "zero_if_null")]
    replacement: String,
    action: Action,
}

impl Default for RuleConfig {
    fn default() -> Self {
        let Rule {
            source_labels,
            separator,
            regex,
            modulus,
            target_label,
            replacement,
            action,
        } = Rule::default();
        RuleConfig {
            source_labels,
            separator,
            regex,
            modulus,
            target_label,
            replacement,
            action,
        }
    }
}

impl TryFrom<RuleConfig> for Rule {
    type Error = RelabelError;

    fn try_from(c: RuleConfig) -> Result<Self, Self::Error> {
        let rule = Rule {
            source_labels: c.source_labels,
            separator: c.separator,
            regex: c.regex,
            modulus: c.modulus,
            target_label: c.target_label,
            replacement: c.replacement,
            action: c.action,
        };
        rule.validate()?;
        Ok(rule)
    }
}

/// Alloy assigns `null` as the Go zero value, not the attribute's default.
fn zero_if_null<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Capsule type name of a `rules` export (`discovery.relabel.x.rules`,
/// `prometheus.relabel.x.rules`); the capsule holds a `Vec<Rule>`.
pub const RELABEL_RULES_CAPSULE: &str = "RelabelRules";

/// Quotes like Go's `%q` (`strconv.Quote`), so error messages match Alloy's.
pub(crate) fn go_quote(s: &str) -> String {
    solder_syntax::value::quote_go(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_round_trip() {
        for action in Action::ALL {
            assert_eq!(action.as_str().parse::<Action>(), Ok(action));
        }
        assert_eq!(
            "Replace".parse::<Action>().unwrap_err().to_string(),
            r#"unrecognized action type "Replace""#
        );
    }

    #[test]
    fn go_quote_escapes() {
        assert_eq!(go_quote("a\"b\\c\n\u{1}é"), r#""a\"b\\c\n\x01é""#);
    }

    #[test]
    fn default_regex_compiles() {
        assert_eq!(Regex::default().as_str(), DEFAULT_REGEX);
        assert!(Regex::new(DEFAULT_REGEX).is_ok());
    }
}
