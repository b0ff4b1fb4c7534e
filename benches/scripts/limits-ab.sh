#!/usr/bin/env bash
# Cost of the Handle doors' per-source limits (issue 8) on the UDP resolution
# benchmark: three nodes on copies of one store, measured in alternating
# rounds within the same minutes so they see the same machine noise:
#   off     [limits] per_client_rps = 0, udp_max_amplification = 0
#   on      the default [limits] (the generator's 127.0.0.1 is exempt)
#   charged exempt_networks = [] and a rate above the generator's, so every
#           datagram pays the bucket lookup and the amplification check
#   benches/scripts/limits-ab.sh [WORKDIR]   (default /tmp/idnode-limits-ab)
# Environment: ROUNDS (3), SECONDS_PER_RUN (8), IDS (200000), VARIANTS ("off on charged").
# Besides answers/s, each round records the node's own CPU time (user + system,
# from /proc) per answer: on a shared 2-core machine the generator and the node
# compete for the cores, and CPU per answer is the steadier measure of what the
# limiter costs. The summary prints the median of each and the ratios to `off`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
work=${1:-/tmp/idnode-limits-ab}
rounds=${ROUNDS:-3}
secs=${SECONDS_PER_RUN:-8}
ids=${IDS:-200000}
read -r -a variants <<< "${VARIANTS:-off on charged}"

[ -n "${SKIP_BUILD:-}" ] || cargo build --release --locked -p idnode -p idnode-bench
idnode=${IDNODE_BIN:-$PWD/target/release/idnode}
bench=${BENCH_BIN:-$PWD/target/release/idnode-bench}
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
declare -A pid
for v in "${variants[@]}"; do
  RUST_LOG=warn "$idnode" --config "$work/$v.toml" serve > "$work/node-$v.log" 2>&1 &
  pids+=($!)
  pid[$v]=$!
done
trap 'kill ${pids[*]} 2>/dev/null || true' EXIT
sleep 3
load() { "$bench" udp --target "127.0.0.1:${port[$1]}" --concurrency 2 --window 128 --requests 5000000 \
  --count "$ids" --hit-ratio 0.9 --duration "$secs" "${@:2}"; }
# CPU seconds (user + system) the node has used so far.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }
echo "== warm-up"
for v in "${variants[@]}"; do load "$v" > /dev/null; done
: > "$work/rounds.tsv"
for r in $(seq 1 "$rounds"); do
  for v in "${variants[@]}"; do
    echo "== round $r: $v"
    c0=$(cpu "${pid[$v]}")
    load "$v" --json "$work/udp-$v-$r.json"
    c1=$(cpu "${pid[$v]}")
    python3 - "$work/udp-$v-$r.json" "$c0" "$c1" "$r" "$v" >> "$work/rounds.tsv" <<'PY'
import json, sys
rep = json.load(open(sys.argv[1]))
cpu = float(sys.argv[3]) - float(sys.argv[2])
print(f"{sys.argv[4]}\t{sys.argv[5]}\t{rep['requests_per_sec']:.0f}\t{1e6 * cpu / max(rep['answered'], 1):.2f}")
PY
  done
done
python3 - "$work/rounds.tsv" <<'PY'
import statistics, sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().splitlines()]
by = {}
for r, v, rps, us in rows:
    by.setdefault(v, []).append((int(r), float(rps), float(us)))
print("round\t" + "\t".join(f"{v} req/s\t{v} node CPU us/answer" for v in by))
for r in sorted({int(x[0]) for x in rows}):
    cells = []
    for v in by:
        m = [x for x in by[v] if x[0] == r][0]
        cells += [f"{m[1]:.0f}", f"{m[2]:.2f}"]
    print(f"{r}\t" + "\t".join(cells))
med = {v: (statistics.median(x[1] for x in by[v]), statistics.median(x[2] for x in by[v])) for v in by}
print("median\t" + "\t".join(f"{med[v][0]:.0f}\t{med[v][1]:.2f}" for v in by))
if "off" in med:
    for v in by:
        if v != "off":
            ratios = [b[1] / a[1] for a, b in zip(sorted(by["off"]), sorted(by[v]))]
            print(f"{v}/off: median of per-round req/s ratios {statistics.median(ratios):.3f}; "
                  f"node CPU per answer {med[v][1] / med['off'][1]:.3f}")
PY
