#!/usr/bin/env bash
# Recursion figures (issue 9): a top node, secondary A (authoritative for 88.201) and
# secondary B (recursion on, root = the top), all release builds on fixed loopback ports.
# Measures B's authoritative UDP throughput, B's warm-cache recursive throughput for A's
# identifiers, and cold recursion latency (fresh cache) through the hierarchy.
# Every load run is bounded by count and time. Usage: benches/scripts/recursion-suite.sh [workdir]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
work=${1:-/tmp/idnode-recursion-suite}
secs=${SECONDS_PER_RUN:-8}
count=${COUNT:-10000}
top=127.0.0.1:26610
a=127.0.0.1:26620
b=127.0.0.1:26630

# PROFILE=debug measures the debug build (faster to build on a busy machine).
profile=${PROFILE:-release}
if [ -n "${SKIP_BUILD:-}" ]; then :
elif [ "$profile" = release ]; then
  cargo build --release --locked -p idnode -p idnode-bench
else
  cargo build --locked -p idnode -p idnode-bench
fi
idnode=$PWD/target/$profile/idnode
bench=$PWD/target/$profile/idnode-bench
rm -rf "$work"
mkdir -p "$work"

node_conf() { # name prefix addr http extra
  cat > "$work/$1.toml" <<TOML
[node]
node_prefix = "$2"
data_dir = "$work/$1"
[handle]
udp_listen = "$3"
tcp_listen = "$3"
udp_sockets = 1
[http]
listen = "$4"
[admin]
listen = "127.0.0.1:0"
$5
TOML
}
node_conf top 88.100 "$top" 127.0.0.1:28610 ""
node_conf a 88.201 "$a" 127.0.0.1:28620 ""
node_conf b 88.202 "$b" 127.0.0.1:28630 "[federation]
recursion = true
root = [\"$top\"]"

# A's HS_SITE (handle-protocol.md §4.3): one server 127.0.0.1, UDP + TCP on A's port.
site=$(python3 - "${a##*:}" <<'PY'
import base64, struct, sys
port = int(sys.argv[1])
iface = lambda proto: struct.pack(">BBI", 3, proto, port)
server = struct.pack(">I", 1) + bytes(12) + bytes([127, 0, 0, 1]) + struct.pack(">I", 0) \
    + struct.pack(">I", 2) + iface(0) + iface(1)
site = struct.pack(">HBBHBB", 1, 2, 10, 1, 0x80, 2) + struct.pack(">I", 0) + struct.pack(">I", 0) \
    + struct.pack(">I", 1) + server
print(base64.b64encode(site).decode())
PY
)
echo "{\"handle\":\"0.NA/88.201\",\"values\":[{\"index\":1,\"type\":\"HS_SITE\",\"data\":{\"format\":\"base64\",\"value\":\"$site\"},\"ttl\":86400}]}" > "$work/top.jsonl"
"$bench" gen-ids --prefix 88.201 --count "$count" --out "$work/a.jsonl"
"$bench" gen-ids --prefix 88.202 --count "$count" --out "$work/b.jsonl"
for n in top a b; do "$idnode" --config "$work/$n.toml" init > /dev/null; done
"$idnode" --config "$work/top.toml" id import "$work/top.jsonl"
"$idnode" --config "$work/a.toml" id import "$work/a.jsonl"
"$idnode" --config "$work/b.toml" id import "$work/b.jsonl"

pids=()
start() { RUST_LOG=warn "$idnode" --config "$work/$1.toml" serve > "$work/$1.log" 2>&1 & pids+=($!); }
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
start top; start a; start b
sleep "${START_WAIT:-2}"  # longer on a busy machine

echo "== cold: first recursive resolution through the hierarchy (fresh B), 5 identifiers"
for i in 1 2 3 4 5; do
  s=$(date +%s%N); "$idnode" resolve --recursive --server "$b" "88.201/BENCH-$((i * 7))" > /dev/null
  echo "resolve 88.201/BENCH-$((i * 7)): $(( ($(date +%s%N) - s) / 1000 )) us (includes process start)"
done
echo "== cold: recursive misses at 200/s (each identifier asked once or so; service cached)"
"$bench" udp --target "$b" --concurrency 1 --rate 200 --requests 1000 --duration 10 \
  --prefix 88.201 --count "$count" --hit-ratio 1.0 --recursive --json "$work/cold.json"
echo "== B authoritative (its own 88.202 identifiers)"
"$bench" udp --target "$b" --concurrency 2 --window 128 --requests 5000000 --duration "$secs" \
  --prefix 88.202 --count "$count" --hit-ratio 1.0 --json "$work/auth.json"
echo "== warm-up of B's cache for A's identifiers"
"$bench" udp --target "$b" --concurrency 2 --window 32 --requests 300000 --duration 30 \
  --prefix 88.201 --count "$count" --hit-ratio 1.0 --recursive > /dev/null
echo "== B warm recursion (A's 88.201 identifiers, REC set)"
"$bench" udp --target "$b" --concurrency 2 --window 128 --requests 5000000 --duration "$secs" \
  --prefix 88.201 --count "$count" --hit-ratio 1.0 --recursive --json "$work/warm.json"
echo "== B authoritative again"
"$bench" udp --target "$b" --concurrency 2 --window 128 --requests 5000000 --duration "$secs" \
  --prefix 88.202 --count "$count" --hit-ratio 1.0 --json "$work/auth2.json"
curl -s "http://127.0.0.1:28630/metrics" | grep '^idnode_recursion_total' || true
