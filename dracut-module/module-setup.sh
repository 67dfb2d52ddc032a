#!/bin/bash
# dracut module for tdx-unlock: installs the agent, its configuration and server pins, initramfs
# networking, and a unit that unlocks LUKS2 devices by attested key release before systemd-cryptsetup
# asks for a passphrase.
#
# Install as /usr/lib/dracut/modules.d/91tdx-unlock/. Settings (dracut.conf.d or the environment):
#   tdx_unlock_bin      the agent binary (default /usr/sbin/tdx-unlock; use the static build)
#   tdx_unlock_confdir  configuration directory copied to /etc/tdx-unlock in the initrd
#                       (default /etc/tdx-unlock): agent configuration and server pins, which the TD
#                       measures with the initramfs; they must never come from the disk.
#   tdx_unlock_net_timeout  seconds systemd-networkd-wait-online waits in the initrd (default 30)
#   tdx_unlock_root_timeout seconds the root device may take to become ready once the encrypted
#                       volumes are set up, before the TD powers off (default 60)

tdx_unlock_settings() {
    : "${tdx_unlock_bin:=${TDX_UNLOCK_BIN:-/usr/sbin/tdx-unlock}}"
    : "${tdx_unlock_confdir:=${TDX_UNLOCK_CONFDIR:-/etc/tdx-unlock}}"
    : "${tdx_unlock_root_timeout:=${TDX_UNLOCK_ROOT_TIMEOUT:-60}}"
}

# called by dracut
# shellcheck disable=SC2154 # dracutsysrootdir: set by dracut
check() {
    tdx_unlock_settings
    [[ -x $dracutsysrootdir$tdx_unlock_bin ]] || {
        derror "tdx-unlock: agent binary '$tdx_unlock_bin' not found"
        return 1
    }
    [[ -d $dracutsysrootdir$tdx_unlock_confdir ]] || {
        derror "tdx-unlock: configuration directory '$tdx_unlock_confdir' not found"
        return 1
    }
    # Only on request (dracut -a tdx-unlock, add_dracutmodules+=" tdx-unlock "): it needs a
    # configured server, which hostonly detection cannot know about.
    return 255
}

# called by dracut
depends() {
    # systemd-ask-password: the agent asks for the passphrase itself, through systemd's agents.
    # With systemd-networkd requested, only it and the NIC drivers: dracut's generic network
    # module would add its legacy scripts, awk, pgrep and arping (~0.45 MB), none of which the
    # agent or networkd uses. Otherwise it picks the handler (NetworkManager needs its netroot).
    if dracut_module_included "systemd-networkd"; then
        echo crypt kernel-network-modules systemd-networkd systemd systemd-ask-password
    else
        echo crypt network systemd systemd-ask-password
    fi
    return 0
}

# called by dracut
installkernel() {
    # dm-crypt and the ciphers are installed by the crypt module; the agent itself needs only the
    # network drivers (kernel-network-modules, through the network module).
    instmods dm_crypt
    # AES-NI (every TDX CPU has it): the crypt module installs only crypto/, not arch/x86/crypto,
    # so without it dm-crypt's table load builds xts(aes) from generic AES and self-tests it on
    # the unlock's path. udev loads it early by the CPU's modalias; not only on hostonly images.
    hostonly='' instmods aesni_intel
    return 0
}

