#!/bin/sh
# Installs every Debian package listed in deps/debian-packages.txt, and enables deb-src so that
# the static agent's dependencies can be built from Debian's source packages.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive

# deb-src for bookworm main/security: the static build fetches pinned source packages.
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
	$SUDO sh -c 'cat > /etc/apt/sources.list.d/tdx-unlock-src.sources' <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi

pkgs=$(sed -e 's/#.*//' "$here/debian-packages.txt" | tr -s ' \n' ' ')
$SUDO apt-get -o DPkg::Lock::Timeout=300 update
# shellcheck disable=SC2086
$SUDO apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends $pkgs
