//! Shared helpers for the benchmarks (criterion benches live in `benches/benches/`).
