#define _GNU_SOURCE /* pipe2 */
#include "secret_input.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "agent/phase_timing.h"
#include "cleanup.h"
#include "log.h"
#include "secmem.h"

extern char **environ;

static int read_full(int fd, uint8_t *buf, size_t cap, size_t *got)
{
	size_t n = 0;

	/* Bounded by cap: at most cap + 1 bytes are ever read. */
	while (n < cap) {
		ssize_t k = read(fd, buf + n, cap - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		n += (size_t)k;
	}
	*got = n;
	return 0;
}

int secret_file_read(const char *path, size_t max, uint8_t **out, size_t *len)
{
	_cleanup_secmem_ uint8_t *buf = NULL;
	struct stat st;
	size_t n = 0;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return log_error_errno(-errno, "%s: cannot open: %m", path);
	if (fstat(fd, &st) < 0) {
		r = log_error_errno(-errno, "%s: %m", path);
		goto out;
	}
	if (S_ISREG(st.st_mode) && (st.st_mode & 0077))
		log_warn("%s: secret file is readable by group or others", path);
	buf = secmem_alloc(max + 1);
	if (!buf) {
		r = log_error_errno(-ENOMEM, "%s: no secure memory", path);
		goto out;
	}
	r = read_full(fd, buf, max + 1, &n);
	if (r < 0) {
		log_error_errno(r, "%s: read failed", path);
		goto out;
	}
	if (n == 0) {
		r = log_error_errno(-EINVAL, "%s: secret file is empty", path);
		goto out;
	}
	if (n > max) {
		r = log_error_errno(-EFBIG, "%s: secret file larger than %zu bytes", path, max);
		goto out;
	}
	*out = buf;
	buf = NULL;
	*len = n;
	r = 0;
out:
	close(fd);
	return r;
}

/* Reads one line (without its \r or \n) from the terminal at path into NUL-terminated secmem,
 * after writing prompt, with echo off. timeout_ms 0: no limit. Typed-ahead input is discarded
 * before the prompt (TCSAFLUSH). A terminal whose echo cannot be switched off is not used. */
static int terminal_read_line(const char *path, const char *prompt, unsigned timeout_ms, size_t max,
			      char **out, size_t *len)
{
	_cleanup_secmem_ char *buf = NULL;
	struct termios old, noecho;
	uint64_t deadline = timeout_ms ? phase_now_us() / 1000 + timeout_ms : 0;
	size_t n = 0;
	bool restore = false;
	int fd, r = 0;

	fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return log_error_errno(-ENXIO, "cannot open %s to ask for the passphrase: %m",
				       path);
	buf = secmem_alloc(max + 1);
	if (!buf) {
		r = log_error_errno(-ENOMEM, "no secure memory");
		goto out;
	}
	if (isatty(fd)) {
		if (tcgetattr(fd, &old) < 0) {
			r = log_error_errno(-errno, "%s: cannot switch echo off: %m", path);
			goto out;
		}
		noecho = old;
		noecho.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
		noecho.c_lflag |= ECHONL;
		if (tcsetattr(fd, TCSAFLUSH, &noecho) < 0) {
			r = log_error_errno(-errno, "%s: cannot switch echo off: %m", path);
			goto out;
		}
		restore = true;
	}
	if (write(fd, prompt, strlen(prompt)) < 0) {
		r = log_error_errno(-errno, "writing the prompt failed: %m");
		goto out;
	}
	/* Byte by byte, so nothing past the newline is consumed or buffered outside secmem. */
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t k;
		char c;

		if (deadline) {
			uint64_t now = phase_now_us() / 1000;
			int wait = now >= deadline ? 0 : (int)(deadline - now);

			k = poll(&p, 1, wait);
			if (k < 0 && errno == EINTR)
				continue;
			if (k == 0) {
				r = -ETIMEDOUT;
				goto out;
			}
		}
		k = read(fd, &c, 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = log_error_errno(-errno, "reading the passphrase failed: %m");
			goto out;
		}
		if (k == 0 || c == '\n' || c == '\r')
			break;
		if (n >= max) {
			r = log_error_errno(-EFBIG, "passphrase longer than %zu bytes", max);
			goto out;
		}
		buf[n++] = c;
	}
	if (n == 0) {
		r = log_error_errno(-EINVAL, "empty passphrase");
		goto out;
	}
	buf[n] = '\0';
	*out = TAKE_PTR(buf);
	*len = n;
out:
	if (restore)
		(void)tcsetattr(fd, TCSAFLUSH, &old);
	close(fd);
	return r;
}

int secret_tty_read(const char *prompt, size_t max, char **out, size_t *len)
{
	int r = terminal_read_line("/dev/tty", prompt, 0, max, out, len);

	if (r == -ENXIO)
		log_error("no terminal to ask for the passphrase (use --key-file)");
	return r;
}

/* systemd's password agents (console, plymouth) answer for a program that runs under systemd
 * (dracut); the test hook names a program that prints the passphrase the same way. */
