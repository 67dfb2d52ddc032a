# shellcheck shell=bash
# Test material of the QEMU boots, made fresh for every run under $QEMU_WORK: the test quote
# hierarchy, tdx-keyd's TLS keys, root key, policies and configurations, the agent's initramfs
# configuration, the enrolled disk images and the initramfs images. Sourced by run.sh.
# Formats: agent config docs/agent.md, keyd config docs/keyd.md, quotesim docs/quotegen.md.

ROOT_RESOURCE=tdx-unlock/disk/root
DATA_RESOURCE=tdx-unlock/disk/data
# The agent's whole budget in the tests: scenario 2 checks the prompt comes within it.
AGENT_TOTAL_TIMEOUT=20
# Scenario 7's crypttab target name (as the Debian installer would name it).
ITOOLS_ROOT_NAME=vda_crypt
# Scenario 5's root name given by rd.luks.name= (dracut): the unit renames the agent's mapping.
DRACUT_ROOT_NAME=tdxroot

# What the serial log and keyd's audit log say (asserted by the scenarios). The agent's lines read
# "tdx-unlock[PID]: ..." from the journal (dracut: its priority prefix, no ident of its own) and
# "tdx-unlock: ..." from the kernel log (initramfs-tools).
AGENT_LINE_RX="tdx-unlock(\[[0-9]+\])?: "
# shellcheck disable=SC2034 # the *_RX patterns: for run.sh and the scenario files
AGENT_SUCCESS_RX="$AGENT_LINE_RX.*unlocked as /dev/mapper/luks-"
# shellcheck disable=SC2034 # (see AGENT_SUCCESS_RX)
AGENT_PIN_FAIL_RX="$AGENT_LINE_RX.*(does not match pinned public key|pin)"
# shellcheck disable=SC2034 # (see AGENT_SUCCESS_RX)
AGENT_UNREACHABLE_RX="$AGENT_LINE_RX.*not unlocked \(servers unreachable\)"
# shellcheck disable=SC2034 # (see AGENT_SUCCESS_RX)
AGENT_HEADER_REFUSED_RX="$AGENT_LINE_RX.*header refused: .*cipher_null"
# shellcheck disable=SC2034 # (see AGENT_SUCCESS_RX)
KEYD_POLICY_DENY_RX="mismatch"
# shellcheck disable=SC2034 # (see AGENT_SUCCESS_RX)
KEYD_RELEASE_RX="\"reason\":\"released"

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# SHA-256 of a key's SubjectPublicKeyInfo, in curl's pin form.
spki_pin() {
	echo "sha256//$(openssl pkey -in "$1" -pubout -outform DER | openssl dgst -sha256 -binary | base64)"
}

tls_key_make() {
	local dir=$1
	mkdir -p "$dir"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
		-subj "/CN=tdx-keyd test" -addext "subjectAltName=IP:$GUEST_SERVER_IP,IP:127.0.0.1" \
		-keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null || die "openssl req failed"
	chmod 0600 "$dir/key.pem"
}

# The test quote hierarchy: the guest's simulator signs with it, keyd trusts its root (tests only).
quotesim_make() {
	local dir=$QEMU_WORK/quotesim fmspc defaults
	"$BUILD/tdx-quotegen" ca --out "$dir" >"$QEMU_WORK/quotegen.log" 2>&1 ||
		die "tdx-quotegen ca failed, see $QEMU_WORK/quotegen.log"
	# A simulated direct boot's CCEL and quotes whose RTMR0-3 it explains: the guest's agent
	# sends it (TDX_UNLOCK_TEST_CCEL), keyd replays it, the policy gives RTMR1/2 per event.
	{ python3 "$REPO/tests/integration/image_measure.py" ccel "$dir/ccel" "$(printf '%096d' 1)" \
		"$(printf '%096d' 2)" "$(printf '%096d' 3)" >"$QEMU_WORK/ccel-rtmrs.json" &&
		read -ra defaults < <(python3 -c 'import json,sys
print(" ".join("--%s %s" % kv for kv in sorted(json.load(open(sys.argv[1])).items())))' \
			"$QEMU_WORK/ccel-rtmrs.json") &&
		"$BUILD/tdx-quotegen" defaults --ca "$dir" "${defaults[@]}" >>"$QEMU_WORK/quotegen.log" 2>&1; } ||
		die "cannot write the simulated boot's CCEL and quote defaults"
	"$BUILD/tdx-quotegen" quote --ca "$dir" --out "$QEMU_WORK/sample-quote.bin" \
		>>"$QEMU_WORK/quotegen.log" 2>&1 || die "tdx-quotegen quote failed"
	# keyd reads collateral from COLLATERAL_DIR/<fmspc>/.
	fmspc=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["fmspc"].lower())' \
		"$dir/quotesim.json" 2>/dev/null || echo 00906ed50000)
	mkdir -p "$QEMU_WORK/collateral"
	ln -sfn "$dir" "$QEMU_WORK/collateral/$fmspc"
}

