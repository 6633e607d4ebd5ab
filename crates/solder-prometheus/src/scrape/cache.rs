//! The scrape cache of one target (DESIGN.md §5) and the append step built on it: turning one
//! scrape body into samples, exemplars and staleness markers.
//!
//! The cache maps the raw series text of a line (`name{labels}`, exactly as exposed) to the
//! label set already built for it, so a steady-state scrape does no label parsing, merging or
//! validation for series it has seen before. Keys are kept in scrape order and each line is
//! first compared with the key that followed the previous line last time ([`key_table`]), so a
//! target with a stable order costs one sequential compare and a reference-count bump per
//! line, and only a mismatch hashes. Staleness follows Prometheus: a series appended in the previous successful
//! scrape but not in this one gets a stale marker, and a failed scrape marks every series of
//! the previous one stale.
//!
//! Lines are read with [`Parser::next_raw`], which only delimits the series key: a cache hit
//! means the identical bytes were fully validated on an earlier scrape, and a miss is validated
//! with [`Parser::validate`] before anything is built from it, so only validated keys ever
//! enter the cache. Because the two formats accept different keys, the cache is cleared when a
//! target's body format changes.

#[path = "key_table.rs"]
mod key_table;
#[path = "label_sets.rs"]
mod label_sets;

use super::series::{
    exposed_labels, merge_target_labels, validate_series, LabelLimits, SeriesError,
};
use crate::exposition::{Format, MetricType, ParseError, Parser, RawEntry};
use key_table::{KeyTable, KeyValue, NO_SLOT};
use label_sets::LabelSets;
use solder_core::signals::metrics::{stale_nan, Exemplar, Labels, MetricsBatch, Sample};

/// Samples more than this far in the future are refused (Prometheus's `maxAheadTime`).
pub const MAX_AHEAD_MS: i64 = 10 * 60 * 1000;

/// How many lines ahead a lookup prefetches the expected key's label set: far enough that its
/// load is done when the line comes (a line takes a few hundred nanoseconds, a miss about one
/// hundred), near enough that the links are still in the cache.
const PREFETCH_AHEAD: usize = 4;

/// Per-job settings the append step needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppendSettings {
    pub honor_labels: bool,
    pub honor_timestamps: bool,
    pub track_timestamps_staleness: bool,
    /// 0 = no limit.
    pub sample_limit: usize,
    pub label_limits: LabelLimits,
    /// `metric_name_validation_scheme = "utf8"`.
    pub utf8_names: bool,
}

/// The clock of one scrape, in milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScrapeTimes {
    /// The scrape's timestamp, given to samples without an (honoured) one of their own.
    pub default_ms: i64,
    /// Wall-clock now: samples more than [`MAX_AHEAD_MS`] past it are refused.
    pub now_ms: i64,
}

/// Why the samples of a scrape were rejected as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    #[error("{0}")]
    Parse(#[from] ParseError),
    #[error("{0}")]
    Series(#[from] SeriesError),
    #[error("sample limit exceeded")]
    SampleLimit,
}

/// What one append did, for the report series and the self-metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppendStats {
    /// Sample lines in the body (`scrape_samples_scraped`).
    pub total: usize,
    /// Samples after (no) metric relabeling, duplicates included
    /// (`scrape_samples_post_metric_relabeling`).
    pub added: usize,
    /// Series not in the cache before this scrape (`scrape_series_added`).
    pub series_added: usize,
    pub duplicates: usize,
    pub out_of_bounds: usize,
    pub exceeded_sample_limit: bool,
    pub exceeded_label_limits: bool,
    /// Lines whose label set was taken from the cache.
    pub cache_hits: usize,
}

/// One target's cache. Not shared: the target's loop owns it.
pub struct ScrapeCache {
    /// Raw series keys in scrape order, each with its label set.
    keys: KeyTable,
    /// Distinct label sets and their staleness tracking.
    sets: LabelSets,
    iter: u64,
    /// Keys seen by this iteration so far (each counted once), to skip the end-of-scrape
    /// sweep when every key was seen.
    seen: usize,
    /// Cache size after the last successful scrape (to bound growth while scrapes fail).
    successful_count: usize,
    /// Flushes forced by growth during failing scrapes, not yet reported.
    forced_flushes: u64,
    /// Format of the body the cached keys were validated for (`None` before the first body).
    format: Option<Format>,
    /// `sets` may hold label sets no cache key uses any more (after a format change cleared
    /// `keys`); pruned at the end of the scrape.
    prune_sets: bool,
}

impl Default for ScrapeCache {
    fn default() -> Self {
        ScrapeCache::new()
    }
}

/// How one line's series was resolved.
struct Resolved {
    labels: Labels,
    /// The label set's number, `None` until the line is cached.
    set: Option<u32>,
    /// The line's key was already seen earlier in this scrape.
    already_scraped: bool,
}

impl ScrapeCache {
    pub fn new() -> Self {
        ScrapeCache {
            keys: KeyTable::new(),
            sets: LabelSets::default(),
            iter: 1,
            seen: 0,
            successful_count: 0,
            forced_flushes: 0,
            format: None,
            prune_sets: false,
        }
    }

    /// Number of cached lines.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Flushes forced since the last call (`prometheus_target_scrapes_cache_flush_forced_total`).
    pub fn take_forced_flushes(&mut self) -> u64 {
        std::mem::take(&mut self.forced_flushes)
    }

    /// Series that would get a stale marker if the target went away now.
    pub fn tracked_series(&self) -> usize {
        self.sets.tracked()
    }

    /// Keys validated under one format are not known to be valid under the other (text 0.0.4
    /// accepts blanks inside braces and missing commas, OpenMetrics does not), so a format
    /// change drops every cached key. The label sets stay (with no users) so a series that
    /// is in both bodies keeps its identity and is not marked stale; unused ones are pruned
    /// when the scrape ends.
    fn use_format(&mut self, format: Format) {
        if self.format.is_some_and(|f| f != format) {
            self.keys.clear();
            self.seen = 0;
            self.sets.orphan_all();
            self.prune_sets = true;
        }
        self.format = Some(format);
    }

