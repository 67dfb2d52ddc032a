# LUKS2 disk-side commands: enroll/check/list/rotate/unenroll on real image files and the
# crafted malicious headers of tests/luks/luks2_edit.py. TDX_UNLOCK_BIN picks another binary
# (e.g. the static one); the default is the dynamic build.
.PHONY: check-luks
check-luks: $(AGENT_BIN)
	TDX_UNLOCK_BIN=$${TDX_UNLOCK_BIN:-$(AGENT_BIN)} bash tests/luks/check-luks.sh

CHECK_TARGETS += check-luks

# Wall time and peak RSS of header copy + validation, and of opening our PBKDF2 keyslot.
.PHONY: bench-luks
bench-luks: $(AGENT_BIN)
	python3 bench/bench-luks.py $${TDX_UNLOCK_BIN:-$(AGENT_BIN)} $${BENCH_RUNS:-10}

BENCH_TARGETS += bench-luks
