#!/usr/bin/env bash
# The PostgreSQL figures of issue 11 beside the sled ones from the same run,
# on binaries built beforehand (this script builds nothing):
#   benches/scripts/pg-figures.sh IDNODE_BIN BENCH_BIN [WORKDIR]
#   (e.g. target/release/idnode target/release/idnode-bench; WORKDIR default
#   /tmp/idnode-pg-figures, removed at the start)
# 1. A throwaway PostgreSQL (initdb into WORKDIR, listening only on
#    127.0.0.1:$PG_PORT and a Unix socket in WORKDIR, password auth), stopped
#    and removed at the end.
# 2. A sled node S: init --demo, `id import` of IDS generated identifiers
#    (sled import rate).
# 3. `idnode store copy --from sled:S --to postgres:...` (COPY batches, then
#    a count + checksum verification of both sides): the COPY rate.
# 4. Two nodes A and B on that database, S beside them; SNMS batch
#    registration (idnode-bench snms) against A and against S.
# 5. UDP resolution: B fresh (cold read cache: first round), then warm
#    rounds, and S, alternating in the same minutes.
# 6. Cross-node staleness: a record B has cached is changed through A's
#    configuration (`idnode id put`); the time from A's answer to B answering the new value,
#    SAMPLES times; and B's own measured follower lag (metrics).
# Environment: IDS (1000000), HOT (100000), SECONDS_PER_RUN (8), SNMS_COUNT (200000),
# SAMPLES (20), PG_PORT (25432), PG_BIN (newest /usr/lib/postgresql/*/bin).
# Loopback only (literal 127.0.0.1 addresses); every load run is bounded in
# count and time. Run it on a quiet machine, un-niced, for figures.
set -euo pipefail
idnode=$(realpath "${1:?usage: pg-figures.sh IDNODE_BIN BENCH_BIN [WORKDIR]}")
bench=$(realpath "${2:?usage: pg-figures.sh IDNODE_BIN BENCH_BIN [WORKDIR]}")
work=${3:-/tmp/idnode-pg-figures}
ids=${IDS:-1000000}
secs=${SECONDS_PER_RUN:-8}
snms_count=${SNMS_COUNT:-200000}
samples=${SAMPLES:-20}
pg_port=${PG_PORT:-25432}
pg_bin=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}
pw=pg-figures-pw
# Fixed literal loopback addresses only.
declare -A udp=([s]=26430 [a]=26431 [b]=26432)
declare -A http=([s]=28030 [a]=28031 [b]=28032)
declare -A admin=([s]=29030 [a]=29031 [b]=29032)

