#include "agent/unlock.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <libcryptsetup.h>
#include <openssl/evp.h>

#include "agent/crypttab.h"
#include "agent/kbs_client.h"
#include "agent/luks_activate.h"
#include "agent/luks_discover.h"
#include "agent/luks_header.h"
#include "agent/passphrase_unlock.h"
#include "agent/phase_timing.h"
#include "agent/quote_source.h"
#include "agent/route_wait.h"
#include "agent/rtmr.h"
#include "aael.h"
#include "ccel.h"
#include "cleanup.h"
#include "fileio.h"
#include "jwk.h"
#include "kbs_msg.h"
#include "log.h"
#include "secmem.h"

_Static_assert(AGENT_PIN_LEN == KBS_CLIENT_PIN_LEN, "pin formats differ");
_Static_assert(AGENT_CONFIG_MAX_PINS <= KBS_CLIENT_MAX_PINS, "more pins than the client takes");
_Static_assert(LUKS_NAME_MAX == VOLUME_NAME_MAX, "mapping name limits differ");

enum device_state {
	DEVICE_PENDING,
	DEVICE_UNLOCKED,
	DEVICE_FAILED, /* final: code says why; no server can help */
};

struct unlock_device {
	const char *path;
	struct luks_header *h;
	enum device_state state;
	enum unlock_exit code;	      /* why it is not (yet) unlocked */
	char name[LUKS_NAME_MAX + 1]; /* mapping name; "" with --test-passphrase */
	bool released;		      /* a server released its secret in this run */
};

/* What one server did for us in one attempt. */
enum server_outcome {
	SERVER_DONE,	    /* attested; every pending device was asked for */
	SERVER_UNREACHABLE, /* connect/TLS/timeout: worth another round */
	SERVER_REFUSED,	    /* refused us (attestation, pin): not asked again in this run */
	SERVER_FAILED,	    /* our own failure (quote, memory): worth another round */
};

struct unlock_ctx {
	const struct unlock_options *o;
	const struct agent_config *c;
	struct unlock_device *devs;
	size_t n_devs;
	struct quote_source *qs;
	struct crypttab crypttab; /* the initramfs's crypttab file(s): mapping names */
	uint64_t start_ms;
	uint64_t deadline_ms;
	uint64_t quote_ms;  /* time spent waiting for quotes (reported apart: the host's share) */
	uint64_t header_ms; /* time spent copying and validating headers */
	bool quote_broken;  /* the quote source cannot work (not a TDX guest): stop early */
};

const char *unlock_exit_name(enum unlock_exit code)
{
	switch (code) {
	case UNLOCK_EXIT_OK:
		return "all unlocked";
	case UNLOCK_EXIT_FAILURE:
		return "internal error or no quote";
	case UNLOCK_EXIT_USAGE:
		return "bad arguments, configuration, or a device that cannot be opened";
	case UNLOCK_EXIT_NO_TOKEN:
		return "no tdx-unlock token";
	case UNLOCK_EXIT_UNREACHABLE:
		return "servers unreachable";
	case UNLOCK_EXIT_REFUSED:
		return "refused";
	case UNLOCK_EXIT_HEADER_INVALID:
		return "header invalid";
	case UNLOCK_EXIT_ACTIVATION_FAILED:
		return "activation failed";
	case UNLOCK_EXIT_DISABLED:
		return "disabled";
	case UNLOCK_EXIT_RECOVERY:
		return "recovery mode";
	case UNLOCK_EXIT_NO_RTMR:
		return "RTMR3 cannot record the outcome";
	case UNLOCK_EXIT_NOT_OPENED:
		return "not opened with the passphrase";
	}
	return "?";
}

/* The reason word of an "error" event (an AAEL field: no spaces). */
static const char *unlock_exit_word(enum unlock_exit code)
{
	switch (code) {
	case UNLOCK_EXIT_OK:
		return "ok";
	case UNLOCK_EXIT_FAILURE:
		return "no-quote-or-internal";
	case UNLOCK_EXIT_USAGE:
		return "configuration";
	case UNLOCK_EXIT_NO_TOKEN:
		return "no-token";
	case UNLOCK_EXIT_UNREACHABLE:
		return "unreachable";
	case UNLOCK_EXIT_REFUSED:
		return "refused";
	case UNLOCK_EXIT_HEADER_INVALID:
		return "header-invalid";
	case UNLOCK_EXIT_ACTIVATION_FAILED:
		return "activation-failed";
	case UNLOCK_EXIT_DISABLED:
		return "disabled";
	case UNLOCK_EXIT_RECOVERY:
		return "recovery";
	case UNLOCK_EXIT_NO_RTMR:
		return "no-rtmr";
	case UNLOCK_EXIT_NOT_OPENED:
		return "not-opened";
	}
	return "internal";
}

