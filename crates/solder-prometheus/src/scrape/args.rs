//! The arguments of `prometheus.scrape`, with Alloy's names, defaults and validation messages
//! (`internal/component/prometheus/scrape/scrape.go`), plus the settings Solder refuses because
//! it cannot honour them (protobuf scraping, native histograms, clustering, experimental flags).

use super::fetch::{protocol_media_type, PROTOBUF_PROTOCOL};
use solder_core::signals::metrics::MetricsForwardTo;
use solder_syntax::types::{ByteSize, GoDuration};
use std::collections::BTreeMap;
use std::time::Duration;

/// Prometheus's default protocol preference (`config.DefaultScrapeProtocols`).
pub const DEFAULT_SCRAPE_PROTOCOLS: [&str; 4] = [
    "OpenMetricsText1.0.0",
    "OpenMetricsText0.0.1",
    "PrometheusText1.0.0",
    "PrometheusText0.0.4",
];

/// Every protocol name Prometheus knows, sorted (as its error message lists them).
const KNOWN_PROTOCOLS_SORTED: [&str; 5] = [
    "OpenMetricsText0.0.1",
    "OpenMetricsText1.0.0",
    "PrometheusProto",
    "PrometheusText0.0.4",
    "PrometheusText1.0.0",
];

const ESCAPING_SCHEMES: [&str; 4] = ["allow-utf-8", "underscores", "dots", "values"];

fn default_true() -> bool {
    true
}
fn default_interval() -> GoDuration {
    GoDuration::from_secs(60)
}
fn default_timeout() -> GoDuration {
    GoDuration::from_secs(10)
}
fn default_metrics_path() -> String {
    "/metrics".to_string()
}
fn default_scheme() -> String {
    "http".to_string()
}
fn default_protocols() -> Vec<String> {
    DEFAULT_SCRAPE_PROTOCOLS
        .iter()
        .map(|s| s.to_string())
        .collect()
}
fn default_fallback() -> String {
    "PrometheusText0.0.4".to_string()
}
fn default_validation_scheme() -> String {
    "legacy".to_string()
}

/// `clustering` block.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Clustering {
    pub enabled: bool,
}

crate::http_client_fields! {
    /// The component's arguments, as written in config.
    #[derive(Clone, serde::Deserialize)]
    pub struct Args {
        pub targets: Vec<BTreeMap<String, String>>,
        pub forward_to: MetricsForwardTo,
        #[serde(default)]
        pub job_name: String,
        #[serde(default)]
        pub honor_labels: bool,
        #[serde(default = "default_true")]
        pub honor_timestamps: bool,
        #[serde(default)]
        pub track_timestamps_staleness: bool,
        #[serde(default)]
        pub params: BTreeMap<String, Vec<String>>,
        #[serde(default)]
        pub scrape_classic_histograms: bool,
        #[serde(default)]
        pub scrape_native_histograms: bool,
        #[serde(default)]
        pub scrape_failure_log_file: String,
        #[serde(default = "default_interval")]
        pub scrape_interval: GoDuration,
        #[serde(default = "default_timeout")]
        pub scrape_timeout: GoDuration,
        #[serde(default = "default_protocols")]
        pub scrape_protocols: Vec<String>,
        #[serde(default = "default_metrics_path")]
        pub metrics_path: String,
        #[serde(default = "default_scheme")]
        pub scheme: String,
        #[serde(default)]
        pub body_size_limit: ByteSize,
        #[serde(default)]
        pub sample_limit: u64,
        #[serde(default)]
        pub target_limit: u64,
        #[serde(default)]
        pub label_limit: u64,
        #[serde(default)]
        pub label_name_length_limit: u64,
        #[serde(default)]
        pub label_value_length_limit: u64,
        #[serde(default)]
        pub extra_metrics: bool,
        #[serde(default)]
        pub enable_protobuf_negotiation: bool,
        #[serde(default = "default_validation_scheme")]
        pub metric_name_validation_scheme: String,
        #[serde(default)]
        pub metric_name_escaping_scheme: String,
        #[serde(default = "default_fallback")]
        pub scrape_fallback_protocol: String,
        #[serde(default)]
        pub convert_classic_histograms_to_nhcb: bool,
        #[serde(default = "default_true")]
        pub enable_compression: bool,
        #[serde(default)]
        pub native_histogram_bucket_limit: u64,
        #[serde(default)]
        pub native_histogram_min_bucket_factor: f64,
        #[serde(default)]
        pub honor_metadata: bool,
        #[serde(default)]
        pub enable_type_and_unit_labels: bool,
        #[serde(default)]
        pub start_timestamp_zero_ingestion: bool,
        #[serde(default)]
        pub clustering: Option<Clustering>,
    }
}

fn not_supported(what: &str) -> String {
    format!("{what} is not supported by Solder yet")
}

