//! `solder run` end to end: the real binary on a temporary config, a free loopback port and a
//! temporary storage path, driven over its admin API and with signals. Every wait polls against
//! a deadline. The binary comes from `CARGO_BIN_EXE_solder`, which cargo builds before these
//! tests, so they can never run a stale binary (see `tests/lib.rs` for the shared harness).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use solder_e2e::{metric_value, poll, run_solder, Agent};
use std::path::Path;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(15);

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_solder"))
}

/// A file for `local.file` to read, inside the agent's temporary directory.
fn base_config() -> String {
    r#"
local.file "a" {
  filename       = "{{DIR}}/a.txt"
  poll_frequency = "100ms"
}

prometheus.exporter.self "x" { }
"#
    .to_string()
}

fn start_with_file(config: &str) -> Agent {
    // The files must exist before the agent starts or the initial load fails.
    Agent::spawn_prepared(bin(), config, |d| {
        std::fs::write(d.join("a.txt"), "hello").unwrap();
        std::fs::write(d.join("b.txt"), "world").unwrap();
    })
}

fn running(agent: &Agent, health: &str) -> Option<f64> {
    metric_value(
        &agent.metrics(),
        "alloy_component_controller_running_components",
        &[("health_type", health)],
    )
}

#[test]
fn serves_ready_metrics_and_health() {
    let agent = start_with_file(&base_config());
    assert_eq!(
        agent.get("/-/ready"),
        (200, "Alloy is ready.\n".to_string())
    );

    let m = agent.metrics();
    assert!(m.contains("alloy_build_info{"), "{m}");
    assert_eq!(
        metric_value(&m, "alloy_config_last_load_successful", &[]),
        Some(1.0)
    );
    assert_eq!(
        metric_value(&m, "alloy_config_load_failures_total", &[]),
        Some(0.0)
    );
    for name in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_virtual_memory_bytes",
        "process_start_time_seconds",
        "process_open_fds",
        "process_max_fds",
        "alloy_resources_process_resident_memory_bytes",
        "alloy_resources_process_cpu_seconds_total",
    ] {
        assert!(metric_value(&m, name, &[]).is_some(), "missing {name}");
    }
    let healthy = poll(WAIT, || {
        (running(&agent, "healthy") == Some(2.0)).then_some(())
    });
    assert!(healthy.is_some(), "{}", agent.metrics());
    assert_eq!(
        agent.get("/-/healthy"),
        (200, "All Alloy components are healthy.\n".to_string())
    );

    // Deleting the file makes local.file unhealthy; /-/healthy names it with a 503.
    std::fs::remove_file(agent.dir.path().join("a.txt")).unwrap();
    let unhealthy = poll(WAIT, || {
        let (status, body) = agent.get("/-/healthy");
        (status == 503).then_some(body)
    })
    .expect("component turns unhealthy");
    assert_eq!(unhealthy, "unhealthy components: local.file.a\n");
    assert_eq!(running(&agent, "unhealthy"), Some(1.0));
    assert_eq!(running(&agent, "healthy"), Some(1.0));
    let detail = agent.json("/api/v0/web/components/local.file.a");
    assert_eq!(detail["health"]["state"], "unhealthy");
}

#[test]
fn json_api_lists_components_and_never_leaks_secrets() {
    const SECRET: &str = "s3cr3t-Value-7f3a";
    let agent = Agent::spawn_prepared(
        bin(),
        r#"
logging {
  level = "debug"
}

local.file "token" {
  filename  = "{{DIR}}/token"
  is_secret = true
}

local.file "plain" {
  filename = "{{DIR}}/a.txt"
}

prometheus.exporter.self "x" { }
"#,
        |d| {
            std::fs::write(d.join("token"), SECRET).unwrap();
            std::fs::write(d.join("a.txt"), "visible").unwrap();
        },
    );

    let mut ids = agent.component_ids();
    ids.sort();
    assert_eq!(
        ids,
        [
            "local.file.plain",
            "local.file.token",
            "prometheus.exporter.self.x"
        ]
    );
    let list = agent.json("/api/v0/web/components");
    let first = &list[0];
    for field in [
        "name",
        "localID",
        "moduleID",
        "health",
        "referencesTo",
        "referencedBy",
    ] {
        assert!(first.get(field).is_some(), "missing {field} in {first}");
    }

    let plain = agent.json("/api/v0/web/components/local.file.plain");
    assert_eq!(plain["name"], "local.file");
    assert_eq!(plain["label"], "plain");
    assert!(plain["arguments"].to_string().contains("a.txt"), "{plain}");
    assert!(plain["exports"].to_string().contains("visible"), "{plain}");

    let token = agent.json("/api/v0/web/components/local.file.token");
    assert!(token["arguments"].to_string().contains("token"), "{token}");

    // Nowhere: component list, every detail, metrics, the self exporter, logs.
    let mut seen = vec![list.to_string(), agent.metrics()];
    for id in &ids {
        seen.push(
            agent
                .json(&format!("/api/v0/web/components/{id}"))
                .to_string(),
        );
    }
    seen.push(
        agent
            .get("/api/v0/component/prometheus.exporter.self.x/metrics")
            .1,
    );
    // Reload once so the debug logs of a full load cycle are included.
    assert_eq!(agent.post("/-/reload").0, 200);
    seen.push(agent.logs());
    for text in seen {
        assert!(!text.contains(SECRET), "secret leaked in:\n{text}");
    }
}

