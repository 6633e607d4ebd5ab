# Shared by run.sh and ab.sh (sourced): process cleanup, ports, CPU ticks, readiness, and the
# load driver (simulated targets + counting sink) started on core 1.

CLK_TCK=$(getconf CLK_TCK)
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Fields 14 and 15 of /proc/<pid>/stat; the command name (field 2) of both agents has no spaces.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
wait_http() { # url, what
  for _ in $(seq 1 300); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "$2 did not come up at $1" >&2
  exit 1
}

# Starts the load driver ($LOAD) for TARGETS × SERIES every INTERVAL; sets `sink` to its address.
start_load() {
  taskset -c 1 "$LOAD" --targets "$TARGETS" --series "$SERIES" --interval "$INTERVAL" --out "$work" \
    2>"$work/load.log" &
  pids+=("$!")
  for _ in $(seq 1 300); do [ -s "$work/sink.addr" ] && break; sleep 0.2; done
  sink=$(cat "$work/sink.addr")
  wait_http "http://$sink/stats" "the load driver"
}
