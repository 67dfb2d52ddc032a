# Quote verification benchmark: verifications/s with collateral reused, beside
# `openssl speed -seconds 2 ecdsap256` verify/s from the same run, and the ratio to the bound
# of two ECDSA verifications per quote.
.PHONY: bench-verify
bench-verify: $(BUILD)/bench-verify
	@sh bench/bench-verify.sh $(BUILD)/bench-verify

BENCH_TARGETS += bench-verify

# verify-quote end to end on the real sets (skipped without TDX_TESTDATA): exit status and
# tcb_status of each set inside its window, refusal outside it, usage errors.
.PHONY: check-verify-quote
check-verify-quote: $(KEYD_BIN)
	sh tests/integration/verify-quote.sh $(KEYD_BIN) "$(TDX_TESTDATA)"

CHECK_TARGETS += check-verify-quote
