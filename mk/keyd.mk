# tdx-keyd: integration tests (loopback) and benchmark.
#   make check-keyd   tests/integration/keyd-test.sh (refusals, reloads, crash/restart)
#   make bench-keyd   full attested releases/s at 1, 16 and 256 concurrent clients
.PHONY: check-keyd bench-keyd
CHECK_TARGETS += check-keyd
BENCH_TARGETS += bench-keyd

KEYD_TEST_DEPS := $(KEYD_BIN) $(BUILD)/tdx-quotegen $(BUILD)/kbs-test-client $(BUILD)/kbs-bench

check-keyd: $(KEYD_TEST_DEPS)
	BUILD=$(BUILD) tests/integration/keyd-test.sh

bench-keyd: $(KEYD_TEST_DEPS)
	BUILD=$(BUILD) tests/integration/keyd-bench.sh
