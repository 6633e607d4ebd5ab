//! Config-time checks of a rule, mirroring Alloy's `Config.Validate`, plus label-name checks.

use super::{Action, RelabelError, Rule, DEFAULT_REGEX, DEFAULT_REPLACEMENT, DEFAULT_SEPARATOR};

pub(super) fn validate(rule: &Rule) -> Result<(), RelabelError> {
    use Action::*;
    let action = rule.action;
    let target = rule.target_label.as_str();
    let invalid_target = || RelabelError::InvalidTargetLabel {
        target_label: target.to_owned(),
        action,
    };

    if action == HashMod && rule.modulus == 0 {
        return Err(RelabelError::ZeroModulus);
    }
    let needs_target = matches!(
        action,
        Replace | HashMod | Lowercase | Uppercase | KeepEqual | DropEqual
    );
    if needs_target && target.is_empty() {
        return Err(RelabelError::MissingTargetLabel(action));
    }
    if action == Replace {
        // A templated target is checked against the legacy-with-variables pattern; a literal one
        // under UTF-8 rules (Alloy relies on prometheus/common's global default).
        let ok = if target.contains('$') {
            is_valid_relabel_target(target)
        } else {
            is_valid_utf8_label_name(target)
        };
        if !ok {
            return Err(invalid_target());
        }
    }
    let single_target = matches!(action, Lowercase | Uppercase | KeepEqual | DropEqual);
    if single_target && !is_valid_utf8_label_name(target) {
        return Err(invalid_target());
    }
    if single_target && rule.replacement != DEFAULT_REPLACEMENT {
        return Err(RelabelError::ReplacementNotAllowed(action));
    }
    if action == LabelMap && !is_valid_relabel_target(&rule.replacement) {
        return Err(RelabelError::InvalidReplacement {
            replacement: rule.replacement.clone(),
            action,
        });
    }
    if action == HashMod && !is_valid_utf8_label_name(target) {
        return Err(invalid_target());
    }
    if matches!(action, LabelDrop | LabelKeep)
        && (rule.source_labels.is_some()
            || !target.is_empty()
            || rule.modulus != 0
            || rule.separator != DEFAULT_SEPARATOR
            || rule.replacement != DEFAULT_REPLACEMENT)
    {
        return Err(RelabelError::OnlyRegexAllowed(action));
    }
    if matches!(action, KeepEqual | DropEqual)
        && (rule.regex.as_str() != DEFAULT_REGEX
            || rule.modulus != 0
            || rule.separator != DEFAULT_SEPARATOR
            || rule.replacement != DEFAULT_REPLACEMENT)
    {
        return Err(RelabelError::OnlySourceAndTargetAllowed(action));
    }
    Ok(())
}

/// UTF-8 label-name validation (prometheus/common's default since v0.62): any non-empty string.
/// Rust strings are always valid UTF-8, so only emptiness is left to check.
pub(super) fn is_valid_utf8_label_name(name: &str) -> bool {
    !name.is_empty()
}

/// Legacy label-name validation: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_valid_legacy_label_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    match bytes.split_first() {
        Some((first, rest)) => {
            (first.is_ascii_alphabetic() || *first == b'_')
                && rest.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
        }
        None => false,
    }
}

/// Whether `s` matches Alloy's `relabelTarget` pattern,
/// `^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$` (with ASCII `\w`): a legacy label name in which
/// `$name` / `${name}` references may appear anywhere, including first.
pub fn is_valid_relabel_target(s: &str) -> bool {
    let bytes = s.as_bytes();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let word_run = |from: usize| {
        let mut j = from;
        while j < bytes.len() && is_word(bytes[j]) {
            j += 1;
        }
        j
    };
    if bytes.is_empty() {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'$' {
            if bytes.get(i + 1) == Some(&b'{') {
                let end = word_run(i + 2);
                if end == i + 2 || bytes.get(end) != Some(&b'}') {
                    return false;
                }
                i = end + 1;
            } else {
                let end = word_run(i + 1);
                if end == i + 1 {
                    return false;
                }
                i = end;
            }
        } else if is_word(b) && !(i == 0 && b.is_ascii_digit()) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relabel_target_pattern() {
        let cases = [
            ("-label", false),
            ("label", true),
            ("label${1}", true),
            ("${1}label", true),
            ("${1}", true),
            ("${", false),
            ("$", false),
            ("${}", false),
            ("foo${", false),
            ("$1", true),
            ("asd$2asd", true),
            ("-foo${1}bar-", false),
            ("_${1}_", true),
            ("foo${bar}foo", true),
            ("0${3}", false),
            ("", false),
            ("a.b", false),
            ("$a$b", true),
            ("${a}1", true),
        ];
        for (s, want) in cases {
            assert_eq!(is_valid_relabel_target(s), want, "{s:?}");
        }
    }

    #[test]
    fn legacy_names() {
        assert!(is_valid_legacy_label_name("_a1"));
        assert!(is_valid_legacy_label_name("__name__"));
        assert!(!is_valid_legacy_label_name("1a"));
        assert!(!is_valid_legacy_label_name("a.b"));
        assert!(!is_valid_legacy_label_name("é"));
        assert!(!is_valid_legacy_label_name(""));
    }
}