enum unlock_exit unlock_record_outcome(bool allow_missing_rtmr, enum rtmr_outcome o,
				       const char *content, enum unlock_exit code)
{
	int r = rtmr_record(o, content);

	if (r == 0)
		return code;
	if (r == -EOPNOTSUPP && allow_missing_rtmr) {
		log_warn("unlock: '%s' not measured: no RTMR3 on this kernel, accepted by "
			 "allow_missing_rtmr or recovery mode",
			 rtmr_outcome_name(o));
		return code;
	}
	log_error("unlock: RTMR3 does not record this boot's outcome ('%s'): the boot must not "
		  "go on to a passphrase prompt",
		  rtmr_outcome_name(o));
	return UNLOCK_EXIT_NO_RTMR;
}

enum unlock_exit unlock_record_failure(bool allow_missing_rtmr, enum unlock_exit code,
				       const char *content)
{
	enum rtmr_outcome o = code == UNLOCK_EXIT_NO_TOKEN ? RTMR_NO_TOKEN : RTMR_ERROR;

	return unlock_record_outcome(allow_missing_rtmr, o,
				     content ? content : unlock_exit_word(code), code);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static unsigned remaining_ms(const struct unlock_ctx *x)
{
	uint64_t now = now_ms();

	return now >= x->deadline_ms ? 0 : (unsigned)(x->deadline_ms - now);
}

static unsigned min_u(unsigned a, unsigned b)
{
	return a < b ? a : b;
}

static size_t devices_pending(const struct unlock_ctx *x)
{
	size_t n = 0;

	for (size_t i = 0; i < x->n_devs; i++)
		n += x->devs[i].state == DEVICE_PENDING;
	return n;
}

/* ---- one device, one released secret ---- */

/* How a client error counts: worth another round, or a refusal that another round won't change. */
static enum server_outcome kbs_error_outcome(int r)
{
	switch (r) {
	case -EHOSTUNREACH:
	case -ETIMEDOUT:
		return SERVER_UNREACHABLE;
	case -EKEYREJECTED: /* the server's key is not the pinned one */
	case -EACCES:	    /* attestation or policy refused */
	case -EPROTO:	    /* not a KBS 0.4.0 server as we speak it */
		return SERVER_REFUSED;
	default:
		return SERVER_FAILED;
	}
}

/* Returns true when the device failed in a way another round may fix (network, time). */
static bool device_receive(struct unlock_ctx *x, struct unlock_device *d, struct kbs_client *kc,
			   EVP_PKEY *key, const char *url)
{
	char reason[512] = "";
	uint8_t *secret = NULL;
	size_t secret_len = 0;
	uint64_t t_secret, t0 = phase_now_us();
	int r;

	r = kbs_client_resource(kc, d->h->token.resource, key, &secret, &secret_len, reason,
				sizeof(reason));
	/* The resource phase is the HTTP exchange; the JWE decryption in it is its own phase. */
	t0 = phase_end(x->o->timing, PHASE_KBS_RESOURCE, t0 + (r == 0 ? kbs_client_jwe_us(kc) : 0));
	if (r == 0 && x->o->timing) {
		x->o->timing->total_us[PHASE_JWE] += kbs_client_jwe_us(kc);
		log_debug("timing: jwe %llu us", (unsigned long long)kbs_client_jwe_us(kc));
	}
	if (r < 0) {
		enum server_outcome so = kbs_error_outcome(r);

		/* Stays pending: another server may hold another policy. */
		d->code = so == SERVER_REFUSED ? UNLOCK_EXIT_REFUSED : UNLOCK_EXIT_UNREACHABLE;
		log_error("%s: %s did not release %s: %s", d->path, url, d->h->token.resource,
			  reason[0] ? reason : strerror(-r));
		return so != SERVER_REFUSED;
	}
	d->released = true;
	/* Before anything else, even before this keyslot is tried: the boot has had its release. */
	if (unlock_record_outcome(x->c->allow_missing_rtmr, RTMR_RELEASED, d->h->uuid,
				  UNLOCK_EXIT_OK) != UNLOCK_EXIT_OK) {
		secmem_free(secret);
		d->state = DEVICE_FAILED;
		d->code = UNLOCK_EXIT_NO_RTMR;
		return false;
	}
	t_secret = now_ms();
	r = luks_unlock(d->h, secret, secret_len, d->name[0] ? d->name : NULL, 0);
	secmem_free(secret); /* wiped as soon as the keyslot has been tried */
	t0 = phase_end(x->o->timing, PHASE_ACTIVATION, t0);
	if (x->o->timing)
		x->o->timing->work_done_us = t0;
	if (r < 0) {
		d->state = DEVICE_FAILED;
		d->code = UNLOCK_EXIT_ACTIVATION_FAILED;
		return false;
	}
	d->state = DEVICE_UNLOCKED;
	d->code = UNLOCK_EXIT_OK;
	/* The benchmark's figures (make bench-agent); the quote is the host's share, apart. */
	log_debug("%s: timing: secret received at %llu ms, keyslot opened at %llu ms, quotes took "
		  "%llu ms, headers %llu ms",
		  d->path, (unsigned long long)(t_secret - x->start_ms),
		  (unsigned long long)(now_ms() - x->start_ms), (unsigned long long)x->quote_ms,
		  (unsigned long long)x->header_ms);
	return false;
}

/* ---- one server, one attested session ---- */

static int ephemeral_key_new(EVP_PKEY **key, struct json_object **jwk)
{
	int r;

	r = jwk_generate_p256(key);
	if (r < 0)
		return log_error_errno(r, "unlock: cannot generate the ephemeral key");
	r = jwk_from_public_key(*key, 1, jwk);
	if (r < 0) {
		EVP_PKEY_free(*key);
		*key = NULL;
		return log_error_errno(r, "unlock: cannot express the ephemeral key as a JWK");
	}
	/* The public half only: lets the secret-hygiene test look for the private scalar. */
	log_debug("unlock: ephemeral key %s",
		  json_object_to_json_string_ext(*jwk, JSON_C_TO_STRING_PLAIN));
	return 0;
}

#define AGENT_CCEL_PATH "/sys/firmware/acpi/tables/data/CCEL"

/* The event logs that explain the quote's RTMRs, sent with it: the firmware's CCEL and this
 * boot's runtime RTMR3 log (AAEL). Either may be absent (no CCEL table; nothing extended yet). */
static void eventlogs_read(uint8_t **ccel, size_t *ccel_len, char **aael)
{
	const char *ccel_path = getenv("TDX_UNLOCK_TEST_CCEL") ?: AGENT_CCEL_PATH;
	const char *aael_path = rtmr_event_log_path();
	size_t len;
	int r;

	if (access(ccel_path, F_OK) == 0) {
		struct ccel_log log;

		r = file_read_all(ccel_path, CCEL_MAX_LEN, ccel, ccel_len);
		if (r < 0)
			log_warn("unlock: %s not sent: %s", ccel_path, strerror(-r));
		/* The ACPI area is mostly padding (e.g. 18 KiB of records in 256 KiB): send the
		 * records only, to stay within the server's request size. A log the agent cannot
		 * parse goes whole: keyd names what is wrong with it. */
		if (r == 0 && ccel_parse(*ccel, *ccel_len, &log, NULL, 0) == 0) {
			*ccel_len = log.used_len;
			ccel_log_done(&log);
		}
	}
	if (access(aael_path, F_OK) == 0) {
		r = file_read_all(aael_path, AAEL_MAX_LEN, (uint8_t **)aael, &len);
		if (r < 0)
			log_warn("unlock: %s not sent: %s", aael_path, strerror(-r));
	}
}

static enum server_outcome server_attempt(struct unlock_ctx *x, const struct agent_server *s)
{
	struct kbs_client_opts ko = {0};
	struct kbs_client *kc = NULL;
	struct kbs_challenge ch;
	struct json_object *jwk = NULL;
	EVP_PKEY *key = NULL;
	uint8_t report_data[KBS_REPORT_DATA_LEN];
	uint8_t *quote = NULL, *ccel = NULL;
	size_t quote_len = 0, ccel_len = 0;
	char *aael = NULL;
	char reason[512] = "";
	enum server_outcome out;
	unsigned left = remaining_ms(x);
	uint64_t t0;
	int r;

	if (left == 0)
		return SERVER_UNREACHABLE;
	ko.url = s->url;
	ko.pins = s->pins;
	ko.n_pins = s->n_pins;
	ko.ca_file = s->ca_file;
	ko.connect_timeout_ms = min_u(x->c->connect_timeout_ms, left);
	ko.request_timeout_ms = min_u(x->c->request_timeout_ms, left);
	ko.total_timeout_ms = left;
	r = kbs_client_new(&ko, &kc);
	if (r < 0)
		return SERVER_FAILED;

	t0 = phase_now_us();
	r = kbs_client_auth(kc, &ch, reason, sizeof(reason));
	phase_end(x->o->timing, PHASE_KBS_AUTH, t0);
	if (r < 0) {
		out = kbs_error_outcome(r);
		log_error("unlock: %s: auth failed: %s", s->url, reason[0] ? reason : strerror(-r));
		goto out;
	}
	/* A fresh key per session: a quote never binds a key that served another session. */
	r = ephemeral_key_new(&key, &jwk);
	if (r < 0) {
		out = SERVER_FAILED;
		goto out;
	}
	r = kbs_report_data(ch.nonce, jwk, report_data);
	if (r < 0) {
		log_error("unlock: cannot compute REPORTDATA");
		out = SERVER_FAILED;
		goto out;
	}
	t0 = phase_now_us();
	r = quote_source_get(x->qs, report_data, remaining_ms(x), &quote, &quote_len);
	if (r < 0) {
		log_error("unlock: no quote from %s", quote_source_describe(x->qs));
		/* Only a timeout (busy host quoting service) is worth another round. */
		x->quote_broken = r != -ETIMEDOUT;
		out = SERVER_FAILED;
		goto out;
	}
	x->quote_ms += (phase_now_us() - t0) / 1000u;
	t0 = phase_end(x->o->timing, PHASE_QUOTE, t0);
	eventlogs_read(&ccel, &ccel_len, &aael);
	kbs_client_set_eventlogs(kc, ccel, ccel_len, aael);
	r = kbs_client_attest(kc, ch.nonce, key, quote, quote_len, reason, sizeof(reason));
	phase_end(x->o->timing, PHASE_KBS_ATTEST, t0);
	if (r < 0) {
		out = kbs_error_outcome(r);
		log_error("unlock: %s: attestation failed: %s", s->url,
			  reason[0] ? reason : strerror(-r));
		goto out;
	}
	log_info("unlock: attested to %s", s->url);
	out = SERVER_DONE;
	for (size_t i = 0; i < x->n_devs; i++) {
		if (x->devs[i].state != DEVICE_PENDING)
			continue;
		/* Attested, but a resource that did not come through is worth another round. */
		if (device_receive(x, &x->devs[i], kc, key, s->url))
			out = SERVER_UNREACHABLE;
	}
out:
	free(quote);
	free(ccel);
	free(aael);
	json_object_put(jwk);
	EVP_PKEY_free(key); /* the private scalar is cleansed with the key */
	kbs_client_free(kc);
	return out;
}

/* ---- the run ---- */

int unlock_crypttab_load(const struct agent_config *c, struct crypttab *t)
{
	const char *paths[2] = {c->crypttab_path, NULL};
	int r;

	if (!c->crypttab_path) {
		paths[0] = AGENT_CRYPTTAB_PATH;
		paths[1] = AGENT_CRYPTTAB_ITOOLS_PATH;
	}
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		if (!paths[i] || !paths[i][0])
			continue;
		/* Debian's cryptroot writes the cryptopts= entries over its crypttab. */
		if (c->cryptopts.n && !strcmp(paths[i], AGENT_CRYPTTAB_ITOOLS_PATH))
			continue;
		r = crypttab_load(t, paths[i]);
		if (r == -ENOENT)
			log_debug("unlock: no %s", paths[i]);
		else if (r < 0)
			return r;
		else
			log_debug("unlock: %s: %zu volume(s) so far", paths[i], t->n);
	}
	return 0;
}

