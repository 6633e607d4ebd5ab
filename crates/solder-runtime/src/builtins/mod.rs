//! Components that live in the runtime crate because they need nothing but the runtime:
//! module paths mirror config names (`local.file` → `local/file.rs`).

pub mod discovery;
pub mod local;
pub mod prometheus;

use solder_core::{Registry, Typed};

/// Register `local.file`, `discovery.relabel` and `prometheus.exporter.self`.
pub fn register_builtins(reg: &mut Registry) {
    reg.register(Typed::<local::file::LocalFile>::new());
    reg.register(Typed::<discovery::relabel::DiscoveryRelabel>::new());
    reg.register(Typed::<prometheus::exporter::self_::SelfExporter>::new());
}
