//! `prometheus.scrape` (alloy-spec.md §2.3), in layers:
//! - [`args`]: arguments, Alloy's validation, and what Solder refuses (protobuf, native
//!   histograms, clustering, experimental flags);
//! - [`target`]: a discovered target → labels, URL, interval and timeout (`PopulateLabels`);
//! - [`fetch`]: one HTTP request (headers, timeout, body size limit, gzip);
//! - [`series`], [`normalize`]: a scraped line's label set (target labels, `exported_` clashes,
//!   `le`/`quantile` spelling, name rules, label limits);
//! - [`cache`]: the per-target scrape cache and the append step (limits, staleness);
//! - [`scrape_loop`]: one target's loop (offset, report series, end-of-run staleness);
//! - [`component`]: the component, reconciling loops on every update.
//!
//! The start offset here spreads targets over their interval, so a job's scrapes do not all fire
//! at once. It follows Prometheus's `Target.offset`: a per-target hash XOR a per-agent seed,
//! modulo the interval. It is stable across restarts and reloads (the same target scrapes at the
//! same phase), and different agents scraping the same target (a seed per host) do not align.

pub mod args;
pub mod cache;
pub mod component;
pub mod fetch;
pub mod normalize;
pub mod scrape_loop;
mod self_metrics;
pub mod series;
pub mod target;

pub use component::PrometheusScrape;

pub use target::{
    format_prometheus_duration, parse_prometheus_duration, populate_target, DurationError,
    ScrapeTarget, TargetDefaults, TargetError,
};

use solder_core::signals::metrics::Labels;
use std::time::Duration;

const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
/// Separates names, values and the URL in the hashed bytes so `a=bc` and `ab=c` differ; 0xff
/// never occurs in UTF-8 text.
const HASH_SEPARATOR: u8 = 0xff;

fn fnv1a_update(mut hash: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

/// FNV-1a 64 over `name 0xff value 0xff` for each label (in sorted order) and then the URL.
///
/// Prometheus hashes the xxhash of its full internal label set (formatted as decimal) followed
/// by the URL, so the values differ from Prometheus's; what matters, and is kept, is that the
/// hash is deterministic, depends on both the labels and the URL, and spreads well.
pub fn target_hash(labels: &Labels, url: &str) -> u64 {
    let mut hash = FNV_OFFSET_BASIS;
    for (name, value) in labels.iter() {
        hash = fnv1a_update(hash, name.as_bytes());
        hash = fnv1a_update(hash, &[HASH_SEPARATOR]);
        hash = fnv1a_update(hash, value.as_bytes());
        hash = fnv1a_update(hash, &[HASH_SEPARATOR]);
    }
    fnv1a_update(hash, url.as_bytes())
}

/// The per-agent seed, as Prometheus's `setOffsetSeed`: FNV-1a 64 of the host name followed by
/// the external labels rendered as `{a="1", b="2"}` (empty labels render as `{}`).
pub fn offset_seed(hostname: &str, external_labels: &Labels) -> u64 {
    let mut rendered = String::from("{");
    for (i, (name, value)) in external_labels.iter().enumerate() {
        if i > 0 {
            rendered.push_str(", ");
        }
        rendered.push_str(name);
        rendered.push('=');
        rendered.push_str(&format!("{value:?}"));
    }
    rendered.push('}');
    let hash = fnv1a_update(FNV_OFFSET_BASIS, hostname.as_bytes());
    fnv1a_update(hash, rendered.as_bytes())
}

/// The target's phase within its interval: `(hash ^ salt) % interval` in nanoseconds, always
/// in `[0, interval)`; zero for a zero interval (which population rejects anyway).
pub fn scrape_offset(target_hash: u64, interval: Duration, instance_salt: u64) -> Duration {
    let interval_nanos = interval.as_nanos();
    if interval_nanos == 0 {
        return Duration::ZERO;
    }
    let offset = u128::from(target_hash ^ instance_salt) % interval_nanos;
    // offset < interval_nanos, which came from a Duration, so it fits back.
    duration_from_nanos(offset)
}

/// How long to wait before the first scrape, given the current wall-clock time as nanoseconds
/// since the Unix epoch: phases are pinned to absolute time (as Prometheus), so the wait is the
/// time to the next interval boundary plus the offset, folded back into `(0, interval]`.
pub fn first_scrape_delay(offset: Duration, interval: Duration, now_unix_nanos: u128) -> Duration {
    let interval_nanos = interval.as_nanos();
    if interval_nanos == 0 {
        return Duration::ZERO;
    }
    let offset_nanos = offset.as_nanos() % interval_nanos;
    let to_boundary = interval_nanos - now_unix_nanos % interval_nanos;
    let mut next = to_boundary + offset_nanos;
    if next > interval_nanos {
        next -= interval_nanos;
    }
    duration_from_nanos(next)
}

/// Callers pass values below a `Duration`'s nanosecond count, so the seconds always fit.
fn duration_from_nanos(nanos: u128) -> Duration {
    let secs = u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX);
    // The remainder is below 10^9, so it fits a u32.
    let subsec = u32::try_from(nanos % 1_000_000_000).unwrap_or(0);
    Duration::new(secs, subsec)
}

/// Registers `prometheus.scrape`.
pub fn register(reg: &mut solder_core::Registry) {
    reg.register(solder_core::Typed::<PrometheusScrape>::new());
}