/* Where a volume's name and source may be written, in precedence order: one table for both
 * directions (UUID/device -> name, name -> source), so they can never disagree. */
struct name_source {
	const struct crypttab *t;
	const char *origin;
};
#define NAME_SOURCES 3

static void name_sources(const struct agent_config *c, const struct crypttab *files,
			 struct name_source sources[NAME_SOURCES])
{
	sources[0] = (struct name_source){&c->cryptopts, "cryptopts="};
	sources[1] = (struct name_source){files, "crypttab"};
	sources[2] = (struct name_source){&c->luks_names, "rd.luks.name="};
}

int unlock_mapping_name(const struct agent_config *c, const struct crypttab *files,
			const char *uuid, const char *device, char name[VOLUME_NAME_MAX + 1],
			const char **origin)
{
	struct name_source sources[NAME_SOURCES];

	name_sources(c, files, sources);

	for (size_t i = 0; i < ARRAY_SIZE(sources); i++) {
		const char *found = sources[i].t ? crypttab_find(sources[i].t, uuid, device) : NULL;

		if (found) {
			/* Validated when the entry was added; cheap to hold the line here too. */
			if (!volume_name_valid(found))
				return log_error_errno(-EINVAL, "%s: invalid volume name", device);
			snprintf(name, VOLUME_NAME_MAX + 1, "%s", found);
			*origin = sources[i].origin;
			return 0;
		}
	}
	if ((size_t)snprintf(name, VOLUME_NAME_MAX + 1, "luks-%s", uuid) > VOLUME_NAME_MAX ||
	    !volume_name_valid(name))
		return log_error_errno(-EINVAL, "%s: no usable mapping name for UUID '%.64s'",
				       device, uuid);
	*origin = "default";
	return 0;
}

