/* tsock: the HOST[:PORT] parser's pure parts. */
#include <criterion/criterion.h>
#include <string.h>

#include "tsock.h"

Test(tsock, v6_port_suffix)
{
	static const char *const ambiguous[] = { "::1:862", "2001:db8::1:443", "fe80::1:2", "::ffff:1:65535" };
	static const char *const plain[] = {
		"::1", "2001:db8::53", "2001:db8::1", "1:2:3:4:5:6:7:8", "::1:ab", "::1:65536", "::1:123456",
		"192.0.2.1:862", "host:862", "[::1]:862", "::", "::862", "fe80::1:",
	};

	for (size_t i = 0; i < sizeof(ambiguous) / sizeof(ambiguous[0]); i++)
		cr_expect(tsock_v6_port_suffix(ambiguous[i]), "%s", ambiguous[i]);
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
		cr_expect(!tsock_v6_port_suffix(plain[i]), "%s", plain[i]);
}

Test(tsock, resolve_refuses_what_is_written_wrongly)
{
	struct sockaddr_storage ss;
	char err[300], host[64];

	cr_assert_eq(tsock_resolve("::1:862", AF_UNSPEC, 862, &ss, NULL, 0, err, sizeof(err)), -2);
	cr_expect(strstr(err, "did you mean [::1]:862?"), "%s", err);
	cr_assert_eq(tsock_resolve("[::1:862]", AF_UNSPEC, 862, &ss, host, sizeof(host), err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(host, "::1:862");
	cr_expect_eq(tsock_addr_port(&ss), 862);
	cr_assert_eq(tsock_resolve("::1:862", AF_UNSPEC, 0, &ss, NULL, 0, err, sizeof(err)), 0,
		     "an address (no default port) is not HOST:PORT: %s", err);
	cr_expect_eq(tsock_resolve("127.0.0.1:99999", AF_UNSPEC, 862, &ss, NULL, 0, err, sizeof(err)), -2);
	cr_expect_eq(tsock_resolve("[::1", AF_UNSPEC, 862, &ss, NULL, 0, err, sizeof(err)), -2);
	cr_expect_eq(tsock_resolve("[::1]:862", AF_UNSPEC, 862, &ss, NULL, 0, err, sizeof(err)), 0, "%s", err);
}
