#define _GNU_SOURCE
#include "pccs_fetch.h"

#include <ctype.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "dcap/collateral_store.h"
#include "dcap/dcap.h"
#include "fileio.h"
#include "hexutil.h"
#include "http_body.h"
#include "log.h"

#define PCCS_MAX_RESPONSE (1024 * 1024)

struct fetch {
	struct http_body body;	  /* at most PCCS_MAX_RESPONSE */
	const char *chain_header; /* e.g. "TCB-Info-Issuer-Chain" */
	char *chain;		  /* its URL-decoded value */
};

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	struct fetch *f = arg;
	size_t len = size * n, hl;
	CURL *c;

	if (!f->chain_header)
		return len;
	hl = strlen(f->chain_header);
	if (len <= hl + 1 || strncasecmp(data, f->chain_header, hl) != 0 || data[hl] != ':')
		return len;
	data += hl + 1;
	len -= hl + 1;
	while (len && (*data == ' ' || *data == '\t')) {
		data++;
		len--;
	}
	while (len && (data[len - 1] == '\r' || data[len - 1] == '\n'))
		len--;
	c = curl_easy_init();
	if (c) {
		int out_len = 0;
		char *dec = curl_easy_unescape(c, data, (int)len, &out_len);

		if (dec) {
			free(f->chain);
			f->chain = strndup(dec, (size_t)out_len);
			curl_free(dec);
		}
		curl_easy_cleanup(c);
	}
	return size * n;
}

static int get(const char *url, unsigned timeout_ms, struct fetch *f)
{
	CURL *c = curl_easy_init();
	char errbuf[CURL_ERROR_SIZE] = "";
	long status = 0;
	CURLcode cr;

	if (!c)
		return -ENOMEM;
	f->body.max = PCCS_MAX_RESPONSE;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_body_append);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &f->body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, f);
	cr = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	if (cr != CURLE_OK)
		return log_error_errno(-EIO, "pccs: %s: %s", url,
				       f->body.too_big ? "response larger than 1 MiB"
				       : errbuf[0]     ? errbuf
						       : curl_easy_strerror(cr));
	if (status != 200)
		return log_error_errno(-EIO, "pccs: %s: HTTP %ld", url, status);
	if (f->chain_header && !f->chain)
		return log_error_errno(-EIO, "pccs: %s: no %s header", url, f->chain_header);
	if (f->body.len == 0)
		return log_error_errno(-EIO, "pccs: %s: empty response", url);
	return 0;
}

/* Writes data next to the target and renames it over the target: readers see old or new. */
static int replace_file(const char *dir, const char *name, const void *data, size_t len)
{
	_cleanup_free_ char *tmp = NULL, *dst = NULL;
	int r;

	if (asprintf(&tmp, "%s/.%s.new", dir, name) < 0 || asprintf(&dst, "%s/%s", dir, name) < 0)
		return -ENOMEM;
	unlink(tmp);
	r = file_write_private(tmp, data, len, 1);
	if (r < 0)
		return r;
	if (chmod(tmp, 0644) < 0 || rename(tmp, dst) < 0) {
		r = log_error_errno(-errno, "pccs: cannot install %s: %m", dst);
		unlink(tmp);
	}
	return r;
}

/* PCCS serves the root CA CRL as DER or as its hex text; store DER. */
static int root_crl_der(struct fetch *f)
{
	uint8_t *der = NULL;
	size_t n = 0;

	for (size_t i = 0; i < f->body.len; i++)
		if (!isxdigit((unsigned char)f->body.data[i]) &&
		    !isspace((unsigned char)f->body.data[i]))
			return 0;
	if (hex_decode_alloc(f->body.data, f->body.len, &der, &n) < 0)
		return log_error_errno(-EBADMSG, "pccs: root CA CRL is neither DER nor hex");
	free(f->body.data);
	f->body.data = (char *)der;
	f->body.len = n;
	return 0;
}

/* The fetched items under their cache names, in the order they are installed. */
struct fetched_file {
	const char *name;
	const char *data;
	size_t len;
};

/* A PCCS answer must load as collateral and must not be older than what the cache holds (a
 * stale or rolled-back PCCS would otherwise overwrite newer collateral, and keyd would then
 * refuse that platform as a rollback): checked on a copy in <dir>/.incoming, removed after. */
