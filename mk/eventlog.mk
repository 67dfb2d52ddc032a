# Event logs and image reference values end to end (tests/integration/eventlog-test.sh):
# image-measure vs an independent Python implementation, a simulated direct boot's CCEL replayed
# by verify-quote and turned into an event-level policy, the real COS CCEL (skipped without it).
.PHONY: check-eventlog
CHECK_TARGETS += check-eventlog
check-eventlog: $(KEYD_BIN) $(BUILD)/tdx-quotegen
	KEYD=$(KEYD_BIN) QUOTEGEN=$(BUILD)/tdx-quotegen bash tests/integration/eventlog-test.sh
