#include "session.h"

#include <assert.h>
#include <errno.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "hexutil.h"
#include "json_build.h"
#include "jwk.h"
#include "log.h"
#include "secmem.h"

/* Sealed cookie, base64url without padding:
 *   header = version (1) || key id (4) || expiry (8, big-endian seconds) || IV (12)
 *   base64url(header || AES-256-GCM(key, IV, aad = header, plaintext) || tag (16))
 * plaintext = flags (1, bit 0 attested) || id (16) || nonce (32)
 *             [attested: TD body || len (1) || TCB status || collateral issue date (8)
 *              || TCB evaluation number (4) || tee-pubkey x || y (64)
 *              || len (1) || runtime-log summary]
 * The expiry is authenticated (aad), so a cookie cannot outlive it; the key id tells a cookie
 * of another fleet (or of a rotated root key) from a tampered one. */
#define COOKIE_VERSION 2 /* 2: the runtime-log summary after the tee key */
#define KEY_ID_LEN     4
#define IV_LEN	       12
#define TAG_LEN	       16
#define HEADER_LEN     (1 + KEY_ID_LEN + 8 + IV_LEN)
#define ID_RAW_LEN     16
#define FLAG_ATTESTED  1
#define PLAIN_MAX                                                                           \
	(1 + ID_RAW_LEN + SESSION_NONCE_LEN + sizeof(struct tdx_td_body) + 1 + 47 + 8 + 4 + \
	 2 * JWK_P256_COORD_LEN + 1 + SESSION_RTMR3_LOG_MAX)
#define SEALED_MAX (HEADER_LEN + PLAIN_MAX + TAG_LEN)

_Static_assert(SEALED_MAX * 4 / 3 + 4 <= SESSION_COOKIE_MAX, "cookie bound too small");

/* A spent nonce: the session id of a cookie that reached attest on this replica. */
struct spent {
	uint8_t id[ID_RAW_LEN];
	time_t expires;
	bool attested;
	struct peer *peer;
	struct spent *hnext;		 /* hash chain */
	struct spent *older, *newer;	 /* insertion order, for expiry */
	struct spent *p_older, *p_newer; /* the peer's unattested entries, for eviction */
};

/* A client address holding entries; freed with its last entry. */
struct peer {
	char addr[48];
	size_t n_entries, n_unattested;
	struct spent *u_oldest, *u_newest;
	struct peer *hnext, *prev, *next;
};

struct session_table {
	pthread_mutex_t lock;
	unsigned max, lifetime_s;
	size_t count, n_buckets, n_peer_buckets;
	uint64_t evictions;
	struct spent **buckets;
	struct spent *oldest, *newest;
	struct peer **peer_buckets;
	struct peer *peers;
	uint8_t *key; /* secmem */
	uint8_t key_id[KEY_ID_LEN];
	EVP_CIPHER *aead;
};

static uint64_t fnv1a(const uint8_t *p, size_t len)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

int session_table_new(unsigned max_entries, unsigned lifetime_s, const uint8_t *key,
		      struct session_table **out)
{
	struct session_table *t = calloc(1, sizeof(*t));
	uint8_t d[32];

	if (!t)
		return -ENOMEM;
	t->max = max_entries ? max_entries : 1;
	t->lifetime_s = lifetime_s;
	t->n_buckets = t->max < 1024 ? 1024 : t->max > (1u << 20) ? 1u << 20 : t->max;
	t->n_peer_buckets = 4096;
	t->buckets = calloc(t->n_buckets, sizeof(struct spent *));
	t->peer_buckets = calloc(t->n_peer_buckets, sizeof(struct peer *));
	t->key = secmem_dup(key, SESSION_KEY_LEN);
	t->aead = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	if (!t->buckets || !t->peer_buckets || !t->key || !t->aead) {
		session_table_free(t);
		return -ENOMEM;
	}
	/* Names the key without revealing it. */
	EVP_Digest(key, SESSION_KEY_LEN, d, NULL, EVP_sha256(), NULL);
	memcpy(t->key_id, d, KEY_ID_LEN);
	pthread_mutex_init(&t->lock, NULL);
	*out = t;
	return 0;
}

