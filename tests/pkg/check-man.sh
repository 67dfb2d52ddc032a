#!/bin/bash
# Every man page renders without a warning: groff with all warnings (-ww) and man(1)'s own
# pass must print nothing, and the page must render. A page with a
# broken macro is rendered first to show the check can fail.
# Usage: check-man.sh PAGE...
# shellcheck source=tests/pkg/env.sh
. "$(dirname "$0")/env.sh"
pkg_scratch
warnings() { # page -> the warnings groff and man print for it
	groff -man -ww -z "$1" 2>&1
	# shellcheck disable=SC2069 # man's warnings (stderr) to the pipe, the page itself dropped
	LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings=all -l "$1" 2>&1 >/dev/null
}

printf '.TH T 8\n.SH NAME\nt \\- t\n.BOGUS x\n.SH DESCRIPTION\n\\fBunclosed\n' >"$T/broken.8"
if [ -n "$(warnings "$T/broken.8")" ]; then
	ok "a broken page is caught: $(warnings "$T/broken.8" | head -1)"
else
	bad "the warning check sees nothing wrong in a broken page"
fi

for page in "$@"; do
	w=$(warnings "$page")
	lines=$(LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$page" 2>/dev/null | wc -l)
	if [ -n "$w" ]; then
		bad "$page: $w"
	elif [ "$lines" -lt 15 ]; then
		bad "$page renders only $lines lines"
	else
		ok "$page: $lines lines, no warnings"
	fi
done
pkg_done