const char *unlock_volume_source(const struct agent_config *c, const struct crypttab *files,
				 const char *name, char *buf, size_t size, const char **origin)
{
	struct name_source sources[NAME_SOURCES];

	name_sources(c, files, sources);

	for (size_t i = 0; i < ARRAY_SIZE(sources); i++) {
		const char *found = sources[i].t ? crypttab_source_of(sources[i].t, name) : NULL;

		if (found) {
			*origin = sources[i].origin;
			return found;
		}
	}
	/* The name systemd and the agent give a volume nothing else names. */
	if (!strncmp(name, "luks-", 5) && name[5] &&
	    (size_t)snprintf(buf, size, "UUID=%s", name + 5) < size) {
		*origin = "default";
		return buf;
	}
	return NULL;
}

/* The mapping name; a device already mapped under it (an earlier run, or a human at the
 * prompt) counts as unlocked and costs no release. */
static void device_name_set(struct unlock_ctx *x, struct unlock_device *d)
{
	const char *origin = "--name";
	crypt_status_info st;
	int r;

	if (x->o->test_passphrase)
		return;
	if (x->o->name) {
		if (!volume_name_valid(x->o->name)) {
			log_error("%s: --name must be 1..%d characters of A-Z a-z 0-9 _ . + -",
				  d->path, VOLUME_NAME_MAX);
			d->state = DEVICE_FAILED;
			d->code = UNLOCK_EXIT_USAGE;
			return;
		}
		snprintf(d->name, sizeof(d->name), "%s", x->o->name);
	} else {
		r = unlock_mapping_name(x->c, &x->crypttab, d->h->uuid, d->path, d->name, &origin);
		if (r < 0) {
			d->state = DEVICE_FAILED;
			d->code = UNLOCK_EXIT_ACTIVATION_FAILED;
			return;
		}
	}
	for (struct unlock_device *e = x->devs; e < d; e++)
		if (e->name[0] && !strcmp(e->name, d->name)) {
			log_error("%s: %s already names %s; not unlocked", d->path, d->name,
				  e->path);
			d->state = DEVICE_FAILED;
			d->code = UNLOCK_EXIT_ACTIVATION_FAILED;
			d->name[0] = '\0';
			return;
		}
	log_info("%s: mapping name %s (%s)", d->path, d->name, origin);
	/* Only this header's own crypt mapping on the pinned device counts: any other mapping of
	 * that name (a host disk's LVM volume named like the crypttab entry) would else pass as
	 * unlocked with nothing in RTMR3 and become the root. */
	st = crypt_status(NULL, d->name);
	r = luks_mapping_owned(d->h, d->name);
	if (r > 0) {
		log_info("%s: already active as /dev/mapper/%s", d->path, d->name);
		d->state = DEVICE_UNLOCKED;
		d->code = UNLOCK_EXIT_OK;
	} else if (r < 0 || st == CRYPT_ACTIVE || st == CRYPT_BUSY) {
		if (r == 0)
			log_error("%s: /dev/mapper/%s is active but sysfs does not show it as this "
				  "volume's mapping: not counted as unlocked",
				  d->path, d->name);
		/* Recorded as an error; nothing of ours may open or prompt for it. */
		d->state = DEVICE_FAILED;
		d->code = UNLOCK_EXIT_ACTIVATION_FAILED;
		luks_header_free(d->h);
		d->h = NULL;
	}
}