    /// Parses `body` and appends its samples (and exemplars) with timestamp `default_ts_ms`
    /// (unless honoured from the body), followed by stale markers for series that disappeared.
    ///
    /// On error nothing of this scrape is left in `out` (it is truncated back, Prometheus's
    /// rollback) and the caller should call [`ScrapeCache::append_failed`]; the stats still
    /// count what was parsed, for the report series.
    pub fn append_body(
        &mut self,
        body: &[u8],
        format: Format,
        target: &Labels,
        settings: &AppendSettings,
        times: ScrapeTimes,
        out: &mut MetricsBatch,
    ) -> (AppendStats, Result<(), AppendError>) {
        let mut stats = AppendStats::default();
        self.use_format(format);
        let start_samples = out.samples.len();
        let start_exemplars = out.exemplars.len();
        // About one sample per cached line, plus the report series the loop adds: grow the
        // batch once instead of by doubling.
        out.samples.reserve(self.keys.len() + 8);
        let default_ts_ms = times.default_ms;
        let result = self.append_lines(
            body,
            format,
            target,
            settings,
            default_ts_ms,
            times.now_ms,
            out,
            &mut stats,
        );
        match result {
            Ok(()) => {
                self.append_stale_markers(default_ts_ms, out);
                self.iter_done(true);
                (stats, Ok(()))
            }
            Err(e) => {
                out.samples.truncate(start_samples);
                out.exemplars.truncate(start_exemplars);
                // What this attempt tracked was rolled back with it.
                self.sets.clear_current();
                (stats, Err(e))
            }
        }
    }

    /// A failed (or empty) scrape: every series of the last successful scrape becomes stale.
    pub fn append_failed(&mut self, ts_ms: i64, out: &mut MetricsBatch) {
        self.sets.clear_current();
        self.append_stale_markers(ts_ms, out);
        self.iter_done(false);
    }

    /// The cached label set of the line's key, found through `cursor` (the slot of the
    /// previous line, moved to this one's).
    fn lookup(&mut self, key: &str, cursor: &mut u32) -> Option<Resolved> {
        let slot = self.keys.find(key.as_bytes(), *cursor)?;
        self.keys.link(*cursor, slot);
        *cursor = slot;
        self.keys.prefetch_ahead(slot, PREFETCH_AHEAD);
        let value = self.keys.value_mut(slot)?;
        let already_scraped = value.last_iter == self.iter;
        value.last_iter = self.iter;
        self.seen += usize::from(!already_scraped);
        Some(Resolved {
            labels: value.labels.clone(),
            set: Some(value.series),
            already_scraped,
        })
    }

    /// Caches a line's key (a miss that is appended); returns its label set's number.
    fn insert(&mut self, key: &str, labels: &Labels, cursor: &mut u32) -> Option<u32> {
        let set = self.sets.acquire(labels)?;
        let value = KeyValue {
            labels: labels.clone(),
            series: set,
            last_iter: self.iter,
        };
        // A full table (2^32 keys) leaves the line uncached; its set then keeps a user it
        // cannot lose, which only costs memory nobody could have.
        if let Some(slot) = self.keys.insert(key.as_bytes(), value) {
            self.keys.link(*cursor, slot);
            *cursor = slot;
            self.seen += 1;
        }
        Some(set)
    }

    #[allow(clippy::too_many_arguments)]
    fn append_lines(
        &mut self,
        body: &[u8],
        format: Format,
        target: &Labels,
        settings: &AppendSettings,
        default_ts_ms: i64,
        now_ms: i64,
        out: &mut MetricsBatch,
        stats: &mut AppendStats,
    ) -> Result<(), AppendError> {
        let mut parser = Parser::from_bytes(body, format)?;
        let max_ts = now_ms.saturating_add(MAX_AHEAD_MS);
        let mut last_type: Option<MetricType> = None;
        let mut limited_samples = 0usize;
        let mut sample_limit_hit = false;
        // The key slot of the previous cached line: its successor last time is tried first.
        let mut cursor = NO_SLOT;
        while let Some(entry) = parser.next_raw() {
            let raw = match entry? {
                RawEntry::Series(raw) => raw,
                RawEntry::Type { metric_type, .. } => {
                    last_type = Some(metric_type);
                    continue;
                }
                _ => continue,
            };
            let parsed_ts = if settings.honor_timestamps {
                raw.timestamp_ms
            } else {
                None
            };
            let ts = parsed_ts.unwrap_or(default_ts_ms);

            let resolved = match self.lookup(raw.series_key, &mut cursor) {
                Some(hit) => {
                    stats.cache_hits += 1;
                    hit
                }
                None => {
                    // Only the key was delimited: a miss is validated in full before use, and
                    // a malformed key fails the scrape exactly as in the full parse.
                    let sample = parser.validate(&raw)?;
                    let exposed = exposed_labels(&sample, last_type);
                    let labels = merge_target_labels(exposed, target, settings.honor_labels);
                    if let Err(e) =
                        validate_series(&labels, settings.utf8_names, &settings.label_limits)
                    {
                        // Counted as scraped, as before the fast path (the line parsed).
                        stats.total += 1;
                        stats.exceeded_label_limits = e.is_label_limit();
                        return Err(e.into());
                    }
                    Resolved {
                        labels,
                        set: None,
                        already_scraped: false,
                    }
                }
            };
            stats.total += 1;

            let appended = if resolved.already_scraped && parsed_ts.is_none() {
                stats.duplicates += 1;
                false
            } else if ts > max_ts {
                stats.out_of_bounds += 1;
                false
            } else if settings.sample_limit > 0 && {
                limited_samples += 1;
                limited_samples > settings.sample_limit
            } {
                sample_limit_hit = true;
                false
            } else {
                true
            };

            if appended {
                let set = match resolved.set {
                    Some(set) => Some(set),
                    None => {
                        if !sample_limit_hit {
                            stats.series_added += 1;
                        }
                        self.insert(raw.series_key, &resolved.labels, &mut cursor)
                    }
                };
                if parsed_ts.is_none() || settings.track_timestamps_staleness {
                    if let Some(set) = set {
                        self.sets.track(set, self.iter);
                    }
                }
                if let Some(ex) = raw.has_exemplar().then(|| parser.exemplar(&raw)).flatten() {
                    out.exemplars.push(Exemplar {
                        series: resolved.labels.clone(),
                        labels: Labels::new(
                            ex.labels
                                .iter()
                                .map(|(n, v)| (n.into_owned(), v.into_owned()))
                                .collect(),
                        ),
                        timestamp_ms: ex.timestamp_ms.unwrap_or(ts),
                        value: ex.value,
                    });
                }
                out.samples.push(Sample {
                    labels: resolved.labels,
                    timestamp_ms: ts,
                    value: raw.value,
                });
            }
            stats.added += 1;
        }
        if sample_limit_hit {
            stats.exceeded_sample_limit = true;
            return Err(AppendError::SampleLimit);
        }
        Ok(())
    }

