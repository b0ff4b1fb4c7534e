#!/usr/bin/env bash
# What the Handle UDP door's per-source limits cost, counted in instructions
# rather than seconds: each variant of limits-ab.sh (off / on / charged) runs
# under `valgrind --tool=callgrind`, collecting only inside the UDP serving
# loop (`handle_udp::serve`, everything it calls: receive, limiter, engine,
# send), while the load generator sends the same closed-loop load of N
# requests. Instructions per answered request are repeatable whatever else
# the machine is doing, which answers/s on a shared 2-core box are not.
#   benches/scripts/limits-callgrind.sh [WORKDIR]   (default /tmp/idnode-limits-ab)
# Needs the stores and configs of limits-ab.sh in WORKDIR (run it first, any
# ROUNDS). Environment: REQUESTS (20000), VARIANTS ("off on charged"),
# IDNODE_BIN and BENCH_BIN (default target/release/idnode, idnode-bench).
# Loopback only; bounded in count and time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
work=${1:-/tmp/idnode-limits-ab}
requests=${REQUESTS:-20000}
read -r -a variants <<< "${VARIANTS:-off on charged}"
idnode=${IDNODE_BIN:-$PWD/target/release/idnode}
bench=${BENCH_BIN:-$PWD/target/release/idnode-bench}
declare -A port=([off]=26411 [on]=26412 [charged]=26413)
ids=$(wc -l < "$work/ids.jsonl")
printf 'variant\tanswered\tinstructions\tper_answer\n' > "$work/callgrind.tsv"
for v in "${variants[@]}"; do
  out=$work/callgrind-$v.out
  rm -f "$out"
  RUST_LOG=warn valgrind --tool=callgrind --callgrind-out-file="$out" \
    --toggle-collect='*handle_udp*serve*' \
    "$idnode" --config "$work/$v.toml" serve > "$work/callgrind-$v.log" 2>&1 &
  vpid=$!
  # Wait (bounded) until the node answers.
  for _ in $(seq 1 120); do
    "$bench" udp --target "127.0.0.1:${port[$v]}" --concurrency 1 --window 1 --requests 1 --count "$ids" \
      --duration 2 --json "$work/cg-probe.json" > /dev/null 2>&1 || true
    grep -q '"answered": 1' "$work/cg-probe.json" 2>/dev/null && break
    sleep 1
  done
  "$bench" udp --target "127.0.0.1:${port[$v]}" --concurrency 1 --window 8 --requests "$requests" \
    --count "$ids" --hit-ratio 0.9 --timeout 5 --duration 300 --json "$work/cg-$v.json"
  kill -TERM "$vpid"; wait "$vpid" || true
  answered=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['answered'])" "$work/cg-$v.json")
  total=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$out" | head -1)
  python3 -c "import sys; v,a,t=sys.argv[1],int(sys.argv[2]),int(sys.argv[3]); print(f'{v}\t{a}\t{t}\t{t/max(a,1):.0f}')" \
    "$v" "$answered" "$total" >> "$work/callgrind.tsv"
done
column -t "$work/callgrind.tsv"
