#!/usr/bin/env bash
# The Debian package under a real systemd: builds it (scripts/build-deb.sh), boots a fresh
# Debian container with systemd as PID 1 (systemd-nspawn on a copy of a cached mmdebstrap
# root), installs the .deb with apt and checks what an admin relies on. One PASS/FAIL line per
# check; exits non-zero on any failure. Every wait is bounded.
#
#   ./scripts/test-package.sh                      # Debian 13 (trixie) and 12 (bookworm), ~30 s each
#   BADCLIENTS_PKG_SUITES=trixie ./scripts/test-package.sh
#
# Needs root (systemd-nspawn), systemd-container and mmdebstrap (installed when missing), and
# the Debian archive (the host's apt mirror) for the first build of each base root, cached in
# /var/cache/badclients/pkgtest-SUITE. The container shares the host's network: the daemon
# listens on 127.0.0.1:$BADCLIENTS_PKG_PORT (default 38670), which must be free.
set -uo pipefail
cd "$(dirname "$0")/.."

suites=${BADCLIENTS_PKG_SUITES:-trixie bookworm}
port=${BADCLIENTS_PKG_PORT:-38670}
cache=${BADCLIENTS_PKG_CACHE:-/var/cache/badclients}
base_include=systemd,systemd-sysv,dbus,man-db,ca-certificates,adduser,util-linux

say() { printf '\n==> %s\n' "$*"; }
die() { echo "test-package: $*" >&2; exit 1; }

# --- the packages (as the calling user), then root for the rest -----------------------------
if [ -z "${BADCLIENTS_PKG_DEBS:-}" ]; then
    say "building the package"
    started=$SECONDS
    debdir=$(mktemp -d)
    deb1=$(./scripts/build-deb.sh "$debdir") || die "scripts/build-deb.sh failed"
    echo "built $deb1 in $((SECONDS - started)) s"
    # The upgrade: the same package with a bumped version and a changed conffile (a comment
    # in lists/ip_net.deny.lst), so that dpkg has to keep the admin's edit against a new one.
    v1=$(dpkg-deb -f "$deb1" Version)
    v2="$v1+upgrade1"
    dpkg-deb -R "$deb1" "$debdir/v2"
    sed -i "s/^Version: .*/Version: $v2/" "$debdir/v2/DEBIAN/control"
    echo "## a comment the next release added" >> "$debdir/v2/etc/badclients/lists/ip_net.deny.lst"
    deb2=$debdir/badclients_${v2}_$(dpkg --print-architecture).deb
    dpkg-deb --root-owner-group -Zxz --build "$debdir/v2" "$deb2" >/dev/null || die "repacking failed"
    rm -rf "$debdir/v2"
    export BADCLIENTS_PKG_DEBS="$deb1 $deb2" BADCLIENTS_PKG_DEBDIR=$debdir
fi
if [ "$(id -u)" -ne 0 ]; then
    exec sudo --preserve-env=BADCLIENTS_PKG_DEBS,BADCLIENTS_PKG_DEBDIR,BADCLIENTS_PKG_SUITES,BADCLIENTS_PKG_PORT,BADCLIENTS_PKG_CACHE,CI "$0" "$@"
fi
read -r deb1 deb2 <<<"$BADCLIENTS_PKG_DEBS"
v1=$(dpkg-deb -f "$deb1" Version)
v2=$(dpkg-deb -f "$deb2" Version)

for tool in systemd-nspawn:systemd-container mmdebstrap:mmdebstrap curl:curl nsenter:util-linux pgrep:procps ss:iproute2; do
    command -v "${tool%%:*}" >/dev/null && continue
    say "installing ${tool#*:}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${tool#*:}" >/dev/null ||
        die "${tool%%:*} is missing: apt-get install ${tool#*:}"
done

