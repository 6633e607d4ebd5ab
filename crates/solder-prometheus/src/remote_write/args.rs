//! Arguments of `prometheus.remote_write`, with Alloy's names and defaults
//! (`internal/component/prometheus/remotewrite/types.go`).

use solder_core::relabel::Rule;
use solder_syntax::types::{ByteSize, GoDuration};
use std::collections::BTreeMap;
use std::time::Duration;

/// The remote-write 1.0 message, the only one Solder speaks.
pub const PROTOBUF_MESSAGE_V1: &str = "prometheus.WriteRequest";
/// Remote-write 2.0, which Alloy also accepts.
pub const PROTOBUF_MESSAGE_V2: &str = "io.prometheus.write.v2.Request";

/// Default bound of each endpoint's durable queue (Solder's WAL): 512 MiB of unacknowledged
/// data. At ~20 bytes per sample on disk that is tens of millions of samples, hours of a
/// typical agent's output, while staying far below a node's disk.
pub const DEFAULT_WAL_MAX_BYTES: u64 = 512 << 20;

/// Headers Prometheus does not let a remote-write endpoint's `headers` set (lower-case).
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-encoding",
    "content-length",
    "content-type",
    "user-agent",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "www-authenticate",
    "accept-encoding",
    "x-prometheus-remote-write-version",
    "x-prometheus-remote-read-version",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
];

fn default_remote_timeout() -> GoDuration {
    GoDuration::from_secs(30)
}
fn default_true() -> bool {
    true
}
fn default_protobuf_message() -> String {
    PROTOBUF_MESSAGE_V1.to_owned()
}

/// Top-level arguments.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Args {
    #[serde(default)]
    pub external_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub endpoint: Vec<Endpoint>,
    #[serde(default)]
    pub wal: WalOptions,
}

crate::http_client_fields! {
    @enable_http2_default_false
    /// One `endpoint` block. The HTTP client fields are squashed in, as in Alloy, except that
    /// `enable_http2` defaults to false here (Alloy changed it with Prometheus 3.4.2).
    #[derive(Debug, Clone, serde::Deserialize)]
    pub struct Endpoint {
        pub url: String,
        #[serde(default)]
        pub name: String,
        #[serde(default = "default_remote_timeout")]
        pub remote_timeout: GoDuration,
        #[serde(default)]
        pub headers: BTreeMap<String, String>,
        #[serde(default = "default_true")]
        pub send_exemplars: bool,
        #[serde(default)]
        pub send_native_histograms: bool,
        #[serde(default = "default_protobuf_message")]
        pub protobuf_message: String,
        #[serde(default)]
        pub round_robin_dns: bool,
        #[serde(default)]
        pub queue_config: QueueConfig,
        #[serde(default)]
        pub metadata_config: MetadataConfig,
        #[serde(default)]
        pub write_relabel_config: Vec<Rule>,
        #[serde(default)]
        pub sigv4: Option<UnsupportedBlock>,
        #[serde(default)]
        pub azuread: Option<UnsupportedBlock>,
        #[serde(default)]
        pub google_iam: Option<UnsupportedBlock>,
    }
}

/// A block Alloy accepts but Solder does not implement: decoded (whatever it contains) only so
/// that `validate` can say so by name instead of "unknown block".
#[derive(Debug, Clone, Copy)]
pub struct UnsupportedBlock;

impl<'de> serde::Deserialize<'de> for UnsupportedBlock {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d).map(|_| UnsupportedBlock)
    }
}

/// `queue_config` block.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(default)]
pub struct QueueConfig {
    pub capacity: i64,
    pub max_shards: i64,
    pub min_shards: i64,
    pub max_samples_per_send: i64,
    pub batch_send_deadline: GoDuration,
    pub min_backoff: GoDuration,
    pub max_backoff: GoDuration,
    pub retry_on_http_429: bool,
    pub sample_age_limit: GoDuration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            capacity: 10_000,
            max_shards: 50,
            min_shards: 1,
            max_samples_per_send: 2000,
            batch_send_deadline: GoDuration::from_secs(5),
            min_backoff: GoDuration::from_millis(30),
            max_backoff: GoDuration::from_secs(5),
            retry_on_http_429: true,
            sample_age_limit: GoDuration(Duration::ZERO),
        }
    }
}

/// `metadata_config` block.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(default)]
pub struct MetadataConfig {
    pub send: bool,
    pub send_interval: GoDuration,
    pub max_samples_per_send: i64,
}

impl Default for MetadataConfig {
    fn default() -> Self {
        MetadataConfig {
            send: true,
            send_interval: GoDuration::from_secs(60),
            max_samples_per_send: 2000,
        }
    }
}