void session_table_free(struct session_table *t)
{
	if (!t)
		return;
	for (struct spent *e = t->oldest, *n; e; e = n) {
		n = e->newer;
		free(e);
	}
	for (struct peer *p = t->peers, *n; p; p = n) {
		n = p->next;
		free(p);
	}
	free(t->buckets);
	free(t->peer_buckets);
	secmem_free(t->key);
	EVP_CIPHER_free(t->aead);
	if (t->buckets && t->peer_buckets && t->key && t->aead)
		pthread_mutex_destroy(&t->lock);
	free(t);
}

/* ---- sealing ---- */

static void put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static int seal(struct session_table *t, const struct session *s,
		char cookie[SESSION_COOKIE_MAX + 1])
{
	uint8_t buf[SEALED_MAX], plain[PLAIN_MAX], *p = plain;
	size_t nonce_len = 0, plen;
	EVP_CIPHER_CTX *ctx = NULL;
	char *enc = NULL;
	int n = 0, n2 = 0, r = -EIO;

	buf[0] = COOKIE_VERSION;
	memcpy(buf + 1, t->key_id, KEY_ID_LEN);
	put_be(buf + 1 + KEY_ID_LEN, (uint64_t)s->expires, 8);
	if (RAND_bytes(buf + 1 + KEY_ID_LEN + 8, IV_LEN) != 1)
		return log_error_errno(-EIO, "session: random generator failed");

	*p++ = s->attested ? FLAG_ATTESTED : 0;
	if (hex_decode_exact(s->id, SESSION_ID_LEN, p, ID_RAW_LEN) < 0)
		return -EINVAL;
	p += ID_RAW_LEN;
	if (b64_decode(B64_STD, s->nonce, strlen(s->nonce), p, SESSION_NONCE_LEN, &nonce_len) < 0 ||
	    nonce_len != SESSION_NONCE_LEN)
		return -EINVAL;
	p += SESSION_NONCE_LEN;
	if (s->attested) {
		size_t sl = strnlen(s->att.tcb_status, sizeof(s->att.tcb_status) - 1);

		memcpy(p, &s->att.body, sizeof(s->att.body));
		p += sizeof(s->att.body);
		*p++ = (uint8_t)sl;
		memcpy(p, s->att.tcb_status, sl);
		p += sl;
		put_be(p, (uint64_t)s->att.collateral_issued, 8);
		p += 8;
		put_be(p, s->att.tcb_eval_number, 4);
		p += 4;
		memcpy(p, s->att.tee_xy, sizeof(s->att.tee_xy));
		p += sizeof(s->att.tee_xy);
		sl = strnlen(s->att.rtmr3_log, SESSION_RTMR3_LOG_MAX);
		*p++ = (uint8_t)sl;
		memcpy(p, s->att.rtmr3_log, sl);
		p += sl;
		r = -EIO;
	}
	plen = (size_t)(p - plain);

	ctx = EVP_CIPHER_CTX_new();
	if (ctx && EVP_EncryptInit_ex2(ctx, t->aead, t->key, buf + 1 + KEY_ID_LEN + 8, NULL) == 1 &&
	    EVP_EncryptUpdate(ctx, NULL, &n, buf, HEADER_LEN) == 1 &&
	    EVP_EncryptUpdate(ctx, buf + HEADER_LEN, &n, plain, (int)plen) == 1 &&
	    EVP_EncryptFinal_ex(ctx, buf + HEADER_LEN + n, &n2) == 1 &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, buf + HEADER_LEN + plen) == 1)
		r = 0;
	EVP_CIPHER_CTX_free(ctx);
	OPENSSL_cleanse(plain, sizeof(plain));
	if (r < 0)
		return log_error_errno(r, "session: sealing the cookie failed");
	enc = b64_encode(B64_URL, buf, HEADER_LEN + plen + TAG_LEN);
	if (!enc)
		return -ENOMEM;
	snprintf(cookie, SESSION_COOKIE_MAX + 1, "%s", enc);
	free(enc);
	return 0;
}

