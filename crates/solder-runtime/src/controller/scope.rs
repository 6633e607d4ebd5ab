//! The scope a component body is evaluated in: the exports of the components it references,
//! laid out as a nested object tree (`discovery.kubernetes.pods.targets`). Only a node's own
//! dependencies are included, so evaluating it clones just what it can reach.

use solder_syntax::eval::{BodyItem, BodyValue, Scope};
use solder_syntax::{Object, Value};

/// Component exports as one object tree per first id fragment, built once per evaluation
/// (a body may look the same root up many times).
pub struct ExportsScope {
    roots: Object,
}

impl ExportsScope {
    /// `entries` are `(component id, exports)` pairs.
    pub fn new(entries: Vec<(String, Value)>) -> Self {
        let mut roots = Object::new();
        for (id, exports) in entries {
            let parts: Vec<&str> = id.split('.').collect();
            insert_path(&mut roots, &parts, exports);
        }
        ExportsScope { roots }
    }
}

impl Scope for ExportsScope {
    fn lookup(&self, name: &str) -> Option<Value> {
        self.roots.get(name).cloned()
    }

    /// `discovery.kubernetes.pods.targets` clones only the targets, not the whole tree.
    fn lookup_path(&self, parts: &[&str]) -> Option<Value> {
        solder_syntax::eval::walk_object(&self.roots, parts).cloned()
    }
}

/// Place `value` at `path` inside `obj`, creating intermediate objects. An id that is a prefix
/// of another keeps its exports and gains the deeper entry as a field.
fn insert_path(obj: &mut Object, path: &[&str], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        match (obj.get_mut(*first), value) {
            (Some(Value::Object(existing)), Value::Object(new)) => existing.extend(new),
            (_, value) => {
                obj.insert(first.to_string(), value);
            }
        }
        return;
    }
    let child = obj
        .entry(first.to_string())
        .or_insert_with(|| Value::Object(Object::new()));
    if !matches!(child, Value::Object(_)) {
        *child = Value::Object(Object::new());
    }
    if let Value::Object(child) = child {
        insert_path(child, rest, value);
    }
}

/// Equality of evaluated arguments ignoring source positions: a reload that only moves a
/// block around (or reformats it) must not look like a configuration change.
pub fn same_body(a: &BodyValue, b: &BodyValue) -> bool {
    a.items.len() == b.items.len()
        && a.items.iter().zip(&b.items).all(|(x, y)| match (x, y) {
            (BodyItem::Attr(x), BodyItem::Attr(y)) => x.name == y.name && x.value == y.value,
            (BodyItem::Block(x), BodyItem::Block(y)) => {
                x.name == y.name && x.label == y.label && same_body(&x.body, &y.body)
            }
            _ => false,
        })
}

/// Arguments for the component API: attributes as JSON (secrets redacted by
/// `value_to_json`), repeated blocks as arrays of objects.
pub fn body_to_json(body: &BodyValue) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for item in &body.items {
        match item {
            BodyItem::Attr(a) => {
                map.insert(
                    a.name.clone(),
                    solder_syntax::value::value_to_json(&a.value),
                );
            }
            BodyItem::Block(b) => {
                let mut inner = body_to_json(&b.body);
                if let (Some(label), serde_json::Value::Object(o)) = (&b.label, &mut inner) {
                    o.insert(
                        "label".to_string(),
                        serde_json::Value::String(label.clone()),
                    );
                }
                match map
                    .entry(b.name.clone())
                    .or_insert_with(|| serde_json::Value::Array(Vec::new()))
                {
                    serde_json::Value::Array(list) => list.push(inner),
                    other => *other = serde_json::Value::Array(vec![inner]),
                }
            }
        }
    }
    serde_json::Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_nested_tree_for_matching_root_only() {
        let mut pods = Object::new();
        pods.insert("targets".into(), Value::Array(vec![]));
        let scope = ExportsScope::new(vec![
            (
                "discovery.kubernetes.pods".into(),
                Value::Object(pods.clone()),
            ),
            ("local.file.token".into(), Value::Object(Object::new())),
        ]);
        let v = scope.lookup("discovery").unwrap();
        let got = v
            .as_object()
            .and_then(|o| o.get("kubernetes"))
            .and_then(|v| v.as_object())
            .and_then(|o| o.get("pods"))
            .cloned();
        assert_eq!(got, Some(Value::Object(pods)));
        assert!(scope.lookup("prometheus").is_none());
        assert!(scope.lookup("local").is_some());
    }
}
