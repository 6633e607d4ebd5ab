//! Prometheus components: `prometheus.relabel`, and the building blocks of `prometheus.scrape`
//! (exposition parser, target semantics) and `prometheus.remote_write` (request encoding, HTTP
//! client). Module paths mirror config names (`prometheus.relabel` → `relabel.rs`).
pub mod exposition;
pub mod http_client;
pub mod relabel;
pub mod remote_write;
pub mod scrape;

/// Register every `prometheus.*` component this crate implements.
pub fn register(reg: &mut solder_core::Registry) {
    reg.register(solder_core::Typed::<relabel::PrometheusRelabel>::new());
    scrape::register(reg);
    remote_write::register(reg);
}
