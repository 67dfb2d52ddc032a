/* One release per boot: after an unlock the agent extends RTMR3 with an "unlocked" event, so the
 * same boot can no longer present a quote that a policy written for the pre-unlock state accepts.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define RTMR_DIGEST_LEN	 48 /* SHA-384 */
#define RTMR_EVENT_LABEL "tdx-unlock/v1 unlocked"
#define RTMR3_SYSFS_PATH "/sys/class/misc/tdx_guest/measurements/rtmr3:sha384"
/* Test hook (docs/testing.md): the RTMR3 attribute of an emulation such as tdx-tsm-sim. */
#define RTMR_TEST_PATH_ENV "TDX_UNLOCK_TEST_RTMR_PATH"

/* The RTMR3 attribute: RTMR3_SYSFS_PATH, or $RTMR_TEST_PATH_ENV in tests (logged). */
const char *rtmr3_path(void);

/* digest = SHA-384(RTMR_EVENT_LABEL || for each uuid: 0x00 || uuid), over the UUIDs of the devices
 * whose secret was released in this run, in the order given. */
int rtmr_event_digest(const char *const *uuids, size_t n_uuids, uint8_t out[RTMR_DIGEST_LEN]);

/* Extends the RTMR behind path (Linux >= 6.16: /sys/class/misc/tdx_guest/measurements/
 * rtmr3:sha384, which takes exactly one 48-byte digest per write). Returns 0 when extended,
 * -EOPNOTSUPP when path is "" or the kernel does not offer the attribute (one log line says the
 * extension was skipped), or another negative errno when the write failed. */
int rtmr_extend(const char *path, const uint8_t digest[RTMR_DIGEST_LEN]);
