# Test quote generator end to end through the command lines (docs/quotegen.md):
#   make check-quotegen   tests/integration/quotegen-test.sh: tdx-quotegen output checked by
#                         tdx-keyd verify-quote (exit codes, JSON)
#                         and its certificates and CRLs by the openssl command

QG_BIN := $(BUILD)/tdx-quotegen

.PHONY: check-quotegen
CHECK_TARGETS += check-quotegen

check-quotegen: $(QG_BIN) $(KEYD_BIN)
	sh tests/integration/quotegen-test.sh $(QG_BIN) $(KEYD_BIN)
