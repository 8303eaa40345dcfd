#!/usr/bin/env bash
# Side-by-side throughput of one node on bbolt, one node on PostgreSQL and
# three nodes on PostgreSQL, on this machine, in one run, with the load
# generator: sign-ins and refreshes, each row with the servers' and the
# database's CPU per request as ratios to one raw P-256 verify. Last in
# each round, PostgreSQL alone runs a sign-in's statements from pgbench:
# the most sign-ins the database could carry here with no Latch at all.
#
#   cmd/latch-load/nodes.sh [seconds per scenario, default 10] [rounds, default 2]
#
# It builds latch and latch-load, starts a throwaway PostgreSQL cluster in
# a temporary directory (as the postgres user when run as root), and
# removes everything at the end. The figures show the overhead of the
# shared store on one machine, not how far several machines scale.
set -euo pipefail
cd "$(dirname "$0")/../.."
dur=${1:-10}
rounds=${2:-2}
tmp=$(mktemp -d)
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$pgbin/initdb" ] || { echo "PostgreSQL's server programs are missing (apt-get install -y postgresql)" >&2; exit 1; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  as_pg "$pgbin/pg_ctl" -D "$tmp/pg" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/latch" ./cmd/latch
go build -o "$tmp/latch-load" ./cmd/latch-load
mkdir -p "$tmp/pg" && [ "$(id -u)" != 0 ] || chown postgres "$tmp" "$tmp/pg"
as_pg "$pgbin/initdb" -D "$tmp/pg" -U latch --auth=trust >/dev/null
port=55432
as_pg "$pgbin/pg_ctl" -D "$tmp/pg" -l "$tmp/pg/log" -w -o "-p $port -k $tmp -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
as_pg "$pgbin/createdb" -h 127.0.0.1 -p $port -U latch latch
postmaster=$(head -1 "$tmp/pg/postmaster.pid")
export LATCH_MASTER_KEY=$(head -c 32 /dev/urandom | base64)
issuer=http://localhost:8080

# start_nodes STORE N: N nodes on STORE (empty: each on a fresh bbolt data
# directory), ports 8080 and up; sets node_pids and node_addrs.
start_nodes() {
  local store=$1 n=$2 i
  node_pids=() node_addrs=()
  for ((i = 0; i < n; i++)); do
    local dir="$tmp/node-$RANDOM-$i"
    LATCH_STORE=$store LATCH_ISSUER=$issuer LATCH_BEGIN_RATE=0 LATCH_POST_RATE=0 \
      "$tmp/latch" serve --addr "127.0.0.1:$((8080 + i))" --data "$dir" 2>"$dir.log" &
    node_pids+=($!) node_addrs+=("127.0.0.1:$((8080 + i))")
    pids+=($!)
  done
  for ((i = 0; i < n; i++)); do
    local ok=
    for _ in $(seq 100); do
      if curl -sf "http://${node_addrs[i]}/readyz" >/dev/null; then ok=1; break; fi
      sleep 0.1
    done
    [ -n "$ok" ] || { echo "node ${node_addrs[i]} did not become ready:" >&2; cat "$tmp"/node-*-"$i".log >&2; exit 1; }
  done
}
stop_nodes() {
  for p in "${node_pids[@]}"; do kill "$p"; wait "$p" 2>/dev/null || true; done
  # What the nodes logged as errors, so a failed request has its cause.
  grep -h '"level":"ERROR"' "$tmp"/node-*.log 2>/dev/null | head -5 || true
  rm -f "$tmp"/node-*.log
}
fresh_db() {
  as_pg "$pgbin/dropdb" -h 127.0.0.1 -p $port -U latch latch
  as_pg "$pgbin/createdb" -h 127.0.0.1 -p $port -U latch latch
}
measure() { # label store nodes
  local label=$1 store=$2 n=$3
  [ -z "$store" ] || fresh_db
  start_nodes "$store" "$n"
  local list
  list=$(IFS=,; echo "${node_pids[*]:1}")
  echo "== $label"
  "$tmp/latch-load" -url $issuer -nodes "$(IFS=,; echo "${node_addrs[*]}")" -d "${dur}s" -s signin,refresh \
    -pid "${node_pids[0]}" ${list:+-pids "$list"} ${store:+-db-pid "$postmaster"}
  stop_nodes
}
# pgcpu: CPU ticks of the PostgreSQL server so far, its exited backends
# included (the postmaster reaps them).
pgcpu() {
  local t=0 p v
  for p in $postmaster $(pgrep -P "$postmaster"); do
    v=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk -v reaper=$((p == postmaster)) '{ print $12 + $13 + (reaper ? $14 + $15 : 0) }') || continue
    t=$((t + ${v:-0}))
  done
  echo $t
}
# floor: a sign-in's statements alone, without Latch (pgfloor/), from
# pgbench's 32 clients: what PostgreSQL on this machine manages at best.
floor() {
  command -v pgbench >/dev/null || { echo "== PostgreSQL alone: pgbench is missing"; return; }
  as_pg "$pgbin/dropdb" --if-exists -h 127.0.0.1 -p $port -U latch floor 2>/dev/null
  as_pg "$pgbin/createdb" -h 127.0.0.1 -p $port -U latch floor
  # Latch's own schema (any command on the store migrates it), then the
  # accounts the statements use.
  "$tmp/latch" users list --data "$tmp/floor-admin" --store "postgres://latch@127.0.0.1:$port/floor" >/dev/null 2>&1
  psql -h 127.0.0.1 -p $port -U latch -X -q -f cmd/latch-load/pgfloor/accounts.sql floor
  local c0 c1 out n tps
  c0=$(pgcpu)
  out=$(pgbench -h 127.0.0.1 -p $port -U latch -n -M prepared -c 32 -j 2 -T "$dur" --max-tries=20 -f cmd/latch-load/pgfloor/signin.sql floor 2>&1)
  sleep 0.5
  c1=$(pgcpu)
  n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
  tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out")
  echo "== PostgreSQL alone, a sign-in's statements from pgbench (no Latch)"
  awk -v n="$n" -v tps="$tps" -v ticks=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "signin-sql  %7.0f/s   database CPU per signin: %.1f µs\n", tps, ticks / hz * 1e6 / n }'
}
pgurl="postgres://latch@127.0.0.1:$port/latch"
for ((r = 1; r <= rounds; r++)); do
  echo "### round $r"
  measure "1 node, bbolt" "" 1
  measure "1 node, PostgreSQL" "$pgurl" 1
  measure "3 nodes, PostgreSQL" "$pgurl" 3
  floor
done
