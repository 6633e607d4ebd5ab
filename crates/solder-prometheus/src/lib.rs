//! Prometheus components: `prometheus.relabel`, and the building blocks of `prometheus.scrape`
//! (exposition parser, target semantics) and `prometheus.remote_write` (request encoding, HTTP
//! client). Module paths mirror config names (`prometheus.relabel` → `relabel.rs`).
pub mod exposition;
pub mod relabel;
pub mod remote_write;
pub mod scrape;
