#!/bin/bash
# The Debian packages (make deb): lintian reports no error; the two packages hold exactly the
# files of `make install DESTDIR=... PREFIX=/usr` (same paths, modes and contents; the binaries
# compared by --version, as they are built twice), plus only what dpkg adds (changelog,
# copyright, lintian overrides, compressed man pages); one version everywhere (VERSION,
# debian/changelog, the packages, both binaries); the agent in the package is static.
# Usage: check-deb.sh UNLOCK_DEB KEYD_DEB   (from the top of the checkout; env BUILD, VERSION)
# shellcheck source=tests/pkg/env.sh
. "$(dirname "$0")/env.sh"
UNLOCK_DEB=$1 KEYD_DEB=$2
pkg_scratch

# lintian: errors fail (overrides carry their reasons in debian/*.lintian-overrides).
changes=${UNLOCK_DEB%/*}/tdx-unlock_${VERSION}_$(dpkg --print-architecture).changes
lintian --fail-on error "$changes" >"$T/lintian" 2>&1
rc=$?
if [ $rc -eq 0 ] && ! grep -q '^E:' "$T/lintian"; then
	ok "lintian: no errors ($(grep -c '^W:' "$T/lintian") warnings$(grep '^W:' "$T/lintian" | cut -d' ' -f2-3 | sort -u | tr '\n' ' ' | sed 's/^/: /'))"
else
	bad "lintian (exit $rc): $(cat "$T/lintian")"
fi

# The same run without the overrides must see the static binary: lintian really looked. What it
# reports depends on the static libraries' build: the embedded libcurl (curl's verbose strings),
# and for any static-pie binary its lack of DT_NEEDED entries.
seen=$(lintian --no-override "$changes" 2>/dev/null |
	grep -E '^[EW]: tdx-unlock: (embedded-library|shared-library-lacks-prerequisites) .*usr/sbin/tdx-unlock')
if [ -n "$seen" ]; then
	ok "without debian/tdx-unlock.lintian-overrides lintian reports the static agent (the check can fail): $(echo "$seen" | cut -d' ' -f3 | tr '\n' ' ')"
else
	bad "lintian --no-override does not see the static agent"
fi

# versions
v_changelog=$(dpkg-parsechangelog -S Version)
if [ "$v_changelog" = "$VERSION" ]; then
	ok "debian/changelog version $v_changelog = VERSION"
else
	bad "debian/changelog says $v_changelog, VERSION says $VERSION"
fi
for deb in "$UNLOCK_DEB" "$KEYD_DEB"; do
	v=$(dpkg-deb -f "$deb" Version)
	[ "$v" = "$VERSION" ] || bad "$deb has version $v"
	mkdir -p "$T/pkg" && dpkg-deb -x "$deb" "$T/pkg"
done
for b in tdx-unlock tdx-keyd; do
	out=$("$T/pkg/usr/sbin/$b" --version 2>&1)
	if [ "$out" = "$b $VERSION" ]; then ok "packaged $b --version: $out"; else bad "packaged $b --version: $out"; fi
done
if file "$T/pkg/usr/sbin/tdx-unlock" | grep -Eq 'static(-pie)? linked|statically linked'; then
	ok "the packaged agent is static"
else
	bad "the packaged agent is not static: $(file "$T/pkg/usr/sbin/tdx-unlock")"
fi

# file lists: what dpkg adds is left out, man pages are compared uncompressed
for p in tdx-unlock tdx-keyd; do
	rm -f "$T/pkg/usr/share/doc/$p/changelog.gz" "$T/pkg/usr/share/doc/$p/copyright" \
		"$T/pkg/usr/share/lintian/overrides/$p"
done
rmdir -p "$T/pkg/usr/share/lintian/overrides" 2>/dev/null
gunzip -q "$T"/pkg/usr/share/man/man*/*.gz
make --no-print-directory -s install DESTDIR="$T/inst" PREFIX=/usr >"$T/install.log" 2>&1 ||
	bad "make install: $(tail -5 "$T/install.log")"
listing() { (cd "$1" && find . -mindepth 1 \( -type f -o -type l \) -printf '%M %p\n' | sort); }
if diff <(listing "$T/inst") <(listing "$T/pkg") >"$T/diff"; then
	ok "package file lists = make install DESTDIR (PREFIX=/usr): $(listing "$T/pkg" | wc -l) files, same modes"
else
	bad "package file lists differ from make install (< install, > packages): $(cat "$T/diff")"
fi
if diff -r -q -x tdx-unlock -x tdx-keyd "$T/inst" "$T/pkg" >"$T/cdiff" 2>&1; then
	ok "every file but the two binaries has the same content"
else
	bad "contents differ: $(cat "$T/cdiff")"
fi
# PREFIX: binaries under it, and the unit, hook and dracut module name them there
if make --no-print-directory -s install DESTDIR="$T/local" PREFIX=/opt/tdx >"$T/install.log" 2>&1 &&
	[ -x "$T/local/opt/tdx/sbin/tdx-unlock" ] &&
	[ -x "$T/local/opt/tdx/sbin/tdx-keyd" ] &&
	grep -q '^ExecStart=/opt/tdx/sbin/tdx-keyd serve' "$T/local/lib/systemd/system/tdx-keyd.service" &&
	grep -q ':-/opt/tdx/sbin/tdx-unlock}' "$T/local/usr/share/initramfs-tools/hooks/tdx-unlock" &&
	grep -q ':-/opt/tdx/sbin/tdx-unlock}' "$T/local/usr/lib/dracut/modules.d/91tdx-unlock/module-setup.sh" &&
	[ -f "$T/local/opt/tdx/share/man/man8/tdx-keyd.8" ]; then
	ok "make install PREFIX=/opt/tdx: binaries and man pages under it; unit, hook and dracut module point there"
else
	bad "make install PREFIX=/opt/tdx: $(cd "$T/local" 2>/dev/null && find . -type f | head -30)"
fi

# every path of the package lists is claimed by exactly one package
both=$(comm -12 <(dpkg-deb -c "$UNLOCK_DEB" | awk '$1 !~ /^d/ {print $6}' | sort) \
	<(dpkg-deb -c "$KEYD_DEB" | awk '$1 !~ /^d/ {print $6}' | sort))
if [ -z "$both" ]; then ok "no file is in both packages"; else bad "in both packages: $both"; fi

pkg_done