static enum unlock_exit devices_load(struct unlock_ctx *x, char **found, size_t n_found)
{
	x->devs = calloc(n_found ? n_found : 1, sizeof(*x->devs));
	if (!x->devs) {
		log_error("unlock: out of memory");
		return UNLOCK_EXIT_FAILURE;
	}
	for (size_t i = 0; i < n_found; i++) {
		struct unlock_device *d = &x->devs[x->n_devs++];
		char reason[LUKS_REASON_MAX] = "";
		uint64_t t0;
		int r;

		d->path = found[i];
		d->state = DEVICE_PENDING;
		d->code = UNLOCK_EXIT_UNREACHABLE;
		t0 = phase_now_us();
		r = luks_header_load(d->path, &d->h, reason, sizeof(reason));
		x->header_ms += (phase_now_us() - t0) / 1000u;
		phase_end(x->o->timing, PHASE_HEADERS, t0);
		if (r == -ENOENT) {
			log_error("%s: no tdx-unlock token", d->path);
			d->state = DEVICE_FAILED;
			d->code = UNLOCK_EXIT_NO_TOKEN;
		} else if (r == -ENODEV) {
			/* Logged with its cause; not a header verdict. */
			d->state = DEVICE_FAILED;
			d->code = UNLOCK_EXIT_USAGE;
		} else if (r < 0) {
			log_error("%s: header refused: %s", d->path,
				  reason[0] ? reason : strerror(-r));
			d->state = DEVICE_FAILED;
			d->code = UNLOCK_EXIT_HEADER_INVALID;
		} else {
			log_info("%s: LUKS2 %s, tdx-unlock token for keyslot %d, resource %s",
				 d->path, d->h->uuid, d->h->token.keyslot, d->h->token.resource);
			device_name_set(x, d);
		}
	}
	return UNLOCK_EXIT_OK;
}