# Policies: "good" accepts exactly the simulator's TD; "wrong-policy" wants another MRTD.
policies_make() {
	local good=$QEMU_WORK/policies-good bad=$QEMU_WORK/policies-wrong
	mkdir -p "$good" "$bad"
	"$KEYD_BIN" policy-from-quote --quote "$QEMU_WORK/sample-quote.bin" --id test-image \
		--eventlog "$QEMU_WORK/quotesim/ccel" \
		--resource "$ROOT_RESOURCE" >"$QEMU_WORK/policy-generated.json" 2>"$QEMU_WORK/policy.log" ||
		die "tdx-keyd policy-from-quote failed, see $QEMU_WORK/policy.log"
	# TDX_UNLOCK_TEST_WAIVE_RTMR3=1 (test only): the good policy waives RTMR3, so keyd no longer
	# requires the pre-unlock value; scenarios 1 (second release) and 10 (disk swap) must then FAIL.
	python3 - "$QEMU_WORK/policy-generated.json" "$good/test-image.json" "$bad/test-image.json" \
		"${TDX_UNLOCK_TEST_WAIVE_RTMR3:-0}" <<-'PY' ||
		import json, sys
		doc = json.load(open(sys.argv[1]))
		# One policy for every test disk (a prefix), as an image's root and data disks share one TD.
		doc["resources"] = ["tdx-unlock/disk/*"]
		if sys.argv[4] == "1":
		    for m in doc["measurements"]:
		        m["rtmr3"] = {"waive": "TDX_UNLOCK_TEST_WAIVE_RTMR3: test knob, must make QEMU 1 and 10 fail"}
		json.dump(doc, open(sys.argv[2], "w"), indent=2)
		# Same document with every MRTD value replaced: the measurements no longer match.
		def flip(o):
		    if isinstance(o, dict):
		        return {k: ("ee" * 48 if k.lower() == "mrtd" and isinstance(v, str) else flip(v))
		                for k, v in o.items()}
		    if isinstance(o, list):
		        return [flip(x) for x in o]
		    return o
		bad = flip(doc)
		if bad == doc:
		    sys.exit("no mrtd field in the generated policy")
		json.dump(bad, open(sys.argv[3], "w"), indent=2)
	PY
		die "cannot write the test policies"
}

# shellcheck source=tests/integration/keyd-conf.sh
. "$REPO/tests/integration/keyd-conf.sh"
# keyd_config_write VARIANT: the configuration of one keyd run (docs/keyd.md).
keyd_config_write() {
	local variant=$1 conf=$QEMU_WORK/keyd-$1.json tls=$QEMU_WORK/tls-good policies=$QEMU_WORK/policies-good
	[ "$variant" = wrong-cert ] && tls=$QEMU_WORK/tls-wrong
	[ "$variant" = wrong-policy ] && policies=$QEMU_WORK/policies-wrong
	keyd_conf_write "$conf" 0 "$tls/cert.pem" "$tls/key.pem" "$policies" "$QEMU_WORK/collateral" \
		"$QEMU_WORK/root.key" "$QEMU_WORK/audit-$variant.log" <<-EOF
		  "test_root_ca": "$QEMU_WORK/quotesim/root_ca.pem",
		  "workers": 1
	EOF
	echo "$conf"
}

