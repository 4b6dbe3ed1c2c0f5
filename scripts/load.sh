#!/usr/bin/env bash
# Load test of `badclients serve` through Dovecot's auth-policy endpoint, warm cache:
# starts the fake internet (testworld) and the daemon (release build), warms the cache,
# then runs wrk with real Dovecot bodies. Also measures the daemon's memory with 100,000
# cached networks. Everything listens on 127.0.0.1. Needs Debian's wrk (installed when missing).
#
#   ./scripts/load.sh [SECONDS] [CONNECTIONS]
#
# The daemon keeps its decision history as it does by default. HISTORY=off runs it with
# `[history] enabled = false`; COMPARE_HISTORY=N runs N rounds alternating off and on and
# prints each round's rate and the daemon's CPU time per decision, then the means (the cost
# of the history on throughput). PIN=1 pins the daemon to CPU 1 and wrk to CPU 0.
# LOAD_HISTORY=postgres (as root, with Debian's postgresql) starts a private PostgreSQL on a
# loopback port (via runuser -u postgres) and, with COMPARE_HISTORY=N, alternates the redb
# history ("off": not shipped) and `backend = "postgres"` ("on": shipped): the cost of
# shipping on the request path. PG_NICE=19 runs that PostgreSQL at that niceness, standing for
# a database on a host of its own: it then gets the CPU the daemon and wrk leave, and the
# backlog it could not take during a round ships after it (on 2 cores, a PostgreSQL at the
# normal priority takes its share from the daemon and wrk, which a remote one would not).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
connections=${2:-4}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release -q -p testworld --bin testworld
cargo build --release -q --example fill_cache
cargo build --release -q --bin badclients
work=$(mktemp -d)
pgdir=""
pgbin=""
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  if [ -n "$pgdir" ]; then
    runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$pgdir"
  fi
  rm -rf "$work"
}
trap cleanup EXIT

./target/release/testworld serve --contract --ignore-stdin > "$work/world.json" &
for _ in $(seq 50); do [ -s "$work/world.json" ] && break; sleep 0.1; done
dns=$(sed -E 's/.*"dns":"([^"]+)".*/\1/' "$work/world.json")
rdap=$(sed -E 's/.*"rdap":"([^"]+)".*/\1/' "$work/world.json")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/lists"
echo "176.112.168.0/21" > "$work/lists/ip_net.deny.lst"
write_config() {
cat > "$work/badclients.toml" <<TOML
list_path = "lists"
[http]
listen = "127.0.0.1:$port"
api_key = "load-test-key"
[lookup]
dns_servers = ["$dns"]
[cache]
path = "$1"
[history]
enabled = ${2:-true}
${3:-}
flush_ms = ${FLUSH_MS:-250}
batch_max = ${BATCH_MAX:-10000}
[rdap.base_urls]
arin = "${rdap}arin/"
ripencc = "${rdap}ripe/"
TOML
}
daemon_cpu=""
wrk_cpu=""
if [ "${PIN:-}" = 1 ]; then daemon_cpu="taskset -c 1"; wrk_cpu="taskset -c 0"; fi
# The daemon's CPU time so far (all threads), in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$daemon/stat"; }
start_daemon() {
  $daemon_cpu ./target/release/badclients serve --config "$work/badclients.toml" 2> "$work/daemon.log" > /dev/null &
  daemon=$!
  for _ in $(seq 100); do grep -q "ready" "$work/daemon.log" 2>/dev/null && return; sleep 0.05; done
  echo "the daemon did not start:" >&2; cat "$work/daemon.log" >&2; exit 1
}

history=true
[ "${HISTORY:-on}" = off ] && history=false
pg_lines=""
if [ "${LOAD_HISTORY:-}" = postgres ]; then
  pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -x "$pgbin/initdb" ] || { echo "LOAD_HISTORY=postgres needs Debian's postgresql (apt-get install postgresql)" >&2; exit 1; }
  pgdir=$(mktemp -d /tmp/badclients-pg.XXXXXX)
  chown postgres "$pgdir"
  pgport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  runuser -u postgres -- "$pgbin/initdb" -D "$pgdir/data" -A trust -U bc >/dev/null
  nice -n "${PG_NICE:-0}" runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -w \
    -o "-h 127.0.0.1 -p $pgport -k $pgdir" start >/dev/null
  psql -X -q -h 127.0.0.1 -p "$pgport" -U bc -d postgres -c "CREATE DATABASE badclients"
  pg_lines="backend = \"postgres\"