    fn append_stale_markers(&mut self, ts_ms: i64, out: &mut MetricsBatch) {
        self.sets.for_each_stale(self.iter, |labels| {
            out.samples.push(Sample {
                labels: labels.clone(),
                timestamp_ms: ts_ms,
                value: stale_nan(),
            });
        });
    }

    /// Copies every label set into fresh allocations in key (scrape) order, and points the
    /// keys at the copies; see [`LabelSets::relocate`]. Samples still holding the old copies
    /// are unaffected (equal labels).
    fn relocate_labels(&mut self) {
        let mut fresh: Vec<Option<Labels>> = vec![None; self.sets.slot_count()];
        for value in self.keys.values_mut() {
            let at = value.series as usize;
            let copy = match fresh.get(at) {
                Some(Some(copy)) => copy.clone(),
                _ => match self.sets.relocate(value.series) {
                    Some(copy) => {
                        if let Some(slot) = fresh.get_mut(at) {
                            *slot = Some(copy.clone());
                        }
                        copy
                    }
                    None => continue,
                },
            };
            value.labels = copy;
        }
        self.sets.relocated();
    }

    /// Prometheus's `iterDone`: after a successful scrape drop lines not seen in it; after a
    /// failed one only when the cache has grown far beyond its last good size. Then this
    /// scrape's series become the ones the next scrape compares against.
    fn iter_done(&mut self, success: bool) {
        let count = self.keys.len();
        let flush = if success {
            self.successful_count = count;
            true
        } else {
            let forced = count > self.successful_count * 2 + 1000;
            self.forced_flushes += u64::from(forced);
            forced
        };
        self.keys.end_scrape();
        // Nothing to drop when every key was seen (the steady state): skip the sweep.
        if flush && self.seen < count {
            let iter = self.iter;
            let sets = &mut self.sets;
            self.keys
                .retain(|v| v.last_iter == iter, |v| sets.release(v.series));
        } else {
            self.keys.tidy();
        }
        if std::mem::take(&mut self.prune_sets) {
            self.sets.drop_unused();
        }
        if success && self.sets.wants_relocation() {
            self.relocate_labels();
        }
        self.sets.rotate();
        self.seen = 0;
        self.iter += 1;
    }
}

#[cfg(test)]
#[path = "cache_reference.rs"]
mod cache_reference;

#[cfg(test)]
mod tests {
    use super::*;
    use solder_core::signals::metrics::is_stale_nan;

    fn target() -> Labels {
        Labels::new(vec![
            ("instance".into(), "h:1".into()),
            ("job".into(), "j".into()),
        ])
    }

    fn settings() -> AppendSettings {
        AppendSettings {
            honor_timestamps: true,
            ..AppendSettings::default()
        }
    }

    fn run(
        cache: &mut ScrapeCache,
        body: &str,
        s: &AppendSettings,
        ts: i64,
    ) -> (MetricsBatch, AppendStats, Result<(), AppendError>) {
        let mut out = MetricsBatch::default();
        let (stats, r) = cache.append_body(
            body.as_bytes(),
            Format::PrometheusText004,
            &target(),
            s,
            ScrapeTimes {
                default_ms: ts,
                now_ms: ts,
            },
            &mut out,
        );
        if r.is_err() {
            cache.append_failed(ts, &mut out);
        }
        (out, stats, r)
    }

    fn names(b: &MetricsBatch) -> Vec<(String, bool)> {
        b.samples
            .iter()
            .map(|s| {
                (
                    s.labels.get("__name__").unwrap_or("").to_string(),
                    is_stale_nan(s.value),
                )
            })
            .collect()
    }

    #[test]
    fn steady_state_uses_the_cache_and_disappearing_series_go_stale() {
        let mut cache = ScrapeCache::new();
        let (out, stats, r) = run(&mut cache, "a 1\nb{x=\"1\"} 2\n", &settings(), 1000);
        r.unwrap();
        assert_eq!(stats.total, 2);
        assert_eq!(stats.series_added, 2);
        assert_eq!(stats.cache_hits, 0);
        assert_eq!(out.samples[1].labels.get("x"), Some("1"));
        assert_eq!(out.samples[1].labels.get("job"), Some("j"));
        assert_eq!(out.samples[1].timestamp_ms, 1000);

        let (out, stats, r) = run(&mut cache, "a 3\n", &settings(), 2000);
        r.unwrap();
        assert_eq!(stats.cache_hits, 1);
        assert_eq!(stats.series_added, 0);
        assert_eq!(
            names(&out),
            vec![("a".to_string(), false), ("b".to_string(), true)]
        );
        assert_eq!(out.samples[1].timestamp_ms, 2000);
        assert_eq!(cache.len(), 1);

        // The stale marker is sent once.
        let (out, _, _) = run(&mut cache, "a 3\n", &settings(), 3000);
        assert_eq!(names(&out), vec![("a".to_string(), false)]);
    }

