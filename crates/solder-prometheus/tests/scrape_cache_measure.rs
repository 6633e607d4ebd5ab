//! What the scrape cache saves (DESIGN.md §5): the same 10 000-series body appended with a cold
//! cache (every label set built, merged and validated) and with a warm one (steady state).
//!
//! The check that always runs asserts the warm path really takes labels from the cache. The
//! timing is `#[ignore]`d (it is a measurement, not a test); run it with
//! `cargo test -p solder-prometheus --release --test scrape_cache_measure -- --ignored --nocapture`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use solder_core::signals::metrics::{Labels, MetricsBatch};
use solder_prometheus::exposition::Format;
use solder_prometheus::scrape::cache::{AppendSettings, ScrapeCache, ScrapeTimes};
use std::time::Instant;

const SERIES: usize = 10_000;

/// A node-exporter-like body: families of 100 series with three labels each.
fn body() -> String {
    let mut out = String::new();
    for family in 0..SERIES / 100 {
        out.push_str(&format!("# HELP node_metric_{family} Some help.\n"));
        out.push_str(&format!("# TYPE node_metric_{family} gauge\n"));
        for i in 0..100 {
            out.push_str(&format!(
                "node_metric_{family}{{device=\"dev{i}\",mode=\"mode{}\",cpu=\"{}\"}} {}.5\n",
                i % 7,
                i % 16,
                i * 3
            ));
        }
    }
    out
}

fn target() -> Labels {
    Labels::new(vec![
        ("instance".into(), "node-1:9100".into()),
        ("job".into(), "integrations/node_exporter".into()),
    ])
}

fn settings() -> AppendSettings {
    AppendSettings {
        honor_timestamps: true,
        ..AppendSettings::default()
    }
}

fn append(cache: &mut ScrapeCache, body: &str, ts: i64) -> (usize, usize) {
    let mut out = MetricsBatch::default();
    let (stats, result) = cache.append_body(
        body.as_bytes(),
        Format::PrometheusText004,
        &target(),
        &settings(),
        ScrapeTimes {
            default_ms: ts,
            now_ms: ts,
        },
        &mut out,
    );
    result.unwrap();
    (out.samples.len(), stats.cache_hits)
}

#[test]
fn warm_scrapes_take_every_label_set_from_the_cache() {
    let body = body();
    let mut cache = ScrapeCache::new();
    assert_eq!(append(&mut cache, &body, 1), (SERIES, 0));
    assert_eq!(append(&mut cache, &body, 2), (SERIES, SERIES));
    assert_eq!(cache.len(), SERIES);
    assert_eq!(cache.tracked_series(), SERIES);
}

#[test]
#[ignore = "measurement; run with --ignored --nocapture (and --release)"]
fn measure_cold_versus_warm_append() {
    let body = body();
    let rounds = 20;
    let start = Instant::now();
    for r in 0..rounds {
        let mut cache = ScrapeCache::new();
        append(&mut cache, &body, r);
    }
    let cold = start.elapsed() / rounds as u32;

    let mut cache = ScrapeCache::new();
    append(&mut cache, &body, 0);
    let start = Instant::now();
    for r in 0..rounds {
        append(&mut cache, &body, r + 1);
    }
    let warm = start.elapsed() / rounds as u32;
    println!(
        "{SERIES} series, {} bytes: cold {:?} ({:.0} ns/series), warm {:?} ({:.0} ns/series), {:.1}x",
        body.len(),
        cold,
        cold.as_nanos() as f64 / SERIES as f64,
        warm,
        warm.as_nanos() as f64 / SERIES as f64,
        cold.as_secs_f64() / warm.as_secs_f64()
    );
}