int session_open(struct session_table *t, const char *cookie, struct session *s,
		 const char **reason)
{
	uint8_t buf[SEALED_MAX], plain[PLAIN_MAX];
	const uint8_t *p = plain, *end;
	size_t len = 0, clen, plen;
	EVP_CIPHER_CTX *ctx = NULL;
	time_t now = time(NULL);
	int n = 0, n2 = 0, ok = 0, r;

	memset(s, 0, sizeof(*s));
	clen = cookie ? strnlen(cookie, SESSION_COOKIE_MAX + 1) : 0;
	/* Strict: one sealed cookie has one spelling, within the bound. */
	if (clen == 0 || clen > SESSION_COOKIE_MAX ||
	    b64_decode(B64_URL, cookie, clen, buf, sizeof(buf), &len) < 0 ||
	    len < HEADER_LEN + 1 + ID_RAW_LEN + SESSION_NONCE_LEN + TAG_LEN ||
	    buf[0] != COOKIE_VERSION) {
		*reason = "malformed kbs-session-id cookie (not a sealed session)";
		return -EINVAL;
	}
	if (CRYPTO_memcmp(buf + 1, t->key_id, KEY_ID_LEN)) {
		*reason = "kbs-session-id sealed under another key (not this fleet's root key)";
		return -EKEYREJECTED;
	}
	plen = len - HEADER_LEN - TAG_LEN;
	ctx = EVP_CIPHER_CTX_new();
	if (ctx && EVP_DecryptInit_ex2(ctx, t->aead, t->key, buf + 1 + KEY_ID_LEN + 8, NULL) == 1 &&
	    EVP_DecryptUpdate(ctx, NULL, &n, buf, HEADER_LEN) == 1 &&
	    EVP_DecryptUpdate(ctx, plain, &n, buf + HEADER_LEN, (int)plen) == 1 &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, buf + HEADER_LEN + plen) == 1 &&
	    EVP_DecryptFinal_ex(ctx, plain + n, &n2) == 1)
		ok = 1;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok) {
		*reason = "kbs-session-id fails authentication (tampered or forged)";
		r = -EBADMSG;
		goto out;
	}
	/* Authentic from here: a layout error is our own bug or another build's format. */
	end = plain + plen;
	s->expires = (time_t)get_be(buf + 1 + KEY_ID_LEN, 8);
	s->attested = *p++ & FLAG_ATTESTED;
	hex_encode(p, ID_RAW_LEN, s->id);
	p += ID_RAW_LEN;
	(void)b64_encode_to(B64_STD, p, SESSION_NONCE_LEN, s->nonce, sizeof(s->nonce));
	p += SESSION_NONCE_LEN;
	if (s->expires <= now) {
		*reason = "session expired";
		r = -ETIME;
		goto out;
	}
	if (s->attested) {
		size_t sl;

		r = -EINVAL;
		*reason = "malformed kbs-session-id cookie (unknown layout)";
		if ((size_t)(end - p) < sizeof(s->att.body) + 1)
			goto out;
		memcpy(&s->att.body, p, sizeof(s->att.body));
		p += sizeof(s->att.body);
		sl = *p++;
		if (sl >= sizeof(s->att.tcb_status) || (size_t)(end - p) < sl + 8 + 4 + 64 + 1)
			goto out;
		memcpy(s->att.tcb_status, p, sl);
		p += sl;
		s->att.collateral_issued = (time_t)get_be(p, 8);
		p += 8;
		s->att.tcb_eval_number = (uint32_t)get_be(p, 4);
		p += 4;
		/* Checked on P-256 at attest, and authenticated with the rest: the key is built
		 * when a JWE is sealed to it. */
		memcpy(s->att.tee_xy, p, sizeof(s->att.tee_xy));
		p += sizeof(s->att.tee_xy);
		sl = *p++;
		if (sl > SESSION_RTMR3_LOG_MAX || (size_t)(end - p) != sl)
			goto out;
		memcpy(s->att.rtmr3_log, p, sl);
		s->att.rtmr3_log[sl] = '\0';
	} else if (p != end) {
		*reason = "malformed kbs-session-id cookie (unknown layout)";
		r = -EINVAL;
		goto out;
	}
	r = 0;