fn validate_protocol(p: &str) -> Result<(), String> {
    if KNOWN_PROTOCOLS_SORTED.contains(&p) {
        return Ok(());
    }
    Err(format!(
        "unknown scrape protocol {p}, supported: [{}]",
        KNOWN_PROTOCOLS_SORTED.join(" ")
    ))
}

impl Args {
    /// Alloy's `Arguments.Validate` (same order, same messages), then Solder's refusals.
    pub fn validate(&self) -> Result<(), String> {
        if self.scrape_timeout > self.scrape_interval {
            return Err(format!(
                "scrape_timeout ({}) greater than scrape_interval ({}) for scrape config with job name {:?}",
                self.scrape_timeout, self.scrape_interval, self.job_name
            ));
        }
        let default_protocols = self.scrape_protocols == default_protocols();
        if self.enable_protobuf_negotiation {
            if !default_protocols {
                return Err("both enable_protobuf_negotiation and scrape_protocols are set, only one can be set at a time".to_string());
            }
            return Err(not_supported(
                "enable_protobuf_negotiation (protobuf scraping)",
            ));
        }
        if self.scrape_native_histograms {
            if !default_protocols && !self.scrape_protocols.iter().any(|p| p == PROTOBUF_PROTOCOL) {
                return Err("scrape_native_histograms is set to true, but PrometheusProto is not in scrape_protocols".to_string());
            }
            return Err(not_supported("scrape_native_histograms"));
        }
        let mut seen: Vec<&str> = Vec::new();
        for p in &self.scrape_protocols {
            if seen.contains(&p.as_str()) {
                return Err(format!(
                    "duplicate scrape protocol {p:?}: make sure the scrape protocols provided are unique"
                ));
            }
            validate_protocol(p).map_err(|e| format!("invalid scrape protocol {p:?}: {e}"))?;
            seen.push(p);
        }
        if !self.scrape_fallback_protocol.is_empty() {
            validate_protocol(&self.scrape_fallback_protocol).map_err(|e| {
                format!(
                    "invalid scrape_fallback_protocol {:?}: {e}",
                    self.scrape_fallback_protocol
                )
            })?;
        }
        match self.metric_name_validation_scheme.as_str() {
            "utf8" | "legacy" => {}
            other => {
                return Err(format!(
                    "invalid metric_name_validation_scheme {other:?}: must be either \"utf8\" or \"legacy\""
                ))
            }
        }
        let escaping = self.escaping_scheme();
        if !ESCAPING_SCHEMES.contains(&escaping) {
            return Err(format!(
                "invalid metric_name_escaping_scheme: {escaping:?}, supported values: [{}]",
                ESCAPING_SCHEMES.join(" ")
            ));
        }
        if escaping == "allow-utf-8" && self.metric_name_validation_scheme != "utf8" {
            return Err("metric_name_escaping_scheme cannot be set to 'allow-utf-8' while metric_name_validation_scheme is not set to 'utf8'".to_string());
        }
        self.http_client_config().validate()?;
        self.validate_solder_support()
    }

    /// What Alloy accepts but Solder cannot do; refused so a config never silently loses data.
    fn validate_solder_support(&self) -> Result<(), String> {
        if self.scrape_protocols.is_empty() {
            return Err("scrape_protocols cannot be empty".to_string());
        }
        if self.scrape_protocols.iter().any(|p| p == PROTOBUF_PROTOCOL)
            || self.scrape_fallback_protocol == PROTOBUF_PROTOCOL
        {
            return Err(not_supported(
                "scrape protocol \"PrometheusProto\" (protobuf scraping)",
            ));
        }
        if self.convert_classic_histograms_to_nhcb {
            return Err(not_supported("convert_classic_histograms_to_nhcb"));
        }
        if self.honor_metadata {
            return Err(not_supported("honor_metadata"));
        }
        if self.enable_type_and_unit_labels {
            return Err(not_supported("enable_type_and_unit_labels"));
        }
        if self.start_timestamp_zero_ingestion {
            return Err(not_supported("start_timestamp_zero_ingestion"));
        }
        if self.clustering.as_ref().is_some_and(|c| c.enabled) {
            return Err(not_supported("clustering (enabled = true)"));
        }
        if self.scheme != "http" && self.scheme != "https" {
            return Err(format!(
                "scheme {:?} is not supported: must be \"http\" or \"https\"",
                self.scheme
            ));
        }
        Ok(())
    }

    /// `metric_name_escaping_scheme`, defaulted from the validation scheme as Alloy does.
    pub fn escaping_scheme(&self) -> &str {
        if !self.metric_name_escaping_scheme.is_empty() {
            return &self.metric_name_escaping_scheme;
        }
        if self.metric_name_validation_scheme == "utf8" {
            "allow-utf-8"
        } else {
            "underscores"
        }
    }

