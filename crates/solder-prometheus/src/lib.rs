//! Prometheus components: `prometheus.relabel`, and the exposition-format parser the scrape
//! loop will use. Module paths mirror config names (`prometheus.relabel` → `relabel.rs`).
pub mod exposition;
pub mod relabel;
