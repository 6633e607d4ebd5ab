//! Helpers shared by the end-to-end tests: start the real `solder` binary on a temporary
//! config with a free loopback port and a temporary storage path, talk to its admin API, send
//! it signals, and read its metrics. Every wait polls against a deadline; nothing sleeps long.
//!
//! Where the binary comes from: tests that live in the `solder` package pass
//! `env!("CARGO_BIN_EXE_solder")` (cargo builds it first, so it is never stale); tests in this
//! crate's `tests/` call [`solder_bin`], which takes `$SOLDER_BIN` or the `solder` next to the
//! test executable in the same target directory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod prometheus_peer;

pub mod otlp_sink;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long an agent gets to become ready.
pub const START_DEADLINE: Duration = Duration::from_secs(30);

/// The `solder` binary for tests outside the `solder` package.
pub fn solder_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("SOLDER_BIN") {
        return PathBuf::from(p);
    }
    // <target>/<profile>/deps/<test-binary> → <target>/<profile>/solder
    let exe = std::env::current_exe().expect("current test executable");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable lives in <target>/<profile>/deps");
    let bin = profile_dir.join(format!("solder{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} not found: run `cargo build -p solder` first or set SOLDER_BIN",
        bin.display()
    );
    bin
}

/// Where test processes claim ports: one lock file per port.
const PORT_CLAIMS: &str = "solder-test-ports";
/// The ports handed out: 20000..32000, below the kernel's ephemeral range (32768–60999 by
/// default), so no `bind(0)` and no outgoing connection anywhere in the run can be given one.
const PORTS: std::ops::Range<u16> = 20_000..32_000;

/// A free loopback port that stays this test's until the test process exits.
///
/// nextest runs tests as processes side by side, and a port is picked here but bound later by a
/// child (solder, Prometheus, node_exporter). A port that was merely free a moment ago (the old
/// `bind(0)` then close) could be handed to another test in between: a test once sent OTLP to
/// another test's Prometheus. So each port is claimed with an exclusive lock on a file named
/// after it, held until this process exits, and checked free with a bind.
pub fn free_port() -> u16 {
    static CLAIMED: Mutex<Vec<(u16, std::fs::File)>> = Mutex::new(Vec::new());
    let dir = std::env::temp_dir().join(PORT_CLAIMS);
    std::fs::create_dir_all(&dir).expect("port claim directory");
    let span = PORTS.end - PORTS.start;
    // Processes start their search at different places, so they rarely contend.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let offset = ((std::process::id() ^ nanos) % u32::from(span)) as u16;
    let mut claimed = CLAIMED.lock().unwrap_or_else(|e| e.into_inner());
    for i in 0..span {
        let port = PORTS.start + (offset + i) % span;
        if claimed.iter().any(|(p, _)| *p == port) {
            continue;
        }
        let Ok(file) = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(port.to_string()))
        else {
            continue;
        };
        if file.try_lock().is_err() {
            continue;
        }
        if TcpListener::bind(("127.0.0.1", port)).is_err() {
            continue;
        }
        claimed.push((port, file));
        return port;
    }
    panic!("no free loopback port in {PORTS:?}");
}

