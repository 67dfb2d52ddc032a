#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "cmd_dispatch.h"
#include "commands.h"
#include "escape.h"
#include "jwe.h"
#include "json_build.h"
#include "json_strict.h"
#include "jwk.h"
#include "http_body.h"
#include "log.h"
#include "policy.h"
#include "secmem.h"

#define FETCH_MAX_RESPONSE (64 * 1024)
#define FETCH_TIMEOUT_MS   15000

static int post(const char *url, const char *ca, const char *cert, const char *key,
		const char *body, struct http_body *resp, long *status)
{
	CURL *c = curl_easy_init();
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *h = NULL;
	CURLcode cr;

	if (!c)
		return -ENOMEM;
	h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
	curl_easy_setopt(c, CURLOPT_SSLCERT, cert);
	curl_easy_setopt(c, CURLOPT_SSLKEY, key);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)FETCH_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)FETCH_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_body_append);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
	cr = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	if (cr != CURLE_OK)
		return log_error_errno(-EIO, "fetch-secret: %s: %s", url,
				       resp->too_big ? "response larger than 64 KiB"
				       : errbuf[0]   ? errbuf
						     : curl_easy_strerror(cr));
	return 0;
}

/* The secret goes to a pipe only (tdx-enroll-image feeds it to `tdx-unlock enroll`): never to
 * a terminal or a file. */
static int stdout_is_pipe(void)
{
	struct stat st;

	return fstat(STDOUT_FILENO, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
}

/* Enrollment without the root key: asks keyd's admin endpoint (mutual TLS) for a resource's
 * disk secret sealed to a fresh key held only here, and writes it to stdout (a pipe). */
int cmd_fetch_secret(int argc, char **argv)
{
	static const char usage[] =
		"usage: tdx-keyd fetch-secret --url https://KEYD:PORT --ca FILE --client-cert FILE "
		"--client-key FILE --resource REPO/TYPE/TAG | tdx-unlock enroll ... --secret-file "
		"/dev/stdin\n";
	const char *url = NULL, *ca = NULL, *cert = NULL, *key = NULL, *resource = NULL;
	const struct cmd_option opts[] = {
		CMD_OPT("url", 'u', true, &url),	   CMD_OPT("ca", 'a', true, &ca),
		CMD_OPT("client-cert", 'c', true, &cert),  CMD_OPT("client-key", 'k', true, &key),
		CMD_OPT("resource", 'r', true, &resource),
	};
	_cleanup_(json_object_putp) struct json_object *jwk = NULL;
	struct json_object *req = NULL;
	struct http_body resp = {.max = FETCH_MAX_RESPONSE};
	EVP_PKEY *pk = NULL;
	uint8_t *secret = NULL;
	const char *body;
	char *full_url = NULL, reason[256];
	size_t secret_len = 0;
	long status = 0;
	int r;

	r = cmd_options_parse(argc, argv, usage, opts, ARRAY_SIZE(opts), NULL, 0);
	if (r >= 0)
		return r;
	if (strncmp(url, "https://", 8) != 0) {
		log_error("--url must be https://");
		return CMD_EXIT_USAGE;
	}
	if (!policy_resource_path_valid(resource)) {
		log_error("--resource is not repo/type/tag");
		return CMD_EXIT_USAGE;
	}
	if (!stdout_is_pipe()) {
		log_error("fetch-secret writes the secret to a pipe only (| tdx-unlock enroll ... "
			  "--secret-file /dev/stdin), not to a terminal or a file");
		return CMD_EXIT_USAGE;
	}
	r = secmem_harden_process();
	if (r < 0)
		return cmd_exit_code(r);
	req = json_object_new_object();
	if (!req || asprintf(&full_url, "%s/admin/v0/secret", url) < 0) {
		full_url = NULL;
		r = -ENOMEM;
		goto out;
	}
	r = jwk_generate_p256(&pk);
	if (r == 0)
		r = jwk_from_public_key(pk, 1, &jwk);
	if (r < 0)
		goto out;
	r = json_add_string(req, "resource", resource);
	if (r == 0)
		r = json_add_member(req, "jwk", TAKE_PTR(jwk));
	if (r < 0)
		goto out;
	r = post(full_url, ca, cert, key,
		 json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN), &resp, &status);
	if (r < 0)
		goto out;
	body = resp.data ? resp.data : "";
	if (status != 200) {
		char esc[300];

		text_escape(body, resp.len, esc, sizeof(esc));
		r = log_error_errno(-EACCES, "fetch-secret: keyd refused (HTTP %ld): %s", status,
				    esc);
		goto out;
	}
	r = jwe_decrypt(pk, body, resp.len, &secret, &secret_len, reason, sizeof(reason));
	if (r < 0) {
		log_error("fetch-secret: the reply does not open with our key: %s", reason);
		goto out;
	}
	/* write(), not stdio: no copy of the secret in a stdio buffer. */
	for (size_t done = 0; done < secret_len;) {
		ssize_t w = write(STDOUT_FILENO, secret + done, secret_len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			r = log_error_errno(-EIO, "fetch-secret: cannot write the secret: %m");
			goto out;
		}
		done += (size_t)w;
	}
	log_info("fetch-secret: received the disk secret of %s (%zu bytes) sealed to this run's "
		 "key",
		 resource, secret_len);
out:
	secmem_free(secret);
	EVP_PKEY_free(pk);
	json_object_put(req);
	free(full_url);
	free(resp.data);
	return cmd_exit_code(r);
}