postgres_url = \"postgresql://bc@127.0.0.1:$pgport/badclients\"
node = \"load\""
  echo "== PostgreSQL on 127.0.0.1:$pgport; history off = redb, on = shipped to PostgreSQL"
fi
if [ -n "${COMPARE_HISTORY:-}" ]; then
  for round in $(seq "$COMPARE_HISTORY"); do
    for h in false true; do
      if [ -n "$pg_lines" ]; then
        if [ $h = true ]; then write_config "$work/state/cache.redb" true "$pg_lines"
        else write_config "$work/state/cache.redb" true; fi
      else
        write_config "$work/state/cache.redb" $h
      fi
      start_daemon
      for ip in 176.112.169.218 209.85.218.15 209.85.218.53; do
        curl -s -o /dev/null -H 'Content-Type: application/json' -H 'X-API-Key: load-test-key' \
          -d "{\"remote\":\"$ip\",\"protocol\":\"imap\",\"login\":\"warm\"}" "http://127.0.0.1:$port/?command=allow"
      done
      before=$(cpu_ticks)
      out=$($wrk_cpu wrk -t"${WRK_THREADS:-1}" -c"$connections" -d"${seconds}s" -s scripts/load/dovecot.lua "http://127.0.0.1:$port/")
      after=$(cpu_ticks)
      rate=$(awk '/Requests\/sec/ {print $2}' <<< "$out")
      requests=$(awk '/requests in/ {print $1}' <<< "$out")
      us=$(awk -v t=$((after - before)) -v n="$requests" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.1f", t * 1e6 / hz / n}')
      echo "round $round history=$h: $rate decisions/s, $us µs daemon CPU per decision"
      echo "$h $rate $us" >> "$work/rounds"
      kill -TERM $daemon; wait $daemon 2>/dev/null || true
    done
  done
  awk '{r[$1] += $2; c[$1] += $3; n[$1]++}
    END {
      printf "mean of %d rounds: history off %.0f decisions/s, %.1f µs CPU each; on %.0f decisions/s, %.1f µs CPU each\n",
        n["true"], r["false"] / n["false"], c["false"] / n["false"], r["true"] / n["true"], c["true"] / n["true"]
      printf "the history changes throughput by %+.1f %% and the daemon CPU per decision by %+.1f %%\n",
        (r["true"] / n["true"] / (r["false"] / n["false"]) - 1) * 100, (c["true"] / n["true"] / (c["false"] / n["false"]) - 1) * 100
    }' "$work/rounds"
  exit 0
fi
write_config "$work/state/cache.redb" $history "$pg_lines"
start_daemon
# Warm the cache (Linode's ARIN→RIPE redirect is not in the contract world: its RDAP
# lookup fails, which the audit line records; the other four are complete).
for ip in 176.112.169.218 139.162.133.252 209.85.218.15 209.85.218.53 172.17.1.204; do
  curl -s -o /dev/null -H 'Content-Type: application/json' -H 'X-API-Key: load-test-key' \
    -d "{\"remote\":\"$ip\",\"protocol\":\"imap\",\"login\":\"warm\"}" "http://127.0.0.1:$port/?command=allow"
done
echo "== wrk: ${seconds}s, $connections connections, ${WRK_THREADS:-1} wrk threads, POST /?command=allow (warm cache, history $history)"
wrk -t"${WRK_THREADS:-1}" -c"$connections" -d"${seconds}s" --latency -s scripts/load/dovecot.lua "http://127.0.0.1:$port/" |
  grep -E "Requests/sec|Latency|50%|75%|90%|99%|requests in|Non-2xx"
rss=$(awk '/VmRSS/ {print $2}' /proc/$daemon/status)
echo "daemon RSS after the run: $((rss / 1024)) MiB"
kill -TERM $daemon; wait $daemon 2>/dev/null || true

[ "${LOAD_SKIP_MEMORY:-}" = 1 ] && exit 0
echo "== memory with 100,000 cached networks"
./target/release/examples/fill_cache "$work/big.redb" 100000
write_config "$work/big.redb"
start_daemon
sleep 0.5
rss=$(awk '/VmRSS/ {print $2}' /proc/$daemon/status)
echo "daemon RSS with 100,000 cached networks loaded: $((rss / 1024)) MiB"
kill -TERM $daemon; wait $daemon 2>/dev/null || true
