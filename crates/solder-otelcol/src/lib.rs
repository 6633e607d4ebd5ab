//! OpenTelemetry Collector components (`otelcol.*`). Module paths mirror config names:
//! `otelcol.exporter.otlp` lives in `exporter/otlp.rs`.
//!
//! Data between these components is `solder_core::signals::otlp::OtlpPayload`: the encoded
//! `Export*ServiceRequest` bytes as received, decoded only where a component must look inside.

pub mod auth;
pub mod component_util;
pub mod exporter;
pub mod otlp_json;
pub mod output;
pub mod processor;
pub mod receiver;
pub mod tls;
pub mod wire;

use solder_core::Registry;

/// Register every `otelcol.*` component this crate implements.
pub fn register(reg: &mut Registry) {
    receiver::otlp::register(reg);
    receiver::prometheus::register(reg);
    processor::batch::register(reg);
    processor::memory_limiter::register(reg);
    processor::attributes::register(reg);
    processor::probabilistic_sampler::register(reg);
    exporter::otlp::register(reg);
    exporter::otlphttp::register(reg);
    exporter::debug::register(reg);
    exporter::prometheus::register(reg);
    exporter::loki::register(reg);
    auth::basic::register(reg);
    auth::bearer::register(reg);
}
