//! Fault tests of the metrics pipeline against a real Prometheus 2.42: the backend goes away
//! for a minute, and the agent is `kill -9`ed with undelivered data in its queue. Both count
//! what Solder scraped against what Prometheus stored, by raw sample timestamps: a scrape every
//! `INTERVAL` means consecutive stored timestamps of `up` are never further apart than
//! 1.5 × `INTERVAL` over any period the agent was running.
//!
//! The two tests run in parallel (each has its own Prometheus and agent); the file takes about
//! 90 s, nearly all of it the minute-long outage. Every wait polls against a deadline.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use solder_e2e::prometheus_peer::{max_gap, now_unix, peers_or_skip, Prometheus, SolderProcess};
use std::path::Path;
use std::thread::sleep;
use std::time::Duration;

/// 2 s rather than 1 s: the cores are shared, and a scrape started 0.6 s late must not read as
/// a lost sample. A lost sample still shows: it doubles a gap to 4 s > 1.5 × 2 s.
const INTERVAL: f64 = 2.0;
const MAX_GAP: f64 = 1.5 * INTERVAL;
/// How long the queued backlog gets to reach Prometheus once it is back.
const DRAIN: Duration = Duration::from_secs(90);

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_solder"))
}

/// The agent scrapes its own `/metrics` every `INTERVAL` and remote-writes with a short batch
/// deadline and backoff capped at 1 s, so recovery after an outage starts within a second.
fn config(job: &str, remote_write_url: &str) -> String {
    format!(
        r#"
prometheus.scrape "self" {{
  targets         = [{{"__address__" = "{{{{ADDR}}}}"}}]
  job_name        = "{job}"
  forward_to      = [prometheus.remote_write.default.receiver]
  scrape_interval = "2s"
  scrape_timeout  = "2s"
}}

prometheus.remote_write "default" {{
  external_labels = {{ test = "{job}" }}
  endpoint {{
    url = "{remote_write_url}"
    queue_config {{
      batch_send_deadline = "500ms"
      min_backoff         = "50ms"
      max_backoff         = "1s"
    }}
  }}
}}
"#
    )
}