static int fresh_not_older(const char *dir, const uint8_t fmspc[6],
			   const struct fetched_file *files, size_t n)
{
	_cleanup_free_ char *incoming = NULL, *cached_tcb = NULL, *cached_bundle = NULL;
	struct dcap_collateral *fresh = NULL, *have = NULL;
	char reason[512];
	int r;

	if (asprintf(&incoming, "%s/.incoming", dir) < 0 ||
	    asprintf(&cached_tcb, "%s/tcb_info.json", dir) < 0 ||
	    asprintf(&cached_bundle, "%s/collateral.json", dir) < 0)
		return -ENOMEM;
	if (mkdir(incoming, 0700) < 0 && errno != EEXIST)
		return log_error_errno(-errno, "pccs: cannot create %s: %m", incoming);
	r = 0;
	for (size_t i = 0; i < n && r == 0; i++)
		r = replace_file(incoming, files[i].name, files[i].data, files[i].len);
	if (r == 0 && collateral_dir_load(incoming, &fresh) < 0)
		r = log_error_errno(-EBADMSG,
				    "pccs: the PCCS's collateral for %s does not load: "
				    "cache left as it is",
				    dir);
	/* Nothing cached yet (a new platform): nothing to compare with. */
	if (r == 0 && (access(cached_tcb, F_OK) == 0 || access(cached_bundle, F_OK) == 0) &&
	    collateral_dir_load(dir, &have) == 0 &&
	    collateral_not_older(fmspc, have, fresh, reason, sizeof(reason)) < 0)
		r = log_error_errno(-ESTALE,
				    "pccs: refusing the PCCS's collateral for %s: %s (rollback); "
				    "the cached collateral stays",
				    dir, reason);
	dcap_collateral_free(fresh);
	dcap_collateral_free(have);
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *f = NULL;

		if (asprintf(&f, "%s/%s", incoming, files[i].name) > 0)
			unlink(f);
	}
	rmdir(incoming);
	return r;
}

int pccs_fetch_collateral(const char *base_url, const uint8_t fmspc[6], const char *collateral_dir,
			  unsigned timeout_ms)
{
	struct fetch tcb = {.chain_header = "TCB-Info-Issuer-Chain"},
		     qe = {.chain_header = "SGX-Enclave-Identity-Issuer-Chain"},
		     crl = {.chain_header = "SGX-PCK-CRL-Issuer-Chain"},
		     pcrl = {.chain_header = "SGX-PCK-CRL-Issuer-Chain"}, root = {0};
	_cleanup_free_ char *dir = NULL, *u1 = NULL, *u2 = NULL, *u3 = NULL, *u4 = NULL, *u5 = NULL;
	char hex[13];
	int r;

	hex_encode(fmspc, 6, hex);
	if (asprintf(&dir, "%s/%s", collateral_dir, hex) < 0 ||
	    asprintf(&u1, "%s/tdx/certification/v4/tcb?fmspc=%s", base_url, hex) < 0 ||
	    asprintf(&u2, "%s/tdx/certification/v4/qe/identity", base_url) < 0 ||
	    asprintf(&u3, "%s/sgx/certification/v4/pckcrl?ca=platform&encoding=der", base_url) <
		    0 ||
	    asprintf(&u5, "%s/sgx/certification/v4/pckcrl?ca=processor&encoding=der", base_url) <
		    0 ||
	    asprintf(&u4, "%s/sgx/certification/v4/rootcacrl", base_url) < 0)
		return -ENOMEM;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return log_error_errno(-errno, "pccs: cannot create %s: %m", dir);
	/* Everything is fetched before anything is replaced. */
	if ((r = get(u1, timeout_ms, &tcb)) < 0 || (r = get(u2, timeout_ms, &qe)) < 0 ||
	    (r = get(u3, timeout_ms, &crl)) < 0 || (r = get(u5, timeout_ms, &pcrl)) < 0 ||
	    (r = get(u4, timeout_ms, &root)) < 0 || (r = root_crl_der(&root)) < 0)
		goto out;
	{
		const struct fetched_file files[] = {
			{"tcb_signing_chain.pem", tcb.chain, strlen(tcb.chain)},
			{"pck_crl_chain.pem", crl.chain, strlen(crl.chain)},
			{"tcb_info.json", tcb.body.data, tcb.body.len},
			{"qe_identity.json", qe.body.data, qe.body.len},
			{"pck_crl.der", crl.body.data, crl.body.len},
			{"pck_processor_crl.der", pcrl.body.data, pcrl.body.len},
			{"root_crl.der", root.body.data, root.body.len},
		};
		size_t n = sizeof(files) / sizeof(files[0]);

		r = fresh_not_older(dir, fmspc, files, n);
		for (size_t i = 0; i < n && r == 0; i++)
			r = replace_file(dir, files[i].name, files[i].data, files[i].len);
		if (r < 0)
			goto out;
	}
	{
		_cleanup_free_ char *bundle = NULL;

		/* A bundle would take precedence over the fresh files. */
		if (asprintf(&bundle, "%s/collateral.json", dir) > 0 && unlink(bundle) == 0)
			log_info("pccs: removed %s in favour of the refreshed files", bundle);
	}
	log_info("pccs: refreshed collateral of FMSPC %s from %s", hex, base_url);
out:
	free(tcb.body.data);
	free(tcb.chain);
	free(qe.body.data);
	free(qe.chain);
	free(crl.body.data);
	free(crl.chain);
	free(pcrl.body.data);
	free(pcrl.chain);
	free(root.body.data);
	return r;
}

int pccs_refresh_all(const char *base_url, const char *collateral_dir, unsigned timeout_ms)
{
	DIR *d = opendir(collateral_dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return log_error_errno(-errno, "pccs: cannot read %s: %m", collateral_dir);
	while ((de = readdir(d))) {
		uint8_t fmspc[6];

		if (strlen(de->d_name) != 12 || hex_decode_exact(de->d_name, 12, fmspc, 6) < 0)
			continue;
		if (pccs_fetch_collateral(base_url, fmspc, collateral_dir, timeout_ms) == 0)
			n++;
	}
	closedir(d);
	return n;
}
