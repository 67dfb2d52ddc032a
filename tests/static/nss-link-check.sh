#!/bin/sh
# After the static agent's link (mk/static.mk): the glibc functions that static glibc serves only
# by loading shared libraries at run time (the linker's "Using 'NAME' in statically linked
# applications" warnings). The allowed ones are printed; any other one fails, because it would
# make the agent try to load libnss_*.so in the initramfs (docs/static-build.md).
# Usage: tests/static/nss-link-check.sh LINK_WARNINGS_FILE ALLOWED_FUNCTION...
set -u
warnings=$1
shift
used=$(sed -n "s/.*warning: Using '\([a-z_0-9]*\)'.*/\1/p" "$warnings" | sort -u)
bad=
for f in $used; do
	case " $* " in
	*" $f "*) ;;
	*) bad="$bad $f" ;;
	esac
done
if [ -n "$bad" ]; then
	cat "$warnings"
	echo "static: error: the agent now uses$bad which static glibc serves only by" \
		"loading shared libraries at run time; see docs/static-build.md"
	exit 1
fi
echo "static: glibc functions needing care in a static binary (expected): $(echo "$used" | xargs)"