# called by dracut
# shellcheck disable=SC2154 # initdir, moddir, systemd*dir: set by dracut
install() {
    tdx_unlock_settings

    inst_binary "$tdx_unlock_bin" /usr/sbin/tdx-unlock || return 1

    local f rel
    inst_dir /etc/tdx-unlock
    while IFS= read -r -d '' f; do
        rel=${f#"$dracutsysrootdir$tdx_unlock_confdir"}
        if [[ -d $f ]]; then
            inst_dir "/etc/tdx-unlock$rel"
        else
            inst_simple "$f" "/etc/tdx-unlock$rel"
        fi
    done < <(find "$dracutsysrootdir$tdx_unlock_confdir" -mindepth 1 -print0)
    chmod -R go-rwx "$initdir/etc/tdx-unlock"

    # curl resolves through /etc/hosts and /etc/resolv.conf only (no NSS modules in a static build).
    [[ -e $initdir/etc/hosts ]] || inst_simple /etc/hosts

    # The guard: every systemd-cryptsetup@ unit validates its header before it may prompt or open
    # (CVE-2025-59054 through the passphrase prompt); a refusal fails the unit (docs/boot.md).
    inst_script "$moddir/tdx-unlock-guard.sh" /usr/lib/tdx-unlock/tdx-unlock-guard
    inst_simple "$moddir/tdx-unlock-guard.conf" \
        "$systemdsystemunitdir/systemd-cryptsetup@.service.d/tdx-unlock-guard.conf"
    inst_multiple -o sed dmsetup readlink

    # No shell, ever (docs/threat-model.md): the initramfs's own command line, measured with it,
    # says so, and because dracut reads /proc/cmdline after it, every emergency and rescue unit is
    # replaced by a power-off as well; the debug shell is masked.
    mkdir -p "$initdir/etc/cmdline.d" "$initdir/etc/systemd/system"
    echo "rd.shell=0 rd.emergency=poweroff" >"$initdir/etc/cmdline.d/10tdx-unlock-noshell.conf"
    inst_script "$moddir/tdx-unlock-poweroff.sh" /usr/lib/tdx-unlock/tdx-unlock-poweroff
    local unit
    for unit in emergency.service rescue.service dracut-emergency.service; do
        inst_simple "$moddir/tdx-unlock-noshell.conf" \
            "$systemdsystemunitdir/$unit.d/tdx-unlock-noshell.conf"
    done
    ln -sf /dev/null "$initdir/etc/systemd/system/debug-shell.service"
    # Nor a wait without end: once the volumes are set up, the root's device must become ready
    # within a bound or the TD powers off (dracut's root device job has no timeout by default).
    inst_script "$moddir/tdx-unlock-root-wait.sh" /usr/lib/tdx-unlock/tdx-unlock-root-wait
    inst_simple "$moddir/tdx-unlock-root-wait.service" \
        "$systemdsystemunitdir/tdx-unlock-root-wait.service"
    [[ $tdx_unlock_root_timeout =~ ^[1-9][0-9]{0,3}$ ]] || {
        derror "tdx-unlock: tdx_unlock_root_timeout '$tdx_unlock_root_timeout' is not 1-9999 seconds"
        return 1
    }
    if [[ $tdx_unlock_root_timeout != 60 ]]; then
        mkdir -p "$initdir$systemdsystemunitdir/tdx-unlock-root-wait.service.d"
        printf '[Service]\nTimeoutStartSec=%s\nEnvironment=TDX_UNLOCK_ROOT_TIMEOUT=%s\n' \
            "$tdx_unlock_root_timeout" "$tdx_unlock_root_timeout" \
            >"$initdir$systemdsystemunitdir/tdx-unlock-root-wait.service.d/timeout.conf"
    fi
    $SYSTEMCTL -q --root "$initdir" add-wants initrd.target tdx-unlock-root-wait.service

    # A disk that appears late is still unlocked: the unit first waits (bounded) for the devices
    # the initrd's systemd-cryptsetup units are bound to (crypttab, rd.luks.uuid=, rd.luks.name=).
    inst_script "$moddir/tdx-unlock-wait-devices.sh" /usr/lib/tdx-unlock/tdx-unlock-wait-devices
    inst_multiple -o udevadm
    inst_simple "$moddir/tdx-unlock.service" "$systemdsystemunitdir/tdx-unlock.service"
    $SYSTEMCTL -q --root "$initdir" add-wants cryptsetup.target tdx-unlock.service

    # The agent needs the network: systemd-networkd (or NetworkManager) brings it up in the initrd.
    mkdir -p "$initdir/etc/cmdline.d"
    echo "rd.neednet=1" >"$initdir/etc/cmdline.d/65tdx-unlock.conf"
    if dracut_module_included "systemd-networkd"; then
        # DHCP on every ethernet link unless ip= or the image configures otherwise (the
        # generator's files from ip= sort first).
        inst_simple "$moddir/99-tdx-unlock-dhcp.network" /etc/systemd/network/99-tdx-unlock-dhcp.network
        # wait-online waits up to 2 minutes when DHCP never answers; the prompt must not wait that.
        mkdir -p "$initdir$systemdsystemunitdir/systemd-networkd-wait-online.service.d"
        printf '[Service]\nExecStart=\nExecStart=%s/systemd-networkd-wait-online --any --timeout=%s\n' \
            "$systemdutildir" "${tdx_unlock_net_timeout:-30}" \
            >"$initdir$systemdsystemunitdir/systemd-networkd-wait-online.service.d/tdx-unlock.conf"
    fi
}