    #[test]
    fn a_failed_scrape_rolls_back_and_marks_everything_stale() {
        let mut cache = ScrapeCache::new();
        run(&mut cache, "a 1\nb 2\n", &settings(), 1000).2.unwrap();
        let (out, stats, r) = run(&mut cache, "a 1\nb 2\nc{ 3\n", &settings(), 2000);
        assert!(matches!(r, Err(AppendError::Parse(_))));
        assert_eq!(stats.total, 2);
        let mut got = names(&out);
        got.sort();
        assert_eq!(got, vec![("a".to_string(), true), ("b".to_string(), true)]);
        // Recovery: everything is new to staleness tracking but still cached.
        let (out, stats, _) = run(&mut cache, "a 1\n", &settings(), 3000);
        assert_eq!(names(&out), vec![("a".to_string(), false)]);
        assert_eq!(stats.cache_hits, 1);
    }

    #[test]
    fn explicit_timestamps_are_not_tracked_unless_asked() {
        let mut cache = ScrapeCache::new();
        run(&mut cache, "a 1 1000\nb 2\n", &settings(), 5000)
            .2
            .unwrap();
        let (out, _, _) = run(&mut cache, "", &settings(), 6000);
        // Only `b` (no timestamp of its own) is marked stale.
        assert_eq!(names(&out), vec![("b".to_string(), true)]);

        let tracking = AppendSettings {
            track_timestamps_staleness: true,
            ..settings()
        };
        let mut cache = ScrapeCache::new();
        run(&mut cache, "a 1 1000\n", &tracking, 5000).2.unwrap();
        let (out, _, _) = run(&mut cache, "", &tracking, 6000);
        assert_eq!(names(&out), vec![("a".to_string(), true)]);
        assert_eq!(out.samples[0].timestamp_ms, 6000);
    }

    #[test]
    fn duplicates_and_future_samples_are_counted_not_sent() {
        let mut cache = ScrapeCache::new();
        run(&mut cache, "a 1\n", &settings(), 1000).2.unwrap();
        let far = 1000 + MAX_AHEAD_MS + 1;
        let body = format!("a 1\na 2\nf 1 {far}\n");
        let (out, stats, r) = run(&mut cache, &body, &settings(), 1000);
        r.unwrap();
        assert_eq!(stats.duplicates, 1);
        assert_eq!(stats.out_of_bounds, 1);
        assert_eq!(stats.total, 3);
        assert_eq!(stats.added, 3);
        assert_eq!(names(&out), vec![("a".to_string(), false)]);
        assert_eq!(out.samples[0].value, 1.0);
    }

    #[test]
    fn equal_label_sets_from_different_spellings_share_staleness() {
        // `le="1"` and `le="1.0"` are one series: dropping one spelling must not mark it stale.
        let mut cache = ScrapeCache::new();
        let h = "# TYPE h histogram\n";
        run(
            &mut cache,
            &format!("{h}h_bucket{{le=\"1\"}} 1\n"),
            &settings(),
            1000,
        )
        .2
        .unwrap();
        let (out, _, _) = run(
            &mut cache,
            &format!("{h}h_bucket{{le=\"1.0\"}} 1\n"),
            &settings(),
            2000,
        );
        assert_eq!(names(&out), vec![("h_bucket".to_string(), false)]);
        assert_eq!(out.samples[0].labels.get("le"), Some("1.0"));
    }

    #[test]
    fn sample_limit_counts_series_added_before_the_limit_only() {
        let mut cache = ScrapeCache::new();
        let limited = AppendSettings {
            sample_limit: 2,
            ..settings()
        };
        let (out, stats, r) = run(&mut cache, "a 1\nb 2\nc 3\n", &limited, 1000);
        assert_eq!(r, Err(AppendError::SampleLimit));
        assert!(stats.exceeded_sample_limit);
        assert_eq!((stats.total, stats.added, stats.series_added), (3, 3, 2));
        assert!(out.samples.is_empty());
    }

    fn run_as(
        cache: &mut ScrapeCache,
        body: &str,
        format: Format,
        ts: i64,
    ) -> (MetricsBatch, AppendStats, Result<(), AppendError>) {
        let mut out = MetricsBatch::default();
        let (stats, r) = cache.append_body(
            body.as_bytes(),
            format,
            &target(),
            &settings(),
            ScrapeTimes {
                default_ms: ts,
                now_ms: ts,
            },
            &mut out,
        );
        if r.is_err() {
            cache.append_failed(ts, &mut out);
        }
        (out, stats, r)
    }

    #[test]
    fn a_malformed_key_seen_for_the_first_time_fails_the_scrape() {
        // `next_raw` delimits these keys without checking them; `validate` must reject them on
        // the miss, and they must not reach the cache.
        for (bad, line) in [
            ("m{a-b=\"x\"} 2\n", 2),
            ("m{a=\"x\",,b=\"y\"} 2\n", 2),
            ("m{=\"x\"} 2\n", 2),
            ("m{a=\"x\"b} 2\n", 2),
        ] {
            let mut cache = ScrapeCache::new();
            run(&mut cache, "a 1\n", &settings(), 1000).2.unwrap();
            let (out, stats, r) = run(&mut cache, &format!("a 1\n{bad}"), &settings(), 2000);
            match r {
                Err(AppendError::Parse(e)) => assert_eq!(e.line, line, "{bad:?}: {e}"),
                other => panic!("{bad:?}: {other:?}"),
            }
            assert_eq!(stats.total, 1, "{bad:?}");
            // Rolled back: only the stale marker of the last good scrape's series.
            assert_eq!(names(&out), vec![("a".to_string(), true)], "{bad:?}");
            assert_eq!(cache.len(), 1, "{bad:?}");
            // Still rejected the next time: the bad key was never cached.
            let (_, _, r) = run(&mut cache, bad, &settings(), 3000);
            assert!(matches!(r, Err(AppendError::Parse(_))), "{bad:?}: {r:?}");
        }
    }

