#!/usr/bin/env bash
# `badclients report` / `suggest` over the shared PostgreSQL history: 10 million decisions
# (30 UTC days × ~333k, three nodes, ~3000 users with three sources each, one source in ten
# in a cloud range with its entities and cloud tags and would-blocked) shipped day by day
# through badclients_ship_incoming, then each command timed a few times.
#
# Usage (as root, like the tests: the server runs as the postgres user):
#   scripts/bench-pg-report.sh [ROWS_PER_DAY]      # default 333334
# BADCLIENTS=path/to/badclients picks the binary (default: target/release/badclients,
# built when missing). Needs Debian's postgresql package.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
per_day=${1:-333334}
days=30
runs=${RUNS:-3}
target=${CARGO_TARGET_DIR:-$here/target}
bin=${BADCLIENTS:-$target/release/badclients}
if [ ! -x "$bin" ]; then
    (cd "$here" && cargo build --release --bin badclients)
fi
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
[ -x "$pgbin/initdb" ] || { echo "install Debian's postgresql package" >&2; exit 1; }

work=$(mktemp -d /tmp/bench-pg-report.XXXXXX)
chmod 755 "$work"
chown postgres:postgres "$work"
as_pg() { runuser -u postgres -- "$@"; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cleanup() {
    as_pg "$pgbin/pg_ctl" -D "$work/data" stop -m immediate -w >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

as_pg "$pgbin/initdb" -A trust -U bc -E UTF8 --locale=C.UTF-8 -D "$work/data" >/dev/null
as_pg "$pgbin/pg_ctl" -D "$work/data" -l "$work/server.log" -w -o \
    "-p $port -k $work -c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=1GB \
     -c work_mem=256MB -c max_wal_size=8GB" start >/dev/null
psql_() { psql -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U bc "$@"; }
psql_ -d postgres -c "CREATE DATABASE badclients"
url="postgresql://bc@127.0.0.1:$port/badclients"

mkdir -p "$work/lists"
cat > "$work/badclients.toml" <<EOF
list_path = "$work/lists"
[history]
backend = "postgres"
postgres_url = "$url"
node = "mx1"
[cache]
memory_only = true
EOF

# The schema: `badclients history migrate` when this badclients has it, else schema.sql.
if "$bin" history migrate --help >/dev/null 2>&1; then
    "$bin" history migrate --config "$work/badclients.toml"
else
    {
        echo "BEGIN;"
        echo "CREATE TABLE badclients_schema (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());"
        cat "$here/src/pghistory/schema.sql"
        echo "INSERT INTO badclients_schema (version) VALUES (1);"
        echo "COMMIT;"
    } | psql_ -d badclients -f -
fi

# 2026-11-01 00:00 UTC .. 2026-12-01: 30 days.
first_day=1793491200000000
day_us=86400000000
per_node=$(( (per_day + 2) / 3 ))
echo "shipping $days days × 3 nodes × $per_node decisions…"
t0=$(date +%s)
for d in $(seq 0 $((days - 1))); do
    for node in 1 2 3; do
        batch=$((d * 3 + node))
        psql_ -d badclients >/dev/null <<EOF
BEGIN;
CREATE TEMP TABLE badclients_incoming (LIKE badclients_decisions) ON COMMIT DELETE ROWS;
INSERT INTO badclients_incoming
SELECT $first_day + $d::bigint * $day_us + (i::bigint * $day_us / $per_node) + $node AS time_us,
       'mx$node', $batch,
       'user' || u || '@example.org', CASE WHEN i % 5 = 0 THEN 'pop3' ELSE 'imap' END,
       '198.18.0.0'::inet + (u * 3 + s),
       CASE WHEN cloud THEN 'ec2-' || u || '-' || s || '.compute-1.amazonaws.com'
            WHEN (u + s) % 4 = 0 THEN NULL
            ELSE 'dyn-' || u || '-' || s || '.isp' || (u % 50) || '.example.net' END,
       CASE WHEN cloud THEN 16509 ELSE 64500 + (u % 50) END,
       CASE WHEN cloud THEN 'US' ELSE 'DE' END,
       CASE WHEN cloud THEN 'AMAZON-02, US' ELSE 'EXAMPLE-ISP-' || (u % 50) || ', DE' END,
       CASE WHEN cloud THEN 'AMAZON-IAD' ELSE 'ISP' || (u % 50) || '-DIAL' END,
       NULL,
       CASE WHEN cloud THEN ARRAY['AT-88-Z'] ELSE ARRAY['ISP' || (u % 50) || '-NIC'] END,
       CASE WHEN cloud THEN ARRAY['aws:EC2:us-east-1'] ELSE ARRAY[]::text[] END,
       CASE WHEN cloud THEN 'US' ELSE 'DE' END,
       CASE WHEN cloud THEN 2::smallint WHEN u % 97 = 0 THEN 1::smallint ELSE 0::smallint END,
       CASE WHEN cloud THEN 'cloud' WHEN u % 97 = 0 THEN 'ip_net' END,
       CASE WHEN cloud THEN 'cloud.deny.lst:1: aws:EC2' WHEN u % 97 = 0 THEN 'ip_net.deny.lst:3: 198.18.0.0/15' END,
       ARRAY[]::text[]
  FROM (SELECT i, (i * 7919 + $node) % 3000 AS u, (i / 3000) % 3 AS s,
               ((i * 7919 + $node) % 3000 * 3 + (i / 3000) % 3) % 10 = 0 AS cloud
          FROM generate_series(0, $per_node - 1) AS i) g;
SELECT badclients_ship_incoming('mx$node', $batch);
COMMIT;
EOF
    done
    printf '.'
done
echo
psql_ -d badclients -c "VACUUM ANALYZE" >/dev/null
echo "shipped in $(( $(date +%s) - t0 )) s: $(psql_ -d badclients -c "SELECT count(*) FROM badclients_decisions") decisions, $(psql_ -d badclients -c "SELECT count(*) FROM badclients_daily") daily rows, $(psql_ -d badclients -c "SELECT pg_size_pretty(sum(pg_total_relation_size(oid))) FROM pg_class WHERE relkind = 'r' AND relname LIKE 'badclients%'")"

now="2026-12-01T12:00"
time_it() {
    local label=$1
    shift
    for r in $(seq 1 "$runs"); do
        local s e
        s=$(date +%s.%N)
        "$bin" "$@" --config "$work/badclients.toml" --now "$now" >"$work/out.txt"
        e=$(date +%s.%N)
        printf '%-40s run %d: %.2f s\n' "$label" "$r" "$(echo "$e - $s" | bc)"
    done
}
time_it "report --since 30d" report --since 30d
time_it "report --since 30d --node mx2" report --since 30d --node mx2
time_it "report --since 30d --user user42@…" report --since 30d --user user42@example.org
time_it "report --since 24h" report --since 24h
time_it "suggest --since 30d" suggest --since 30d
"$bin" report --since 30d --config "$work/badclients.toml" --now "$now" >"$work/out.txt"
head -3 "$work/out.txt"
