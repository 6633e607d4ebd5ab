//! The component contract every component compiles against: the component trait and its
//! options, health, component HTTP handlers, the signal handles and `ConsumeError`, the relabel
//! engine, the durable queue and the shared TLS verifier. No HTTP server, tonic or kube here (ARCHITECTURE.md invariants).

pub mod component;
pub mod consume;
pub mod health;
pub mod http;
pub mod queue;
pub mod relabel;
pub mod signals;
pub mod tls;
// Helpers shared by the tests of several crates (e.g. a deterministic RNG); not part of the
// component contract, hence hidden from the docs.
#[doc(hidden)]
pub mod testing;

pub use component::{
    AnyArgs, BoxFuture, Component, ComponentBuilder, ComponentError, ComponentOptions, ExportSink,
    HostInfo, Registry, Stability, Typed, TypedComponent,
};
pub use consume::ConsumeError;
pub use health::{Health, HealthKind, HealthReporter};