KEYD_PID=
KEYD_AUDIT=
# keyd_start VARIANT: tdx-keyd on an ephemeral loopback port (KEYD_PORT), until keyd_stop.
keyd_start() {
	local conf
	keyd_stop
	[ -x "$KEYD_BIN" ] || {
		say "   FAIL: no tdx-keyd binary"
		scenario_ok=0
		return 1
	}
	conf=$(keyd_config_write "$1")
	KEYD_AUDIT=$QEMU_WORK/audit-$1.log
	rm -f "$QEMU_WORK/keyd.port" "$KEYD_AUDIT"
	# shellcheck disable=SC2154 # cur: the running scenario, set by run.sh
	TDX_KEYD_TEST_PORT_FILE="$QEMU_WORK/keyd.port" "$KEYD_BIN" serve --config "$conf" \
		>"$QEMU_WORK/keyd-$cur.log" 2>&1 &
	KEYD_PID=$!
	for _ in $(seq 100); do
		[ -s "$QEMU_WORK/keyd.port" ] && break
		kill -0 "$KEYD_PID" 2>/dev/null || break
		sleep 0.1
	done
	if [ ! -s "$QEMU_WORK/keyd.port" ]; then
		say "   FAIL: tdx-keyd did not start (see $QEMU_WORK/keyd-$cur.log)"
		keyd_stop
		# shellcheck disable=SC2034 # read by run.sh's finish
		scenario_ok=0
		finish "tdx-keyd start"
		return 1
	fi
	KEYD_PORT=$(tr -dc 0-9 <"$QEMU_WORK/keyd.port")
	export KEYD_PORT
}

keyd_stop() {
	if [ -n "$KEYD_PID" ]; then
		kill "$KEYD_PID" 2>/dev/null
		wait "$KEYD_PID" 2>/dev/null
	fi
	KEYD_PID=
	unset KEYD_PORT
}
# boot_with_keyd NAME INITRD CMDLINE PASSFILE DISK...: one boot (lib.sh's boot) with tdx-keyd's
# good configuration up for its duration; returns 1 (the scenario is over) when keyd did not start.
boot_with_keyd() {
	keyd_start good || return 1
	boot "$@"
	keyd_stop
}
keyd_audit_has() { [ -n "$KEYD_AUDIT" ] && grep -qE -- "$1" "$KEYD_AUDIT" "$QEMU_WORK/keyd-$cur.log" 2>/dev/null; }
keyd_audit_lacks() { ! keyd_audit_has "$1"; }

# The agent's configuration inside the initramfs (docs/agent.md): the server URL the guestfwd
# relay answers, the pin of the good TLS key, short test timeouts. Quotes come from configfs-tsm,
# which tdx-tsm-sim emulates in the test initramfs (lib.sh, tests/qemu/*-tsm-sim).
agent_confdir_make() {
	local dir=$QEMU_WORK/agent-conf
	rm -rf "$dir"
	mkdir -p "$dir"
	cat >"$dir/agent.conf" <<-EOF
		{
		  "servers": [
		    { "url": "https://$GUEST_SERVER_IP:$GUEST_SERVER_PORT", "pins": ["$(spki_pin "$QEMU_WORK/tls-good/key.pem")"] }
		  ],
		  "connect_timeout_ms": 2000,
		  "request_timeout_ms": 10000,
		  "total_timeout_s": $AGENT_TOTAL_TIMEOUT,
		  "attempts": 3,
		  "backoff_initial_ms": 500,
		  "backoff_max_ms": 2000,
		  "log_level": "info"
		}
	EOF
	echo "$dir"
}

