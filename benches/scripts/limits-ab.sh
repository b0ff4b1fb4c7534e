#!/usr/bin/env bash
# Cost of the Handle doors' per-source limits (issue 8) on the UDP resolution
# benchmark: three nodes on copies of one store, measured in alternating
# rounds within the same minutes so they see the same machine noise:
#   off     [limits] per_client_rps = 0, udp_max_amplification = 0
#   on      the default [limits] (the generator's 127.0.0.1 is exempt)
#   charged exempt_networks = [] and a rate above the generator's, so every
#           datagram pays the bucket lookup and the amplification check
#   benches/scripts/limits-ab.sh [WORKDIR]   (default /tmp/idnode-limits-ab)
# Environment: ROUNDS (3), SECONDS_PER_RUN (8), IDS (200000).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
work=${1:-/tmp/idnode-limits-ab}
rounds=${ROUNDS:-3}
secs=${SECONDS_PER_RUN:-8}
ids=${IDS:-200000}

[ -n "${SKIP_BUILD:-}" ] || cargo build --release --locked -p idnode -p idnode-bench
idnode=$PWD/target/release/idnode
bench=$PWD/target/release/idnode-bench
mkdir -p "$work"
# Fixed literal loopback addresses only.
declare -A port=([off]=26411 [on]=26412 [charged]=26413)
declare -A http=([off]=28011 [on]=28012 [charged]=28013)
declare -A extra=(
  [off]=$'[limits]\nper_client_rps = 0\nudp_max_amplification = 0'
  [on]=''
  [charged]=$'[limits]\nexempt_networks = []\nper_client_rps = 100000000\nper_client_burst = 100000000'
)
for v in off on charged; do
  cat > "$work/$v.toml" <<TOML
[node]
node_prefix = "88.118.8"
data_dir = "$work/data-$v"
[store]
cache_mib = 512
[handle]
udp_listen = "127.0.0.1:${port[$v]}"
tcp_listen = "127.0.0.1:${port[$v]}"
[http]
listen = "127.0.0.1:${http[$v]}"
[admin]
listen = "127.0.0.1:0"
${extra[$v]}
TOML
done
if [ ! -d "$work/data-off/store" ]; then
  "$bench" gen-ids --count "$ids" --out "$work/ids.jsonl"
  "$idnode" --config "$work/off.toml" init --demo
  "$idnode" --config "$work/off.toml" id import "$work/ids.jsonl"
fi
for v in on charged; do
  rm -rf "$work/data-$v" && cp -a "$work/data-off" "$work/data-$v"
done
pids=()
for v in off on charged; do
  RUST_LOG=warn "$idnode" --config "$work/$v.toml" serve > "$work/node-$v.log" 2>&1 &
  pids+=($!)
done
trap 'kill ${pids[*]} 2>/dev/null || true' EXIT
sleep 3
load() { "$bench" udp --target "127.0.0.1:${port[$1]}" --concurrency 2 --window 128 --requests 5000000 \
  --count "$ids" --hit-ratio 0.9 --duration "$secs" "${@:2}"; }
echo "== warm-up"
for v in off on charged; do load "$v" > /dev/null; done
for r in $(seq 1 "$rounds"); do
  for v in off on charged; do
    echo "== round $r: $v"
    load "$v" --json "$work/udp-$v-$r.json"
  done
done
