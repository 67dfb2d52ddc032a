/* Benchmark client of tdx-keyd: N threads, each running complete attested releases (new TLS
 * connection, auth, attest with a fresh simulated quote, resource, JWE decryption) back to back
 * for a fixed time; prints releases per second and p50/p99 latency. Loopback only. */
#define _GNU_SOURCE
#include <getopt.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "agent/kbs_client.h"
#include "jwk.h"
#include "kbs_msg.h"
#include "log.h"
#include "quotesim.h"
#include "secmem.h"

#define MAX_SAMPLES_PER_THREAD 200000

struct bench {
	const char *url, *ca, *resource;
	uint8_t pin[KBS_CLIENT_PIN_LEN];
	bool auth_only;
	struct quotesim *sim;
	double seconds;
	struct timespec start;
	atomic_uint failures;
	atomic_bool stop;
};

struct worker {
	pthread_t th;
	struct bench *b;
	double *lat_ms;
	size_t n;
	char last_error[256];
};

static double since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static int one_release(struct bench *b, char *reason, size_t reason_len)
{
	/* Pinned server key, as the agent is configured in production. */
	struct kbs_client_opts o = {.url = b->url,
				    .pins = (const uint8_t(*)[KBS_CLIENT_PIN_LEN])b->pin,
				    .n_pins = 1,
				    .connect_timeout_ms = 5000,
				    .request_timeout_ms = 30000,
				    .total_timeout_ms = 60000};
	struct kbs_client *cl = NULL;
	struct kbs_challenge ch;
	struct quotesim_quote_opts qo;
	struct json_object *jwk = NULL;
	EVP_PKEY *key = NULL;
	uint8_t rd[KBS_REPORT_DATA_LEN], *quote = NULL, *secret = NULL;
	size_t quote_len, secret_len;
	int r;

	r = kbs_client_new(&o, &cl);
	if (r == 0)
		r = kbs_client_auth(cl, &ch, reason, reason_len);
	if (b->auth_only)
		goto out;
	if (r == 0)
		r = jwk_generate_p256(&key);
	if (r == 0)
		r = jwk_from_public_key(key, 1, &jwk);
	if (r == 0)
		r = kbs_report_data(ch.nonce, jwk, rd);
	if (r == 0) {
		quotesim_quote_opts_init(b->sim, &qo);
		r = quotesim_quote(b->sim, &qo, rd, &quote, &quote_len);
	}
	if (r == 0)
		r = kbs_client_attest(cl, ch.nonce, key, quote, quote_len, reason, reason_len);
	if (r == 0)
		r = kbs_client_resource(cl, b->resource, key, &secret, &secret_len, reason,
					reason_len);
out:
	secmem_free(secret);
	free(quote);
	json_object_put(jwk);
	EVP_PKEY_free(key);
	kbs_client_free(cl);
	return r;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	while (!atomic_load(&w->b->stop) && w->n < MAX_SAMPLES_PER_THREAD) {
		struct timespec t0;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (one_release(w->b, w->last_error, sizeof(w->last_error)) < 0) {
			atomic_fetch_add(&w->b->failures, 1);
			continue;
		}
		if (since(&w->b->start) <= w->b->seconds)
			w->lat_ms[w->n++] = since(&t0) * 1000;
	}
	return NULL;
}