out:
	OPENSSL_cleanse(plain, sizeof(plain));
	if (r < 0 && r != -ETIME)
		s->id[0] = '\0';
	return r;
}

int session_create(struct session_table *t, struct session *s, char cookie[SESSION_COOKIE_MAX + 1])
{
	uint8_t fresh[ID_RAW_LEN + SESSION_NONCE_LEN]; /* id, then nonce: one generator call */

	memset(s, 0, sizeof(*s));
	if (RAND_bytes(fresh, sizeof(fresh)) != 1)
		return log_error_errno(-EIO, "session: random generator failed");
	hex_encode(fresh, ID_RAW_LEN, s->id);
	(void)b64_encode_to(B64_STD, fresh + ID_RAW_LEN, SESSION_NONCE_LEN, s->nonce,
			    sizeof(s->nonce));
	s->expires = time(NULL) + (time_t)t->lifetime_s;
	return seal(t, s, cookie);
}

/* ---- the table of spent nonces ---- */

static size_t bucket_of(const struct session_table *t, const uint8_t id[ID_RAW_LEN])
{
	return fnv1a(id, ID_RAW_LEN) % t->n_buckets;
}

static struct spent *find(struct session_table *t, const uint8_t id[ID_RAW_LEN])
{
	for (struct spent *e = t->buckets[bucket_of(t, id)]; e; e = e->hnext)
		if (!memcmp(e->id, id, ID_RAW_LEN))
			return e;
	return NULL;
}

static struct peer *peer_get(struct session_table *t, const char *addr)
{
	size_t b = fnv1a((const uint8_t *)addr, strlen(addr)) % t->n_peer_buckets;
	struct peer *p;

	for (p = t->peer_buckets[b]; p; p = p->hnext)
		if (!strcmp(p->addr, addr))
			return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	snprintf(p->addr, sizeof(p->addr), "%s", addr);
	p->hnext = t->peer_buckets[b];
	t->peer_buckets[b] = p;
	p->next = t->peers;
	if (t->peers)
		t->peers->prev = p;
	t->peers = p;
	return p;
}

static void peer_put(struct session_table *t, struct peer *p)
{
	struct peer **pp;

	if (p->n_entries)
		return;
	pp = &t->peer_buckets[fnv1a((const uint8_t *)p->addr, strlen(p->addr)) % t->n_peer_buckets];
	while (*pp && *pp != p)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = p->hnext;
	if (p->prev)
		p->prev->next = p->next;
	else
		t->peers = p->next;
	if (p->next)
		p->next->prev = p->prev;
	free(p);
}

static void unattested_unlink(struct spent *e)
{
	struct peer *p = e->peer;

	if (e->p_older)
		e->p_older->p_newer = e->p_newer;
	else
		p->u_oldest = e->p_newer;
	if (e->p_newer)
		e->p_newer->p_older = e->p_older;
	else
		p->u_newest = e->p_older;
	e->p_older = e->p_newer = NULL;
	p->n_unattested--;
}

static void spent_remove(struct session_table *t, struct spent *e)
{
	struct spent **pp = &t->buckets[bucket_of(t, e->id)];

	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	if (e->older)
		e->older->newer = e->newer;
	else
		t->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		t->newest = e->older;
	if (!e->attested)
		unattested_unlink(e);
	e->peer->n_entries--;
	peer_put(t, e->peer);
	t->count--;
	free(e);
}

