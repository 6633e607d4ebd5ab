//! Building blocks of `prometheus.remote_write` (remote-write 1.0): [`encode`] turns a batch into
//! a snappy-compressed `prometheus.WriteRequest`, [`client`] sends it and classifies the outcome
//! (retry with backoff, or drop). The component (WAL, queue, shards) is built on top of these.

pub mod client;
pub mod encode;

pub use client::{
    parse_retry_after, Backoff, ClientBuildError, ClientOptions, RemoteWriteClient, SendError,
    REMOTE_WRITE_VERSION,
};
pub use encode::{build_write_request, encode_snappy, EncodeError, SnappyEncoder};

/// Registers `prometheus.remote_write` (not yet: the component is being built; until then configs using it fail
/// `check` by name).
pub fn register(_reg: &mut solder_core::Registry) {}
