//! Prometheus components. For now: the exposition-format parser the scrape loop will use.
pub mod exposition;
