//! Alloy's reactive model against the real binary: `local.file` follows a JSON file of targets,
//! `discovery.relabel` re-evaluates `encoding.from_json(local.file.t.content)` whenever the
//! content changes and is updated in place (no reload, no rebuild); a bad file makes the
//! dependant unhealthy while it keeps its last good output, and a good file heals it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};
use solder_e2e::{metric_value, poll, Agent};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a file change may take to reach the dependant's exports.
const CHANGE_DEADLINE: Duration = Duration::from_secs(10);

const COMPONENT: &str = "/api/v0/web/components/discovery.relabel.r";

/// `poll_frequency` and the `poll` detector make `local.file` re-read the whole file every
/// 100ms, so same-size rewrites within one mtime tick are still seen.
const CONFIG: &str = r#"
local.file "t" {
  filename       = "{{DIR}}/targets.json"
  detector       = "poll"
  poll_frequency = "100ms"
}

discovery.relabel "r" {
  targets = encoding.from_json(local.file.t.content)

  rule {
    target_label = "env"
    replacement  = "reactive"
  }
}
"#;

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_solder"))
}

fn targets_file(agent: &Agent) -> PathBuf {
    agent.dir.path().join("targets.json")
}

/// Replace the file's content in one step (write a sibling, rename over), so the poller never
/// reads a half-written file.
fn write_atomically(path: &Path, content: &str) {
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, content).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn component(agent: &Agent) -> Value {
    agent.json(COMPONENT)
}

fn output(c: &Value) -> Value {
    c["exports"]["output"].clone()
}

fn health_state(c: &Value) -> String {
    c["health"]["state"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Wait until the component's JSON satisfies `want`; panics with the last JSON and the logs.
fn wait_for(agent: &Agent, what: &str, want: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    let got = poll(CHANGE_DEADLINE, || {
        last = component(agent);
        want(&last).then(|| last.clone())
    });
    got.unwrap_or_else(|| {
        panic!(
            "timed out waiting for {what}; last component JSON:\n{last:#}\nlogs:\n{}",
            agent.logs()
        )
    })
}

fn metric(agent: &Agent, name: &str) -> f64 {
    let text = agent.metrics();
    metric_value(&text, name, &[]).unwrap_or_else(|| panic!("{name} missing from:\n{text}"))
}

#[test]
fn file_changes_flow_through_relabel_in_place_and_errors_heal() {
    let agent = Agent::spawn_prepared(bin(), CONFIG, |d| {
        std::fs::write(
            d.join("targets.json"),
            r#"[{"__address__": "a.example:9100"}]"#,
        )
        .unwrap();
    });
    let file = targets_file(&agent);

    // 1. The initial file is reflected, with the rule's label added.
    let first = wait_for(&agent, "the initial targets", |c| {
        output(c) == json!([{"__address__": "a.example:9100", "env": "reactive"}])
    });
    assert_eq!(health_state(&first), "healthy", "{first:#}");

    let ids_before = {
        let mut ids = agent.component_ids();
        ids.sort();
        ids
    };
    assert_eq!(ids_before, ["discovery.relabel.r", "local.file.t"]);
    let evaluations_before = metric(&agent, "alloy_component_evaluation_seconds_count");
    let load_time_before = metric(&agent, "alloy_config_last_load_success_timestamp_seconds");

    // 2. New targets in the file reach the export.
    write_atomically(
        &file,
        r#"[{"__address__": "b.example:9100"}, {"__address__": "c.example:9100", "team": "x"}]"#,
    );
    let second = wait_for(&agent, "the rewritten targets", |c| {
        output(c)
            == json!([
                {"__address__": "b.example:9100", "env": "reactive"},
                {"__address__": "c.example:9100", "env": "reactive", "team": "x"},
            ])
    });
    assert_eq!(health_state(&second), "healthy", "{second:#}");
    // The argument shown by the API follows the new evaluation too.
    assert!(
        second["arguments"].to_string().contains("b.example:9100"),
        "arguments not updated: {:#}",
        second["arguments"]
    );

    // 3. It was updated in place: the controller evaluated it again, but no config load
    //    happened (which is the only path that builds components) and the graph is the same.
    let evaluations_after = metric(&agent, "alloy_component_evaluation_seconds_count");
    assert!(
        evaluations_after > evaluations_before,
        "no evaluation recorded: {evaluations_before} -> {evaluations_after}"
    );
    assert_eq!(
        metric(&agent, "alloy_config_last_load_success_timestamp_seconds"),
        load_time_before,
        "a file change must not reload the config"
    );
    let mut ids_after = agent.component_ids();
    ids_after.sort();
    assert_eq!(ids_after, ids_before);
    assert!(
        !agent.logs().contains("component removed"),
        "a component was replaced:\n{}",
        agent.logs()
    );

    // 4. Invalid JSON: the dependant becomes unhealthy with a message and keeps its last good
    //    output; `/-/healthy` names it.
    write_atomically(&file, r#"[{"__address__": "#);
    let broken = wait_for(&agent, "discovery.relabel.r to become unhealthy", |c| {
        health_state(c) == "unhealthy"
    });
    let message = broken["health"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("component evaluation failed"),
        "unexpected health message: {message:?}"
    );
    assert_eq!(
        output(&broken),
        output(&second),
        "the last good output must be kept"
    );
    let (status, body) = agent.get("/-/healthy");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("discovery.relabel.r"), "{body}");
    assert!(
        !body.contains("local.file.t"),
        "the file itself was readable: {body}"
    );

    // 5. Valid JSON again: healthy, with the new targets.
    write_atomically(&file, r#"[{"__address__": "d.example:9100"}]"#);
    let healed = wait_for(&agent, "discovery.relabel.r to recover", |c| {
        health_state(c) == "healthy"
            && output(c) == json!([{"__address__": "d.example:9100", "env": "reactive"}])
    });
    assert_eq!(
        healed["health"]["message"].as_str(),
        Some("component evaluated"),
        "{healed:#}"
    );
    let healthy = poll(CHANGE_DEADLINE, || {
        let (status, body) = agent.get("/-/healthy");
        (status == 200).then_some(body)
    });
    assert!(
        healthy.is_some(),
        "/-/healthy still failing: {:?}",
        agent.get("/-/healthy")
    );
}
