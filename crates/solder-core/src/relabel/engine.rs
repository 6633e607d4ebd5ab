//! Applies rules to a label set.
//!
//! Hot path: this runs per discovered target, and per series per scrape in `prometheus.relabel`.
//! The value of a single source label is read in place (no join); expansions are written into
//! per-thread scratch buffers that are reused across calls; capture buffers are cached per regex;
//! and [`LabelSet::set`] reuses the existing value's buffer. A rule that changes nothing
//! therefore allocates nothing once the scratch buffers have warmed up.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use md5::{Digest, Md5};
use regex::CaptureLocations;

use super::expand::{expand, is_literal, Groups};
use super::label_set::LabelSet;
use super::pattern::Regex;
use super::validate::{is_valid_legacy_label_name, is_valid_utf8_label_name};
use super::{Action, Rule};

/// Which label names a templated `replace` target may expand to at run time; a target that
/// fails the check makes the rule a no-op.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NameValidation {
    /// Any non-empty name. Alloy's own relabel copy (used by `discovery.relabel`) checks with
    /// prometheus/common's global default, which is UTF-8.
    #[default]
    Utf8,
    /// `[a-zA-Z_][a-zA-Z0-9_]*`. Alloy hands `prometheus.relabel`, `loki.relabel` and
    /// `write_relabel_config` rules to Prometheus' relabel with legacy validation.
    Legacy,
}

/// Applies `rules` in order to `labels` with UTF-8 name validation (`discovery.relabel`
/// semantics). Returns `false` as soon as a rule drops the label set; `labels` is then left
/// part-way relabeled and should be discarded.
pub fn process_labels<L: LabelSet + ?Sized>(rules: &[Rule], labels: &mut L) -> bool {
    process_labels_with(rules, labels, NameValidation::Utf8)
}

/// Like [`process_labels`], with an explicit run-time name validation scheme.
///
/// The caller decides what an empty result means: series and log streams with no labels left
/// are dropped by the components, targets are not.
pub fn process_labels_with<L: LabelSet + ?Sized>(
    rules: &[Rule],
    labels: &mut L,
    names: NameValidation,
) -> bool {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => {
            let keep = run(rules, labels, names, &mut scratch);
            scratch.trim();
            keep
        }
        // Only reachable if a `LabelSet` implementation relabels from inside its own methods.
        Err(_) => run(rules, labels, names, &mut Scratch::new()),
    })
}

/// Relabels a target map; `None` when a rule drops it.
pub fn process_map(
    rules: &[Rule],
    mut target: BTreeMap<String, String>,
) -> Option<BTreeMap<String, String>> {
    process_labels(rules, &mut target).then_some(target)
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = const { RefCell::new(Scratch::new()) };
}

/// Buffers reused across calls on one thread.
struct Scratch {
    /// The joined value of several source labels.
    joined: String,
    /// An expanded `target_label`.
    target: String,
    /// A computed label value.
    value: String,
    /// Capture buffers, one per regex identity.
    locations: Vec<(u64, CaptureLocations)>,
    /// `labelmap` results: new names and values back to back, with `(start, name_end, end)`.
    mapped: String,
    mapped_spans: Vec<(usize, usize, usize)>,
}

/// Bounds what a thread keeps between calls, so one huge value does not pin memory.
const MAX_RETAINED_BYTES: usize = 64 * 1024;
const MAX_CACHED_LOCATIONS: usize = 256;

impl Scratch {
    const fn new() -> Self {
        Scratch {
            joined: String::new(),
            target: String::new(),
            value: String::new(),
            locations: Vec::new(),
            mapped: String::new(),
            mapped_spans: Vec::new(),
        }
    }

    fn trim(&mut self) {
        for buffer in [
            &mut self.joined,
            &mut self.target,
            &mut self.value,
            &mut self.mapped,
        ] {
            if buffer.capacity() > MAX_RETAINED_BYTES {
                *buffer = String::new();
            }
        }
        if self.mapped_spans.capacity() > MAX_RETAINED_BYTES {
            self.mapped_spans = Vec::new();
        }
    }
}

fn run<L: LabelSet + ?Sized>(
    rules: &[Rule],
    labels: &mut L,
    names: NameValidation,
    scratch: &mut Scratch,
) -> bool {
    rules.iter().all(|rule| apply(rule, labels, names, scratch))
}

