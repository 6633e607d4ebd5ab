//! The component contract: how the runtime validates, builds, runs and updates a component.
//!
//! Three phases (DESIGN.md §3):
//! 1. **validate** — pure: [`ComponentBuilder::decode`] turns the evaluated block into typed
//!    arguments and checks them. `solder check` stops here.
//! 2. **build** — [`ComponentBuilder::build`] may bind ports and open files, and should publish
//!    its initial exports through [`ComponentOptions::publish_exports`] so dependants can be
//!    evaluated; it never spawns tasks.
//! 3. **run** — [`Component::run`] owns the component's tasks until the token is cancelled;
//!    [`Component::update`] applies re-evaluated arguments in place while it runs.

use crate::health::HealthReporter;
use crate::http::ComponentHttp;
use solder_syntax::eval::BodyValue;
use solder_syntax::{Diagnostic, Diagnostics, Value};
use std::any::Any;
use std::future::Future;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Feature-gate levels, ordered from least to most stable (`--stability.level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stability {
    Experimental,
    PublicPreview,
    GenerallyAvailable,
}

impl Stability {
    pub fn as_str(self) -> &'static str {
        match self {
            Stability::Experimental => "experimental",
            Stability::PublicPreview => "public-preview",
            Stability::GenerallyAvailable => "generally-available",
        }
    }

    pub fn parse(s: &str) -> Option<Stability> {
        match s {
            "experimental" => Some(Stability::Experimental),
            "public-preview" => Some(Stability::PublicPreview),
            "generally-available" => Some(Stability::GenerallyAvailable),
            _ => None,
        }
    }
}

/// Errors a component returns from build, run or update.
#[derive(Debug, thiserror::Error)]
pub enum ComponentError {
    /// Arguments that decoded but cannot be applied (e.g. a second exclusive option).
    #[error("{0}")]
    Config(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

impl ComponentError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        ComponentError::Io {
            context: context.into(),
            source,
        }
    }
}

/// Type-erased decoded arguments, passed from decode to build/update.
pub struct AnyArgs(Box<dyn Any + Send>);

impl AnyArgs {
    pub fn new<T: Any + Send>(args: T) -> Self {
        AnyArgs(Box::new(args))
    }

    /// Recover the concrete arguments; fails only if the runtime mixed up component types.
    pub fn downcast<T: Any>(self) -> Result<T, ComponentError> {
        self.0.downcast::<T>().map(|b| *b).map_err(|_| {
            ComponentError::Other(format!(
                "internal error: arguments are not {}",
                std::any::type_name::<T>()
            ))
        })
    }
}

/// Where the runtime receives a component's new exports.
pub trait ExportSink: Send + Sync {
    fn publish(&self, exports: Value);
}

/// Host-level facts and shared services a component may need.
#[derive(Clone)]
pub struct HostInfo {
    /// `--server.http.listen-addr`, e.g. `127.0.0.1:12345`.
    pub http_listen_addr: String,
    /// `--server.http.memory-addr`: in-process scrapes of the agent itself use this address.
    pub http_memory_addr: String,
    pub hostname: String,
    /// The agent's own self-metrics registry (what `/metrics` serves).
    pub self_registry: prometheus::Registry,
}

/// Everything the runtime injects into one component instance.
#[derive(Clone)]
pub struct ComponentOptions {
    /// `prometheus.scrape.default`
    pub id: String,
    /// Private data directory `<storage.path>/<id>`; created on first use by the component.
    pub data_dir: PathBuf,
    /// Registry whose metrics carry `component_id` and `component_path`; served on `/metrics`.
    pub registry: prometheus::Registry,
    pub health: HealthReporter,
    pub host: Arc<HostInfo>,
    pub exports: Arc<dyn ExportSink>,
}

impl ComponentOptions {
    /// Publish new exports; every dependant is re-evaluated if they changed.
    pub fn publish_exports(&self, exports: Value) {
        self.exports.publish(exports);
    }
}

/// A running component instance.
pub trait Component: Send + Sync + 'static {
    /// Run until `shutdown` is cancelled; drain within the runtime's deadline.
    fn run(self: Arc<Self>, shutdown: CancellationToken) -> BoxFuture<Result<(), ComponentError>>;

    /// Apply re-evaluated arguments (decoded by the same builder) while running.
    fn update(&self, args: AnyArgs) -> Result<(), ComponentError>;

    /// Handler for `/api/v0/component/<id>/…`, if the component serves HTTP.
    fn http_handler(&self) -> Option<Arc<dyn ComponentHttp>> {
        None
    }

    /// Extra state for the component API (`debug_info`), never containing secrets.
    fn debug_info(&self) -> Option<serde_json::Value> {
        None
    }
}

/// A registered component type, as the runtime sees it.
pub trait ComponentBuilder: Send + Sync {
    /// `prometheus.scrape`
    fn name(&self) -> &'static str;
    fn stability(&self) -> Stability;
    /// Names of the exports this component publishes; references to others are config errors.
    fn exports(&self) -> &'static [&'static str];
    /// Validate phase: decode and check arguments. `span` is the block's name span.
    fn decode(&self, body: &BodyValue) -> Result<AnyArgs, Diagnostics>;
    fn build(
        &self,
        opts: ComponentOptions,
        args: AnyArgs,
    ) -> Result<Arc<dyn Component>, ComponentError>;
}

/// The typed side of a component: implement this and register `Typed::<C>::new()`.
pub trait TypedComponent: Component + Sized {
    const NAME: &'static str;
    const STABILITY: Stability = Stability::GenerallyAvailable;
    const EXPORTS: &'static [&'static str] = &[];
    type Args: serde::de::DeserializeOwned + Send + 'static;

    /// Semantic checks beyond decoding (exclusive options, ranges), Alloy's `Validate()`.
    fn validate(_args: &Self::Args) -> Result<(), String> {
        Ok(())
    }

    fn build(opts: ComponentOptions, args: Self::Args) -> Result<Self, ComponentError>;
}

/// Adapter from a [`TypedComponent`] to the object-safe [`ComponentBuilder`].
pub struct Typed<C>(PhantomData<fn() -> C>);

impl<C> Typed<C> {
    pub fn new() -> Self {
        Typed(PhantomData)
    }
}

impl<C> Default for Typed<C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: TypedComponent> ComponentBuilder for Typed<C> {
    fn name(&self) -> &'static str {
        C::NAME
    }

    fn stability(&self) -> Stability {
        C::STABILITY
    }

    fn exports(&self) -> &'static [&'static str] {
        C::EXPORTS
    }

    fn decode(&self, body: &BodyValue) -> Result<AnyArgs, Diagnostics> {
        let args: C::Args = solder_syntax::decode::decode(body)?;
        C::validate(&args).map_err(|msg| Diagnostics::from(Diagnostic::error(body.span, msg)))?;
        Ok(AnyArgs::new(args))
    }

    fn build(
        &self,
        opts: ComponentOptions,
        args: AnyArgs,
    ) -> Result<Arc<dyn Component>, ComponentError> {
        let args = args.downcast::<C::Args>()?;
        Ok(Arc::new(C::build(opts, args)?))
    }
}

/// The set of component types a binary knows; the `solder` crate lists them explicitly.
#[derive(Default, Clone)]
pub struct Registry {
    builders: std::collections::BTreeMap<&'static str, Arc<dyn ComponentBuilder>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register(&mut self, builder: impl ComponentBuilder + 'static) -> &mut Self {
        self.builders.insert(builder.name(), Arc::new(builder));
        self
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn ComponentBuilder>> {
        self.builders.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.builders.keys().copied()
    }
}
