//! The metrics pipeline end to end: the real `solder` binary scrapes a real node_exporter, its
//! own `/metrics` and a dead address every second, and remote-writes to a real Prometheus 2.42
//! with `external_labels`. Everything is asserted through PromQL on the receiving Prometheus,
//! so the test sees exactly what a user's backend would store.
//!
//! Peers come from Debian (`scripts/test.sh` installs them). Without them the tests print a
//! skip notice and pass, except under `CI`, where they fail (see `tests/prometheus_peer.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use solder_e2e::free_port;
use solder_e2e::prometheus_peer::{
    max_gap, now_unix, peers_or_skip, NodeExporter, Prometheus, Series, SolderProcess,
};
use std::path::Path;
use std::time::Duration;

/// Time for the first samples to travel scrape → queue → Prometheus.
const ARRIVE: Duration = Duration::from_secs(45);

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_solder"))
}

/// Scrape node_exporter every second into `prometheus.remote_write.default`.
fn node_scrape(node: &str) -> String {
    format!(
        r#"
prometheus.scrape "node" {{
  targets         = [{{"__address__" = "{node}"}}]
  forward_to      = [prometheus.remote_write.default.receiver]
  scrape_interval = "1s"
  scrape_timeout  = "1s"
}}
"#
    )
}

/// Scrape node_exporter, the agent itself and a closed port every second; one remote_write
/// with external labels and short batching/backoff so data lands within a second or two.
fn pipeline_config(node: &str, dead: &str, remote_write_url: &str) -> String {
    node_scrape(node)
        + &format!(
            r#"
prometheus.scrape "self" {{
  targets         = [{{"__address__" = "{{{{ADDR}}}}"}}]
  job_name        = "solder-self"
  forward_to      = [prometheus.remote_write.default.receiver]
  scrape_interval = "1s"
  scrape_timeout  = "1s"
}}

prometheus.scrape "dead" {{
  targets         = [{{"__address__" = "{dead}", "team" = "e2e"}}]
  forward_to      = [prometheus.remote_write.default.receiver]
  scrape_interval = "1s"
  scrape_timeout  = "500ms"
}}

prometheus.remote_write "default" {{
  external_labels = {{
    cluster = "e2e-cluster",
    replica = "r1",
  }}
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

/// The single series `promql` returns once its value satisfies `ok`; panics with the agent's
/// log otherwise (a missing series is the usual failure, and the log says why).
fn one_series(
    prom: &Prometheus,
    agent: &SolderProcess,
    promql: &str,
    ok: impl Fn(f64) -> bool,
) -> Series {
    let found = prom.wait_for(promql, ARRIVE, |s| s.len() == 1 && ok(s[0].value()));
    match found {
        Ok(mut s) => s.remove(0),
        Err(e) => panic!("{e}\n--- solder log:\n{}", agent.logs()),
    }
}

/// `MemTotal` from /proc/meminfo in bytes: node_exporter reports exactly this value.
fn mem_total_bytes() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0)
}

/// node_exporter's `node_memory_MemTotal_bytes` arrived with the value the test knows.
fn assert_mem_total(prom: &Prometheus, agent: &SolderProcess, node: &NodeExporter) {
    if let Some(expected) = mem_total_bytes() {
        let mem = one_series(
            prom,
            agent,
            r#"node_memory_MemTotal_bytes{job="prometheus.scrape.node"}"#,
            |_| true,
        );
        assert_eq!(mem.value(), expected, "{mem:?}");
        assert_eq!(mem.label("instance"), Some(node.addr().as_str()));
    }
}

#[test]
fn scrapes_node_exporter_and_itself_into_prometheus() {
    let Some(bins) = peers_or_skip("scrapes_node_exporter_and_itself_into_prometheus") else {
        return;
    };
    let prom = Prometheus::start_receiver(&bins);
    let node = NodeExporter::start(&bins);
    let dead = format!("127.0.0.1:{}", free_port());
    let config = pipeline_config(&node.addr(), &dead, &prom.remote_write_url());
    let agent = SolderProcess::start(bin(), &config, &[]);
    let started = now_unix();

    // `up` of a live target is 1, with the default job (the component ID), the target address
    // as instance, and both external labels.
    let up = one_series(&prom, &agent, r#"up{job="prometheus.scrape.node"}"#, |v| {
        v == 1.0
    });
    assert_eq!(up.label("instance"), Some(node.addr().as_str()), "{up:?}");
    assert_eq!(up.label("cluster"), Some("e2e-cluster"), "{up:?}");
    assert_eq!(up.label("replica"), Some("r1"), "{up:?}");

    // A node_exporter metric with a value the test can know independently.
    assert_mem_total(&prom, &agent, &node);
    let load = one_series(
        &prom,
        &agent,
        r#"node_load1{job="prometheus.scrape.node", cluster="e2e-cluster"}"#,
        |v| v >= 0.0,
    );
    assert!(load.value().is_finite());

    // The synthetic series agree with what node_exporter serves: every sample line counted.
    let scraped = one_series(
        &prom,
        &agent,
        r#"scrape_samples_scraped{job="prometheus.scrape.node"}"#,
        |v| v > 0.0,
    );
    let direct = reqwest::blocking::get(format!("http://{}/metrics", node.addr()))
        .unwrap()
        .text()
        .unwrap();
    let lines = direct
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count() as f64;
    // Counts of a live exporter can move by a series or two between two scrapes (a new HTTP
    // status code in promhttp's own counter), never by more.
    assert!(
        (scraped.value() - lines).abs() <= 3.0,
        "scrape_samples_scraped {} vs {lines} lines served",
        scraped.value()
    );
    one_series(
        &prom,
        &agent,
        r#"scrape_duration_seconds{job="prometheus.scrape.node"}"#,
        |v| v > 0.0 && v < 1.0,
    );

    // The agent's own metrics, scraped over HTTP, with the configured job name.
    let self_up = one_series(&prom, &agent, r#"up{job="solder-self"}"#, |v| v == 1.0);
    assert_eq!(self_up.label("instance"), Some(agent.addr.as_str()));
    one_series(
        &prom,
        &agent,
        r#"alloy_config_last_load_successful{job="solder-self", cluster="e2e-cluster"}"#,
        |v| v == 1.0,
    );
    let build = one_series(
        &prom,
        &agent,
        r#"alloy_build_info{job="solder-self"}"#,
        |v| v == 1.0,
    );
    assert_eq!(build.label("replica"), Some("r1"));

    // A closed port: `up` is 0 and the target's own labels still arrive.
    let dead_up = one_series(&prom, &agent, r#"up{job="prometheus.scrape.dead"}"#, |v| {
        v == 0.0
    });
    assert_eq!(dead_up.label("instance"), Some(dead.as_str()));
    assert_eq!(dead_up.label("team"), Some("e2e"));

    // Every series in this Prometheus came through Solder, so every one carries both external
    // labels and no `__`-prefixed label survived.
    let unlabelled = prom
        .query(r#"count({__name__=~".+", cluster!="e2e-cluster"}) or count({__name__=~".+", replica!="r1"})"#)
        .unwrap();
    assert!(
        unlabelled.is_empty(),
        "series without external labels: {unlabelled:?}"
    );
    let names = prom
        .query(r#"count by (__name__) ({__name__=~".+"})"#)
        .unwrap();
    assert!(names.len() > 20, "{names:?}");

    // One sample per second per target, with no holes, over the first several seconds.
    let ts = solder_e2e::poll(ARRIVE, || {
        let end = now_unix();
        let raw = prom
            .raw_samples(r#"up{job="prometheus.scrape.node"}"#, started, end)
            .ok()?;
        let ts = raw.first()?.timestamps();
        if ts.len() >= 6 {
            Some(ts)
        } else {
            std::thread::sleep(Duration::from_millis(500));
            None
        }
    })
    .expect("six scrapes of node_exporter stored");
    assert!(max_gap(&ts) <= 1.5, "gap in 1s scrapes: {ts:?}");
    assert!(
        ts[0] - started <= 1.5,
        "first scrape late: {started} vs {ts:?}"
    );

    // The agent reports the pipeline as healthy.
    let (status, body) = agent.get("/api/v0/web/components");
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains("\"unhealthy\""), "{body}");
    node.stop();
}

/// The canonical self-monitoring pipeline: `prometheus.exporter.self` targets scraped in-memory
/// (no port), job `integrations/self`.
#[test]
fn exporter_self_pipeline_reaches_prometheus() {
    let Some(bins) = peers_or_skip("exporter_self_pipeline_reaches_prometheus") else {
        return;
    };
    let prom = Prometheus::start_receiver(&bins);
    let config = format!(
        r#"
prometheus.exporter.self "x" {{ }}

prometheus.scrape "self" {{
  targets         = prometheus.exporter.self.x.targets
  forward_to      = [prometheus.remote_write.default.receiver]
  scrape_interval = "1s"
  scrape_timeout  = "1s"
}}

prometheus.remote_write "default" {{
  external_labels = {{ cluster = "e2e-self" }}
  endpoint {{
    url = "{}"
    queue_config {{ batch_send_deadline = "500ms" }}
  }}
}}
"#,
        prom.remote_write_url()
    );
    let agent = SolderProcess::start(bin(), &config, &[]);
    let up = one_series(&prom, &agent, r#"up{job="integrations/self"}"#, |v| {
        v == 1.0
    });
    assert_eq!(up.label("cluster"), Some("e2e-self"));
    // instance is the host name, as Alloy sets it for exporter targets.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    if !host.trim().is_empty() {
        assert_eq!(up.label("instance"), Some(host.trim()), "{up:?}");
    }
    one_series(
        &prom,
        &agent,
        r#"alloy_config_last_load_successful{job="integrations/self"}"#,
        |v| v == 1.0,
    );
}

/// Without external labels or relabeling, `prometheus.remote_write` sends a record's samples as
/// the WAL holds them (series that list samples before labels), cut at series boundaries into
/// requests of `max_samples_per_send`. Prometheus must decode every series of every request.
#[test]
fn unrewritten_records_reach_prometheus_whole() {
    let Some(bins) = peers_or_skip("unrewritten_records_reach_prometheus_whole") else {
        return;
    };
    let prom = Prometheus::start_receiver(&bins);
    let node = NodeExporter::start(&bins);
    let config = node_scrape(&node.addr())
        + &format!(
            r#"
prometheus.remote_write "default" {{
  endpoint {{
    url = "{}"
    queue_config {{
      batch_send_deadline  = "500ms"
      max_samples_per_send = 97
    }}
  }}
}}
"#,
            prom.remote_write_url()
        );
    let agent = SolderProcess::start(bin(), &config, &[]);
    one_series(&prom, &agent, r#"up{job="prometheus.scrape.node"}"#, |v| {
        v == 1.0
    });
    assert_mem_total(&prom, &agent, &node);
    // Every series of the scrape is stored: node_exporter's sample lines plus the five
    // synthetic series, as the agent counted them.
    let scraped = one_series(
        &prom,
        &agent,
        r#"scrape_samples_scraped{job="prometheus.scrape.node"}"#,
        |v| v > 100.0,
    );
    let stored = one_series(
        &prom,
        &agent,
        r#"count({job="prometheus.scrape.node"})"#,
        |v| v > 100.0,
    );
    // A live exporter's series count can move by one or two between scrapes.
    assert!(
        (stored.value() - (scraped.value() + 5.0)).abs() <= 3.0,
        "{} series stored, {} scraped",
        stored.value(),
        scraped.value()
    );
    let (_, metrics) = agent.get("/metrics");
    let failed = metrics
        .lines()
        .filter(|l| l.starts_with("prometheus_remote_storage_samples_failed_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>();
    assert_eq!(failed, 0.0, "{metrics}");
    node.stop();
}