failures=0
checks=0
pass() { checks=$((checks + 1)); printf 'PASS %s\n' "$*"; }
fail() { checks=$((checks + 1)); failures=$((failures + 1)); printf 'FAIL %s\n' "$*"; }
# check NAME COMMAND...: PASS when the command succeeds.
check() { local name=$1; shift; if "$@"; then pass "$name"; else fail "$name"; return 1; fi; }

# --- the cached base root per suite ----------------------------------------------------------
base_root() {
    local suite=$1 root=$cache/pkgtest-$1 stamp="suite=$1 variant=apt include=$base_include"
    if [ "$(cat "$root/.badclients-stamp" 2>/dev/null)" != "$stamp" ]; then
        say "building the $suite base root $root (~1 min)" >&2
        local mirror new
        mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
                 awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' || true)
        if [ -z "$mirror" ]; then
            mirror=$(awk '/^deb / && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) {print $i; exit}}' \
                     /etc/apt/sources.list 2>/dev/null || true)
        fi
        mkdir -p "$cache"
        rm -rf --one-file-system "$root".new.* "$root".old.*
        new=$(mktemp -d "$root.new.XXXXXX")
        if ! mmdebstrap --quiet --variant=apt --include="$base_include" "$suite" "$new" \
                "${mirror:-http://deb.debian.org/debian}" >&2; then
            rm -rf --one-file-system "$new"
            return 1
        fi
        printf '%s\n' "$stamp" > "$new/.badclients-stamp"
        if [ -e "$root" ]; then mv "$root" "$root.old.$$"; fi
        mv "$new" "$root"
        rm -rf --one-file-system "$root.old.$$"
    fi
    echo "$root"
}

# --- one container -------------------------------------------------------------------------
tmp=
nspawn_pid=
leader=
cleanup() {
    if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
        [ -n "$leader" ] && timeout 20 nsenter -t "$leader" -a systemctl poweroff >/dev/null 2>&1
        for _ in $(seq 1 60); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.5; done
        kill "$nspawn_pid" 2>/dev/null
        for _ in $(seq 1 20); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.5; done
        kill -9 "$nspawn_pid" 2>/dev/null
    fi
    [ -n "$tmp" ] && rm -rf --one-file-system "$tmp"
    tmp= nspawn_pid= leader=
}
trap 'cleanup; [ -n "${BADCLIENTS_PKG_DEBDIR:-}" ] && rm -rf "$BADCLIENTS_PKG_DEBDIR"' EXIT
trap 'exit 130' INT TERM

# in_ct [timeout] CMD...: runs CMD inside the container with a clean environment.
in_ct() {
    local limit=60
    if [[ $1 =~ ^[0-9]+$ ]]; then limit=$1; shift; fi
    timeout "$limit" nsenter -t "$leader" -a \
        env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
        HOME=/root DEBIAN_FRONTEND=noninteractive "$@"
}

# wait_for SECONDS CMD...: polls CMD every 0.3 s until it succeeds or the time is up.
wait_for() {
    local deadline=$((SECONDS + $1)); shift
    until "$@"; do
        [ "$SECONDS" -ge "$deadline" ] && return 1
        sleep 0.3
    done
}

key=
# policy: the Dovecot auth-policy answer for alice from 176.112.169.218 (the JSON).
policy() {
    curl -s --max-time 5 -H 'Content-Type: application/json' -H "X-API-Key: $key" \
        -d '{"login":"alice","remote":"176.112.169.218","protocol":"imap"}' \
        "http://127.0.0.1:$port/?command=allow"
}
refused() { [[ $(policy) == *'"status":-1'* ]]; }
allowed() { [[ $(policy) == *'"status":0'* ]]; }
main_pid() { in_ct systemctl show -p MainPID --value badclients.service; }
# journal_has ARGS... PATTERN: a journal entry (JSON) matching PATTERN. (grep reads it all:
# with pipefail, grep -q's early exit would fail the pipeline through journalctl's SIGPIPE.)
journal_has() {
    local pattern=${*: -1}
    in_ct journalctl --no-pager -o json "${@:1:$#-1}" | grep -- "$pattern" >/dev/null
}