    #[test]
    fn a_cached_key_followed_by_the_same_key_is_a_duplicate() {
        let mut cache = ScrapeCache::new();
        // Cold: the first line is a miss (validated and cached), the second a hit.
        let (out, stats, r) = run(
            &mut cache,
            "m{a=\"1\"} 1\nm{a=\"1\"} 2\n",
            &settings(),
            1000,
        );
        r.unwrap();
        assert_eq!(
            (
                stats.total,
                stats.series_added,
                stats.cache_hits,
                stats.duplicates
            ),
            (2, 1, 1, 1)
        );
        assert_eq!(out.samples.len(), 1);
        assert_eq!(out.samples[0].value, 1.0);
        assert_eq!(out.samples[0].labels.get("a"), Some("1"));
        // Warm: both lines are hits, the second still a duplicate.
        let (out, stats, r) = run(
            &mut cache,
            "m{a=\"1\"} 3\nm{a=\"1\"} 4\n",
            &settings(),
            2000,
        );
        r.unwrap();
        assert_eq!((stats.cache_hits, stats.duplicates), (2, 1));
        assert_eq!(out.samples.len(), 1);
        assert_eq!(out.samples[0].value, 3.0);
        // With explicit timestamps the repeated key is a separate sample, not a duplicate.
        let (out, stats, r) = run(
            &mut cache,
            "m{a=\"1\"} 5 10\nm{a=\"1\"} 6 20\n",
            &settings(),
            3000,
        );
        r.unwrap();
        assert_eq!(stats.duplicates, 0);
        // (Samples with their own timestamps are not tracked, so the series also goes stale.)
        let got: Vec<_> = out
            .samples
            .iter()
            .map(|s| (s.value.to_bits(), s.timestamp_ms))
            .collect();
        assert_eq!(
            got,
            vec![
                (5f64.to_bits(), 10),
                (6f64.to_bits(), 20),
                (stale_nan().to_bits(), 3000)
            ]
        );
    }

    #[test]
    fn a_format_change_clears_the_cache() {
        // Text 0.0.4 accepts a blank instead of a comma between pairs; OpenMetrics does not. A
        // key cached from the text body must not let the OpenMetrics body through.
        let lenient = "m{a=\"1\" b=\"2\"} 1\n";
        let mut cache = ScrapeCache::new();
        let (out, _, r) = run_as(&mut cache, lenient, Format::PrometheusText004, 1000);
        r.unwrap();
        assert_eq!(out.samples[0].labels.get("b"), Some("2"));
        assert_eq!(cache.len(), 1);
        let (out, _, r) = run_as(
            &mut cache,
            &format!("{lenient}# EOF\n"),
            Format::OpenMetrics100,
            2000,
        );
        assert!(matches!(r, Err(AppendError::Parse(_))), "{r:?}");
        assert_eq!(names(&out), vec![("m".to_string(), true)]);
        assert_eq!(cache.len(), 0);

        // A series in bodies of both formats keeps its identity: no stale marker at the switch,
        // and the keys of the old format are gone.
        let mut cache = ScrapeCache::new();
        run_as(
            &mut cache,
            "m{a=\"1\"} 1\nold 1\n",
            Format::PrometheusText004,
            1000,
        )
        .2
        .unwrap();
        assert_eq!(cache.len(), 2);
        let (out, stats, r) = run_as(
            &mut cache,
            "m{a=\"1\"} 2\n# EOF\n",
            Format::OpenMetrics100,
            2000,
        );
        r.unwrap();
        assert_eq!((stats.cache_hits, stats.series_added), (0, 1));
        assert_eq!(
            names(&out),
            vec![("m".to_string(), false), ("old".to_string(), true)]
        );
        assert_eq!(cache.len(), 1);
        assert_eq!(
            cache.sets.len(),
            1,
            "label-set ids of dropped keys are pruned"
        );
        // Same format again: hits.
        let (_, stats, r) = run_as(
            &mut cache,
            "m{a=\"1\"} 3\n# EOF\n",
            Format::OpenMetrics100,
            3000,
        );
        r.unwrap();
        assert_eq!(stats.cache_hits, 1);
    }

    #[test]
    fn exemplars_come_from_the_raw_line_on_hits_and_misses() {
        let body =
            "# TYPE c counter\nc_total{a=\"b\"} 1 # {trace_id=\"x\"} 0.5 12.5\nc_total 2\n# EOF\n";
        let mut cache = ScrapeCache::new();
        for ts in [1000, 2000] {
            let (out, stats, r) = run_as(&mut cache, body, Format::OpenMetrics100, ts);
            r.unwrap();
            assert_eq!(stats.cache_hits, usize::from(ts == 2000) * 2);
            assert_eq!(out.exemplars.len(), 1);
            let ex = &out.exemplars[0];
            assert_eq!(ex.labels.get("trace_id"), Some("x"));
            assert_eq!((ex.value, ex.timestamp_ms), (0.5, 12_500));
            assert_eq!(ex.series.get("a"), Some("b"));
        }
    }

    #[test]
    fn growth_while_failing_forces_a_flush() {
        // Failing scrapes (last line malformed) that each cache 1001 new lines: with no good
        // scrape yet the bound is 0 * 2 + 1000, so each one forces a flush, which drops the
        // lines not seen in that scrape.
        let failing = |prefix: &str| {
            let mut body: String = (0..1001)
                .map(|i| format!("{prefix}{{i=\"{i}\"}} 1\n"))
                .collect();
            body.push_str("bad{\n");
            body
        };
        let mut cache = ScrapeCache::new();
        assert!(run(&mut cache, &failing("a"), &settings(), 1000).2.is_err());
        assert_eq!(cache.take_forced_flushes(), 1);
        assert_eq!(cache.len(), 1001);
        assert!(run(&mut cache, &failing("b"), &settings(), 2000).2.is_err());
        assert_eq!(cache.take_forced_flushes(), 1);
        assert_eq!(cache.take_forced_flushes(), 0);
        // Only the lines seen in the latest scrape survive.
        assert_eq!(cache.len(), 1001);
    }