/// The stored timestamps of `up{job}` between `start` and `end`, once they satisfy `complete`
/// (the backlog may still be arriving); panics with both sides' logs after `DRAIN`.
fn stored_up(
    prom: &Prometheus,
    agent: &SolderProcess,
    job: &str,
    start: f64,
    end: f64,
    complete: impl Fn(&[f64]) -> Result<(), String>,
) -> Vec<f64> {
    let selector = format!(r#"up{{job="{job}"}}"#);
    let mut last = String::new();
    let found = solder_e2e::poll(DRAIN, || {
        let answer = prom.raw_samples(&selector, start, end);
        let verdict = match &answer {
            Ok(series) if series.len() == 1 => {
                let ts = series[0].timestamps();
                let values_ok = series[0].samples.iter().all(|s| s.1 == 1.0);
                match complete(&ts) {
                    Ok(()) if values_ok => return Some(ts),
                    Ok(()) => format!("a sample of up is not 1: {series:?}"),
                    Err(e) => e,
                }
            }
            other => format!("unexpected answer: {other:?}"),
        };
        last = verdict;
        sleep(Duration::from_millis(500));
        None
    });
    found.unwrap_or_else(|| {
        panic!(
            "stored samples of {selector} never became complete in {DRAIN:?}: {last}\n\
             --- solder log:\n{}\n--- prometheus log:\n{}",
            agent.logs(),
            prom.logs()
        )
    })
}

/// Timestamps `ts` cover `[from, to]` with no hole: the first is within one gap of `from`,
/// the last within one gap of `to`, and no two neighbours are more than `MAX_GAP` apart.
fn covers(ts: &[f64], from: f64, to: f64) -> Result<(), String> {
    let (Some(&first), Some(&last)) = (ts.first(), ts.last()) else {
        return Err(format!("no samples in [{from:.1}, {to:.1}]"));
    };
    if first > from + MAX_GAP {
        return Err(format!(
            "first sample {first:.3} is late for {from:.3}: {ts:?}"
        ));
    }
    if last < to - MAX_GAP {
        return Err(format!(
            "last sample {last:.3} is early for {to:.3}: {ts:?}"
        ));
    }
    let gap = max_gap(ts);
    if gap > MAX_GAP {
        return Err(format!("a {gap:.3}s hole (max {MAX_GAP}s): {ts:?}"));
    }
    Ok(())
}

/// Wait until Prometheus has at least one sample of `up{job}`, and return its timestamp.
fn first_arrival(prom: &Prometheus, agent: &SolderProcess, job: &str) -> f64 {
    let series = prom
        .wait_for(
            &format!(r#"up{{job="{job}"}}"#),
            Duration::from_secs(45),
            |s| s[0].value() == 1.0,
        )
        .unwrap_or_else(|e| panic!("{e}\n--- solder log:\n{}", agent.logs()));
    series[0].samples[0].0
}

#[test]
fn prometheus_outage_of_a_minute_loses_no_scrape() {
    let Some(bins) = peers_or_skip("prometheus_outage_of_a_minute_loses_no_scrape") else {
        return;
    };
    let job = "outage";
    let mut prom = Prometheus::start_receiver(&bins);
    let agent = SolderProcess::start(bin(), &config(job, &prom.remote_write_url()), &[]);
    let started = now_unix();
    first_arrival(&prom, &agent, job);
    sleep(Duration::from_secs(4));

    prom.stop();
    let down = now_unix();
    sleep(Duration::from_secs(60));
    prom.start();
    let back = now_unix();
    sleep(Duration::from_secs(6));
    let end = now_unix();

    let ts = stored_up(&prom, &agent, job, started - 1.0, end, |ts| {
        covers(ts, started, end)
    });
    let during: Vec<f64> = ts
        .iter()
        .copied()
        .filter(|&t| t > down && t < back)
        .collect();
    // The outage lasted ~60 s: its scrapes were queued by the agent and delivered afterwards.
    let expected = ((back - down) / INTERVAL).floor() - 1.0;
    assert!(
        during.len() as f64 >= expected,
        "{} samples from the outage, expected at least {expected}: {ts:?}",
        during.len()
    );
    eprintln!(
        "outage: {} samples over {:.1}s, {} of them scraped while Prometheus was down",
        ts.len(),
        end - started,
        during.len()
    );
}

#[test]
fn kill_9_with_a_queued_backlog_delivers_it_after_restart() {
    let Some(bins) = peers_or_skip("kill_9_with_a_queued_backlog_delivers_it_after_restart") else {
        return;
    };
    let job = "crash";
    let mut prom = Prometheus::start_receiver(&bins);
    let mut agent = SolderProcess::start(bin(), &config(job, &prom.remote_write_url()), &[]);
    let started = now_unix();
    first_arrival(&prom, &agent, job);
    sleep(Duration::from_secs(4));

    // Backend down first, so what the agent scrapes next exists only in its on-disk queue when
    // it is killed; then the backend comes back and the agent restarts on the same storage.
    prom.stop();
    sleep(Duration::from_secs(12));
    let killed = now_unix();
    agent.kill9();
    prom.start();
    agent.restart();
    let restarted = now_unix();
    sleep(Duration::from_secs(8));
    let end = now_unix();

    // Before the kill: every scrape that started more than 1.5 s before SIGKILL (so it was
    // appended and acknowledged by the queue long before) must be stored; only one in flight
    // may be lost. `covers` allows the last sample to be MAX_GAP early, hence `killed - 0.5`.
    let before = stored_up(&prom, &agent, job, started - 1.0, killed, |ts| {
        covers(ts, started, killed - 0.5)
    });
    // After the restart: scraping resumes and is delivered as usual.
    let after = stored_up(&prom, &agent, job, restarted, end, |ts| {
        covers(ts, restarted, end)
    });
    eprintln!(
        "crash: {} samples before SIGKILL (over {:.1}s), {} after restart (over {:.1}s)",
        before.len(),
        killed - started,
        after.len(),
        end - restarted
    );
}
