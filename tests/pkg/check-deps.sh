#!/bin/bash
# The set-up leaves the host's boot alone (issue 11):
# 1. `apt-get -s install initramfs-tools <deps/debian-packages.txt>` removes nothing and installs
#    no kernel image and no dracut (which conflicts with initramfs-tools); the same simulation
#    with dracut added is shown to be caught.
# 2. deps/debsrc-from-sources.sh, on sample apt sources (one-line and deb822, a local mirror, a
#    file: mirror, options, a disabled stanza, a non-Debian suite, an existing deb-src line),
#    prints deb-src stanzas that apt itself parses into exactly the expected Sources indexes.
# Usage: check-deps.sh   (from the top of the checkout)
# shellcheck source=tests/pkg/env.sh
. "$(dirname "$0")/env.sh"
pkg_scratch

# --- 1. the install list against initramfs-tools ---
pkgs=$(sed -e 's/#.*//' deps/debian-packages.txt | tr -s ' \n' ' ')
sim() { apt-get -s -o Debug::NoLocking=1 install --no-install-recommends initramfs-tools "$@" 2>&1; }
# verdict SIMULATION-OUTPUT: what is wrong with it for the host's boot, or nothing
verdict() {
	grep -q '^E: ' <<<"$1" && { grep '^E: ' <<<"$1" | head -2; return; }
	grep -E '^Remv ' <<<"$1" | head -3
	grep -E '^Inst (linux-image-[^ ]*|dracut) ' <<<"$1" | head -3
}
if ! apt-cache show initramfs-tools >/dev/null 2>&1; then
	echo "check-deps: install-list simulation skipped (no apt package lists: run apt-get update)"
else
	# shellcheck disable=SC2086 # the list is words
	out=$(sim $pkgs)
	v=$(verdict "$out")
	if [ -z "$v" ] && grep -Eq '^(Inst|Conf) |^0 upgraded|newly installed' <<<"$out"; then
		ok "apt-get -s install initramfs-tools + the $(wc -w <<<"$pkgs") listed packages: nothing removed, no kernel image, no dracut ($(grep -c '^Inst ' <<<"$out") to install here)"
	else
		bad "the install list would change the host's boot: ${v:-$(tail -3 <<<"$out")}"
	fi
	grep -Eqx '(dracut|linux-image-.*)' <<<"$(tr ' ' '\n' <<<"$pkgs")" &&
		bad "deps/debian-packages.txt names dracut or a kernel image"
	# shellcheck disable=SC2086
	v=$(verdict "$(sim $pkgs dracut)")
	if [ -n "$v" ]; then
		ok "the check catches dracut in the list: $(head -1 <<<"$v")"
	else
		bad "adding dracut to the list went unnoticed"
	fi
fi

# --- 2. deb-src derived from the machine's own sources ---
mkdir -p "$T/apt/sources.list.d" "$T/parts" "$T/lists"
cat >"$T/apt/sources.list" <<'SRC'
# a local mirror, with options; a file: mirror; a third-party suite; an existing deb-src line
deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://127.0.0.1:3142/debian bookworm main contrib
deb file:/srv/mirror/debian-security bookworm-security main
deb http://127.0.0.1:8080/vendor focal main
deb-src http://127.0.0.1:3142/debian bookworm non-free
SRC
cat >"$T/apt/sources.list.d/debian.sources" <<'SRC'
Types: deb
URIs: http://127.0.0.1:3142/debian
Suites: bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://127.0.0.1:3142/old
Suites: bullseye
Components: main
Enabled: no

Types: deb
URIs: http://127.0.0.1:8080/other-vendor
Suites: jammy
Components: main
SRC
APT_SOURCES_DIR=$T/apt sh deps/debsrc-from-sources.sh >"$T/parts/derived.sources" 2>"$T/err"
rc=$?
uris=$(apt-get -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$T/parts" \
	-o Dir::State::Lists="$T/lists" -o Debug::NoLocking=1 --print-uris update 2>"$T/apt-err" |
	sed -n "s/^'\([^']*Sources\)\.[a-z0-9]*' .*/\1/p" | sort)
expected="file:/srv/mirror/debian-security/dists/bookworm-security/main/source/Sources
http://127.0.0.1:3142/debian/dists/bookworm-updates/main/source/Sources
http://127.0.0.1:3142/debian/dists/bookworm/contrib/source/Sources
http://127.0.0.1:3142/debian/dists/bookworm/main/source/Sources"
if [ $rc -ne 0 ] || grep -q '^E:' "$T/apt-err"; then
	bad "debsrc-from-sources.sh exit $rc, apt says: $(cat "$T/err" "$T/apt-err")"
elif [ "$uris" != "$expected" ]; then
	bad "deb-src derived: got
$uris
want
$expected"
else
	ok "deb-src derived from one-line and deb822 sources (local and file: mirrors kept, disabled and non-Debian entries left out): apt reads $(wc -l <<<"$uris") Sources indexes"
fi
if [ "$(grep -c '^Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' "$T/parts/derived.sources")" = 2 ]; then
	ok "the keyring of each entry is kept"
else
	bad "Signed-By lost: $(cat "$T/parts/derived.sources")"
fi

pkg_done
