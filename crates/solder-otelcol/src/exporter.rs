//! `otelcol.exporter.*`: components that send data out of the agent or bridge it to another
//! signal family.

mod compress;
pub mod debug;
pub mod loki;
pub mod otlp;
pub mod otlphttp;
pub mod prometheus;
pub mod sending;