rm -rf "$work"
mkdir -p "$work"
work=$(realpath "$work")
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  as_pg "$pg_bin/pg_ctl" -D "$work/pg/data" -m fast stop > /dev/null 2>&1 || true
  [ "${KEEP:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT
now_ms() { date +%s%3N; }
rate() { sed -n "s/.*\"$2\": *\([0-9.]*\).*/\1/p" "$1" | head -1 | cut -d. -f1; }

echo "== PostgreSQL ($pg_bin) on 127.0.0.1:$pg_port"
mkdir -p "$work/pg"
echo "$pw" > "$work/pg/pw"
[ "$(id -u)" = 0 ] && chown -R postgres "$work/pg"
as_pg "$pg_bin/initdb" -D "$work/pg/data" -U idnode --pwfile "$work/pg/pw" --auth=scram-sha-256 -E UTF8 > "$work/pg/initdb.log"
as_pg "$pg_bin/pg_ctl" -D "$work/pg/data" -l "$work/pg/server.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $work/pg -c max_connections=200 -c shared_buffers=256MB" start > /dev/null
PGPASSWORD=$pw "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U idnode idnode
url="postgres://idnode@127.0.0.1:$pg_port/idnode"

for n in s a b; do
  mkdir -p "$work/$n"
  if [ $n = s ]; then store=$'[store]\nbackend = "sled"'; else
    store=$'[store]\nbackend = "postgres"\n[store.postgres]\n'"url = \"$url\""$'\n'"password_file = \"$work/pg/pw\""$'\npoll_interval_ms = 100\nstaleness_bound_ms = 1000'
  fi
  cat > "$work/$n/idnode.toml" <<TOML
[node]
node_prefix = "88.118.8"
data_dir = "$work/$n/data"
$store
[handle]
udp_listen = "127.0.0.1:${udp[$n]}"
tcp_listen = "127.0.0.1:${udp[$n]}"
[http]
listen = "127.0.0.1:${http[$n]}"
[admin]
listen = "127.0.0.1:${admin[$n]}"
TOML
done

echo "== sled node: init --demo, import $ids identifiers"
"$bench" gen-ids --count "$ids" --out "$work/ids.jsonl"
"$idnode" --config "$work/s/idnode.toml" init --demo > /dev/null
t0=$(now_ms)
"$idnode" --config "$work/s/idnode.toml" id import --batch 5000 "$work/ids.jsonl" > "$work/s/import.log" 2>&1
t1=$(now_ms)
sled_import=$(( ids * 1000 / (t1 - t0 + 1) ))

echo "== node A: init --demo on PostgreSQL; store copy sled -> PostgreSQL"
"$idnode" --config "$work/a/idnode.toml" init --demo > /dev/null
t0=$(now_ms)
"$idnode" --config "$work/a/idnode.toml" store copy --from "sled:$work/s/data/store" --to "postgres:$url" \
  --password-file "$work/pg/pw" --batch 10000 2> "$work/copy.err" | tee "$work/copy.log"
t1=$(now_ms)
copy_ms=$(( t1 - t0 ))
copy_rate=$(( ids * 1000 / (copy_ms + 1) ))
cp -a "$work/a/data" "$work/b/data"
# The admin account now holds the sled node's password (copied with the identities).
secret=$work/s/data/admin.secret

start() {
  RUST_LOG=warn "$idnode" --config "$work/$1/idnode.toml" serve > "$work/$1/node.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 300); do
    if curl -sf "http://127.0.0.1:${admin[$1]}/readyz" > /dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "node $1 did not become ready; see $work/$1/node.log" >&2
  return 1
}
# $3: identifiers the requests are drawn from (default all of them).
udp_round() { "$bench" udp --target "127.0.0.1:${udp[$1]}" --concurrency 2 --window 32 --count "${3:-$ids}" \
  --hit-ratio 0.9 --pool 200000 --duration "$secs" --requests 50000000 --json "$2" > /dev/null; }

# Cold: a fresh B, requests over all identifiers. Warm: requests over a hot
# set of HOT identifiers (default 100000) that one unmeasured pass has put in
# both nodes' read caches (with all 10^6 drawn at random an 8-second round
# cannot warm B's cache: it would measure the warm-up, not a warm cache).
hot=${HOT:-100000}
echo "== UDP: B cold (fresh process), then warm on a hot set of $hot; S alternating"
start s
start b
udp_round b "$work/udp-b-cold.json"
udp_round s "$work/udp-s-1.json"
udp_round b "$work/udp-b-warmup.json" "$hot"
udp_round s "$work/udp-s-warmup.json" "$hot"
udp_round b "$work/udp-b-warm1.json" "$hot"
udp_round s "$work/udp-s-2.json" "$hot"
udp_round b "$work/udp-b-warm2.json" "$hot"

echo "== SNMS batch registration: A (PostgreSQL), S (sled)"
start a
snms() { "$bench" snms --target "127.0.0.1:${http[$1]}" --password-file "$secret" --concurrency 2 \
  --count "$snms_count" --duration "$(( secs * 4 ))" --json > "$2"; }
snms a "$work/snms-a.json"
snms s "$work/snms-s.json"

echo "== staleness: a record B has cached, changed on A ($samples times)"
h=88.118.8.1001/STALE-$$
put() { "$idnode" --config "$work/a/idnode.toml" id put --overwrite "$h" "1:URL:https://example.com/$1" > /dev/null; }
put v0
stale=()
for i in $(seq 1 "$samples"); do
  curl -sf "http://127.0.0.1:${http[b]}/api/handles/$h" > /dev/null || true   # B caches the current version
  put "v$i"
  t0=$(now_ms)
  seen=
  for _ in $(seq 1 1000); do   # at most ~10 s
    if curl -sf "http://127.0.0.1:${http[b]}/api/handles/$h" | grep -q "example.com/v$i\""; then seen=1; break; fi
    sleep 0.01
  done
  [ -n "$seen" ] && stale+=($(( $(now_ms) - t0 ))) || stale+=(timeout)
done
lag=$(curl -sf "http://127.0.0.1:${admin[b]}/metrics" | sed -n 's/^idnode_store_follow_lag_seconds \(.*\)/\1/p' | head -1)
retries=$(curl -sf "http://127.0.0.1:${admin[a]}/metrics" | sed -n 's/^idnode_store_tx_retries_total \(.*\)/\1/p' | head -1)

sorted=$(printf '%s\n' "${stale[@]}" | sort -n)
echo
echo "== results ($ids identifiers; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-44s %s\n' \
  "sled import (id import), ids/s" "$sled_import" \
  "COPY: store copy sled->postgres incl. verify" "$copy_rate ids/s ($copy_ms ms for $ids)" \
  "SNMS batchCreate on A (postgres), ids/s" "$(rate "$work/snms-a.json" identifiers_per_sec)" \
  "SNMS batchCreate on S (sled), ids/s" "$(rate "$work/snms-s.json" identifiers_per_sec)" \
  "UDP on B (postgres), cold cache, answers/s" "$(rate "$work/udp-b-cold.json" requests_per_sec)" \
  "UDP on B (postgres), warm hot set 1, answers/s" "$(rate "$work/udp-b-warm1.json" requests_per_sec)" \
  "UDP on B (postgres), warm hot set 2, answers/s" "$(rate "$work/udp-b-warm2.json" requests_per_sec)" \
  "UDP on S (sled), all ids, answers/s" "$(rate "$work/udp-s-1.json" requests_per_sec)" \
  "UDP on S (sled), hot set, answers/s" "$(rate "$work/udp-s-2.json" requests_per_sec)" \
  "staleness A->B, ms (min/median/max)" "$(echo "$sorted" | head -1) / $(echo "$sorted" | sed -n "$(( (samples + 1) / 2 ))p") / $(echo "$sorted" | tail -1)" \
  "B's follower lag (last, seconds)" "${lag:-?}" \
  "A's transaction retries (40001/40P01)" "${retries:-0}"
echo "(staleness samples: ${stale[*]}; poll_interval_ms = 100)"
