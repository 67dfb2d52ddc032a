# make bench-boot: tdx-unlock beside clevis + tang, interleaved QEMU boots (bench/boot-bench.sh,
# docs/bench.md). Not part of make check. The clevis chroot is cached in $(BUILD)/bench-boot/.
#   BENCH_BOOT_RUNS=N   boots of each kind (default 3)
.PHONY: bench-boot
bench-boot: all static $(BUILD)/static/tdx-tsm-sim
	BUILD=$(abspath $(BUILD)) bench/boot-bench.sh

BENCH_TARGETS += bench-boot
