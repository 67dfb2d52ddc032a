#!/bin/sh
# Runs each fuzz harness for SECONDS on a scratch copy of its seeds (the corpus grows there);
# a crash is kept in FUZZ_DIR/artifacts/<harness>/ and fails the run.
# Usage: tests/fuzz/run.sh FUZZ_DIR SECONDS HARNESS...
F=$1
secs=$2
shift 2
mkdir -p "$F/artifacts"
fail=0
for h in "$@"; do
	name=${h#fuzz-}
	corpus=$F/corpus/$name
	mkdir -p "$corpus" "$F/artifacts/$h"
	if [ -d "$F/seeds/$name" ]; then cp -n "$F/seeds/$name"/* "$corpus/"; fi
	printf '== %-22s %3ss: ' "$h" "$secs"
	if FUZZ_DCAP_CA=$F/dcap-ca "$F/$h" -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 \
		-max_len=131072 -print_final_stats=1 -artifact_prefix="$F/artifacts/$h/" "$corpus" \
		>"$F/$h.log" 2>&1; then
		grep -E '^stat::number_of_executed_units|^stat::peak_rss' "$F/$h.log" |
			sed 's/stat:://' | tr '\n' ' '
		echo "corpus $(find "$corpus" -mindepth 1 -maxdepth 1 | wc -l) ok"
	else
		echo "FAILED (see $F/$h.log)"
		tail -30 "$F/$h.log"
		fail=1
	fi
done
exit $fail
