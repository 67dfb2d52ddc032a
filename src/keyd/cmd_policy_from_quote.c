#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "commands.h"
#include "fileio.h"
#include "log.h"
#include "policy.h"
#include "quote.h"

int cmd_policy_from_quote(int argc, char **argv)
{
	static const struct option opts[] = {{"quote", required_argument, NULL, 'q'},
					     {"id", required_argument, NULL, 'i'},
					     {"resource", required_argument, NULL, 'r'},
					     {"help", no_argument, NULL, 'h'},
					     {}};
	static const char usage[] = "usage: tdx-keyd policy-from-quote --quote FILE "
				    "[--id ID] [--resource REPO/TYPE/TAG]\n";
	const char *quote_path = NULL, *id = "image", *resource = "default/disk/root";
	_cleanup_free_ uint8_t *raw = NULL, *quote = NULL;
	_cleanup_free_ char *doc = NULL;
	size_t raw_len, quote_len;
	struct tdx_quote q;
	char reason[256];
	int c, r;

	while ((c = getopt_long(argc, argv, "q:i:r:h", opts, NULL)) >= 0) {
		switch (c) {
		case 'q':
			quote_path = optarg;
			break;
		case 'i':
			id = optarg;
			break;
		case 'r':
			resource = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			return 2;
		}
	}
	if (!quote_path || optind != argc) {
		fputs(usage, stderr);
		return 2;
	}
	if (!policy_resource_path_valid(resource)) {
		log_error("--resource '%s' is not repo/type/tag", resource);
		return 2;
	}
	r = file_read_all(quote_path, 4 * TDX_QUOTE_MAX_LEN, &raw, &raw_len);
	if (r < 0)
		return 1;
	r = quote_decode_file_bytes(raw, raw_len, &quote, &quote_len);
	if (r < 0) {
		log_error_errno(r, "%s: neither a binary nor a hex quote", quote_path);
		return 1;
	}
	r = quote_parse(quote, quote_len, &q, reason, sizeof(reason));
	if (r < 0) {
		log_error("%s: %s", quote_path, reason);
		return 1;
	}
	if (quote_td_debug(&q)) {
		log_error("%s: the TD has DEBUG set; tdx-keyd never releases to a debug TD",
			  quote_path);
		return 1;
	}
	r = policy_from_td_body(&q.body, id, resource, &doc);
	if (r < 0)
		return 1;
	printf("%s\n", doc);
	return 0;
}
