//! Real metrics peers for the end-to-end tests: a Prometheus 2.42 server (remote-write receiver,
//! PromQL over its HTTP API) and a node_exporter, both from Debian, each on a free loopback port
//! with its own temporary directory; plus [`SolderProcess`], a `solder run` that can be killed
//! and restarted on the same storage path (the crash tests need the queue to survive).
//!
//! Peers are found on `PATH` (`prometheus`, `prometheus-node-exporter` or `node_exporter`) or
//! through `$PROMETHEUS_BIN` / `$NODE_EXPORTER_BIN`. When one is missing, [`peers_or_skip`]
//! prints why and lets the test return early — except under `CI` (any value but empty, `0` or
//! `false`), where a missing peer means the test environment is broken and the test fails.
//!
//! Stopping is SIGTERM then a bounded wait (Prometheus flushes its head on SIGTERM, which the
//! outage tests rely on when they restart it on the same data directory).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::{free_port, poll};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a peer gets to answer `/-/ready` (Prometheus replays its WAL first after a restart).
pub const PEER_START_DEADLINE: Duration = Duration::from_secs(60);
/// How long a peer gets to exit after SIGTERM before it is killed.
const PEER_STOP_DEADLINE: Duration = Duration::from_secs(30);

/// The peer binaries found on this machine.
#[derive(Debug, Clone)]
pub struct PeerBinaries {
    pub prometheus: PathBuf,
    pub node_exporter: PathBuf,
}

/// Look `names` up on `PATH` (first hit wins), after the override variable `env`.
fn locate(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

/// The peers if both are installed.
pub fn find_peers() -> Result<PeerBinaries, String> {
    let prometheus = locate("PROMETHEUS_BIN", &["prometheus"]);
    let node_exporter = locate(
        "NODE_EXPORTER_BIN",
        &["prometheus-node-exporter", "node_exporter"],
    );
    match (prometheus, node_exporter) {
        (Some(prometheus), Some(node_exporter)) => Ok(PeerBinaries {
            prometheus,
            node_exporter,
        }),
        (p, n) => {
            let mut missing = Vec::new();
            if p.is_none() {
                missing.push("prometheus");
            }
            if n.is_none() {
                missing.push("prometheus-node-exporter");
            }
            Err(format!(
                "missing test peer(s): {} (install the Debian packages `prometheus` and \
                 `prometheus-node-exporter`, e.g. via scripts/test.sh, or set PROMETHEUS_BIN / \
                 NODE_EXPORTER_BIN)",
                missing.join(", ")
            ))
        }
    }
}

/// Whether the `CI` variable says we run in CI.
pub fn in_ci() -> bool {
    match std::env::var("CI") {
        Ok(v) => {
            let v = v.trim().to_ascii_lowercase();
            !(v.is_empty() || v == "0" || v == "false")
        }
        Err(_) => false,
    }
}

/// The peers, or `None` after printing a skip notice for `test` (only outside CI: under CI a
/// missing peer panics, so a broken environment can never pass as a green run).
pub fn peers_or_skip(test: &str) -> Option<PeerBinaries> {
    match find_peers() {
        Ok(p) => Some(p),
        Err(why) if in_ci() => panic!("{test}: {why} (CI is set, so this is a failure)"),
        Err(why) => {
            eprintln!("SKIPPED {test}: {why}");
            None
        }
    }
}

/// A child process whose stderr is collected in the background.
struct Proc {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Proc {
    fn spawn(cmd: &mut Command) -> Proc {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
        let log = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().unwrap();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                // Keep the tail only: a long run must not grow the test's memory unboundedly.
                if s.len() > 256 * 1024 {
                    let cut = s.len() - 128 * 1024;
                    let cut = (cut..s.len()).find(|&i| s.is_char_boundary(i)).unwrap_or(0);
                    s.drain(..cut);
                }
                s.push_str(&line);
                s.push('\n');
            }
        });
        Proc { child, log }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    fn logs(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// SIGTERM, wait up to `deadline`, then SIGKILL.
    fn terminate(&mut self, deadline: Duration) {
        if self.exited().is_some() {
            return;
        }
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        if poll(deadline, || self.exited()).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http_client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// GET `url` → (status, body); status 0 when the request itself failed.
fn http_get(client: &reqwest::blocking::Client, url: &str) -> (u16, String) {
    match client.get(url).send() {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.text().unwrap_or_default())
        }
        Err(e) => (0, e.to_string()),
    }
}

/// Seconds since the Unix epoch, as Prometheus's API takes and returns time.
pub fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// One series of a query result: its labels and its (unix seconds, value) samples — one sample
/// for an instant vector, all of them for a range vector or `query_range`.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: BTreeMap<String, String>,
    pub samples: Vec<(f64, f64)>,
}

