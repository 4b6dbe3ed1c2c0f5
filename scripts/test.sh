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
          chromium chromium-driver fonts-dejavu-core curl iproute2
          dpkg-dev systemd-container postgresql openssl)
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
        systemctl disable --now dovecot postfix redis-server postgresql >/dev/null 2>&1 || true
    fi
fi

# A Debian 13 (trixie) root for the end-to-end tests on Dovecot 2.4 and Postfix 3.10: they run
# them with `chroot ROOT …` (crates/testkit/src/release.rs). trixie's packages are never installed
# on the host. Built into a temporary directory next to it and renamed when complete, so a broken,
# half-built root is never used; rebuilt when the package list (kept in ROOT/.badclients-stamp)
# changes.
trixie_root=${BADCLIENTS_TRIXIE_ROOT:-/var/cache/badclients/trixie-root}
trixie_stamp="suite=trixie variant=apt include=dovecot-core,dovecot-imapd,dovecot-pop3d,dovecot-auth-lua,lua-socket,postfix"
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
if [ "$(cat "$trixie_root/.badclients-stamp" 2>/dev/null)" != "$trixie_stamp" ]; then
    say "building the Debian 13 root $trixie_root (~30 s)"
    if ! command -v mmdebstrap >/dev/null; then
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null
    fi
    # The archive the host's apt uses (deb822 sources, else sources.list), not a written-down one.
    mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
             awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' || true)
    if [ -z "$mirror" ]; then
        mirror=$(cat /etc/apt/sources.list 2>/dev/null |
                 awk '/^deb / && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) {print $i; exit}}' || true)
    fi
    mirror=${mirror:-http://deb.debian.org/debian}
    include=${trixie_stamp##*include=}
    as_root mkdir -p "$(dirname "$trixie_root")"
    # What an interrupted build left behind.
    as_root rm -rf --one-file-system "$trixie_root".new.* "$trixie_root".old.*
    new=$(as_root mktemp -d "$trixie_root.new.XXXXXX")
    if ! as_root mmdebstrap --quiet --variant=apt --include="$include" trixie "$new" "$mirror"; then
        as_root rm -rf --one-file-system "$new"
        echo "mmdebstrap failed: no Debian 13 root at $trixie_root" >&2
        exit 1
    fi
    printf '%s\n' "$trixie_stamp" | as_root tee "$new/.badclients-stamp" >/dev/null
    if [ -e "$trixie_root" ]; then
        old="$trixie_root.old.$$"
        as_root mv "$trixie_root" "$old"
        as_root mv "$new" "$trixie_root"
        as_root rm -rf --one-file-system "$old"
    else
        as_root mv "$new" "$trixie_root"
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

say "the Debian package under systemd (scripts/test-package.sh: Debian 13 and 12 containers)"
./scripts/test-package.sh