static int load_pin(const char *cert, uint8_t pin[KBS_CLIENT_PIN_LEN])
{
	FILE *f = fopen(cert, "re");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	unsigned char *der = NULL;
	int n = x ? i2d_PUBKEY(X509_get0_pubkey(x), &der) : -1;

	if (f)
		fclose(f);
	if (n > 0)
		SHA256(der, (size_t)n, pin);
	OPENSSL_free(der);
	X509_free(x);
	return n > 0 ? 0 : -1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"url", required_argument, NULL, 'u'},
					     {"ca", required_argument, NULL, 'c'},
					     {"sim", required_argument, NULL, 's'},
					     {"resource", required_argument, NULL, 'r'},
					     {"clients", required_argument, NULL, 'n'},
					     {"seconds", required_argument, NULL, 't'},
					     {"auth-only", no_argument, NULL, 'A'},
					     {}};
	struct bench b = {.resource = "default/disk/root", .seconds = 5};
	const char *sim = NULL;
	unsigned clients = 1;
	struct worker *w;
	double *all, elapsed;
	struct rusage ru;
	size_t total = 0, k = 0;
	int opt;

	log_setup("kbs-bench", LOG_TARGET_STDERR, LOG_LVL_ERR);
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
		switch (opt) {
		case 'u':
			b.url = optarg;
			break;
		case 'c':
			b.ca = optarg;
			break;
		case 's':
			sim = optarg;
			break;
		case 'r':
			b.resource = optarg;
			break;
		case 'n':
			clients = (unsigned)atoi(optarg);
			break;
		case 't':
			b.seconds = atof(optarg);
			break;
		case 'A':
			b.auth_only = true; /* TLS handshake + auth only: the transport's share */
			break;
		default:
			return 2;
		}
	}
	if (!b.url || !b.ca || !sim || clients < 1 || clients > 1024 || b.seconds <= 0 ||
	    b.seconds > 600) {
		fprintf(stderr, "usage: kbs-bench --url URL --ca CERT --sim DIR [--clients N] "
				"[--seconds S] [--resource PATH]\n");
		return 2;
	}
	if (quotesim_load(sim, &b.sim) < 0 || load_pin(b.ca, b.pin) < 0)
		return 1;
	w = calloc(clients, sizeof(*w));
	if (!w)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &b.start);
	for (unsigned i = 0; i < clients; i++) {
		w[i].b = &b;
		w[i].lat_ms = calloc(MAX_SAMPLES_PER_THREAD, sizeof(double));
		if (!w[i].lat_ms || pthread_create(&w[i].th, NULL, worker_main, &w[i]) != 0) {
			fprintf(stderr, "cannot start client thread %u\n", i);
			return 1;
		}
	}
	while (since(&b.start) < b.seconds)
		nanosleep(&(struct timespec){.tv_nsec = 50 * 1000 * 1000}, NULL);
	atomic_store(&b.stop, true);
	elapsed = b.seconds;
	for (unsigned i = 0; i < clients; i++) {
		pthread_join(w[i].th, NULL);
		total += w[i].n;
	}
	all = calloc(total ? total : 1, sizeof(double));
	if (!all)
		return 1;
	for (unsigned i = 0; i < clients; i++) {
		memcpy(all + k, w[i].lat_ms, w[i].n * sizeof(double));
		k += w[i].n;
	}
	qsort(all, total, sizeof(double), cmp_double);
	getrusage(RUSAGE_SELF, &ru);
	printf("clients %4u: %7.0f releases/s  p50 %7.2f ms  p99 %7.2f ms  (%zu releases in "
	       "%.1f s, %u failed)\n",
	       clients, (double)total / elapsed, total ? all[total / 2] : 0.0,
	       total ? all[(size_t)((double)total * 0.99)] : 0.0, total, elapsed,
	       atomic_load(&b.failures));
	/* The client shares the machine with keyd: its own CPU per release says how much of the
	 * figure above is the client's. */
	printf("  client CPU %.2f ms per release\n",
	       total ? ((double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
			((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6) *
			       1000 / (double)total
		     : 0.0);
	for (unsigned i = 0; i < clients; i++)
		if (w[i].last_error[0]) {
			printf("  last error of a client: %s\n", w[i].last_error);
			break;
		}
	for (unsigned i = 0; i < clients; i++)
		free(w[i].lat_ms);
	free(w);
	free(all);
	quotesim_free(b.sim);
	return atomic_load(&b.failures) ? 1 : 0;
}