static void servers_run(struct unlock_ctx *x)
{
	const struct agent_config *c = x->c;
	bool refused[AGENT_CONFIG_MAX_SERVERS] = {false};
	unsigned backoff = c->backoff_initial_ms;

	for (unsigned round = 0; round < c->attempts; round++) {
		bool any_left = false;

		for (size_t i = 0; i < c->n_servers && devices_pending(x); i++) {
			enum server_outcome so;

			if (refused[i])
				continue;
			if (remaining_ms(x) == 0 || x->quote_broken)
				break;
			so = server_attempt(x, &c->servers[i]);
			if (so == SERVER_REFUSED) {
				refused[i] = true;
				for (size_t j = 0; j < x->n_devs; j++)
					if (x->devs[j].state == DEVICE_PENDING)
						x->devs[j].code = UNLOCK_EXIT_REFUSED;
			} else if (so != SERVER_DONE) {
				any_left = true;
			}
			if (so != SERVER_DONE)
				log_warn("unlock: %s: %s%s", c->servers[i].url,
					 so == SERVER_REFUSED	    ? "refused"
					 : so == SERVER_UNREACHABLE ? "unreachable"
								    : "failed",
					 i + 1 < c->n_servers ? ", trying the next server" : "");
		}
		if (!devices_pending(x) || !any_left || remaining_ms(x) == 0 || x->quote_broken ||
		    round + 1 == c->attempts)
			break;
		/* Every server failed this round: back off (within the time budget) and retry. */
		backoff = min_u(backoff, remaining_ms(x));
		log_info("unlock: round %u of %u failed; retrying in %u ms", round + 1, c->attempts,
			 backoff);
		if (backoff) {
			struct timespec ts = {backoff / 1000, (long)(backoff % 1000) * 1000000L};

			while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
				;
		}
		backoff = min_u(backoff ? backoff * 2 : 0, c->backoff_max_ms);
	}
	if (devices_pending(x) && remaining_ms(x) == 0)
		log_error("unlock: total time budget of %u s used up", c->total_timeout_s);
	if (x->quote_broken)
		for (size_t j = 0; j < x->n_devs; j++)
			if (x->devs[j].state == DEVICE_PENDING)
				x->devs[j].code = UNLOCK_EXIT_FAILURE;
}

