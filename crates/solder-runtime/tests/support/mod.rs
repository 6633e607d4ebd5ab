//! Small test components and helpers shared by the controller tests.
//!
//! Tests run in parallel in one process, so every recorded event is keyed by component id and
//! each test uses labels of its own.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use solder_core::{
    AnyArgs, BoxFuture, Component, ComponentError, ComponentOptions, HostInfo, Registry, Stability,
    Typed, TypedComponent,
};
use solder_runtime::{Controller, ControllerOptions, LoggingConfig};
use solder_syntax::{Object, Value};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Everything test components did, in order: `("build"|"run"|"update"|"stop", id, detail)`.
pub fn events() -> &'static Mutex<Vec<(String, String, String)>> {
    static EVENTS: OnceLock<Mutex<Vec<(String, String, String)>>> = OnceLock::new();
    EVENTS.get_or_init(|| Mutex::new(Vec::new()))
}

fn record(kind: &str, id: &str, detail: String) {
    events()
        .lock()
        .unwrap()
        .push((kind.to_string(), id.to_string(), detail));
}

/// Events of one component, as `kind detail` strings.
pub fn events_of(id: &str) -> Vec<String> {
    events()
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, i, _)| i == id)
        .map(|(k, _, d)| {
            if d.is_empty() {
                k.clone()
            } else {
                format!("{k} {d}")
            }
        })
        .collect()
}

/// Ids in the order they were built, restricted to ids containing `part`.
pub fn build_order(part: &str) -> Vec<String> {
    events()
        .lock()
        .unwrap()
        .iter()
        .filter(|(k, i, _)| k == "build" && i.contains(part))
        .map(|(_, i, _)| i.clone())
        .collect()
}

/// Options of every built `test.counter`, so tests can make it publish.
fn counters() -> &'static Mutex<HashMap<String, ComponentOptions>> {
    static C: OnceLock<Mutex<HashMap<String, ComponentOptions>>> = OnceLock::new();
    C.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The options the runtime gave `test.counter.<label>`.
pub fn counter_opts(id: &str) -> ComponentOptions {
    counters()
        .lock()
        .unwrap()
        .get(id)
        .cloned()
        .expect("counter built")
}

/// Make `test.counter.<label>` publish `count = n`.
pub fn set_count(id: &str, n: i64) {
    set_count_value(id, Value::int(n));
}

/// Make `test.counter.<label>` publish `count = v` (any value, to provoke type errors).
pub fn set_count_value(id: &str, v: Value) {
    let opts = counters()
        .lock()
        .unwrap()
        .get(id)
        .cloned()
        .expect("counter built");
    let mut o = Object::new();
    o.insert("count".into(), v);
    opts.publish_exports(Value::Object(o));
}

fn run_until_cancelled(
    id: String,
    token: CancellationToken,
) -> BoxFuture<Result<(), ComponentError>> {
    Box::pin(async move {
        record("run", &id, String::new());
        token.cancelled().await;
        record("stop", &id, String::new());
        Ok(())
    })
}

/// `test.counter "x" { start = 0 }`: exports `count`, changed by [`set_count`].
pub struct Counter {
    id: String,
}

#[derive(serde::Deserialize)]
pub struct CounterArgs {
    #[serde(default)]
    pub start: i64,
}

impl TypedComponent for Counter {
    const NAME: &'static str = "test.counter";
    const EXPORTS: &'static [&'static str] = &["count"];
    type Args = CounterArgs;

    fn build(opts: ComponentOptions, args: CounterArgs) -> Result<Self, ComponentError> {
        record("build", &opts.id, format!("start={}", args.start));
        counters()
            .lock()
            .unwrap()
            .insert(opts.id.clone(), opts.clone());
        let mut o = Object::new();
        o.insert("count".into(), Value::int(args.start));
        opts.publish_exports(Value::Object(o));
        Ok(Counter { id: opts.id })
    }
}

impl Component for Counter {
    fn run(self: Arc<Self>, shutdown: CancellationToken) -> BoxFuture<Result<(), ComponentError>> {
        run_until_cancelled(self.id.clone(), shutdown)
    }

    fn update(&self, args: AnyArgs) -> Result<(), ComponentError> {
        let a = args.downcast::<CounterArgs>()?;
        record("update", &self.id, format!("start={}", a.start));
        Ok(())
    }
}

/// `test.sink "x" { input = <any> }`: records builds and updates, exports `out = input`.
pub struct Sink {
    id: String,
    opts: ComponentOptions,
}

#[derive(serde::Deserialize)]
pub struct SinkArgs {
    #[serde(default)]
    pub input: Value,
    /// When set, `update` refuses the new arguments.
    #[serde(default)]
    pub refuse_updates: bool,
}

fn sink_exports(opts: &ComponentOptions, input: &Value) {
    let mut o = Object::new();
    o.insert("out".into(), input.clone());
    opts.publish_exports(Value::Object(o));
}

impl TypedComponent for Sink {
    const NAME: &'static str = "test.sink";
    const EXPORTS: &'static [&'static str] = &["out"];
    type Args = SinkArgs;

    fn validate(args: &SinkArgs) -> Result<(), String> {
        if args.input == Value::string("invalid") {
            return Err("input must not be \"invalid\"".into());
        }
        Ok(())
    }

    fn build(opts: ComponentOptions, args: SinkArgs) -> Result<Self, ComponentError> {
        record("build", &opts.id, format!("{:?}", args.input));
        sink_exports(&opts, &args.input);
        Ok(Sink {
            id: opts.id.clone(),
            opts,
        })
    }
}

