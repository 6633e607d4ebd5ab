//! The bundled configs and the first user's configs: each parses, formats idempotently, and
//! passes `solder check` except for the components Solder does not implement yet, which the
//! check names — and nothing else.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use solder_e2e::run_solder;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_solder"))
}

fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

/// Components named by "is not supported by Solder yet" errors, and every other error line.
fn check_errors(path: &Path) -> (bool, BTreeSet<String>, Vec<String>) {
    let out = run_solder(bin(), &["check", path.to_str().unwrap()], None);
    let mut unsupported = BTreeSet::new();
    let mut other = Vec::new();
    for line in out.stderr.lines().filter(|l| l.starts_with("Error: ")) {
        match line.split_once("component \"") {
            Some((_, rest)) if rest.contains("\" is not supported by Solder yet") => {
                unsupported.insert(rest.split('"').next().unwrap().to_string());
            }
            _ => other.push(line.to_string()),
        }
    }
    (out.status.success(), unsupported, other)
}

fn assert_formats_idempotently(path: &Path) {
    let src = std::fs::read_to_string(path).unwrap();
    let once = solder_syntax::printer::format_source(&src).unwrap();
    let twice = solder_syntax::printer::format_source(&once).unwrap();
    assert_eq!(
        once,
        twice,
        "{} does not format idempotently",
        path.display()
    );
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// The config formats idempotently, and `check` fails naming exactly `missing` and nothing else.
fn assert_only_missing_components(rel: &str, missing: &[&str]) {
    let path = repo_file(rel);
    assert_formats_idempotently(&path);
    let (ok, unsupported, other) = check_errors(&path);
    assert!(!ok);
    assert!(other.is_empty(), "unexpected errors: {other:#?}");
    assert_eq!(unsupported, set(missing));
}

#[test]
fn default_config_checks_clean() {
    let path = repo_file("config/default.alloy");
    assert_formats_idempotently(&path);
    let (ok, unsupported, other) = check_errors(&path);
    assert!(
        ok && unsupported.is_empty() && other.is_empty(),
        "{other:?} {unsupported:?}"
    );
}

#[test]
fn seed_rocketchat_config_names_exactly_the_missing_components() {
    assert_only_missing_components(
        "config/examples/rocketchat.alloy",
        &[
            "discovery.kubernetes",
            "loki.source.kubernetes",
            "loki.write",
        ],
    );
}

/// Every component of the seed's traces pipeline exists now: the config checks clean.
#[test]
fn seed_rocketchat_traces_config_checks_clean() {
    let path = repo_file("config/examples/rocketchat-traces.alloy");
    assert_formats_idempotently(&path);
    let (ok, unsupported, other) = check_errors(&path);
    assert!(
        ok && unsupported.is_empty() && other.is_empty(),
        "{other:?} {unsupported:?}"
    );
}

#[test]
fn daemonset_config_names_exactly_the_missing_components() {
    assert_only_missing_components(
        "config/examples/daemonset.alloy",
        &[
            "discovery.kubernetes",
            "local.file_match",
            "loki.process",
            "loki.source.file",
            "loki.write",
            "otelcol.processor.k8sattributes",
        ],
    );
}

/// With the graph errors present, a bad argument of a component that does exist is still
/// reported in the same run.
#[test]
fn check_reports_argument_errors_beside_unsupported_components() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.alloy");
    std::fs::write(
        &cfg,
        "discovery.kubernetes \"a\" {\n  role       = \"pod\"\n  api_server = \"https://127.0.0.1:6443\"\n}\n\ndiscovery.relabel \"b\" {\n  targets = []\n  bogus   = 1\n}\n",
    )
    .unwrap();
    let (ok, unsupported, other) = check_errors(&cfg);
    assert!(!ok);
    assert_eq!(unsupported, set(&["discovery.kubernetes"]));
    assert_eq!(other.len(), 1, "{other:#?}");
    assert!(
        other[0].contains("config.alloy:8:3") && other[0].contains("bogus"),
        "{other:#?}"
    );
}
