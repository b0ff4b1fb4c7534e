#!/usr/bin/env bash
# The console and portal figures of docs/performance.md (issue 13), end to end:
#  (a) a store with IDS identifiers spread over PREFIXES prefixes (generated
#      JSON lines + `idnode id import`, prefixes created first with `idnode
#      prefix create`), the node started, the operator logged in to the console,
#      then RENDERS timed renders of the overview page (`GET /console` with the
#      session cookie; curl's time_total; p50/p99/max);
#  (b) the enterprise portal's bulk upload: an UPLOAD_ROWS-row CSV posted the way
#      the browser form does (multipart, session cookie, CSRF token), run, and
#      polled until the job reports done (the page's own "registered in" time
#      and the wall time from "run" to the finished page), beside the SNMS
#      batch API rate (`idnode-bench snms`, SNMS_COUNT identifiers) in the same
#      run; ROUNDS rounds of (portal, SNMS), alternated.
#   benches/scripts/console.sh [WORKDIR]       (default target/console)
# Environment: SKIP_BUILD=1 (use the built binaries), BIN_DIR (default
# target/release; target/debug for a quick functional run), IDS (1000000),
# PREFIXES (1000), RENDERS (200), UPLOAD_ROWS (100000), SNMS_COUNT (100000),
# ROUNDS (2), KEEP=1 keeps the store (the generated ids-*.jsonl is kept for the
# next run either way).
# Loopback literal addresses only; every loop is bounded in count and time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
work=${1:-$PWD/target/console}
ids=${IDS:-1000000}
nprefixes=${PREFIXES:-1000}
renders=${RENDERS:-200}
rows=${UPLOAD_ROWS:-100000}
snms_count=${SNMS_COUNT:-100000}
rounds=${ROUNDS:-2}
bin=${BIN_DIR:-$PWD/target/release}
http=127.0.0.1:28120
admin=127.0.0.1:28121
handle=127.0.0.1:28122
first=5000
ent_prefix=88.118.8.1001

[ "${SKIP_BUILD:-0}" = 1 ] || cargo build --release --locked -p idnode -p idnode-bench
idnode=$bin/idnode
bench=$bin/idnode-bench
mkdir -p "$work"
work=$(cd "$work" && pwd)
rm -rf "$work/data"
cat > "$work/idnode.toml" <<TOML
[node]
node_prefix = "88.118.8"
data_dir = "$work/data"
[handle]
udp_listen = "$handle"
tcp_listen = "$handle"
[http]
listen = "$http"
[admin]
listen = "$admin"
TOML
cfg=(--config "$work/idnode.toml")
log=$work/setup.log
: > "$log"

echo "== store: $ids identifiers under $nprefixes prefixes"
"$idnode" "${cfg[@]}" init --demo >> "$log" 2>&1
t0=$(date +%s.%N)
for k in $(seq "$first" $((first + nprefixes - 1))); do
  "$idnode" "${cfg[@]}" prefix create "88.118.8.$k" >> "$log" 2>&1
done
t1=$(date +%s.%N)
echo "prefixes created in $(echo "$t1 - $t0" | bc) s"
idfile=$work/ids-$ids-$nprefixes.jsonl
[ -f "$idfile" ] || "$bench" gen-ids --prefix 88.118.8 --prefixes "$nprefixes" --first-prefix "$first" \
  --count "$ids" --out "$idfile"
t0=$(date +%s.%N)
"$idnode" "${cfg[@]}" id import --batch 5000 "$idfile" 2>&1 | tail -1 | tee -a "$log"
t1=$(date +%s.%N)
echo "imported in $(echo "$t1 - $t0" | bc) s"
# An enterprise account of the demo enterprise (id 1, owner of $ent_prefix).
printf 'bulk-upload-pass\n' > "$work/bulk.pass"
"$idnode" "${cfg[@]}" user add bulk --enterprise 1 --password-file "$work/bulk.pass" >> "$log" 2>&1

RUST_LOG=warn "$idnode" "${cfg[@]}" serve > "$work/node.log" 2>&1 &
node_pid=$!
trap 'kill $node_pid 2>/dev/null || true' EXIT
# Ready = the daemon counted its records (the gauge the overview shows): at
# most 300 s.
ready=0
for _ in $(seq 1 3000); do
  m=$(curl -s --max-time 2 "http://$admin/metrics" 2>/dev/null || true)
  if grep -q '^idnode_store_records ' <<< "$m"; then ready=1; break; fi
  sleep 0.1
done
[ "$ready" = 1 ] || { echo "node not ready (no idnode_store_records on /metrics)"; exit 1; }
sleep 2

# ---- (a) the console overview.
jar=$work/console.jar
pw=$(head -n1 "$work/data/admin.secret")
code=$(curl -s -c "$jar" -o /dev/null -w '%{http_code}' --max-time 10 \
  --data-urlencode "username=admin" --data-urlencode "password=$pw" "http://$admin/console/login")
[ "$code" = 303 ] || { echo "console login: HTTP $code"; exit 1; }
page=$(curl -s -b "$jar" --max-time 10 "http://$admin/console")
shown=$(printf '%s' "$page" | sed -n 's/.*data-k="identifiers">\([0-9.]*\)<.*/\1/p' | head -n1)
nshown=$(printf '%s' "$page" | sed -n 's/.*Prefixes<b>\([0-9]*\)<.*/\1/p' | head -n1)
echo "overview shows identifiers=$shown prefixes=${nshown:-?}"
times=$work/overview-times.txt
: > "$times"
for _ in $(seq 1 "$renders"); do
  curl -s -b "$jar" -o /dev/null --max-time 10 -w '%{http_code} %{time_total}\n' "http://$admin/console" >> "$times"
