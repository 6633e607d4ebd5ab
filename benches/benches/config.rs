//! Parsing and evaluating a 2,000-line config: what every load and reload pays before any
//! component is built.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use solder_syntax::ast::Stmt;
use solder_syntax::eval::eval_body;
use solder_syntax::parser::parse_file;
use solder_syntax::{FileId, Object, Value};
use std::hint::black_box;

/// A realistic config: repeated DaemonSet-style relabel pipelines, each reading the pod
/// targets and using stdlib calls, objects and string concatenation.
fn generate_config(target_lines: usize) -> String {
    let mut out = String::new();
    let mut i = 0;
    while out.lines().count() < target_lines {
        out.push_str(&format!(
            r#"// pipeline {i}
discovery.relabel "pods_{i}" {{
	targets = discovery.kubernetes.pods.targets

	rule {{
		source_labels = ["__meta_kubernetes_namespace"]
		target_label  = "namespace"
	}}
	rule {{
		source_labels = ["__meta_kubernetes_pod_uid", "__meta_kubernetes_pod_container_name"]
		separator     = "/"
		target_label  = "__path__"
		replacement   = "/var/log/pods/*$1/*.log"
	}}
	rule {{
		source_labels = ["__meta_kubernetes_pod_container_id"]
		regex         = `^(\S+):\/\/.+$`
		target_label  = "container_runtime"
	}}
}}

prometheus.remote_write "rw_{i}" {{
	endpoint {{
		url     = string.format("http://mimir-%d.example:%d/api/v1/push", {i}, 8080 + {i})
		headers = {{
			"X-Scope-OrgID" = coalesce(sys.env("TENANT_{i}"), "anonymous"),
		}}
		queue_config {{
			max_samples_per_send = 2000 * 2
			capacity             = 10000
		}}
	}}
	external_labels = {{
		cluster = string.to_lower("PROD-" + "{i}"),
		node    = coalesce(sys.env("HOSTNAME"), constants.hostname),
	}}
}}

"#
        ));
        i += 1;
    }
    out
}

fn pod_targets(n: usize) -> Value {
    let targets: Vec<Value> = (0..n)
        .map(|i| {
            let mut t = Object::new();
            t.insert(
                "__address__".into(),
                Value::from(format!("10.0.0.{i}:8080")),
            );
            t.insert("__meta_kubernetes_namespace".into(), Value::from("default"));
            t.insert(
                "__meta_kubernetes_pod_name".into(),
                Value::from(format!("pod-{i}")),
            );
            Value::Object(t)
        })
        .collect();
    let mut pods = Object::new();
    pods.insert("targets".into(), Value::Array(targets));
    let mut kubernetes = Object::new();
    kubernetes.insert("pods".into(), Value::Object(pods));
    let mut discovery = Object::new();
    discovery.insert("kubernetes".into(), Value::Object(kubernetes));
    let mut scope = Object::new();
    scope.insert("discovery".into(), Value::Object(discovery));
    Value::Object(scope)
}

fn bench_config(c: &mut Criterion) {
    let src = generate_config(2000);
    let Value::Object(scope) = pod_targets(100) else {
        unreachable!()
    };
    let mut g = c.benchmark_group("config_2000_lines");
    g.throughput(Throughput::Bytes(src.len() as u64));
    g.bench_function("parse", |b| {
        b.iter(|| {
            let (file, diags) = parse_file(black_box(&src), FileId(0));
            assert!(diags.is_empty());
            black_box(file)
        })
    });
    let (file, _) = parse_file(&src, FileId(0));
    g.bench_function("evaluate", |b| {
        b.iter(|| {
            for stmt in &file.body {
                if let Stmt::Block(block) = stmt {
                    let v = eval_body(&block.body, block.name_span(), &scope).unwrap();
                    black_box(v);
                }
            }
        })
    });
    g.bench_function("parse_and_evaluate", |b| {
        b.iter(|| {
            let (file, _) = parse_file(black_box(&src), FileId(0));
            for stmt in &file.body {
                if let Stmt::Block(block) = stmt {
                    black_box(eval_body(&block.body, block.name_span(), &scope).unwrap());
                }
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench_config);
criterion_main!(benches);
