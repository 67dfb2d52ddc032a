#!/bin/bash
# Sourced by tests/pkg/check-*.sh (run from the top of the checkout): ok/bad reporting (bad sets
# fail=1), pkg_scratch (a scratch directory $T, removed at exit) and pkg_done, which prints
# "<check>: all passed" when nothing failed and exits with the verdict.
set -u
fail=0
ok() { echo "ok: $*"; }
bad() {
	echo "FAIL: $*"
	fail=1
}
pkg_scratch() {
	T=$(mktemp -d "${TMPDIR:-/tmp}/$(basename "$0" .sh).XXXXXX")
	trap 'rm -rf "$T"' EXIT
}
pkg_done() {
	[ $fail -eq 0 ] && echo "$(basename "$0" .sh): all passed"
	exit $fail
}
