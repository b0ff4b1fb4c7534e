#!/usr/bin/env bash
# The DNS front beside Knot DNS and NSD (issue 10), end to end, unattended:
#   benches/scripts/dns-compare.sh [WORKDIR]          (default target/dns-compare)
# Needs the Debian packages knot (knotd), nsd and dnsperf, plus dig (dnsutils);
# installs nothing itself. Release build first unless SKIP_BUILD=1.
#
# 1. `idnode-bench dns-gen`: N (default 10^6) records 88.118.8.1001/G<n> with one
#    URL value, N GS1 aliases bound to them, the same N names as one zone file
#    (same NAPTR answers: order 100, preference 10, "U", "x-gs1+http",
#    "!^.*$!<url>!", replacement "."; same SOA and NS), and query files of hits
#    and of well-formed but unbound GTINs (NXDOMAIN), in dnsperf's format.
# 2. Our node: `idnode init --demo`, `idnode id import`, `idnode id import-aliases`,
#    then `idnode serve` with a [dns] gs1 zone (UDP + TCP, DoQ), 2 UDP sockets.
#    Knot DNS (2 UDP workers) and NSD (2 server processes) load the zone file;
#    a do-nothing answerer (`idnode-bench dns-null`, 2 sockets, the node's DNS
#    door's system calls: recvmmsg/sendmmsg batches) is the ceiling; a second
#    one with one recv_from/send_to per query (`--single`, "null1") is shown
#    beside it. Everything listens on 127.0.0.1 ports
#    chosen here (never 53); Knot and NSD have no remotes, ACLs, transfers or
#    notifies, and run as the current user with every file under WORKDIR.
# 3. ROUNDS rounds (interleaved: every server once per round, same minute):
#    the same dnsperf command against each (hits; NXDOMAIN for the three real
#    servers), then our node over UDP and over DoQ with `idnode-bench dns-load`
#    (dnsperf 2.10 has no DoQ) at the same concurrency. dnsperf runs with -v and
#    the per-query latencies give p50/p99 (computed after each run).
# Writes WORKDIR/results.tsv and WORKDIR/summary.md (median over rounds).
#
# Environment: N (1000000), ROUNDS (2), SECONDS_PER_RUN (8), DNSPERF_ARGS
# ("-c 16 -T 2 -q 128": 16 source ports, so SO_REUSEPORT spreads them over every
# server's 2 sockets), DOQ_CONCURRENCY (8), DOQ_WINDOW (16), KEEP=1 keeps the
# generated data and stores for the next run (skips generation and loading when
# present), PORT_BASE (25300).
# Loopback only; every load is bounded by -l seconds and a query count.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
repo=$PWD
work=${1:-$repo/target/dns-compare}
n=${N:-1000000}
rounds=${ROUNDS:-2}
secs=${SECONDS_PER_RUN:-8}
dnsperf_args=${DNSPERF_ARGS:-"-c 16 -T 2 -q 128"}
doq_c=${DOQ_CONCURRENCY:-8}
doq_w=${DOQ_WINDOW:-16}
base=${PORT_BASE:-25300}
node_port=$((base + 1)) doq_port=$((base + 2)) http_port=$((base + 3)) admin_port=$((base + 4))
handle_port=$((base + 5)) knot_port=$((base + 11)) nsd_port=$((base + 21)) null_port=$((base + 31))
null1_port=$((base + 32))
zone=gs1.bench

for tool in knotd nsd dnsperf dig; do
  command -v "$tool" > /dev/null || { echo "dns-compare: $tool not found (apt-get install knot nsd dnsperf dnsutils)" >&2; exit 2; }
done
[ "${SKIP_BUILD:-0}" = 1 ] || cargo build --release --locked -p idnode -p idnode-bench
idnode=$repo/target/release/idnode
bench=$repo/target/release/idnode-bench
mkdir -p "$work"
work=$(cd "$work" && pwd)
data=$work/data
log() { echo "[$(date -u +%H:%M:%S)] $*"; }

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done; wait 2> /dev/null || true; }
trap cleanup EXIT

