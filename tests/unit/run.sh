#!/bin/sh
# make check-unit: runs every unit program given, each on its own; fails when any of them does.
# Usage: tests/unit/run.sh PROGRAM...
fail=0
for t in "$@"; do
	echo "== $t"
	if ! "$t"; then
		echo "FAIL: $t"
		fail=1
	fi
done
exit $fail