#[test]
fn reload_over_http_and_sighup_applies_changes() {
    let agent = start_with_file(&base_config());
    let with_b = format!(
        "{}\nlocal.file \"b\" {{\n  filename = \"{{{{DIR}}}}/b.txt\"\n}}\n",
        base_config()
    );
    agent.write_config(&with_b);
    assert_eq!(
        agent.post("/-/reload"),
        (200, "config reloaded\n".to_string())
    );
    let ids = agent.component_ids();
    assert!(ids.contains(&"local.file.b".to_string()), "{ids:?}");

    // SIGHUP: drop `a`, keep `b` and the exporter.
    agent.write_config(
        "local.file \"b\" {\n  filename = \"{{DIR}}/b.txt\"\n}\nprometheus.exporter.self \"x\" { }\n",
    );
    agent.signal("HUP");
    let applied = poll(WAIT, || {
        let ids = agent.component_ids();
        (!ids.contains(&"local.file.a".to_string())).then_some(ids)
    })
    .expect("SIGHUP reload applied");
    assert!(applied.contains(&"local.file.b".to_string()), "{applied:?}");
    assert!(agent.exited().is_none(), "SIGHUP must not stop the agent");
    let m = agent.metrics();
    assert_eq!(
        metric_value(&m, "alloy_config_last_load_successful", &[]),
        Some(1.0)
    );
}

#[test]
fn failed_reload_keeps_the_running_graph() {
    let agent = start_with_file(&base_config());
    agent.write_config("local.file \"a\" {\n  filename = \"{{DIR}}/a.txt\"\n  bogus    = 1\n}\n");
    let (status, body) = agent.post("/-/reload");
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("config.alloy:3:3"),
        "want file:line:col in {body}"
    );

    // Old graph still running and ready.
    let mut ids = agent.component_ids();
    ids.sort();
    assert_eq!(ids, ["local.file.a", "prometheus.exporter.self.x"]);
    assert_eq!(agent.get("/-/ready").0, 200);
    let m = agent.metrics();
    assert_eq!(
        metric_value(&m, "alloy_config_last_load_successful", &[]),
        Some(0.0)
    );
    assert_eq!(
        metric_value(&m, "alloy_config_load_failures_total", &[]),
        Some(1.0)
    );

    // A broken config via SIGHUP is logged and survived too.
    agent.signal("HUP");
    let counted = poll(WAIT, || {
        let m = agent.metrics();
        (metric_value(&m, "alloy_config_load_failures_total", &[]) == Some(2.0)).then_some(())
    });
    assert!(counted.is_some(), "{}", agent.logs());
    assert!(agent.exited().is_none());
    assert!(
        agent.logs().contains("failed to reload config"),
        "{}",
        agent.logs()
    );
}

#[test]
fn component_http_api_serves_self_exporter_metrics() {
    let agent = start_with_file(&base_config());
    let (status, body) = agent.get("/api/v0/component/prometheus.exporter.self.x/metrics");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("alloy_build_info"), "{body}");
    assert_eq!(agent.get("/api/v0/component/local.file.a/metrics").0, 404);
    assert_eq!(agent.get("/api/v0/component/nope.nope.x/metrics").0, 404);
    assert_eq!(agent.get("/no/such/path").0, 404);
}

