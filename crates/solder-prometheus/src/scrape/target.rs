//! Turning one discovered target (a `map(string)` from `targets`) into a scrape target, with
//! Prometheus 3's `PopulateLabels` semantics as Alloy's `prometheus.scrape` inherits them.
//!
//! What happens, in order:
//! 1. Discovered labels with an empty value count as absent (Prometheus's label builder deletes a
//!    label set to `""`), so an empty `job` or `__scheme__` gets the default like a missing one.
//! 2. Defaults fill absent labels: `job`, `__scrape_interval__`, `__scrape_timeout__`,
//!    `__metrics_path__`, `__scheme__`, and `__param_<name>` (first configured value).
//! 3. Validation, with Prometheus's error messages: `__address__` required and without `/`,
//!    interval and timeout parse as Prometheus durations, are non-zero, and timeout ≤ interval.
//! 4. `instance` defaults to `__address__`.
//! 5. Public labels are every label not starting with `__`.
//!
//! No default port is added: Prometheus 2 appended `:80`/`:443` to a port-less `__address__`,
//! Prometheus 3 (which Alloy embeds) stopped doing so, and both `instance` and the URL keep the
//! address exactly as discovered.
//!
//! `honor_labels` plays no part here: it decides how *scraped* series labels clash with these
//! target labels, which is the scrape loop's business; it is carried in [`TargetDefaults`] so the
//! component has one bundle of per-job settings.

use solder_core::signals::metrics::Labels;
use std::collections::BTreeMap;
use std::time::Duration;

pub const ADDRESS_LABEL: &str = "__address__";
pub const SCHEME_LABEL: &str = "__scheme__";
pub const METRICS_PATH_LABEL: &str = "__metrics_path__";
pub const SCRAPE_INTERVAL_LABEL: &str = "__scrape_interval__";
pub const SCRAPE_TIMEOUT_LABEL: &str = "__scrape_timeout__";
pub const PARAM_LABEL_PREFIX: &str = "__param_";
pub const JOB_LABEL: &str = "job";
pub const INSTANCE_LABEL: &str = "instance";
/// Labels with this prefix are internal and never reach series.
pub const RESERVED_LABEL_PREFIX: &str = "__";

/// The per-job settings of a `prometheus.scrape` block that shape its targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetDefaults {
    pub job_name: String,
    pub scheme: String,
    pub metrics_path: String,
    pub scrape_interval: Duration,
    pub scrape_timeout: Duration,
    pub params: BTreeMap<String, Vec<String>>,
    /// Not used by target population (see the module docs); carried for the scrape loop.
    pub honor_labels: bool,
}

impl Default for TargetDefaults {
    /// Alloy's argument defaults, with an empty job name (Alloy uses the component id).
    fn default() -> Self {
        TargetDefaults {
            job_name: String::new(),
            scheme: "http".to_string(),
            metrics_path: "/metrics".to_string(),
            scrape_interval: Duration::from_secs(60),
            scrape_timeout: Duration::from_secs(10),
            params: BTreeMap::new(),
            honor_labels: false,
        }
    }
}

/// A target ready to scrape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScrapeTarget {
    /// Public labels (no `__` prefix), sorted; attached to every scraped series.
    pub labels: Labels,
    /// `scheme://address/path?query`, percent-encoded as Go's `url.URL.String()` would.
    pub url: String,
    pub interval: Duration,
    pub timeout: Duration,
    /// The target exactly as discovered (shown by the debug UI).
    pub discovered: BTreeMap<String, String>,
}

/// A Prometheus duration string was malformed (messages as `model.ParseDuration`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration string")]
    Empty,
    #[error("not a valid duration string: {0:?}")]
    Invalid(String),
    #[error("unknown unit {unit:?} in duration {input:?}")]
    UnknownUnit { unit: String, input: String },
    #[error("duration out of range")]
    OutOfRange,
}

/// Why a discovered target cannot be scraped (messages as Prometheus's `PopulateLabels`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("no address")]
    NoAddress,
    #[error("{0:?} is not a valid hostname")]
    InvalidAddress(String),
    #[error("error parsing scrape interval: {0}")]
    BadInterval(DurationError),
    #[error("scrape interval cannot be 0")]
    ZeroInterval,
    #[error("error parsing scrape timeout: {0}")]
    BadTimeout(DurationError),
    #[error("scrape timeout cannot be 0")]
    ZeroTimeout,
    #[error("scrape timeout cannot be greater than scrape interval ({timeout:?} > {interval:?})")]
    TimeoutExceedsInterval { timeout: String, interval: String },
}

