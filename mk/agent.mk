# The agent's unlock path: loopback integration with tdx-keyd and the quote simulator,
# the secret-hygiene test (gcore at exit, scanned for secrets) and the agent benchmark.
#   make check-agent            tests/integration/agent-unlock.sh (every exit code and refusal)
#   make check-agent-hygiene    tests/integration/agent-hygiene.sh
#   make bench-agent            bench/agent-bench.sh: wall time to passphrase ready (quote excluded) and peak RSS
# TDX_UNLOCK_BIN picks another agent binary (e.g. the static one).
.PHONY: check-agent check-agent-hygiene bench-agent
CHECK_TARGETS += check-agent check-agent-hygiene
BENCH_TARGETS += bench-agent

AGENT_TEST_DEPS := $(AGENT_BIN) $(KEYD_BIN) $(BUILD)/tdx-quotegen $(BUILD)/core-scan

check-agent: $(AGENT_TEST_DEPS)
	BUILD=$(BUILD) sh tests/integration/agent-unlock.sh

check-agent-hygiene: $(AGENT_TEST_DEPS)
	BUILD=$(BUILD) sh tests/integration/agent-hygiene.sh

# Also the static agent, when built: it is the one an initramfs carries (its peak RSS is the goal's).
bench-agent: $(AGENT_TEST_DEPS)
	@echo "bench-agent: $(AGENT_BIN) (dynamic)"
	BUILD=$(BUILD) sh bench/agent-bench.sh
	@if [ -x $(BUILD)/static/tdx-unlock ]; then \
		echo "bench-agent: $(BUILD)/static/tdx-unlock (static, the initramfs agent; make static)"; \
		BUILD=$(BUILD) TDX_UNLOCK_BIN=$(abspath $(BUILD))/static/tdx-unlock sh bench/agent-bench.sh; \
	else echo "bench-agent: no $(BUILD)/static/tdx-unlock (make static): static agent not measured"; fi
