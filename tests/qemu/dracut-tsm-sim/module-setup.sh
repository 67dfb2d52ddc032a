#!/bin/bash
# TEST ONLY (tests/qemu): tdx-tsm-sim in the test initramfs, emulating configfs-tsm and RTMR3 for
# the agent on a kernel that has neither (docs/agent.md, "Test hooks"). Never part of a shipped
# image: the production module (dracut-module/) knows nothing of it.
# Settings from the environment: TDX_TSM_SIM_BIN (the static tdx-tsm-sim), TDX_TSM_SIM_CA (the
# quote simulator directory, tdx-quotegen ca).

check() { return 255; }

depends() {
    echo tdx-unlock
    return 0
}

# shellcheck disable=SC2154 # initdir, moddir, systemdsystemunitdir: set by dracut
install() {
    inst_binary "$TDX_TSM_SIM_BIN" /usr/sbin/tdx-tsm-sim || return 1
    inst_multiple cp
    local f
    inst_dir /etc/tdx-tsm-sim/ca
    for f in "$TDX_TSM_SIM_CA"/*; do
        inst_simple "$f" "/etc/tdx-tsm-sim/ca/${f##*/}"
    done
    inst_simple "$moddir/tdx-tsm-sim.service" "$systemdsystemunitdir/tdx-tsm-sim.service"
    $SYSTEMCTL -q --root "$initdir" add-wants cryptsetup-pre.target tdx-tsm-sim.service
    # Every unit (the agent, the guard) sees the emulation through the test hooks.
    mkdir -p "$initdir/etc/systemd/system.conf.d"
    printf '[Manager]\nDefaultEnvironment=%s %s %s\n' \
        TDX_UNLOCK_TEST_TSM_REPORT_DIR=/run/tdx-tsm-sim/report \
        TDX_UNLOCK_TEST_RTMR_PATH=/run/tdx-tsm-sim/rtmr3:sha384 \
        TDX_UNLOCK_TEST_CCEL=/run/tdx-tsm-sim/ca/ccel \
        >"$initdir/etc/systemd/system.conf.d/tdx-tsm-sim.conf"
}