    /// `(name, value, stale)` of each sample, for scrapes of plain `name value` lines.
    fn values(b: &MetricsBatch) -> Vec<(String, f64, bool)> {
        b.samples
            .iter()
            .map(|s| {
                (
                    s.labels.get("__name__").unwrap_or("").to_string(),
                    if is_stale_nan(s.value) { 0.0 } else { s.value },
                    is_stale_nan(s.value),
                )
            })
            .collect()
    }

    fn body_of(lines: &[(&str, f64)]) -> String {
        lines.iter().map(|(k, v)| format!("{k} {v}\n")).collect()
    }

    #[test]
    fn series_order_changing_between_scrapes_hits_the_cache() {
        let mut cache = ScrapeCache::new();
        let (_, stats, r) = run(&mut cache, "a 1\nb 2\nc 3\nd 4\n", &settings(), 1000);
        r.unwrap();
        assert_eq!(stats.series_added, 4);
        for (ts, body) in [
            (2000, "d 5\nc 6\nb 7\na 8\n"),
            (3000, "b 9\nd 10\na 11\nc 12\n"),
            (4000, "b 13\nd 14\na 15\nc 16\n"),
        ] {
            let (out, stats, r) = run(&mut cache, body, &settings(), ts);
            r.unwrap();
            assert_eq!((stats.cache_hits, stats.series_added), (4, 0), "{body}");
            let want: Vec<(String, f64, bool)> = body
                .lines()
                .map(|l| {
                    let (k, v) = l.split_once(' ').unwrap();
                    (k.to_string(), v.parse().unwrap(), false)
                })
                .collect();
            assert_eq!(values(&out), want, "{body}");
            assert!(out.samples.iter().all(|s| s.timestamp_ms == ts));
            assert_eq!(cache.len(), 4);
        }
    }

    #[test]
    fn series_inserted_and_removed_in_the_middle() {
        let mut cache = ScrapeCache::new();
        run(&mut cache, "a 1\nb 2\nc 3\nd 4\ne 5\n", &settings(), 1000)
            .2
            .unwrap();
        // `c` replaced by `x`, and `y` added between `d` and `e`.
        let (out, stats, r) = run(
            &mut cache,
            "a 1\nb 2\nx 3\nd 4\ny 9\ne 5\n",
            &settings(),
            2000,
        );
        r.unwrap();
        assert_eq!((stats.cache_hits, stats.series_added), (4, 2));
        assert_eq!(
            values(&out),
            [
                ("a", 1.0, false),
                ("b", 2.0, false),
                ("x", 3.0, false),
                ("d", 4.0, false),
                ("y", 9.0, false),
                ("e", 5.0, false),
                ("c", 0.0, true),
            ]
            .map(|(n, v, s)| (n.to_string(), v, s))
        );
        assert_eq!(cache.len(), 6);
        assert_eq!(cache.tracked_series(), 6);
        // Steady again; then `c` comes back as a new series.
        let (out, stats, _) = run(
            &mut cache,
            "a 1\nb 2\nx 3\nd 4\ny 9\ne 5\n",
            &settings(),
            3000,
        );
        assert_eq!(
            (stats.cache_hits, stats.series_added, out.samples.len()),
            (6, 0, 6)
        );
        let (out, stats, _) = run(
            &mut cache,
            "a 1\nc 7\nb 2\nx 3\nd 4\ny 9\ne 5\n",
            &settings(),
            4000,
        );
        assert_eq!((stats.cache_hits, stats.series_added), (6, 1));
        assert_eq!(values(&out)[1], ("c".to_string(), 7.0, false));
        assert_eq!(out.samples.len(), 7);
    }

    #[test]
    fn duplicate_lines_in_a_scrape_stay_duplicates_when_warm() {
        let mut cache = ScrapeCache::new();
        for ts in [1000, 2000, 3000] {
            let (out, stats, r) = run(&mut cache, "a 1\nb 2\na 3\nc 4\nc 5\n", &settings(), ts);
            r.unwrap();
            assert_eq!(stats.duplicates, 2, "{ts}");
            assert_eq!((stats.total, stats.added), (5, 5));
            assert_eq!(stats.cache_hits, if ts == 1000 { 2 } else { 5 });
            assert_eq!(
                values(&out),
                [("a", 1.0, false), ("b", 2.0, false), ("c", 4.0, false)].map(|(n, v, s)| (
                    n.to_string(),
                    v,
                    s
                ))
            );
            assert_eq!(cache.len(), 3);
        }
    }

    #[test]
    fn relocated_label_sets_keep_shared_identity() {
        // Scrape 2 adds no set, so its end relocates every set; two spellings of one bucket
        // must still share one set (no stale marker when one spelling goes away).
        let h = "# TYPE h histogram\n";
        let both = format!("{h}h_bucket{{le=\"1\"}} 1\nh_bucket{{le=\"1.0\"}} 1\nx 2\n");
        let mut cache = ScrapeCache::new();
        for ts in [1000, 2000, 3000] {
            let (out, stats, r) = run(&mut cache, &both, &settings(), ts);
            r.unwrap();
            assert_eq!(stats.duplicates, 0, "different keys are not duplicates");
            assert_eq!(out.samples.len(), 3);
        }
        assert_eq!(cache.sets.len(), 2);
        assert!(!cache.sets.wants_relocation());
        let (out, stats, r) = run(
            &mut cache,
            &format!("{h}h_bucket{{le=\"1\"}} 5\n"),
            &settings(),
            4000,
        );
        r.unwrap();
        assert_eq!(stats.cache_hits, 1);
        assert_eq!(
            values(&out),
            [("h_bucket", 5.0, false), ("x", 0.0, true)].map(|(n, v, s)| (n.to_string(), v, s))
        );
        assert_eq!(out.samples[0].labels.get("le"), Some("1.0"));
        assert_eq!(cache.sets.len(), 1);
    }

