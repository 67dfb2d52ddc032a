# Boot tests in QEMU, the demo and the boot benchmark (tests/qemu/, docs/boot.md).
#   make check-qemu   the default scenarios 1-15 (tests/qemu/run.sh: dracut and initramfs-tools, loopback keyd)
#   make check-enroll-image   scripts/tdx-enroll-image on the host (no VM, seconds)
#   make demo         fresh Debian 12 machine: install packages, build, boot scenario 1
#   make bench-qemu   scenario 1's kernel-start-to-unlock time and the initramfs size the module adds
# QEMU_SCENARIOS selects scenarios (default all). Work files go to $(BUILD)/qemu-work, so runs
# from different build directories never collide; the debootstrap chroot is cached once in
# tests/qemu/work/ (gitignored).
QEMU_RUN       := tests/qemu/run.sh
QEMU_SCENARIOS ?=
QEMU_WORK      ?= $(abspath $(BUILD))/qemu-work
QEMU_ENV        = BUILD=$(abspath $(BUILD)) QEMU_WORK=$(QEMU_WORK)

.PHONY: check-qemu bench-qemu check-enroll-image
check-enroll-image: all
	$(QEMU_ENV) tests/qemu/enroll-image-test.sh

# The boots use the tdx-unlock package's files (QEMU_DEB, mk/pkg.mk), so the package is what
# they prove.
check-qemu: all static $(BUILD)/static/tdx-tsm-sim $(DEBS)
	$(QEMU_ENV) QEMU_DEB=$(abspath $(firstword $(DEBS))) $(QEMU_RUN) $(QEMU_SCENARIOS)

demo:
	@echo "== tdx-unlock demo 1/3: installing the Debian packages (deps/install.sh)"
	sh deps/install.sh
	@echo "== tdx-unlock demo 2/3: building tdx-unlock, tdx-keyd and the static agent"
	$(MAKE) -s --no-print-directory all static
	@echo "== tdx-unlock demo 3/3: booting a VM whose LUKS2 root is unlocked by tdx-keyd (QEMU, ~1-2 min)"
	$(QEMU_ENV) $(QEMU_RUN) --demo 1

bench-qemu: all static $(BUILD)/static/tdx-tsm-sim
	$(QEMU_ENV) $(QEMU_RUN) --bench 1

CHECK_TARGETS += check-enroll-image check-qemu
BENCH_TARGETS += bench-qemu