# root_extras_make DIR: what a test root carries for tests/qemu/ask-keyd.sh (make-test-root.sh
# --extra): the static agent and its configuration (both public: they are in the initramfs).
root_extras_make() {
	local dir=$1
	rm -rf "$dir"
	mkdir -p "$dir/tdx-test"
	install -m 0755 "$AGENT_BIN" "$dir/tdx-test/tdx-unlock"
	install -m 0600 "$QEMU_WORK/agent-conf/agent.conf" "$dir/tdx-test/agent.conf"
	install -m 0755 "$REPO/tests/qemu/ask-keyd.sh" "$dir/tdx-test/ask-keyd"
}

# enroll_image IMG RESOURCE: the tdx-unlock keyslot and token for RESOURCE (scripts/tdx-enroll-image).
enroll_image() {
	"$REPO/scripts/tdx-enroll-image" --keyd-config "$(keyd_config_write good)" --keyd-bin "$KEYD_BIN" \
		--agent "$AGENT_ADMIN_BIN" --resource "$2" --key-file "$RECOVERY_PASSFILE" "$1" \
		>"$QEMU_WORK/enroll-${1##*/}.log" 2>&1 ||
		die "enrolling $1 failed, see $QEMU_WORK/enroll-${1##*/}.log"
}

# A copy of the data disk whose header a hostile host rewrote: cipher_null segment, checksums fixed.
hostile_image_make() {
	cp "$DATA_IMG" "$HOSTILE_IMG"
	python3 "$REPO/tests/luks/luks2_edit.py" mutate "$HOSTILE_IMG" cipher-null-segment \
		>"$QEMU_WORK/hostile.log" 2>&1 || die "luks2_edit.py failed, see $QEMU_WORK/hostile.log"
}

root_cmdline() {
	case $1 in
	dracut) echo "rd.luks.uuid=$ROOT_UUID root=/dev/mapper/luks-$ROOT_UUID ro" ;;
	dracut-named) echo "rd.luks.name=$ROOT_UUID=$DRACUT_ROOT_NAME root=/dev/mapper/$DRACUT_ROOT_NAME ro" ;;
	# A Debian-installer style name: the hook renames the agent's luks-<UUID> mapping to it.
	itools) echo "root=/dev/mapper/$ITOOLS_ROOT_NAME ro cryptopts=target=$ITOOLS_ROOT_NAME,source=UUID=$ROOT_UUID,luks" ;;
	esac
}

