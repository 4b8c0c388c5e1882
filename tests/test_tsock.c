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

/* ---- ICMP errors on a client test socket (IP_RECVERR) ------------------- */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

static int udp_on(const char *addr, uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	cr_assert_geq(fd, 0);
	inet_pton(AF_INET, addr, &a.sin_addr);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static struct sockaddr_in lo_addr(const char *addr, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, addr, &a.sin_addr);
	return a;
}

/* a port on 127.0.0.1 with no socket: bind one, note its number, close it */
static uint16_t closed_port(void)
{
	uint16_t port;

	close(udp_on("127.0.0.1", &port));
	return port;
}

static bool wait_err(int fd)
{
	struct pollfd p = { .fd = fd, .events = 0 };

	return poll(&p, 1, 2000) == 1 && (p.revents & POLLERR);
}

static uint16_t csum(const void *data, size_t len)
{
	const uint8_t *b = data;
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		sum += (uint32_t)(b[len - 1] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/*
 * After a port unreachable the socket's pending error would make the next
 * send fail (ECONNREFUSED) without sending: tsock_send sends anyway.
 */
Test(tsock, send_after_icmp_port_unreachable)
{
	uint16_t cport, lport, dead = closed_port();
	int c = udp_on("127.0.0.1", &cport), l = udp_on("127.0.0.1", &lport);
	struct sockaddr_in to_dead = lo_addr("127.0.0.1", dead), to_l = lo_addr("127.0.0.1", lport);
	struct pollfd p = { .fd = l, .events = POLLIN };
	char buf[16];

	tsock_set_recverr(c);
	cr_assert_eq(tsock_send(c, "x", 1, (struct sockaddr *)&to_dead, sizeof(to_dead)), 0);
	cr_assert(wait_err(c), "no ICMP error queued");
	cr_assert_eq(tsock_send(c, "y", 1, (struct sockaddr *)&to_l, sizeof(to_l)), 0, "send: %s",
		     strerror(errno));
	cr_assert_eq(poll(&p, 1, 2000), 1, "the packet after the ICMP error was not sent");
	cr_assert_eq(recv(l, buf, sizeof(buf), 0), 1);
	cr_assert_eq(buf[0], 'y');
	close(c);
	close(l);
}

/*
 * A port unreachable counts only when the host it was sent to says it:
 * the same ICMP forged from another address (raw socket, as root) is not one.
 */
Test(tsock, port_unreachable_only_from_the_destination)
{
	uint16_t cport, dead = closed_port();
	int c = udp_on("127.0.0.1", &cport);
	struct sockaddr_in to_dead = lo_addr("127.0.0.1", dead);
	struct tsock_rx rx;
	uint8_t pkt[20 + 8 + 20 + 8] = { 0 };
	struct iphdr *outer = (struct iphdr *)pkt, *inner = (struct iphdr *)(pkt + 28);
	uint8_t *icmp = pkt + 20, *udp = pkt + 48;
	int raw = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);

	cr_assert_geq(raw, 0, "raw socket (the tests run as root): %s", strerror(errno));
	tsock_set_recverr(c);

	/* the real one: the destination host itself */
	cr_assert_eq(tsock_send(c, "x", 1, (struct sockaddr *)&to_dead, sizeof(to_dead)), 0);
	cr_assert(wait_err(c));
	cr_assert_eq(tsock_recv_errqueue(c, &rx), 1);
	cr_assert(rx.port_unreach, "a real port unreachable was not recognised");
	while (tsock_recv_errqueue(c, &rx) == 1)
		;

	/* forged: 127.0.0.2 says 127.0.0.1:dead is unreachable */
	outer->version = 4;
	outer->ihl = 5;
	outer->tot_len = htons(sizeof(pkt));
	outer->ttl = 64;
	outer->protocol = IPPROTO_ICMP;
	inet_pton(AF_INET, "127.0.0.2", &outer->saddr);
	inet_pton(AF_INET, "127.0.0.1", &outer->daddr);
	icmp[0] = 3; /* destination unreachable */
	icmp[1] = 3; /* port unreachable */
	inner->version = 4;
	inner->ihl = 5;
	inner->tot_len = htons(20 + 9);
	inner->ttl = 64;
	inner->protocol = IPPROTO_UDP;
	inet_pton(AF_INET, "127.0.0.1", &inner->saddr);
	inet_pton(AF_INET, "127.0.0.1", &inner->daddr);
	inner->check = htons(csum(inner, 20));
	udp[0] = (uint8_t)(cport >> 8);
	udp[1] = (uint8_t)cport;
	udp[2] = (uint8_t)(dead >> 8);
	udp[3] = (uint8_t)dead;
	udp[5] = 9;
	{
		uint16_t k = csum(icmp, 8 + 28);

		icmp[2] = (uint8_t)(k >> 8);
		icmp[3] = (uint8_t)k;
	}
	{
		struct sockaddr_in dst = lo_addr("127.0.0.1", 0);

		cr_assert_eq(sendto(raw, pkt, sizeof(pkt), 0, (struct sockaddr *)&dst, sizeof(dst)),
			     (ssize_t)sizeof(pkt), "raw send: %s", strerror(errno));
	}
	cr_assert(wait_err(c), "the forged ICMP did not reach the socket (the test proves nothing)");
	cr_assert_eq(tsock_recv_errqueue(c, &rx), 1);
	cr_assert_not(rx.port_unreach, "a port unreachable from another host than the destination counted");
	close(raw);
	close(c);
}
