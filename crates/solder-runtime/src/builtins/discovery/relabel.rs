//! `discovery.relabel`: applies `rule` blocks to a list of targets (spec §2.2).

use solder_core::relabel::{process_map, Rule};
use solder_core::{
    AnyArgs, BoxFuture, Component, ComponentError, ComponentOptions, TypedComponent,
};
use solder_syntax::{Capsule, Object, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// The capsule type name of the `rules` export. The capsule holds a `Vec<Rule>`.
pub use solder_core::relabel::RELABEL_RULES_CAPSULE as RELABEL_RULES_TYPE;

#[derive(Debug, serde::Deserialize)]
pub struct Args {
    pub targets: Vec<BTreeMap<String, String>>,
    #[serde(default)]
    pub rule: Vec<Rule>,
}

pub struct DiscoveryRelabel {
    opts: ComponentOptions,
    /// The rules of the last update, to publish the same capsule while they do not change
    /// (capsules compare by identity, and a new one would wake every dependant).
    last: Mutex<Option<(Vec<Rule>, Capsule)>>,
}

/// Relabel every target; dropped targets are gone, `__` labels pass through.
pub fn relabel_targets(
    rules: &[Rule],
    targets: &[BTreeMap<String, String>],
) -> Vec<BTreeMap<String, String>> {
    targets
        .iter()
        .filter_map(|t| process_map(rules, t.clone()))
        .collect()
}

fn targets_value(targets: Vec<BTreeMap<String, String>>) -> Value {
    Value::Array(
        targets
            .into_iter()
            .map(|t| {
                Value::Object(
                    t.into_iter()
                        .map(|(k, v)| (k, Value::String(v)))
                        .collect::<Object>(),
                )
            })
            .collect(),
    )
}

impl DiscoveryRelabel {
    fn apply(&self, args: Args) {
        let output = relabel_targets(&args.rule, &args.targets);
        let capsule = {
            let mut last = match self.last.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            match &*last {
                Some((rules, capsule)) if *rules == args.rule => capsule.clone(),
                _ => {
                    let capsule = Capsule::new(RELABEL_RULES_TYPE, args.rule.clone());
                    *last = Some((args.rule, capsule.clone()));
                    capsule
                }
            }
        };
        let mut exports = Object::new();
        exports.insert("output".to_string(), targets_value(output));
        exports.insert("rules".to_string(), Value::Capsule(capsule));
        self.opts.publish_exports(Value::Object(exports));
    }
}

impl TypedComponent for DiscoveryRelabel {
    const NAME: &'static str = "discovery.relabel";
    const EXPORTS: &'static [&'static str] = &["output", "rules"];
    type Args = Args;

    fn build(opts: ComponentOptions, args: Args) -> Result<Self, ComponentError> {
        let c = DiscoveryRelabel {
            opts,
            last: Mutex::new(None),
        };
        c.apply(args);
        Ok(c)
    }
}

impl Component for DiscoveryRelabel {
    fn run(self: Arc<Self>, shutdown: CancellationToken) -> BoxFuture<Result<(), ComponentError>> {
        Box::pin(async move {
            shutdown.cancelled().await;
            Ok(())
        })
    }

    fn update(&self, args: AnyArgs) -> Result<(), ComponentError> {
        self.apply(args.downcast::<Args>()?);
        Ok(())
    }
}