/// Applies one rule; `false` means drop.
fn apply<L: LabelSet + ?Sized>(
    rule: &Rule,
    labels: &mut L,
    names: NameValidation,
    scratch: &mut Scratch,
) -> bool {
    match rule.action {
        Action::Keep => rule
            .regex
            .is_match(source_value(rule, labels, &mut scratch.joined)),
        Action::Drop => !rule
            .regex
            .is_match(source_value(rule, labels, &mut scratch.joined)),
        Action::KeepEqual => source_equals_target(rule, labels, &mut scratch.joined),
        Action::DropEqual => !source_equals_target(rule, labels, &mut scratch.joined),
        Action::Replace => {
            replace(rule, labels, names, scratch);
            true
        }
        Action::Lowercase | Action::Uppercase => {
            let value = &mut scratch.value;
            value.clear();
            let val = source_value(rule, labels, &mut scratch.joined);
            if rule.action == Action::Lowercase {
                push_go_lowercase(val, value);
            } else {
                push_go_uppercase(val, value);
            }
            put(labels, &rule.target_label, value);
            true
        }
        Action::HashMod => {
            let val = source_value(rule, labels, &mut scratch.joined);
            let digest = Md5::digest(val.as_bytes());
            let mut low = [0u8; 8];
            low.copy_from_slice(&digest[8..16]);
            // Validation guarantees a non-zero modulus; `checked_rem` keeps a hand-built rule
            // from panicking.
            let bucket = u64::from_be_bytes(low)
                .checked_rem(rule.modulus)
                .unwrap_or(0);
            let value = &mut scratch.value;
            value.clear();
            let _ = write!(value, "{bucket}");
            put(labels, &rule.target_label, value);
            true
        }
        Action::LabelMap => {
            label_map(rule, labels, scratch);
            true
        }
        Action::LabelDrop => {
            labels.retain(&mut |name, _| !rule.regex.is_match(name));
            true
        }
        Action::LabelKeep => {
            labels.retain(&mut |name, _| rule.regex.is_match(name));
            true
        }
    }
}

/// The source labels' values joined by the separator; a missing label reads as "".
fn source_value<'a, L: LabelSet + ?Sized>(
    rule: &Rule,
    labels: &'a L,
    joined: &'a mut String,
) -> &'a str {
    match rule.source_labels() {
        [] => "",
        [single] => labels.get(single).unwrap_or(""),
        several => {
            joined.clear();
            for (i, name) in several.iter().enumerate() {
                if i > 0 {
                    joined.push_str(&rule.separator);
                }
                joined.push_str(labels.get(name).unwrap_or(""));
            }
            joined
        }
    }
}

fn source_equals_target<L: LabelSet + ?Sized>(
    rule: &Rule,
    labels: &L,
    joined: &mut String,
) -> bool {
    let target = labels.get(&rule.target_label).unwrap_or("");
    source_value(rule, labels, joined) == target
}

/// Sets `name` to `value`, or removes it when `value` is empty.
fn put<L: LabelSet + ?Sized>(labels: &mut L, name: &str, value: &str) {
    if value.is_empty() {
        labels.remove(name);
    } else {
        labels.set(name, value);
    }
}

fn replace<L: LabelSet + ?Sized>(
    rule: &Rule,
    labels: &mut L,
    names: NameValidation,
    scratch: &mut Scratch,
) {
    let Scratch {
        joined,
        target,
        value,
        locations,
        ..
    } = scratch;
    let val = source_value(rule, labels, joined);
    let literal_target = is_literal(&rule.target_label);
    let literal_replacement = is_literal(&rule.replacement);

    let groups = if rule.regex.matches_everything() {
        Groups::Everything(val)
    } else if literal_target && literal_replacement {
        if !rule.regex.is_match(val) {
            return;
        }
        Groups::Everything(val)
    } else {
        let locs = capture_locations(locations, &rule.regex);
        if !rule.regex.captures_read(locs, val) {
            return;
        }
        Groups::Captured {
            haystack: val,
            locations: locs,
            regex: rule.regex.compiled(),
        }
    };

    let target_name: &str = if literal_target {
        &rule.target_label
    } else {
        target.clear();
        expand(&rule.target_label, &groups, target);
        target
    };
    // Prometheus skips the name check on its fast path (empty value, default regex, literal
    // templates); with legacy validation that is observable, so we copy it.
    let prometheus_fast_path =
        val.is_empty() && rule.regex.matches_everything() && literal_target && literal_replacement;
    let valid = match names {
        NameValidation::Utf8 => is_valid_utf8_label_name(target_name),
        NameValidation::Legacy => prometheus_fast_path || is_valid_legacy_label_name(target_name),
    };
    if !valid {
        return;
    }
    let new_value: &str = if literal_replacement {
        &rule.replacement
    } else {
        value.clear();
        expand(&rule.replacement, &groups, value);
        value
    };
    put(labels, target_name, new_value);
}

