#!/bin/sh
# make check-asan's run (mk/asan.mk): COMMAND (the suites, built with ASan + UBSan) runs with every
# sanitizer report written under ASAN_REPORTS (log_path), also from background servers and from
# processes whose non-zero exit a test expects; any report there fails the run and is printed.
# Wall-time bounds in the suites scale by TEST_TIME_FACTOR=3 (sanitized code is slower).
# Usage: ASAN_REPORTS=DIR ASAN_SUITES="NAMES" tests/asan/run.sh COMMAND...   (DIR exists, empty)
set -u
fail=0
TEST_TIME_FACTOR=3 \
	ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0:log_path=$ASAN_REPORTS/asan \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$ASAN_REPORTS/ubsan \
	LSAN_OPTIONS=log_path=$ASAN_REPORTS/lsan \
	"$@" || fail=1
if [ -n "$(ls -A "$ASAN_REPORTS")" ]; then
	for f in "$ASAN_REPORTS"/*; do
		echo "== sanitizer report $f"
		head -60 "$f"
	done
	fail=1
fi
if [ $fail = 0 ]; then
	echo "check-asan: $ASAN_SUITES passed, no sanitizer report"
else
	echo "check-asan: FAILED"
fi
exit $fail
