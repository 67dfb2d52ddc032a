/* tdx-unlock subcommands: each lives in its own cmd_*.c and returns the process exit code. */
#pragma once

int cmd_unlock(int argc, char **argv);
int cmd_enroll(int argc, char **argv);
int cmd_unenroll(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_rotate(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_check_header(int argc, char **argv);
int cmd_guard(int argc, char **argv);