# ---------------------------------------------------------------- the data set
if [ ! -f "$data/done" ] || [ "${KEEP:-0}" != 1 ]; then
  rm -rf "$data" "$work/node" "$work/knot" "$work/nsd"
  log "generating $n names"
  "$bench" dns-gen --count "$n" --zone "$zone" --out "$data"
  touch "$data/done"
fi
for q in hits nx; do # dnsperf's format without the final dot; at most 5 passes per run
  [ -s "$data/$q.txt" ] || { echo "missing $data/$q.txt" >&2; exit 1; }
done

# ---------------------------------------------------------------- Knot DNS
mkdir -p "$work/knot/db" "$work/knot/run"
cat > "$work/knot/knot.conf" << EOF
server:
    rundir: "$work/knot/run"
    listen: 127.0.0.1@$knot_port
    udp-workers: 2
    tcp-workers: 1
    background-workers: 1
database:
    storage: "$work/knot/db"
log:
  - target: stderr
    any: info
template:
  - id: default
    storage: "$data"
    zonefile-load: whole
    zonefile-sync: -1
    journal-content: none
    semantic-checks: off
zone:
  - domain: $zone.
    file: zone.db
EOF
# ---------------------------------------------------------------- NSD
mkdir -p "$work/nsd"
cat > "$work/nsd/nsd.conf" << EOF
server:
    ip-address: 127.0.0.1@$nsd_port
    port: $nsd_port
    do-ip6: no
    server-count: 2
    reuseport: yes
    username: ""
    chroot: ""
    zonesdir: "$work/nsd"
    database: ""
    zonelistfile: "$work/nsd/zone.list"
    xfrdfile: "$work/nsd/xfrd.state"
    xfrdir: "$work/nsd"
    pidfile: "$work/nsd/nsd.pid"
    logfile: "$work/nsd/nsd.log"
    verbosity: 1
    zonefiles-check: no
    zonefiles-write: 0
    # Debian's NSD has response rate limiting on (200/s per source block): off.
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: $zone
    zonefile: "$data/zone.db"
EOF
nsd-checkconf "$work/nsd/nsd.conf"

# ---------------------------------------------------------------- our node
mkdir -p "$work/node"
cat > "$work/node/idnode.toml" << EOF
[node]
node_prefix = "88.118.8"
data_dir = "$work/node/data"
[handle]
udp_listen = "127.0.0.1:$handle_port"
tcp_listen = "127.0.0.1:$handle_port"
[http]
listen = "127.0.0.1:$http_port"
[http.tls]
enabled = true
self_signed = true
[admin]
listen = "127.0.0.1:$admin_port"
[limits]
per_client_rps = 0
[dns]
enabled = true
listen = "127.0.0.1:$node_port"
quic_listen = "127.0.0.1:$doq_port"
udp_sockets = 2
[[dns.zones]]
scheme = "gs1"
origin = "$zone"
name_servers = ["ns1.example.org"]
hostmaster = "hostmaster.$zone"
serial = 1
ttl = 300
negative_ttl = 60
EOF
cfg=$work/node/idnode.toml

uptime_s() { uptime | sed 's/.*load average: //'; }
log "start; load average $(uptime_s)"
t0=$(date +%s.%N)
# Each server's pid, for its CPU time per query.
declare -A spid
knotd -c "$work/knot/knot.conf" > "$work/knot/knot.log" 2>&1 &
pids+=($!)
spid[knot]=$!
nsd -d -c "$work/nsd/nsd.conf" > "$work/nsd/nsd.out" 2>&1 &
pids+=($!)
spid[nsd]=$!
"$bench" dns-null --listen "127.0.0.1:$null_port" --sockets 2 --duration 3600 > "$work/null.log" 2>&1 &
pids+=($!)
spid[null]=$!
"$bench" dns-null --single --listen "127.0.0.1:$null1_port" --sockets 2 --duration 3600 > "$work/null1.log" 2>&1 &
pids+=($!)
spid[null1]=$!
if [ ! -f "$work/node/loaded" ]; then
  rm -rf "$work/node/data"
  "$idnode" --config "$cfg" init --demo > /dev/null
  "$idnode" --config "$cfg" id import --batch 10000 "$data/records.jsonl" | tee "$work/node/import.log"
  "$idnode" --config "$cfg" id import-aliases --batch 10000 "$data/aliases.jsonl" | tee -a "$work/node/import.log"
  touch "$work/node/loaded"