static const char *ask_password_program(void)
{
	static const char *const paths[] = {"/usr/bin/systemd-ask-password",
					    "/bin/systemd-ask-password"};
	const char *test = getenv(SECRET_ASK_PASSWORD_TEST_ENV);

	if (test && test[0]) {
		log_warn("passphrase: asked through %s (test hook " SECRET_ASK_PASSWORD_TEST_ENV
			 ")",
			 test);
		return test;
	}
	if (access("/run/systemd/system", F_OK) < 0) /* systemd is not the init: no agents */
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

/* Waits for pid until deadline_ms (0: not at all) and kills it if it is still running then.
 * Returns true when it had to be killed. */
static bool child_reap(pid_t pid, uint64_t deadline_ms, int *status)
{
	bool killed = false;

	for (;;) {
		pid_t w = waitpid(pid, status, WNOHANG);

		if (w == pid || (w < 0 && errno != EINTR))
			return killed;
		if (w == 0 && !killed && phase_now_us() / 1000 >= deadline_ms) {
			killed = kill(pid, SIGKILL) == 0;
			continue;
		}
		if (w == 0)
			(void)poll(NULL, 0, killed ? 10 : 20);
	}
}

/* Runs prog (systemd-ask-password's interface) with its stdout on a pipe and reads the first line
 * into secmem; the program is killed when it overruns timeout_ms by a second. */
static int ask_password_run(const char *prog, const char *message, const char *id,
			    unsigned timeout_ms, size_t max, char **out, size_t *len)
{
	_cleanup_secmem_ char *buf = NULL;
	char timeout_arg[32], id_arg[160];
	char *argv[] = {(char *)prog,	 "--no-tty", timeout_arg, id_arg, "--icon=drive-harddisk",
			(char *)message, NULL};
	posix_spawn_file_actions_t fa;
	uint64_t deadline = phase_now_us() / 1000 + timeout_ms + 1000;
	bool line = false, killed;
	int pfd[2], status = 0, r;
	size_t n = 0;
	pid_t pid;

	snprintf(timeout_arg, sizeof(timeout_arg), "--timeout=%u", (timeout_ms + 999) / 1000);
	snprintf(id_arg, sizeof(id_arg), "--id=tdx-unlock:%.120s", id);
	buf = secmem_alloc(max + 2);
	if (!buf)
		return log_error_errno(-ENOMEM, "no secure memory");
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return log_error_errno(-errno, "passphrase: pipe: %m");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], STDOUT_FILENO);
	r = -posix_spawn(&pid, prog, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	if (r < 0) {
		close(pfd[0]);
		return log_error_errno(r, "passphrase: cannot run %s: %s", prog, strerror(-r));
	}
	/* Up to the first newline (or EOF), at most max bytes: never more in secmem than that. */
	while (!line && n <= max) {
		struct pollfd p = {.fd = pfd[0], .events = POLLIN};
		uint64_t now = phase_now_us() / 1000;
		ssize_t k;

		if (now >= deadline)
			break;
		k = poll(&p, 1, (int)(deadline - now));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		k = read(pfd[0], buf + n, 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		if (buf[n] == '\n')
			line = true;
		else
			n++;
	}
	close(pfd[0]);
	killed = child_reap(pid, line && n <= max ? deadline : 0, &status);
	if (n > max)
		return log_error_errno(-EFBIG, "passphrase longer than %zu bytes", max);
	if (!line || killed || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (!line && phase_now_us() / 1000 >= deadline)
			return -ETIMEDOUT;
		return log_error_errno(-ECANCELED, "passphrase: %s gave no passphrase (%s %d)",
				       prog, WIFEXITED(status) ? "exit" : "signal",
				       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	}
	if (n == 0)
		return log_error_errno(-EINVAL, "empty passphrase");
	buf[n] = '\0';
	*out = TAKE_PTR(buf);
	*len = n;
	return 0;
}

int secret_ask_passphrase(const char *message, const char *id, unsigned timeout_ms, char **out,
			  size_t *len)
{
	const char *prog = ask_password_program(), *console;
	char prompt[512];

	if (timeout_ms == 0)
		return -ETIMEDOUT;
	if (prog)
		return ask_password_run(prog, message, id, timeout_ms, SECRET_PASSPHRASE_MAX, out,
					len);
	console = getenv(SECRET_CONSOLE_TEST_ENV);
	if (console && console[0])
		log_warn("passphrase: console %s (test hook " SECRET_CONSOLE_TEST_ENV ")", console);
	else
		console = SECRET_CONSOLE_PATH;
	snprintf(prompt, sizeof(prompt), "\n%s ", message);
	return terminal_read_line(console, prompt, timeout_ms, SECRET_PASSPHRASE_MAX, out, len);
}

int secret_passphrase_get(const char *key_file, char **out, size_t *len)
{
	uint8_t *buf = NULL;
	size_t n = 0;
	int r;

	if (!key_file)
		return secret_tty_read("Existing LUKS passphrase: ", SECRET_PASSPHRASE_MAX, out,
				       len);
	r = secret_file_read(key_file, SECRET_PASSPHRASE_MAX, &buf, &n);
	if (r < 0)
		return r;
	/* secret_file_read leaves one spare zeroed byte: the terminator. */
	*out = (char *)buf;
	*len = n;
	return 0;
}