/// Applies defaults, validates and builds the target. `Ok(None)` would mean "dropped"; with no
/// relabeling inside `prometheus.scrape` every valid target is kept, so today it is always `Some`
/// on success (the `Option` leaves room for a drop step without changing callers).
pub fn populate_target(
    discovered: &BTreeMap<String, String>,
    defaults: &TargetDefaults,
) -> Result<Option<ScrapeTarget>, TargetError> {
    // Step 1: empty values are absent.
    let mut labels: BTreeMap<String, String> = discovered
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();

    // Step 2: defaults for what is absent.
    let scrape_defaults = [
        (JOB_LABEL, defaults.job_name.clone()),
        (
            SCRAPE_INTERVAL_LABEL,
            format_prometheus_duration(defaults.scrape_interval),
        ),
        (
            SCRAPE_TIMEOUT_LABEL,
            format_prometheus_duration(defaults.scrape_timeout),
        ),
        (METRICS_PATH_LABEL, defaults.metrics_path.clone()),
        (SCHEME_LABEL, defaults.scheme.clone()),
    ];
    for (name, value) in scrape_defaults {
        set_if_absent(&mut labels, name, value);
    }
    for (name, values) in &defaults.params {
        if let Some(first) = values.first() {
            set_if_absent(
                &mut labels,
                &format!("{PARAM_LABEL_PREFIX}{name}"),
                first.clone(),
            );
        }
    }

    // Step 3: validation.
    let address = match labels.get(ADDRESS_LABEL) {
        Some(a) => a.clone(),
        None => return Err(TargetError::NoAddress),
    };
    if address.contains('/') {
        return Err(TargetError::InvalidAddress(address));
    }
    let interval_text = labels
        .get(SCRAPE_INTERVAL_LABEL)
        .cloned()
        .unwrap_or_default();
    let interval = parse_prometheus_duration(&interval_text).map_err(TargetError::BadInterval)?;
    if interval.is_zero() {
        return Err(TargetError::ZeroInterval);
    }
    let timeout_text = labels
        .get(SCRAPE_TIMEOUT_LABEL)
        .cloned()
        .unwrap_or_default();
    let timeout = parse_prometheus_duration(&timeout_text).map_err(TargetError::BadTimeout)?;
    if timeout.is_zero() {
        return Err(TargetError::ZeroTimeout);
    }
    if timeout > interval {
        return Err(TargetError::TimeoutExceedsInterval {
            timeout: timeout_text,
            interval: interval_text,
        });
    }

    // Step 4: instance.
    set_if_absent(&mut labels, INSTANCE_LABEL, address.clone());

    let url = build_url(&labels, &address, &defaults.params);

    // Step 5: only public labels reach series.
    let public: Vec<(String, String)> = labels
        .into_iter()
        .filter(|(name, _)| !name.starts_with(RESERVED_LABEL_PREFIX))
        .collect();

    Ok(Some(ScrapeTarget {
        labels: Labels::new(public),
        url,
        interval,
        timeout,
        discovered: discovered.clone(),
    }))
}

fn set_if_absent(labels: &mut BTreeMap<String, String>, name: &str, value: String) {
    // An empty default is no label at all, as setting "" deletes in Prometheus's builder.
    if value.is_empty() || labels.contains_key(name) {
        return;
    }
    labels.insert(name.to_string(), value);
}

/// Configured params first, then each `__param_<name>` label replaces that param's first value
/// (or adds it), as Prometheus's `Target.URL`.
fn build_url(
    labels: &BTreeMap<String, String>,
    address: &str,
    config_params: &BTreeMap<String, Vec<String>>,
) -> String {
    let mut params = config_params.clone();
    for (name, value) in labels {
        let Some(key) = name.strip_prefix(PARAM_LABEL_PREFIX) else {
            continue;
        };
        let values = params.entry(key.to_string()).or_default();
        match values.first_mut() {
            Some(first) => first.clone_from(value),
            None => values.push(value.clone()),
        }
    }
    let scheme = labels.get(SCHEME_LABEL).map(String::as_str).unwrap_or("");
    let path = labels
        .get(METRICS_PATH_LABEL)
        .map(String::as_str)
        .unwrap_or("");

    let mut url = String::new();
    if !scheme.is_empty() {
        url.push_str(scheme);
        url.push(':');
    }
    url.push_str("//");
    escape_into(&mut url, address, Escape::Host);
    if !path.is_empty() && !path.starts_with('/') {
        url.push('/');
    }
    escape_into(&mut url, path, Escape::Path);

    let mut first = true;
    for (key, values) in &params {
        for value in values {
            url.push(if first { '?' } else { '&' });
            first = false;
            escape_into(&mut url, key, Escape::QueryComponent);
            url.push('=');
            escape_into(&mut url, value, Escape::QueryComponent);
        }
    }
    url
}

