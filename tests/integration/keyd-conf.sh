#!/bin/sh
# Sourced by every test that runs tdx-keyd (tests/integration, tests/pkg, tests/qemu): the one
# writer of a test keyd.json (format: docs/keyd.md). Relative paths are relative to FILE's folder.
# keyd_conf_write FILE PORT CERT KEY POLICY_DIR COLLATERAL_DIR ROOT_KEY AUDIT <MEMBERS: listening
# on 127.0.0.1:PORT (0: any free port); stdin holds the JSON text of the other top-level members
# (comma-separated, no trailing comma; empty for none).
keyd_conf_write() {
	_keyd_more=$(cat)
	{
		printf '{\n  "listen": { "address": "127.0.0.1", "port": %s },\n' "$2"
		printf '  "tls": { "certificate": "%s", "private_key": "%s" },\n' "$3" "$4"
		printf '  "policy_dir": "%s",\n  "collateral_dir": "%s",\n' "$5" "$6"
		printf '  "root_key_file": "%s",\n  "audit_file": "%s"' "$7" "$8"
		[ -n "$_keyd_more" ] && printf ',\n%s' "$_keyd_more"
		printf '\n}\n'
	} >"$1"
}
