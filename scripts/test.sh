#!/usr/bin/env bash
# Runs every check and test of badclients: formatting, lints, a short fuzz run of every
# fuzz target, and the whole test suite. Installs what the tests need when it is missing
# (Debian packages; cargo-fuzz from crates.io). Under CI=true nothing is skipped: a missing
# component is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }

# Debian packages the tests talk to.
packages=(lua5.4 redis-server dovecot-core dovecot-imapd dovecot-pop3d dovecot-auth-lua lua-socket postfix
          chromium chromium-driver fonts-dejavu-core curl iproute2)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    say "installing ${missing[*]}"
    if [ "$(id -u)" -eq 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        sudo apt-get update -qq
        sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    # The tests run their own instances on free loopback ports; the system services the
    # packages may have started are not needed.
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
        systemctl disable --now dovecot postfix redis-server >/dev/null 2>&1 || true
    fi
fi

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

say "fuzz smoke run (${FUZZ_SECONDS:=15} s per target)"
./scripts/fuzz.sh "$FUZZ_SECONDS"

say "cargo test"
cargo test --workspace
