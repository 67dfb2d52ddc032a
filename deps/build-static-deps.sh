#!/bin/sh
# Builds the static libraries of the initramfs agent -- a reduced OpenSSL, libdevmapper (lvm2),
# libcryptsetup and a minimal HTTPS-only libcurl -- from the pinned Debian source packages in
# deps/static-sources.txt into deps/prefix-static (see docs/static-build.md).
#
# Idempotent and cheap when nothing changed: the prefix records a hash of this script and of the
# pin list, and the script exits at once when they match. Downloads, unpacked sources and build
# trees are cached under deps/cache. A lock serialises concurrent runs from one checkout.
#
# Usage: build-static-deps.sh [--fetch-only]   (--fetch-only: download and unpack, no build)
# Environment: DEPS_CACHE, DEPS_PREFIX (defaults deps/cache, deps/prefix-static), JOBS (2),
# CC (gcc), STATIC_SOURCES (the pin list, default deps/static-sources.txt).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
CACHE=${DEPS_CACHE:-$here/cache}
PREFIX=${DEPS_PREFIX:-$here/prefix-static}
JOBS=${JOBS:-2}
CC=${CC:-gcc}
SOURCES=${STATIC_SOURCES:-$here/static-sources.txt}
FETCH_ONLY=0
case "${1:-}" in
--fetch-only) FETCH_ONLY=1 ;;
"") ;;
*)
	echo "usage: $0 [--fetch-only]" >&2
	exit 2
	;;
esac
LOCK_WAIT=3600 # seconds another run may hold the lock (a cold build takes 3-15 min)
FETCH_TRIES=3  # apt-get attempts per version before trying the next one

# Position-independent (the agent links with -static-pie) and hardened like Debian's packages;
# sections per function so that the final link drops what the agent never calls.
DEP_CFLAGS="-Os -fPIE -fstack-protector-strong -fstack-clash-protection -fcf-protection \
-D_FORTIFY_SOURCE=2 -ffunction-sections -fdata-sections"

log() { printf 'static-deps: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

recipe=$(cat "$0" "$SOURCES" | sha256sum | cut -d' ' -f1)
is_complete() { [ -f "$PREFIX/.complete" ] && [ "$(cat "$PREFIX/.complete")" = "$recipe" ]; }

report_uptodate() {
	secs=$(cat "$PREFIX/.build-seconds" 2>/dev/null || echo '?')
	log "up to date in $PREFIX (cold build took ${secs} s)"
}

if [ "$FETCH_ONLY" -eq 0 ] && is_complete; then
	report_uptodate
	exit 0
fi

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
if ! flock -n 9; then
	log "waiting for another build of the static dependencies (at most ${LOCK_WAIT} s)"
	flock -w "$LOCK_WAIT" 9 || die "timed out waiting for $CACHE/.lock"
fi
if [ "$FETCH_ONLY" -eq 0 ] && is_complete; then
	report_uptodate
	exit 0
fi

for tool in apt-get apt-cache dpkg-source autoreconf libtoolize autopoint pkg-config make "$CC"; do
	command -v "$tool" >/dev/null || die "'$tool' is missing: run deps/install.sh"
done
for pc in json-c libargon2 uuid; do
	pkg-config --exists "$pc" || die "pkg-config module '$pc' is missing: run deps/install.sh"
done

pinned_version() {
	v=$(sed -e 's/#.*//' "$SOURCES" | awk -v p="$1" '$1 == p { print $2; exit }')
	[ -n "$v" ] || die "no version for '$1' in $SOURCES"
	echo "$v"
}

# apt-get source PKG=VERSION into the download cache; bounded retries for a flaky mirror.
download_version() {
	n=0
	while [ "$n" -lt "$FETCH_TRIES" ]; do
		if (cd "$CACHE/download" && apt-get source -q --download-only "$1=$2") \
			>"$CACHE/download/$1.log" 2>&1; then
			return 0
		fi
		# A missing version or a 404 will not heal by retrying; a network hiccup may.
		grep -q '404' "$CACHE/download/$1.log" && return 1
		grep -qE 'Temporary failure|Could not (connect|resolve)|timed out|Connection' \
			"$CACHE/download/$1.log" || return 1
		n=$((n + 1))
		sleep 2
	done
	return 1
}

# Prints the upstream tarball of package $1 version $2 that apt fetched, if any.
orig_tarball() {
	for f in "$CACHE/download/${1}_$2.orig.tar."*; do
		case $f in *.asc) continue ;; esac
		[ -f "$f" ] && echo "$f" && return 0
	done
	return 1
}

