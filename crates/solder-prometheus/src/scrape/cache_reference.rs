//! Tests only: the scrape cache as it was before keys were kept in scrape order (one hash map
//! from raw key to label set, maps of tracked series rebuilt per scrape). Differential tests
//! run random scrape sequences through both and require identical output, so any behaviour
//! the ordered cache changed by accident shows up.

use super::{AppendError, AppendSettings, AppendStats, ScrapeTimes, MAX_AHEAD_MS};
use crate::exposition::{Format, MetricType, Parser, RawEntry};
use crate::scrape::series::{exposed_labels, merge_target_labels, validate_series};
use solder_core::signals::metrics::{stale_nan, Exemplar, Labels, MetricsBatch, Sample};
use std::collections::HashMap;

struct CacheEntry {
    labels: Labels,
    /// Identity of the final label set, shared by raw spellings that build the same labels.
    id: u64,
    /// The scrape iteration that last saw this line.
    last_iter: u64,
}

type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

pub struct ReferenceCache {
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

impl ReferenceCache {
    pub fn new() -> Self {
        ReferenceCache {
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
    /// rollback) and the caller should call [`ReferenceCache::append_failed`]; the stats still
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
