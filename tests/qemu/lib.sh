# shellcheck shell=bash
# Shared helpers of the QEMU boot tests: kernel and accelerator choice, test disk images, initramfs
# builds (dracut, initramfs-tools), the loopback tdx-keyd, and one bounded boot.
# Sourced by tests/qemu/run.sh; every path lives under $QEMU_WORK (gitignored).

REPO=${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD=${BUILD:-$REPO/build}
QEMU_WORK=${QEMU_WORK:-$REPO/tests/qemu/work}
# The initramfs-tools chroot is shared by every work directory (flock serialises its users).
ITOOLS_ROOT=${ITOOLS_ROOT:-$REPO/tests/qemu/work/itools-root}
QEMU_MEM=${QEMU_MEM:-1024}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-240}
# The address the guest uses for the server: QEMU's guestfwd relays it to the loopback keyd.
GUEST_SERVER_IP=10.0.2.100
GUEST_SERVER_PORT=8443
# shellcheck disable=SC2034 # used by setup.sh
RECOVERY_PASSPHRASE="tdx-unlock recovery passphrase (test only)"

say() { printf '%s\n' "$*" >&2; }
die() {
	printf 'qemu-test: %s\n' "$*" >&2
	exit 1
}

# bookworm_chroot ROOT PACKAGES WHAT [HOOK]: ROOT as a Debian 12 minbase chroot with PACKAGES
# (comma-separated), debootstrapped from the machine's own mirror: the first URI of its apt sources'
# stanza whose suites include plain "bookworm" (deps/debsrc-from-sources.sh), or $BOOKWORM_MIRROR.
# HOOK, a function, runs once afterwards with ROOT as its argument (packages that must come through
# apt). Cached: nothing is done while ROOT/.complete names the same packages and hook. For the
# initramfs builders that must never be installed on the host (initramfs-tools, plymouth, clevis).
bookworm_chroot() {
	local root=$1 packages=$2 what=$3 hook=${4:-} stamp mirror lock
	stamp="debootstrap bookworm minbase $packages${hook:+; $hook}"
	[ "$(cat "$root/.complete" 2>/dev/null)" = "$stamp" ] && return 0
	command -v debootstrap >/dev/null || die "debootstrap is required (deps/debian-packages.txt)"
	mirror=${BOOKWORM_MIRROR:-$(APT_SOURCES_DIR=${APT_SOURCES_DIR:-/etc/apt} sh "$REPO/deps/debsrc-from-sources.sh" |
		awk '/^URIs:/ { uri = $2 } /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm") { print uri; exit } }')}
	[ -n "$mirror" ] || die "no Debian bookworm entry in the machine's apt sources to debootstrap from"
	mkdir -p "$(dirname "$root")"
	exec {lock}>"$root.lock"
	flock -w 1800 "$lock" || die "another debootstrap of $root is still running"
	if [ "$(cat "$root/.complete" 2>/dev/null)" != "$stamp" ]; then
		rm -rf "$root"
		say "== debootstrap bookworm with $what into $root (cached afterwards)"
		timeout 1800 debootstrap --variant=minbase --include="$packages" bookworm "$root" "$mirror" \
			>"$root.debootstrap.log" 2>&1 || die "debootstrap failed, see $root.debootstrap.log"
		if [ -n "$hook" ]; then
			"$hook" "$root" >>"$root.debootstrap.log" 2>&1 || die "$hook failed, see $root.debootstrap.log"
		fi
		echo "$stamp" >"$root/.complete"
		say "== $what chroot ready"
	fi
	exec {lock}>&-
}