    /// A number below `n` (xorshift; no RNG dependency, and reproducible).
    fn rand(seed: &mut u64, n: u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed % n
    }

    fn shuffle<T>(items: &mut [T], seed: &mut u64) {
        for i in (1..items.len()).rev() {
            items.swap(i, rand(seed, i as u64 + 1) as usize);
        }
    }

    #[test]
    fn a_target_in_random_order_every_scrape() {
        let names: Vec<String> = (0..300).map(|i| format!("m{{i=\"{i}\"}}")).collect();
        let mut order: Vec<usize> = (0..names.len()).collect();
        let mut cache = ScrapeCache::new();
        let mut seed = 0x9e37_79b9_7f4a_7c15;
        for scrape in 0..6i64 {
            shuffle(&mut order, &mut seed);
            let lines: Vec<(&str, f64)> = order
                .iter()
                .map(|&i| (names[i].as_str(), (i as i64 * 10 + scrape) as f64))
                .collect();
            let (out, stats, r) = run(&mut cache, &body_of(&lines), &settings(), 1000 * scrape);
            r.unwrap();
            assert_eq!(stats.cache_hits, if scrape == 0 { 0 } else { 300 });
            assert_eq!(out.samples.len(), 300, "no stale markers");
            for (s, &i) in out.samples.iter().zip(&order) {
                assert_eq!(s.labels.get("i"), Some(i.to_string().as_str()));
                assert_eq!(s.value, (i as i64 * 10 + scrape) as f64);
            }
        }
        assert_eq!(cache.len(), 300);
    }

    #[test]
    fn disappeared_series_get_one_stale_marker_each() {
        let names: Vec<String> = (0..100).map(|i| format!("s{i}")).collect();
        let all: Vec<(&str, f64)> = names.iter().map(|n| (n.as_str(), 1.0)).collect();
        let mut cache = ScrapeCache::new();
        run(&mut cache, &body_of(&all), &settings(), 1000)
            .2
            .unwrap();
        run(&mut cache, &body_of(&all), &settings(), 2000)
            .2
            .unwrap();
        // Ten in the middle go away.
        let kept: Vec<(&str, f64)> = all
            .iter()
            .enumerate()
            .filter(|(i, _)| !(40..50).contains(i))
            .map(|(_, l)| *l)
            .collect();
        let (out, _, r) = run(&mut cache, &body_of(&kept), &settings(), 3000);
        r.unwrap();
        let mut stale: Vec<String> = values(&out)
            .into_iter()
            .filter(|v| v.2)
            .map(|v| v.0)
            .collect();
        stale.sort();
        let mut want: Vec<String> = (40..50).map(|i| format!("s{i}")).collect();
        want.sort();
        assert_eq!(stale, want);
        assert!(out
            .samples
            .iter()
            .filter(|s| is_stale_nan(s.value))
            .all(|s| s.timestamp_ms == 3000));
        assert_eq!(cache.len(), 90);
        let (out, _, _) = run(&mut cache, &body_of(&kept), &settings(), 4000);
        assert_eq!(out.samples.len(), 90, "marked once");
    }

    /// Random scrape sequences through this cache and the previous implementation
    /// ([`cache_reference`]) must give the same samples, exemplars, stats and cache state.
    #[test]
    fn matches_the_reference_cache_on_random_scrapes() {
        use super::cache_reference::ReferenceCache;
        let universe: Vec<String> = (0..40)
            .map(|i| match i % 5 {
                0 => format!("c{i}_total{{a=\"{i}\"}}"),
                1 => format!("g{i}"),
                // Two spellings of one bucket share a label set.
                2 => format!("h_bucket{{le=\"{}\"}}", i / 5),
                3 => format!("h_bucket{{le=\"{}.0\"}}", i / 5),
                _ => format!("x{{job=\"exposed\",b=\"{i}\"}}"),
            })
            .collect();
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for case in 0..60 {
            let mut ours = ScrapeCache::new();
            let mut theirs = ReferenceCache::new();
            let s = AppendSettings {
                honor_timestamps: rand(&mut seed, 4) != 0,
                track_timestamps_staleness: rand(&mut seed, 3) == 0,
                honor_labels: rand(&mut seed, 2) == 0,
                sample_limit: [0, 0, 25, 35][rand(&mut seed, 4) as usize],
                ..AppendSettings::default()
            };
            let mut order: Vec<usize> = (0..universe.len()).collect();
            let mut present = vec![true; universe.len()];
            for scrape in 0..12i64 {
                match rand(&mut seed, 6) {
                    0 => shuffle(&mut order, &mut seed),
                    1 => {
                        let i = rand(&mut seed, order.len() as u64) as usize;
                        let j = (i + 1) % order.len();
                        order.swap(i, j);
                    }
                    _ => {}
                }
                for p in present.iter_mut() {
                    if rand(&mut seed, 8) == 0 {
                        *p = !*p;
                    }
                }
                let ts = 100_000 * (scrape + 1);
                let openmetrics = rand(&mut seed, 10) == 0;
                let mut body = String::from("# TYPE h histogram\n");
                for &i in order.iter().filter(|&&i| present[i]) {
                    let stamp = match rand(&mut seed, 12) {
                        0 => format!(" {}", ts - 5),
                        1 => format!(" {}", ts + MAX_AHEAD_MS + 1),
                        _ => String::new(),
                    };
                    body.push_str(&format!(
                        "{} {}{stamp}\n",
                        universe[i],
                        rand(&mut seed, 100)
                    ));
                    if rand(&mut seed, 15) == 0 {
                        body.push_str(&format!("{} 7\n", universe[i]));
                    }
                }
                if rand(&mut seed, 20) == 0 {
                    body.push_str("broken{ 1\n");
                }
                let format = if openmetrics {
                    body.push_str("# EOF\n");
                    Format::OpenMetrics100
                } else {
                    Format::PrometheusText004
                };
                let times = ScrapeTimes {
                    default_ms: ts,
                    now_ms: ts,
                };
                let (mut a, mut b) = (MetricsBatch::default(), MetricsBatch::default());
                let empty = rand(&mut seed, 25) == 0;
                let (ra, rb) = if empty {
                    ours.append_failed(ts, &mut a);
                    theirs.append_failed(ts, &mut b);
                    (None, None)
                } else {
                    let (sa, ra) =
                        ours.append_body(body.as_bytes(), format, &target(), &s, times, &mut a);
                    let (sb, rb) =
                        theirs.append_body(body.as_bytes(), format, &target(), &s, times, &mut b);
                    assert_eq!(sa, sb, "case {case} scrape {scrape}\n{body}");
                    if ra.is_err() {
                        ours.append_failed(ts, &mut a);
                        theirs.append_failed(ts, &mut b);
                    }
                    (Some(ra), Some(rb))
                };
                let ctx = format!("case {case} scrape {scrape} {s:?}\n{body}");
                assert_eq!(ra, rb, "{ctx}");
                assert_eq!(comparable(&a), comparable(&b), "{ctx}");
                assert_eq!(a.exemplars, b.exemplars, "{ctx}");
                assert_eq!(ours.len(), theirs.len(), "{ctx}");
                assert_eq!(ours.tracked_series(), theirs.tracked_series(), "{ctx}");
                assert_eq!(ours.take_forced_flushes(), theirs.take_forced_flushes());
            }
        }
    }

