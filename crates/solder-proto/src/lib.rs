//! Protobuf message types for the two push protocols Solder speaks:
//! Prometheus remote-write 1.0 ([`prometheus`]) and Loki push ([`loki`]).
//!
//! # Where the code comes from
//!
//! The `.proto` definitions live in `proto/` at the repository root. They are
//! compiled by `protox` (a protobuf compiler written in Rust) and turned into
//! Rust by `prost-build`; the result is committed under `src/generated/`.
//! Nothing is generated at build time, so users need neither `protoc` nor a
//! build script, and the compiler crates are only dev-dependencies.
//!
//! The generator is the test `tests/generated_up_to_date.rs`: it regenerates
//! into a scratch directory and fails if the committed files differ. After
//! editing a `.proto` file, refresh them with
//!
//! ```text
//! SOLDER_REGENERATE_PROTO=1 cargo test -p solder-proto --test generated_up_to_date
//! ```
//!
//! # Wire compatibility
//!
//! Message names, field numbers and scalar types match the upstream
//! definitions, so encoded bytes are interchangeable with Prometheus / Loki.
//! Compression (snappy block format for both protocols) is the caller's job.
//!
//! The generator passes its output through `rustfmt`, so the committed files
//! are already formatted. They are `include!`d into the modules below so that
//! lint settings for generated code live here, not in the generated files:
//! their style is prost-build's, not ours.

pub use prost;
pub use prost_types;

/// Prometheus remote-write 1.0 (`prometheus` protobuf package).
///
/// The body of a push is a [`prometheus::WriteRequest`], snappy-compressed.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod prometheus {
    include!("generated/prometheus.rs");
}

/// Loki push API (`logproto` protobuf package).
///
/// The body of a push is a [`loki::PushRequest`], snappy-compressed.
/// Entry timestamps are [`prost_types::Timestamp`].
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod loki {
    include!("generated/logproto.rs");
}