# reload_entries WHY: the entry count of the last "reloaded" with that cause (the watcher reloads
# too when a list is edited; the counts show which reload read which version).
reload_entries() {
    in_ct journalctl -u badclients.service -o json --no-pager | grep '"MESSAGE":"reloaded"' |
        grep "\"F_WHY\":\"$1\"" | grep -o '"F_ENTRIES":"[0-9]*"' | tail -1 | tr -dc 0-9
}

# The checks run as `bash -c "…"` see these.
export -f in_ct wait_for policy refused allowed main_pid journal_has reload_entries

run_suite() {
    local suite=$1 base suite_start
    suite_start=$(date +%s)
    say "Debian $suite: a fresh container"
    base=$(base_root "$suite") || { fail "$suite: base root (mmdebstrap)"; return; }
    if [ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]; then
        fail "$suite: port $port is free"
        return
    fi
    export leader port key
    tmp=$(mktemp -d /var/tmp/badclients-pkgtest.XXXXXX)
    cp -a --reflink=auto "$base" "$tmp/root"
    cp "$deb1" "$deb2" "$tmp/root/root/"
    systemd-nspawn -q -D "$tmp/root" -b --register=no --keep-unit -M "bcpkg$$" \
        --console=pipe </dev/null >"$tmp/boot.log" 2>&1 &
    nspawn_pid=$!
    # The container's PID 1 is the child of systemd-nspawn that runs systemd.
    if ! wait_for 30 eval 'leader=$(pgrep -P "$nspawn_pid" -x systemd)'; then
        fail "$suite: the container boots"; cat "$tmp/boot.log"; cleanup; return
    fi
    local state
    state=$(in_ct 90 systemctl is-system-running --wait)
    case $state in
    running) pass "$suite: booted with systemd $(in_ct systemctl --version | awk 'NR==1 {print $2}') ($state)" ;;
    degraded) pass "$suite: booted ($state: $(in_ct systemctl --failed --no-legend --plain | awk '{printf "%s ", $1}'))" ;;
    *) fail "$suite: the container boots (is-system-running: ${state:-timeout})"; cleanup; return ;;
    esac

    # --- the package's metadata ---
    local depends
    depends=$(dpkg-deb -f "$deb1" Depends)
    check "$suite: Depends names libc6 and ca-certificates ($depends)" \
        grep -Eq 'libc6 \(>= [0-9.]+\).*ca-certificates' <<<"$depends"

    # --- install ---
    if in_ct 300 bash -c "cd /root && apt install -y ./$(basename "$deb1")" >"$tmp/apt1.log" 2>&1; then
        pass "$suite: apt install ./$(basename "$deb1")"
    else
        fail "$suite: apt install ./$(basename "$deb1")"; tail -20 "$tmp/apt1.log"; cleanup; return
    fi
    local r=$tmp/root
    check "$suite: /usr/bin/badclients runs" bash -c "in_ct badclients --version | grep -q '^badclients '"
    check "$suite: system user badclients (uid < 1000, no login shell)" \
        bash -c "in_ct getent passwd badclients | awk -F: '\$3 < 1000 && \$7 ~ /nologin|false/ {ok = 1} END {exit !ok}'"
    check "$suite: badclients.toml is 0640 root:badclients" \
        bash -c "in_ct stat -c '%a %U %G' /etc/badclients/badclients.toml | grep -qx '640 root badclients'"
    check "$suite: lists/ is 0750 root:badclients, not readable by others" \
        bash -c "in_ct stat -c '%a %U %G' /etc/badclients/lists | grep -qx '750 root badclients'"
    key=$(sed -n 's/^api_key = "\([0-9a-f]\{64\}\)".*/\1/p' "$r/etc/badclients/badclients.toml")
    check "$suite: the first install wrote a random [http] api_key" test -n "$key"
    local conffiles
    conffiles=$(in_ct dpkg-query -W -f='${Conffiles}' badclients)
    check "$suite: badclients.toml and lists/*.lst are conffiles ($(grep -c . <<<"$conffiles"))" \
        bash -c "grep -q ' /etc/badclients/badclients.toml ' <<<'$conffiles' && grep -q ' /etc/badclients/lists/ip_net.deny.lst ' <<<'$conffiles'"
    check "$suite: units installed, service and timer not enabled" \
        bash -c "test \"\$(in_ct systemctl is-enabled badclients.service badclients-ranges.timer | tr '\n' ' ')\" = 'disabled disabled '"
    check "$suite: systemd-analyze verify accepts the three units" \
        in_ct systemd-analyze verify badclients.service badclients-ranges.service badclients-ranges.timer
    check "$suite: the timer's service runs ranges update as badclients" \
        bash -c "in_ct systemctl cat badclients-ranges.service | grep -q '^ExecStart=/usr/bin/badclients ranges update --config /etc/badclients/badclients.toml' &&
               in_ct systemctl show -p User --value badclients-ranges.service | grep -qx badclients"
    check "$suite: docs and examples in /usr/share/doc/badclients" \
        test -f "$r/usr/share/doc/badclients/README.md" -a -f "$r/usr/share/doc/badclients/docs/dovecot.md" \
             -a -f "$r/usr/share/doc/badclients/examples/dovecot/badclients.lua" \
             -a -f "$r/usr/share/doc/badclients/examples/badclients.toml"
    check "$suite: bash, zsh and fish completions" \
        bash -c "in_ct bash -c '. /usr/share/bash-completion/completions/badclients && complete -p badclients' >/dev/null &&
               test -s '$r/usr/share/zsh/vendor-completions/_badclients' &&
               test -s '$r/usr/share/fish/vendor_completions.d/badclients.fish'"
    check "$suite: man badclients" bash -c "in_ct man -P cat badclients 2>/dev/null | grep -q 'badclients-serve'"
    check "$suite: man badclients-serve and badclients-ranges-update" \
        bash -c "in_ct man -w badclients-serve >/dev/null && in_ct man -w badclients-ranges-update >/dev/null"
    check "$suite: the unit's Documentation= is installed (man:badclients(1))" \
        bash -c "in_ct systemctl show -p Documentation --value badclients.service | grep -q 'man:badclients(1)'"

    # --- a configuration for a machine without upstreams: lookups fail at once ---
    local conf=$r/etc/badclients/badclients.toml
    sed -i -e "s/^listen = \"127.0.0.1:8670\"/listen = \"127.0.0.1:$port\"/" \
        -e 's/^dns_servers = \[\]/dns_servers = ["127.0.0.1:9"]/' \
        -e 's/^deadline_ms = 1000 /deadline_ms = 500 /' \
        -e 's|^# \(arin\|ripencc\|apnic\|lacnic\|afrinic\) = .*|\1 = "http://127.0.0.1:9/"|' "$conf"
    check "$suite: the test's configuration edit applied" grep -q "^listen = \"127.0.0.1:$port\"" "$conf"
    # One entry that stays: a list directory that goes from some entries to none is a fault
    # (the daemon keeps the last good lists), which the watcher check below must not hit.
    echo "192.0.2.0/24   # test: TEST-NET-1, stays" >> "$r/etc/badclients/lists/ip_net.deny.lst"

    # --- start ---
    if in_ct 60 systemctl enable --now badclients.service >/dev/null 2>&1; then
        pass "$suite: systemctl enable --now badclients"
    else
        fail "$suite: systemctl enable --now badclients"
        in_ct journalctl -u badclients --no-pager | tail -20
        cleanup; return
    fi
    local props pid uid
    props=$(in_ct systemctl show -p Type,ActiveState,SubState,NRestarts badclients.service | sort | tr '\n' ' ')
    check "$suite: Type=notify reached active (running) [$props]" \
        test "$props" = 'ActiveState=active NRestarts=0 SubState=running Type=notify ' 
    pid=$(main_pid)
    uid=$(in_ct awk '/^Uid:/ {print $2}' "/proc/$pid/status")
    check "$suite: the daemon (pid $pid) runs as badclients, not root (uid $uid)" \
        test "$uid" = "$(in_ct id -u badclients)" -a "$uid" != 0
    check "$suite: the daemon answers on 127.0.0.1:$port" wait_for 15 allowed

    # --- a Dovecot policy request ---
    local answer
    answer=$(policy)
    check "$suite: policy request gets a decision ($answer)" grep -q '"status":0' <<<"$answer"
    check "$suite: a request without the API key is refused (401)" \
        test "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Content-Type: application/json' \
                -d '{"login":"alice","remote":"176.112.169.218","protocol":"imap"}' \
                "http://127.0.0.1:$port/?command=allow")" = 401
    check "$suite: the audit line is in journalctl -t mail-audit with F_VERDICT, F_MATCHED, F_ENFORCED" \
        wait_for 10 bash -c "in_ct journalctl -t mail-audit -o json --no-pager |
            grep '176.112.169.218' | grep '\"F_VERDICT\"' | grep '\"F_MATCHED\"' | grep -q '\"F_ENFORCED\"'"
    in_ct journalctl -t mail-audit -o cat --no-pager | tail -1 | sed 's/^/     audit: /'

    # --- reload: an edited list through systemctl reload (/bin/kill absent or not) ---
    local lists=$r/etc/badclients/lists
    [ -e "$r/bin/kill" ] || echo "     (no /bin/kill in this container)"
    echo "176.112.168.0/21   # test: VK" >> "$lists/ip_net.deny.lst"
    check "$suite: systemctl reload badclients succeeds" in_ct 30 systemctl reload badclients.service
    check "$suite: after the reload the request is refused" wait_for 5 refused
    check "$suite: the journal shows the SIGHUP reload" wait_for 10 journal_has -u badclients.service '"F_WHY":"SIGHUP"'
    check "$suite: the reload kept the process (pid $pid)" test "$(main_pid)" = "$pid"

    # --- the file watcher alone: no reload call ---
    sed -i '/# test: VK$/d' "$lists/ip_net.deny.lst"
    check "$suite: the watcher picks up the list edit (entry removed: allowed)" wait_for 15 allowed
    # The SIGHUP reload read the edited list itself: it counted one entry more than the
    # watcher's reload after the removal (not merely a watcher reload racing it).
    local hup_entries
    hup_entries=$(reload_entries SIGHUP)
    check "$suite: the SIGHUP reload read the edit ($hup_entries entries, one more than after the removal)" \
        wait_for 10 bash -c "test -n '$hup_entries' && test \"\$(reload_entries 'file change')\" = $((${hup_entries:-0} - 1))"
    echo "176.112.169.218/32   # test: admin edit" >> "$lists/ip_net.deny.lst"
    check "$suite: the watcher picks up the list edit (entry added: refused)" wait_for 15 refused
    check "$suite: the journal shows the watcher's reload" wait_for 10 journal_has -u badclients.service '"F_WHY":"file change"'

    # --- the sandbox: the service's own mount namespace (ProtectSystem=strict, ProtectHome) ---
    # As root there, so that only the mounts (not file permissions) can say no.
    local gid ns="nsenter -t $pid -m"
    gid=$(in_ct id -g badclients)
    for path in /etc/badclients/probe /usr/lib/probe /var/lib/probe /root/probe /home/probe; do
        check "$suite: sandbox: $path cannot be written (read-only file system)" \
            bash -c "in_ct $ns touch $path 2>&1 | grep -q 'Read-only file system'"
    done
    check "$suite: sandbox: the state directory is writable by the service's user" \
        in_ct $ns -S "$uid" -G "$gid" sh -c 'touch /var/lib/badclients/probe && rm /var/lib/badclients/probe'
    check "$suite: outside the sandbox /var/lib is writable (the probe means something)" \
        bash -c "in_ct touch /var/lib/probe && in_ct rm /var/lib/probe"
    check "$suite: the daemon's history and cache are in the state directory" \
        bash -c "ls '$r/var/lib/badclients/' | grep -q 'history.redb' && ls '$r/var/lib/badclients/' | grep -q 'cache.redb'"
    check "$suite: /proc/$pid/mountinfo: / is mounted read-only for the daemon" \
        bash -c "in_ct awk '\$5 == \"/\" {print \$6}' /proc/$pid/mountinfo | grep -q '^ro'"

    # --- a clean stop ---
    local before_stop
    before_stop=$(in_ct date '+%Y-%m-%d %H:%M:%S')
    check "$suite: systemctl stop badclients" in_ct 40 systemctl stop badclients.service
    props=$(in_ct systemctl show -p Result,ExecMainCode,ExecMainStatus badclients.service | sort | tr '\n' ' ')
    check "$suite: the stop is clean [$props]" test "$props" = 'ExecMainCode=1 ExecMainStatus=0 Result=success ' 
    check "$suite: no SIGKILL in the journal" \
        bash -c "! in_ct journalctl -u badclients.service --since '$before_stop' --no-pager | grep -Eiq 'SIGKILL|killing'"

    # --- upgrade over an edited conffile ---
    in_ct 60 systemctl start badclients.service
    pid=$(main_pid)
    if in_ct 300 bash -c "cd /root && apt install -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold ./$(basename "$deb2")" >"$tmp/apt2.log" 2>&1; then
        pass "$suite: upgrade $v1 -> $v2 with apt (--force-confold)"
    else
        fail "$suite: upgrade $v1 -> $v2 with apt"; tail -20 "$tmp/apt2.log"
    fi
    check "$suite: $v2 is installed" bash -c "in_ct dpkg-query -W -f='\${Version}' badclients | grep -qx '$v2'"
    check "$suite: the upgrade kept the edited list" grep -q '^176.112.169.218/32   # test: admin edit' "$lists/ip_net.deny.lst"
    check "$suite: the package's new list is beside it (.dpkg-dist)" grep -q 'a comment the next release added' "$lists/ip_net.deny.lst.dpkg-dist"
    check "$suite: the upgrade kept the API key and the port" \
        bash -c "grep -q '^api_key = \"$key\"' '$conf' && grep -q '^listen = \"127.0.0.1:$port\"' '$conf'"
    check "$suite: badclients.toml still 0640 root:badclients" \
        bash -c "in_ct stat -c '%a %U %G' /etc/badclients/badclients.toml | grep -qx '640 root badclients'"
    check "$suite: the upgrade restarted the daemon (pid $pid -> $(main_pid))" \
        bash -c "test '$(main_pid)' != '$pid' && test \"\$(in_ct systemctl is-active badclients.service)\" = active"
    check "$suite: after the upgrade the edited list still refuses" wait_for 15 refused

    # --- purge ---
    if in_ct 120 apt purge -y badclients >"$tmp/apt3.log" 2>&1; then
        pass "$suite: apt purge badclients"
    else
        fail "$suite: apt purge badclients"; tail -20 "$tmp/apt3.log"
    fi
    check "$suite: purge removed /var/lib/badclients and /etc/badclients" \
        test ! -e "$r/var/lib/badclients" -a ! -e "$r/etc/badclients"
    check "$suite: purge removed the user and the group" \
        bash -c "! in_ct getent passwd badclients >/dev/null && ! in_ct getent group badclients >/dev/null"
    check "$suite: purge left no enablement symlink and nothing listening" \
        bash -c "test ! -e '$r/etc/systemd/system/multi-user.target.wants/badclients.service' &&
               ! curl -s --max-time 2 http://127.0.0.1:$port/healthz >/dev/null"
    check "$suite: dpkg forgot badclients" bash -c "! in_ct dpkg-query -W -f='\${Status}' badclients 2>/dev/null | grep -q installed"

    # --- the README's manual install, in the same (now purged) container ---
    local block
    block=$(awk '/^### Install by hand/ {on = 1} /^### Tell Dovecot/ {on = 0}
                 on && /^       / {sub(/^       /, ""); print}' README.md | grep -v '^cargo build')
    mkdir -p "$r/root/src/target/release"
    cp "${CARGO_TARGET_DIR:-target}/release/badclients" "$r/root/src/target/release/"
    cp -r lists contrib "$r/root/src/"
    if grep -q '^useradd ' <<<"$block" && in_ct 60 bash -ec "cd /root/src && $block" >"$tmp/manual.log" 2>&1; then
        pass "$suite: manual install: the README's commands run as written"
    else
        fail "$suite: manual install: the README's commands run as written"; cat "$tmp/manual.log"
    fi
    check "$suite: manual install: badclients.toml 0640 root:badclients" \
        bash -c "in_ct stat -c '%a %U %G' /etc/badclients/badclients.toml | grep -qx '640 root badclients'"
    # Step 2 (the key, with the README's command) and this test's listen address.
    local readme_key_cmd
    readme_key_cmd=$(grep -o "(\`od -An[^\`]*\`)" README.md | tr -d '()`')
    key=$(in_ct sh -c "$readme_key_cmd")
    sed -i -e "s|^# api_key = .*|api_key = \"$key\"|" \
        -e "s/^listen = \"127.0.0.1:8670\"/listen = \"127.0.0.1:$port\"/" \
        -e 's/^dns_servers = \[\]/dns_servers = ["127.0.0.1:9"]/' "$r/etc/badclients/badclients.toml"
    check "$suite: manual install: the README's key command made a key ($key)" grep -Eqx '[0-9a-f]{64}' <<<"$key"
    # Step 3 as the README writes it.
    local step3='cp contrib/systemd/badclients.service /etc/systemd/system/ &&
   systemctl daemon-reload && systemctl enable --now badclients'
    check "$suite: manual install: the README's step 3 is the command run here" grep -qF "$step3" README.md
    check "$suite: manual install: cp the unit, daemon-reload, enable --now" \
        in_ct 60 bash -c "cd /root/src && $(tr -d '\n' <<<"$step3" | tr -s ' ')"
    pid=$(main_pid)
    uid=$(in_ct awk '/^Uid:/ {print $2}' "/proc/$pid/status")
    check "$suite: manual install: active (running) as badclients (uid $uid)" \
        bash -c "in_ct systemctl is-active badclients.service | grep -qx active &&
                 test '$uid' = \"\$(in_ct id -u badclients)\" -a '$uid' != 0"
    check "$suite: manual install: the policy request gets a decision" wait_for 15 allowed
    check "$suite: manual install: systemctl reload badclients" in_ct 30 systemctl reload badclients.service
    check "$suite: manual install: systemctl stop is clean" \
        bash -c "in_ct 40 systemctl stop badclients.service &&
                 in_ct systemctl show -p Result --value badclients.service | grep -qx success"

    cleanup
    echo "Debian $suite: $(($(date +%s) - suite_start)) s"
}

for suite in $suites; do
    run_suite "$suite"
done

echo
if [ "$failures" -eq 0 ] && [ "$checks" -gt 0 ]; then
    echo "package test: all $checks checks passed ($suites)"
else
    echo "package test: $failures of $checks checks FAILED ($suites)"
    exit 1
fi