    /// Samples in order, except stale markers (whose order is a map's in the reference),
    /// which are compared sorted.
    fn comparable(b: &MetricsBatch) -> (Vec<String>, Vec<String>) {
        let show = |s: &Sample| format!("{:?} {} {}", s.labels, s.timestamp_ms, s.value.to_bits());
        let live = b
            .samples
            .iter()
            .filter(|s| !is_stale_nan(s.value))
            .map(show)
            .collect();
        let mut stale: Vec<String> = b
            .samples
            .iter()
            .filter(|s| is_stale_nan(s.value))
            .map(show)
            .collect();
        stale.sort();
        (live, stale)
    }

    /// CPU time of the calling thread (`/proc/thread-self/schedstat`, nanoseconds): the
    /// machine is shared, so wall time would measure the neighbours.
    fn thread_cpu_ns() -> u64 {
        std::fs::read_to_string("/proc/thread-self/schedstat")
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    /// Timing driver (A/B against [`cache_reference`], the previous implementation), checking
    /// only sample counts: the end-to-end benchmark's shape (500 targets x 1,000 series of 100
    /// counter families, targets taken in a new shuffled order every round so each cache is
    /// cold). Run with
    /// `cargo test --release -p solder-prometheus --lib steady_state_cost -- --ignored --nocapture`.
    #[test]
    #[ignore = "timing driver; run in release"]
    fn steady_state_cost_per_line() {
        use super::cache_reference::ReferenceCache;
        let (targets, series) = (500usize, 1000usize);
        let render = |n: usize| -> String {
            let mut body = String::new();
            for j in 0..series {
                let family = j / 10;
                if j % 10 == 0 {
                    body.push_str(&format!(
                        "# HELP bench_family_{family:03}_total A simulated request counter.\n\
                         # TYPE bench_family_{family:03}_total counter\n"
                    ));
                }
                body.push_str(&format!(
                    "bench_family_{family:03}_total{{handler=\"/api/v1/h{}\",method=\"GET\",\
                     status=\"200\"}} {}\n",
                    j % 10,
                    n * (j + 1)
                ));
            }
            body
        };
        let bodies: Vec<String> = (1..=4).map(render).collect();
        let labels: Vec<Labels> = (0..targets)
            .map(|t| {
                Labels::new(vec![
                    ("instance".into(), format!("127.0.0.1:{}", 20000 + t)),
                    ("job".into(), "bench".into()),
                ])
            })
            .collect();
        let s = settings();
        let mut ours: Vec<ScrapeCache> = (0..targets).map(|_| ScrapeCache::new()).collect();
        let mut theirs: Vec<ReferenceCache> = (0..targets).map(|_| ReferenceCache::new()).collect();
        let mut seed = 0x1234_5678_9abc_def1_u64;
        let mut order: Vec<usize> = (0..targets).collect();
        let mut best = [f64::MAX; 2];
        for round in 0..10usize {
            shuffle(&mut order, &mut seed);
            let body = bodies[round % bodies.len()].as_bytes();
            let ts = 1_000 * (round as i64 + 1);
            let times = ScrapeTimes {
                default_ms: ts,
                now_ms: ts,
            };
            for (which, name) in [(0, "ordered"), (1, "reference")] {
                let mut outs: Vec<MetricsBatch> = Vec::with_capacity(targets);
                let started = thread_cpu_ns();
                for &t in &order {
                    let mut out = MetricsBatch::default();
                    let (_, r) = if which == 0 {
                        ours[t].append_body(
                            body,
                            Format::PrometheusText004,
                            &labels[t],
                            &s,
                            times,
                            &mut out,
                        )
                    } else {
                        theirs[t].append_body(
                            body,
                            Format::PrometheusText004,
                            &labels[t],
                            &s,
                            times,
                            &mut out,
                        )
                    };
                    r.unwrap();
                    outs.push(out);
                }
                let ns = (thread_cpu_ns() - started) as f64 / (targets * series) as f64;
                assert_eq!(
                    outs.iter().map(|o| o.samples.len()).sum::<usize>(),
                    targets * series
                );
                drop(outs);
                if round >= 2 {
                    best[which] = best[which].min(ns);
                }
                println!("round {round} {name}: {ns:.1} CPU ns/line");
            }
        }
        println!(
            "best steady-state round: ordered {:.1}, reference {:.1} CPU ns/line",
            best[0], best[1]
        );
    }
}
