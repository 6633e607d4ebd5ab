//! The label-set abstraction the relabel engine works on, with implementations for target maps,
//! sorted series label vectors and hash maps, so callers relabel their own storage in place.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

/// A mutable set of `name = value` labels with unique names.
///
/// The engine never calls [`LabelSet::set`] with an empty value (it calls
/// [`LabelSet::remove`] instead). Implementations should make `set` to the current value a cheap
/// no-op, and reuse the existing value's buffer when changing a value, because the engine relies
/// on that to avoid allocating when a rule changes nothing.
pub trait LabelSet {
    /// The value of `name`, if present.
    fn get(&self, name: &str) -> Option<&str>;
    /// Sets `name` to `value`, adding the label if it is absent.
    fn set(&mut self, name: &str, value: &str);
    /// Removes `name` if present.
    fn remove(&mut self, name: &str);
    /// Calls `f` for every label.
    fn for_each(&self, f: &mut dyn FnMut(&str, &str));
    /// Keeps only the labels for which `keep` returns true.
    fn retain(&mut self, keep: &mut dyn FnMut(&str, &str) -> bool);
}

/// Overwrites `slot` with `value`, reusing its allocation; does nothing when equal.
fn overwrite(slot: &mut String, value: &str) {
    if slot != value {
        slot.clear();
        slot.push_str(value);
    }
}

