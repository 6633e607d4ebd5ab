//! `prometheus.remote_write` (remote-write 1.0). [`encode`] turns a batch into a
//! snappy-compressed `prometheus.WriteRequest`, [`client`] sends it and classifies the outcome;
//! [`component`] is the component: a durable queue per endpoint ([`record`] is its record
//! format) drained by a sharded sender with retries ([`shards`] decides how many shards).
//! Metadata is not queued: the latest per metric family is sent every
//! `metadata_config.send_interval`, in requests of its own.

pub mod args;
pub mod client;
mod component;
pub mod encode;
mod fast_hash;
mod metrics;
#[cfg(test)]
mod perf_driver;
pub mod record;
mod request;
mod run;
mod sender;
pub mod shards;
mod wire;

pub use args::{Args, Endpoint, DEFAULT_WAL_MAX_BYTES};
pub use client::{
    parse_retry_after, Backoff, ClientBuildError, ClientOptions, RemoteWriteClient, SendError,
    REMOTE_WRITE_VERSION,
};
pub use component::PrometheusRemoteWrite;
pub use encode::{build_write_request, encode_snappy, EncodeError, SnappyEncoder};
pub use wire::WireError;

/// Registers `prometheus.remote_write`.
pub fn register(reg: &mut solder_core::Registry) {
    reg.register(solder_core::Typed::<PrometheusRemoteWrite>::new());
}

/// Helpers the module's unit tests share.
#[cfg(test)]
pub(crate) mod testing {
    use solder_core::signals::metrics::{Labels, Sample};
    use solder_proto::prometheus as pb;

    pub fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::new(
            pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        )
    }

    pub fn sample(l: &[(&str, &str)], ts: i64, v: f64) -> Sample {
        Sample {
            labels: labels(l),
            timestamp_ms: ts,
            value: v,
        }
    }

    /// A decoded series' labels as pairs.
    pub fn names(ts: &pb::TimeSeries) -> Vec<(&str, &str)> {
        ts.labels
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str()))
            .collect()
    }
}
