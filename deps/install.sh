#!/bin/sh
# Installs every Debian package listed in deps/debian-packages.txt and, when the machine has no
# deb-src entries, adds deb-src twins of its own Debian deb entries (same URIs, suites, components
# and keyring), so the static agent's dependencies can be built from Debian's source packages.
#
# It leaves the host's boot alone: the list names dracut-core and dracut-network (which do not
# conflict with initramfs-tools), never dracut or a kernel image; the boot tests download their
# guest kernel into a cache (tests/qemu/guest-kernel.sh). tests/pkg/check-deps.sh checks that.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive

if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
	src=$(sh "$here/debsrc-from-sources.sh")
	if [ -n "$src" ]; then
		printf '%s\n' "$src" | $SUDO sh -c 'cat > /etc/apt/sources.list.d/tdx-unlock-src.sources'
	else
		echo "deps/install.sh: no Debian deb entry in the apt sources to derive deb-src from;" \
			"the static build needs deb-src (see docs/static-build.md)" >&2
	fi
fi

pkgs=$(sed -e 's/#.*//' "$here/debian-packages.txt" | tr -s ' \n' ' ')
$SUDO apt-get -o DPkg::Lock::Timeout=300 update
# shellcheck disable=SC2086
$SUDO apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends $pkgs
