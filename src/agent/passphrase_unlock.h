/* The passphrase path of the boot, in the agent itself: after this boot's outcome is in RTMR3, a
 * volume the agent validated but could not open automatically is opened with a passphrase asked
 * for here, from the validated header copy on the pinned data device. Nothing else in the
 * initramfs reads the header again or prompts (docs/threat-model.md, path 9). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "agent/config.h"
#include "agent/luks_header.h"
#include "agent/unlock.h"

/* Records "fallback <UUID>" in RTMR3 (a kernel without RTMR3 only when allow_missing_rtmr or
 * recovery mode says so), then asks for the passphrase up to c->passphrase_tries times until
 * deadline_ms (monotonic, phase_now_us() / 1000) and opens any keyslot of h's validated copy as
 * name (NULL: verify only). Returns UNLOCK_EXIT_OK (opened), UNLOCK_EXIT_NO_RTMR (the fallback
 * cannot be recorded: nothing was asked) or UNLOCK_EXIT_NOT_OPENED (power off). */
enum unlock_exit passphrase_unlock(const struct agent_config *c, const struct luks_header *h,
				   const char *name, uint64_t deadline_ms);

/* The deadline for every prompt of one run: now + passphrase_timeout_s. */
uint64_t passphrase_deadline_ms(const struct agent_config *c);
