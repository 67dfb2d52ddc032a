/* tdx-keyd subcommands: each lives in its own cmd_*.c and returns the process exit code. */
#pragma once

int cmd_verify_quote(int argc, char **argv);