fn label_map<L: LabelSet + ?Sized>(rule: &Rule, labels: &mut L, scratch: &mut Scratch) {
    let Scratch {
        locations,
        mapped,
        mapped_spans,
        ..
    } = scratch;
    mapped.clear();
    mapped_spans.clear();
    // Collect first and write afterwards: the rule sees the labels as they were when it started.
    labels.for_each(&mut |name, value| {
        // An empty value means "absent" (Alloy's target builder treats it as deleted).
        if value.is_empty() {
            return;
        }
        let start = mapped.len();
        if rule.regex.matches_everything() {
            expand(&rule.replacement, &Groups::Everything(name), mapped);
        } else {
            let locs = capture_locations(locations, &rule.regex);
            if !rule.regex.captures_read(locs, name) {
                return;
            }
            let groups = Groups::Captured {
                haystack: name,
                locations: locs,
                regex: rule.regex.compiled(),
            };
            expand(&rule.replacement, &groups, mapped);
        }
        let name_end = mapped.len();
        mapped.push_str(value);
        mapped_spans.push((start, name_end, mapped.len()));
    });
    for &(start, name_end, end) in mapped_spans.iter() {
        let (name, value) = (&mapped[start..name_end], &mapped[name_end..end]);
        // Go would add a label with an empty name; no consumer accepts one, so we skip it.
        if !name.is_empty() {
            put(labels, name, value);
        }
    }
}

/// The cached capture buffer for `regex` on this thread.
fn capture_locations<'s>(
    cache: &'s mut Vec<(u64, CaptureLocations)>,
    regex: &Regex,
) -> &'s mut CaptureLocations {
    let id = regex.id();
    let index = match cache.iter().position(|(cached, _)| *cached == id) {
        Some(index) => index,
        None => {
            if cache.len() >= MAX_CACHED_LOCATIONS {
                cache.clear();
            }
            cache.push((id, regex.compiled().capture_locations()));
            cache.len() - 1
        }
    };
    &mut cache[index].1
}

/// Go's `strings.ToLower`: per-rune simple case mapping (no context-dependent rules such as
/// the final sigma). Rust's mappings that expand to several characters are not simple
/// mappings; of those only U+0130 has a simple lowercase (`i`).
fn push_go_lowercase(val: &str, out: &mut String) {
    if val.is_ascii() {
        let start = out.len();
        out.push_str(val);
        out[start..].make_ascii_lowercase();
        return;
    }
    for c in val.chars() {
        let mut mapped = c.to_lowercase();
        match (mapped.next(), mapped.next()) {
            (Some(single), None) => out.push(single),
            _ if c == '\u{130}' => out.push('i'),
            _ => out.push(c),
        }
    }
}

/// Go's `strings.ToUpper`, see [`push_go_lowercase`]. Characters whose uppercase is several
/// characters (`ß` → `SS`) have no simple mapping and stay as they are, as in Go.
fn push_go_uppercase(val: &str, out: &mut String) {
    if val.is_ascii() {
        let start = out.len();
        out.push_str(val);
        out[start..].make_ascii_uppercase();
        return;
    }
    for c in val.chars() {
        let mut mapped = c.to_uppercase();
        match (mapped.next(), mapped.next()) {
            (Some(single), None) => out.push(single),
            _ => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_case_mapping() {
        let mut out = String::new();
        push_go_lowercase("ΑΣ İSTANBUL", &mut out);
        // Go maps Σ to σ everywhere (no final-sigma rule) and İ to plain i.
        assert_eq!(out, "ασ istanbul");
        out.clear();
        push_go_uppercase("straße ǆ", &mut out);
        assert_eq!(out, "STRAßE Ǆ");
    }

    #[test]
    fn capture_cache_is_per_regex() {
        let a = Regex::new("(a)(b)").unwrap();
        let b = Regex::new("(x)").unwrap();
        let mut cache = Vec::new();
        assert_eq!(capture_locations(&mut cache, &a).len(), 3);
        assert_eq!(capture_locations(&mut cache, &b).len(), 2);
        assert_eq!(capture_locations(&mut cache, &a.clone()).len(), 3);
        assert_eq!(cache.len(), 2);
    }
}
