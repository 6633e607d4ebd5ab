#!/usr/bin/env bash
# Installs the real OpenTelemetry clients the OTLP end-to-end tests drive (Python SDK with the
# gRPC and HTTP/protobuf exporters, JS SDK with the HTTP/JSON exporters) into a private cache,
# pinned by crates/solder/tests/otlp_clients/{requirements.txt,package.json}.
#
# Idempotent: each half is reinstalled only when its pin file changed (a stamp holds its hash).
# Cache: $OTLP_CLIENTS_DIR, default <repo>/target/otlp-clients (the tests look there too).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
src="$repo/crates/solder/tests/otlp_clients"
dest="${OTLP_CLIENTS_DIR:-$repo/target/otlp-clients}"
mkdir -p "$dest"

hash_of() { sha256sum "$1" | cut -d' ' -f1; }

# Python: a virtualenv so the system interpreter stays untouched.
py_stamp="$dest/venv/.solder-stamp"
py_want="$(hash_of "$src/requirements.txt")"
if [ "$(cat "$py_stamp" 2>/dev/null || true)" != "$py_want" ]; then
  echo "== installing OTLP Python clients into $dest/venv"
  rm -rf "$dest/venv"
  python3 -m venv "$dest/venv"
  "$dest/venv/bin/pip" install --quiet --disable-pip-version-check -r "$src/requirements.txt"
  echo "$py_want" > "$py_stamp"
else
  echo "== OTLP Python clients up to date ($dest/venv)"
fi

# Node: install beside a copy of package.json; the test runs the scripts with NODE_PATH.
node_stamp="$dest/node/.solder-stamp"
node_want="$(hash_of "$src/package.json")"
if [ "$(cat "$node_stamp" 2>/dev/null || true)" != "$node_want" ]; then
  echo "== installing OTLP Node clients into $dest/node"
  rm -rf "$dest/node"
  mkdir -p "$dest/node"
  cp "$src/package.json" "$dest/node/package.json"
  (cd "$dest/node" && npm install --silent --no-audit --no-fund --omit=dev)
  echo "$node_want" > "$node_stamp"
else
  echo "== OTLP Node clients up to date ($dest/node)"
fi
