#!/usr/bin/env bash
# Runs cargo-fuzz targets in fuzz/ for SECONDS each (default 60): the TARGETs named
# after SECONDS, or every target. `./scripts/fuzz.sh 1800 lua_pattern rdap_json`
# runs two of them, so that two shells can share the targets between two cores.
# Needs the nightly toolchain (installed with rustup on the project's machines) and
# cargo-fuzz (installed from crates.io when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true

if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    echo "fuzz: no nightly toolchain (rustup toolchain list); cargo fuzz needs one" >&2
    exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz"
    cargo install --locked cargo-fuzz >/dev/null
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
for target in "${targets[@]}"; do
    echo "fuzz: $target for ${seconds}s"
    mkdir -p "fuzz/corpus/$target"
    seeds="fuzz/seeds/$target"
    dirs=("fuzz/corpus/$target")
    [ -d "$seeds" ] && dirs+=("$seeds")
    cargo +nightly fuzz run "$target" "${dirs[@]}" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 2>&1 |
        grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|==|SUMMARY|Done)' || true
    # cargo fuzz run exits non-zero on a finding; pipefail would hide it behind grep.
    if [ -n "$(ls -A "fuzz/artifacts/$target" 2>/dev/null)" ]; then
        echo "fuzz: $target found a crash: fuzz/artifacts/$target" >&2
        exit 1
    fi
done
