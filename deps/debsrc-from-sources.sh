#!/bin/sh
# Prints deb-src stanzas (deb822) mirroring the machine's own Debian "deb" entries: the same
# URIs, suites, components and keyring, so a machine behind a local mirror keeps using it.
# Reads /etc/apt/sources.list and /etc/apt/sources.list.d/*.{list,sources} (APT_SOURCES_DIR
# overrides /etc/apt for tests). Only entries signed by (or suites of) Debian are mirrored.
set -eu
dir=${APT_SOURCES_DIR:-/etc/apt}

# deb822 files: copy each stanza whose Types has "deb", with Types rewritten to deb-src.
for f in "$dir"/sources.list.d/*.sources; do
	[ -r "$f" ] || continue
	awk '
	function flush() {
		if (isdeb && debian) { print "Types: deb-src"; printf "%s", body; print "" }
		body = ""; isdeb = 0; debian = 0
	}
	/^[ \t]*$/ { flush(); next }
	/^#/ { next }
	/^Types:/ { if ($0 ~ /[ \t]deb([ \t]|$)/) isdeb = 1; next }
	/^Enabled:[ \t]*no/ { isdeb = 0; body = body $0 "\n"; next }
	/^Suites:/ && /(bookworm|trixie|bullseye|sid|stable)/ { debian = 1 }
	/^Signed-By:.*debian-archive-keyring/ { debian = 1 }
	{ body = body $0 "\n" }
	END { flush() }' "$f"
done

# one-line format: "deb [opts] URI suite comp..." -> a deb822 stanza.
for f in "$dir"/sources.list "$dir"/sources.list.d/*.list; do
	[ -r "$f" ] || continue
	sed -n 's/^[ \t]*deb[ \t]\+//p' "$f" | while read -r first rest; do
		opts=
		# shellcheck disable=SC2086 # $rest: the rest of the line, split into its words
		case "$first" in
		\[*)
			opts=$first
			while case "$opts" in *\]) false ;; *) true ;; esac; do
				set -- $rest
				opts="$opts $1"
				shift
				rest=$*
			done
			set -- $rest
			;;
		*) set -- "$first" $rest ;;
		esac
		uri=$1
		suite=$2
		shift 2
		case "$suite" in bookworm* | trixie* | bullseye* | sid | stable*) ;; *) continue ;; esac
		echo "Types: deb-src"
		echo "URIs: $uri"
		echo "Suites: $suite"
		echo "Components: $*"
		signed=$(printf '%s' "$opts" | sed -n 's/.*signed-by=\([^] ]*\).*/\1/p')
		[ -n "$signed" ] && echo "Signed-By: $signed"
		echo
	done
done
