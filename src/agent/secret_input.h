/* Secrets read from outside: secret files and existing passphrases for the admin commands, and the
 * boot's passphrase prompt. Read from a file, a terminal or a pipe straight into secure memory,
 * never through stdio buffers, argv, the environment or a log. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define SECRET_PASSPHRASE_MAX 8192
#define SECRET_CONSOLE_PATH   "/dev/console"
/* Test hooks (docs/testing.md): a program standing for systemd-ask-password, another console. */
#define SECRET_ASK_PASSWORD_TEST_ENV "TDX_UNLOCK_TEST_ASK_PASSWORD"
#define SECRET_CONSOLE_TEST_ENV	     "TDX_UNLOCK_TEST_CONSOLE"

/* Reads the whole of path (1..max bytes) into secmem; *out is freed with secmem_free. */
int secret_file_read(const char *path, size_t max, uint8_t **out, size_t *len);

/* Prompts on /dev/tty with echo off and reads one line (without its newline, at most max bytes)
 * into NUL-terminated secmem. -ENXIO when there is no terminal. */
int secret_tty_read(const char *prompt, size_t max, char **out, size_t *len);

/* The existing passphrase for enroll/rotate: the whole of key_file when given (as cryptsetup's
 * --key-file reads it), else a prompt on the terminal. NUL-terminated secmem in *out. */
int secret_passphrase_get(const char *key_file, char **out, size_t *len);

/* Asks the boot's passphrase: through systemd-ask-password (its console / plymouth agents) when
 * systemd runs (dracut), else on /dev/console with echo off (initramfs-tools). message is shown
 * as is, id names the request (systemd's --id). The passphrase arrives over a pipe (or from the
 * terminal) into NUL-terminated secmem in *out. Returns 0, -ETIMEDOUT (nothing within
 * timeout_ms), -ECANCELED (the agent gave up), -EINVAL (empty), -EFBIG, -ENXIO (no way to ask). */
int secret_ask_passphrase(const char *message, const char *id, unsigned timeout_ms, char **out,
			  size_t *len);
