#!/usr/bin/env bash
# End-to-end load benchmark: `recorder loadgen` against the real daemon (native AOT build) and, in
# the same run, against a raw-copy sink (socat copying the same socket straight into a file). Prints
# one line per scenario with both rates, the ratio, drops, the daemon's peak RSS and, for
# compressed runs, the compression ratio. Needs socat (Debian: apt-get install socat).
#
# Usage: tests/Recorder.Benchmarks/e2e-load.sh [seconds per run, default 8]
# Environment:
#   ONLY=REGEX      run only the scenarios whose name matches (grep -E), e.g. ONLY='100 B x4'
#   BIN=PATH        use this recorder binary instead of publishing one
#   BASE_BIN=PATH   also run the daemon from this (baseline) binary in the same run, right after
#                   the candidate, so that an A/B comparison shares the machine's conditions
#   QUEUE=SIZE      ingest.queue (default 256MiB); "beyond" = peak RSS minus the queue
#   REPEAT=N        run each scenario N times (raw baseline each time); with BASE_BIN the order of
#                   candidate and baseline alternates between repetitions
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-8}
only=${ONLY:-.}
queue=${QUEUE:-256MiB}
command -v socat >/dev/null || { echo "needs socat (apt-get install socat)"; exit 2; }
if [ -z "${BIN:-}" ]; then
  dotnet publish src/Recorder/Recorder.csproj -c Release -r linux-x64 -o artifacts/recorder >/dev/null
  BIN=$(pwd)/artifacts/recorder/recorder
fi
bin=$BIN
queue_mib=$(python3 -c "import re; m=re.fullmatch(r'(\d+)\s*([KMG]?)i?B?','$queue'); print(int(m[1])*{'':1/1048576,'K':1/1024,'M':1,'G':1024}[m[2]])")
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
  rm -f "$work/raw.bin"; sync # the next run must not pay for this one's writeback
  echo "$out"
}

daemon() { # daemon-binary producers size compression fsync → loadgen json; sets status_json, rss_kb, ratio
  local dbin=$1; shift
  rm -rf "$work/rec" "$work/run"
  cat > "$work/fleet.yaml" <<YAML
fleet: bench
recording:
  dir: $work/rec
  chunk: { size: 1MiB, max_age: 1s, compression: $3 }
  split: { size: 2GiB, duration: 10m }
  fsync: $4
storage: { min_free_bytes: 64MiB }
ingest: { socket: $work/run/ingest.sock, queue: $queue }
control_socket: $work/run/control.sock
YAML
  "$dbin" run --config "$work/fleet.yaml" > "$work/daemon.log" 2>&1 &
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
  sync
  local file; file=$(find "$work/rec" -name '*.mcap' | head -1)
  ratio=$("$bin" info "$file" --json | python3 -c "import json,sys; d=json.load(sys.stdin); c=d['compression']; print(' '.join(f\"{k}:{v['ratio']}\" for k,v in c.items()))")
  echo "$out"
}

printf '%-40s %12s %12s %9s %8s %7s %8s %8s %s\n' scenario "raw msgs/s" "rec msgs/s" "rec MB/s" "rec/raw" drops "RSS MiB" "beyond" compression
run() { # name producers size compression fsync
  echo "$1" | grep -Eq "$only" || return 0
  local rep
  for rep in $(seq "${REPEAT:-1}"); do
  local r raw_rate
  r=$(raw "$2" "$3")
  raw_rate=$(echo "$r" | json "['msgs_per_s']")
  local label b order="$bin ${BASE_BIN:-}"
  [ $((rep % 2)) -eq 0 ] && order="${BASE_BIN:-} $bin"
  for b in $order; do
    label=$1; [ "$b" != "$bin" ] && label="$1 [base]"
    daemon "$b" "$2" "$3" "$4" "$5" > "$work/loadgen.json"
    local drops rss_mib
    drops=$(echo "$status_json" | json "['dropped_total']")
    rss_mib=$(python3 -c "print($rss_kb/1024)")
    printf '%-40s %12.0f %12.0f %9.1f %7.1f%% %7s %8.1f %8.1f %s\n' "$label" "$raw_rate" "$drained_rate" "$drained_mb" \
      "$(python3 -c "print(100*$drained_rate/$raw_rate)")" "$drops" "$rss_mib" "$(python3 -c "print($rss_mib-$queue_mib)")" "$ratio"
  done
  done
}

