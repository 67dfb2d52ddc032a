#!/bin/sh
# Runs the quote verification benchmark and openssl speed in the same run and prints the ratio
# of quote verifications/s to the bound of two ECDSA P-256 verifications per quote.
set -eu
bin=$1
echo "== bench-verify: DCAP quote verification (single thread)"
out=$("$bin" 2)
echo "$out"
case $out in *skipped*) exit 0 ;; esac
qps=$(echo "$out" | awk -F': ' '/^quote verifications\/s \(collateral reused, per CPU second\)/ { print $2 }')
speed=$(openssl speed -seconds 2 ecdsap256 2>/dev/null | awk '/ecdsa \(nistp256\)/ { print $NF }')
echo "openssl speed -seconds 2 ecdsap256: verify/s $speed (per CPU user second)"
awk -v q="$qps" -v s="$speed" 'BEGIN {
	bound = s / 2
	printf "bound (two ECDSA verifies per quote): %.1f quotes/s\n", bound
	printf "quote verifications/s (per CPU second): %.1f = %.1f %% of the bound (goal >= 70 %%)\n", q, 100 * q / bound
}'