# setup_all SCENARIO...: everything the given scenarios need, each initramfs built once.
setup_all() {
	local need_dracut=0 need_itools=0 need_data=0 need_hostile=0 n confdir t0
	for n in "$@"; do
		case $n in
		7) need_itools=1 ;;
		10 | 12 | 13) need_itools=1 need_dracut=1 ;;
		15) ;; # its own initramfs (plymouth.sh)
		*) need_dracut=1 ;;
		esac
		[ "$n" = 5 ] && need_data=1
		[ "$n" = 6 ] && need_data=1 && need_hostile=1
	done
	t0=$(date +%s)
	kernel_setup
	mkdir -p "$QEMU_WORK"
	rm -f "$QEMU_WORK"/*.log "$QEMU_WORK"/*.summary "$QEMU_WORK"/*.img
	rm -rf "$QEMU_WORK"/quotesim "$QEMU_WORK"/collateral "$QEMU_WORK"/policies-* "$QEMU_WORK"/tls-*
	say "== setup: kernel $KVER, accelerator $(qemu_accel)"
	# The static agent is what ships in an initramfs; the dynamic one works too (dracut copies its
	# libraries) and administers the images on the host.
	AGENT_BIN=$BUILD/static/tdx-unlock
	[ -x "$AGENT_BIN" ] || AGENT_BIN=$BUILD/tdx-unlock
	AGENT_ADMIN_BIN=$BUILD/tdx-unlock
	TSM_SIM_BIN=$BUILD/static/tdx-tsm-sim
	[ -x "$TSM_SIM_BIN" ] || TSM_SIM_BIN=$BUILD/tdx-tsm-sim
	[ -x "$AGENT_ADMIN_BIN" ] || AGENT_ADMIN_BIN=$AGENT_BIN
	KEYD_BIN=$BUILD/tdx-keyd
	# QEMU_DEB (make check-qemu): the initramfs is built from what the tdx-unlock package installs
	# (agent, dracut module, initramfs-tools hook and scripts), extracted into a staging root.
	if [ -n "${QEMU_DEB:-}" ]; then
		rm -rf "$QEMU_WORK/pkgroot"
		dpkg-deb -x "$QEMU_DEB" "$QEMU_WORK/pkgroot" || die "cannot extract $QEMU_DEB"
		AGENT_BIN=$QEMU_WORK/pkgroot/usr/sbin/tdx-unlock
		# shellcheck disable=SC2034 # DRACUT_MODULE_DIR, ITOOLS_DIR: read by lib.sh's builders
		DRACUT_MODULE_DIR=$QEMU_WORK/pkgroot/usr/lib/dracut/modules.d/91tdx-unlock
		# shellcheck disable=SC2034 # (see DRACUT_MODULE_DIR)
		ITOOLS_DIR=$QEMU_WORK/pkgroot/usr/share/initramfs-tools
		say "   from the package $(basename "$QEMU_DEB")"
	fi
	[ -x "$AGENT_BIN" ] || die "no agent binary in $BUILD (make all static)"
	say "   agent in the initramfs: $AGENT_BIN"

	RECOVERY_PASSFILE=$QEMU_WORK/recovery.pass
	printf '%s' "$RECOVERY_PASSPHRASE" >"$RECOVERY_PASSFILE"
	chmod 0600 "$RECOVERY_PASSFILE"
	tls_key_make "$QEMU_WORK/tls-good"
	tls_key_make "$QEMU_WORK/tls-wrong"
	head -c 32 /dev/urandom >"$QEMU_WORK/root.key"
	chmod 0600 "$QEMU_WORK/root.key"
	# Every scenario boots an enrolled root, even those where keyd is down or unreachable.
	{ [ -x "$BUILD/tdx-quotegen" ] && [ -x "$KEYD_BIN" ]; } || die "no tdx-quotegen or tdx-keyd in $BUILD (make all)"
	quotesim_make
	policies_make

	say "   disk images (LUKS2, argon2id recovery keyslot)"
	ROOT_IMG=$QEMU_WORK/root.img
	DATA_IMG=$QEMU_WORK/data.img
	HOSTILE_IMG=$QEMU_WORK/hostile.img
	confdir=$(agent_confdir_make)
	ROOT_EXTRAS=$QEMU_WORK/root-extras
	root_extras_make "$ROOT_EXTRAS"
	ROOT_UUID=$("$REPO/scripts/make-test-root.sh" --extra "$ROOT_EXTRAS" "$RECOVERY_PASSFILE" \
		"$ROOT_IMG") || die "root image"
	enroll_image "$ROOT_IMG" "$ROOT_RESOURCE"
	if [ "$need_data" = 1 ]; then
		DATA_UUID=$("$REPO/scripts/make-test-root.sh" --data --size 16 "$RECOVERY_PASSFILE" "$DATA_IMG") ||
			die "data image"
		enroll_image "$DATA_IMG" "$DATA_RESOURCE"
	fi
	if [ "$need_hostile" = 1 ]; then
		hostile_image_make
		# shellcheck disable=SC2034 # for run.sh's scenario 6
		HOSTILE_UUID=$(cryptsetup luksUUID "$HOSTILE_IMG" 2>/dev/null || echo "$DATA_UUID")
	fi

	if [ "$need_dracut" = 1 ]; then
		say "   dracut initramfs with the tdx-unlock module"
		INITRD_DRACUT=$QEMU_WORK/initrd-dracut.img
		build_dracut_initrd "$INITRD_DRACUT" "$AGENT_BIN" "$confdir"
	fi
	if [ "$need_itools" = 1 ]; then
		say "   initramfs-tools initramfs with the tdx-unlock hook (debootstrap chroot)"
		INITRD_ITOOLS=$QEMU_WORK/initrd-itools.img
		build_itools_initrd "$INITRD_ITOOLS" "$AGENT_BIN" "$confdir"
	fi
	say "   setup done in $(($(date +%s) - t0)) s"
}
