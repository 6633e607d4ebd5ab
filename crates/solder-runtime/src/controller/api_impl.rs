//! The admin server's view of the controller.

use super::{Controller, Running};
use crate::api::{AdminApi, ComponentInfo};
use solder_core::http::ComponentHttp;
use std::sync::atomic::Ordering;
use std::sync::Arc;

impl Controller {
    fn info(&self, state: &Running, id: &str) -> Option<ComponentInfo> {
        let node = state.nodes.get(id)?;
        let (references, referenced_by) = match &state.graph {
            Some(g) => match g.by_id.get(id) {
                Some(&i) => (
                    g.deps[i].iter().map(|&d| g.nodes[d].id.clone()).collect(),
                    g.dependants[i]
                        .iter()
                        .map(|&d| g.nodes[d].id.clone())
                        .collect(),
                ),
                None => (Vec::new(), Vec::new()),
            },
            None => (Vec::new(), Vec::new()),
        };
        let (arguments, last_evaluation_seconds) = {
            let cur = node.current();
            (cur.json.clone(), cur.last_evaluation.as_secs_f64())
        };
        Some(ComponentInfo {
            id: node.id.clone(),
            name: node.name.clone(),
            label: Some(node.label.clone()),
            health: node.current_health(),
            arguments,
            exports: solder_syntax::value::value_to_json(&node.exports.get()),
            debug_info: node.component.debug_info(),
            references,
            referenced_by,
            last_evaluation_seconds,
        })
    }
}

#[async_trait::async_trait]
impl AdminApi for Controller {
    fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    fn components(&self) -> Vec<ComponentInfo> {
        let state = self.snapshot();
        state
            .nodes
            .keys()
            .filter_map(|id| self.info(&state, id))
            .collect()
    }

    fn component(&self, id: &str) -> Option<ComponentInfo> {
        self.info(&self.snapshot(), id)
    }

    async fn reload(&self) -> Result<(), String> {
        self.load_path().await.map_err(|e| e.render())
    }

    fn component_http(&self, id: &str) -> Option<Arc<dyn ComponentHttp>> {
        self.snapshot().nodes.get(id)?.component.http_handler()
    }

    fn gather(&self) -> Vec<prometheus::proto::MetricFamily> {
        // The self registry holds the controller's collector, which folds in every
        // component registry, so one gather sees everything.
        self.opts.self_registry.gather()
    }
}
