//! The component contract every component compiles against: the component trait and its
//! options, health, component HTTP handlers, the signal handles and `ConsumeError`, the relabel
//! engine, the durable queue and the shared TLS verifier. No HTTP server, tonic or kube here (ARCHITECTURE.md invariants).

pub mod component;
pub mod consume;
pub mod health;
pub mod hint;
pub mod http;
pub mod memory;
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

/// An error followed by its sources, `: `-joined, the way Go prints wrapped errors. HTTP
/// clients' top-level messages ("error sending request") hide the cause: a refused connection,
/// DNS, TLS or a timeout.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}