static size_t expire_locked(struct session_table *t, time_t now)
{
	size_t n = 0;

	/* Insertion order is close to expiry order (all sessions live equally long, counted from
	 * auth): an entry may outstay its expiry a little, never leave before it. */
	while (t->oldest && t->oldest->expires <= now) {
		/* The list invariant that makes spent_remove() advance t->oldest. */
		assert(!t->oldest->older);
		spent_remove(t, t->oldest);
		n++;
	}
	return n;
}

/* The table is full: drop the oldest unattested entry of the peer with the most of them. An
 * attested entry is never dropped for another peer. Dropping an entry lets its nonce be spent
 * once more on this replica, which gains nothing (see docs/keyd.md, "Scaling out"). */
static int make_room(struct session_table *t)
{
	struct peer *busiest = NULL;

	for (struct peer *p = t->peers; p; p = p->next)
		if (p->n_unattested && (!busiest || p->n_unattested > busiest->n_unattested))
			busiest = p;
	if (!busiest)
		return -ENOSPC;
	spent_remove(t, busiest->u_oldest);
	t->evictions++;
	return 0;
}

int session_attest_begin(struct session_table *t, const struct session *s, const char *peer_addr,
			 const char *nonce_b64, const char **reason)
{
	uint8_t id[ID_RAW_LEN];
	struct spent *e;
	struct peer *p;
	int r = 0;

	if (s->attested) {
		*reason = "nonce already used (a session attests once)";
		return -EALREADY;
	}
	if (hex_decode_exact(s->id, SESSION_ID_LEN, id, sizeof(id)) < 0) {
		*reason = "malformed kbs-session-id cookie";
		return -EINVAL;
	}
	pthread_mutex_lock(&t->lock);
	if (find(t, id)) {
		*reason = "nonce already used (a session attests once)";
		r = -EALREADY;
		goto out;
	}
	if (t->count >= t->max)
		expire_locked(t, time(NULL));
	if (t->count >= t->max && make_room(t) < 0) {
		*reason = "session table full (attested sessions only); retry later";
		r = -ENOSPC;
		goto out;
	}
	e = calloc(1, sizeof(*e));
	p = e ? peer_get(t, peer_addr && *peer_addr ? peer_addr : "?") : NULL;
	if (!p) {
		free(e);
		*reason = "out of memory";
		r = -ENOMEM;
		goto out;
	}
	/* Whatever follows, this nonce is spent. */
	memcpy(e->id, id, sizeof(id));
	e->expires = s->expires;
	e->peer = p;
	p->n_entries++;
	p->n_unattested++;
	e->p_older = p->u_newest;
	if (p->u_newest)
		p->u_newest->p_newer = e;
	else
		p->u_oldest = e;
	p->u_newest = e;
	e->hnext = t->buckets[bucket_of(t, id)];
	t->buckets[bucket_of(t, id)] = e;
	e->older = t->newest;
	if (t->newest)
		t->newest->newer = e;
	else
		t->oldest = e;
	t->newest = e;
	t->count++;
	if (!nonce_b64 || strcmp(nonce_b64, s->nonce) != 0) {
		*reason = "runtime-data nonce is not this session's nonce";
		r = -EBADMSG;
	}
out:
	pthread_mutex_unlock(&t->lock);
	return r;
}

int session_attest_finish(struct session_table *t, struct session *s,
			  const struct session_attestation *a, char cookie[SESSION_COOKIE_MAX + 1])
{
	uint8_t id[ID_RAW_LEN];
	struct spent *e;

	if (hex_decode_exact(s->id, SESSION_ID_LEN, id, sizeof(id)) < 0)
		return -EINVAL;
	pthread_mutex_lock(&t->lock);
	/* Gone only if evicted meanwhile: the cookie carries the session either way. */
	e = find(t, id);
	if (e && !e->attested) {
		unattested_unlink(e);
		e->attested = true;
	}
	pthread_mutex_unlock(&t->lock);
	s->att = *a;
	s->attested = true;
	return seal(t, s, cookie);
}

size_t session_table_expire(struct session_table *t)
{
	size_t n;

	pthread_mutex_lock(&t->lock);
	n = expire_locked(t, time(NULL));
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