/// Poll `f` every 50ms until it returns `Some` or `deadline` passes.
pub fn poll<T>(deadline: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + deadline;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A running `solder run` process with its own temporary directory.
pub struct Agent {
    child: Mutex<Child>,
    pid: u32,
    pub addr: String,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    stderr: Arc<Mutex<String>>,
    client: reqwest::blocking::Client,
}

/// What a finished `solder` invocation printed.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Agent {
    /// Write `config` to `<tmp>/config.alloy`, start `solder run` on it and wait until ready.
    /// `{{DIR}}` in the config is replaced by the temporary directory's path.
    pub fn start(bin: &Path, config: &str) -> Agent {
        Agent::spawn_prepared(bin, config, |_| {})
    }

    /// Like [`Agent::start`], after `prepare` has created files in the temporary directory.
    pub fn spawn_prepared(bin: &Path, config: &str, prepare: impl FnOnce(&Path)) -> Agent {
        let agent = Agent::spawn_with(bin, config, &[], prepare);
        agent.wait_ready();
        agent
    }

    /// Wait until `/-/ready` answers 200; panics with the agent's stderr otherwise.
    pub fn wait_ready(&self) {
        let agent = self;
        let ready = poll(START_DEADLINE, || {
            if let Some(status) = agent.exited() {
                panic!(
                    "solder exited with {status} before ready; stderr:\n{}",
                    agent.logs()
                );
            }
            (agent.get("/-/ready").0 == 200).then_some(())
        });
        assert!(
            ready.is_some(),
            "solder not ready in time; stderr:\n{}",
            agent.logs()
        );
    }

    /// Start without waiting for readiness (for configs that must fail).
    pub fn spawn(bin: &Path, config: &str, extra_args: &[&str]) -> Agent {
        Agent::spawn_with(bin, config, extra_args, |_| {})
    }

    /// Like [`Agent::start`], with the agent allowed onto `cpus` only (`taskset -c` syntax).
    pub fn start_pinned(bin: &Path, config: &str, cpus: &str) -> Agent {
        let mut taskset = Command::new("taskset");
        taskset.arg("-c").arg(cpus).arg(bin);
        let agent = Agent::spawn_command(taskset, config, &[], |_| {});
        agent.wait_ready();
        agent
    }

    fn spawn_with(
        bin: &Path,
        config: &str,
        extra_args: &[&str],
        prepare: impl FnOnce(&Path),
    ) -> Agent {
        Agent::spawn_command(Command::new(bin), config, extra_args, prepare)
    }

    /// Starts `command` (the solder binary, or a launcher that execs it) with `run` and the
    /// test's config, listen address and storage path appended.
    fn spawn_command(
        mut command: Command,
        config: &str,
        extra_args: &[&str],
        prepare: impl FnOnce(&Path),
    ) -> Agent {
        let dir = tempfile::tempdir().unwrap();
        prepare(dir.path());
        let config_path = dir.path().join("config.alloy");
        std::fs::write(&config_path, expand(config, dir.path())).unwrap();
        let addr = format!("127.0.0.1:{}", free_port());
        let mut child = command
            .arg("run")
            .arg(&config_path)
            .arg(format!("--server.http.listen-addr={addr}"))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        Agent {
            pid: child.id(),
            child: Mutex::new(child),
            addr,
            dir,
            config_path,
            stderr,
            client,
        }
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Everything the agent wrote to stderr so far.
    pub fn logs(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The exit status, if the process has ended.
    pub fn exited(&self) -> Option<ExitStatus> {
        self.child.lock().unwrap().try_wait().ok().flatten()
    }

    /// Wait for the process to end, at most `deadline`.
    pub fn wait_exit(&self, deadline: Duration) -> Option<ExitStatus> {
        poll(deadline, || self.exited())
    }

    /// Send a signal by name (`HUP`, `TERM`, `INT`) with `kill`.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} failed");
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// GET `path`: (status, body); (0, error) when the request itself failed.
    pub fn get(&self, path: &str) -> (u16, String) {
        Self::answer(self.client.get(self.url(path)).send())
    }

    pub fn post(&self, path: &str) -> (u16, String) {
        Self::answer(self.client.post(self.url(path)).send())
    }

    fn answer(r: reqwest::Result<reqwest::blocking::Response>) -> (u16, String) {
        match r {
            Ok(resp) => {
                let status = resp.status().as_u16();
                (status, resp.text().unwrap_or_default())
            }
            Err(e) => (0, e.to_string()),
        }
    }

    pub fn json(&self, path: &str) -> serde_json::Value {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    pub fn metrics(&self) -> String {
        let (status, body) = self.get("/metrics");
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Replace the config file (with `{{DIR}}` expanded).
    pub fn write_config(&self, config: &str) {
        std::fs::write(&self.config_path, expand(config, self.dir.path())).unwrap();
    }

    /// Ids listed by the JSON API.
    pub fn component_ids(&self) -> Vec<String> {
        self.json("/api/v0/web/components")
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["localID"].as_str().unwrap().to_string())
            .collect()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Ok(mut child) = self.child.lock() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn expand(config: &str, dir: &Path) -> String {
    config.replace("{{DIR}}", &dir.display().to_string())
}

/// Run `solder <args>` to completion with optional stdin.
pub fn run_solder(bin: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.unwrap_or("").to_string();
    // A separate writer so a large output cannot deadlock against unread input; a write error
    // only means the process exited without reading (e.g. it rejected its flags first).
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(input.as_bytes());
    });
    let out = child.wait_with_output().unwrap();
    let _ = writer.join();
    Output {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The value of the series `name{labels…}` in a text exposition, matching every given label.
pub fn metric_value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (series_name, label_part) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            if series_name != name {
                return None;
            }
            let all = labels
                .iter()
                .all(|(k, v)| label_part.contains(&format!("{k}=\"{v}\"")));
            if !all {
                return None;
            }
            value.parse().ok()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_series_by_labels() {
        let text = "# HELP x y\n# TYPE x gauge\nx{a=\"1\",b=\"2\"} 3\nx{a=\"9\"} 4\ny 5\n";
        assert_eq!(metric_value(text, "x", &[("b", "2")]), Some(3.0));
        assert_eq!(metric_value(text, "x", &[("a", "9")]), Some(4.0));
        assert_eq!(metric_value(text, "y", &[]), Some(5.0));
        assert_eq!(metric_value(text, "x", &[("a", "7")]), None);
        assert_eq!(metric_value(text, "z", &[]), None);
    }

    #[test]
    fn claimed_ports_are_distinct_outside_the_ephemeral_range_and_held() {
        let a = free_port();
        let b = free_port();
        assert_ne!(a, b);
        for p in [a, b] {
            assert!(PORTS.contains(&p), "{p}");
            // Another open of the claim file (as another test process would make) cannot
            // take the lock while this process holds it.
            let other =
                std::fs::File::open(std::env::temp_dir().join(PORT_CLAIMS).join(p.to_string()))
                    .unwrap();
            assert!(other.try_lock().is_err(), "port {p} is not held");
            // And the port itself is free for the child that will bind it.
            TcpListener::bind(("127.0.0.1", p)).unwrap();
        }
    }
}