impl LabelSet for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<&str> {
        BTreeMap::get(self, name).map(String::as_str)
    }

    fn set(&mut self, name: &str, value: &str) {
        match self.get_mut(name) {
            Some(slot) => overwrite(slot, value),
            None => {
                self.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    fn remove(&mut self, name: &str) {
        BTreeMap::remove(self, name);
    }

    fn for_each(&self, f: &mut dyn FnMut(&str, &str)) {
        for (name, value) in self {
            f(name, value);
        }
    }

    fn retain(&mut self, keep: &mut dyn FnMut(&str, &str) -> bool) {
        BTreeMap::retain(self, |name, value| keep(name, value));
    }
}

impl<S: BuildHasher> LabelSet for HashMap<String, String, S> {
    fn get(&self, name: &str) -> Option<&str> {
        HashMap::get(self, name).map(String::as_str)
    }

    fn set(&mut self, name: &str, value: &str) {
        match self.get_mut(name) {
            Some(slot) => overwrite(slot, value),
            None => {
                self.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    fn remove(&mut self, name: &str) {
        HashMap::remove(self, name);
    }

    fn for_each(&self, f: &mut dyn FnMut(&str, &str)) {
        for (name, value) in self {
            f(name, value);
        }
    }

    fn retain(&mut self, keep: &mut dyn FnMut(&str, &str) -> bool) {
        HashMap::retain(self, |name, value| keep(name, value));
    }
}

/// Series labels: a vector sorted by name with unique names (the Prometheus `labels.Labels`
/// layout). Lookups are binary searches and the order is kept on insert.
impl LabelSet for Vec<(String, String)> {
    fn get(&self, name: &str) -> Option<&str> {
        let index = self.binary_search_by(|(n, _)| n.as_str().cmp(name)).ok()?;
        Some(self[index].1.as_str())
    }

    fn set(&mut self, name: &str, value: &str) {
        match self.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Ok(index) => overwrite(&mut self[index].1, value),
            Err(index) => self.insert(index, (name.to_owned(), value.to_owned())),
        }
    }

    fn remove(&mut self, name: &str) {
        if let Ok(index) = self.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Vec::remove(self, index);
        }
    }

    fn for_each(&self, f: &mut dyn FnMut(&str, &str)) {
        for (name, value) in self {
            f(name, value);
        }
    }

    fn retain(&mut self, keep: &mut dyn FnMut(&str, &str) -> bool) {
        Vec::retain(self, |(name, value)| keep(name, value));
    }
}

/// A copy-on-write view of sorted, unique labels that the caller must not mutate in place
/// (shared or interned series labels). Reads go to the borrowed slice until the first change,
/// which copies the labels once into an owned sorted vector, so a rule set that changes
/// nothing costs no copy at all.
pub struct CowLabels<'a, N, V> {
    base: &'a [(N, V)],
    owned: Option<Vec<(String, String)>>,
}

impl<'a, N: AsRef<str>, V: AsRef<str>> CowLabels<'a, N, V> {
    /// `base` must be sorted by name with unique names.
    pub fn new(base: &'a [(N, V)]) -> Self {
        CowLabels { base, owned: None }
    }

    /// Whether a rule wrote anything (the result may still equal the original).
    pub fn is_changed(&self) -> bool {
        self.owned.is_some()
    }

    /// The relabeled labels, or `None` when nothing was written and the original stands.
    pub fn into_changed(self) -> Option<Vec<(String, String)>> {
        self.owned
    }

    fn owned(&mut self) -> &mut Vec<(String, String)> {
        let base = self.base;
        self.owned.get_or_insert_with(|| {
            base.iter()
                .map(|(n, v)| (n.as_ref().to_owned(), v.as_ref().to_owned()))
                .collect()
        })
    }
}

impl<N: AsRef<str>, V: AsRef<str>> LabelSet for CowLabels<'_, N, V> {
    fn get(&self, name: &str) -> Option<&str> {
        match &self.owned {
            Some(owned) => LabelSet::get(owned, name),
            None => {
                let index = self
                    .base
                    .binary_search_by(|(n, _)| n.as_ref().cmp(name))
                    .ok()?;
                Some(self.base[index].1.as_ref())
            }
        }
    }

    fn set(&mut self, name: &str, value: &str) {
        if LabelSet::get(self, name) != Some(value) {
            LabelSet::set(self.owned(), name, value);
        }
    }

    fn remove(&mut self, name: &str) {
        if LabelSet::get(self, name).is_some() {
            LabelSet::remove(self.owned(), name);
        }
    }

    fn for_each(&self, f: &mut dyn FnMut(&str, &str)) {
        match &self.owned {
            Some(owned) => owned.for_each(f),
            None => {
                for (name, value) in self.base {
                    f(name.as_ref(), value.as_ref());
                }
            }
        }
    }

    /// Calls `keep` a second time on some labels when it first has to copy; relabel's
    /// predicates are pure regex matches, so that is harmless.
    fn retain(&mut self, keep: &mut dyn FnMut(&str, &str) -> bool) {
        if self.owned.is_none()
            && self
                .base
                .iter()
                .all(|(name, value)| keep(name.as_ref(), value.as_ref()))
        {
            return;
        }
        LabelSet::retain(self.owned(), keep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise<L: LabelSet>(labels: &mut L) -> Vec<(String, String)> {
        labels.set("b", "2");
        labels.set("a", "1");
        labels.set("c", "3");
        labels.set("b", "two");
        labels.remove("c");
        labels.remove("missing");
        assert_eq!(labels.get("b"), Some("two"));
        assert_eq!(labels.get("c"), None);
        let mut seen = Vec::new();
        labels.for_each(&mut |n, v| seen.push((n.to_owned(), v.to_owned())));
        seen.sort();
        seen
    }

    #[test]
    fn implementations_agree() {
        let want = vec![("a".into(), "1".into()), ("b".into(), "two".into())];
        assert_eq!(exercise(&mut BTreeMap::new()), want);
        assert_eq!(exercise(&mut HashMap::<String, String>::new()), want);
        let mut sorted = Vec::new();
        assert_eq!(exercise(&mut sorted), want);
        assert_eq!(sorted, want, "vector stays sorted");
    }

    #[test]
    fn retain_filters() {
        let mut v: Vec<(String, String)> = vec![("a".into(), "1".into()), ("b".into(), "2".into())];
        LabelSet::retain(&mut v, &mut |n, _| n == "b");
        assert_eq!(v, vec![("b".to_owned(), "2".to_owned())]);
    }

    #[test]
    fn cow_labels_copy_only_on_change() {
        let base = [("a", "1"), ("b", "2")];
        let mut view = CowLabels::new(&base[..]);
        view.set("a", "1");
        view.remove("missing");
        view.retain(&mut |_, _| true);
        assert_eq!(view.get("b"), Some("2"));
        assert!(!view.is_changed());
        assert_eq!(view.into_changed(), None);

        let mut view = CowLabels::new(&base[..]);
        view.set("c", "3");
        view.remove("a");
        assert_eq!(view.get("a"), None);
        let want: Vec<(String, String)> = vec![("b".into(), "2".into()), ("c".into(), "3".into())];
        assert_eq!(view.into_changed(), Some(want));

        let mut view = CowLabels::new(&base[..]);
        view.retain(&mut |n, _| n == "b");
        assert_eq!(
            view.into_changed(),
            Some(vec![("b".to_owned(), "2".to_owned())])
        );
    }
}
