//! Idle footprint driver: starts `solder run` on a config, measures the time until `/-/ready`
//! answers 200 and the resident memory after the agent has settled.
//!
//! Usage: `cargo build --release -p solder && cargo run --release -p solder-benches --bin idle-footprint -- [SOLDER_BIN] [CONFIG] [RUNS]`

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// One raw HTTP/1.0 GET; returns the status code.
fn get_status(port: u16, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_millis(500))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let head = String::from_utf8_lossy(&buf);
    head.split_whitespace().nth(1)?.parse().ok()
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let bin = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "target/release/solder".into());
    let config = args
        .get(2)
        .cloned()
        .unwrap_or_else(|| "config/default.alloy".into());
    let runs: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(5).max(1);
    let mut ready_ms = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..runs {
        let port = free_port()?;
        let storage = tempfile::tempdir()?;
        let start = Instant::now();
        let mut child = Command::new(&bin)
            .arg("run")
            .arg(&config)
            .arg(format!("--server.http.listen-addr=127.0.0.1:{port}"))
            .arg(format!("--storage.path={}", storage.path().display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let deadline = start + Duration::from_secs(10);
        let mut ready = None;
        while Instant::now() < deadline {
            if get_status(port, "/-/ready") == Some(200) {
                ready = Some(start.elapsed());
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        // Let it settle, and exercise /metrics once as a scraper would.
        std::thread::sleep(Duration::from_secs(2));
        let _ = get_status(port, "/metrics");
        std::thread::sleep(Duration::from_secs(1));
        let r = rss_kib(child.id());
        child.kill()?;
        child.wait()?;
        match (ready, r) {
            (Some(t), Some(r)) => {
                ready_ms.push(t.as_secs_f64() * 1000.0);
                rss.push(r);
            }
            _ => return Err("agent did not become ready within 10s".into()),
        }
    }
    ready_ms.sort_by(f64::total_cmp);
    rss.sort();
    println!(
        "runs={runs} ready_ms: min={:.1} median={:.1} max={:.1}; rss_kib: min={} median={} max={}",
        ready_ms[0],
        ready_ms[runs / 2],
        ready_ms[runs - 1],
        rss[0],
        rss[runs / 2],
        rss[runs - 1]
    );
    Ok(())
}
