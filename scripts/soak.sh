#!/usr/bin/env bash
# Soak test of `badclients serve` (release build): decisions from a million distinct client
# addresses and user names with short cache lifetimes, a list reload every RELOAD_SECS,
# and in the middle one connection of cheap logins (10.0.0.1) measuring latency for 30 s,
# then again for 30 s beside 16 connections of logins whose 254-character host name meets
# expensive Lua patterns. Samples
# the daemon's RSS and its files every SAMPLE_SECS; prints the samples and the cheap logins'
# latency with and without the expensive ones. Everything listens on 127.0.0.1 (the fake
# internet is testworld). Needs Debian's wrk (installed when missing).
#
#   ./scripts/soak.sh [SECONDS]        (default 600)
#
# Knobs: SOAK_IPS (distinct addresses, default 1000000), SOAK_USERS (distinct user names,
# default 1000000), SOAK_CONNECTIONS (default 4),
# EXPENSIVE (expensive patterns in rev_host.deny.lst, at most 1013, default 1000), TTL (cache lifetime,
# default 30 s), SAMPLE_SECS (default 30), RELOAD_SECS (default 20).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
export SOAK_IPS=${SOAK_IPS:-1000000}
export SOAK_USERS=${SOAK_USERS:-1000000}
connections=${SOAK_CONNECTIONS:-4}
expensive=${EXPENSIVE:-1000}
ttl=${TTL:-30}
sample=${SAMPLE_SECS:-30}
reload=${RELOAD_SECS:-20}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release -q -p testworld --bin testworld
cargo build --release -q --bin badclients
work=$(mktemp -d)
cleanup() { kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# The fake internet: every address of 11.0.0.0/8 has a PTR, an origin and an RDAP network;
# 7.7.7.0/24 has a 254-character host name without a digit.
long=$(python3 -c 'print(".".join(["a" * 62] * 4) + ".e")')
python3 - "$work/world.json" "$ttl" "$long" <<'PY'
import json, sys
path, ttl, long = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def net(first, last, handle):
    return {"status": 200, "content_type": "application/rdap+json", "json": {
        "objectClassName": "ip network", "handle": handle, "startAddress": first,
        "endAddress": last, "ipVersion": "v4", "name": handle, "country": "ZZ", "entities": []}}
world = {
    "zone": {
        "records": [{"name": "AS64500.asn.cymru.com.", "ttl": ttl,
                     "txt": [["64500 | ZZ | arin | 2000-01-01 | SOAK-AS, ZZ"]]}],
        "nets": [
            {"under": "cymru_origin", "ip": "11.0.0.0", "prefix_len": 8, "ttl": ttl,
             "txt": [["64500 | 11.0.0.0/8 | ZZ | arin | 2000-01-01"]]},
            {"under": "reverse", "ip": "11.0.0.0", "prefix_len": 8, "ttl": ttl,
             "ptr": ["host.soak.example."]},
            {"under": "cymru_origin", "ip": "7.0.0.0", "prefix_len": 8, "ttl": ttl,
             "txt": [["64500 | 7.0.0.0/8 | ZZ | arin | 2000-01-01"]]},
            {"under": "reverse", "ip": "7.7.7.0", "prefix_len": 24, "ttl": ttl,
             "ptr": [long + "."]},
        ],
    },
    "rdap": {"prefix": {"/arin/ip/11.": net("11.0.0.0", "11.255.255.255", "SOAK-11"),
                        "/arin/ip/7.": net("7.0.0.0", "7.255.255.255", "SOAK-7")}},
}
json.dump(world, open(path, "w"))
PY
./target/release/testworld serve --spec "$work/world.json" --ignore-stdin > "$work/world.line" &
for _ in $(seq 50); do [ -s "$work/world.line" ] && break; sleep 0.1; done
dns=$(sed -E 's/.*"dns":"([^"]+)".*/\1/' "$work/world.line")
rdap=$(sed -E 's/.*"rdap":"([^"]+)".*/\1/' "$work/world.line")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

mkdir -p "$work/lists"
echo "203.0.113.0/24" > "$work/lists/ip_net.deny.lst"
# Expensive patterns like the issue's `.-.-.-.-.-.-.-.-.-.-%d`, each with a different set
# of digits so that none is a duplicate, and ending in `%.e`: patterns are tried only on the
# host names that end in their literal suffix, here the long one. (A pattern line has no
# comment: the whole line is the pattern. Without a literal affix such a pattern would be
# tried, and spend the whole budget, on every login of the soak; tests/it/match_budget.rs has
# that case.)
python3 - "$expensive" > "$work/lists/rev_host.deny.lst" <<'PY'
import itertools, sys
n = int(sys.argv[1])
sets = (c for k in range(2, 11) for c in itertools.combinations("0123456789", k))
for digits in itertools.islice(sets, n):
    print(".-" * 10 + "[" + "".join(digits) + "]%.e")
PY
cat > "$work/badclients.toml" <<TOML
list_path = "lists"
[http]
listen = "127.0.0.1:$port"
api_key = "soak-key"
[lookup]
dns_servers = ["$dns"]
[cache]
path = "state/cache.redb"
ttl_secs = $ttl
negative_ttl_secs = $ttl
stale_secs = $ttl
[history]
max_records = 300000
[rdap.base_urls]
arin = "${rdap}arin/"
TOML
./target/release/badclients serve --config "$work/badclients.toml" 2> "$work/daemon.log" > /dev/null &
daemon=$!
for _ in $(seq 100); do grep -q "ready" "$work/daemon.log" 2>/dev/null && break; sleep 0.1; done
grep -q "ready" "$work/daemon.log" || { echo "the daemon did not start:" >&2; cat "$work/daemon.log" >&2; exit 1; }

size() { du -sk "$1" 2>/dev/null | awk '{print $1}'; }
# One sample: seconds, decisions so far, RSS (KiB), cache.redb, history.redb, journal (KiB),
# the strings the history keeps.
sample_now() {
  local metrics decisions strings rss
  metrics=$(curl -s -H 'X-API-Key: soak-key' "http://127.0.0.1:$port/metrics")
  decisions=$(awk '/^badclients_decisions_total/ {s += $2} END {printf "%d", s}' <<< "$metrics")
  strings=$(awk '/^badclients_history_strings / {print $2}' <<< "$metrics")
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$daemon/status")
  printf '%6d %10s %8s %8s %8s %8s %8s\n' "$1" "$decisions" "$rss" \
    "$(size "$work/state/cache.redb")" "$(size "$work/state/history.redb")" \
    "$(find "$work/state" -name '*.journal*' -printf '%k\n' 2>/dev/null | awk '{s += $1} END {print s + 0}')" \
    "${strings:-?}"
}
cheap() { # seconds → the p99 of cheap logins, one connection
  SOAK_IP=10.0.0.1 wrk -t1 -c1 -d"${1}s" --latency -s scripts/soak/one.lua "http://127.0.0.1:$port/" |
    awk '/ 99%/ {print $2}'
}

echo "== cheap logins alone (10 s): p99 $(cheap 10)"
echo "== soak: ${seconds}s, $SOAK_IPS distinct addresses, $connections connections, cache TTL ${ttl}s, reload every ${reload}s"
SOAK_THREADS=1 wrk -t1 -c"$connections" -d"${seconds}s" -s scripts/soak/distinct.lua "http://127.0.0.1:$port/" > "$work/soak.out" &
soak=$!
( while sleep "$reload"; do echo "# touched $(date +%s)" >> "$work/lists/ip_net.deny.lst"; kill -HUP $daemon; done ) &
reloader=$!
printf '%6s %10s %8s %8s %8s %8s %8s\n' secs decisions rss_kib cache_kib hist_kib journal_kib strings
start=$(date +%s)
window_at=$((seconds / 2))
window_done=0
while kill -0 $soak 2>/dev/null; do
  sleep "$sample"
  now=$(( $(date +%s) - start ))
  sample_now "$now"
  if [ $window_done = 0 ] && [ "$now" -ge "$window_at" ]; then
    window_done=1
    echo "== cheap logins during the soak (30 s): p99 $(cheap 30)"
    SOAK_IP=7.7.7.7 wrk -t2 -c16 -d40s --latency -s scripts/soak/one.lua "http://127.0.0.1:$port/" > "$work/expensive.out" &
    sleep 5
    echo "== cheap logins next to 16 expensive ones (30 s): p99 $(cheap 30)" | tee "$work/cheap.out"
    wait $!
    grep -E "Requests/sec|99%" "$work/expensive.out" | sed 's/^/   expensive: /'
    echo "   an expensive login's audit line: $(grep -m1 -F 'ip=7.7.7.7' "$work/daemon.log" | cut -c1-400)"
  fi
done
kill $reloader 2>/dev/null || true
grep -E "Requests/sec|requests in|Non-2xx" "$work/soak.out" | sed 's/^/   soak: /'
sample_now $(( $(date +%s) - start ))
echo "== daemon log: $(wc -l < "$work/daemon.log") lines; warnings and errors by message:"
grep -E ' (WARN|ERROR) ' "$work/daemon.log" | sed -E 's/^.* (WARN|ERROR) //; s/[0-9]+/N/g' | cut -c1-120 | sort | uniq -c | sort -rn | head -10
kill -TERM $daemon; wait $daemon 2>/dev/null || true