impl Series {
    /// The last sample's value (an instant vector's only value).
    pub fn value(&self) -> f64 {
        self.samples.last().map(|s| s.1).unwrap_or(f64::NAN)
    }

    /// The sample timestamps in order.
    pub fn timestamps(&self) -> Vec<f64> {
        self.samples.iter().map(|s| s.0).collect()
    }

    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.get(name).map(String::as_str)
    }
}

/// Parse a `[ <unix seconds>, "<value>" ]` pair.
fn parse_pair(v: &serde_json::Value) -> Option<(f64, f64)> {
    let arr = v.as_array()?;
    let ts = arr.first()?.as_f64()?;
    let val = match arr.get(1)?.as_str()? {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        s => s.parse().ok()?,
    };
    Some((ts, val))
}

/// Turn a `/api/v1/query[_range]` JSON answer into series (vector, matrix or scalar).
pub fn parse_query_result(body: &str) -> Result<Vec<Series>, String> {
    let v: serde_json::Value =
        serde_json::from_str(body).map_err(|e| format!("not JSON ({e}): {body}"))?;
    if v["status"] != "success" {
        return Err(format!("query failed: {body}"));
    }
    let data = &v["data"];
    let result = &data["result"];
    match data["resultType"].as_str() {
        Some("scalar") => Ok(vec![Series {
            labels: BTreeMap::new(),
            samples: parse_pair(result).into_iter().collect(),
        }]),
        Some("vector") | Some("matrix") => {
            let items = result
                .as_array()
                .ok_or_else(|| format!("no result: {body}"))?;
            items
                .iter()
                .map(|item| {
                    let labels = item["metric"]
                        .as_object()
                        .map(|m| {
                            m.iter()
                                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                                .collect()
                        })
                        .unwrap_or_default();
                    let samples = if let Some(values) = item["values"].as_array() {
                        values.iter().filter_map(parse_pair).collect()
                    } else {
                        parse_pair(&item["value"]).into_iter().collect()
                    };
                    Ok(Series { labels, samples })
                })
                .collect()
        }
        other => Err(format!("unexpected resultType {other:?}: {body}")),
    }
}

/// A Prometheus server on a loopback port with its own data directory. `stop` + `start` keep
/// the port, config and data directory, as an outage of a real backend would.
pub struct Prometheus {
    bin: PathBuf,
    pub port: u16,
    pub dir: tempfile::TempDir,
    extra_args: Vec<String>,
    proc: Option<Proc>,
    client: reqwest::blocking::Client,
}

/// The config of a Prometheus that only receives remote writes (no scrapes, no rules).
pub const RECEIVER_CONFIG: &str = "global:\n  evaluation_interval: 1m\nscrape_configs: []\n";

impl Prometheus {
    /// A remote-write receiver: empty scrape config, `--web.enable-remote-write-receiver`.
    pub fn start_receiver(bins: &PeerBinaries) -> Prometheus {
        Prometheus::start_with(
            &bins.prometheus,
            RECEIVER_CONFIG,
            &["--web.enable-remote-write-receiver"],
        )
    }

