#include "session.h"

#include <assert.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "hexutil.h"
#include "log.h"
#include "secmem.h"

#define NONCE_TIME_LEN 8
#define NONCE_RAND_LEN 8
#define NONCE_MAC_LEN  16
#define NONCE_LABEL    "tdx-unlock/nonce/v1"

enum session_state { SESSION_NEW, SESSION_NONCE_USED, SESSION_ATTESTED };

struct session {
	char id[SESSION_ID_LEN + 1];
	char nonce[SESSION_NONCE_B64 + 1];
	time_t expires; /* CLOCK_MONOTONIC seconds */
	enum session_state state;
	struct session_attestation att;
	struct session *hnext;	       /* hash chain */
	struct session *older, *newer; /* creation order, for eviction */
};

struct session_table {
	pthread_mutex_t lock;
	unsigned max, lifetime_s;
	size_t count, n_buckets;
	uint64_t evictions;
	struct session **buckets;
	struct session *oldest, *newest;
	uint8_t *nonce_key; /* secmem */
};

static time_t mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static size_t bucket_of(const struct session_table *t, const char *id)
{
	uint64_t h = 1469598103934665603ull;

	for (const char *c = id; *c; c++)
		h = (h ^ (uint8_t)*c) * 1099511628211ull;
	return h % t->n_buckets;
}

int session_table_new(unsigned max_sessions, unsigned lifetime_s, const uint8_t *nonce_key,
		      struct session_table **out)
{
	struct session_table *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->max = max_sessions;
	t->lifetime_s = lifetime_s;
	t->n_buckets = max_sessions < 1024	   ? 1024
		       : max_sessions > (1u << 20) ? 1u << 20
						   : max_sessions;
	t->buckets = calloc(t->n_buckets, sizeof(struct session *));
	t->nonce_key = secmem_dup(nonce_key, 32);
	if (!t->buckets || !t->nonce_key) {
		session_table_free(t);
		return -ENOMEM;
	}
	pthread_mutex_init(&t->lock, NULL);
	*out = t;
	return 0;
}

void session_table_free(struct session_table *t)
{
	if (!t)
		return;
	for (struct session *s = t->oldest, *n; s; s = n) {
		n = s->newer;
		EVP_PKEY_free(s->att.tee_key);
		free(s);
	}
	free(t->buckets);
	secmem_free(t->nonce_key);
	if (t->buckets)
		pthread_mutex_destroy(&t->lock);
	free(t);
}

static void unlink_session(struct session_table *t, struct session *s)
{
	struct session **pp = &t->buckets[bucket_of(t, s->id)];

	while (*pp && *pp != s)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = s->hnext;
	if (s->older)
		s->older->newer = s->newer;
	else
		t->oldest = s->newer;
	if (s->newer)
		s->newer->older = s->older;
	else
		t->newest = s->older;
	t->count--;
	EVP_PKEY_free(s->att.tee_key);
	free(s);
}

static struct session *find(struct session_table *t, const char *id)
{
	struct session *s;

	if (!id || strlen(id) != SESSION_ID_LEN)
		return NULL;
	for (s = t->buckets[bucket_of(t, id)]; s; s = s->hnext)
		if (!CRYPTO_memcmp(s->id, id, SESSION_ID_LEN))
			return s;
	return NULL;
}

static void nonce_mac(const struct session_table *t, const uint8_t *msg, uint8_t *mac)
{
	uint8_t buf[sizeof(NONCE_LABEL) - 1 + NONCE_TIME_LEN + NONCE_RAND_LEN];
	uint8_t full[EVP_MAX_MD_SIZE];
	unsigned int full_len = 0;

	memcpy(buf, NONCE_LABEL, sizeof(NONCE_LABEL) - 1);
	memcpy(buf + sizeof(NONCE_LABEL) - 1, msg, NONCE_TIME_LEN + NONCE_RAND_LEN);
	HMAC(EVP_sha256(), t->nonce_key, 32, buf, sizeof(buf), full, &full_len);
	memcpy(mac, full, NONCE_MAC_LEN);
}

int session_nonce_check(const struct session_table *t, const char *nonce_b64, time_t now)
{
	uint8_t raw[SESSION_NONCE_LEN], mac[NONCE_MAC_LEN];
	uint64_t ts = 0;

	/* Strict decoding: one nonce has exactly one spelling. */
	if (!nonce_b64 || strlen(nonce_b64) != SESSION_NONCE_B64 ||
	    b64_decode_exact(B64_STD, nonce_b64, SESSION_NONCE_B64, raw, sizeof(raw)) < 0)
		return -EBADMSG;
	nonce_mac(t, raw, mac);
	if (CRYPTO_memcmp(mac, raw + NONCE_TIME_LEN + NONCE_RAND_LEN, NONCE_MAC_LEN))
		return -EBADMSG;
	for (int i = 0; i < NONCE_TIME_LEN; i++)
		ts = ts << 8 | raw[i];
	/* A little slack for replicas whose clocks differ. */
	if ((time_t)ts > now + 30 || now - (time_t)ts > (time_t)t->lifetime_s)
		return -ETIME;
	return 0;
}

