#!/usr/bin/env bash
# End-to-end load benchmark: `recorder loadgen` against the real daemon (native AOT build) and, in
# the same run, against a raw-copy sink (socat copying the same socket straight into a file). Prints
# one line per scenario with both rates, the ratio, drops, the daemon's peak RSS and, for
# compressed runs, the compression ratio. Needs socat (Debian: apt-get install socat).
#
# Usage: tests/Recorder.Benchmarks/e2e-load.sh [seconds per run, default 8]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-8}
command -v socat >/dev/null || { echo "needs socat (apt-get install socat)"; exit 2; }
dotnet publish src/Recorder/Recorder.csproj -c Release -r linux-x64 -o artifacts/recorder >/dev/null
bin=$(pwd)/artifacts/recorder/recorder
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT

json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }

raw() { # producers size → msgs/s mb/s
  rm -f "$work/raw.sock" "$work/raw.bin"
  socat -u UNIX-LISTEN:"$work/raw.sock",fork OPEN:"$work/raw.bin",creat,append &
  local socat_pid=$!
  sleep 0.3
  local out; out=$("$bin" loadgen --socket "$work/raw.sock" --producers "$1" --size "$2" --duration "$seconds" --json)
  kill "$socat_pid" 2>/dev/null; wait "$socat_pid" 2>/dev/null || true
  echo "$out"
}

daemon() { # producers size compression fsync → loadgen json; sets status_json, rss_kb, ratio
  rm -rf "$work/rec" "$work/run"
  cat > "$work/fleet.yaml" <<YAML
fleet: bench
recording:
  dir: $work/rec
  chunk: { size: 1MiB, max_age: 1s, compression: $3 }
  split: { size: 2GiB, duration: 10m }
  fsync: $4
storage: { min_free_bytes: 64MiB }
ingest: { socket: $work/run/ingest.sock, queue: 256MiB }
control_socket: $work/run/control.sock
YAML
  "$bin" run --config "$work/fleet.yaml" > "$work/daemon.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do [ -S "$work/run/control.sock" ] && break; sleep 0.05; done
  local start; start=$(date +%s.%N)
  local out; out=$("$bin" loadgen --socket "$work/run/ingest.sock" --producers "$1" --size "$2" --duration "$seconds" --json)
  local sent; sent=$(echo "$out" | json "['messages']")
  # The daemon's rate counts until everything sent is written (the queue absorbs a burst).
  while true; do
    status_json=$("$bin" status --json --socket "$work/run/control.sock")
    local got; got=$(echo "$status_json" | python3 -c "import json,sys; d=json.load(sys.stdin); print(sum(t['messages']+t['drops'] for t in d['topics'] if t['topic'].startswith('/loadgen/')))")
    local queued; queued=$(echo "$status_json" | json "['queue_bytes']")
    [ "$got" -ge "$sent" ] && [ "$queued" -eq 0 ] && break
    sleep 0.02
  done
  local end; end=$(date +%s.%N)
  drained_rate=$(python3 -c "print($sent/($end-$start))")
  drained_mb=$(python3 -c "print($sent*$2/($end-$start)/1e6)")
  rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  kill -TERM "$pid"; wait "$pid"
  local file; file=$(find "$work/rec" -name '*.mcap' | head -1)
  ratio=$("$bin" info "$file" --json | python3 -c "import json,sys; d=json.load(sys.stdin); c=d['compression']; print(' '.join(f\"{k}:{v['ratio']}\" for k,v in c.items()))")
  echo "$out"
}

printf '%-34s %12s %12s %9s %10s %7s %8s %s\n' scenario "raw msgs/s" "rec msgs/s" "rec MB/s" "rec/raw" drops "RSS MiB" compression
run() { # name producers size compression fsync
  local r d
  r=$(raw "$2" "$3")
  daemon "$2" "$3" "$4" "$5" > "$work/loadgen.json"
  d=$(cat "$work/loadgen.json")
  local raw_rate rec_rate rec_mb drops
  raw_rate=$(echo "$r" | json "['msgs_per_s']")
  rec_rate=$drained_rate
  rec_mb=$drained_mb
  drops=$(echo "$status_json" | json "['dropped_total']")
  printf '%-34s %12.0f %12.0f %9.1f %9.1f%% %7s %8.1f %s\n' "$1" "$raw_rate" "$rec_rate" "$rec_mb" \
    "$(python3 -c "print(100*$rec_rate/$raw_rate)")" "$drops" "$(python3 -c "print($rss_kb/1024)")" "$ratio"
}

run "1 MiB x1, none, fsync never" 1 1048576 none never
run "1 MiB x1, none, fsync chunk" 1 1048576 none chunk
run "100 B x4, none, fsync never" 4 100 none never
run "100 B x4, none, fsync chunk" 4 100 none chunk
run "100 B x4, lz4, fsync chunk" 4 100 lz4 chunk
run "10 KiB x4, zstd, fsync chunk" 4 10240 zstd chunk
