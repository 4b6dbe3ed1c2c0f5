#!/usr/bin/env bash
# Builds the Debian package: ./scripts/build-deb.sh [OUTDIR]   (default: target/debian)
# Prints the path of the .deb it wrote. One package for Debian 12 and 13 (built on Debian 12:
# bookworm's glibc runs on trixie). BADCLIENTS_DEB_VERSION overrides the version (default: the
# one in Cargo.toml, with Debian revision 1).
#
# Plain dpkg-deb rather than cargo-deb: nothing to install from crates.io, and what goes where,
# with which owner and mode, and what the maintainer scripts (contrib/debian/) do, is all here.
# Needs: cargo (rustup, Cargo.toml's rust-version), dpkg-dev (dpkg-shlibdeps), binutils (strip).
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-target/debian}
for tool in dpkg-deb dpkg-shlibdeps strip gzip; do
    command -v "$tool" >/dev/null || { echo "build-deb: $tool is missing (apt-get install dpkg-dev binutils)" >&2; exit 1; }
done
crate_version=$(awk -F'"' '/^\[package\]/ {p = 1} p && /^version *=/ {print $2; exit}' Cargo.toml)
version=${BADCLIENTS_DEB_VERSION:-$crate_version-1}
arch=$(dpkg --print-architecture)
target=${CARGO_TARGET_DIR:-target}

cargo build --release --locked --bin badclients >&2
bin=$target/release/badclients

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/root
doc=$root/usr/share/doc/badclients

install -D -m 0755 "$bin" "$root/usr/bin/badclients"
strip --strip-debug "$root/usr/bin/badclients"

# Configuration (conffiles). The modes here are what dpkg unpacks; postinst adds the group
# (dpkg-statoverride) once the user exists: badclients.toml 0640, lists/ 0750 root:badclients.
install -D -m 0640 contrib/badclients.toml "$root/etc/badclients/badclients.toml"
install -d -m 0750 "$root/etc/badclients/lists"
(cd lists && find . -type f -name '*.lst') | while read -r f; do
    install -D -m 0644 "lists/$f" "$root/etc/badclients/lists/$f"
done

# systemd units (the timer is shipped disabled).
for unit in badclients.service badclients-ranges.service badclients-ranges.timer; do
    install -D -m 0644 "contrib/systemd/$unit" "$root/usr/lib/systemd/system/$unit"
done

# Man pages and completions from the CLI definition.
gen=$stage/gen
"$bin" generate man "$gen/man"
"$bin" generate completions "$gen/completions"
install -d "$root/usr/share/man/man1"
for page in "$gen"/man/*.1; do
    gzip -9n < "$page" > "$root/usr/share/man/man1/$(basename "$page").gz"
done
install -D -m 0644 "$gen/completions/badclients.bash" "$root/usr/share/bash-completion/completions/badclients"
install -D -m 0644 "$gen/completions/_badclients" "$root/usr/share/zsh/vendor-completions/_badclients"
install -D -m 0644 "$gen/completions/badclients.fish" "$root/usr/share/fish/vendor_completions.d/badclients.fish"

# Documentation and examples.
install -D -m 0644 README.md "$doc/README.md"
install -D -m 0644 ARCHITECTURE.md "$doc/ARCHITECTURE.md"
install -D -m 0644 LICENSE "$doc/copyright"
install -d "$doc/docs"
install -m 0644 docs/* "$doc/docs/"
install -D -m 0644 contrib/badclients.toml "$doc/examples/badclients.toml"
install -D -m 0644 contrib/dovecot/badclients.lua "$doc/examples/dovecot/badclients.lua"
install -D -m 0644 contrib/dovecot/README.md "$doc/examples/dovecot/README.md"
for unit in badclients.service badclients-ranges.service badclients-ranges.timer; do
    install -D -m 0644 "contrib/systemd/$unit" "$doc/examples/systemd/$unit"
done

# Control area.
install -d "$root/DEBIAN"
for script in postinst prerm postrm; do
    install -m 0755 "contrib/debian/$script" "$root/DEBIAN/$script"
done
(cd "$root" && find etc -type f | sort | sed 's|^|/|') > "$root/DEBIAN/conffiles"

# The libraries the binary links (dpkg-shlibdeps wants a debian/control to read).
mkdir -p "$stage/shlibs/debian"
printf 'Source: badclients\n\nPackage: badclients\nArchitecture: any\n' > "$stage/shlibs/debian/control"
shlibs=$(cd "$stage/shlibs" && dpkg-shlibdeps -O "$root/usr/bin/badclients" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || { echo "build-deb: dpkg-shlibdeps found no libraries" >&2; exit 1; }

size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<CONTROL
Package: badclients
Version: $version
Architecture: $arch
Maintainer: badclients developers <root@localhost>
Installed-Size: $size
Depends: $shlibs, adduser, ca-certificates
Recommends: systemd
Section: mail
Priority: optional
Description: keeps mail clients that log in from their vendor's cloud away
 A daemon that Dovecot (auth policy, Lua passdb) and Postfix (policy service) ask
 whether a login may go on: it looks up where the client address comes from (AS,
 RDAP network, reverse DNS, GeoIP, cloud ranges), checks that against deny lists in
 /etc/badclients/lists, logs one mail-audit line per login and refuses the listed ones.
CONTROL

mkdir -p "$out"
deb=$out/badclients_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >&2
echo "$deb"