fi
t1=$(date +%s.%N)
RUST_LOG=warn "$idnode" --config "$cfg" serve > "$work/node/node.log" 2>&1 &
pids+=($!)
spid[node]=$!

first_hit=$(head -1 "$data/hits.txt" | cut -d' ' -f1)
ready() { # port: answers the first hit name with NOERROR and an answer
  dig +tries=1 +time=1 +norec @127.0.0.1 -p "$1" "$first_hit" NAPTR 2> /dev/null | grep -q 'ANSWER: [1-9]'
}
for name_port in node:$node_port knot:$knot_port nsd:$nsd_port null:$null_port null1:$null1_port; do
  name=${name_port%%:*} port=${name_port##*:}
  ok=0
  for _ in $(seq 1 600); do # at most ~10 minutes
    if [ "${name#null}" != "$name" ]; then
      dig +tries=1 +time=1 @127.0.0.1 -p "$port" "$first_hit" NAPTR 2> /dev/null | grep -q 'status: NOERROR' && ok=1
    elif ready "$port"; then ok=1; fi
    [ $ok = 1 ] && break
    sleep 1
  done
  [ $ok = 1 ] || { echo "$name on port $port never answered; see $work" >&2; exit 1; }
  log "$name ready ($(echo "$(date +%s.%N) - $t0" | bc | cut -d. -f1)s since start)"
done
load_s=$(printf "%.0f" "$(echo "$t1 - $t0" | bc)")

# Same answers from the three servers (the node's TTLs and fields as the zone's).
for port in $node_port $knot_port $nsd_port; do
  dig +short +norec @127.0.0.1 -p "$port" "$first_hit" NAPTR
done | sort | uniq -c > "$work/answers.txt"
[ "$(wc -l < "$work/answers.txt")" = 1 ] || { echo "the servers' answers differ:" >&2; cat "$work/answers.txt" >&2; }

results=$work/results.tsv
printf 'round\tserver\tqueries\ttransport\ttool\tqps\tp50_us\tp99_us\tlost\trcodes\tloadavg\tserver_cpu_us\n' > "$results"

# CPU time (user + system, clock ticks) of a server and its child processes
# (NSD serves from children); per answered query it is the server's own
# cost, which the load generator sharing the machine does not blur.
clk=$(getconf CLK_TCK)
cpu_ticks() { # pid: its ticks and its descendants' (NSD serves from grandchildren)
  local t=0 p v
  for p in "$1" $(pgrep -P "$1"); do
    [ "$p" != "$1" ] && { t=$((t + $(cpu_ticks "$p"))); continue; }
    # utime + stime, counted after the command name (NSD's has spaces).
    v=$(sed 's/^.*) //' "/proc/$p/stat" 2> /dev/null | awk '{ print $12 + $13 }') && t=$((t + ${v:-0}))
  done
  echo "$t"
}
cpu_us() { # ticks_before ticks_after queries
  awk -v a="$1" -v b="$2" -v q="$3" -v c="$clk" 'BEGIN { printf "%.2f", (q > 0 ? (b - a) * 1e6 / c / q : 0) }'
}

# dnsperf with -v to a file; p50/p99 from the per-query latencies afterwards.
run_dnsperf() { # round server port queries
  local out=$work/dnsperf-$2-$4.out c0 c1 done_q
  c0=$(cpu_ticks "${spid[$2]}")
  # shellcheck disable=SC2086
  dnsperf -s 127.0.0.1 -p "$3" -d "$data/$4.txt" -l "$secs" -n 5 $dnsperf_args -v > "$out" 2> "$out.err" || true
  c1=$(cpu_ticks "${spid[$2]}")
  local qps lost codes pct
  qps=$(sed -n 's/^ *Queries per second: *\([0-9.]*\).*/\1/p' "$out" | cut -d. -f1)
  done_q=$(sed -n 's/^ *Queries completed: *\([0-9]*\).*/\1/p' "$out")
  lost=$(sed -n 's/^ *Queries lost: *\([0-9]*\).*/\1/p' "$out")
  codes=$(sed -n 's/^ *Response codes: *//p' "$out" | tr -d '\t')
  pct=$(awk '$1 == ">" { b = int($NF * 1e6); h[b]++; c++ }
    END { if (!c) { print "0 0"; exit } s = 0; p50 = ""; for (i = 0; i < 60000000 && s < c; i++) if (i in h) {
      s += h[i]; if (p50 == "" && s >= 0.5 * c) p50 = i; if (s >= 0.99 * c) { print p50, i; exit } } }' "$out")
  printf '%s\t%s\t%s\tudp\tdnsperf\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$4" "${qps:-0}" "${pct% *}" "${pct#* }" \
    "${lost:-?}" "$codes" "$(uptime_s)" "$(cpu_us "$c0" "$c1" "${done_q:-0}")" >> "$results"
  log "round $1 $2 $4: ${qps:-0} q/s, p50/p99 ${pct% *}/${pct#* } us, lost ${lost:-?} ($codes)"
  rm -f "$out"
}
run_load() { # round transport port queries
  local j=$work/load-$2-$4.json c0 c1
  c0=$(cpu_ticks "${spid[node]}")
  "$bench" dns-load --transport "$2" --target "127.0.0.1:$3" --queries "$data/$4.txt" --max-queries 1000000 \
    --concurrency "$doq_c" --window "$doq_w" --duration "$secs" --requests 20000000 \
    --cert "$work/node/data/tls.crt" --server-name localhost --json "$j" > /dev/null
  c1=$(cpu_ticks "${spid[node]}")
  local qps p50 p99 lost noerr nx
  qps=$(sed -n 's/.*"queries_per_sec": *\([0-9.]*\).*/\1/p' "$j" | cut -d. -f1)
  p50=$(sed -n 's/.*"p50_us": *\([0-9]*\).*/\1/p' "$j")
  p99=$(sed -n 's/.*"p99_us": *\([0-9]*\).*/\1/p' "$j")
  lost=$(sed -n 's/.*"lost": *\([0-9]*\).*/\1/p' "$j")
  noerr=$(sed -n 's/.*"noerror": *\([0-9]*\).*/\1/p' "$j")
  nx=$(sed -n 's/.*"nxdomain": *\([0-9]*\).*/\1/p' "$j")
  printf '%s\tnode\t%s\t%s\tdns-load\t%s\t%s\t%s\t%s\tNOERROR %s NXDOMAIN %s\t%s\t%s\n' "$1" "$4" "$2" "$qps" "$p50" "$p99" \
    "$lost" "$noerr" "$nx" "$(uptime_s)" "$(cpu_us "$c0" "$c1" "$((noerr + nx))")" >> "$results"
  log "round $1 node $2 $4 (dns-load -c $doq_c -w $doq_w): $qps q/s, p50/p99 $p50/$p99 us, lost $lost"
}

# One unmeasured pass over all hits and NXDOMAIN names per server (at most
# WARM_SECONDS each): the node's read caches hold the names, as they do in
# service; Knot and NSD hold their zones in memory from the start.
for s in null:$null_port node:$node_port knot:$knot_port nsd:$nsd_port; do
  for q in hits nx; do
    # shellcheck disable=SC2086
    dnsperf -s 127.0.0.1 -p "${s##*:}" -d "$data/$q.txt" -l "${WARM_SECONDS:-30}" -n 1 $dnsperf_args > /dev/null 2>&1 || true
  done
done
log "warmed up; load average $(uptime_s)"

for r in $(seq 1 "$rounds"); do
  for s in null:$null_port null1:$null1_port node:$node_port knot:$knot_port nsd:$nsd_port; do
    run_dnsperf "$r" "${s%%:*}" "${s##*:}" hits
  done
  for s in node:$node_port knot:$knot_port nsd:$nsd_port; do
    run_dnsperf "$r" "${s%%:*}" "${s##*:}" nx
  done
  run_load "$r" udp "$node_port" hits
  run_load "$r" doq "$doq_port" hits
done

# ---------------------------------------------------------------- summary
node_rss=$(ps -o rss= -p "$(pgrep -f "idnode --config $cfg serve" | head -1)" 2> /dev/null || echo 0)
{
  echo "## dns-compare $(date -u +%Y-%m-%dT%H:%MZ): $n names, $rounds rounds of ${secs}s, dnsperf $dnsperf_args"
  echo
  echo "Loading (node: import + aliases; Knot and NSD loaded the zone in parallel): ${load_s}s; node RSS $((node_rss / 1024)) MiB"
  echo
  echo "| server | queries | tool | q/s (median of rounds) | p50 µs | p99 µs | server CPU µs/query |"
  echo "|---|---|---|---|---|---|---|"
  awk -F'\t' 'NR > 1 { k = $2 "|" $3 "|" $5 " " $4; n[k]++; q[k, n[k]] = $6; a[k, n[k]] = $7; b[k, n[k]] = $8; u[k, n[k]] = $12; order[k] = NR }
    function med(arr, k, c,   i, j, t, v) { for (i = 1; i <= c; i++) v[i] = arr[k, i]
      for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
      return c % 2 ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2 }
    END { for (k in n) { split(k, p, "|"); printf "| %s | %s | %s | %.0f | %.0f | %.0f | %.2f |\n", p[1], p[2], p[3], med(q, k, n[k]), med(a, k, n[k]), med(b, k, n[k]), med(u, k, n[k]) } }' \
    "$results" | sort
  echo
  awk -F'\t' 'NR > 1 { k = $2 "/" $3 "/" $4 "/" $5; s[k] += $6; c[k]++; u[k] += $12 }
    function r(a, b) { return b ? a / b : 0 }
    END { for (k in s) v[k] = s[k] / c[k]
      printf "Ratios of mean q/s: node/knot hits %.2f; node/nsd hits %.2f; node/ceiling hits %.2f (batched null), %.2f (one recv/send per query); node nx/hits %.2f; knot nx/hits %.2f; nsd nx/hits %.2f; DoQ/UDP (dns-load) %.2f\n",
        r(v["node/hits/udp/dnsperf"], v["knot/hits/udp/dnsperf"]), r(v["node/hits/udp/dnsperf"], v["nsd/hits/udp/dnsperf"]),
        r(v["node/hits/udp/dnsperf"], v["null/hits/udp/dnsperf"]), r(v["node/hits/udp/dnsperf"], v["null1/hits/udp/dnsperf"]), r(v["node/nx/udp/dnsperf"], v["node/hits/udp/dnsperf"]),
        r(v["knot/nx/udp/dnsperf"], v["knot/hits/udp/dnsperf"]), r(v["nsd/nx/udp/dnsperf"], v["nsd/hits/udp/dnsperf"]),
        r(v["node/hits/doq/dns-load"], v["node/hits/udp/dns-load"])
      printf "Mean server CPU per answered query: node hits %.2f µs, nx %.2f µs; Knot hits %.2f µs; NSD hits %.2f µs; do-nothing answerer %.2f µs (batched), %.2f µs (one recv/send per query); node DoQ %.2f µs, node UDP (dns-load) %.2f µs\n",
        r(u["node/hits/udp/dnsperf"], c["node/hits/udp/dnsperf"]), r(u["node/nx/udp/dnsperf"], c["node/nx/udp/dnsperf"]),
        r(u["knot/hits/udp/dnsperf"], c["knot/hits/udp/dnsperf"]), r(u["nsd/hits/udp/dnsperf"], c["nsd/hits/udp/dnsperf"]),
        r(u["null/hits/udp/dnsperf"], c["null/hits/udp/dnsperf"]), r(u["null1/hits/udp/dnsperf"], c["null1/hits/udp/dnsperf"]),
        r(u["node/hits/doq/dns-load"], c["node/hits/doq/dns-load"]), r(u["node/hits/udp/dns-load"], c["node/hits/udp/dns-load"]) }' \
    "$results"
  echo
  echo "load average at the end: $(uptime_s)"
} > "$work/summary.md"
cat "$work/summary.md"
