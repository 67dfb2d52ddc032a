#include "agent/passphrase_unlock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/luks_activate.h"
#include "agent/phase_timing.h"
#include "agent/rtmr.h"
#include "agent/secret_input.h"
#include "log.h"
#include "secmem.h"

uint64_t passphrase_deadline_ms(const struct agent_config *c)
{
	return phase_now_us() / 1000 + (uint64_t)c->passphrase_timeout_s * 1000u;
}

enum unlock_exit passphrase_unlock(const struct agent_config *c, const struct luks_header *h,
				   const char *name, uint64_t deadline_ms)
{
	const char *label = name ? name : h->uuid;
	char message[256];
	int r = -ETIMEDOUT;

	/* No prompt before the event: from here on this boot has left the agent's path. */
	if (unlock_record_outcome(c->allow_missing_rtmr || c->recovery, RTMR_FALLBACK, h->uuid,
				  UNLOCK_EXIT_OK) != UNLOCK_EXIT_OK)
		return UNLOCK_EXIT_NO_RTMR;
	snprintf(message, sizeof(message), "Please enter passphrase for disk %s (%s):", label,
		 h->device);
	for (unsigned try = 1; try <= c->passphrase_tries; try++) {
		uint64_t now = phase_now_us() / 1000;
		_cleanup_secmem_ char *pass = NULL;
		size_t len = 0;

		if (now >= deadline_ms) {
			r = -ETIMEDOUT;
			break;
		}
		log_info("%s: asking for the passphrase of %s (try %u of %u)", h->device, label,
			 try, c->passphrase_tries);
		r = secret_ask_passphrase(message, label, (unsigned)(deadline_ms - now), &pass,
					  &len);
		if (r == -ETIMEDOUT || r == -ECANCELED || r == -ENXIO || r == -ENOMEM)
			break; /* nobody answers: another try would not change that */
		if (r < 0)
			continue; /* empty or overlong: a try like a wrong passphrase */
		r = luks_open_passphrase(h, pass, len, name, 0);
		if (r != -EPERM)
			break;
	}
	if (r == 0)
		return UNLOCK_EXIT_OK;
	log_error("%s: not opened with a passphrase (%s): the boot must stop here", h->device,
		  r == -ETIMEDOUT ? "no answer in time"
		  : r == -EPERM	  ? "no keyslot opened in the allowed tries"
				  : strerror(-r));
	return UNLOCK_EXIT_NOT_OPENED;
}
