# Quote verification benchmark (h1): verifications/s with collateral reused, beside
# `openssl speed -seconds 2 ecdsap256` verify/s from the same run, and the ratio to the bound
# of two ECDSA verifications per quote.
BENCH_VERIFY_BIN := $(BUILD)/bench-verify

$(BENCH_VERIFY_BIN): $(BUILD)/obj/bench/bench-verify.o $(PROJECT_LIBS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -Wl,--start-group $(PROJECT_LIBS) -Wl,--end-group $(LDLIBS)

.PHONY: bench-verify
bench-verify: $(BENCH_VERIFY_BIN)
	@sh bench/bench-verify.sh $(BENCH_VERIFY_BIN)

BENCH_TARGETS += bench-verify
