# Protocol: docs/protocol.md's test vectors must match tests/vectors/protocol-vectors.json,
# the file the protocol unit tests read; and the C protocol code must agree with an independent
# implementation (Python cryptography) on random inputs.
.PHONY: check-protocol-doc protocol-doc check-protocol-interop
check-protocol-doc:
	python3 tests/vectors/render-protocol-doc.py --check
protocol-doc:
	python3 tests/vectors/render-protocol-doc.py --write
check-protocol-interop: $(BUILD)/protocol-interop
	python3 tests/vectors/interop-check.py $(BUILD)/protocol-interop 25
CHECK_TARGETS += check-protocol-doc check-protocol-interop

# Protocol figures (one core): JWE encrypt/decrypt, attest-request parsing, REPORTDATA, KDFs.
.PHONY: bench-protocol
bench-protocol: $(BUILD)/protocol-bench
	$(BUILD)/protocol-bench
BENCH_TARGETS += bench-protocol
