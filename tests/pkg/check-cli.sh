#!/bin/bash
# The command-line contract of both binaries (issue 11): --version prints the VERSION file's
# version; `--help` of every subcommand (taken from the binary's own command list) exits 0,
# prints to stdout only, and names every long option of that subcommand's option table (its
# CMD_OPT/CMD_FLAG entries for cmd_options_parse(), read from its src/*/cmd_*.c); errors about
# a device name the device and the cause, with exit 2.
# Usage: check-cli.sh AGENT_BIN KEYD_BIN   (run from the top of the checkout)
# shellcheck source=tests/pkg/env.sh
. "$(dirname "$0")/env.sh"
AGENT=$1 KEYD=$2
VERSION=$(cat VERSION)
pkg_scratch

for bin in "$AGENT" "$KEYD"; do
	name=$(basename "$bin")
	if out=$("$bin" --version 2>"$T/err") &&
		[ ! -s "$T/err" ] &&
		[ "$out" = "$name $VERSION" ]; then
		ok "$name --version: $out"
	else
		bad "$name --version printed '$out' (want '$name $VERSION')"
	fi
done

# The subcommands a binary lists under "commands:" in its --help.
commands() { "$1" --help | sed -n '/^commands:/,$p' | awk 'NR > 1 && NF { print $1 }'; }

# The long options of a subcommand: every CMD_OPT("name", ...), CMD_FLAG("name", ...),
# CMD_FLAG_SHORT and CMD_OPT_LIST entry of the file defining it.
options_of() {
	local src
	src=$(grep -l "^int cmd_${2//-/_}(int argc" src/"$1"/cmd_*.c) || return 1
	grep -o 'CMD_\(OPT\|FLAG\|FLAG_SHORT\|OPT_LIST\)("[a-z0-9-]*"' "$src" | sed 's/.*("\([^"]*\)"/\1/'
}

for pair in "agent:$AGENT" "keyd:$KEYD"; do
	dir=${pair%%:*} bin=${pair#*:}
	name=$(basename "$bin")
	n=0
	for cmd in $(commands "$bin"); do
		n=$((n + 1))
		"$bin" "$cmd" --help >"$T/out" 2>"$T/err"
		rc=$?
		if [ $rc -ne 0 ] || [ ! -s "$T/out" ] || [ -s "$T/err" ]; then
			bad "$name $cmd --help: exit $rc, stdout $(wc -c <"$T/out") bytes, stderr: $(head -c 200 "$T/err")"
			continue
		fi
		opts=$(options_of "$dir" "$cmd") || {
			bad "$name $cmd: no src/$dir/cmd_*.c defines cmd_${cmd//-/_}()"
			continue
		}
		missing=
		for o in $opts; do
			[ "$o" = help ] && continue
			grep -q -- "--$o\b" "$T/out" || missing="$missing --$o"
		done
		if [ -z "$missing" ]; then
			ok "$name $cmd --help: stdout, exit 0, lists its $(echo "$opts" | wc -w) options"
		else
			bad "$name $cmd --help does not mention:$missing"
		fi
	done
	[ $n -ge 5 ] || bad "$name --help lists only $n commands"
	# its man page documents every command
	page=$(LC_ALL=C.UTF-8 MANWIDTH=200 man -l "man/$name.8" 2>/dev/null)
	undocumented=
	for cmd in $(commands "$bin"); do
		grep -qE "(^|[[:space:]])$cmd([[:space:]]|$)" <<<"$page" || undocumented="$undocumented $cmd"
	done
	if [ -z "$undocumented" ]; then
		ok "man/$name.8 documents all $n commands"
	else
		bad "man/$name.8 does not document:$undocumented"
	fi
	# and its synopsis names only options the program reads: a removed option leaves the page too
	stale=
	while read -r o; do
		case $o in --help | --version) continue ;; esac
		grep -qE "CMD_(OPT|FLAG|FLAG_SHORT|OPT_LIST)\(\"${o#--}\"" src/"$dir"/cmd_*.c ||
			stale="$stale $o"
	done < <(sed -n '/^\.SH SYNOPSIS/,/^\.SH [^S]/p' "man/$name.8" |
		grep -o '\\-\\-[a-z0-9]*\(\\-[a-z0-9]*\)*' | sed 's/\\-/-/g' | sort -u)
	if [ -z "$stale" ]; then
		ok "man/$name.8's synopsis names only options $name reads"
	else
		bad "man/$name.8's synopsis names options $name does not have:$stale"
	fi
done

# A device that does not exist: named, with the system's reason, exit 2 (not 6 "header invalid").
missing=$T/no-such-disk
# The example configuration, on a machine without RTMR3 (allow_missing_rtmr: only the device
# error is under test here).
sed 's/^{$/{ "allow_missing_rtmr": true,/' etc/agent.conf.example >"$T/agent.conf"
for cmd in list check check-header unenroll "unlock --config $T/agent.conf"; do
	# shellcheck disable=SC2086 # cmd carries its options
	"$AGENT" $cmd "$missing" >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc -eq 2 ] && grep -q "$missing: cannot open: No such file or directory" "$T/err" &&
		! grep -q "(-[0-9]*)" "$T/err" "$T/out"; then
		ok "tdx-unlock $cmd on a missing device: exit 2, '$(grep -m1 "cannot open" "$T/err")'"
	else
		bad "tdx-unlock $cmd on a missing device: exit $rc, $(cat "$T/err" "$T/out" | head -5)"
	fi
done
# libcryptsetup's own words go through our log (debug level), never straight to stderr.
if grep -q "does not exist or access denied" "$T/err"; then
	bad "libcryptsetup printed to stderr itself: $(cat "$T/err")"
else
	ok "libcryptsetup's messages go through the project's log"
fi

# Under systemd (stderr is the stream $JOURNAL_STREAM names): "<N>" priority, no ident.
: >"$T/journal" # JOURNAL_STREAM names this very file, which stderr then points to
# shellcheck disable=SC2094 # stat names the file stderr goes to: that is the point
JOURNAL_STREAM=$(stat -c '%d:%i' "$T/journal") "$AGENT" list "$missing" 2>"$T/journal" >/dev/null
if grep -q "^<3>$missing: cannot open" "$T/journal" && ! grep -q "tdx-unlock:" "$T/journal"; then
	ok "under JOURNAL_STREAM: '$(head -1 "$T/journal")'"
else
	bad "under JOURNAL_STREAM: $(cat "$T/journal")"
fi
JOURNAL_STREAM=1:1 "$AGENT" list "$missing" 2>"$T/plain" >/dev/null
if grep -q "^tdx-unlock: $missing" "$T/plain"; then
	ok "a JOURNAL_STREAM naming another file: plain lines"
else
	bad "JOURNAL_STREAM not matching stderr still changed the format: $(cat "$T/plain")"
fi

# Run by hand with stderr on a pipe (no terminal, no journal): the lines come back on stderr,
# not into the host's kernel log (the agent uses /dev/kmsg only inside an initramfs).
out=$(env -u JOURNAL_STREAM "$AGENT" unlock --config "$T/no-such.conf" "$missing" 2>&1 </dev/null | cat)
if grep -q "no-such.conf" <<<"$out"; then
	ok "unlock by hand, stderr on a pipe: its lines stay on stderr"
else
	bad "unlock by hand printed nothing on stderr (to /dev/kmsg?): '$out'"
fi

pkg_done
