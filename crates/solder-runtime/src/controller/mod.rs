//! The component controller: loads a config into a graph, evaluates and builds it, runs every
//! component, re-evaluates dependants when exports change, applies reloads as a diff, and
//! shuts everything down.
//!
//! Concurrency: one async `write` lock serialises everything that changes the graph (loads,
//! reloads, the evaluation worker); readers (the admin API, metrics) take a snapshot
//! `Arc<Running>` from a short-lived `RwLock` and read per-node cells, so they never wait on an
//! evaluation.

mod api_impl;
pub mod config_blocks;
mod evaluate;
pub mod graph;
pub mod known_components;
mod node;
pub mod scope;
pub mod suggest;

pub use config_blocks::{EvaluatedConfig, LoggingConfig, TracingConfig};

use crate::error::LoadError;
use crate::loader::{self, Sources};
use crate::metrics::{ComponentsCollector, ControllerMetrics, RunningComponents};
use evaluate::{evaluate_config, evaluate_node, Evaluated};
use graph::{build_graph, Graph};
use node::{lock, CurrentArgs, Dirty, ExportsCell, NodeState};
use scope::{body_to_json, same_body, ExportsScope};
use solder_core::{AnyArgs, ComponentOptions, HealthReporter, HostInfo, Registry, Stability};
use solder_syntax::ast;
use solder_syntax::eval::BodyValue;
use solder_syntax::{Diagnostic, Diagnostics, Object, SourceMap, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How long a reload waits for a removed component to stop before aborting its task.
const REMOVE_DEADLINE: Duration = Duration::from_secs(30);

/// What the binary passes to the controller.
pub struct ControllerOptions {
    /// A file, or a directory of `*.alloy` files.
    pub config_path: PathBuf,
    /// `--storage.path`; each component gets `<storage_path>/<id>`.
    pub storage_path: PathBuf,
    /// `--stability.level`
    pub min_stability: Stability,
    pub host: Arc<HostInfo>,
    /// Every component type the binary knows.
    pub registry: Registry,
    /// Where controller metrics and (through a collector) every component's metrics appear.
    pub self_registry: prometheus::Registry,
    /// Called after every successful load with the `logging` block (defaults when absent).
    pub on_logging: Arc<dyn Fn(LoggingConfig) + Send + Sync>,
}

/// The running graph as of the last successful load.
#[derive(Default)]
pub(crate) struct Running {
    pub graph: Option<Graph>,
    pub sources: SourceMap,
    pub nodes: BTreeMap<String, Arc<NodeState>>,
}

impl Running {
    /// Exports of `graph.nodes[i]`'s dependencies, for its evaluation scope.
    fn scope_for(&self, graph: &Graph, i: usize) -> ExportsScope {
        let entries = graph.deps[i]
            .iter()
            .filter_map(|&d| {
                let id = &graph.nodes[d].id;
                self.nodes.get(id).map(|n| (id.clone(), n.exports.get()))
            })
            .collect();
        ExportsScope::new(entries)
    }
}

pub struct Controller {
    opts: ControllerOptions,
    metrics: ControllerMetrics,
    state: RwLock<Arc<Running>>,
    write: tokio::sync::Mutex<()>,
    ready: AtomicBool,
    dirty_tx: mpsc::UnboundedSender<Dirty>,
    dirty_rx: Mutex<Option<mpsc::UnboundedReceiver<Dirty>>>,
    worker_stop: CancellationToken,
    weak_self: Weak<Controller>,
}

/// What a load does to one component of the new graph.
enum Action {
    /// Same type and same evaluated arguments: keeps running with its state.
    Keep(Arc<NodeState>, BodyValue, Duration),
    /// Same type, new arguments: `update` in place.
    Update(Arc<NodeState>, BodyValue, AnyArgs, Duration),
    /// Built during planning; started at commit.
    New(Arc<NodeState>),
}

struct Plan {
    actions: Vec<Option<Action>>,
    config: EvaluatedConfig,
}

impl Controller {
    pub fn new(opts: ControllerOptions) -> Arc<Controller> {
        let metrics = match ControllerMetrics::register(&opts.self_registry) {
            Ok(m) => m,
            Err(e) => {
                // A second controller on the same registry: keep working, unexported.
                tracing::warn!(error = %e, "controller metrics already registered; using a private registry");
                #[allow(clippy::expect_used)]
                ControllerMetrics::register(&prometheus::Registry::new())
                    .expect("registering controller metrics in a fresh registry cannot collide")
            }
        };
        let (dirty_tx, dirty_rx) = mpsc::unbounded_channel();
        let ctrl = Arc::new_cyclic(|weak: &Weak<Controller>| Controller {
            opts,
            metrics,
            state: RwLock::new(Arc::new(Running::default())),
            write: tokio::sync::Mutex::new(()),
            ready: AtomicBool::new(false),
            dirty_tx,
            dirty_rx: Mutex::new(Some(dirty_rx)),
            worker_stop: CancellationToken::new(),
            weak_self: weak.clone(),
        });
        let source: Weak<dyn RunningComponents> = ctrl.weak_self.clone();
        match ComponentsCollector::new(source) {
            Ok(c) => {
                if let Err(e) = ctrl.opts.self_registry.register(Box::new(c)) {
                    tracing::warn!(error = %e, "registering the running-components collector");
                }
            }
            Err(e) => tracing::warn!(error = %e, "creating the running-components collector"),
        }
        ctrl
    }

    /// Load the config for the first time; on error nothing runs.
    pub async fn load_initial(self: &Arc<Self>) -> Result<(), LoadError> {
        self.load_path().await?;
        self.ready.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Re-read the config path and apply it as a diff; on error the running graph is untouched.
    pub async fn reload(self: &Arc<Self>) -> Result<(), LoadError> {
        self.load_path().await
    }

    /// Cancel every component and wait for them up to `deadline`.
    pub async fn shutdown(&self, deadline: Duration) {
        self.worker_stop.cancel();
        let _w = self.write.lock().await;
        let state = self.snapshot();
        for n in state.nodes.values() {
            n.cancel.cancel();
        }
        let stops = state.nodes.values().map(|n| n.stop(deadline));
        futures::future::join_all(stops).await;
        *self.state_mut() = Arc::new(Running::default());
    }

    /// Parse and apply in-memory sources (tests and embedders).
    pub async fn load_sources(&self, named: &[(&str, &str)]) -> Result<(), LoadError> {
        let result = match loader::parse_sources(named) {
            Ok(sources) => self.apply(sources).await,
            Err(e) => {
                self.metrics.observe_load(false, &"0".repeat(64));
                Err(e)
            }
        };
        if result.is_ok() {
            self.ready.store(true, Ordering::SeqCst);
        }
        result
    }

    async fn load_path(&self) -> Result<(), LoadError> {
        let path = self.opts.config_path.clone();
        let read = tokio::task::spawn_blocking(move || {
            loader::read_sources(&path).map_err(|e| {
                let hash = loader::hash_path(&path).unwrap_or_else(|| "0".repeat(64));
                (e, hash)
            })
        })
        .await;
        let sources = match read {
            Ok(Ok(s)) => s,
            Ok(Err((e, hash))) => {
                self.metrics.observe_load(false, &hash);
                return Err(e);
            }
            Err(e) => {
                self.metrics.observe_load(false, &"0".repeat(64));
                return Err(LoadError::from_message(format!("reading config: {e}")));
            }
        };
        self.apply(sources).await
    }

    fn snapshot(&self) -> Arc<Running> {
        match self.state.read() {
            Ok(g) => Arc::clone(&g),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    fn state_mut(&self) -> std::sync::RwLockWriteGuard<'_, Arc<Running>> {
        match self.state.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn ensure_worker(&self) {
        let Some(rx) = lock(&self.dirty_rx).take() else {
            return;
        };
        let weak = self.weak_self.clone();
        let stop = self.worker_stop.clone();
        tokio::spawn(evaluation_worker(weak, rx, stop));
    }

    /// Validate, evaluate and build everything new; only when all of it succeeds, stop what
    /// was removed, update what changed, start what is new, and publish the new graph.
    async fn apply(&self, sources: Sources) -> Result<(), LoadError> {
        self.ensure_worker();
        let _w = self.write.lock().await;
        let current = self.snapshot();
        let plan = build_graph(
            &sources.files,
            &sources.map,
            &self.opts.registry,
            self.opts.min_stability,
        )
        .and_then(|graph| {
            self.metrics.evaluating.set(1.0);
            let plan = self.plan(&graph, &current);
            self.metrics.evaluating.set(0.0);
            plan.map(|p| (graph, p))
        });
        let (graph, plan) = match plan {
            Ok(x) => x,
            Err(diags) => {
                self.metrics.observe_load(false, &sources.hash);
                return Err(LoadError::from_diagnostics(sources.map, diags));
            }
        };
        self.commit(graph, sources, plan, &current).await;
        Ok(())
    }

    /// Evaluate every node in order, building the new ones so their exports are visible to
    /// their dependants. Nothing running is touched.
    fn plan(&self, graph: &Graph, current: &Running) -> Result<Plan, Diagnostics> {
        let n = graph.nodes.len();
        let mut diags = Diagnostics::new();
        let mut cells: Vec<Option<Arc<ExportsCell>>> = vec![None; n];
        let mut failed = vec![false; n];
        let mut actions: Vec<Option<Action>> = (0..n).map(|_| None).collect();
        for &i in &graph.order {
            let decl = &graph.nodes[i];
            // A dependant of a failed node would only report follow-on errors.
            if graph.deps[i].iter().any(|&d| failed[d]) {
                failed[i] = true;
                continue;
            }
            let scope = ExportsScope::new(
                graph.deps[i]
                    .iter()
                    .filter_map(|&d| {
                        cells[d]
                            .as_ref()
                            .map(|c| (graph.nodes[d].id.clone(), c.get()))
                    })
                    .collect(),
            );
            let Evaluated { result, took } = evaluate_node(decl, &scope);
            self.metrics.observe_evaluation(&decl.id, took);
            let (body, args) = match result {
                Ok(x) => x,
                Err(d) => {
                    diags.extend(d);
                    failed[i] = true;
                    continue;
                }
            };
            let existing = current
                .nodes
                .get(&decl.id)
                .filter(|node| node.name == decl.name);
            let action = match existing {
                Some(node) => {
                    cells[i] = Some(Arc::clone(&node.exports));
                    if same_body(&node.current().body, &body) {
                        Action::Keep(Arc::clone(node), body, took)
                    } else {
                        Action::Update(Arc::clone(node), body, args, took)
                    }
                }
                None => match self.build_node(decl, body, args, took) {
                    Ok(node) => {
                        cells[i] = Some(Arc::clone(&node.exports));
                        Action::New(node)
                    }
                    Err(msg) => {
                        diags.push(Diagnostic::error(decl.block.name_span(), msg));
                        failed[i] = true;
                        continue;
                    }
                },
            };
            actions[i] = Some(action);
        }

        let mut config = EvaluatedConfig::default();
        if !diags.has_errors() {
            let entries = graph
                .config_refs
                .iter()
                .filter_map(|r| {
                    cells[r.target]
                        .as_ref()
                        .map(|c| (graph.nodes[r.target].id.clone(), c.get()))
                })
                .collect();
            match evaluate_config(&graph.config, &ExportsScope::new(entries)) {
                Ok(c) => config = c,
                Err(d) => diags.extend(d),
            }
        }
        if diags.has_errors() {
            return Err(diags);
        }
        Ok(Plan { actions, config })
    }

    fn build_node(
        &self,
        decl: &graph::ComponentDecl,
        body: BodyValue,
        args: AnyArgs,
        took: Duration,
    ) -> Result<Arc<NodeState>, String> {
        let labels: HashMap<String, String> = [
            ("component_id".to_string(), decl.id.clone()),
            ("component_path".to_string(), "/".to_string()),
        ]
        .into();
        let registry = prometheus::Registry::new_custom(None, Some(labels))
            .map_err(|e| format!("Failed to build component: creating metrics registry: {e}"))?;
        // Until the component publishes, every declared export exists and is null, so a
        // reference to it is not a "field does not exist" error.
        let initial: Object = decl
            .builder
            .exports()
            .iter()
            .map(|e| (e.to_string(), Value::Null))
            .collect();
        let exports = Arc::new(ExportsCell::new(
            decl.id.clone(),
            Value::Object(initial),
            self.dirty_tx.clone(),
            self.metrics.evaluation_queue_size.clone(),
        ));
        let health = HealthReporter::new();
        let opts = ComponentOptions {
            id: decl.id.clone(),
            data_dir: self.opts.storage_path.join(&decl.id),
            registry: registry.clone(),
            health: health.clone(),
            host: Arc::clone(&self.opts.host),
            exports: exports.clone(),
        };
        let component = {
            // Logs emitted while building carry the component id, like those of `run`.
            let _span = tracing::info_span!("component", component_id = %decl.id).entered();
            decl.builder
                .build(opts, args)
                .map_err(|e| format!("Failed to build component: {e}"))?
        };
        let eval_health = HealthReporter::new();
        eval_health.healthy("component evaluated");
        let json = body_to_json(&body);
        Ok(Arc::new(NodeState {
            id: decl.id.clone(),
            name: decl.name.clone(),
            label: decl.label.clone(),
            component,
            exports,
            health,
            run_health: HealthReporter::new(),
            eval_health,
            registry,
            cancel: CancellationToken::new(),
            task: Mutex::new(None),
            current: Mutex::new(CurrentArgs {
                body,
                json,
                last_evaluation: took,
            }),
        }))
    }

    async fn commit(&self, graph: Graph, sources: Sources, plan: Plan, current: &Running) {
        let Plan {
            mut actions,
            config,
        } = plan;
        let kept: HashSet<String> = actions
            .iter()
            .flatten()
            .filter_map(|a| match a {
                Action::Keep(n, ..) | Action::Update(n, ..) => Some(n.id.clone()),
                Action::New(_) => None,
            })
            .collect();
        let removed: Vec<Arc<NodeState>> = current
            .nodes
            .values()
            .filter(|n| !kept.contains(&n.id))
            .cloned()
            .collect();
        for n in &removed {
            n.cancel.cancel();
        }
        futures::future::join_all(removed.iter().map(|n| n.stop(REMOVE_DEADLINE))).await;
        for n in &removed {
            tracing::info!(component_id = %n.id, "component removed");
        }

        let mut nodes = BTreeMap::new();
        for &i in &graph.order {
            let Some(action) = actions[i].take() else {
                continue;
            };
            let node = match action {
                Action::Keep(node, body, took) => {
                    let mut cur = node.current();
                    cur.body = body;
                    cur.last_evaluation = took;
                    drop(cur);
                    node.eval_health.healthy("component evaluated");
                    node
                }
                Action::Update(node, body, args, took) => {
                    apply_update(&node, body, args, took);
                    node
                }
                Action::New(node) => {
                    node.start();
                    node
                }
            };
            nodes.insert(node.id.clone(), node);
        }

        self.metrics.graph_connection.reset();
        for (i, deps) in graph.deps.iter().enumerate() {
            for &d in deps {
                self.metrics
                    .graph_connection
                    .with_label_values(&[&graph.nodes[i].id, &graph.nodes[d].id])
                    .set(1.0);
            }
        }
        self.metrics.observe_load(true, &sources.hash);
        if config.livedebugging {
            tracing::warn!("livedebugging is enabled, but Solder has no live debugging UI yet");
        }
        if !config.tracing.write_to.is_empty() {
            tracing::warn!("tracing.write_to is set, but Solder does not emit its own traces yet");
        }
        (self.opts.on_logging)(config.logging.clone());
        *self.state_mut() = Arc::new(Running {
            graph: Some(graph),
            sources: sources.map,
            nodes,
        });
    }

    /// Re-evaluate every transitive dependant of the components in `batch`, in order.
    async fn propagate(&self, batch: Vec<Dirty>) {
        let _w = self.write.lock().await;
        let state = self.snapshot();
        let Some(graph) = &state.graph else {
            return;
        };
        let mut enqueued: HashMap<usize, Instant> = HashMap::new();
        for d in &batch {
            if let Some(&i) = graph.by_id.get(&d.id) {
                let at = enqueued.entry(i).or_insert(d.at);
                *at = (*at).min(d.at);
            }
        }
        let roots: Vec<usize> = enqueued.keys().copied().collect();
        let earliest = enqueued.values().min().copied();
        let targets = graph.transitive_dependants(&roots);
        if targets.is_empty() {
            return;
        }
        self.metrics.evaluating.set(1.0);
        for i in targets {
            let decl = &graph.nodes[i];
            let Some(node) = state.nodes.get(&decl.id) else {
                continue;
            };
            if let Some(at) = earliest {
                self.metrics
                    .dependencies_wait_seconds
                    .observe(at.elapsed().as_secs_f64());
            }
            let scope = state.scope_for(graph, i);
            let Evaluated { result, took } = evaluate_node(decl, &scope);
            self.metrics.observe_evaluation(&decl.id, took);
            match result {
                Err(diags) => {
                    let msg = diags.summary(&state.sources);
                    tracing::warn!(component_id = %decl.id, error = %msg, "component evaluation failed; keeping the last good arguments");
                    node.eval_health
                        .unhealthy(format!("component evaluation failed: {msg}"));
                    node.current().last_evaluation = took;
                }
                Ok((body, args)) => {
                    let unchanged = same_body(&node.current().body, &body);
                    if unchanged {
                        node.eval_health.healthy("component evaluated");
                        node.current().last_evaluation = took;
                    } else {
                        apply_update(node, body, args, took);
                    }
                }
            }
        }
        self.metrics.evaluating.set(0.0);
    }
}

/// Hand new arguments to a running component; a refusal makes it unhealthy and it keeps
/// its previous arguments.
fn apply_update(node: &Arc<NodeState>, body: BodyValue, args: AnyArgs, took: Duration) {
    let _span = tracing::info_span!("component", component_id = %node.id).entered();
    match node.component.update(args) {
        Ok(()) => {
            node.eval_health.healthy("component evaluated");
            let json = body_to_json(&body);
            let mut cur = node.current();
            cur.body = body;
            cur.json = json;
            cur.last_evaluation = took;
        }
        Err(e) => {
            tracing::warn!(component_id = %node.id, error = %e, "component rejected its new arguments");
            node.eval_health
                .unhealthy(format!("failed to update component: {e}"));
            node.current().last_evaluation = took;
        }
    }
}

/// The single evaluation worker: drains every queued change at once (coalescing bursts into
/// one pass over the affected dependants) and evaluates them under the write lock.
async fn evaluation_worker(
    weak: Weak<Controller>,
    mut rx: mpsc::UnboundedReceiver<Dirty>,
    stop: CancellationToken,
) {
    loop {
        let first = tokio::select! {
            _ = stop.cancelled() => return,
            msg = rx.recv() => match msg {
                Some(d) => d,
                None => return,
            },
        };
        // Let a component that publishes several times in a row finish before evaluating.
        tokio::task::yield_now().await;
        let mut batch = vec![first];
        while let Ok(d) = rx.try_recv() {
            batch.push(d);
        }
        let Some(ctrl) = weak.upgrade() else {
            return;
        };
        ctrl.metrics.evaluation_queue_size.sub(batch.len() as f64);
        ctrl.propagate(batch).await;
    }
}

impl RunningComponents for Controller {
    fn health_counts(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for n in self.snapshot().nodes.values() {
            *counts.entry(n.current_health().kind.as_str()).or_insert(0) += 1;
        }
        counts
    }

    fn component_registries(&self) -> Vec<prometheus::Registry> {
        self.snapshot()
            .nodes
            .values()
            .map(|n| n.registry.clone())
            .collect()
    }
}

/// Validate a config without building or running anything: syntax, component names, labels,
/// references, cycles, stability, and each component's arguments. Arguments that depend on
/// another component's exports cannot be known without running it, so errors located inside
/// such references are not reported.
pub fn check(path: &Path, registry: &Registry, min_stability: Stability) -> Result<(), LoadError> {
    let sources = loader::read_sources(path)?;
    check_sources(sources, registry, min_stability)
}

/// [`check`] on already parsed sources.
pub fn check_sources(
    sources: Sources,
    registry: &Registry,
    min_stability: Stability,
) -> Result<(), LoadError> {
    // Graph errors (unknown or unsupported components, bad references) do not stop the check:
    // the arguments of every component that did resolve are still validated, so one run of
    // `solder check` reports everything.
    let (graph, mut diags) =
        graph::build_graph_partial(&sources.files, &sources.map, registry, min_stability);
    let placeholder = |i: usize| -> (String, Value) {
        let decl = &graph.nodes[i];
        let obj: Object = decl
            .builder
            .exports()
            .iter()
            .map(|e| (e.to_string(), Value::Null))
            .collect();
        (decl.id.clone(), Value::Object(obj))
    };
    for (i, decl) in graph.nodes.iter().enumerate() {
        let scope = ExportsScope::new(graph.deps[i].iter().map(|&d| placeholder(d)).collect());
        if let Err(d) = evaluate_node(decl, &scope).result {
            // Errors inside any reference (resolved, or already reported by the graph) are
            // artefacts of the placeholder exports.
            let ref_spans: Vec<_> = ast::body_traversals(&decl.block.body)
                .iter()
                .map(|t| t.span)
                .collect();
            diags.extend(Diagnostics(
                d.into_iter()
                    .filter(|x| !ref_spans.iter().any(|s| overlaps(x.span, *s)))
                    .collect(),
            ));
        }
    }
    let scope = ExportsScope::new(
        graph
            .config_refs
            .iter()
            .map(|r| placeholder(r.target))
            .collect(),
    );
    if let Err(d) = evaluate_config(&graph.config, &scope) {
        let ref_spans: Vec<_> = graph.config_refs.iter().map(|r| r.span).collect();
        diags.extend(Diagnostics(
            d.into_iter()
                .filter(|x| !ref_spans.iter().any(|s| overlaps(x.span, *s)))
                .collect(),
        ));
    }
    if diags.has_errors() {
        diags.0.sort_by_key(|d| (d.span.file, d.span.lo));
        return Err(LoadError::from_diagnostics(sources.map, diags));
    }
    Ok(())
}

fn overlaps(a: solder_syntax::Span, b: solder_syntax::Span) -> bool {
    a.file == b.file && a.lo <= b.hi && b.lo <= a.hi
}
