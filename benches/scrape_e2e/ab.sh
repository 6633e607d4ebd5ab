#!/usr/bin/env bash
# A/B of two Solder builds on the end-to-end scrape workload, run side by side: both agents
# scrape the same simulated targets and remote-write to the same sink, pinned to the same core
# (core 0; the load on core 1), so both see the same VM speed at every moment. Sequential runs
# of one binary differ by 5-15% minutes apart on this kind of VM; side by side, the ratio of the
# two agents' CPU times is what is compared. Per-agent samples come from each agent's own
# `prometheus_remote_storage_samples_total`. Each round starts both agents afresh (see the
# loop): compare builds over several rounds, not one.
#
# usage: benches/scrape_e2e/ab.sh A_BINARY B_BINARY   (env: MINUTES=2 WARMUP=40 TARGETS=500
#                                                      SERIES=1000 INTERVAL=15s ROUNDS=4)
set -euo pipefail
cd "$(dirname "$0")/../.."

A=$1
B=$2
MINUTES=${MINUTES:-2}
WARMUP=${WARMUP:-40}
TARGETS=${TARGETS:-500}
SERIES=${SERIES:-1000}
INTERVAL=${INTERVAL:-15s}
ROUNDS=${ROUNDS:-4}
LOAD="${CARGO_TARGET_DIR:-target}/release/scrape-e2e-load"
# shellcheck source=common.sh
. benches/scrape_e2e/common.sh
sent() { # port: samples this agent's remote_write has had acknowledged
  curl -fsS "http://127.0.0.1:$1/metrics" |
    awk '/^prometheus_remote_storage_samples_total/ {s += $NF} END {printf "%.0f", s}'
}
start_load

echo "machine: $(nproc) cpus, $(uname -r); $(date -u +%FT%TZ); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "A = $A"
echo "B = $B"
printf '%-6s %-3s %12s %10s %14s\n' round ab samples/s cpu_s "cpu_s/M_samp"
declare -A port pid
for round in $(seq 1 "$ROUNDS"); do
  # Fresh agents every round, the first to start alternating: where an agent's heap puts its
  # label sets is fixed in its first scrapes and moves its CPU time by up to ~8% for the whole
  # life of the process (cache misses on the series' reference counts), so one pair of
  # processes measures one draw of that, not the builds.
  order="A B"; [ $((round % 2)) -eq 0 ] && order="B A"
  for name in $order; do
    bin=${!name}
    port[$name]=$(free_port)
    rm -rf "$work/data-$name"
    taskset -c 0 "$bin" run "$work/solder.alloy" --storage.path="$work/data-$name" \
      --server.http.listen-addr="127.0.0.1:${port[$name]}" 2>"$work/$name.log" &
    pid[$name]=$!
    pids+=("$!")
  done
  for name in A B; do wait_http "http://127.0.0.1:${port[$name]}/-/ready" "agent $name"; done
  sleep "$WARMUP"
  declare -A c0 s0
  for name in A B; do c0[$name]=$(cpu_ticks "${pid[$name]}"); s0[$name]=$(sent "${port[$name]}"); done
  t0=$(date +%s.%N)
  sleep $((MINUTES * 60))
  t1=$(date +%s.%N)
  for name in A B; do
    c1=$(cpu_ticks "${pid[$name]}"); s1=$(sent "${port[$name]}")
    awk -v r="$round" -v n="$name" -v c0="${c0[$name]}" -v c1="$c1" -v s0="${s0[$name]}" \
        -v s1="$s1" -v t0="$t0" -v t1="$t1" -v hz="$CLK_TCK" 'BEGIN {
      cpu = (c1 - c0) / hz; samples = s1 - s0;
      per_m = samples > 0 ? cpu / (samples / 1e6) : -1;
      printf "%-6s %-3s %12.0f %10.2f %14.3f\n", r, n, samples / (t1 - t0), cpu, per_m
    }'
  done
  for name in A B; do kill "${pid[$name]}" 2>/dev/null || true; wait "${pid[$name]}" 2>/dev/null || true; done
done