int session_create(struct session_table *t, struct session_new *out)
{
	uint8_t idraw[16], nonce[SESSION_NONCE_LEN + 1];
	uint64_t now = (uint64_t)time(NULL);
	struct session *s;
	size_t b;

	if (RAND_bytes(idraw, sizeof(idraw)) != 1 ||
	    RAND_bytes(nonce + NONCE_TIME_LEN, NONCE_RAND_LEN) != 1)
		return log_error_errno(-EIO, "session: random generator failed");
	for (int i = NONCE_TIME_LEN - 1; i >= 0; i--, now >>= 8)
		nonce[i] = (uint8_t)now;
	nonce_mac(t, nonce, nonce + NONCE_TIME_LEN + NONCE_RAND_LEN);

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	hex_encode(idraw, sizeof(idraw), s->id);
	EVP_EncodeBlock((unsigned char *)s->nonce, nonce, SESSION_NONCE_LEN);
	s->state = SESSION_NEW;

	pthread_mutex_lock(&t->lock);
	s->expires = mono_now() + t->lifetime_s;
	while (t->count >= t->max && t->oldest) {
		/* Under a flood of auth requests the oldest sessions go first; counted so that
		 * an operator sees the table is too small. */
		if (t->oldest->expires > mono_now())
			t->evictions++;
		unlink_session(t, t->oldest);
	}
	b = bucket_of(t, s->id);
	s->hnext = t->buckets[b];
	t->buckets[b] = s;
	s->older = t->newest;
	if (t->newest)
		t->newest->newer = s;
	else
		t->oldest = s;
	t->newest = s;
	t->count++;
	memcpy(out->id, s->id, sizeof(out->id));
	memcpy(out->nonce, s->nonce, sizeof(out->nonce));
	pthread_mutex_unlock(&t->lock);
	return 0;
}

/* Looks up a live session under the lock (session_table_expire() drops the dead). */
static int lookup_live(struct session_table *t, const char *id, struct session **out,
		       const char **reason)
{
	struct session *s = find(t, id);

	if (!s) {
		*reason = "unknown or evicted kbs-session-id";
		return -ENOENT;
	}
	if (s->expires <= mono_now()) {
		*reason = "session expired";
		return -ETIME;
	}
	*out = s;
	return 0;
}

int session_attest_begin(struct session_table *t, const char *id, const char *nonce_b64,
			 const char **reason)
{
	struct session *s;
	int r;

	pthread_mutex_lock(&t->lock);
	r = lookup_live(t, id, &s, reason);
	if (r < 0)
		goto out;
	if (s->state != SESSION_NEW) {
		*reason = "nonce already used (a session attests once)";
		r = -EALREADY;
		goto out;
	}
	/* Whatever follows, this nonce is spent. */
	s->state = SESSION_NONCE_USED;
	if (!nonce_b64 || strcmp(nonce_b64, s->nonce) != 0) {
		*reason = "runtime-data nonce is not this session's nonce";
		r = -EBADMSG;
		goto out;
	}
	r = session_nonce_check(t, nonce_b64, time(NULL));
	if (r < 0)
		*reason = r == -ETIME ? "nonce expired" : "nonce fails its HMAC check";
out:
	pthread_mutex_unlock(&t->lock);
	return r;
}

int session_attest_finish(struct session_table *t, const char *id,
			  const struct session_attestation *a)
{
	const char *reason;
	struct session *s;
	int r;

	pthread_mutex_lock(&t->lock);
	r = lookup_live(t, id, &s, &reason);
	if (r == 0) {
		EVP_PKEY_free(s->att.tee_key);
		s->att = *a;
		if (a->tee_key)
			EVP_PKEY_up_ref(a->tee_key);
		s->state = SESSION_ATTESTED;
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}

int session_get_attested(struct session_table *t, const char *id, struct session_attestation *out,
			 const char **reason)
{
	struct session *s;
	int r;

	pthread_mutex_lock(&t->lock);
	r = lookup_live(t, id, &s, reason);
	if (r == 0) {
		if (s->state != SESSION_ATTESTED) {
			*reason = "session has not attested";
			r = -EACCES;
		} else {
			*out = s->att;
			if (out->tee_key)
				EVP_PKEY_up_ref(out->tee_key);
		}
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}

size_t session_table_expire(struct session_table *t)
{
	time_t now = mono_now();
	size_t n = 0;

	pthread_mutex_lock(&t->lock);
	/* Equal lifetimes: creation order is expiry order. Expired sessions stay one more
	 * lifetime so that a late client is told "session expired", not "unknown". */
	while (t->oldest && t->oldest->expires + (time_t)t->lifetime_s <= now) {
		/* The list invariant that makes unlink_session() advance t->oldest. */
		assert(!t->oldest->older);
		unlink_session(t, t->oldest);
		n++;
	}
	pthread_mutex_unlock(&t->lock);
	return n;
}

uint64_t session_table_evictions(struct session_table *t)
{
	uint64_t n;

	pthread_mutex_lock(&t->lock);
	n = t->evictions;
	pthread_mutex_unlock(&t->lock);
	return n;
}

size_t session_table_count(struct session_table *t)
{
	size_t n;

	pthread_mutex_lock(&t->lock);
	n = t->count;
	pthread_mutex_unlock(&t->lock);
	return n;
}
