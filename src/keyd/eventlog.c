#include "eventlog.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hexutil.h"
#include "json_build.h"
#include "log.h"

int eventlog_parse(struct eventlog *el, const uint8_t *ccel, size_t ccel_len, const uint8_t *aael,
		   size_t aael_len, char *reason, size_t reason_len)
{
	char why[256];
	int r;

	memset(el, 0, sizeof(*el));
	if (ccel) {
		r = ccel_parse(ccel, ccel_len, &el->ccel, why, sizeof(why));
		if (r < 0) {
			snprintf(reason, reason_len, "CCEL: %s", why);
			return r;
		}
		el->has_ccel = true;
	}
	if (aael) {
		r = aael_parse(aael, aael_len, &el->aael, why, sizeof(why));
		if (r < 0) {
			snprintf(reason, reason_len, "AAEL: %s", why);
			eventlog_done(el);
			return r;
		}
	}
	return 0;
}

void eventlog_done(struct eventlog *el)
{
	if (!el)
		return;
	ccel_log_done(&el->ccel);
	aael_log_free(el->aael);
	memset(el, 0, sizeof(*el));
}

int eventlog_replay(const struct eventlog *el, const struct tdx_td_body *b, unsigned *mismatch,
		    char *reason, size_t reason_len)
{
	uint8_t rtmr[CCEL_NUM_RTMR][CCEL_DIGEST_LEN], rtmr3[AAEL_DIGEST_LEN];
	const char *first = NULL;
	int r;

	*mismatch = 0;
	if (el->has_ccel) {
		r = ccel_replay(&el->ccel, rtmr);
		if (r < 0)
			return r;
		for (int i = 0; i < CCEL_NUM_RTMR; i++)
			if (i < 3 || !el->aael) {
				if (memcmp(rtmr[i], b->rtmr[i], TDX_MR_LEN) != 0) {
					*mismatch |= 1u << i;
					first = first ?: "CCEL";
				}
			} else if (memcmp(el->aael->init, rtmr[3], TDX_MR_LEN) != 0) {
				/* The AAEL starts where the firmware left RTMR3. */
				*mismatch |= 1u << 3;
				first = first ?: "AAEL INIT value is not the CCEL's RTMR3";
			}
	}
	if (el->aael) {
		r = aael_replay(el->aael, rtmr3);
		if (r < 0)
			return r;
		if (memcmp(rtmr3, b->rtmr[3], TDX_MR_LEN) != 0 && !(*mismatch & 8)) {
			*mismatch |= 1u << 3;
			first = first ?: "AAEL";
		}
	}
	if (!*mismatch)
		return 0;
	for (int i = 0; i < CCEL_NUM_RTMR; i++)
		if (*mismatch & (1u << i)) {
			snprintf(reason, reason_len, "event log replay mismatch: RTMR%d (%s)", i,
				 first);
			break;
		}
	return -EACCES;
}

void eventlog_rtmr3_summary(const struct eventlog *el, char *out, size_t out_len)
{
	const struct aael_event *e;
	size_t n;

	if (!out_len)
		return;
	out[0] = '\0';
	if (!el->aael)
		return;
	n = el->aael->n_events;
	if (n == 0) {
		snprintf(out, out_len, "no event after INIT");
		return;
	}
	/* AAEL fields are printable ASCII without spaces (aael_parse): safe to quote as they are.
	 */
	e = &el->aael->events[n - 1];
	if (snprintf(out, out_len, "%zu event%s, last '%s %s %s'", n, n == 1 ? "" : "s", e->domain,
		     e->operation, e->content) >= (int)out_len &&
	    out_len > 5)
		memcpy(out + out_len - 5, "...'", 5);
}

static int add_event(struct json_object *arr, int mr, const char *type, const uint8_t *digest,
		     const char *key, const char *val)
{
	struct json_object *o = json_object_new_object();
	char name[8], hex[2 * TDX_MR_LEN + 1];

	if (!o || json_object_array_add(arr, o) < 0) {
		json_object_put(o);
		return -ENOMEM;
	}
	snprintf(name, sizeof(name), "rtmr%d", mr);
	hex_encode(digest, TDX_MR_LEN, hex);
	return json_add_string(o, "mr", name) ?: json_add_string(o, "type", type) ?:
	       json_add_string(o, "digest", hex) ?: (key ? json_add_string(o, key, val) : 0);
}

int eventlog_report(const struct eventlog *el, const struct tdx_td_body *b,
		    struct json_object **out)
{
	struct json_object *o = json_object_new_object(), *mm = json_object_new_array(),
			   *events = json_object_new_array();
	char why[128];
	unsigned mismatch = 0;
	int r;

	r = eventlog_replay(el, b, &mismatch, why, sizeof(why));
	if (r < 0 && r != -EACCES)
		goto fail;
	r = json_add_string(o, "replay", mismatch ? "mismatch" : "ok");
	if (r == 0)
		r = json_add_member(o, "mismatch", json_object_get(mm));
	for (int i = 0; r == 0 && i < CCEL_NUM_RTMR; i++)
		if (mismatch & (1u << i)) {
			char name[8];

			snprintf(name, sizeof(name), "rtmr%d", i);
			r = json_object_array_add(mm, json_object_new_string(name)) < 0 ? -ENOMEM
											: 0;
		}
	if (r == 0)
		r = json_add_member(o, "events", json_object_get(events));
	for (size_t i = 0; r == 0 && el->has_ccel && i < el->ccel.n_events; i++) {
		const struct ccel_event *e = &el->ccel.events[i];
		const char *name = ccel_event_type_name(e->type),
			   *kind = ccel_event_kind(&el->ccel, i);
		char num[16];

		snprintf(num, sizeof(num), "0x%08x", e->type);
		r = add_event(events, (int)e->rtmr, name ? name : num, e->digest,
			      kind ? "kind" : NULL, kind);
	}
	if (r == 0 && el->aael) {
		char line[AAEL_INIT_LEN + 1];

		r = aael_format_init(el->aael->init, line, sizeof(line));
		if (r == 0)
			r = add_event(events, 3, "aael", el->aael->init_digest, "line", line);
	}
	for (size_t i = 0; r == 0 && el->aael && i < el->aael->n_events; i++) {
		const struct aael_event *e = &el->aael->events[i];
		char line[AAEL_LINE_MAX + 1];

		snprintf(line, sizeof(line), "%s %s %s", e->domain, e->operation, e->content);
		r = add_event(events, 3, "aael", e->digest, "line", line);
	}
	if (r < 0)
		goto fail;
	json_object_put(mm);
	json_object_put(events);
	*out = o;
	return 0;
fail:
	json_object_put(mm);
	json_object_put(events);
	json_object_put(o);
	return r < 0 ? r : -ENOMEM;
}
