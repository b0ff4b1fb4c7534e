#!/usr/bin/env bash
# Issue 12's figures: the scan landing page and the chain query beside the
# REST resolution of the same node in the same run (release build, wrk).
# The store holds a depth-3 chain of 100 identifiers written over the REST
# API with REF.<relation> values: ROOT <- 3 pallets <- 12 cases <- 84 items
# (each points at its parent with REF.batch), so `/api/trace/ROOT?direction=up
# &depth=3` returns all 100 nodes and 99 edges.
#   benches/scripts/pages.sh [WORKDIR]   (default /tmp/idnode-pages)
# Writes go over HTTPS (the REST API ignores credentials on plain HTTP; the
# node serves TLS on the same port with its generated certificate, hence -k).
# Environment: SECONDS_PER_RUN (8), SKIP_BUILD=1. Loopback only, literal URLs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
work=${1:-/tmp/idnode-pages}
secs=${SECONDS_PER_RUN:-8}
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --locked -p idnode -p idnode-bench
idnode=$PWD/target/release/idnode
bench=$PWD/target/release/idnode-bench
rm -rf "$work" && mkdir -p "$work"
cat > "$work/idnode.toml" <<TOML
[node]
node_prefix = "88.118.8"
data_dir = "$work/data"
[handle]
udp_listen = "127.0.0.1:26430"
tcp_listen = "127.0.0.1:26430"
[http]
listen = "127.0.0.1:28030"
[admin]
listen = "127.0.0.1:28031"
TOML
"$idnode" --config "$work/idnode.toml" init --demo > /dev/null
RUST_LOG=warn "$idnode" --config "$work/idnode.toml" serve > "$work/node.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
base=http://127.0.0.1:28030
for _ in $(seq 1 100); do curl -sf -o /dev/null "$base/api/handles/88.118.8.1001/LOT2026-000451" && break; sleep 0.2; done
secret=$(cat "$work/data/admin.secret")
P=88.118.8.1001
put() { # id parent
  local refs=""
  [ -n "$2" ] && refs=",{\"index\":2100,\"type\":\"REF.batch\",\"data\":{\"format\":\"string\",\"value\":\"$2\"}}"
  curl -skf -o /dev/null -X PUT -u "300%3A0.NA%2F88.118.8:$secret" -H 'Content-Type: application/json' \
    --data "{\"values\":[{\"index\":1,\"type\":\"URL\",\"data\":{\"format\":\"string\",\"value\":\"https://example.com/p/$1\"}},{\"index\":2000,\"type\":\"model\",\"data\":{\"format\":\"string\",\"value\":\"M-$1\"}}$refs]}" \
    "https://127.0.0.1:28030/api/handles/$P/$1"
}
put ROOT ""
for a in 1 2 3; do
  put "PAL-$a" "$P/ROOT"
  for b in 1 2 3 4; do
    put "CASE-$a-$b" "$P/PAL-$a"
    for c in 1 2 3 4 5 6 7; do put "ITEM-$a-$b-$c" "$P/CASE-$a-$b"; done
  done
done
trace="$base/api/trace/$P/ROOT?direction=up&depth=3&fanout=100&limit=200"
nodes=$(curl -sf "$trace" | python3 -c 'import json,sys; g=json.load(sys.stdin); print(len(g["nodes"]), len(g["edges"]))')
echo "chain: nodes edges = $nodes"
landing="$base/$P/ITEM-2-3-4"
rest="$base/api/handles/$P/ITEM-2-3-4"
curl -sf -H 'Accept: text/html' "$landing" | grep -q 'M-ITEM-2-3-4' || { echo "landing page lacks the record"; exit 1; }
run() { # name url [wrk args]
  local name=$1 url=$2; shift 2
  wrk "$@" -d"${secs}s" --latency -H 'Accept: text/html' "$url" > "$work/wrk-$name.txt"
  printf '%s\t%s\t%s\t%s\n' "$name" "$(sed -n 's/^Requests\/sec: *//p' "$work/wrk-$name.txt")" \
    "$(awk '$1=="50%"{print $2}' "$work/wrk-$name.txt")" "$(awk '$1=="99%"{print $2}' "$work/wrk-$name.txt")"
}
printf 'run\treq/s\tp50\tp99\n'
for round in 1 2; do
  run "rest-$round" "$rest" -t2 -c32
  run "landing-$round" "$landing" -t2 -c32
  run "trace-$round" "$trace" -t2 -c32
  run "trace-1conn-$round" "$trace" -t1 -c1
  # The issue's aim is stated at a rate: latency of the chain at 1,000/s
  # (open loop, one connection; a late answer delays the next send and is
  # counted from when it was due).
  "$bench" http-rate --target 127.0.0.1:28030 --path "${trace#"$base"}" --rate 1000 --connections 1 \
    --duration "$secs" --count $((secs * 1000)) --json "$work/rate-$round.json" > /dev/null
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("trace-at-1000/s-%s\t%.0f\t%.2fms\t%.2fms" % (sys.argv[2], r["requests_per_sec"], r["p50_us"]/1000, r["p99_us"]/1000))' \
    "$work/rate-$round.json" "$round"
done
grep -c ' 200 \| 5[0-9][0-9] ' "$work/node.log" > /dev/null || true
