#!/bin/bash
# Sourced by the static-binary tests: a bare chroot holding one static binary, the two random
# devices and a /proc mount -- what an initramfs offers -- and nothing else (no /etc, no libs).
# chroot_prepare ROOT BINARY   sets CHROOT_ENTER (empty when this machine cannot do it)
# chroot_run ROOT CMD...       runs CMD inside, with an environment of only the NAME=VALUE words
#                              of the array CHROOT_ENV (test hooks, docs/testing.md), bounded to 120 s

# libcryptsetup opens /dev/urandom and /dev/random; the agent hands libcryptsetup its validated
# header copy as /proc/self/fd/N. The chroot is entered in private mount and PID namespaces so
# /proc is its own and every mount goes away with the process: as root with mknod'ed devices,
# otherwise as an unprivileged user namespace with the devices bind-mounted.
chroot_prepare() {
	local root=$1 bin=$2 setup chroot_cmd ns
	mkdir -p "$root/dev" "$root/proc" "$root/tmp"
	cp "$bin" "$root/$(basename "$bin")"
	CHROOT_ENTER=()
	chroot_cmd=$(command -v chroot) || return 0
	# shellcheck disable=SC2016 # $0 is expanded by the inner shell: the chroot's root
	setup='mount -t proc proc "$0/proc"'
	ns=(--mount --pid --fork)
	if [ "$(id -u)" -eq 0 ] && unshare "${ns[@]}" true 2>/dev/null &&
		mknod -m 0444 "$root/dev/urandom" c 1 9 2>/dev/null &&
		mknod -m 0444 "$root/dev/random" c 1 8 2>/dev/null; then
		:
	elif unshare --user --map-root-user "${ns[@]}" true 2>/dev/null; then
		ns=(--user --map-root-user "${ns[@]}")
		rm -f "$root/dev/urandom" "$root/dev/random"
		touch "$root/dev/urandom" "$root/dev/random"
		# shellcheck disable=SC2016
		setup="$setup"' && mount --bind /dev/urandom "$0/dev/urandom" && mount --bind /dev/random "$0/dev/random"'
	else
		return 0
	fi
	CHROOT_ENTER=("$(command -v unshare)" "${ns[@]}" /bin/sh -c
		"$setup && exec $chroot_cmd \"\$0\" \"\$@\"")
}

chroot_run() {
	local root=$1
	shift
	timeout 120 env -i "${CHROOT_ENV[@]}" "${CHROOT_ENTER[@]}" "$root" "$@"
}