    /// Any config (YAML) and extra flags; waits until `/-/ready` answers 200.
    pub fn start_with(bin: &Path, config_yaml: &str, extra_args: &[&str]) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("prometheus.yml"), config_yaml).unwrap();
        let mut p = Prometheus {
            bin: bin.to_path_buf(),
            port: free_port(),
            dir,
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
            proc: None,
            client: http_client(),
        };
        p.start();
        p
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The URL to put in `prometheus.remote_write`'s `endpoint { url = … }`.
    pub fn remote_write_url(&self) -> String {
        format!("http://{}/api/v1/write", self.addr())
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn pid(&self) -> Option<u32> {
        self.proc.as_ref().map(Proc::pid)
    }

    pub fn is_running(&self) -> bool {
        self.proc.is_some()
    }

    /// (Re)start on the same port and data directory and wait until ready.
    pub fn start(&mut self) {
        assert!(self.proc.is_none(), "Prometheus is already running");
        let mut cmd = Command::new(&self.bin);
        cmd.arg(format!(
            "--config.file={}",
            self.dir.path().join("prometheus.yml").display()
        ))
        .arg(format!("--storage.tsdb.path={}", self.data_dir().display()))
        .arg(format!("--web.listen-address={}", self.addr()))
        // Keep the server local and quiet: no console assets, no update checks.
        .arg("--log.level=warn")
        .args(&self.extra_args);
        self.proc = Some(Proc::spawn(&mut cmd));
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let url = format!("http://{}/-/ready", self.addr());
        let client = self.client.clone();
        let proc = self.proc.as_mut().unwrap();
        let ready = poll(PEER_START_DEADLINE, || {
            if let Some(status) = proc.exited() {
                panic!(
                    "prometheus exited with {status} before ready:\n{}",
                    proc.logs()
                );
            }
            (http_get(&client, &url).0 == 200).then_some(())
        });
        assert!(
            ready.is_some(),
            "prometheus not ready in {PEER_START_DEADLINE:?}:\n{}",
            proc.logs()
        );
    }

    /// SIGTERM and wait for the exit, so the port and data directory are free to restart on.
    pub fn stop(&mut self) {
        if let Some(mut proc) = self.proc.take() {
            proc.terminate(PEER_STOP_DEADLINE);
        }
    }

    /// Everything the running server wrote to stderr.
    pub fn logs(&self) -> String {
        self.proc.as_ref().map(Proc::logs).unwrap_or_default()
    }

    fn api(
        &self,
        path_and_query: &[(&str, String)],
        endpoint: &str,
    ) -> Result<Vec<Series>, String> {
        let url = format!("http://{}{}", self.addr(), endpoint);
        let resp = self
            .client
            .get(url)
            .query(path_and_query)
            .send()
            .map_err(|e| format!("{endpoint}: {e}"))?;
        let body = resp.text().map_err(|e| format!("{endpoint}: {e}"))?;
        parse_query_result(&body)
    }

    /// An instant query evaluated now.
    pub fn query(&self, promql: &str) -> Result<Vec<Series>, String> {
        self.api(&[("query", promql.to_string())], "/api/v1/query")
    }

    /// An instant query evaluated at `time` (unix seconds).
    pub fn query_at(&self, promql: &str, time: f64) -> Result<Vec<Series>, String> {
        self.api(
            &[
                ("query", promql.to_string()),
                ("time", format!("{time:.3}")),
            ],
            "/api/v1/query",
        )
    }

    /// A range query over `[start, end]` every `step` seconds.
    pub fn query_range(
        &self,
        promql: &str,
        start: f64,
        end: f64,
        step: f64,
    ) -> Result<Vec<Series>, String> {
        self.api(
            &[
                ("query", promql.to_string()),
                ("start", format!("{start:.3}")),
                ("end", format!("{end:.3}")),
                ("step", format!("{step}")),
            ],
            "/api/v1/query_range",
        )
    }

    /// The raw stored samples of `selector` between `start` and `end` (unix seconds): the
    /// range-vector query `selector[<end-start>s]` at `end`, which returns every sample as
    /// written, with its original timestamp (no step alignment, no lookback filling).
    pub fn raw_samples(&self, selector: &str, start: f64, end: f64) -> Result<Vec<Series>, String> {
        let range_ms = ((end - start) * 1000.0).ceil().max(1.0) as u64;
        self.query_at(&format!("{selector}[{range_ms}ms]"), end)
    }

    /// Poll `promql` until it returns at least one series satisfying `accept`, or `deadline`.
    pub fn wait_for(
        &self,
        promql: &str,
        deadline: Duration,
        mut accept: impl FnMut(&[Series]) -> bool,
    ) -> Result<Vec<Series>, String> {
        let mut last = Err(String::from("never queried"));
        let found = poll(deadline, || {
            last = self.query(promql);
            match &last {
                Ok(series) if !series.is_empty() && accept(series) => Some(series.clone()),
                _ => {
                    // Poll a live server gently: PromQL is cheap here but the cores are shared.
                    std::thread::sleep(Duration::from_millis(200));
                    None
                }
            }
        });
        found.ok_or_else(|| {
            format!("`{promql}` not satisfied in {deadline:?}; last answer: {last:?}")
        })
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        if let Some(mut proc) = self.proc.take() {
            proc.terminate(Duration::from_secs(5));
        }
    }
}

