//! The runtime: loads a config, builds and runs the component graph, re-evaluates dependants
//! when exports change, reloads on request, tracks health, and serves the admin HTTP API.

pub mod api;
pub mod builtins;
pub mod controller;
pub mod error;
pub mod http;
pub mod loader;
pub mod metrics;

pub use builtins::register_builtins;
pub use controller::{check, Controller, ControllerOptions, LoggingConfig};
pub use error::LoadError;
pub use metrics::{encode_text, gather_all};
