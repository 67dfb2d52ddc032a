# tdx-keyd: integration tests (loopback) and benchmark.
#   make check-keyd           tests/integration/keyd-test.sh (refusals, reloads, crash/restart)
#   make check-keyd-hygiene   tests/integration/keyd-hygiene.sh (secrets in keyd's memory)
#   make check-keyd-fleet     tests/integration/keyd-fleet.sh (3 replicas behind HAProxy, kill -9)
#   make check-keyd-hsm       tests/integration/keyd-hsm.sh (root key in SoftHSM2 via PKCS#11)
#   make check-keyd-audit     tests/integration/keyd-audit.sh (audit HMAC chain, audit-verify)
#   make check-keyd-admin     tests/integration/keyd-admin.sh (mTLS admin endpoint, fetch-secret)
#   make check-keyd-rollback  tests/integration/keyd-rollback.sh (older collateral refused)
#   make check-keyd-processor-ca  tests/integration/keyd-processor-ca.sh (Processor-CA platform)
#   make bench-keyd           full attested releases/s at 1, 16 and 256 concurrent clients
#   make bench-keyd-fleet     keyd CPU vs the crypto bound, /auth flood, 1,000-agent boot storm
.PHONY: check-keyd check-keyd-hygiene check-keyd-fleet check-keyd-hsm check-keyd-audit check-keyd-admin check-keyd-rollback check-keyd-processor-ca bench-keyd
CHECK_TARGETS += check-keyd check-keyd-hygiene check-keyd-fleet check-keyd-hsm check-keyd-audit \
	check-keyd-admin check-keyd-rollback check-keyd-processor-ca
BENCH_TARGETS += bench-keyd bench-keyd-fleet

KEYD_TEST_DEPS := $(KEYD_BIN) $(BUILD)/tdx-quotegen $(BUILD)/kbs-test-client $(BUILD)/kbs-bench

check-keyd: $(KEYD_TEST_DEPS)
	BUILD=$(BUILD) tests/integration/keyd-test.sh

check-keyd-fleet: $(KEYD_TEST_DEPS)
	BUILD=$(BUILD) tests/integration/keyd-fleet.sh

check-keyd-hygiene: $(KEYD_TEST_DEPS) $(BUILD)/core-scan
	BUILD=$(BUILD) tests/integration/keyd-hygiene.sh

bench-keyd: $(KEYD_TEST_DEPS)
	BUILD=$(BUILD) bench/keyd-bench.sh

check-keyd-hsm: $(KEYD_TEST_DEPS)
	BUILD=$(BUILD) tests/integration/keyd-hsm.sh

bench-keyd-fleet: $(KEYD_TEST_DEPS)
	BUILD=$(BUILD) bench/keyd-fleet.sh

check-keyd-audit: $(KEYD_TEST_DEPS)
	BUILD=$(BUILD) tests/integration/keyd-audit.sh

check-keyd-admin: $(KEYD_TEST_DEPS)
	BUILD=$(BUILD) tests/integration/keyd-admin.sh

check-keyd-rollback: $(KEYD_TEST_DEPS)
	BUILD=$(BUILD) tests/integration/keyd-rollback.sh

check-keyd-processor-ca: $(KEYD_TEST_DEPS)
	BUILD=$(BUILD) tests/integration/keyd-processor-ca.sh