/// A node_exporter on a loopback port with a small, fast set of collectors.
pub struct NodeExporter {
    pub port: u16,
    proc: Proc,
}

/// Collectors that are cheap and present on any Linux: scrapes stay in the low milliseconds
/// on the shared cores, and the tests can rely on these metric names.
pub const NODE_EXPORTER_COLLECTORS: &[&str] = &["cpu", "loadavg", "meminfo", "time", "uname"];

impl NodeExporter {
    pub fn start(bins: &PeerBinaries) -> NodeExporter {
        let port = free_port();
        let mut cmd = Command::new(&bins.node_exporter);
        cmd.arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--collector.disable-defaults")
            .arg("--log.level=warn");
        for c in NODE_EXPORTER_COLLECTORS {
            cmd.arg(format!("--collector.{c}"));
        }
        let mut proc = Proc::spawn(&mut cmd);
        let client = http_client();
        let url = format!("http://127.0.0.1:{port}/metrics");
        let up = poll(PEER_START_DEADLINE, || {
            if let Some(status) = proc.exited() {
                panic!(
                    "node_exporter exited with {status} before serving:\n{}",
                    proc.logs()
                );
            }
            (http_get(&client, &url).0 == 200).then_some(())
        });
        assert!(up.is_some(), "node_exporter not serving:\n{}", proc.logs());
        NodeExporter { port, proc }
    }

    /// `host:port`, as a scrape target's `__address__`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn stop(mut self) {
        self.proc.terminate(PEER_STOP_DEADLINE);
    }
}

/// A `solder run` that keeps its port and `--storage.path` across `kill9` + `start`, so a test
/// can check that what the agent acknowledged before a crash is delivered after it.
///
/// `{{DIR}}` in the config becomes the temporary directory, `{{ADDR}}` the agent's own
/// `host:port` (chosen before the config is written, so it can scrape itself).
pub struct SolderProcess {
    bin: PathBuf,
    pub addr: String,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    extra_args: Vec<String>,
    proc: Option<Proc>,
    client: reqwest::blocking::Client,
}

impl SolderProcess {
    /// Write the config, start, and wait until `/-/ready` answers 200.
    pub fn start(bin: &Path, config: &str, extra_args: &[&str]) -> SolderProcess {
        let dir = tempfile::tempdir().unwrap();
        let addr = format!("127.0.0.1:{}", free_port());
        let config_path = dir.path().join("config.alloy");
        let text = config
            .replace("{{DIR}}", &dir.path().display().to_string())
            .replace("{{ADDR}}", &addr);
        std::fs::write(&config_path, text).unwrap();
        let mut s = SolderProcess {
            bin: bin.to_path_buf(),
            addr,
            dir,
            config_path,
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
            proc: None,
            client: http_client(),
        };
        s.restart();
        s
    }

