/* tdx-keyd subcommands: each lives in its own cmd_*.c and returns the process exit code. */
#pragma once

int cmd_verify_quote(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_check_config(int argc, char **argv);
int cmd_policy_from_quote(int argc, char **argv);
int cmd_derive_secret(int argc, char **argv);
int cmd_image_measure(int argc, char **argv);
int cmd_import_root_key(int argc, char **argv);
int cmd_audit_verify(int argc, char **argv);
int cmd_fetch_secret(int argc, char **argv);