/// How many async workers the agent says it started with.
fn worker_threads(agent: &Agent) -> usize {
    let logs = agent.logs();
    let start = logs.lines().find(|l| l.contains("starting solder"));
    let workers = start.and_then(|l| l.split(" workers=").nth(1)?.split(' ').next());
    match workers.map(str::parse) {
        Some(Ok(n)) => n,
        _ => panic!("no worker count in the start line:\n{logs}"),
    }
}

#[test]
fn async_workers_never_outnumber_the_cpus_the_agent_may_use() {
    let config = r#"prometheus.exporter.self "x" { }"#;
    let pinned = Agent::start_pinned(bin(), config, "0");
    assert_eq!(worker_threads(&pinned), 1);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let free = Agent::start(bin(), config);
    assert_eq!(worker_threads(&free), cpus.min(2));
}

#[test]
fn sigterm_and_sigint_exit_zero_promptly() {
    for sig in ["TERM", "INT"] {
        let agent = start_with_file(&base_config());
        agent.signal(sig);
        let status = agent
            .wait_exit(Duration::from_secs(10))
            .unwrap_or_else(|| panic!("no exit after SIG{sig}; logs:\n{}", agent.logs()));
        assert!(
            status.success(),
            "SIG{sig}: {status}; logs:\n{}",
            agent.logs()
        );
    }
}

#[test]
fn failed_initial_load_exits_nonzero_with_diagnostics() {
    let agent = Agent::spawn(bin(), "local.file \"a\" {\n  filename = 1 +\n}\n", &[]);
    let status = agent.wait_exit(WAIT).expect("exits");
    assert!(!status.success());
    let logs = agent.logs();
    assert!(
        logs.contains("could not perform the initial load successfully"),
        "{logs}"
    );
    assert!(logs.contains("config.alloy:3:1"), "{logs}");
    assert!(logs.contains("^"), "{logs}");
}

#[test]
fn unsupported_modes_are_refused_clearly() {
    let cases: [(&[&str], &str); 3] = [
        (&["--cluster.enabled=true"], "clustering is not implemented"),
        (&["--config.format=static"], "not supported"),
        (&["--stability.level=nope"], "stability.level"),
    ];
    for (flags, want) in cases {
        let mut args = vec!["run", "does-not-matter.alloy"];
        args.extend_from_slice(flags);
        let out = run_solder(bin(), &args, None);
        assert!(!out.status.success(), "{flags:?}");
        assert!(out.stderr.contains(want), "{flags:?}: {}", out.stderr);
    }
}

#[test]
fn logging_block_switches_format_and_level_on_reload() {
    let agent = start_with_file(&format!(
        "logging {{\n  format = \"json\"\n}}\n{}",
        base_config()
    ));
    assert_eq!(agent.post("/-/reload").0, 200);
    let json_reloaded = |logs: &str| {
        logs.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["msg"] == "config reloaded" && v["level"] == "info")
            .count()
    };
    let seen = poll(WAIT, || (json_reloaded(&agent.logs()) >= 1).then_some(()));
    assert!(seen.is_some(), "no JSON log line:\n{}", agent.logs());

    // Back to logfmt at warn: the info line of the next reload is filtered out.
    agent.write_config(&format!(
        "logging {{\n  level  = \"warn\"\n  format = \"logfmt\"\n}}\n{}",
        base_config()
    ));
    assert_eq!(agent.post("/-/reload").0, 200);
    // A broken config logs at error level, in logfmt.
    agent.write_config("local.file \"a\" {\n  bogus = 1\n}\n");
    assert_eq!(agent.post("/-/reload").0, 400);
    let logged = poll(WAIT, || {
        agent
            .logs()
            .contains("level=error msg=\"failed to reload config\"")
            .then_some(())
    });
    assert!(logged.is_some(), "{}", agent.logs());
    let logs = agent.logs();
    assert_eq!(json_reloaded(&logs), 1, "{logs}");
    assert!(!logs.contains("msg=\"config reloaded\""), "{logs}");
}

#[test]
fn admin_port_speaks_h2c_with_prior_knowledge() {
    use std::io::{Read, Write};
    let agent = start_with_file(&base_config());
    let mut conn = std::net::TcpStream::connect(&agent.addr).unwrap();
    conn.set_read_timeout(Some(WAIT)).unwrap();
    // Client connection preface, then an empty SETTINGS frame (length 0, type 4, stream 0).
    conn.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").unwrap();
    conn.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).unwrap();
    let mut header = [0u8; 9];
    conn.read_exact(&mut header).unwrap();
    assert_eq!(
        header[3], 4,
        "server's first frame must be SETTINGS: {header:?}"
    );
}
