#!/bin/sh
# TEST ONLY (tests/qemu, installed as /tdx-test/ask-keyd in a test root, scripts/make-test-root.sh
# --extra): a program in the booted real root asks tdx-keyd for the disk secret with the agent's
# own attestation -- a fresh configfs-tsm quote from the same emulated TD (tdx-tsm-sim, which
# outlived switch-root) carrying this boot's RTMR3, and this boot's runtime event log
# (/run/tdx-unlock/rtmr3.log). What a host's code in that root could do. HEADER: the enrolled
# header to ask with (its token names the resource); default /dev/vda.
export PATH=/bin:/sbin
export TDX_UNLOCK_TEST_TSM_REPORT_DIR=/run/tdx-tsm-sim/report
export TDX_UNLOCK_TEST_RTMR_PATH=/run/tdx-tsm-sim/rtmr3:sha384
export TDX_UNLOCK_TEST_CCEL=/run/tdx-tsm-sim/ca/ccel
# The host's code need not honour a recovery boot (whose own agent asks nothing): it asks anyway,
# with the rest of the measured command line.
cmdline=
read -r words </proc/cmdline
for word in $words; do
	case $word in rd.tdx_unlock.recovery=*) ;; *) cmdline="$cmdline $word" ;; esac
done
export TDX_UNLOCK_TEST_CMDLINE="${cmdline# }"
header=/dev/vda
[ -e /tdx-test/enrolled-header.img ] && header=/tdx-test/enrolled-header.img
echo "TDX-UNLOCK-TEST: ask-keyd: RTMR3 before: $(cat /run/tdx-tsm-sim/rtmr3 2>&1)"
if [ -r /run/tdx-unlock/rtmr3.log ]; then
	while read -r line; do
		echo "TDX-UNLOCK-TEST: ask-keyd: runtime log: $line"
	done </run/tdx-unlock/rtmr3.log
else
	echo "TDX-UNLOCK-TEST: ask-keyd: no runtime log at /run/tdx-unlock/rtmr3.log"
fi
/tdx-test/tdx-unlock unlock --config /tdx-test/agent.conf --test-passphrase "$header"
echo "TDX-UNLOCK-TEST: ask-keyd exit $?"