# Debian's current kernel, downloaded and extracted into a cache (tests/qemu/guest-kernel.sh):
# nothing is installed into the host's /boot. KERNEL, KMODDIR and KVER may be given instead.
kernel_setup() {
	local got
	if [ -z "${KERNEL:-}" ]; then
		got=$("$REPO/tests/qemu/guest-kernel.sh") || die "no guest kernel (tests/qemu/guest-kernel.sh)"
		read -r KERNEL KMODDIR KVER <<<"$got"
	fi
	[ -r "$KERNEL" ] || die "no kernel at $KERNEL"
	KVER=${KVER:-${KERNEL##*/vmlinuz-}}
	KMODDIR=${KMODDIR:-/lib/modules/$KVER}
	KCONFIG=${KMODDIR%/lib/modules/*}/boot/config-$KVER
	[ -d "$KMODDIR" ] || die "no modules for kernel $KVER in $KMODDIR"
}

# KVM when a quick boot probe works, TCG otherwise; the answer is cached per machine in $QEMU_WORK.
qemu_accel() {
	local cache=$QEMU_WORK/accel out
	if [ -n "${QEMU_ACCEL:-}" ]; then
		echo "$QEMU_ACCEL"
		return
	fi
	if [ -s "$cache" ]; then
		cat "$cache"
		return
	fi
	mkdir -p "$QEMU_WORK"
	echo tcg >"$cache"
	if [ -w /dev/kvm ]; then
		# A kernel with no root panics at once; under working KVM that takes well under 15 s.
		out=$(timeout -k 2 15 qemu-system-x86_64 -accel kvm -cpu host -m 256 -smp 1 -display none \
			-no-reboot -serial stdio -monitor none -kernel "$KERNEL" \
			-append "console=ttyS0 panic=-1 root=/dev/nonexistent" 2>&1 || true)
		if grep -q "Kernel panic\|VFS: Unable to mount root" <<<"$out"; then
			echo kvm >"$cache"
		fi
	fi
	cat "$cache"
}

qemu_cpu_args() {
	case $(qemu_accel) in
	kvm) echo "-accel kvm -cpu host" ;;
	*) echo "-accel tcg -cpu max" ;;
	esac
}

# A dracut base directory with the host's modules plus this repo's tdx-unlock module, so nothing is
# installed on the host (dracut reads modules from $dracutbasedir/modules.d).
dracut_basedir_setup() {
	local base=$QEMU_WORK/dracut-base f
	rm -rf "$base"
	mkdir -p "$base/modules.d"
	for f in /usr/lib/dracut/*; do
		[ "${f##*/}" = modules.d ] || ln -s "$f" "$base/${f##*/}"
	done
	for f in /usr/lib/dracut/modules.d/*; do
		ln -s "$f" "$base/modules.d/${f##*/}"
	done
	ln -s "${DRACUT_MODULE_DIR:-$REPO/dracut-module}" "$base/modules.d/91tdx-unlock"
	ln -s "$REPO/tests/qemu/dracut-tsm-sim" "$base/modules.d/92tdx-tsm-sim"
	echo "$base"
}

# dracut modules of the test initramfs: an explicit list keeps it small and the boot fast.
DRACUT_MODULES="systemd systemd-initrd systemd-ask-password systemd-networkd crypt dm rootfs-block
	kernel-modules udev-rules base fs-lib shutdown"
DRACUT_DRIVERS="virtio_pci virtio_blk virtio_net virtio_rng ext4 dm_crypt dm_mod"

# build_dracut_initrd OUT [AGENT_BIN CONFDIR [MODULES]]: without an agent, the same initramfs
# minus the module.
build_dracut_initrd() {
	local out=$1 agent=${2:-} confdir=${3:-} modules=${4:-$DRACUT_MODULES} base empty=$QEMU_WORK/empty
	base=$(dracut_basedir_setup)
	mkdir -p "$empty" "$QEMU_WORK/tmp"
	# Test only: tdx-tsm-sim emulates configfs-tsm and RTMR3 for the agent (docs/agent.md).
	# DRACUT_TEST_MODULES="" leaves it out (bench/boot-bench.sh: the module's own size).
	[ -n "$agent" ] && modules="$modules tdx-unlock ${DRACUT_TEST_MODULES-tdx-tsm-sim}"
	# The root wait's bound (tdx-unlock-root-wait.service) is 30 s here, not 60: scenario 11 waits it.
	# shellcheck disable=SC2086 # word lists
	TDX_TSM_SIM_BIN=$TSM_SIM_BIN TDX_TSM_SIM_CA=$QEMU_WORK/quotesim \
		TDX_UNLOCK_BIN=$agent TDX_UNLOCK_CONFDIR=$confdir dracutbasedir=$base \
		TDX_UNLOCK_ROOT_TIMEOUT=${TDX_UNLOCK_ROOT_TIMEOUT:-30} \
		dracut --force --quiet --no-hostonly --no-hostonly-cmdline --no-early-microcode \
		--conf /dev/null --confdir "$empty" --tmpdir "$QEMU_WORK/tmp" \
		--modules "$(echo "$modules" | xargs)" --drivers "$(echo "$DRACUT_DRIVERS" | xargs)" \
		--compress zstd --kver "$KVER" --kmoddir "$KMODDIR" "$out" ||
		die "dracut failed building $out"
}

# build_dracut_variant NAME OUT EDIT...: the scenarios' initramfs (agent and its configuration)
# from a fresh copy of the dracut module, $QEMU_WORK/dracut-module-NAME, after `EDIT... DIR` has
# made its test-only change there (a defence switched off, a bound shortened).
build_dracut_variant() {
	local name=$1 out=$2 mod=$QEMU_WORK/dracut-module-$1
	shift 2
	rm -rf "$mod"
	cp -a "$REPO/dracut-module" "$mod" || die "cannot copy the dracut module to $mod"
	"$@" "$mod" || die "cannot make the dracut module variant $name"
	DRACUT_MODULE_DIR=$mod build_dracut_initrd "$out" "$AGENT_BIN" "$QEMU_WORK/agent-conf"
}

# boot NAME INITRD CMDLINE_EXTRA PASSPHRASE_FILE|'' DISK...: one bounded boot; the serial log is
# $QEMU_WORK/NAME.log and the summary (key=value lines) $QEMU_WORK/NAME.summary. The command line
# is a production one: no rd.shell=0, rd.emergency= or panic= (the initramfs must bring its own).
boot() {
	local name=$1 initrd=$2 extra=$3 passfile=$4
	shift 4
	local sock=$QEMU_WORK/$name.sock log=$QEMU_WORK/$name.log disk drives=() i=0 keyd_port net
	keyd_port=${KEYD_PORT:-1}
	# QEMU_NO_NET=1: no network card at all (the initrd's network never comes up).
	# shellcheck disable=SC2054 # the commas belong to QEMU option strings
	net=(-netdev "user,id=n0,restrict=on,guestfwd=tcp:$GUEST_SERVER_IP:$GUEST_SERVER_PORT-cmd:socat -lf /dev/null - TCP:127.0.0.1:$keyd_port"
		-device virtio-net-pci,netdev=n0)
	[ "${QEMU_NO_NET:-0}" = 1 ] && net=(-nic none)
	# QEMU_QMP=PATH: QEMU's QMP monitor on a unix socket (hot-plug scenarios).
	local monitor=(-monitor none)
	[ -n "${QEMU_QMP:-}" ] && monitor+=(-qmp "unix:$QEMU_QMP,server=on,wait=off")
	for disk in "$@"; do
		drives+=(-drive "file=$disk,if=none,id=d$i,format=raw,snapshot=on"
			-device "virtio-blk-pci,drive=d$i,serial=tdxdisk$i")
		i=$((i + 1))
	done
	rm -f "$sock"
	# shellcheck disable=SC2046 # accel/cpu words
	python3 "$REPO/tests/qemu/serial-console.py" --socket "$sock" --log "$log" \
		--timeout "$BOOT_TIMEOUT" ${passfile:+--passphrase-file "$passfile"} -- \
		qemu-system-x86_64 $(qemu_cpu_args) -smp 1 -m "$QEMU_MEM" -nographic "${monitor[@]}" \
		-no-reboot -kernel "$KERNEL" -initrd "$initrd" \
		-append "console=ttyS0 printk.time=1 ip=dhcp rd.neednet=1 $extra" \
		-chardev "socket,id=ser0,path=$sock,server=on,wait=on" -serial chardev:ser0 \
		"${net[@]}" \
		-object rng-random,id=rng0,filename=/dev/urandom -device virtio-rng-pci,rng=rng0 \
		"${drives[@]}" >"$QEMU_WORK/$name.summary"
	rm -f "$sock"
}

# summary_get NAME KEY
summary_get() {
	sed -n "s/^$2=//p" "$QEMU_WORK/$1.summary"
}

# build_itools_initrd OUT AGENT_BIN CONFDIR: an initramfs-tools initramfs with hook/, built in the
# debootstrap chroot of initramfs-tools-root.sh (private mount namespace; the host is untouched).
build_itools_initrd() {
	local out=$1 agent=$2 confdir=$3 root=$ITOOLS_ROOT lock
	"$REPO/tests/qemu/initramfs-tools-root.sh" || die "no initramfs-tools chroot"
	exec {lock}>"$root.lock"
	flock -w 600 "$lock" || die "the initramfs-tools chroot stayed locked for 10 minutes"
	rm -rf "$root/opt/tdx-unlock" "$root/etc/tdx-unlock" "$root/etc/initramfs-tools/scripts/panic"
	mkdir -p "$root/opt/tdx-unlock" "$root/etc/tdx-unlock" "$root/lib/modules/$KVER" \
		"$root/etc/initramfs-tools/hooks" "$root/etc/initramfs-tools/scripts/local-top" \
		"$root/etc/initramfs-tools/scripts/panic" \
		"$root/etc/cryptsetup-initramfs"
	install -m 0755 "$agent" "$root/opt/tdx-unlock/tdx-unlock"
	cp -a "$confdir/." "$root/etc/tdx-unlock/"
	# ITOOLS_DIR: the package's /usr/share/initramfs-tools (setup.sh, QEMU_DEB), else the tree's.
	local hookdir=${ITOOLS_DIR:-$REPO/hook}
	install -m 0755 "$hookdir/hooks/tdx-unlock" "$root/etc/initramfs-tools/hooks/tdx-unlock"
	install -m 0755 "${ITOOLS_LOCALTOP_SCRIPT:-$hookdir/scripts/local-top/tdx-unlock}" \
		"$root/etc/initramfs-tools/scripts/local-top/tdx-unlock"
	install -m 0755 "${ITOOLS_PANIC_SCRIPT:-$hookdir/scripts/panic/tdx-unlock}" \
		"$root/etc/initramfs-tools/scripts/panic/tdx-unlock"
	echo "TDX_UNLOCK_BIN=/opt/tdx-unlock/tdx-unlock" >"$root/etc/tdx-unlock/initramfs.conf"
	# Test only: tdx-tsm-sim emulates configfs-tsm and RTMR3 for the agent (docs/agent.md).
	rm -rf "$root/etc/tdx-tsm-sim"
	mkdir -p "$root/etc/tdx-tsm-sim" "$root/etc/initramfs-tools/scripts/init-top"
	install -m 0755 "$TSM_SIM_BIN" "$root/opt/tdx-unlock/tdx-tsm-sim"
	cp -a "$QEMU_WORK/quotesim" "$root/etc/tdx-tsm-sim/ca"
	printf 'TDX_TSM_SIM_BIN=/opt/tdx-unlock/tdx-tsm-sim\nTDX_TSM_SIM_CA=/etc/tdx-tsm-sim/ca\n' \
		>"$root/etc/tdx-tsm-sim/hook.conf"
	install -m 0755 "$REPO/tests/qemu/itools-tsm-sim/hook" "$root/etc/initramfs-tools/hooks/tdx-tsm-sim"
	install -m 0755 "$REPO/tests/qemu/itools-tsm-sim/init-top" \
		"$root/etc/initramfs-tools/scripts/init-top/tdx-tsm-sim"
	# No crypttab in the chroot: the root mapping comes from cryptopts= on the kernel command line.
	echo "CRYPTSETUP=y" >"$root/etc/cryptsetup-initramfs/conf-hook"
	cat >"$root/etc/initramfs-tools/modules" <<-'MODS'
		virtio_pci
		virtio_blk
		virtio_net
		ext4
		dm_crypt
		xts
	MODS
	# shellcheck disable=SC2016 # expanded by the inner bash
	unshare -m --propagation private bash -euc '
		root=$1 kver=$2 kmoddir=$3 kconfig=$4
		mount --bind -o ro "$kmoddir" "$root/lib/modules/$kver"
		touch "$root/boot/config-$kver"
		[ -r "$kconfig" ] && mount --bind -o ro "$kconfig" "$root/boot/config-$kver"
		mount -t proc proc "$root/proc"
		chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
			mkinitramfs -c zstd -o /tmp/initrd.img "$kver"
	' _ "$root" "$KVER" "$KMODDIR" "$KCONFIG" >"$QEMU_WORK/mkinitramfs.log" 2>&1 ||
		die "mkinitramfs failed, see $QEMU_WORK/mkinitramfs.log"
	mv "$root/tmp/initrd.img" "$out"
	exec {lock}>&-
}
