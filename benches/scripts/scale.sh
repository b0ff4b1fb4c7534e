#!/usr/bin/env bash
# The scale measurements of docs/performance.md (issue 14), end to end:
# release build; for 10^6 and 10^7 identifiers: generate the JSON lines,
# import them (rate), store size on disk (bytes per identifier), then start
# the node COLD (fresh process) and run three consecutive 8-second UDP rounds
# against it, with a do-nothing answerer measured just before and just after
# (the same minute, the same machine noise), and the daemon's RSS.
#   benches/scripts/scale.sh [WORKDIR]     (default target/scale)
# Environment: SIZES ("1000000 10000000"), SECONDS_PER_RUN (8), POOL (1000000
# distinct requests prepared per load thread), BUDGET (unset = the default
# [store] memory_budget), STORE_TOML (more [store] lines, e.g. the old read
# path: $'read_snapshot = false\nmemory_budget = "0"'), KEEP=1 keeps the stores,
# SKIP_IMPORT=1 serves the kept stores again, PERF=1 records perf profiles
# (cpu-clock) of the import and of the node during the rounds (TAG names them).
# Loopback only; every load run is bounded in time and count.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
work=${1:-$PWD/target/scale}
sizes=${SIZES:-"1000000 10000000"}
secs=${SECONDS_PER_RUN:-8}
pool=${POOL:-1000000}
node_addr=127.0.0.1:26420
null_addr=127.0.0.1:26520

[ "${SKIP_BUILD:-0}" = 1 ] || cargo build --release --locked -p idnode -p idnode-bench
idnode=$PWD/target/release/idnode
bench=$PWD/target/release/idnode-bench
mkdir -p "$work"
results=${RESULTS:-$work/results.tsv}
printf 'ids\timport_s\timport_per_s\tstore_bytes\tbytes_per_id\trss_mib\thwm_mib\tnull_before\tr1\tr2\tr3\tnull_after\tloadavg\n' > "$results"

rate() { sed -n 's/.*"requests_per_sec": *\([0-9.]*\).*/\1/p' "$1" | cut -d. -f1; }
load() { "$bench" udp --target "$1" --concurrency 2 --window 32 --count "$2" --hit-ratio 0.9 \
  --pool "$pool" --duration "$secs" --requests 50000000 --json "$3" > /dev/null; }

"$bench" null-server --listen "$null_addr" --sockets 2 --duration 3600 > "$work/null.log" 2>&1 &
null_pid=$!
node_pid=
trap 'kill $null_pid $node_pid 2>/dev/null || true' EXIT

for n in $sizes; do
  dir=$work/n$n
  mkdir -p "$dir"
  cat > "$dir/idnode.toml" <<TOML
[node]
node_prefix = "88.118.8"
data_dir = "$dir/data"
[store]
${BUDGET:+memory_budget = \"$BUDGET\"}
${STORE_TOML:-}
[handle]
udp_listen = "$node_addr"
tcp_listen = "$node_addr"
[http]
listen = "127.0.0.1:28020"
TOML
  [ -f "$dir/ids.jsonl" ] || "$bench" gen-ids --count "$n" --out "$dir/ids.jsonl"
  t0=$(date +%s.%N)
  if [ "${SKIP_IMPORT:-0}" != 1 ]; then
    rm -rf "$dir/data"
    "$idnode" --config "$dir/idnode.toml" init --demo > /dev/null
    t0=$(date +%s.%N)
    ${PERF:+perf record -e cpu-clock -F 99 -g -o "$dir/perf-import.data"} \
      "$idnode" --config "$dir/idnode.toml" id import ${IMPORT_BATCH:+--batch "$IMPORT_BATCH"} "$dir/ids.jsonl" | tee "$dir/import.log"
  fi
  t1=$(date +%s.%N)
  import_s=$(echo "$t1 - $t0" | bc)
  import_rate=$(echo "$n / $import_s" | bc)
  store_bytes=$(du -sb "$dir/data/store" | cut -f1)
  per_id=$(echo "$store_bytes / $n" | bc)
  sync
  load "$null_addr" "$n" "$dir/null-before.json"
  RUST_LOG=warn "$idnode" --config "$dir/idnode.toml" serve > "$dir/node.log" 2>&1 &
  node_pid=$!
  # Ready = the Handle TCP door accepts (bound together with UDP; nothing read yet).
  for _ in $(seq 1 200); do
    if (exec 3<>/dev/tcp/127.0.0.1/${node_addr##*:}) 2>/dev/null; then break; fi
    sleep 0.1
  done
  perf_pid=
  if [ -n "${PERF:-}" ]; then
    perf record -e cpu-clock -F 199 -g -p "$node_pid" -o "$dir/perf-node${TAG:-}.data" > /dev/null 2>&1 &
    perf_pid=$!
  fi
  for r in 1 2 3; do load "$node_addr" "$n" "$dir/node-$r.json"; done
  if [ -n "$perf_pid" ]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
  rss=$(awk '/VmRSS/ {print int($2/1024)}' /proc/$node_pid/status)
  hwm=$(awk '/VmHWM/ {print int($2/1024)}' /proc/$node_pid/status)
  load "$null_addr" "$n" "$dir/null-after.json"
  kill $node_pid; wait $node_pid 2>/dev/null || true; node_pid=
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$import_s" "$import_rate" "$store_bytes" "$per_id" \
    "$rss" "$hwm" "$(rate "$dir/null-before.json")" "$(rate "$dir/node-1.json")" "$(rate "$dir/node-2.json")" \
    "$(rate "$dir/node-3.json")" "$(rate "$dir/null-after.json")" "$(cut -d' ' -f1-3 /proc/loadavg)" >> "$results"
  [ "${KEEP:-0}" = 1 ] || rm -rf "$dir/data"
done
column -t "$results"
