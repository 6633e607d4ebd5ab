//! A fixed, deterministic workload over the remote-write data path (WAL record → run → request
//! → snappy, as the sender does without relabeling or external labels), for exact instruction
//! counts under callgrind. Ignored by default:
//!
//! ```text
//! cargo test --release -p solder-prometheus --lib remote_write::perf_driver -- --ignored
//! valgrind --tool=callgrind --toggle-collect='*perf_driver*drive*' <test binary> \
//!     remote_write::perf_driver --ignored
//! ```
//!
//! The shape follows `benches/scrape_e2e`: scrapes of 1,000 counter series (six labels each)
//! plus the five report series, sent in requests of 2,000 samples.

use super::encode::SnappyEncoder;
use super::record::encode_record;
use super::request::encode_request;
use super::run::{read_run, split_run, Run};
use bytes::Bytes;
use solder_core::signals::metrics::{Labels, MetricsBatch, Sample};

const SERIES: usize = 1000;
const SCRAPES: usize = 40;
const PER_SEND: usize = 2000;

fn series(target: usize) -> Vec<Labels> {
    let mut out: Vec<Labels> = (0..SERIES)
        .map(|j| {
            Labels::new(vec![
                (
                    "__name__".into(),
                    format!("bench_family_{:03}_total", j / 10),
                ),
                ("handler".into(), format!("/api/v1/h{}", j % 10)),
                ("instance".into(), format!("127.0.0.1:{}", 40000 + target)),
                ("job".into(), "bench".into()),
                ("method".into(), "GET".into()),
                ("status".into(), "200".into()),
            ])
        })
        .collect();
    for name in [
        "up",
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
    ] {
        out.push(Labels::new(vec![
            ("__name__".into(), name.into()),
            ("instance".into(), format!("127.0.0.1:{}", 40000 + target)),
            ("job".into(), "bench".into()),
        ]));
    }
    out
}

/// Everything the sender does to one scrape's samples between the WAL and the socket, for
/// `SCRAPES` scrapes; returns the compressed bytes produced (so nothing is optimised away).
#[inline(never)]
fn drive(labels: &[Labels]) -> usize {
    let mut encoder = SnappyEncoder::new();
    // What a shard holds: runs whose spans index `buffers` (as the sender's `Batch`).
    let mut runs: Vec<(usize, Run)> = Vec::new();
    let mut buffers: Vec<Bytes> = Vec::new();
    let mut held = 0;
    let mut total = 0;
    let mut send = |runs: &mut Vec<(usize, Run)>, buffers: &mut Vec<Bytes>| {
        if let Ok(body) = encoder.encode_to_bytes(|b| encode_request(&[], runs, buffers, b)) {
            total += body.len();
        }
        runs.clear();
        buffers.clear();
    };
    for scrape in 0..SCRAPES {
        let ts = 1_700_000_000_000 + 15_000 * scrape as i64;
        let batch = MetricsBatch {
            samples: labels
                .iter()
                .enumerate()
                .map(|(j, l)| Sample {
                    labels: l.clone(),
                    timestamp_ms: ts,
                    value: (scrape * (j + 1)) as f64,
                })
                .collect(),
            ..Default::default()
        };
        let record = Bytes::from(encode_record(&batch));
        let Ok(Some(mut run)) = read_run(&record) else {
            return 0;
        };
        let one = std::slice::from_ref(&record);
        while held + run.samples > PER_SEND {
            let Ok(Some((head, tail))) = split_run(&run, one, PER_SEND - held) else {
                return 0;
            };
            buffers.push(record.clone());
            runs.push((0, head.rebased(buffers.len() as u32 - 1)));
            send(&mut runs, &mut buffers);
            held = 0;
            run = tail;
        }
        buffers.push(record.clone());
        runs.push((0, run.rebased(buffers.len() as u32 - 1)));
        held += run.samples;
    }
    total
}

#[test]
#[ignore = "a callgrind workload, not a check"]
fn remote_write_data_path() {
    let labels = series(7);
    let n = drive(&labels);
    assert!(n > 0);
}