# Prints the directory of the unpacked, Debian-patched source of package $1. With $2 = orig-ok
# (OpenSSL, whose Debian versions are upstream point releases), a pinned version whose .dsc the
# mirror no longer has, but whose upstream tarball apt still fetched (hash-checked against the
# signed Sources index), is built from that tarball rather than from an older Debian version.
fetch_source() {
	pkg=$1
	pin=$(pinned_version "$pkg")
	upstream=${pin#*:}
	upstream=${upstream%-*}
	if [ -f "$CACHE/src/$pkg.version" ]; then
		have=$(cat "$CACHE/src/$pkg.version")
		dir=$(cat "$CACHE/src/$pkg.dir")
		if [ -d "$dir" ] && [ "$have" = "$pin" ]; then
			[ -f "$CACHE/src/$pkg.orig-for-$pin" ] &&
				log "warning: $pkg=$pin built from its upstream tarball (Debian's .dsc is not on the mirror)"
			echo "$dir"
			return 0
		fi
		if [ -d "$dir" ] && [ -f "$CACHE/src/$pkg.fallback-for-$pin" ]; then
			log "warning: using $pkg=$have instead of the pinned $pin; update $SOURCES"
			echo "$dir"
			return 0
		fi
	fi
	got=
	rm -f "$CACHE/src/$pkg.orig-for-$pin"
	if download_version "$pkg" "$pin"; then
		got=$pin
	elif [ "${2:-}" = orig-ok ] && orig=$(orig_tarball "$pkg" "$upstream"); then
		log "warning: $pkg=$pin has no .dsc on the mirror; building its upstream tarball ${orig##*/}"
		dir=$CACHE/src/$pkg-$upstream-orig
		rm -rf "$dir"
		mkdir -p "$dir"
		tar -xf "$orig" -C "$dir" --strip-components=1 || die "cannot unpack $orig"
		touch "$CACHE/src/$pkg.orig-for-$pin"
		echo "$pin" >"$CACHE/src/$pkg.version"
		echo "$dir" >"$CACHE/src/$pkg.dir"
		echo "$dir"
		return 0
	else
		log "warning: $pkg=$pin is not fetchable ($(tail -n1 "$CACHE/download/$pkg.log"))"
		for v in $(apt-cache showsrc "$pkg" 2>/dev/null |
			awk -v p="$pkg" '/^Package:/ { ok = ($2 == p) } ok && /^Version:/ { print $2 }' |
			sort -r -V | head -n 5); do
			[ "$v" = "$pin" ] && continue
			if download_version "$pkg" "$v"; then
				got=$v
				log "warning: using $pkg=$v instead of the pinned $pin; update $SOURCES"
				touch "$CACHE/src/$pkg.fallback-for-$pin"
				break
			fi
		done
	fi
	[ -n "$got" ] || die "cannot fetch source package $pkg (is deb-src enabled? see deps/install.sh)"
	# The .dsc name has no epoch.
	dsc=$CACHE/download/${pkg}_${got#*:}.dsc
	[ -f "$dsc" ] || die "$dsc missing after apt-get source"
	dir=$CACHE/src/$pkg-${got#*:}
	rm -rf "$dir"
	# apt already checked the hashes against the signed Sources index; no keyring is needed.
	dpkg-source --no-check -x "$dsc" "$dir" >"$CACHE/src/$pkg.unpack.log" 2>&1 ||
		die "dpkg-source -x $dsc failed, see $CACHE/src/$pkg.unpack.log"
	echo "$got" >"$CACHE/src/$pkg.version"
	echo "$dir" >"$CACHE/src/$pkg.dir"
	echo "$dir"
}

# Runs "$@" with output to $log; on failure shows its tail and stops.
run_logged() {
	log_file=$1
	shift
	if ! "$@" >>"$log_file" 2>&1; then
		tail -n 30 "$log_file" >&2
		die "'$*' failed, full log: $log_file"
	fi
}

# Copy the pristine source into a fresh build tree (the builds are in-tree).
fresh_tree() {
	rm -rf "$CACHE/build/$1"
	cp -a "$2" "$CACHE/build/$1"
	echo "$CACHE/build/$1"
}

build_openssl() {
	src=$(fetch_source openssl orig-ok)
	b=$(fresh_tree openssl "$src")
	l=$b/tdx-build.log
	log "building a reduced OpenSSL (libcrypto, libssl) from $(basename "$src")"
	(
		cd "$b"
		# Only what TLS 1.2/1.3 with ECDHE and AES-GCM, the agent's JWE, HKDF, SHA-2, AES and
		# libcryptsetup's backend (PBKDF2, AES-XTS, SHA-2) use. No loadable engines, providers or
		# DSOs (removes OpenSSL's dlopen), no legacy ciphers, no protocols before TLS 1.2, no
		# ChaCha20-Poly1305 suites, no source file names in error records (error strings stay).
		# shellcheck disable=SC2086 # DEP_CFLAGS: one argument per flag
		run_logged "$l" ./Configure linux-x86_64 --prefix="$PREFIX" --libdir=lib \
			--openssldir=/usr/lib/ssl no-shared no-module no-dso no-engine no-comp no-dtls \
			no-ssl3 no-tls1 no-tls1_1 no-srp no-idea no-rc2 no-rc4 no-rc5 no-md2 no-md4 no-mdc2 \
			no-whirlpool no-seed no-camellia no-aria no-sm2 no-sm3 no-sm4 no-bf no-cast no-des \
			no-dsa no-dh no-ec2m no-gost no-cms no-ts no-ct no-cmp no-ocsp no-srtp no-sctp \
			no-ui-console no-siphash no-scrypt no-legacy no-async no-tests no-filenames \
			no-rfc3779 no-ocb no-siv no-cmac no-blake2 no-rmd160 no-nextprotoneg no-chacha \
			no-poly1305 $DEP_CFLAGS
		run_logged "$l" make -j"$JOBS" build_libs
		run_logged "$l" make install_dev
	)
	rm -f "$PREFIX"/lib/libssl.so* "$PREFIX"/lib/libcrypto.so*
	for a in libcrypto.a libssl.a; do
		[ -f "$PREFIX/lib/$a" ] || die "$a was not installed"
	done
}

build_devmapper() {
	src=$(fetch_source lvm2)
	b=$(fresh_tree lvm2 "$src")
	l=$b/tdx-build.log
	log "building libdevmapper from $(basename "$src")"
	(
		cd "$b"
		run_logged "$l" env CC="$CC" CFLAGS="$DEP_CFLAGS" ./configure --prefix="$PREFIX" \
			--libdir="$PREFIX/lib" --enable-static_link --enable-pkgconfig --disable-selinux \
			--disable-readline --disable-udev_sync \
			--disable-blkid_wiping --disable-systemd-journal --disable-app-machineid --disable-nls \
			--with-thin=none --with-cache=none --with-vdo=none --with-writecache=none \
			--with-integrity=none
		run_logged "$l" make -j"$JOBS" device-mapper
		run_logged "$l" make install_device-mapper
	)
	# Only the archive, its header and .pc are wanted; dmsetup and man pages come along.
	rm -rf "$PREFIX"/lib/libdevmapper.so* "$PREFIX/sbin" "$PREFIX/share"
	[ -f "$PREFIX/lib/libdevmapper.a" ] || die "libdevmapper.a was not installed"
}

build_cryptsetup() {
	src=$(fetch_source cryptsetup)
	b=$(fresh_tree cryptsetup "$src")
	l=$b/tdx-build.log
	log "building libcryptsetup from $(basename "$src")"
	(
		cd "$b"
		run_logged "$l" ./autogen.sh
		# configure insists on popt even for a library-only build; the library never links it.
		run_logged "$l" env PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig" CC="$CC" CFLAGS="$DEP_CFLAGS" \
			ac_cv_lib_popt_poptConfigFileToString=yes ./configure --prefix="$PREFIX" \
			--libdir="$PREFIX/lib" --enable-static --disable-shared --disable-ssh-token \
			--disable-external-tokens --disable-asciidoc --disable-nls --disable-blkid \
			--disable-udev --disable-selinux --disable-cryptsetup --disable-veritysetup \
			--disable-integritysetup --disable-fuzz-targets --enable-libargon2 \
			--with-crypto_backend=openssl
		run_logged "$l" make -j"$JOBS"
		run_logged "$l" make install
	)
	rm -f "$PREFIX"/lib/libcryptsetup.so* "$PREFIX"/lib/libcryptsetup.la
	[ -f "$PREFIX/lib/libcryptsetup.a" ] || die "libcryptsetup.a was not installed"
}

build_curl() {
	src=$(fetch_source curl)
	b=$(fresh_tree curl "$src")
	l=$b/tdx-build.log
	log "building libcurl (HTTPS only) from $(basename "$src")"
	(
		cd "$b"
		# HTTP/1.1 over OpenSSL and nothing else: every other protocol and codec would drag in
		# libraries without a static archive (krb5, sasl, unistring, p11-kit) or attack surface.
		# Cookies stay: the KBS session is a cookie (CURLOPT_COOKIE is a no-op without them).
		run_logged "$l" env PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig" CC="$CC" CFLAGS="$DEP_CFLAGS" \
			./configure --prefix="$PREFIX" \
			--libdir="$PREFIX/lib" --disable-shared --enable-static --with-openssl="$PREFIX" \
			--with-ca-bundle=/etc/ssl/certs/ca-certificates.crt --without-ca-path \
			--disable-ldap --disable-ldaps --disable-rtsp --disable-dict --disable-telnet \
			--disable-tftp --disable-pop3 --disable-imap --disable-smb --disable-smtp \
			--disable-gopher --disable-mqtt --disable-ftp --disable-file --disable-manual \
			--disable-ntlm --disable-netrc --disable-unix-sockets --disable-alt-svc \
			--without-libpsl --without-nghttp2 \
			--without-libidn2 --without-brotli --without-zstd --without-zlib --without-libssh2 \
			--without-libssh --without-librtmp --without-gssapi --without-hyper \
			--disable-tls-srp --disable-proxy --disable-doh --disable-mime --disable-hsts \
			--disable-verbose --disable-progress-meter --disable-headers-api --disable-http-auth \
			--disable-get-easy-options --disable-libcurl-option --enable-threaded-resolver
		run_logged "$l" make -C lib -j"$JOBS"
		run_logged "$l" make -C lib install
		run_logged "$l" make -C include install
		run_logged "$l" make install-pkgconfigDATA
	)
	rm -f "$PREFIX"/lib/libcurl.so* "$PREFIX"/lib/libcurl.la
	[ -f "$PREFIX/lib/libcurl.a" ] || die "libcurl.a was not installed"
}

if [ "$FETCH_ONLY" -eq 1 ]; then
	mkdir -p "$CACHE/download" "$CACHE/src"
	for pkg in openssl lvm2 cryptsetup curl; do
		policy=debian-only
		[ "$pkg" = openssl ] && policy="orig-ok"
		dir=$(fetch_source "$pkg" "$policy")
		log "$pkg: $dir"
	done
	exit 0
fi

start=$(date +%s)
# The pin list or this recipe changed: start from an empty prefix so nothing stale is linked.
if [ "$(cat "$PREFIX/.recipe" 2>/dev/null || true)" != "$recipe" ]; then
	rm -rf "$PREFIX"
	mkdir -p "$PREFIX/.stamps"
	echo "$recipe" >"$PREFIX/.recipe"
fi
mkdir -p "$CACHE/download" "$CACHE/src" "$CACHE/build" "$PREFIX/.stamps"

# Each library once; a stamp lets an interrupted run resume where it stopped.
for lib in openssl devmapper cryptsetup curl; do
	[ -f "$PREFIX/.stamps/$lib" ] && continue
	t0=$(date +%s)
	"build_$lib"
	touch "$PREFIX/.stamps/$lib"
	log "$lib done in $(($(date +%s) - t0)) s"
done

PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig pkg-config --exists --static libcrypto libssl libcryptsetup libcurl ||
	die "pkg-config cannot resolve libcrypto/libssl/libcryptsetup/libcurl from $PREFIX"
secs=$(($(date +%s) - start))
echo "$secs" >"$PREFIX/.build-seconds"
echo "$recipe" >"$PREFIX/.complete"
log "built in $PREFIX in ${secs} s"
