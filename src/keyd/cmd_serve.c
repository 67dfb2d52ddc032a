#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "commands.h"
#include "keyd_config.h"
#include "http_front.h"
#include "release.h"
#include "log.h"
#include "secmem.h"

int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'}, {"help", no_argument, NULL, 'h'}, {}};
	const char *config = NULL;
	struct keyd_config *cfg = NULL;
	struct release_service *svc = NULL;
	int c, r;

	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) >= 0) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'h':
			printf("usage: tdx-keyd serve --config FILE\n");
			return 0;
		default:
			return 2;
		}
	}
	if (!config || optind != argc) {
		fprintf(stderr, "usage: tdx-keyd serve --config FILE\n");
		return 2;
	}
	r = secmem_harden_process();
	if (r < 0)
		return 1;
	r = keyd_config_load(config, &cfg);
	if (r < 0)
		return 1;
	r = release_service_new(cfg, &svc);
	if (r == 0)
		/* Tests listen on port 0 and learn the port from this file (docs/testing.md). */
		r = http_front_run(cfg, svc, getenv("TDX_KEYD_TEST_PORT_FILE"));
	release_service_free(svc);
	keyd_config_free(cfg);
	return r < 0 ? 1 : 0;
}
