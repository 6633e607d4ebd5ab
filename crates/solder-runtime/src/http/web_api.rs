//! The UI's JSON API (`<prefix>api/v0/web/components[/<id>]`), with the field names of Alloy's
//! `component.Info` JSON so existing UIs and scripts can read it. Arguments and exports arrive
//! from the controller already redacted.

use super::text;
use super::time::{rfc3339, Precision};
use crate::api::{AdminApi, ComponentInfo};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Json, Response};
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// Normalise `--server.http.ui-path-prefix` to start and end with `/`.
pub(crate) fn prefix(raw: &str) -> String {
    let trimmed = raw.trim_matches('/');
    if trimmed.is_empty() {
        "/".to_string()
    } else {
        format!("/{trimmed}/")
    }
}

pub(crate) async fn list_components(State(api): State<Arc<dyn AdminApi>>) -> Response {
    let list: Vec<Value> = api
        .components()
        .iter()
        .map(|c| component_json(c, false))
        .collect();
    Json(Value::Array(list)).into_response()
}

pub(crate) async fn get_component(
    State(api): State<Arc<dyn AdminApi>>,
    Path(id): Path<String>,
) -> Response {
    match api.component(&id) {
        Some(c) => Json(component_json(&c, true)).into_response(),
        None => text::not_found(),
    }
}

/// One component as Alloy marshals it. The list view carries health only; the detail view adds
/// arguments, exports and debug info.
pub(crate) fn component_json(c: &ComponentInfo, detail: bool) -> Value {
    let mut obj = Map::new();
    obj.insert("name".into(), json!(c.name));
    obj.insert("type".into(), json!("block"));
    obj.insert("localID".into(), json!(c.id));
    obj.insert("moduleID".into(), json!(""));
    if let Some(label) = c.label.as_deref().filter(|l| !l.is_empty()) {
        obj.insert("label".into(), json!(label));
    }
    obj.insert("referencesTo".into(), json!(c.references));
    obj.insert("referencedBy".into(), json!(c.referenced_by));
    // Data-flow edges are not tracked separately from references yet.
    obj.insert("dataFlowEdgesTo".into(), json!([]));
    obj.insert(
        "health".into(),
        json!({
            "state": c.health.kind.as_str(),
            "message": c.health.message,
            "updatedTime": rfc3339(c.health.updated_at, Precision::NanosTrimmed),
        }),
    );
    obj.insert("original".into(), json!(""));
    if detail {
        obj.insert("arguments".into(), c.arguments.clone());
        obj.insert("exports".into(), c.exports.clone());
        if let Some(debug) = &c.debug_info {
            obj.insert("debugInfo".into(), debug.clone());
        }
    }
    obj.insert("liveDebuggingEnabled".into(), json!(false));
    Value::Object(obj)
}

#[cfg(test)]
mod tests {
    use super::prefix;

    #[test]
    fn normalises_prefix() {
        for (raw, want) in [
            ("/", "/"),
            ("", "/"),
            ("ui", "/ui/"),
            ("/ui", "/ui/"),
            ("/ui/", "/ui/"),
            ("/a/b/", "/a/b/"),
        ] {
            assert_eq!(prefix(raw), want, "{raw:?}");
        }
    }
}
