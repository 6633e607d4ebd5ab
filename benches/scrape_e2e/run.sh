#!/usr/bin/env bash
# End-to-end scrape benchmark: an agent scrapes TARGETS simulated targets of SERIES series each
# every INTERVAL and remote-writes everything to a counting sink. The agent runs alone on core 0
# (taskset -c 0), the load (targets + sink, one single-threaded process) on core 1. After WARMUP
# seconds, CPU time (utime+stime from /proc/<pid>/stat) and delivered samples (counted by the
# sink) are measured over MINUTES; peak RSS is VmHWM at the end. Then the same for Prometheus
# `--enable-feature=agent` on the identical config (same targets, interval, remote_write defaults).
#
# usage: benches/scrape_e2e/run.sh            (env: MINUTES=3 WARMUP=30 TARGETS=500 SERIES=1000
#                                               INTERVAL=15s AGENTS="solder prometheus"
#                                               SKIP_BUILD=1 to reuse the release binaries,
#                                               SOLDER_BIN=path to measure another build)
set -euo pipefail
cd "$(dirname "$0")/../.."

MINUTES=${MINUTES:-3}
WARMUP=${WARMUP:-30}
TARGETS=${TARGETS:-500}
SERIES=${SERIES:-1000}
INTERVAL=${INTERVAL:-15s}
AGENTS=${AGENTS:-"solder prometheus"}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
PROMETHEUS=${PROMETHEUS_BIN:-prometheus}

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  cargo build --release -p solder -p solder-benches --bin solder --bin scrape-e2e-load
fi
SOLDER="${SOLDER_BIN:-$TARGET_DIR/release/solder}"
LOAD="$TARGET_DIR/release/scrape-e2e-load"
# shellcheck source=common.sh
. benches/scrape_e2e/common.sh
status_kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
sink_stat() { curl -fsS "http://$sink/stats" | awk -v k="$1" '$1 == k {print $2}'; }
start_load

echo "machine: $(nproc) cpus, $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo), $(uname -r); $(date -u +%FT%TZ)"
echo "workload: $TARGETS targets × $SERIES series every $INTERVAL; warm-up ${WARMUP}s, measured ${MINUTES} min"
printf '%-12s %12s %10s %14s %10s %12s %10s\n' agent samples/s cpu_s "cpu_s/M_samp" "cpu_%" VmHWM_MiB rejected

measure() { # name pid
  local name=$1 pid=$2
  sleep "$WARMUP"
  local c0 s0 t0 c1 s1 t1
  c0=$(cpu_ticks "$pid"); s0=$(sink_stat samples); t0=$(date +%s.%N)
  sleep $((MINUTES * 60))
  c1=$(cpu_ticks "$pid"); s1=$(sink_stat samples); t1=$(date +%s.%N)
  local hwm rejected
  hwm=$(status_kib "$pid" VmHWM); rejected=$(sink_stat rejected)
  awk -v n="$name" -v c0="$c0" -v c1="$c1" -v s0="$s0" -v s1="$s1" -v t0="$t0" -v t1="$t1" \
      -v hz="$CLK_TCK" -v hwm="$hwm" -v rej="$rejected" 'BEGIN {
    cpu = (c1 - c0) / hz; samples = s1 - s0; secs = t1 - t0;
    per_m = samples > 0 ? cpu / (samples / 1e6) : -1;
    printf "%-12s %12.0f %10.2f %14.3f %10.1f %12.1f %10d\n", n, samples / secs, cpu, per_m, 100 * cpu / secs, hwm / 1024, rej
  }'
}

for agent in $AGENTS; do
  port=$(free_port)
  case "$agent" in
    solder)
      taskset -c 0 "$SOLDER" run "$work/solder.alloy" --storage.path="$work/solder-data" \
        --server.http.listen-addr="127.0.0.1:$port" 2>"$work/solder.log" &
      ;;
    prometheus)
      taskset -c 0 "$PROMETHEUS" --enable-feature=agent --config.file="$work/prometheus-agent.yml" \
        --storage.agent.path="$work/prometheus-data" --web.listen-address="127.0.0.1:$port" \
        --log.level=warn 2>"$work/prometheus.log" &
      ;;
    *) echo "unknown agent $agent" >&2; exit 2 ;;
  esac
  pid=$!
  pids+=("$pid")
  wait_http "http://127.0.0.1:$port/-/ready" "$agent"
  measure "$agent" "$pid"
  kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  if [ -s "$work/$agent.log" ]; then
    echo "--- last lines of $agent's log:"; tail -n 5 "$work/$agent.log"
  fi
done