/* While no route exists yet: the kernel's dm-crypt module load and the process's TLS set-up,
 * both of which the first connection and activation would otherwise wait for. */
static void network_idle(void)
{
	luks_activate_prepare();
	kbs_client_prepare();
}

/* Starts the moment the kernel can route to a server, within the time budget. */
static bool network_ready(struct unlock_ctx *x)
{
	uint64_t t0 = phase_now_us();
	int r = route_wait(x->c->servers, x->c->n_servers, remaining_ms(x), network_idle);

	phase_end(x->o->timing, PHASE_NETWORK_WAIT, t0);
	return r == 0;
}

/* The passphrase path, once the outcome is in RTMR3: every device whose header the agent
 * validated and could not open is opened here with a passphrase, from that validated copy. The
 * others (no token, refused header, unreadable) are not ours to open: the guard stops the boot
 * before anything else would open them. Returns ret, or UNLOCK_EXIT_NO_RTMR /
 * UNLOCK_EXIT_NOT_OPENED when the boot must stop. */
static enum unlock_exit passphrase_phase(struct unlock_ctx *x, enum unlock_exit ret)
{
	uint64_t deadline = passphrase_deadline_ms(x->c);

	for (size_t i = 0; i < x->n_devs; i++) {
		struct unlock_device *d = &x->devs[i];
		enum unlock_exit r;

		if (d->state == DEVICE_UNLOCKED || !d->h || d->code == UNLOCK_EXIT_NO_RTMR ||
		    (!x->o->test_passphrase && !d->name[0]))
			continue;
		r = passphrase_unlock(x->c, d->h, d->name[0] ? d->name : NULL, deadline);
		if (r != UNLOCK_EXIT_OK)
			return r;
		d->state = DEVICE_UNLOCKED;
	}
	return ret;
}

/* rd.tdx_unlock.recovery=1: "recovery" is recorded and no release is tried; with the passphrase
 * path the agent still is the only opener of its devices. A kernel without RTMR3 is accepted here:
 * the recovery word is on the measured command line, so no normal policy matches this boot. */
static enum unlock_exit recovery_run(struct unlock_ctx *x, char ***discovered, size_t *n_found)
{
	enum unlock_exit ret;

	log_warn("unlock: recovery mode (rd.tdx_unlock.recovery=1): no release is tried");
	ret = unlock_record_outcome(true, RTMR_RECOVERY, "cmdline", UNLOCK_EXIT_RECOVERY);
	if (ret != UNLOCK_EXIT_RECOVERY || !x->o->ask_passphrase)
		return ret;
	if (x->o->n_devices > 0) {
		ret = devices_load(x, (char **)x->o->devices, x->o->n_devices);
	} else if (luks_discover(NULL, NULL, discovered, n_found) < 0) {
		log_error("unlock: cannot list block devices");
		return UNLOCK_EXIT_NOT_OPENED;
	} else {
		ret = devices_load(x, *discovered, *n_found);
	}
	if (ret != UNLOCK_EXIT_OK)
		return UNLOCK_EXIT_NOT_OPENED;
	return passphrase_phase(x, UNLOCK_EXIT_RECOVERY);
}

enum unlock_exit unlock_run(const struct unlock_options *o)
{
	struct unlock_ctx x = {.o = o, .c = o->config};
	char **discovered = NULL;
	size_t n_found = 0;
	enum unlock_exit ret;

