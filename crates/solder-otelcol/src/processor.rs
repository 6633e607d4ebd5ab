//! `otelcol.processor.*`: components that sit between a receiver and an exporter.

pub mod attributes;
pub mod batch;
pub mod common;
pub mod memory_limiter;
pub mod probabilistic_sampler;
