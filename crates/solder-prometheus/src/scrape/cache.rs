//! The scrape cache of one target (DESIGN.md §5) and the append step built on it: turning one
//! scrape body into samples, exemplars and staleness markers.
//!
//! The cache maps the raw series text of a line (`name{labels}`, exactly as exposed) to the
//! label set already built for it, so a steady-state scrape does no label parsing, merging or
//! validation for series it has seen before: one hash of the raw text and a reference-count
//! bump per line. Staleness follows Prometheus: a series appended in the previous successful
//! scrape but not in this one gets a stale marker, and a failed scrape marks every series of
//! the previous one stale.
//!
//! Lines are read with [`Parser::next_raw`], which only delimits the series key: a cache hit
//! means the identical bytes were fully validated on an earlier scrape, and a miss is validated
//! with [`Parser::validate`] before anything is built from it, so only validated keys ever
//! enter the cache. Because the two formats accept different keys, the cache is cleared when a
//! target's body format changes.

use super::series::{
    exposed_labels, merge_target_labels, validate_series, LabelLimits, SeriesError,
};
use crate::exposition::{Format, MetricType, ParseError, Parser, RawEntry};
use solder_core::signals::metrics::{stale_nan, Exemplar, Labels, MetricsBatch, Sample};
use std::collections::HashMap;

/// Samples more than this far in the future are refused (Prometheus's `maxAheadTime`).
pub const MAX_AHEAD_MS: i64 = 10 * 60 * 1000;

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

struct CacheEntry {
    labels: Labels,
    /// Identity of the final label set, shared by raw spellings that build the same labels.
    id: u64,
    /// The scrape iteration that last saw this line.
    last_iter: u64,
}

/// One target's cache. Not shared: the target's loop owns it.
/// The cache's maps (see the `foldhash` dependency for why this hasher).
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

pub struct ScrapeCache {
    series: Map<Box<str>, CacheEntry>,
    /// Final label set → (id, number of cache entries using it).
    ids: Map<Labels, (u64, usize)>,
    next_id: u64,
    iter: u64,
    /// Series appended (and tracked for staleness) by the last successful scrape / this one.
    prev: Map<u64, Labels>,
    cur: Map<u64, Labels>,
    /// Cache size after the last successful scrape (to bound growth while scrapes fail).
    successful_count: usize,
    /// Flushes forced by growth during failing scrapes, not yet reported.
    forced_flushes: u64,
    /// Format of the body the cached keys were validated for (`None` before the first body).
    format: Option<Format>,
    /// `ids` may hold label sets no cache entry uses any more (after a format change cleared
    /// `series`); pruned at the end of the scrape.
    prune_ids: bool,
}

impl Default for ScrapeCache {
    fn default() -> Self {
        ScrapeCache::new()
    }
}

impl ScrapeCache {
    pub fn new() -> Self {
        ScrapeCache {
            series: Map::default(),
            ids: Map::default(),
            next_id: 1,
            iter: 1,
            prev: Map::default(),
            cur: Map::default(),
            successful_count: 0,
            forced_flushes: 0,
            format: None,
            prune_ids: false,
        }
    }

    /// Number of cached lines.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// Flushes forced since the last call (`prometheus_target_scrapes_cache_flush_forced_total`).
    pub fn take_forced_flushes(&mut self) -> u64 {
        std::mem::take(&mut self.forced_flushes)
    }

    /// Series that would get a stale marker if the target went away now.
    pub fn tracked_series(&self) -> usize {
        self.prev.len()
    }

    /// Keys validated under one format are not known to be valid under the other (text 0.0.4
    /// accepts blanks inside braces and missing commas, OpenMetrics does not), so a format
    /// change drops every cached key. The label-set ids stay (with no users) so a series that
    /// is in both bodies keeps its identity and is not marked stale; unused ones are pruned
    /// when the scrape ends.
    fn use_format(&mut self, format: Format) {
        if self.format.is_some_and(|f| f != format) {
            self.series.clear();
            for (_, refs) in self.ids.values_mut() {
                *refs = 0;
            }
            self.prune_ids = true;
        }
        self.format = Some(format);
    }

    fn id_for(&mut self, labels: &Labels) -> u64 {
        if let Some((id, refs)) = self.ids.get_mut(labels) {
            *refs += 1;
            return *id;
        }
        let id = self.next_id;
        self.next_id += 1;
        self.ids.insert(labels.clone(), (id, 1));
        id
    }

    fn remove_entry_ref(ids: &mut Map<Labels, (u64, usize)>, labels: &Labels) {
        if let Some((_, refs)) = ids.get_mut(labels) {
            *refs -= 1;
            if *refs == 0 {
                ids.remove(labels);
            }
        }
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
                self.cur.clear();
                (stats, Err(e))
            }
        }
    }

    /// A failed (or empty) scrape: every series of the last successful scrape becomes stale.
    pub fn append_failed(&mut self, ts_ms: i64, out: &mut MetricsBatch) {
        self.cur.clear();
        self.append_stale_markers(ts_ms, out);
        self.iter_done(false);
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

            let (labels, id, cached, already_scraped) = match self.series.get_mut(raw.series_key) {
                Some(entry) => {
                    stats.cache_hits += 1;
                    let already = entry.last_iter == self.iter;
                    entry.last_iter = self.iter;
                    (entry.labels.clone(), entry.id, true, already)
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
                    (labels, 0, false, false)
                }
            };
            stats.total += 1;

            let appended = if already_scraped && parsed_ts.is_none() {
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

            let id = if appended && !cached {
                let id = self.id_for(&labels);
                self.series.insert(
                    raw.series_key.into(),
                    CacheEntry {
                        labels: labels.clone(),
                        id,
                        last_iter: self.iter,
                    },
                );
                if !sample_limit_hit {
                    stats.series_added += 1;
                }
                id
            } else {
                id
            };
            if appended {
                if parsed_ts.is_none() || settings.track_timestamps_staleness {
                    self.cur.insert(id, labels.clone());
                }
                if let Some(ex) = raw.has_exemplar().then(|| parser.exemplar(&raw)).flatten() {
                    out.exemplars.push(Exemplar {
                        series: labels.clone(),
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
                    labels,
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
        for (id, labels) in &self.prev {
            if !self.cur.contains_key(id) {
                out.samples.push(Sample {
                    labels: labels.clone(),
                    timestamp_ms: ts_ms,
                    value: stale_nan(),
                });
            }
        }
    }

    /// Prometheus's `iterDone`: after a successful scrape drop lines not seen in it; after a
    /// failed one only when the cache has grown far beyond its last good size. Then this
    /// scrape's series become the ones the next scrape compares against.
    fn iter_done(&mut self, success: bool) {
        let count = self.series.len();
        let flush = if success {
            self.successful_count = count;
            true
        } else {
            let forced = count > self.successful_count * 2 + 1000;
            self.forced_flushes += u64::from(forced);
            forced
        };
        if flush {
            let iter = self.iter;
            let ids = &mut self.ids;
            self.series.retain(|_, e| {
                let keep = e.last_iter == iter;
                if !keep {
                    Self::remove_entry_ref(ids, &e.labels);
                }
                keep
            });
        }
        if std::mem::take(&mut self.prune_ids) {
            self.ids.retain(|_, (_, refs)| *refs > 0);
        }
        std::mem::swap(&mut self.prev, &mut self.cur);
        self.cur.clear();
        self.iter += 1;
    }
}

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
            cache.ids.len(),
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
}
