/* tdx-unlock subcommands: each lives in its own cmd_*.c and returns the process exit code. */
#pragma once

int cmd_unlock(int argc, char **argv);