    pub fn storage_path(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn pid(&self) -> Option<u32> {
        self.proc.as_ref().map(Proc::pid)
    }

    /// Start again on the same config, port and storage path (after `kill9` or `stop`).
    pub fn restart(&mut self) {
        assert!(self.proc.is_none(), "solder is already running");
        let mut cmd = Command::new(&self.bin);
        cmd.arg("run")
            .arg(&self.config_path)
            .arg(format!("--server.http.listen-addr={}", self.addr))
            .arg(format!("--storage.path={}", self.storage_path().display()))
            .args(&self.extra_args);
        self.proc = Some(Proc::spawn(&mut cmd));
        let url = format!("http://{}/-/ready", self.addr);
        let client = self.client.clone();
        let proc = self.proc.as_mut().unwrap();
        let ready = poll(crate::START_DEADLINE, || {
            if let Some(status) = proc.exited() {
                panic!("solder exited with {status} before ready:\n{}", proc.logs());
            }
            (http_get(&client, &url).0 == 200).then_some(())
        });
        assert!(ready.is_some(), "solder not ready:\n{}", proc.logs());
    }

    /// SIGKILL: no shutdown path runs, as in a crash or an OOM kill.
    pub fn kill9(&mut self) {
        if let Some(mut proc) = self.proc.take() {
            proc.kill9();
        }
    }

    /// SIGTERM and wait for a clean exit (queues drain or persist on the way out).
    pub fn stop(&mut self) {
        if let Some(mut proc) = self.proc.take() {
            proc.terminate(PEER_STOP_DEADLINE);
        }
    }

    pub fn logs(&self) -> String {
        self.proc.as_ref().map(Proc::logs).unwrap_or_default()
    }

    /// GET a path of the admin server: (status, body); status 0 when the request failed.
    pub fn get(&self, path: &str) -> (u16, String) {
        http_get(&self.client, &format!("http://{}{}", self.addr, path))
    }

    /// The agent's own `/metrics` text.
    pub fn metrics(&self) -> String {
        let (status, body) = self.get("/metrics");
        assert_eq!(status, 200, "{body}");
        body
    }
}

impl Drop for SolderProcess {
    fn drop(&mut self) {
        if let Some(mut proc) = self.proc.take() {
            proc.kill9();
        }
    }
}

/// The largest distance between consecutive timestamps (0 for fewer than two).
pub fn max_gap(timestamps: &[f64]) -> f64 {
    timestamps
        .windows(2)
        .map(|w| w[1] - w[0])
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::{max_gap, parse_query_result};

    #[test]
    fn parses_vector_matrix_and_scalar() {
        let vector = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"__name__":"up","job":"a"},"value":[1700000000.5,"1"]}]}}"#;
        let s = parse_query_result(vector).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].label("job"), Some("a"));
        assert_eq!(s[0].samples, vec![(1700000000.5, 1.0)]);

        let matrix = r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"job":"a"},"values":[[1,"0"],[2,"NaN"],[3,"+Inf"]]}]}}"#;
        let s = parse_query_result(matrix).unwrap();
        assert_eq!(s[0].timestamps(), vec![1.0, 2.0, 3.0]);
        assert!(s[0].samples[1].1.is_nan());
        assert_eq!(s[0].value(), f64::INFINITY);

        let scalar = r#"{"status":"success","data":{"resultType":"scalar","result":[5,"42"]}}"#;
        assert_eq!(parse_query_result(scalar).unwrap()[0].value(), 42.0);

        let error = r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#;
        assert!(parse_query_result(error)
            .unwrap_err()
            .contains("parse error"));
        assert!(parse_query_result("<html>").is_err());
    }

    /// The peer itself: Prometheus scrapes node_exporter every second, survives a stop/start
    /// on the same data directory with its samples intact, and PromQL helpers see them.
    #[test]
    fn prometheus_restarts_on_same_data_dir_and_answers_promql() {
        use super::*;
        let Some(bins) = peers_or_skip("prometheus_restarts_on_same_data_dir") else {
            return;
        };
        let node = NodeExporter::start(&bins);
        let config = format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: node\n    \
             static_configs:\n      - targets: ['{}']\n",
            node.addr()
        );
        let mut prom = Prometheus::start_with(&bins.prometheus, &config, &[]);
        let first = prom
            .wait_for("up{job=\"node\"}", Duration::from_secs(20), |s| {
                s[0].value() == 1.0
            })
            .unwrap();
        assert_eq!(first[0].label("instance"), Some(node.addr().as_str()));
        let load = prom.query("node_load1").unwrap();
        assert_eq!(load.len(), 1, "{load:?}");

        let before_stop = now_unix();
        prom.stop();
        assert!(!prom.is_running());
        prom.start();
        let after = now_unix();
        let raw = prom
            .raw_samples("up{job=\"node\"}", before_stop - 60.0, after)
            .unwrap();
        assert_eq!(raw.len(), 1, "{raw:?}");
        let ts = raw[0].timestamps();
        assert!(
            ts.iter().any(|&t| t <= before_stop),
            "samples from before the restart are gone: {ts:?}"
        );
        let range = prom
            .query_range("up", before_stop - 5.0, after, 1.0)
            .unwrap();
        assert!(!range.is_empty());
        node.stop();
    }

    #[test]
    fn max_gap_finds_the_widest_hole() {
        assert_eq!(max_gap(&[]), 0.0);
        assert_eq!(max_gap(&[5.0]), 0.0);
        assert_eq!(max_gap(&[1.0, 2.0, 2.5, 6.0, 7.0]), 3.5);
    }
}
