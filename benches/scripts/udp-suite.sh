#!/usr/bin/env bash
# The Handle-door measurements of docs/performance.md, end to end:
# release build, a store of 1,000,000 identifiers, the node and a do-nothing
# answerer on fixed loopback ports, then alternating rounds of the same
# generator against each (so both see the same machine noise).
#   benches/scripts/udp-suite.sh [WORKDIR]   (default /tmp/idnode-udp-suite)
# Environment: ROUNDS (3), SECONDS_PER_RUN (8).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
work=${1:-/tmp/idnode-udp-suite}
rounds=${ROUNDS:-3}
secs=${SECONDS_PER_RUN:-8}
# Fixed literal loopback addresses only.
node_addr=127.0.0.1:26410
null_addr=127.0.0.1:26500

cargo build --release --locked -p idnode -p idnode-bench
idnode=$PWD/target/release/idnode
bench=$PWD/target/release/idnode-bench
mkdir -p "$work"
cat > "$work/idnode.toml" <<TOML
[node]
node_prefix = "88.118.8"
data_dir = "$work/data"
[store]
cache_mib = 1024
[handle]
udp_listen = "$node_addr"
tcp_listen = "$node_addr"
[http]
listen = "127.0.0.1:28000"
TOML
if [ ! -d "$work/data/store" ]; then
  "$bench" gen-ids --count 1000000 --out "$work/ids.jsonl"
  "$idnode" --config "$work/idnode.toml" init --demo
  "$idnode" --config "$work/idnode.toml" id import "$work/ids.jsonl"
fi
RUST_LOG=warn "$idnode" --config "$work/idnode.toml" serve > "$work/node.log" 2>&1 &
node_pid=$!
"$bench" null-server --listen "$null_addr" --sockets 2 --duration 900 > "$work/null.log" 2>&1 &
null_pid=$!
trap 'kill $node_pid $null_pid 2>/dev/null || true' EXIT
sleep 2
load() { "$bench" "$@" --count 1000000 --hit-ratio 0.9 --duration "$secs"; }
echo "== warm-up"
load udp --target "$node_addr" --concurrency 2 --window 128 --requests 2000000 > /dev/null
for r in $(seq 1 "$rounds"); do
  echo "== round $r"
  load udp --target "$node_addr" --concurrency 2 --window 128 --requests 5000000 --json "$work/udp-node-$r.json"
  load udp --target "$null_addr" --concurrency 2 --window 128 --requests 5000000 --json "$work/udp-null-$r.json"
  load udp --target "$node_addr" --concurrency 2 --rate 20000 --requests 5000000 --json "$work/udp-20k-$r.json"
  load tcp --target "$node_addr" --concurrency 32 --requests 5000000 --json "$work/tcp-node-$r.json"
  load tcp --target "$node_addr" --concurrency 8 --tcp-window 16 --requests 5000000 --json "$work/tcp-pipelined-$r.json"
done
