# Protocol (h3): docs/protocol.md's test vectors must match tests/vectors/protocol-vectors.json,
# the file the protocol unit tests read.
.PHONY: check-protocol-doc protocol-doc
check-protocol-doc:
	python3 tests/vectors/render-protocol-doc.py --check
protocol-doc:
	python3 tests/vectors/render-protocol-doc.py --write
CHECK_TARGETS += check-protocol-doc
