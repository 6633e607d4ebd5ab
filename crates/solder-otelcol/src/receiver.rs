//! `otelcol.receiver.*`: components that accept data from outside the agent.

pub mod otlp;
pub mod prometheus;
