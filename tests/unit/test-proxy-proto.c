/* The PROXY protocol header parser (src/keyd/proxy_proto.c): v2 TCP over IPv4 and IPv6, LOCAL
 * and other families keep the connection's address, every truncation asks for more bytes, the
 * TLS bytes after a header are never counted in it, bad versions, commands, lengths and v1 text
 * are refused with the reason; v1 only when allowed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "unit-test.h"

#include "keyd/proxy_proto.h"

static const uint8_t v2_tcp4[] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, /* signature */
	0x21, 0x11, 0x00, 0x0c,				/* v2 PROXY, TCP over IPv4, 12 bytes */
	0x0a, 0x09, 0x09, 0x09, 0x7f, 0x00, 0x00, 0x01, /* 10.9.9.9 -> 127.0.0.1 */
	0x04, 0xd2, 0x01, 0xbb,				/* 1234 -> 443 */
	0x16, 0x03, 0x01, 0x00, 0x05,			/* the start of a TLS ClientHello */
};

static int parse(const void *buf, size_t len, bool v1, struct proxy_header *h, char *why)
{
	return proxy_header_parse(buf, len, v1, h, why, 160);
}

static void test_v2(void **state)
{
	struct proxy_header h;
	uint8_t b[64 + 16];
	char why[160];

	(void)state;
	assert_int_equal(parse(v2_tcp4, sizeof(v2_tcp4), false, &h, why), 28);
	assert_false(h.local);
	assert_string_equal(h.addr, "10.9.9.9");
	assert_int_equal(h.port, 1234);
	for (size_t n = 1; n < 28; n++)
		assert_int_equal(parse(v2_tcp4, n, false, &h, why), 0);

	/* IPv6: 2001:db8::7 port 80, plus a TLV the parser skips */
	memcpy(b, v2_tcp4, 12);
	b[12] = 0x21;
	b[13] = 0x21;
	b[14] = 0;
	b[15] = 36 + 4;
	memset(b + 16, 0, 36 + 4);
	b[16] = 0x20, b[17] = 0x01, b[18] = 0x0d, b[19] = 0xb8, b[31] = 7;
	b[48] = 0, b[49] = 80;
	b[52] = 0x05, b[54] = 1; /* PP2_TYPE_UNIQUE_ID, 1 byte */
	assert_int_equal(parse(b, 16 + 40, false, &h, why), 56);
	assert_false(h.local);
	assert_string_equal(h.addr, "2001:db8::7");
	assert_int_equal(h.port, 80);

	/* LOCAL (health check) and UNSPEC/UNIX families: the connection's own address */
	memcpy(b, v2_tcp4, sizeof(v2_tcp4));
	b[12] = 0x20;
	assert_int_equal(parse(b, 28, false, &h, why), 28);
	assert_true(h.local);
	b[12] = 0x21;
	b[13] = 0x31;
	assert_int_equal(parse(b, 28, false, &h, why), 28);
	assert_true(h.local);

	/* refusals, each named */
	memcpy(b, v2_tcp4, sizeof(v2_tcp4));
	b[12] = 0x11;
	assert_int_equal(parse(b, 28, false, &h, why), -EBADMSG);
	assert_non_null(strstr(why, "version 1"));
	b[12] = 0x22;
	assert_int_equal(parse(b, 28, false, &h, why), -EBADMSG);
	assert_non_null(strstr(why, "command 0x2"));
	b[12] = 0x21;
	b[14] = 0x02; /* 512 + 12 bytes of body */
	assert_int_equal(parse(b, 16, false, &h, why), -EBADMSG);
	assert_non_null(strstr(why, "more than"));
	b[14] = 0;
	b[15] = 8; /* too short for two IPv4 addresses and ports */
	assert_int_equal(parse(b, 24, false, &h, why), -EBADMSG);
	assert_non_null(strstr(why, "truncated"));
}

static void test_v1(void **state)
{
	static const char tcp4[] = "PROXY TCP4 192.0.2.1 127.0.0.1 56324 443\r\n\x16\x03";
	static const char tcp6[] = "PROXY TCP6 2001:db8::1 ::1 1 443\r\n";
	static const char *const bad[] = {
		"PROXY TCP4 192.0.2.1 127.0.0.1 56324\r\n",
		"PROXY TCP4 192.0.2.1 127.0.0.1 56324 443 extra\r\n",
		"PROXY TCP4 2001:db8::1 127.0.0.1 1 2\r\n",
		"PROXY TCP4 192.0.2.1\n127.0.0.1 1 2\r\n",
		"PROXY UDP4 192.0.2.1 127.0.0.1 1 2\r\n",
		"PROXY TCP4 192.0.2.1 127.0.0.1 70000 2\r\n",
		"PROXY TCP4 192.0.2.1 127.0.0.1 1 2\n",
	};
	struct proxy_header h;
	char why[160], longline[200];

	(void)state;
	assert_int_equal(parse(tcp4, sizeof(tcp4) - 1, true, &h, why), (int)sizeof(tcp4) - 3);
	assert_false(h.local);
	assert_string_equal(h.addr, "192.0.2.1");
	assert_int_equal(h.port, 56324);
	for (size_t n = 1; n < sizeof(tcp4) - 3; n++)
		assert_int_equal(parse(tcp4, n, true, &h, why), 0);
	assert_int_equal(parse(tcp6, sizeof(tcp6) - 1, true, &h, why), (int)sizeof(tcp6) - 1);
	assert_string_equal(h.addr, "2001:db8::1");
	assert_int_equal(parse("PROXY UNKNOWN\r\n", 15, true, &h, why), 15);
	assert_true(h.local);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* the last one has no CRLF: refused once 107 bytes show none */
		int r = parse(bad[i], strlen(bad[i]), true, &h, why);

		if (r == 0) {
			memset(longline, 'x', sizeof(longline));
			memcpy(longline, bad[i], strlen(bad[i]));
			r = parse(longline, sizeof(longline), true, &h, why);
		}
		if (r != -EBADMSG)
			fail_msg("accepted v1 header '%s' (%d)", bad[i], r);
	}
	/* v1 not enabled: refused as not a v2 header */
	assert_int_equal(parse(tcp4, sizeof(tcp4) - 1, false, &h, why), -EBADMSG);
	assert_non_null(strstr(why, "PROXY v2 header"));
}

static void test_not_a_header(void **state)
{
	static const uint8_t hello[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01};
	struct proxy_header h;
	char why[160];

	(void)state;
	assert_int_equal(parse(hello, sizeof(hello), true, &h, why), -EBADMSG);
	assert_non_null(strstr(why, "does not start with a PROXY"));
	assert_int_equal(parse("GET / HTTP/1.1\r\n", 16, true, &h, why), -EBADMSG);
	assert_false(proxy_header_signature(hello, sizeof(hello)));
	assert_true(proxy_header_signature(v2_tcp4, 3));
	assert_true(proxy_header_signature((const uint8_t *)"PROXY TCP4", 10));
}

UNIT_TEST_MAIN(NULL, NULL, cmocka_unit_test(test_v2), cmocka_unit_test(test_v1),
	       cmocka_unit_test(test_not_a_header))