done
bad=$(awk '$1 != 200' "$times" | wc -l)
[ "$bad" = 0 ] || { echo "$bad overview renders were not HTTP 200"; exit 1; }
q() { awk '{print $2 * 1000}' "$times" | sort -n | awk -v q="$1" '{a[NR]=$1} END {i=int(NR*q); if (i<1) i=1; if (i>NR) i=NR; printf "%.2f", a[i]}'; }
ov_p50=$(q 0.5); ov_p99=$(q 0.99); ov_max=$(q 1)
echo "overview render ($renders renders): p50 $ov_p50 ms, p99 $ov_p99 ms, max $ov_max ms"

# ---- (b) portal bulk upload vs the SNMS batch API.
pjar=$work/portal.jar
code=$(curl -s -c "$pjar" -o /dev/null -w '%{http_code}' --max-time 10 \
  --data-urlencode "username=bulk" --data-urlencode "password=bulk-upload-pass" "http://$http/portal/login")
[ "$code" = 303 ] || { echo "portal login: HTTP $code"; exit 1; }
results=$work/results.tsv
printf 'round\tportal_rows\tportal_ok\tportal_server_s\tportal_server_per_s\tportal_wall_s\tportal_wall_per_s\tupload_s\toverview_after_ms\tsnms_ok\tsnms_per_s\tsnms_p50_ms\n' > "$results"
for r in $(seq 1 "$rounds"); do
  csv=$work/upload-$r.csv
  awk -v n="$rows" -v r="$r" 'BEGIN { print "suffix,model,batch"; for (i = 0; i < n; i++) printf "U%d-%d,M-%d,B%d\n", r, i, i, i % 100 }' > "$csv"
  form=$(curl -s -b "$pjar" --max-time 10 "http://$http/portal/bulk?prefix=$ent_prefix")
  csrf=$(printf '%s' "$form" | sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' | head -n1)
  [ -n "$csrf" ] || { echo "no CSRF token on the bulk form"; exit 1; }
  u0=$(date +%s.%N)
  loc=$(curl -s -b "$pjar" -o /dev/null --max-time 120 -w '%{http_code} %{redirect_url}' \
    -F "csrf=$csrf" -F "prefix=$ent_prefix" -F "file=@$csv;type=text/csv" "http://$http/portal/bulk/upload")
  u1=$(date +%s.%N)
  [ "${loc%% *}" = 303 ] || { echo "upload: $loc"; exit 1; }
  job=${loc#* }
  code=$(curl -s -b "$pjar" -o /dev/null -w '%{http_code}' --max-time 10 -d "csrf=$csrf" "$job/run")
  [ "$code" = 303 ] || { echo "run: HTTP $code"; exit 1; }
  w0=$(date +%s.%N)
  done_page=
  for _ in $(seq 1 3000); do   # at most ~10 minutes
    p=$(curl -s -b "$pjar" --max-time 10 "$job")
    if grep -q 'id="download"' <<< "$p"; then done_page=$p; break; fi
    sleep 0.2
  done
  w1=$(date +%s.%N)
  [ -n "$done_page" ] || { echo "bulk job did not finish"; exit 1; }
  ok=$(printf '%s' "$done_page" | sed -n 's/.*id="ok">\([0-9]*\)<.*/\1/p' | head -n1)
  el=$(printf '%s' "$done_page" | sed -n 's/.*id="elapsed">\([0-9.]*\)<.*/\1/p' | head -n1)
  wall=$(echo "$w1 - $w0" | bc)
  up=$(echo "$u1 - $u0" | bc)
  echo "portal round $r: $ok of $rows registered in $el s (server), $wall s wall from run to the finished page; upload+parse $up s"
  # The first overview render after the writes re-reads the day counters
  # (one range read per prefix).
  aw=$(curl -s -b "$jar" -o /dev/null --max-time 10 -w '%{time_total}' "http://$admin/console" | awk '{printf "%.2f", $1 * 1000}')
  echo "first overview render after the upload: $aw ms"
  "$bench" snms --target "$http" --password-file "$work/data/admin.secret" --prefix "$ent_prefix" \
    --count "$snms_count" --duration 60 --run-id "snms$r" --json > "$work/snms-$r.json"
  snms_ok=$(sed -n 's/.*"identifiers_ok": *\([0-9]*\).*/\1/p' "$work/snms-$r.json")
  snms_rate=$(sed -n 's/.*"identifiers_per_sec": *\([0-9.]*\).*/\1/p' "$work/snms-$r.json" | cut -d. -f1)
  snms_p50=$(sed -n 's/.*"batch_latency_ms_p50": *\([0-9.]*\).*/\1/p' "$work/snms-$r.json")
  echo "snms round $r: $snms_ok identifiers at $snms_rate/s"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$rows" "$ok" "$el" \
    "$(echo "$ok / $el" | bc)" "$wall" "$(echo "$ok / $wall" | bc)" "$up" "$aw" "$snms_ok" "$snms_rate" "$snms_p50" >> "$results"
done
printf 'overview\tids=%s\tprefixes=%s\tshown=%s\trenders=%s\tp50_ms=%s\tp99_ms=%s\tmax_ms=%s\tloadavg=%s\n' \
  "$ids" "$nprefixes" "$shown" "$renders" "$ov_p50" "$ov_p99" "$ov_max" "$(cut -d' ' -f1-3 /proc/loadavg)" > "$work/overview.tsv"
kill $node_pid; wait $node_pid 2>/dev/null || true; node_pid=
cat "$work/overview.tsv"
column -t "$results"
[ "${KEEP:-0}" = 1 ] || rm -rf "$work/data" "$work"/upload-*.csv