impl Component for Sink {
    fn run(self: Arc<Self>, shutdown: CancellationToken) -> BoxFuture<Result<(), ComponentError>> {
        run_until_cancelled(self.id.clone(), shutdown)
    }

    fn update(&self, args: AnyArgs) -> Result<(), ComponentError> {
        let a = args.downcast::<SinkArgs>()?;
        if a.refuse_updates {
            return Err(ComponentError::Config("refusing update".into()));
        }
        record("update", &self.id, format!("{:?}", a.input));
        sink_exports(&self.opts, &a.input);
        Ok(())
    }
}

/// `test.failing "x" {}`: its run returns an error at once, or `Ok` with `clean = true`.
pub struct Failing {
    clean: bool,
}

#[derive(serde::Deserialize)]
pub struct FailingArgs {
    #[serde(default)]
    pub clean: bool,
}

impl TypedComponent for Failing {
    const NAME: &'static str = "test.failing";
    type Args = FailingArgs;

    fn build(_opts: ComponentOptions, args: FailingArgs) -> Result<Self, ComponentError> {
        Ok(Failing { clean: args.clean })
    }
}

impl Component for Failing {
    fn run(self: Arc<Self>, _shutdown: CancellationToken) -> BoxFuture<Result<(), ComponentError>> {
        let clean = self.clean;
        Box::pin(async move {
            if clean {
                Ok(())
            } else {
                Err(ComponentError::Other("boom".into()))
            }
        })
    }

    fn update(&self, _args: AnyArgs) -> Result<(), ComponentError> {
        Ok(())
    }
}

/// `test.experimental "x" {}`: an experimental component for stability gating.
pub struct Experimental;

#[derive(serde::Deserialize)]
pub struct NoArgs {}

impl TypedComponent for Experimental {
    const NAME: &'static str = "test.experimental";
    const STABILITY: Stability = Stability::Experimental;
    type Args = NoArgs;

    fn build(_opts: ComponentOptions, _args: NoArgs) -> Result<Self, ComponentError> {
        Ok(Experimental)
    }
}

impl Component for Experimental {
    fn run(self: Arc<Self>, shutdown: CancellationToken) -> BoxFuture<Result<(), ComponentError>> {
        Box::pin(async move {
            shutdown.cancelled().await;
            Ok(())
        })
    }

    fn update(&self, _args: AnyArgs) -> Result<(), ComponentError> {
        Ok(())
    }
}

pub fn registry() -> Registry {
    let mut reg = Registry::new();
    solder_runtime::register_builtins(&mut reg);
    reg.register(Typed::<Counter>::new());
    reg.register(Typed::<Sink>::new());
    reg.register(Typed::<Failing>::new());
    reg.register(Typed::<Experimental>::new());
    reg
}

pub struct Harness {
    pub ctrl: Arc<Controller>,
    pub self_registry: prometheus::Registry,
    pub logging: Arc<Mutex<Vec<LoggingConfig>>>,
    pub dir: tempfile::TempDir,
}

impl Harness {
    /// A controller whose config path is `<tempdir>/config.alloy` (or the directory itself
    /// when `as_dir`), stability at `min`.
    pub fn new_with(min: Stability, as_dir: bool) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let self_registry = prometheus::Registry::new();
        let logging = Arc::new(Mutex::new(Vec::new()));
        let sink = logging.clone();
        let config_path = if as_dir {
            dir.path().to_path_buf()
        } else {
            dir.path().join("config.alloy")
        };
        let ctrl = Controller::new(ControllerOptions {
            config_path,
            storage_path: dir.path().join("data"),
            min_stability: min,
            host: Arc::new(HostInfo {
                http_listen_addr: "127.0.0.1:12345".into(),
                http_memory_addr: "alloy.internal:12345".into(),
                hostname: "node-1".into(),
                self_registry: self_registry.clone(),
            }),
            registry: registry(),
            self_registry: self_registry.clone(),
            on_logging: Arc::new(move |c| sink.lock().unwrap().push(c)),
        });
        Harness {
            ctrl,
            self_registry,
            logging,
            dir,
        }
    }

    pub fn new() -> Harness {
        Self::new_with(Stability::GenerallyAvailable, false)
    }

    pub fn write(&self, text: &str) {
        std::fs::write(self.dir.path().join("config.alloy"), text).unwrap();
    }

    pub fn write_file(&self, name: &str, text: &str) {
        std::fs::write(self.dir.path().join(name), text).unwrap();
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Wait until every component in `ids` has started running (run tasks start asynchronously).
pub async fn wait_running(ids: &[&str]) {
    for id in ids {
        let started = eventually(5, || events_of(id).iter().any(|e| e == "run")).await;
        assert!(started, "{id} never ran: {:?}", events_of(id));
    }
}

/// Poll `cond` until it holds or `secs` pass.
pub async fn eventually(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cond()
}

/// Render a metric family set as text and return lines starting with `name`.
pub fn metric_lines(reg: &prometheus::Registry, name: &str) -> Vec<String> {
    solder_runtime::encode_text(&reg.gather())
        .lines()
        .filter(|l| l.starts_with(name))
        .map(str::to_string)
        .collect()
}