/// `wal` block. Alloy's three settings tune its Prometheus-style WAL's truncation; Solder's
/// WAL is a queue that deletes segments as soon as every endpoint acknowledged them, so they
/// are validated and accepted but have nothing to tune. `max_bytes` is a Solder extension: the
/// bound of each endpoint's queue ([`DEFAULT_WAL_MAX_BYTES`]).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(default)]
pub struct WalOptions {
    pub truncate_frequency: GoDuration,
    pub min_keepalive_time: GoDuration,
    pub max_keepalive_time: GoDuration,
    pub max_bytes: ByteSize,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            truncate_frequency: GoDuration::from_secs(2 * 3600),
            min_keepalive_time: GoDuration::from_secs(5 * 60),
            max_keepalive_time: GoDuration::from_secs(8 * 3600),
            max_bytes: ByteSize(DEFAULT_WAL_MAX_BYTES),
        }
    }
}

impl Args {
    /// Alloy's checks (WAL options, each endpoint), then Solder's limits.
    pub fn validate(&self) -> Result<(), String> {
        let wal = &self.wal;
        if wal.truncate_frequency.0.is_zero() {
            return Err("truncate_frequency must not be 0".into());
        }
        if wal.max_keepalive_time.0 <= wal.min_keepalive_time.0 {
            return Err("min_keepalive_time must be smaller than max_keepalive_time".into());
        }
        if wal.max_bytes.0 < 1 << 20 {
            return Err("wal max_bytes must be at least 1MiB".into());
        }
        let mut names = std::collections::BTreeSet::new();
        for ep in &self.endpoint {
            ep.validate()?;
            if !names.insert(ep.remote_name()) {
                return Err(if ep.name.is_empty() {
                    format!(
                        "found multiple remote write configs with the same url {:?}; give them distinct names",
                        ep.url
                    )
                } else {
                    format!(
                        "found multiple remote write configs with job name {:?}",
                        ep.name
                    )
                });
            }
        }
        Ok(())
    }
}

impl Endpoint {
    /// The `remote_name` label and the queue's directory name: `name`, or a short stable hash
    /// of the URL (Prometheus hashes the endpoint config; a URL hash keeps the queue across
    /// unrelated config edits).
    pub fn remote_name(&self) -> String {
        if !self.name.is_empty() {
            return self.name.clone();
        }
        // FNV-1a: stable across releases and platforms, unlike std's hasher.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self.url.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{:06x}", h & 0xff_ffff)
    }

    pub fn validate(&self) -> Result<(), String> {
        for (name, set) in [
            ("sigv4", self.sigv4.is_some()),
            ("azuread", self.azuread.is_some()),
            ("google_iam", self.google_iam.is_some()),
        ] {
            if set {
                return Err(format!(
                    "endpoint {name} authentication is not supported by Solder yet"
                ));
            }
        }
        self.http_client_config().validate()?;
        for rule in &self.write_relabel_config {
            rule.validate().map_err(|e| e.to_string())?;
        }
        match self.protobuf_message.as_str() {
            PROTOBUF_MESSAGE_V1 => {}
            PROTOBUF_MESSAGE_V2 => {
                return Err(format!(
                    "protobuf_message {PROTOBUF_MESSAGE_V2:?} (remote write 2.0) is not supported by Solder yet"
                ))
            }
            other => {
                return Err(format!(
                    "invalid protobuf_message {other:?} for endpoint {:?}: unknown remote write protobuf message type",
                    self.name
                ))
            }
        }
        if self.round_robin_dns {
            return Err("round_robin_dns is not supported by Solder yet".into());
        }
        let url = reqwest::Url::parse(&self.url)
            .map_err(|e| format!("cannot parse remote_write url {:?}: {e}", self.url))?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(format!(
                "remote_write url {:?} must use http or https",
                self.url
            ));
        }
        if self.remote_name().contains(['/', '\\']) || self.remote_name().starts_with('.') {
            return Err(format!(
                "endpoint name {:?} must not contain '/' or start with '.'",
                self.name
            ));
        }
        for (name, value) in &self.headers {
            let lower = name.to_ascii_lowercase();
            if lower == "authorization" {
                return Err("authorization header must be changed via the basic_auth, authorization, oauth2, sigv4, azuread or google_iam parameter".into());
            }
            if RESERVED_HEADERS.contains(&lower.as_str()) {
                return Err(format!(
                    "{name} is a reserved header. It must not be changed"
                ));
            }
            reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("invalid header name {name:?}"))?;
            reqwest::header::HeaderValue::from_str(value)
                .map_err(|_| format!("invalid value for header {name:?}"))?;
        }
        let q = &self.queue_config;
        if q.capacity <= 0 {
            return Err("queue_config capacity must be greater than 0".into());
        }
        if q.min_shards < 1 || q.max_shards < q.min_shards {
            return Err("queue_config needs 1 <= min_shards <= max_shards".into());
        }
        if q.max_samples_per_send <= 0 {
            return Err("queue_config max_samples_per_send must be greater than 0".into());
        }
        if q.min_backoff.0 > q.max_backoff.0 {
            return Err("queue_config min_backoff must not exceed max_backoff".into());
        }
        if self.metadata_config.send && self.metadata_config.send_interval.0.is_zero() {
            return Err("metadata_config send_interval must be greater than 0".into());
        }
        if self.metadata_config.max_samples_per_send <= 0 {
            return Err("metadata_config max_samples_per_send must be greater than 0".into());
        }
        Ok(())
    }
}