run "1 MiB x1, none, fsync never" 1 1048576 none never
run "1 MiB x1, none, fsync chunk" 1 1048576 none chunk
run "100 B x4, none, fsync never" 4 100 none never
run "100 B x4, none, fsync chunk" 4 100 none chunk
run "100 B x4, lz4, fsync chunk" 4 100 lz4 chunk
run "10 KiB x4, zstd, fsync chunk" 4 10240 zstd chunk

# Video: one camera looping a raw 4K H.264 clip (made by ffmpeg) into a topic socket of the daemon,
# flat out, against the same loadgen into socat. The daemon splits access units, stamps them, and
# writes CompressedVideo messages (container) or the stream file plus references (sidecar), with the
# frame index; its rate counts until every frame is written.
video_run() { # name store
  echo "$1" | grep -Eq "$only" || return 0
  command -v ffmpeg >/dev/null || { echo "$1: needs ffmpeg"; return 0; }
  local clip="$work/4k.h264"
  [ -f "$clip" ] || ffmpeg -v error -y -f lavfi -i testsrc2=size=3840x2160:rate=30 -t 2 -pix_fmt yuv420p \
    -c:v libx264 -preset ultrafast -crf 16 -g 30 -bf 0 -f h264 "$clip"
  rm -f "$work/raw.sock" "$work/raw.bin"
  socat -u UNIX-LISTEN:"$work/raw.sock",fork OPEN:"$work/raw.bin",creat,append &
  local socat_pid=$!
  sleep 0.3
  local r; r=$("$bin" loadgen --video "$clip" --socket "$work/raw.sock" --duration "$seconds" --json)
  kill "$socat_pid" 2>/dev/null; wait "$socat_pid" 2>/dev/null || true
  rm -f "$work/raw.bin"; sync
  rm -rf "$work/rec" "$work/run"
  cat > "$work/fleet.yaml" <<YAML
fleet: bench
recording:
  dir: $work/rec
  chunk: { size: 4MiB, max_age: 1s, compression: none }
  fsync: never
storage: { min_free_bytes: 64MiB }
ingest: { socket: $work/run/ingest.sock, queue: $queue }
control_socket: $work/run/control.sock
topics:
  - { topic: /camera/4k, socket: $work/run/cam.sock, format: h264, store: $2 }
YAML
  "$bin" run --config "$work/fleet.yaml" > "$work/daemon.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do [ -S "$work/run/cam.sock" ] && break; sleep 0.05; done
  local start; start=$(date +%s.%N)
  local out; out=$("$bin" loadgen --video "$clip" --socket "$work/run/cam.sock" --duration "$seconds" --json)
  local sent; sent=$(echo "$out" | json "['frames']")
  while true; do
    status_json=$("$bin" status --json --socket "$work/run/control.sock")
    local got; got=$(echo "$status_json" | python3 -c "import json,sys; d=json.load(sys.stdin); print(sum(t['messages']+t['drops'] for t in d['topics'] if t['topic']=='/camera/4k'))")
    # The last frame is known complete only at end of stream: count it as written once the rest are.
    [ "$got" -ge $((sent - 1)) ] && [ "$(echo "$status_json" | json "['queue_bytes']")" -eq 0 ] && break
    sleep 0.02
  done
  local end; end=$(date +%s.%N)
  local rss_kb; rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  kill -TERM "$pid"; wait "$pid"; sync
  local raw_fps; raw_fps=$(echo "$r" | json "['frames_per_s']")
  local frame_bytes; frame_bytes=$(echo "$out" | json "['mean_frame_bytes']")
  local fps; fps=$(python3 -c "print($sent/($end-$start))")
  local indexed=0 vidx n
  for vidx in $(find "$work/rec" -name '*.vidx'); do  # every file of the run (splits by size)
    n=$("$bin" frames "$vidx" --json | json "['topics'][0]['frames']"); indexed=$((indexed + n))
  done
  printf '%-40s %10.1f fps %10.1f fps %9.1f MB/s %7.1f%%  RSS %.0f MiB  frame %s B  indexed %s/%s\n' "$1" "$raw_fps" "$fps" \
    "$(python3 -c "print($fps*$frame_bytes/1e6)")" "$(python3 -c "print(100*$fps/$raw_fps)")" "$(python3 -c "print($rss_kb/1024)")" "$frame_bytes" "$indexed" "$sent"
}

video_run "video 4K h264 x1, container" container
video_run "video 4K h264 x1, sidecar" sidecar
