#!/bin/sh
# make check-lint's shell part: shellcheck (Debian's package) over every shell script of the
# checkout, at its default severity (style included). A script is a tracked *.sh file or a
# tracked file whose first line runs sh, bash or dash. Findings are fixed, or disabled on their
# own line with the reason (`# shellcheck disable=SCnnnn # why`); never for a whole file.
# Usage: tests/lint/shellcheck.sh   (from the top of the checkout)
set -eu

command -v shellcheck >/dev/null || {
	echo "shellcheck: not installed (deps/debian-packages.txt lists it)" >&2
	exit 1
}
# git knows what belongs to the tree; without it (an unpacked tarball), every file counts.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	list_files() { git ls-files; }
else
	list_files() { find . -path ./build -prune -o -path ./.git -prune -o -type f -print | sed 's|^\./||'; }
fi
scripts=$(mktemp)
trap 'rm -f "$scripts"' EXIT
list_files | while IFS= read -r f; do
	[ -f "$f" ] || continue
	case $f in
	*.sh) echo "$f" ;;
	*) if head -n 1 "$f" | grep -qE '^#! *(/usr)?/bin/(env +)?(ba|da)?sh( |$)'; then echo "$f"; fi ;;
	esac
done >"$scripts"
n=$(wc -l <"$scripts")
[ "$n" -gt 0 ] || {
	echo "shellcheck: no shell scripts found" >&2
	exit 1
}
# -x -P SCRIPTDIR: sourced files are followed, source= paths relative to the sourcing script.
xargs shellcheck -x -P SCRIPTDIR <"$scripts"
echo "shellcheck: $n shell scripts clean"
