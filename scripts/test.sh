#!/usr/bin/env bash
# Runs every test of the workspace, installing the test peers it needs first.
# Used by `.ci/run` and by developers; safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."

# Test peers. The foundation needs none beyond the Rust toolchain; the metrics, logs and traces
# pipelines add theirs here (Prometheus and node_exporter from Debian, OTel SDKs from PyPI/npm).
need_apt=()
for pkg in "$@"; do need_apt+=("$pkg"); done
# The metrics end-to-end tests (crates/solder/tests/e2e_metrics*.rs, tests/prometheus_peer.rs)
# run a real Prometheus 2.42 and node_exporter; under CI a missing peer fails those tests.
command -v prometheus >/dev/null 2>&1 || need_apt+=(prometheus)
command -v prometheus-node-exporter >/dev/null 2>&1 || need_apt+=(prometheus-node-exporter)
if [ "${#need_apt[@]}" -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${need_apt[@]}"
fi

# The OTLP end-to-end tests (crates/solder/tests/e2e_otlp*.rs) drive the real OpenTelemetry
# Python (PyPI) and Node.js (npm) SDKs, installed pinned into target/otlp-clients.
./scripts/install-otlp-clients.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