/// The parts of a URL Go's `net/url` escapes differently.
#[derive(Clone, Copy)]
enum Escape {
    Host,
    Path,
    QueryComponent,
}

/// Percent-encodes byte by byte with Go's `shouldEscape` rules, so URLs (and hence target
/// hashes and the debug UI) match what Alloy shows.
fn escape_into(out: &mut String, text: &str, mode: Escape) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in text.as_bytes() {
        if b == b' ' && matches!(mode, Escape::QueryComponent) {
            out.push('+');
        } else if keeps_byte(b, mode) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
}

fn keeps_byte(b: u8, mode: Escape) -> bool {
    if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
        return true;
    }
    match mode {
        Escape::Host => matches!(
            b,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'['
                | b']'
                | b'<'
                | b'>'
                | b'"'
        ),
        Escape::Path => matches!(
            b,
            b'$' | b'&' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'@'
        ),
        Escape::QueryComponent => false,
    }
}

/// Parses a Prometheus duration (`model.ParseDuration`): integer amounts of `y w d h m s ms`,
/// largest unit first, each at most once; `"0"` alone needs no unit. Unlike Go durations there
/// are no fractions, no `us`/`ns` and no sign.
pub fn parse_prometheus_duration(input: &str) -> Result<Duration, DurationError> {
    match input {
        "0" => return Ok(Duration::ZERO),
        "" => return Err(DurationError::Empty),
        _ => {}
    }
    let invalid = || DurationError::Invalid(input.to_string());
    let bytes = input.as_bytes();
    let mut pos = 0;
    let mut total: u64 = 0;
    // Units must strictly decrease; this is the rank of the last one seen (0 = none yet).
    let mut last_rank = 0;
    while pos < bytes.len() {
        let digits_end = pos
            + bytes[pos..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
        if digits_end == pos {
            return Err(invalid());
        }
        let amount: u64 = input[pos..digits_end].parse().map_err(|_| invalid())?;
        let unit_end = digits_end
            + bytes[digits_end..]
                .iter()
                .take_while(|b| !b.is_ascii_digit())
                .count();
        if unit_end == digits_end {
            return Err(invalid());
        }
        let unit = &input[digits_end..unit_end];
        let (rank, nanos_per_unit) =
            unit_rank_and_nanos(unit).ok_or_else(|| DurationError::UnknownUnit {
                unit: unit.to_string(),
                input: input.to_string(),
            })?;
        if rank <= last_rank {
            return Err(invalid());
        }
        last_rank = rank;
        // Same bound as Prometheus: the total must fit a Go time.Duration (i64 nanoseconds).
        if amount > (1u64 << 63) / nanos_per_unit {
            return Err(DurationError::OutOfRange);
        }
        total = total
            .checked_add(amount * nanos_per_unit)
            .filter(|t| *t <= i64::MAX as u64)
            .ok_or(DurationError::OutOfRange)?;
        pos = unit_end;
    }
    Ok(Duration::from_nanos(total))
}

fn unit_rank_and_nanos(unit: &str) -> Option<(u8, u64)> {
    const MS: u64 = 1_000_000;
    const S: u64 = 1000 * MS;
    const M: u64 = 60 * S;
    const H: u64 = 60 * M;
    const D: u64 = 24 * H;
    Some(match unit {
        "y" => (1, 365 * D),
        "w" => (2, 7 * D),
        "d" => (3, D),
        "h" => (4, H),
        "m" => (5, M),
        "s" => (6, S),
        "ms" => (7, MS),
        _ => return None,
    })
}

/// Formats as Prometheus's `model.Duration.String()` (millisecond precision; `y`/`w` only when
/// exact): this is the text the default `__scrape_interval__`/`__scrape_timeout__` labels carry.
pub fn format_prometheus_duration(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    let units: [(&str, u128, bool); 7] = [
        ("y", 1000 * 60 * 60 * 24 * 365, true),
        ("w", 1000 * 60 * 60 * 24 * 7, true),
        ("d", 1000 * 60 * 60 * 24, false),
        ("h", 1000 * 60 * 60, false),
        ("m", 1000 * 60, false),
        ("s", 1000, false),
        ("ms", 1, false),
    ];
    for (unit, per, only_exact) in units {
        if only_exact && !ms.is_multiple_of(per) {
            continue;
        }
        let amount = ms / per;
        if amount > 0 {
            out.push_str(&amount.to_string());
            out.push_str(unit);
            ms -= amount * per;
        }
    }
    out
}
