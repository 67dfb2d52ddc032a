/* RTMR3 outcome events: every way a boot gets past the agent (a release, a fallback to the
 * passphrase, no token, an error, recovery mode) extends RTMR3 with a distinct event and appends
 * it to the runtime event log (Attestation Agent Event Log, src/common/aael.h; domain
 * "tdx-unlock"). Policies require RTMR3 at its pre-unlock value, so a boot that already got its
 * release, or went anywhere the host can drive, gets nothing more (docs/threat-model.md). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RTMR_DIGEST_LEN	 48 /* SHA-384 */
#define RTMR3_SYSFS_PATH "/sys/class/misc/tdx_guest/measurements/rtmr3:sha384"
#define RTMR_EVENT_LOG	 "/run/tdx-unlock/rtmr3.log"
/* Test hooks (docs/testing.md): an emulated attribute (tdx-tsm-sim) and another log path. */
#define RTMR_TEST_PATH_ENV "TDX_UNLOCK_TEST_RTMR_PATH"
#define RTMR_TEST_LOG_ENV  "TDX_UNLOCK_TEST_AAEL"

enum rtmr_outcome {
	RTMR_RELEASED, /* content: the UUID whose secret was released */
	RTMR_FALLBACK, /* content: the UUID about to be opened by passphrase */
	RTMR_NO_TOKEN, /* content: the UUID without a token, or "none" (nothing found) */
	RTMR_ERROR,    /* content: a reason word (refused, unreachable, no-quote, ...) */
	RTMR_RECOVERY, /* content: "cmdline" (rd.tdx_unlock.recovery=1) */
};

/* The AAEL operation word: released, fallback, no-token, error, recovery. */
const char *rtmr_outcome_name(enum rtmr_outcome o);

/* The RTMR3 attribute: RTMR3_SYSFS_PATH, or $RTMR_TEST_PATH_ENV in tests (logged). */
const char *rtmr3_path(void);
/* The runtime event log: RTMR_EVENT_LOG, or $RTMR_TEST_LOG_ENV in tests. */
const char *rtmr_event_log_path(void);

/* True when the kernel offers the RTMR3 attribute (Linux >= 6.16 with the TDX guest driver). */
bool rtmr_available(void);

/* Records one outcome: under an exclusive lock on the event log, extends RTMR3 with the SHA-384 of
 * the event line "tdx-unlock <operation> <content>" and appends the line; when the log is new,
 * first the "INIT sha384/<RTMR3 before>" line the same way (RTMR3 as the attribute reads, else
 * zero with a warning). Returns 0, -EOPNOTSUPP when the kernel has no RTMR3 attribute, -EINVAL for
 * a content that is no AAEL field, or another negative errno (logged). */
int rtmr_record(enum rtmr_outcome o, const char *content);

/* Extends the RTMR behind path with one 48-byte digest (one write, as the kernel requires).
 * -EOPNOTSUPP when the attribute does not exist. */
int rtmr_extend(const char *path, const uint8_t digest[RTMR_DIGEST_LEN]);
