/* tdx-keyd image-measure: the RTMR1/RTMR2 events a TDVF direct boot measures of a kernel, initrd
 * and command line, as the event-level stanza of a measurement set (docs/policy.md);
 * --qemu-patched-header RAM: the kernel as QEMU 8.0-10.0 hands it to the firmware of a guest with
 * RAM of memory. Exit 0 printed, 1 unreadable or not a PE image, 2 usage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "cleanup.h"
#include "cmd_dispatch.h"
#include "commands.h"
#include "fileio.h"
#include "image_measure.h"
#include "log.h"

#define IMAGE_FILE_MAX (1024u * 1024 * 1024) /* kernels and initrds are far smaller */

/* QEMU's -m syntax: a number of bytes with an optional K, M, G or T suffix (a bare number is
 * taken as bytes here, not MiB, so that nothing is guessed). */
static int parse_ram_size(const char *s, uint64_t *out)
{
	static const char suffixes[] = "KMGT";
	const char *sfx;
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || s[0] == '-')
		return -EINVAL;
	if (*end) {
		sfx = strchr(suffixes, *end);
		if (!sfx || end[1])
			return -EINVAL;
		for (const char *k = suffixes; k <= sfx; k++) {
			if (v > UINT64_MAX / 1024)
				return -ERANGE;
			v *= 1024;
		}
	}
	*out = v;
	return 0;
}

int cmd_image_measure(int argc, char **argv)
{
	static const char usage[] =
		"usage: tdx-keyd image-measure --kernel FILE --initrd FILE --cmdline STRING\n"
		"         [--qemu-patched-header RAM]   (QEMU 8.0-10.0 direct boot, RAM e.g. 4G)\n";
	const char *kernel_path = NULL, *initrd_path = NULL, *cmdline = NULL, *ram = NULL;
	const struct cmd_option opts[] = {
		CMD_OPT("kernel", 0, true, &kernel_path),
		CMD_OPT("initrd", 0, true, &initrd_path),
		CMD_OPT("cmdline", 0, true, &cmdline),
		CMD_OPT("qemu-patched-header", 0, false, &ram),
	};
	_cleanup_free_ uint8_t *kernel = NULL, *initrd = NULL;
	uint8_t dk[IMAGE_DIGEST_LEN], dc[IMAGE_DIGEST_LEN], di[IMAGE_DIGEST_LEN];
	struct json_object *stanza = NULL;
	size_t kernel_len, initrd_len;
	uint64_t ram_size = 0;
	char reason[256];
	int r;

	r = cmd_options_parse(argc, argv, usage, opts, ARRAY_SIZE(opts), NULL, 0);
	if (r >= 0)
		return r;
	if (ram && (parse_ram_size(ram, &ram_size) < 0 || ram_size == 0)) {
		log_error("image-measure: --qemu-patched-header '%s' is not a memory size (bytes, "
			  "or with K, M, G, T)",
			  ram);
		return CMD_EXIT_USAGE;
	}
	if (file_read_all(kernel_path, IMAGE_FILE_MAX, &kernel, &kernel_len) < 0 ||
	    file_read_all(initrd_path, IMAGE_FILE_MAX, &initrd, &initrd_len) < 0)
		return CMD_EXIT_FAILED;
	if (ram_size && image_qemu_patch_setup_header(kernel, kernel_len, ram_size, initrd_len,
						      cmdline, reason, sizeof(reason)) < 0) {
		log_error("%s: %s", kernel_path, reason);
		return CMD_EXIT_FAILED;
	}
	if (image_pe_authenticode_sha384(kernel, kernel_len, dk, reason, sizeof(reason)) < 0) {
		log_error("%s: %s", kernel_path, reason);
		return CMD_EXIT_FAILED;
	}
	if (EVP_Digest(initrd, initrd_len, di, NULL, EVP_sha384(), NULL) != 1 ||
	    image_cmdline_sha384(cmdline, dc) < 0 ||
	    image_direct_boot_stanza(dk, dc, di, &stanza) < 0)
		return CMD_EXIT_FAILED;
	printf("%s\n", json_object_to_json_string_ext(
			       stanza, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
					       JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(stanza);
	return CMD_EXIT_OK;
}
