#!/usr/bin/env bash
# Runs every test of the workspace, installing the test peers it needs first.
# Used by `.ci/run` and by developers; safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."

# Test peers. The foundation needs none beyond the Rust toolchain; the metrics, logs and traces
# pipelines add theirs here (Prometheus and node_exporter from Debian, OTel SDKs from PyPI/npm).
need_apt=()
for pkg in "$@"; do need_apt+=("$pkg"); done
if [ "${#need_apt[@]}" -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${need_apt[@]}"
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