    /// The media type used for a response with a missing or unknown `Content-Type`.
    pub fn fallback_media_type(&self) -> Option<&'static str> {
        protocol_media_type(&self.scrape_fallback_protocol)
    }

    pub fn interval(&self) -> Duration {
        self.scrape_interval.0
    }

    pub fn timeout(&self) -> Duration {
        self.scrape_timeout.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Args {
        Args {
            targets: vec![],
            forward_to: vec![],
            job_name: String::new(),
            honor_labels: false,
            honor_timestamps: true,
            track_timestamps_staleness: false,
            params: BTreeMap::new(),
            scrape_classic_histograms: false,
            scrape_native_histograms: false,
            scrape_failure_log_file: String::new(),
            scrape_interval: default_interval(),
            scrape_timeout: default_timeout(),
            scrape_protocols: default_protocols(),
            metrics_path: default_metrics_path(),
            scheme: default_scheme(),
            body_size_limit: ByteSize(0),
            sample_limit: 0,
            target_limit: 0,
            label_limit: 0,
            label_name_length_limit: 0,
            label_value_length_limit: 0,
            extra_metrics: false,
            enable_protobuf_negotiation: false,
            metric_name_validation_scheme: default_validation_scheme(),
            metric_name_escaping_scheme: String::new(),
            scrape_fallback_protocol: default_fallback(),
            convert_classic_histograms_to_nhcb: false,
            enable_compression: true,
            native_histogram_bucket_limit: 0,
            native_histogram_min_bucket_factor: 0.0,
            honor_metadata: false,
            enable_type_and_unit_labels: false,
            start_timestamp_zero_ingestion: false,
            clustering: None,
            basic_auth: None,
            authorization: None,
            oauth2: None,
            bearer_token: Default::default(),
            bearer_token_file: String::new(),
            proxy_url: String::new(),
            no_proxy: String::new(),
            proxy_from_environment: false,
            proxy_connect_header: BTreeMap::new(),
            tls_config: Default::default(),
            follow_redirects: Default::default(),
            enable_http2: Default::default(),
            http_headers: BTreeMap::new(),
        }
    }

    fn err(f: impl FnOnce(&mut Args)) -> String {
        let mut a = base();
        f(&mut a);
        a.validate().unwrap_err()
    }

    #[test]
    fn defaults_validate() {
        base().validate().unwrap();
        assert_eq!(base().escaping_scheme(), "underscores");
    }

    #[test]
    fn alloy_messages() {
        assert_eq!(
            err(|a| a.scrape_timeout = GoDuration::from_secs(90)),
            "scrape_timeout (1m30s) greater than scrape_interval (1m0s) for scrape config with job name \"\""
        );
        assert_eq!(
            err(|a| {
                a.enable_protobuf_negotiation = true;
                a.scrape_protocols = vec!["PrometheusText0.0.4".into()];
            }),
            "both enable_protobuf_negotiation and scrape_protocols are set, only one can be set at a time"
        );
        assert_eq!(
            err(|a| a.scrape_protocols = vec!["PrometheusText0.0.4".into(), "PrometheusText0.0.4".into()]),
            "duplicate scrape protocol \"PrometheusText0.0.4\": make sure the scrape protocols provided are unique"
        );
        assert_eq!(
            err(|a| a.scrape_protocols = vec!["Nope".into()]),
            "invalid scrape protocol \"Nope\": unknown scrape protocol Nope, supported: [OpenMetricsText0.0.1 OpenMetricsText1.0.0 PrometheusProto PrometheusText0.0.4 PrometheusText1.0.0]"
        );
        assert_eq!(
            err(|a| a.metric_name_validation_scheme = "x".into()),
            "invalid metric_name_validation_scheme \"x\": must be either \"utf8\" or \"legacy\""
        );
        assert_eq!(
            err(|a| a.metric_name_escaping_scheme = "allow-utf-8".into()),
            "metric_name_escaping_scheme cannot be set to 'allow-utf-8' while metric_name_validation_scheme is not set to 'utf8'"
        );
        assert_eq!(
            err(|a| {
                a.scrape_native_histograms = true;
                a.scrape_protocols = vec!["PrometheusText0.0.4".into()];
            }),
            "scrape_native_histograms is set to true, but PrometheusProto is not in scrape_protocols"
        );
    }

    #[test]
    fn solder_refusals_say_so() {
        for f in [
            (|a: &mut Args| a.enable_protobuf_negotiation = true) as fn(&mut Args),
            |a| a.scrape_native_histograms = true,
            |a| a.scrape_protocols = vec!["PrometheusProto".into()],
            |a| a.clustering = Some(Clustering { enabled: true }),
            |a| a.honor_metadata = true,
        ] {
            let e = err(f);
            assert!(e.contains("not supported by Solder yet"), "{e}");
        }
        let mut a = base();
        a.clustering = Some(Clustering { enabled: false });
        a.validate().unwrap();
    }
}
