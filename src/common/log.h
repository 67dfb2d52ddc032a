/* Logging: one line per event, to stderr, /dev/kmsg or a caller-provided sink; never secrets. */
#pragma once

#include <stdarg.h>
#include <stddef.h>

enum log_level { LOG_LVL_ERR = 3, LOG_LVL_WARN = 4, LOG_LVL_INFO = 6, LOG_LVL_DEBUG = 7 };

enum log_target { LOG_TARGET_STDERR, LOG_TARGET_KMSG };

/* Configuration only: set once at start-up before threads exist. When stderr is the journal
 * stream systemd connected ($JOURNAL_STREAM), lines carry a "<N>" priority prefix instead of the
 * ident, which journald adds. */
void log_setup(const char *ident, enum log_target target, enum log_level max_level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Logs and returns r (a negative errno), so failures are logged where they happen:
 *   return log_error_errno(-EINVAL, "quote: version %u unsupported", v); */
int log_errno(enum log_level level, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* For parsers that hand their caller the reason for a refusal as well as logging it: formats the
 * message, replaces control characters with '?', copies it into reason (when reason_len > 0),
 * logs "<prefix><message>" at level and returns r. */
int log_refusal_va(enum log_level level, int r, const char *prefix, char *reason, size_t reason_len,
		   const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));
/* The one refusal helper (a module wraps it in a macro with its level, errno and prefix):
 *   #define quote_refuse(reason, len, ...) \
 *           log_refusal(LOG_LVL_ERR, -EBADMSG, "quote: ", reason, len, __VA_ARGS__) */
int log_refusal(enum log_level level, int r, const char *prefix, char *reason, size_t reason_len,
		const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#define log_error(...)		log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...)		log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)		log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)		log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_error_errno(r, ...) log_errno(LOG_LVL_ERR, (r), __VA_ARGS__)
#define log_warn_errno(r, ...)	log_errno(LOG_LVL_WARN, (r), __VA_ARGS__)
#define log_debug_errno(r, ...) log_errno(LOG_LVL_DEBUG, (r), __VA_ARGS__)
