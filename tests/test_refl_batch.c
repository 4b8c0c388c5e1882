/*
 * Batched reflection: tsock's recvmmsg/sendmmsg batches on their own, then
 * the responder's light/STAMP reflector under bursts that queue up behind
 * each other, with good and bad packets mixed, over real sockets on loopback.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ntptime.h"
#include "reflector.h"
#include "tsock.h"
#include "util/runsession.h"
#include "wire.h"

static int udp_socket(const char *ip)
{
	struct sockaddr_storage a;
	int fd;

	run_addr(&a, ip, 0);
	fd = socket(a.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert(fd >= 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, tsock_addr_len(&a)), 0, "bind %s: %s", ip,
		     strerror(errno));
	return fd;
}

static uint16_t local_port(int fd)
{
	struct sockaddr_storage a;
	socklen_t l = sizeof(a);

	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	return tsock_addr_port(&a);
}

static bool readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

/* Everything queued before the first receive comes back in full batches, each datagram once. */
Test(tsock_batch, receive_reply_cancel_and_truncate)
{
	struct sockaddr_storage any, to[2];
	struct tsock_batch *b = tsock_batch_new(16, 128);
	int s[2] = { udp_socket("127.0.0.1"), udp_socket("127.0.0.1") };
	uint16_t port;
	int r;
	int64_t t_before = ntptime_now();
	unsigned got = 0, replies[2] = { 0 }, want_replies[2] = { 0 };
	bool seen[100] = { false };

	cr_assert_not_null(b);
	cr_assert_eq(tsock_batch_cap(b), 16);
	run_addr(&any, "0.0.0.0", 0);
	r = tsock_open(&any, 0, 0, -1, TSOCK_PKTINFO, &port);
	cr_assert(r >= 0);
	usleep(100000); /* receive timestamps are switched on by a work queue (see burst()) */
	run_addr(&to[0], "127.0.0.1", port);
	run_addr(&to[1], "127.0.0.3", port);
	/* 100 datagrams of 20..119 octets from two sockets to two addresses of the receiver */
	for (unsigned i = 0; i < 100; i++) {
		uint8_t p[128];

		memset(p, (int)i, sizeof(p));
		memcpy(p, &i, sizeof(i));
		cr_assert_eq(sendto(s[i % 2], p, 20 + i, 0, (struct sockaddr *)&to[(i / 2) % 2],
				    sizeof(struct sockaddr_in)), (ssize_t)(20 + i));
	}
	cr_assert_eq(tsock_recv_batch(r, b), 16, "a full batch when 100 are waiting");
	for (int round = 0;; round++) {
		unsigned n = round == 0 ? 16 : 0;
		int64_t t_after;

		if (round > 0) {
			int k = tsock_recv_batch(r, b);

			if (k < 0) {
				cr_assert_eq(errno, EAGAIN);
				break;
			}
			n = (unsigned)k;
		}
		t_after = ntptime_now();
		cr_assert_eq(tsock_batch_nreplies(b), 0, "receiving drops the replies not sent");
		for (unsigned i = 0; i < n; i++) {
			size_t len;
			const struct tsock_rx *rx;
			uint8_t *p = tsock_batch_msg(b, i, &len, &rx);
			unsigned idx;
			char a[INET6_ADDRSTRLEN];

			memcpy(&idx, p, sizeof(idx));
			cr_assert_lt(idx, 100);
			cr_assert(!seen[idx], "datagram %u twice", idx);
			seen[idx] = true;
			cr_assert_eq(len, 20 + idx);
			cr_assert_eq(p[len - 1], (uint8_t)idx);
			cr_assert_eq(tsock_addr_port(&rx->from), local_port(s[idx % 2]));
			cr_assert_eq(rx->dst_level, IPPROTO_IP);
			cr_assert_str_eq(tsock_addr_str(&rx->dst, a, sizeof(a)),
					 (idx / 2) % 2 ? "127.0.0.3" : "127.0.0.1");
			cr_assert_gt(rx->ttl, 0);
			if (tsock_probe(false)->rx_sw) {
				cr_assert(rx->ts_kernel >= t_before && rx->ts_kernel <= t_after,
					  "kernel timestamp of each datagram");
				cr_assert(rx->ts_kernel <= rx->ts_user);
			}
			/* answer every datagram but every seventh, one octet shorter, marked */
			p[0] = 0xee;
			tsock_batch_reply(b, i, len - 1);
			if (idx % 7 == 0)
				tsock_batch_cancel(b, tsock_batch_nreplies(b) - 1);
			else
				want_replies[idx % 2]++;
		}
		{
			unsigned failed, expect = 0;

			for (unsigned k = 0; k < tsock_batch_nreplies(b); k++) {
				size_t len;
				uint8_t *p = tsock_batch_reply_buf(b, k, &len);

				cr_assert_eq(p[0], 0xee);
				if (len)
					expect++;
			}
			cr_assert_eq(tsock_send_batch(r, b, &failed), expect);
			cr_assert_eq(failed, 0);
			cr_assert_eq(tsock_batch_nreplies(b), 0);
		}
		got += n;
	}
	cr_assert_eq(got, 100);
	for (int k = 0; k < 2; k++) {
		while (readable(s[k], 200)) {
			uint8_t p[256];
			struct sockaddr_storage from;
			socklen_t fl = sizeof(from);
			ssize_t n = recvfrom(s[k], p, sizeof(p), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
			unsigned idx;
			char a[INET6_ADDRSTRLEN];

			cr_assert_geq(n, 19);
			cr_assert_eq(p[0], 0xee, "the reply is the rewritten buffer");
			idx = p[n - 1]; /* every octet but the first four was the index */
			cr_assert_eq((size_t)n, 20 + idx - 1, "a reply is what was queued");
			cr_assert_neq(idx % 7, 0, "a cancelled reply went out");
			cr_assert_eq(idx % 2, (unsigned)k);
			/* the reply leaves from the address the datagram was sent to */
			cr_assert_str_eq(tsock_addr_str(&from, a, sizeof(a)),
					 (idx / 2) % 2 ? "127.0.0.3" : "127.0.0.1");
			replies[k]++;
		}
		cr_assert_eq(replies[k], want_replies[k]);
	}
	/* a datagram larger than the buffer is reported one octet larger than it */
	{
		uint8_t big[300] = { 0 };
		size_t len;
		const struct tsock_rx *rx;

		cr_assert_eq(sendto(s[0], big, sizeof(big), 0, (struct sockaddr *)&to[0], sizeof(struct sockaddr_in)),
			     (ssize_t)sizeof(big));
		cr_assert(readable(r, 1000));
		cr_assert_eq(tsock_recv_batch(r, b), 1);
		tsock_batch_msg(b, 0, &len, &rx);
		cr_assert_eq(len, 129);
	}
	close(s[0]);
	close(s[1]);
	close(r);
	tsock_batch_free(b);
}

/* ---- the responder under bursts ---------------------------------------- */

#define FLOWS 4
#define PER_FLOW 30      /* per burst: 120 queued datagrams fit the default receive buffer */
#define BURSTS 5

/*
 * Bursts of good packets with short and oversized ones mixed in, from
 * FLOWS sockets, sent before any reply is read, so that the reflector finds
 * them queued and takes them in batches.  Every good packet is reflected
 * exactly once, as large as it was, from the address it was sent to, with
 * T1 <= T2 <= T3 <= T4 and a T2 of its own; no bad one is.
 */
static void burst(const char *bind_ip, const char *to_ip, enum wire_test_fmt fmt)
{
	struct refl_config c;
	struct responder *r;
	struct refl_counters k;
	struct sockaddr_storage dst;
	int s[FLOWS];
	size_t size = fmt == WIRE_TEST_STAMP ? WIRE_STAMP_LEN : 60;
	unsigned good = 0, bad = 0, got = 0;
	static int64_t t2[FLOWS][BURSTS * PER_FLOW];
	static bool seen[FLOWS][BURSTS * PER_FLOW];

	memset(seen, 0, sizeof(seen));
	refl_config_default(&c);
	c.nlisten = 0;
	c.nlight = 1;
	c.nworkers = 1;
	run_addr(&c.light[0], bind_ip, 0);
	r = responder_start(&c);
	cr_assert_not_null(r);
	/*
	 * The first timestamping socket of the system turns receive timestamps on
	 * through a work queue: until it has run, datagrams carry none and T2 falls
	 * back to the user-space time of their batch.  Give it the time it needs.
	 */
	usleep(100000);
	run_addr(&dst, to_ip, responder_light_port(r, 0));
	for (int f = 0; f < FLOWS; f++)
		s[f] = udp_socket(dst.ss_family == AF_INET6 ? "::1" : "127.0.0.1");
	for (int bn = 0; bn < BURSTS; bn++) {
		for (int f = 0; f < FLOWS; f++) {
			for (int i = 0; i < PER_FLOW; i++) {
				uint32_t seq = (uint32_t)(bn * PER_FLOW + i);
				struct wire_test_sender snd = { .seq = seq, .ts = ntptime_now(), .ssid = 7 };
				uint8_t p[WIRE_TEST_MAX_LEN + 100];
				size_t len = size;

				memset(p, 0, sizeof(p));
				wire_encode_test_sender(p, sizeof(p), fmt, &snd);
				if (i % 13 == 5) {
					len = 20;                       /* too short to be answered */
					bad++;
				} else if (i == 9) {
					len = WIRE_TEST_MAX_LEN + 50;   /* too large */
					bad++;
				} else {
					good++;
				}
				cr_assert_eq(sendto(s[f], p, len, 0, (struct sockaddr *)&dst, tsock_addr_len(&dst)),
					     (ssize_t)len);
			}
		}
		/* collect this burst's reflections: until all came, or half a second of silence */
		while (got < good) {
			struct pollfd pf[FLOWS];

			for (int f = 0; f < FLOWS; f++)
				pf[f] = (struct pollfd){ .fd = s[f], .events = POLLIN };
			if (poll(pf, FLOWS, 500) <= 0)
				break;
			for (int f = 0; f < FLOWS; f++) {
				uint8_t p[2048];
				struct sockaddr_storage from;
				socklen_t fl = sizeof(from);
				ssize_t n = recvfrom(s[f], p, sizeof(p), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
				int64_t t4 = ntptime_now();
				struct wire_test_reflect m;
				char a[INET6_ADDRSTRLEN];

				if (n < 0)
					continue;
				cr_assert_eq((size_t)n, size, "a reflection is as large as what it answers");
				cr_assert_eq(wire_decode_test_reflect(p, (size_t)n, fmt, &m), 0);
				cr_assert_lt(m.sender_seq, BURSTS * PER_FLOW);
				cr_assert(!seen[f][m.sender_seq], "flow %d: sequence %u reflected twice", f,
					  m.sender_seq);
				seen[f][m.sender_seq] = true;
				cr_assert(m.sender_ts <= m.rx_ts, "T1 <= T2");
				cr_assert(m.rx_ts <= m.ts, "T2 <= T3");
				cr_assert(m.ts <= t4, "T3 <= T4");
				if (fmt == WIRE_TEST_STAMP)
					cr_assert_eq(m.ssid, 7);
				tsock_addr_unmap(&from);
				cr_assert_str_eq(tsock_addr_str(&from, a, sizeof(a)), to_ip,
						 "the reflection comes from the address it was sent to");
				t2[f][m.sender_seq] = m.rx_ts;
				got++;
			}
		}
	}
	/* nothing more may come: a duplicate would show here */
	for (int f = 0; f < FLOWS; f++)
		cr_assert(!readable(s[f], f ? 0 : 100), "flow %d: a reflection too many", f);
	cr_assert_eq(got, good, "%u of %u good packets reflected", got, good);
	/* T2 is each packet's own receive time: in order within a flow, and distinct */
	for (int f = 0; f < FLOWS; f++) {
		int64_t last = 0;
		unsigned distinct = 0, n = 0;

		for (int i = 0; i < BURSTS * PER_FLOW; i++) {
			if (!seen[f][i])
				continue;
			cr_assert_geq(t2[f][i], last, "flow %d: T2 goes back at %d", f, i);
			distinct += t2[f][i] != last;
			last = t2[f][i];
			n++;
		}
		cr_assert_geq(distinct * 10, n * 9, "flow %d: only %u distinct T2 of %u", f, distinct, n);
	}
	for (int i = 0; i < 100; i++) {
		responder_counters(r, &k);
		if (k.rx == good + bad && k.reflected == good)
			break;
		usleep(10000);
	}
	cr_assert_eq(k.rx, good + bad);
	cr_assert_eq(k.reflected, good);
	cr_assert_eq(k.malformed, bad);
	for (int f = 0; f < FLOWS; f++)
		close(s[f]);
	responder_stop(r);
}

Test(refl_batch, light_bursts_ipv4) { burst("127.0.0.1", "127.0.0.1", WIRE_TEST_OPEN); }
Test(refl_batch, stamp_bursts_ipv4) { burst("127.0.0.1", "127.0.0.1", WIRE_TEST_STAMP); }
Test(refl_batch, light_bursts_ipv6) { burst("::1", "::1", WIRE_TEST_OPEN); }
/* a wildcard reflector answers from the address each packet was sent to */
Test(refl_batch, light_bursts_wildcard_source) { burst("0.0.0.0", "127.0.0.5", WIRE_TEST_OPEN); }

/* A UDP socket bound to ip:port (a port number one of the responder's sockets uses elsewhere). */
static int udp_socket_port(const char *ip, uint16_t port)
{
	struct sockaddr_storage a;
	int fd;

	run_addr(&a, ip, port);
	fd = socket(a.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert(fd >= 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, tsock_addr_len(&a)), 0, "bind %s:%u: %s", ip, port,
		     strerror(errno));
	return fd;
}

static void send_test(int fd, const char *ip, uint16_t port, uint32_t seq)
{
	struct sockaddr_storage to;
	struct wire_test_sender snd = { .seq = seq, .ts = ntptime_now() };
	uint8_t p[60];

	memset(p, 0, sizeof(p));
	wire_encode_test_sender(p, sizeof(p), WIRE_TEST_OPEN, &snd);
	run_addr(&to, ip, port);
	cr_assert_eq(sendto(fd, p, sizeof(p), 0, (struct sockaddr *)&to, tsock_addr_len(&to)), (ssize_t)sizeof(p));
}

/*
 * Loop guard (issue 13): a datagram from this host whose source port is one
 * of the responder's reflector ports is never answered, IPv4 and IPv6; a
 * datagram from any other port of the same address is.
 */
Test(refl_batch, loop_guard_own_ports)
{
	struct refl_config c;
	struct responder *r;
	struct refl_counters k;
	uint16_t p4, p6;
	int from_p6_v4, from_p4_v6, plain;
	unsigned got = 0;

	refl_config_default(&c);
	c.nlisten = 0;
	c.nlight = 2;
	c.nworkers = 1;
	run_addr(&c.light[0], "127.0.0.1", 0);
	run_addr(&c.light[1], "::1", 0);
	r = responder_start(&c);
	cr_assert_not_null(r);
	p4 = responder_light_port(r, 0);
	p6 = responder_light_port(r, 1);
	/* 127.0.0.1:<the IPv6 light port> -> the IPv4 light port, and [::1]:<the IPv4 one> -> the IPv6 one */
	from_p6_v4 = udp_socket_port("127.0.0.1", p6);
	from_p4_v6 = udp_socket_port("::1", p4);
	plain = udp_socket("127.0.0.1");
	for (uint32_t i = 0; i < 10; i++) {
		send_test(from_p6_v4, "127.0.0.1", p4, i);
		send_test(from_p4_v6, "::1", p6, i);
	}
	send_test(plain, "127.0.0.1", p4, 99);
	cr_assert(readable(plain, 2000), "an ordinary sender is answered");
	for (int i = 0; i < 100; i++) {
		responder_counters(r, &k);
		if (k.rx == 21)
			break;
		usleep(10000);
	}
	cr_assert_eq(k.rx, 21);
	cr_assert_eq(k.looped, 20, "20 datagrams from our own ports dropped, not %llu",
		     (unsigned long long)k.looped);
	cr_assert_eq(k.reflected, 1);
	while (readable(from_p6_v4, 100) && recv(from_p6_v4, &got, sizeof(got), 0) >= 0)
		got++;
	while (readable(from_p4_v6, 100) && recv(from_p4_v6, &got, sizeof(got), 0) >= 0)
		got++;
	cr_assert_eq(got, 0, "no reflection went to a reflector port");
	close(from_p6_v4);
	close(from_p4_v6);
	close(plain);
	responder_stop(r);
}