	x.start_ms = now_ms();
	x.deadline_ms = x.start_ms + (uint64_t)o->config->total_timeout_s * 1000u;
	/* Decided before any disk is read: recovery releases nothing, and a kernel that cannot
	 * record the outcome gets no release (unless the measured configuration accepts that). */
	if (x.c->recovery) {
		if (!o->test_passphrase && !o->name)
			(void)unlock_crypttab_load(x.c, &x.crypttab);
		ret = recovery_run(&x, &discovered, &n_found);
		goto done;
	}
	if (!rtmr_available()) {
		if (!x.c->allow_missing_rtmr) {
			log_error(
				"unlock: the kernel offers no RTMR3 (%s): no release, and the boot "
				"must not go on to a prompt (set allow_missing_rtmr to accept "
				"this, docs/agent.md)",
				rtmr3_path());
			return UNLOCK_EXIT_NO_RTMR;
		}
		log_warn("unlock: no RTMR3 on this kernel, accepted by allow_missing_rtmr: this "
			 "boot's outcome is not measured");
	}
	/* An unreadable crypttab costs the names, not the unlock: the rename fallback remains. */
	if (!o->test_passphrase && !o->name && unlock_crypttab_load(x.c, &x.crypttab) < 0)
		log_warn("unlock: crypttab unusable; mappings are named from the command line or "
			 "luks-<UUID>");
	if (o->n_devices > 0) {
		ret = devices_load(&x, (char **)o->devices, o->n_devices);
	} else {
		int r = luks_discover(NULL, NULL, &discovered, &n_found);

		if (r < 0) {
			log_error("unlock: cannot list block devices");
			ret = UNLOCK_EXIT_FAILURE;
			goto out;
		}
		if (n_found == 0) {
			log_info("unlock: no LUKS2 device carries a tdx-unlock token");
			ret = UNLOCK_EXIT_NO_TOKEN;
			goto out;
		}
		ret = devices_load(&x, discovered, n_found);
	}
	if (ret != UNLOCK_EXIT_OK)
		goto out;

	if (devices_pending(&x)) {
		if (quote_source_open(x.c, &x.qs) < 0) {
			ret = UNLOCK_EXIT_FAILURE;
			goto out;
		}
		/* Pending devices stay "servers unreachable" when no route ever appears. */
		if (network_ready(&x))
			servers_run(&x);
	}

	ret = UNLOCK_EXIT_OK;
	for (size_t i = 0; i < x.n_devs; i++) {
		const struct unlock_device *d = &x.devs[i];

		if (d->state == DEVICE_UNLOCKED)
			continue;
		log_error("%s: not unlocked (%s)%s", d->path, unlock_exit_name(d->code),
			  o->ask_passphrase && d->h ? "; asking for its passphrase" : "");
		if (ret == UNLOCK_EXIT_OK || d->code == UNLOCK_EXIT_NO_RTMR)
			ret = d->code;
	}
	if (ret == UNLOCK_EXIT_OK)
		log_info("unlock: %zu device(s) %s in %llu ms (%llu ms of it waiting for quotes)",
			 x.n_devs, o->test_passphrase ? "verified" : "unlocked",
			 (unsigned long long)(now_ms() - x.start_ms),
			 (unsigned long long)x.quote_ms);
out:
	/* Before the prompt may follow: the failure is measured, or the boot stops there. */
	if (ret != UNLOCK_EXIT_OK && ret != UNLOCK_EXIT_NO_RTMR)
		ret = unlock_record_failure(x.c->allow_missing_rtmr, ret,
					    ret == UNLOCK_EXIT_NO_TOKEN ? "none" : NULL);
	/* Only now, with the outcome in RTMR3: the agent asks, and opens what it validated. */
	if (o->ask_passphrase && ret != UNLOCK_EXIT_OK && ret != UNLOCK_EXIT_NO_RTMR)
		ret = passphrase_phase(&x, ret);
done:
	for (size_t i = 0; i < x.n_devs; i++)
		luks_header_free(x.devs[i].h);
	free(x.devs);
	quote_source_free(x.qs);
	crypttab_done(&x.crypttab);
	luks_device_list_free(discovered);
	return ret;
}
