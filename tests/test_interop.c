/*
 * Interoperability tests: live sessions over loopback against the bytes that
 * real, independent TWAMP peers put on the wire (perfSONAR owamp twping and
 * twampd 5.2.3, nokia twampy 1.3.2; captures and their provenance in
 * tests/data/interop/NOTES.md).
 *
 *  1. replay_twampd / replay_twampy: a scripted server in a thread of the test
 *     plays twampd's captured server->client control bytes to OUR CLIENT, over
 *     a real TCP connection, one message after each client message, with one
 *     change (the Port of Accept-Session names the scripted reflector).  The
 *     scripted reflector answers in twampd's (41 octets) or twampy's (38
 *     octets) format, built from a captured reflection with wire.h encoders.
 *  2. responder_interop: a scripted client plays the captured client->server
 *     control bytes and test packets of twping and twampy to OUR RESPONDER
 *     (in-process, listening on 127.0.0.1 / [::1] port 0), message by message,
 *     and checks every answer with wire.h decoders and raw octets.
 *  3. responder_robust: misbehaving clients over real TCP; the responder must
 *     count them, close them and still serve a good session afterwards.
 *
 * Every socket of the test has a poll()/SO_RCVTIMEO bound and every test a
 * Criterion timeout, so nothing can hang.  Only ephemeral ports are used.
 * Run from the repository root (the captures are found by relative path).
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ctlchan.h"
#include "ntptime.h"
#include "reflector.h"
#include "session.h"
#include "stats.h"
#include "tsock.h"
#include "util/testhex.h"
#include "util/pcap.h"
#include "wire.h"
#include "worker.h"

#define DATA_DIR "tests/data/interop/"

#define CAP_OPEN "owamp-twping-twampd-open.pcap"
#define CAP_IPV6 "owamp-twping-twampd-open-ipv6.pcap"
#define CAP_AF41 "owamp-twping-twampd-open-dscp-af41-pad64.pcap"
#define CAP_TWAMPY "twampy-controller-twampd-open.pcap"
#define CAP_LIGHT "twampy-sender-responder-light.pcap"

/* Control ports of twampd in the captures (NOTES.md). */
#define PORT_OPEN 8620
#define PORT_IPV6 8621
#define PORT_TWAMPY 862

/* Offsets of the messages in the two control streams of an open-mode capture. */
#define S2C_GREETING 0
#define S2C_SERVER_START 64
#define S2C_ACCEPT 112
#define S2C_START_ACK 160
#define S2C_LEN 192
#define C2S_SETUP 0
#define C2S_REQUEST 164
#define C2S_START 276
#define C2S_STOP 308
#define C2S_LEN 340

#define IO_MS 3000          /* bound on any single blocking step */
#define NO_ANSWER_MS 150    /* how long "not answered" is waited for */
#define TEST_TIMEOUT 20     /* Criterion timeout of every test, s */

/* ---- small helpers ----------------------------------------------------- */

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* 127.0.0.1 or ::1 (or ip when given) with port. */
static void addr_make(struct sockaddr_storage *ss, int family, const char *ip, uint16_t port)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		cr_assert_eq(inet_pton(AF_INET6, ip ? ip : "::1", &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		cr_assert_eq(inet_pton(AF_INET, ip ? ip : "127.0.0.1", &s4->sin_addr), 1);
	}
}

static socklen_t addr_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static uint16_t addr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

static bool addr_same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET6)
		return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			       &((const struct sockaddr_in6 *)b)->sin6_addr, 16);
	return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
	       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
}

static void set_io_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = IO_MS / 1000, .tv_usec = (IO_MS % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/*
 * A UDP socket on ip (default loopback), ephemeral port, TTL / hop limit 255
 * as RFC 5357 senders use, reception of TTL and TOS on.  tos >= 0 marks what
 * it sends.  Returns the fd (-1 on failure: the caller may be a thread that
 * must not assert) and the port.
 */
static int udp_open(int family, const char *ip, int tos, uint16_t *port)
{
	struct sockaddr_storage a;
	socklen_t len = sizeof(a);
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1, ttl = 255;

	if (fd < 0)
		return -1;
	if (family == AF_INET6) {
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof(ttl)) < 0 ||
		    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof(one)) < 0 ||
		    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, &one, sizeof(one)) < 0 ||
		    (tos >= 0 && setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof(tos)) < 0))
			goto fail;
	} else {
		if (setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl)) < 0 ||
		    setsockopt(fd, IPPROTO_IP, IP_RECVTTL, &one, sizeof(one)) < 0 ||
		    setsockopt(fd, IPPROTO_IP, IP_RECVTOS, &one, sizeof(one)) < 0 ||
		    (tos >= 0 && setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos)) < 0))
			goto fail;
	}
	memset(&a, 0, sizeof(a));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a;

		s6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, ip ? ip : "::1", &s6->sin6_addr) != 1)
			goto fail;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&a;

		s4->sin_family = AF_INET;
		if (inet_pton(AF_INET, ip ? ip : "127.0.0.1", &s4->sin_addr) != 1)
			goto fail;
	}
	if (bind(fd, (struct sockaddr *)&a, addr_len(&a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		goto fail;
	set_io_timeouts(fd);
	*port = addr_port(&a);
	return fd;
fail:
	close(fd);
	return -1;
}

/* One received datagram with what the kernel said about it. */
struct dgram {
	uint8_t buf[2048];
	size_t len;
	int ttl, tos;            /* -1 unknown */
	int64_t rx_time;         /* CLOCK_REALTIME ns right after recvmsg */
	struct sockaddr_storage from;
	socklen_t fromlen;
};

/* Wait up to timeout_ms for a datagram: 1, or 0 on timeout, -1 on error. */
static int udp_recv(int fd, struct dgram *d, int timeout_ms)
{
	int64_t deadline = mono_ms() + timeout_ms;

	for (;;) {
		union {
			char b[256];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { .iov_base = d->buf, .iov_len = sizeof(d->buf) };
		struct msghdr msg = {
			.msg_name = &d->from, .msg_namelen = sizeof(d->from),
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = ctl.b, .msg_controllen = sizeof(ctl.b),
		};
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int left = (int)(deadline - mono_ms());
		ssize_t n;

		if (left < 0)
			left = 0;
		if (poll(&pfd, 1, left) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		n = recvmsg(fd, &msg, MSG_DONTWAIT);
		if (n < 0) {
			if ((errno == EAGAIN || errno == EINTR || errno == ECONNREFUSED) &&
			    mono_ms() < deadline)
				continue;
			return errno == EAGAIN ? 0 : -1;
		}
		d->rx_time = ntptime_now();
		d->len = (size_t)n;
		d->fromlen = msg.msg_namelen;
		d->ttl = d->tos = -1;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
			int v;

			if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) {
				memcpy(&v, CMSG_DATA(c), sizeof(v));
				d->ttl = v;
			} else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS) {
				d->tos = *(const unsigned char *)CMSG_DATA(c);
			} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT) {
				memcpy(&v, CMSG_DATA(c), sizeof(v));
				d->ttl = v;
			} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS) {
				memcpy(&v, CMSG_DATA(c), sizeof(v));
				d->tos = v;
			}
		}
		return 1;
	}
}

/* Read exactly n octets within timeout_ms: n, fewer on EOF, -1 on error/timeout. */
static ssize_t read_exact(int fd, uint8_t *buf, size_t n, int timeout_ms)
{
	int64_t deadline = mono_ms() + timeout_ms;
	size_t got = 0;

	while (got < n) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int left = (int)(deadline - mono_ms()), rc;
		ssize_t k;

		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		rc = poll(&pfd, 1, left);
		if (rc < 0 && errno != EINTR)
			return -1;
		if (rc <= 0)
			continue;
		k = recv(fd, buf + got, n - got, MSG_DONTWAIT);
		if (k < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -1;
		}
		if (k == 0)
			break;
		got += (size_t)k;
	}
	return (ssize_t)got;
}

static int write_all(int fd, const uint8_t *buf, size_t n)
{
	while (n) {
		ssize_t k = send(fd, buf, n, MSG_NOSIGNAL);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += k;
		n -= (size_t)k;
	}
	return 0;
}

enum peer_end { END_TIMEOUT = 0, END_CLOSED = 1, END_DATA = 2 };

/*
 * Wait for the peer to close: END_CLOSED on EOF or reset, END_DATA if it
 * sent something instead, END_TIMEOUT if neither happened in time.
 */
static enum peer_end wait_closed(int fd, int timeout_ms)
{
	uint8_t b[256];
	ssize_t k = read_exact(fd, b, 1, timeout_ms);

	if (k == 0 || (k < 0 && (errno == ECONNRESET || errno == EPIPE)))
		return END_CLOSED;
	return k > 0 ? END_DATA : END_TIMEOUT;
}

static int tcp_connect(int family, uint16_t port)
{
	struct sockaddr_storage a;
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0, "socket: %s", strerror(errno));
	set_io_timeouts(fd);
	addr_make(&a, family, NULL, port);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, addr_len(&a)), 0,
		     "connect to our responder on port %u: %s", port, strerror(errno));
	return fd;
}

/* ---- the captures ------------------------------------------------------ */

struct capture {
	struct pcap_file pf;
	int family;
	uint16_t ctl_port, cli_ctl_port;      /* TCP, server and client side */
	uint16_t cli_test_port, refl_test_port;
	uint8_t *c2s, *s2c;                   /* control streams */
	size_t c2s_len, s2c_len;
};

static void capture_load(struct capture *c, const char *file, uint16_t ctl_port)
{
	char path[256];
	struct wire_request rq;
	struct wire_accept_session as;

	memset(c, 0, sizeof(*c));
	snprintf(path, sizeof(path), DATA_DIR "%s", file);
	cr_assert_eq(pcap_load(path, &c->pf), 0, "cannot load %s (run the tests from the repository root)",
		     path);
	c->ctl_port = ctl_port;
	c->cli_ctl_port = pcap_tcp_client_port(&c->pf, ctl_port);
	cr_assert_neq(c->cli_ctl_port, 0, "%s: no TCP connection to port %u", file, ctl_port);
	cr_assert_eq(pcap_tcp_stream(&c->pf, c->cli_ctl_port, ctl_port, &c->c2s, &c->c2s_len), 0);
	cr_assert_eq(pcap_tcp_stream(&c->pf, ctl_port, c->cli_ctl_port, &c->s2c, &c->s2c_len), 0);
	/* no retransmissions, no extra messages: the offsets above hold */
	cr_assert_eq(c->c2s_len, C2S_LEN, "%s: client->server stream is %zu octets", file, c->c2s_len);
	cr_assert_eq(c->s2c_len, S2C_LEN, "%s: server->client stream is %zu octets", file, c->s2c_len);
	cr_assert_eq(wire_decode_request(c->c2s + C2S_REQUEST, WIRE_REQUEST_LEN, &rq), 0);
	cr_assert_eq(wire_decode_accept_session(c->s2c + S2C_ACCEPT, WIRE_ACCEPT_SESSION_LEN, &as), 0);
	c->cli_test_port = rq.sender_port;
	c->refl_test_port = as.port;
	cr_assert_eq(pcap_count_udp(&c->pf, c->cli_test_port, c->refl_test_port), 10,
		     "%s: expected 10 sender test packets %u -> %u", file, c->cli_test_port,
		     c->refl_test_port);
	c->family = c->pf.frames[0].family;
	cr_assert(c->family == AF_INET || c->family == AF_INET6);
}

static void capture_free(struct capture *c)
{
	free(c->c2s);
	free(c->s2c);
	pcap_free(&c->pf);
}

/* First UDP payload src_port -> dst_port of a capture, copied. */
static size_t capture_udp(const struct pcap_file *pf, uint16_t sport, uint16_t dport,
			  uint8_t *out, size_t cap)
{
	size_t pos = 0;
	const struct pcap_frame *f = pcap_next_udp(pf, &pos, sport, dport);

	cr_assert_not_null(f, "no UDP %u -> %u in the capture", sport, dport);
	cr_assert_leq(f->payload_len, cap);
	memcpy(out, f->payload, f->payload_len);
	return f->payload_len;
}

/* ---- 1. scripted twampd / twampy against our client ------------------- */

enum refl_style {
	STYLE_TWAMPD,   /* 41 octets, RFC 5357 layout, T3 after T2 */
	STYLE_TWAMPY,   /* 38 octets: no MBZ + Sender TTL; T3 == T2 */
};

struct fake {
	/* set up by the test before the thread starts */
	const struct capture *cap;     /* NULL: light, no control connection */
	uint8_t tmpl[64];              /* a captured reflection */
	size_t tmpl_len;
	enum refl_style style;
	unsigned drop_every;           /* drop every Nth test packet (0: none) */
	int family;
	int lfd, ufd;
	uint16_t ctl_port, udp_port;
	atomic_bool quit;              /* light: the client is done */
	pthread_t th;

	/* results: read only after pthread_join */
	uint8_t setup[WIRE_SETUP_LEN], request[WIRE_REQUEST_LEN], start[WIRE_START_SESSIONS_LEN];
	uint8_t stop[64];
	size_t stop_len;
	unsigned rx_at_stop;
	bool eof;
	unsigned rx, reflected, dropped;
	uint32_t dropped_seq[16];
	size_t len_min, len_max;
	int ttl_min, ttl_max, tos_min, tos_max;
	uint32_t rseq;
	char err[256];
};

/* The first problem the scripted peer met (the thread cannot assert). */
static void fake_fail(struct fake *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fake_fail(struct fake *f, const char *fmt, ...)
{
	va_list ap;

	if (f->err[0])
		return;
	va_start(ap, fmt);
	vsnprintf(f->err, sizeof(f->err), fmt, ap);
	va_end(ap);
}

static void fake_error(struct fake *f, const char *what)
{
	fake_fail(f, "scripted peer: %s: %s", what, errno ? strerror(errno) : "short read");
}

static void minmax(int v, int *lo, int *hi)
{
	if (*lo < 0 || v < *lo)
		*lo = v;
	if (*hi < 0 || v > *hi)
		*hi = v;
}

/* One test packet of our client: answer it as twampd (or twampy) would. */
static void fake_reflect(struct fake *f)
{
	struct dgram d;
	struct wire_test_sender snd;
	struct wire_test_reflect r;
	uint8_t out[64] = { 0 };
	int64_t t2;

	if (udp_recv(f->ufd, &d, 0) != 1)
		return;
	t2 = d.rx_time;
	f->rx++;
	if (f->rx == 1 || d.len < f->len_min)
		f->len_min = d.len;
	if (d.len > f->len_max)
		f->len_max = d.len;
	minmax(d.ttl, &f->ttl_min, &f->ttl_max);
	minmax(d.tos, &f->tos_min, &f->tos_max);
	if (wire_decode_test_sender(d.buf, d.len, WIRE_TEST_OPEN, &snd) < 0) {
		fake_fail(f, "undecodable test packet of %zu octets", d.len);
		return;
	}
	if ((snd.errest & 0xff) == 0)
		fake_fail(f, "Error Estimate 0x%04x has multiplier 0", snd.errest);
	if (snd.ts < t2 - NS_PER_SEC || snd.ts > t2 + NS_PER_MS)
		fake_fail(f, "packet %u: Timestamp is not the send time", snd.seq);
	if (f->drop_every && f->rx % f->drop_every == 0) {
		if (f->dropped < sizeof(f->dropped_seq) / sizeof(f->dropped_seq[0]))
			f->dropped_seq[f->dropped] = snd.seq;
		f->dropped++;
		return;
	}
	/* the captured reflection is the template; its own fields are replaced */
	memcpy(out, f->tmpl, f->tmpl_len);
	if (wire_decode_test_reflect(out, f->tmpl_len, WIRE_TEST_OPEN, &r) < 0) {
		fake_fail(f, "template does not decode");
		return;
	}
	r.seq = f->rseq++;
	r.rx_ts = t2;
	r.sender_seq = snd.seq;
	r.sender_ts = snd.ts;
	r.sender_errest = snd.errest;
	r.sender_ttl = d.ttl >= 0 ? (uint8_t)d.ttl : 0; /* what the client's packet carried */
	r.ssid = 0;
	r.ts = f->style == STYLE_TWAMPY ? t2 : ntptime_now();
	wire_encode_test_reflect(out, sizeof(out), WIRE_TEST_OPEN, &r);
	if (sendto(f->ufd, out, f->tmpl_len, 0, (struct sockaddr *)&d.from, d.fromlen) !=
	    (ssize_t)f->tmpl_len) {
		fake_error(f, "sendto");
		return;
	}
	f->reflected++;
}

/* Read the client's message into `in` (inlen octets), then send the server's msg. */
static int fake_step(struct fake *f, int cfd, uint8_t *in, size_t inlen, const uint8_t *msg,
		     size_t len, const char *what)
{
	if (in) {
		errno = 0;
		if (read_exact(cfd, in, inlen, IO_MS) != (ssize_t)inlen) {
			fake_error(f, what);
			return -1;
		}
	}
	if (msg && write_all(cfd, msg, len) < 0) {
		fake_error(f, "send");
		return -1;
	}
	return 0;
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	int cfd = -1;
	int64_t deadline = mono_ms() + 10000;

	if (f->cap) {
		const uint8_t *s2c = f->cap->s2c;
		uint8_t acc[WIRE_ACCEPT_SESSION_LEN];
		struct pollfd pfd = { .fd = f->lfd, .events = POLLIN };

		if (poll(&pfd, 1, IO_MS) != 1 || (cfd = accept(f->lfd, NULL, NULL)) < 0) {
			fake_error(f, "no control connection from the client");
			goto out;
		}
		set_io_timeouts(cfd);
		memcpy(acc, s2c + S2C_ACCEPT, sizeof(acc));
		put16(acc + 2, f->udp_port); /* the one change to twampd's bytes */
		if (fake_step(f, cfd, NULL, 0, s2c + S2C_GREETING, WIRE_GREETING_LEN, "greeting") ||
		    fake_step(f, cfd, f->setup, sizeof(f->setup), s2c + S2C_SERVER_START,
			      WIRE_SERVER_START_LEN, "Set-Up-Response") ||
		    fake_step(f, cfd, f->request, sizeof(f->request), acc, sizeof(acc),
			      "Request-TW-Session") ||
		    fake_step(f, cfd, f->start, sizeof(f->start), s2c + S2C_START_ACK,
			      WIRE_START_ACK_LEN, "Start-Sessions"))
			goto out;
	}
	/* test phase: reflect, and read what comes on the control connection */
	while (mono_ms() < deadline) {
		struct pollfd p[2] = { { .fd = f->ufd, .events = POLLIN }, { .fd = cfd, .events = POLLIN } };

		if (!f->cap && atomic_load(&f->quit))
			break;
		if (poll(p, cfd >= 0 ? 2 : 1, 20) < 0 && errno != EINTR)
			break;
		if (p[0].revents & POLLIN)
			fake_reflect(f);
		if (cfd >= 0 && p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t k = recv(cfd, f->stop + f->stop_len, sizeof(f->stop) - f->stop_len,
					 MSG_DONTWAIT);

			if (k > 0) {
				if (!f->stop_len)
					f->rx_at_stop = f->rx;
				f->stop_len += (size_t)k;
				if (f->stop_len == sizeof(f->stop))
					break;
			} else if (k == 0 || (errno != EAGAIN && errno != EINTR)) {
				f->eof = true;
				break;
			}
		}
	}
out:
	if (cfd >= 0)
		close(cfd);
	return NULL;
}

static void fake_start(struct fake *f, int family, const struct capture *cap)
{
	struct sockaddr_storage a;
	socklen_t len = sizeof(a);

	f->family = family;
	f->cap = cap;
	f->lfd = -1;
	f->ttl_min = f->ttl_max = f->tos_min = f->tos_max = -1;
	atomic_init(&f->quit, false);
	f->ufd = udp_open(family, NULL, -1, &f->udp_port);
	cr_assert_geq(f->ufd, 0, "scripted reflector socket: %s", strerror(errno));
	if (cap) {
		f->lfd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		cr_assert_geq(f->lfd, 0);
		addr_make(&a, family, NULL, 0);
		cr_assert_eq(bind(f->lfd, (struct sockaddr *)&a, addr_len(&a)), 0, "bind: %s",
			     strerror(errno));
		cr_assert_eq(listen(f->lfd, 4), 0);
		cr_assert_eq(getsockname(f->lfd, (struct sockaddr *)&a, &len), 0);
		f->ctl_port = addr_port(&a);
	}
	cr_assert_eq(pthread_create(&f->th, NULL, fake_main, f), 0);
}

static void fake_join(struct fake *f)
{
	atomic_store(&f->quit, true);
	pthread_join(f->th, NULL);
	if (f->lfd >= 0)
		close(f->lfd);
	close(f->ufd);
}

/* Our client, run to completion in this thread as `twamp-client ping` does. */
struct client_run {
	struct worker *wk;
	struct session_params p;
	struct session *s;
	bool done;
	struct stats_summary sum;
};

static void client_done(struct session *s, void *ctx)
{
	struct client_run *c = ctx;

	(void)s;
	c->done = true;
	wk_stop(c->wk);
}

static void client_start_job(struct worker *wk, void *arg)
{
	struct client_run *c = arg;

	c->s = session_start(wk, &c->p);
	if (!c->s)
		wk_stop(wk);
}

static void client_run(struct client_run *c)
{
	c->wk = wk_create(0, -1, 16);
	cr_assert_not_null(c->wk);
	c->p.on_done = client_done;
	c->p.ctx = c;
	cr_assert_eq(wk_submit(c->wk, client_start_job, c), 0);
	wk_run(c->wk);
	cr_assert_not_null(c->s, "session_start failed");
	cr_assert(c->done, "the loop ended before the session did");
	cr_assert_eq(stats_summarize(session_stats(c->s), &c->sum), 0);
}

static void client_free(struct client_run *c)
{
	session_free(c->s);
	wk_destroy(c->wk);
}

static void client_params(struct client_run *c, enum session_mode mode, int family, uint16_t port)
{
	memset(c, 0, sizeof(*c));
	session_params_default(&c->p);
	c->p.mode = mode;
	addr_make(&c->p.server, family, NULL, port);
	c->p.count = 10;
	c->p.interval = 20 * NS_PER_MS;
	c->p.loss_timeout = 300 * NS_PER_MS;
	c->p.ctl_timeout = 2 * NS_PER_SEC;
}

/*
 * Replay twampd's side of `file` to our client.  dscp: what the client asks
 * for; drop_every: the scripted reflector drops every Nth packet.
 */
static void replay_twampd(const char *file, uint16_t ctl_port, const char *sid_hex, int dscp,
			  unsigned drop_every)
{
	struct capture cap;
	struct fake *f = calloc(1, sizeof(*f));
	struct client_run c;
	const struct session_info *info;
	const struct stats *st;
	struct wire_setup su;
	struct wire_request rq;
	struct wire_start_sessions ss;
	struct wire_stop_sessions stop;
	uint8_t sid[16];
	int family;
	unsigned expect_lost;

	cr_assert_not_null(f);
	capture_load(&cap, file, ctl_port);
	family = cap.family;
	f->tmpl_len = capture_udp(&cap.pf, cap.refl_test_port, cap.cli_test_port, f->tmpl,
				  sizeof(f->tmpl));
	cr_assert_eq(f->tmpl_len, WIRE_TEST_REFLECT_LEN, "twampd reflections are 41 octets");
	f->style = STYLE_TWAMPD;
	f->drop_every = drop_every;
	fake_start(f, family, &cap);

	client_params(&c, SESSION_CONTROL, family, f->ctl_port);
	c.p.dscp = dscp;
	client_run(&c);
	fake_join(f);
	info = session_info(c.s);
	st = session_stats(c.s);

	cr_assert_str_empty(f->err, "%s", f->err);
	cr_assert_eq(info->status, SESSION_OK, "session: %s: %s", session_status_name(info->status),
		     info->error);

	/* the session twampd's bytes described */
	hex2bin_exact(sid_hex, sid, sizeof(sid));
	cr_assert(!memcmp(cap.s2c + S2C_ACCEPT + 4, sid, 16), "the capture holds SID %s", sid_hex);
	cr_assert(info->have_sid);
	cr_assert(!memcmp(info->sid, sid, 16), "our client took another SID than twampd's %s", sid_hex);
	cr_assert_eq(info->remote_test.ss_family, family);
	cr_assert_eq(addr_port(&info->remote_test), f->udp_port,
		     "client sent to port %u, Accept-Session named %u", addr_port(&info->remote_test),
		     f->udp_port);

	/* what our client said on the control connection */
	cr_assert_eq(wire_decode_setup(f->setup, sizeof(f->setup), &su), 0);
	cr_assert_eq(su.mode, WIRE_MODE_OPEN, "Set-Up-Response Mode %u", su.mode);
	cr_assert(all_zero(f->setup + 4, WIRE_SETUP_LEN - 4), "open mode: KeyID, Token, Client-IV zero");
	cr_assert_eq(wire_decode_request(f->request, sizeof(f->request), &rq), 0,
		     "Request-TW-Session does not decode (octet 0 = %u)", f->request[0]);
	cr_assert_eq(rq.ipvn, family == AF_INET6 ? 6 : 4);
	cr_assert_eq(rq.conf_sender, 0);
	cr_assert_eq(rq.conf_receiver, 0);
	cr_assert_eq(rq.padding, 27, "padding %u (twping's open-mode default is 27)", rq.padding);
	cr_assert_eq(rq.typep, wire_typep_from_dscp((uint8_t)dscp), "Type-P 0x%08x", rq.typep);
	cr_assert_eq(rq.typep, (uint32_t)dscp << 24);
	cr_assert(rq.timeout >= c.p.loss_timeout - NS_PER_US && rq.timeout <= c.p.loss_timeout + NS_PER_US,
		  "Timeout %lld ns, loss timeout %lld ns", (long long)rq.timeout,
		  (long long)c.p.loss_timeout);
	cr_assert(rq.start_time > ntptime_now() - 10 * NS_PER_SEC &&
		  rq.start_time < ntptime_now() + 10 * NS_PER_SEC, "Start Time is not about now");
	cr_assert_eq(rq.sender_port, addr_port(&info->local_test));
	cr_assert_neq(rq.sender_port, 0);
	if (family == AF_INET) {
		static const uint8_t lo4[16] = { 127, 0, 0, 1 };

		cr_assert(!memcmp(rq.sender.b, lo4, 16), "Sender Address is not 127.0.0.1");
		cr_assert(!memcmp(rq.receiver.b, lo4, 16), "Receiver Address is not 127.0.0.1");
	} else {
		static const uint8_t lo6[16] = { [15] = 1 };

		cr_assert(!memcmp(rq.sender.b, lo6, 16), "Sender Address is not ::1");
		cr_assert(!memcmp(rq.receiver.b, lo6, 16), "Receiver Address is not ::1");
	}
	cr_assert(all_zero(rq.sid, 16), "SID of a request is zero");
	cr_assert_eq(wire_decode_start_sessions(f->start, sizeof(f->start), &ss), 0,
		     "Start-Sessions octet 0 = %u", f->start[0]);

	/* after the test: Stop-Sessions, then the connection closed */
	cr_assert_eq(f->stop_len, WIRE_STOP_SESSIONS_LEN, "read %zu octets after Start-Ack", f->stop_len);
	cr_assert_eq(f->stop[0], WIRE_CMD_STOP_SESSIONS);
	cr_assert_eq(wire_decode_stop_sessions(f->stop, f->stop_len, &stop), 0);
	cr_assert_eq(stop.accept, 0);
	cr_assert_eq(stop.nsessions, 1, "Number of Sessions %u", stop.nsessions);
	cr_assert_eq(f->rx_at_stop, c.p.count, "Stop-Sessions came before the last test packet");
	cr_assert(f->eof, "our client did not close the control connection");

	/* what the scripted reflector saw */
	cr_assert_eq(f->rx, c.p.count);
	cr_assert_eq(f->len_min, 41);
	cr_assert_eq(f->len_max, 41);
	cr_assert_eq(f->ttl_min, 255, "client test packets leave with TTL %d", f->ttl_min);
	cr_assert_eq(f->ttl_max, 255);
	cr_assert_eq(f->tos_min, dscp << 2, "client test packets carry TOS 0x%02x", f->tos_min);
	cr_assert_eq(f->tos_max, dscp << 2);

	/* and what our client made of it */
	expect_lost = drop_every ? c.p.count / drop_every : 0;
	cr_assert_eq(f->dropped, expect_lost);
	cr_assert_eq(c.sum.sent, c.p.count);
	cr_assert_eq(c.sum.lost, f->dropped, "LOST %u, the reflector dropped %u", c.sum.lost, f->dropped);
	cr_assert_eq(c.sum.received, c.p.count - f->dropped);
	for (unsigned i = 0; i < f->dropped && i < 16; i++)
		cr_assert(!st->pkt[f->dropped_seq[i]].received, "packet %u was dropped but counts as received",
			  f->dropped_seq[i]);
	cr_assert_eq(c.sum.dups_fwd + c.sum.dups_bck + c.sum.unknown_seq, 0);
	cr_assert_eq(info->malformed, 0);
	cr_assert(c.sum.rtt.valid);
	cr_assert_gt(c.sum.rtt.min, 0, "RTT min %lld ns", (long long)c.sum.rtt.min);
	cr_assert_lt(c.sum.rtt.max, c.p.loss_timeout);
	cr_assert(c.sum.proc_valid && c.sum.proc_min >= 0);
	cr_assert_eq(c.sum.ttl_fwd_min, 255, "TTL FWD %d", c.sum.ttl_fwd_min);
	cr_assert_eq(c.sum.ttl_fwd_max, 255);
	/* error estimate: twampd's template says 0x0001 (S=0, multiplier 1) */
	cr_assert(!c.sum.sync);

	client_free(&c);
	capture_free(&cap);
	free(f);
}

Test(replay_twampd, open_ipv4, .timeout = TEST_TIMEOUT)
{
	replay_twampd(CAP_OPEN, PORT_OPEN, "7f000001eeb3b81c058aa86525684196", 0, 0);
}

Test(replay_twampd, open_ipv6, .timeout = TEST_TIMEOUT)
{
	replay_twampd(CAP_IPV6, PORT_IPV6, "00000001eeb3b83ae0a79357743bfcc9", 0, 0);
}

/* IPv6 with a DSCP (EF, 46): Type-P and the traffic class of our packets. */
Test(replay_twampd, ipv6_dscp_ef, .timeout = TEST_TIMEOUT)
{
	replay_twampd(CAP_IPV6, PORT_IPV6, "00000001eeb3b83ae0a79357743bfcc9", 46, 0);
}

/* Every third test packet dropped; the client asks for AF41 this time. */
Test(replay_twampd, drop_every_third_af41, .timeout = TEST_TIMEOUT)
{
	replay_twampd(CAP_OPEN, PORT_OPEN, "7f000001eeb3b81c058aa86525684196", 34, 3);
}

/* TWAMP Light against a reflector that answers as twampy does: 38 octets. */
Test(replay_twampy, light_38_octet_reflections, .timeout = TEST_TIMEOUT)
{
	struct pcap_file pf;
	struct fake *f = calloc(1, sizeof(*f));
	struct client_run c;
	const struct session_info *info;

	cr_assert_not_null(f);
	cr_assert_eq(pcap_load(DATA_DIR CAP_LIGHT, &pf), 0);
	f->tmpl_len = capture_udp(&pf, 20001, 20000, f->tmpl, sizeof(f->tmpl));
	pcap_free(&pf);
	cr_assert_eq(f->tmpl_len, WIRE_TEST_REFLECT_SHORT_LEN, "twampy reflections are 38 octets");
	f->style = STYLE_TWAMPY;
	fake_start(f, AF_INET, NULL);

	client_params(&c, SESSION_LIGHT, AF_INET, f->udp_port);
	client_run(&c);
	fake_join(f);
	info = session_info(c.s);

	cr_assert_str_empty(f->err, "%s", f->err);
	cr_assert_eq(info->status, SESSION_OK, "session: %s: %s", session_status_name(info->status),
		     info->error);
	cr_assert(!info->have_sid);
	cr_assert_eq(f->rx, c.p.count);
	cr_assert_eq(f->reflected, c.p.count);
	cr_assert_eq(f->len_min, 41);
	cr_assert_eq(f->len_max, 41);
	cr_assert_eq(info->malformed, 0, "%u reflections of 38 octets counted malformed", info->malformed);
	cr_assert_eq(c.sum.sent, c.p.count);
	cr_assert_eq(c.sum.received, c.p.count);
	cr_assert_eq(c.sum.lost, 0);
	cr_assert_eq(c.sum.ttl_fwd_min, -1, "a 38-octet reflection has no Sender TTL");
	cr_assert_eq(c.sum.ttl_fwd_max, -1);
	cr_assert_eq(c.sum.ttl_bck_min, 255, "the scripted reflector sends with TTL 255");
	cr_assert(c.sum.rtt.valid && c.sum.rtt.min > 0);
	cr_assert(c.sum.proc_valid);
	cr_assert_eq(c.sum.proc_max, 0, "twampy's T3 equals its T2");
	client_free(&c);
	free(f);
}

/* ---- 2. captured clients against our responder ------------------------- */

static struct responder *resp_start_on(struct refl_config *cfg, int family, const char *ip)
{
	struct responder *r;

	addr_make(&cfg->listen[0], family, ip, 0);
	cfg->nlisten = 1;
	r = responder_start(cfg);
	cr_assert_not_null(r, "responder_start failed");
	cr_assert_neq(responder_port(r, 0), 0);
	return r;
}

static struct responder *resp_start(struct refl_config *cfg, int family)
{
	return resp_start_on(cfg, family, NULL);
}

static uint64_t counter_at(struct responder *r, size_t off)
{
	struct refl_counters k;
	uint64_t v;

	responder_counters(r, &k);
	memcpy(&v, (const char *)&k + off, sizeof(v));
	return v;
}

/* The counter once it reached want (the responder runs in its own thread), or after 2 s. */
static uint64_t counter_wait(struct responder *r, size_t off, uint64_t want)
{
	int64_t deadline = mono_ms() + 2000;
	uint64_t v;

	while ((v = counter_at(r, off)) != want && mono_ms() < deadline)
		usleep(2000);
	return v;
}

#define COUNTER_IS(r, base, field, delta)                                                      \
	do {                                                                                   \
		uint64_t want_ = (base).field + (delta);                                       \
		uint64_t got_ = counter_wait((r), offsetof(struct refl_counters, field), want_); \
		cr_assert_eq(got_, want_, "responder counter " #field ": %llu, expected %llu", \
			     (unsigned long long)got_, (unsigned long long)want_);             \
	} while (0)

/* Connect, read and check the Server Greeting, send Set-Up-Response, check Server-Start. */
static int ctl_open(struct responder *r, int family, const struct capture *cap)
{
	int fd = tcp_connect(family, responder_port(r, 0));
	uint8_t b[WIRE_GREETING_LEN];
	struct wire_greeting g;
	struct wire_server_start ss;

	cr_assert_eq(read_exact(fd, b, WIRE_GREETING_LEN, IO_MS), WIRE_GREETING_LEN, "Server Greeting");
	cr_assert_eq(wire_decode_greeting(b, sizeof(b), &g), 0);
	cr_assert(g.modes & WIRE_MODE_OPEN, "Server Greeting Modes 0x%x lacks open mode", g.modes);
	cr_assert_geq(g.count, 1024, "Server Greeting Count %u", g.count);
	cr_assert(all_zero(b, 12), "Server Greeting Unused octets");
	cr_assert_eq(write_all(fd, cap->c2s + C2S_SETUP, WIRE_SETUP_LEN), 0);
	cr_assert_eq(read_exact(fd, b, WIRE_SERVER_START_LEN, IO_MS), WIRE_SERVER_START_LEN, "Server-Start");
	cr_assert_eq(wire_decode_server_start(b, WIRE_SERVER_START_LEN, &ss), 0);
	cr_assert_eq(ss.accept, WIRE_ACCEPT_OK, "Server-Start Accept %u", ss.accept);
	cr_assert(all_zero(b, 15), "Server-Start MBZ");
	cr_assert(all_zero(b + 40, 8), "Server-Start MBZ after Start-Time");
	cr_assert(ss.start_time > ntptime_now() - 60 * NS_PER_SEC && ss.start_time <= ntptime_now(),
		  "Server-Start Start-Time is not the responder's start");
	return fd;
}

/* Send a Request-TW-Session, return the decoded Accept-Session. */
static void ctl_request(int fd, const uint8_t *req, struct wire_accept_session *as)
{
	uint8_t b[WIRE_ACCEPT_SESSION_LEN];

	cr_assert_eq(write_all(fd, req, WIRE_REQUEST_LEN), 0);
	cr_assert_eq(read_exact(fd, b, sizeof(b), IO_MS), WIRE_ACCEPT_SESSION_LEN, "Accept-Session");
	cr_assert_eq(wire_decode_accept_session(b, sizeof(b), as), 0);
	cr_assert_eq(b[1], 0, "Accept-Session MBZ");
	cr_assert(all_zero(b + 20, 28), "Accept-Session MBZ and HMAC (open mode)");
}

static void check_sid(const uint8_t sid[16], int family)
{
	static const uint8_t v4[4] = { 0x7f, 0, 0, 1 }, v6[4] = { 0, 0, 0, 1 };
	uint64_t ntp = 0;
	int64_t t;

	cr_assert(!memcmp(sid, family == AF_INET6 ? v6 : v4, 4),
		  "SID starts %02x%02x%02x%02x, not the receiver address", sid[0], sid[1], sid[2], sid[3]);
	for (int i = 0; i < 8; i++)
		ntp = ntp << 8 | sid[4 + i];
	t = ntptime_from_ntp(ntp);
	cr_assert(t > ntptime_now() - 60 * NS_PER_SEC && t <= ntptime_now(),
		  "SID octets 4..11 are not a timestamp of now (RFC 4656 section 3.5)");
}

static void ctl_start(int fd, const struct capture *cap)
{
	uint8_t b[WIRE_START_ACK_LEN];
	struct wire_start_ack ack;

	cr_assert_eq(write_all(fd, cap->c2s + C2S_START, WIRE_START_SESSIONS_LEN), 0);
	cr_assert_eq(read_exact(fd, b, sizeof(b), IO_MS), WIRE_START_ACK_LEN, "Start-Ack");
	cr_assert_eq(wire_decode_start_ack(b, sizeof(b), &ack), 0);
	cr_assert(all_zero(b + 1, 31), "Start-Ack MBZ and HMAC (open mode)");
	cr_assert_eq(ack.accept, WIRE_ACCEPT_OK, "Start-Ack Accept %u", ack.accept);
}

static void ctl_stop(int fd, const struct capture *cap)
{
	cr_assert_eq(write_all(fd, cap->c2s + C2S_STOP, WIRE_STOP_SESSIONS_LEN), 0);
	cr_assert_eq(wait_closed(fd, IO_MS), END_CLOSED,
		     "the responder did not close the control connection after Stop-Sessions");
}

/* The captured request with the Sender Port made ours. */
static void request_for(const struct capture *cap, uint16_t udp_port, uint8_t req[WIRE_REQUEST_LEN])
{
	memcpy(req, cap->c2s + C2S_REQUEST, WIRE_REQUEST_LEN);
	put16(req + 12, udp_port);
}

/* Check one reflection of the sender packet snd (n octets) by our responder. */
static void check_reflection(const struct dgram *d, const uint8_t *snd, size_t n, size_t want_len,
			     uint32_t rseq, const struct sockaddr_storage *refl, int want_tos)
{
	struct wire_test_reflect r;
	int64_t now = ntptime_now();

	cr_assert_eq(d->len, want_len, "reflection of %zu octets, expected %zu", d->len, want_len);
	cr_assert(addr_same_ip(&d->from, refl) && addr_port(&d->from) == addr_port(refl),
		  "reflection from port %u, not from the reflector port %u", addr_port(&d->from),
		  addr_port(refl));
	/* the sender's Sequence Number, Timestamp and Error Estimate, verbatim */
	cr_assert(!memcmp(d->buf + 24, snd, 14), "sender fields not echoed exactly");
	cr_assert_eq(d->buf[14], 0);
	cr_assert_eq(d->buf[15], 0);
	cr_assert_eq(d->buf[38], 0);
	cr_assert_eq(d->buf[39], 0);
	cr_assert_eq(d->buf[40], 255, "Sender TTL %u, our packets leave with 255", d->buf[40]);
	cr_assert_neq(d->buf[13], 0, "Error Estimate multiplier 0 (RFC 4656 section 4.1.2)");
	cr_assert_eq(wire_decode_test_reflect(d->buf, d->len, WIRE_TEST_OPEN, &r), 0);
	cr_assert(r.ttl_known);
	cr_assert_eq(r.seq, rseq, "reflector sequence number %u, expected %u", r.seq, rseq);
	cr_assert_leq(r.rx_ts, r.ts, "T2 after T3");
	cr_assert(r.rx_ts > now - 5 * NS_PER_SEC && r.ts <= now + NS_PER_MS, "T2/T3 are not about now");
	if (n > WIRE_TEST_REFLECT_LEN && want_len == n)
		cr_assert(!memcmp(d->buf + WIRE_TEST_REFLECT_LEN, snd + WIRE_TEST_REFLECT_LEN,
				  n - WIRE_TEST_REFLECT_LEN),
			  "octets past the reflector header are not the sender's");
	if (want_tos >= 0)
		cr_assert_eq(d->tos, want_tos, "reflection TOS 0x%02x, expected 0x%02x", d->tos, want_tos);
}

struct replay_opts {
	const char *file;
	uint16_t ctl_port;
	bool pad_short;           /* responder config */
	int send_tos;             /* TOS of our test packets, -1 default */
	int want_tos;             /* TOS the reflections must carry, -1 unchecked */
	size_t want_len;          /* reflection length, 0: must not be answered */
	uint32_t stop_nsessions;  /* in the captured Stop-Sessions */
};

/*
 * One complete captured client session against r: control message by message,
 * the captured test packets, Stop-Sessions.  Counters are checked as deltas,
 * so it also serves as "a good session" after a misbehaving client.
 */
static void replay_client(struct responder *r, const struct replay_opts *o)
{
	struct capture cap;
	struct refl_counters base, k;
	struct wire_accept_session as;
	struct wire_stop_sessions stop;
	struct sockaddr_storage refl;
	struct dgram d;
	uint8_t req[WIRE_REQUEST_LEN];
	uint16_t uport;
	size_t pos = 0;
	const struct pcap_frame *fr;
	uint32_t nsent = 0;
	int fd, ufd;

	capture_load(&cap, o->file, o->ctl_port);
	cr_assert_eq(wire_decode_stop_sessions(cap.c2s + C2S_STOP, WIRE_STOP_SESSIONS_LEN, &stop), 0);
	cr_assert_eq(stop.nsessions, o->stop_nsessions, "the capture's Stop-Sessions");
	responder_counters(r, &base);
	ufd = udp_open(cap.family, NULL, o->send_tos, &uport);
	cr_assert_geq(ufd, 0, "test socket: %s", strerror(errno));

	fd = ctl_open(r, cap.family, &cap);
	request_for(&cap, uport, req);
	ctl_request(fd, req, &as);
	cr_assert_eq(as.accept, WIRE_ACCEPT_OK, "Accept-Session Accept %u: %s", as.accept,
		     wire_accept_str(as.accept));
	cr_assert_neq(as.port, 0, "Accept-Session Port 0");
	check_sid(as.sid, cap.family);
	COUNTER_IS(r, base, sessions, 1);
	ctl_start(fd, &cap);

	addr_make(&refl, cap.family, NULL, as.port);
	while ((fr = pcap_next_udp(&cap.pf, &pos, cap.cli_test_port, cap.refl_test_port))) {
		cr_assert_eq(sendto(ufd, fr->payload, fr->payload_len, 0, (struct sockaddr *)&refl,
				    addr_len(&refl)),
			     (ssize_t)fr->payload_len, "sendto: %s", strerror(errno));
		if (o->want_len) {
			cr_assert_eq(udp_recv(ufd, &d, IO_MS), 1, "test packet %u (%zu octets) not reflected",
				     nsent, fr->payload_len);
			check_reflection(&d, fr->payload, fr->payload_len, o->want_len, nsent, &refl,
					 o->want_tos);
		}
		nsent++;
	}
	cr_assert_eq(nsent, 10);
	COUNTER_IS(r, base, rx, nsent);
	if (!o->want_len) {
		cr_assert_eq(udp_recv(ufd, &d, NO_ANSWER_MS), 0,
			     "a %zu-octet reflection answered a shorter packet", d.len);
		COUNTER_IS(r, base, malformed, nsent);
		COUNTER_IS(r, base, reflected, 0);
	} else {
		COUNTER_IS(r, base, reflected, nsent);
		COUNTER_IS(r, base, malformed, 0);
	}

	ctl_stop(fd, &cap);
	close(fd);
	/* the session is gone: its port does not answer any more */
	pos = 0;
	fr = pcap_next_udp(&cap.pf, &pos, cap.cli_test_port, cap.refl_test_port);
	sendto(ufd, fr->payload, fr->payload_len, 0, (struct sockaddr *)&refl, addr_len(&refl));
	cr_assert_eq(udp_recv(ufd, &d, NO_ANSWER_MS), 0, "the session still reflects after Stop-Sessions");

	responder_counters(r, &k);
	cr_assert_eq(k.rx, base.rx + nsent, "a packet after Stop-Sessions reached a session");
	cr_assert_eq(k.connections, base.connections + 1);
	cr_assert_eq(k.sessions, base.sessions + 1);
	cr_assert_eq(k.refused, base.refused);
	cr_assert_eq(k.protocol_errors, base.protocol_errors);
	cr_assert_eq(k.foreign, base.foreign);
	cr_assert_eq(k.early, base.early);
	cr_assert_eq(k.dropped_loss, base.dropped_loss);
	/* the DSCP our test packets carried (0 when we left the TOS alone) */
	cr_assert(k.dscp_seen & (1ULL << (o->send_tos >= 0 ? o->send_tos >> 2 : 0)),
		  "dscp_seen 0x%llx", (unsigned long long)k.dscp_seen);
	close(ufd);
	capture_free(&cap);
}

static void responder_replay(const struct replay_opts *o, int family)
{
	struct refl_config cfg;
	struct responder *r;

	refl_config_default(&cfg);
	cfg.pad_short = o->pad_short;
	r = resp_start(&cfg, family);
	replay_client(r, o);
	responder_stop(r);
}

Test(responder_interop, twping_open_ipv4, .timeout = TEST_TIMEOUT)
{
	struct replay_opts o = { .file = CAP_OPEN, .ctl_port = PORT_OPEN, .send_tos = -1,
				 .want_tos = 0, .want_len = 41, .stop_nsessions = 1 };

	responder_replay(&o, AF_INET);
}

/* Type-P AF41 and 64 octets of padding: reflections of 78 octets, TOS 0x88. */
Test(responder_interop, twping_af41_pad64, .timeout = TEST_TIMEOUT)
{
	struct replay_opts o = { .file = CAP_AF41, .ctl_port = PORT_OPEN, .send_tos = 0x88,
				 .want_tos = 0x88, .want_len = 78, .stop_nsessions = 1 };

	responder_replay(&o, AF_INET);
}

Test(responder_interop, twping_open_ipv6, .timeout = TEST_TIMEOUT)
{
	struct replay_opts o = { .file = CAP_IPV6, .ctl_port = PORT_IPV6, .send_tos = -1,
				 .want_tos = 0, .want_len = 41, .stop_nsessions = 1 };

	responder_replay(&o, AF_INET6);
}

/*
 * twampy's 14-octet test packets in a control session: answered with 41
 * octets, as twampd did in the capture (the control peer asked for them),
 * with the Type-P DSCP of the request (0) although twampy's carry TOS 0x88.
 */
Test(responder_interop, twampy_short_packets_padded, .timeout = TEST_TIMEOUT)
{
	struct replay_opts o = { .file = CAP_TWAMPY, .ctl_port = PORT_TWAMPY, .send_tos = 0x88,
				 .want_tos = 0, .want_len = 41, .stop_nsessions = 0 };

	responder_replay(&o, AF_INET);
}

Test(responder_interop, twampy_pad_short, .timeout = TEST_TIMEOUT)
{
	struct replay_opts o = { .file = CAP_TWAMPY, .ctl_port = PORT_TWAMPY, .pad_short = true,
				 .send_tos = 0x88, .want_tos = 0, .want_len = 41, .stop_nsessions = 0 };

	responder_replay(&o, AF_INET);
}

/* The default listen address [::] (dual stack): twping over IPv4, then over IPv6. */
Test(responder_interop, twping_on_dual_stack_listener, .timeout = TEST_TIMEOUT)
{
	struct replay_opts o4 = { .file = CAP_OPEN, .ctl_port = PORT_OPEN, .send_tos = -1,
				  .want_tos = 0, .want_len = 41, .stop_nsessions = 1 };
	struct replay_opts o6 = { .file = CAP_IPV6, .ctl_port = PORT_IPV6, .send_tos = -1,
				  .want_tos = 0, .want_len = 41, .stop_nsessions = 1 };
	struct refl_config cfg;
	struct responder *r;

	refl_config_default(&cfg);
	r = resp_start_on(&cfg, AF_INET6, "::");
	replay_client(r, &o4);
	replay_client(r, &o6);
	replay_client(r, &o4);
	responder_stop(r);
}

/* Two workers share the listener: every captured client gets served, whichever takes it. */
Test(responder_interop, two_workers, .timeout = TEST_TIMEOUT)
{
	static const struct replay_opts o[] = {
		{ .file = CAP_OPEN, .ctl_port = PORT_OPEN, .send_tos = -1, .want_tos = 0,
		  .want_len = 41, .stop_nsessions = 1 },
		{ .file = CAP_AF41, .ctl_port = PORT_OPEN, .send_tos = 0x88, .want_tos = 0x88,
		  .want_len = 78, .stop_nsessions = 1 },
		{ .file = CAP_TWAMPY, .ctl_port = PORT_TWAMPY, .send_tos = 0x88, .want_tos = 0,
		  .want_len = 41, .stop_nsessions = 0 },
	};
	struct refl_config cfg;
	struct responder *r;
	struct refl_counters k;

	refl_config_default(&cfg);
	cfg.nworkers = 2;
	r = resp_start(&cfg, AF_INET);
	for (int round = 0; round < 2; round++)
		for (size_t i = 0; i < sizeof(o) / sizeof(o[0]); i++)
			replay_client(r, &o[i]);
	responder_counters(r, &k);
	cr_assert_eq(k.connections, 6);
	cr_assert_eq(k.sessions, 6);
	cr_assert_eq(k.reflected, 60);
	cr_assert_eq(k.malformed, 0);
	responder_stop(r);
}

/*
 * twampy's TWAMP-light sender packets (14 octets, TOS 0x88, Sequence Numbers
 * 0..9), exactly as captured, to our light port from two senders at once:
 * interleaved, sender A sending its ten packets `rounds` times.  Each
 * reflection is checked like a control session's, with the Sequence Number
 * and TOS the mode gives.
 */
struct light_opts {
	bool pad_short, stateful;
	int rounds;               /* of sender A; sender B sends once */
	bool answered;
};

static void light_replay(const struct light_opts *o)
{
	struct refl_config cfg;
	struct responder *r;
	struct refl_counters base;
	struct pcap_file pf;
	const struct pcap_frame *fr, *pk[10];
	struct sockaddr_storage refl;
	struct dgram d;
	size_t pos = 0, n = 0;
	uint16_t pa, pb;
	int a, b;
	uint32_t sent = 0;

	cr_assert_eq(pcap_load(DATA_DIR CAP_LIGHT, &pf), 0);
	while (n < 10 && (fr = pcap_next_udp(&pf, &pos, 20000, 20001)))
		pk[n++] = fr;
	cr_assert_eq(n, 10, "the capture holds ten sender packets");
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(pk[i]->payload_len, WIRE_TEST_SENDER_LEN, "twampy's sender packets are 14 octets");
		cr_assert_eq(pk[i]->tos, 0x88);
	}
	refl_config_default(&cfg);
	cfg.nlisten = 0;
	addr_make(&cfg.light[0], AF_INET, NULL, 0);
	cfg.nlight = 1;
	cfg.pad_short = o->pad_short;
	cfg.stateful = o->stateful;
	r = responder_start(&cfg);
	cr_assert_not_null(r);
	addr_make(&refl, AF_INET, NULL, responder_light_port(r, 0));
	responder_counters(r, &base);
	a = udp_open(AF_INET, NULL, pk[0]->tos, &pa);
	b = udp_open(AF_INET, NULL, pk[0]->tos, &pb);
	cr_assert(a >= 0 && b >= 0);
	for (int round = 0; round < o->rounds; round++) {
		for (size_t i = 0; i < n; i++) {
			int fds[2] = { a, b };

			for (int k = 0; k < (round == 0 ? 2 : 1); k++) {
				/* A: stateful counts on over its rounds; stateless returns twampy's 0..9 */
				uint32_t want_seq = o->stateful && k == 0 ? (uint32_t)(round * 10 + (int)i)
									  : (uint32_t)i;

				cr_assert_eq(sendto(fds[k], pk[i]->payload, pk[i]->payload_len, 0,
						    (struct sockaddr *)&refl, addr_len(&refl)),
					     (ssize_t)pk[i]->payload_len);
				sent++;
				if (!o->answered)
					continue;
				cr_assert_eq(udp_recv(fds[k], &d, IO_MS), 1, "sender %c packet %zu not reflected",
					     "AB"[k], i);
				check_reflection(&d, pk[i]->payload, pk[i]->payload_len, WIRE_TEST_REFLECT_LEN,
						 want_seq, &refl, pk[i]->tos);
			}
		}
	}
	COUNTER_IS(r, base, rx, sent);
	if (!o->answered) {
		cr_assert_eq(udp_recv(a, &d, NO_ANSWER_MS), 0, "a %zu-octet reflection answered", d.len);
		cr_assert_eq(udp_recv(b, &d, NO_ANSWER_MS), 0, "a %zu-octet reflection answered", d.len);
		COUNTER_IS(r, base, malformed, sent);
		COUNTER_IS(r, base, reflected, 0);
	} else {
		COUNTER_IS(r, base, reflected, sent);
		COUNTER_IS(r, base, malformed, 0);
	}
	close(a);
	close(b);
	responder_stop(r);
	pcap_free(&pf);
}

/* Without --pad-short a light port never answers with more than it got. */
Test(responder_interop, twampy_light_short_dropped, .timeout = TEST_TIMEOUT)
{
	struct light_opts o = { .rounds = 1, .answered = false };

	light_replay(&o);
}

/* --pad-short: 41 octets, the sender's own Sequence Number, the TOS received. */
Test(responder_interop, twampy_light_pad_short_stateless, .timeout = TEST_TIMEOUT)
{
	struct light_opts o = { .pad_short = true, .rounds = 2, .answered = true };

	light_replay(&o);
}

/* --stateful: each sender counts from 0 on its own (A: 0..19 over two rounds, B: 0..9). */
Test(responder_interop, twampy_light_pad_short_stateful, .timeout = TEST_TIMEOUT)
{
	struct light_opts o = { .pad_short = true, .stateful = true, .rounds = 2, .answered = true };

	light_replay(&o);
}

/* ---- 3. misbehaving clients ------------------------------------------- */

static const struct replay_opts good_session = {
	.file = CAP_OPEN, .ctl_port = PORT_OPEN, .send_tos = -1, .want_tos = 0, .want_len = 41,
	.stop_nsessions = 1,
};

Test(responder_robust, truncated_setup_response, .timeout = TEST_TIMEOUT)
{
	struct refl_config cfg;
	struct responder *r;
	struct capture cap;
	struct refl_counters base, k;
	uint8_t g[WIRE_GREETING_LEN];
	int fd;

	refl_config_default(&cfg);
	r = resp_start(&cfg, AF_INET);
	capture_load(&cap, CAP_OPEN, PORT_OPEN);
	responder_counters(r, &base);

	/* half a Set-Up-Response, then FIN: the responder must close too */
	fd = tcp_connect(AF_INET, responder_port(r, 0));
	cr_assert_eq(read_exact(fd, g, sizeof(g), IO_MS), WIRE_GREETING_LEN);
	cr_assert_eq(write_all(fd, cap.c2s + C2S_SETUP, 100), 0);
	usleep(20000);
	shutdown(fd, SHUT_WR);
	cr_assert_eq(wait_closed(fd, IO_MS), END_CLOSED, "the responder answered or kept the connection");
	close(fd);

	/* the same, closed at once, and again with only 1 octet */
	fd = tcp_connect(AF_INET, responder_port(r, 0));
	cr_assert_eq(read_exact(fd, g, sizeof(g), IO_MS), WIRE_GREETING_LEN);
	cr_assert_eq(write_all(fd, cap.c2s + C2S_SETUP, 163), 0);
	close(fd);
	fd = tcp_connect(AF_INET, responder_port(r, 0));
	cr_assert_eq(write_all(fd, cap.c2s + C2S_SETUP, 1), 0);
	close(fd);

	COUNTER_IS(r, base, connections, 3);
	responder_counters(r, &k);
	cr_assert_eq(k.sessions, base.sessions);
	replay_client(r, &good_session);
	capture_free(&cap);
	responder_stop(r);
}

Test(responder_robust, garbage_command, .timeout = TEST_TIMEOUT)
{
	struct refl_config cfg;
	struct responder *r;
	struct capture cap;
	struct refl_counters base;
	uint8_t junk[WIRE_START_SESSIONS_LEN];
	int fd;

	refl_config_default(&cfg);
	r = resp_start(&cfg, AF_INET);
	capture_load(&cap, CAP_OPEN, PORT_OPEN);
	responder_counters(r, &base);

	/* OWAMP's Request-Session (command 1) is no TWAMP command */
	fd = ctl_open(r, AF_INET, &cap);
	memcpy(junk, cap.c2s + C2S_START, sizeof(junk));
	junk[0] = 1;
	cr_assert_eq(write_all(fd, junk, sizeof(junk)), 0);
	cr_assert_eq(wait_closed(fd, IO_MS), END_CLOSED, "garbage command: connection not closed");
	close(fd);
	COUNTER_IS(r, base, protocol_errors, 1);

	/* a lone 0xff octet */
	fd = ctl_open(r, AF_INET, &cap);
	junk[0] = 0xff;
	cr_assert_eq(write_all(fd, junk, 1), 0);
	cr_assert_eq(wait_closed(fd, IO_MS), END_CLOSED, "garbage octet: connection not closed");
	close(fd);
	COUNTER_IS(r, base, protocol_errors, 2);

	replay_client(r, &good_session);
	capture_free(&cap);
	responder_stop(r);
}

Test(responder_robust, stalled_client_times_out, .timeout = TEST_TIMEOUT)
{
	struct refl_config cfg;
	struct responder *r;
	struct capture cap;
	struct refl_counters base;
	uint8_t g[WIRE_GREETING_LEN];
	int64_t t0, dt;
	int fd;

	refl_config_default(&cfg);
	cfg.ctl_timeout = 300 * NS_PER_MS;
	r = resp_start(&cfg, AF_INET);
	capture_load(&cap, CAP_OPEN, PORT_OPEN);
	responder_counters(r, &base);

	/* stalls after the greeting */
	fd = tcp_connect(AF_INET, responder_port(r, 0));
	t0 = mono_ms();
	cr_assert_eq(read_exact(fd, g, sizeof(g), IO_MS), WIRE_GREETING_LEN);
	cr_assert_eq(wait_closed(fd, IO_MS), END_CLOSED, "stalled client not closed");
	dt = mono_ms() - t0;
	cr_assert(dt >= 250 && dt < 2000, "closed after %lld ms, control timeout 300 ms", (long long)dt);
	close(fd);
	COUNTER_IS(r, base, protocol_errors, 1);

	/* stalls after Server-Start, half way through a Request-TW-Session */
	fd = ctl_open(r, AF_INET, &cap);
	t0 = mono_ms();
	cr_assert_eq(write_all(fd, cap.c2s + C2S_REQUEST, 50), 0);
	cr_assert_eq(wait_closed(fd, IO_MS), END_CLOSED, "stalled client not closed");
	dt = mono_ms() - t0;
	cr_assert(dt >= 250 && dt < 2000, "closed after %lld ms, control timeout 300 ms", (long long)dt);
	close(fd);
	COUNTER_IS(r, base, protocol_errors, 2);

	replay_client(r, &good_session);
	capture_free(&cap);
	responder_stop(r);
}

Test(responder_robust, conf_sender_refused, .timeout = TEST_TIMEOUT)
{
	struct refl_config cfg;
	struct responder *r;
	struct capture cap;
	struct refl_counters base, k;
	struct wire_accept_session as;
	uint8_t req[WIRE_REQUEST_LEN];
	uint16_t uport;
	int fd, ufd;

	refl_config_default(&cfg);
	r = resp_start(&cfg, AF_INET);
	capture_load(&cap, CAP_OPEN, PORT_OPEN);
	responder_counters(r, &base);
	ufd = udp_open(AF_INET, NULL, -1, &uport);
	cr_assert_geq(ufd, 0);

	fd = ctl_open(r, AF_INET, &cap);
	request_for(&cap, uport, req);
	req[2] = 1; /* Conf-Sender: TWAMP has no such role for the server */
	ctl_request(fd, req, &as);
	cr_assert_eq(as.accept, WIRE_ACCEPT_UNSUPPORTED, "Accept %u for Conf-Sender 1", as.accept);
	COUNTER_IS(r, base, refused, 1);
	responder_counters(r, &k);
	cr_assert_eq(k.sessions, base.sessions);

	/* Conf-Receiver 1 too */
	request_for(&cap, uport, req);
	req[3] = 1;
	ctl_request(fd, req, &as);
	cr_assert_eq(as.accept, WIRE_ACCEPT_UNSUPPORTED, "Accept %u for Conf-Receiver 1", as.accept);
	COUNTER_IS(r, base, refused, 2);

	/* the connection is still good: a proper request on it is accepted */
	request_for(&cap, uport, req);
	ctl_request(fd, req, &as);
	cr_assert_eq(as.accept, WIRE_ACCEPT_OK, "Accept %u after a refusal", as.accept);
	cr_assert_neq(as.port, 0);
	COUNTER_IS(r, base, sessions, 1);
	ctl_stop(fd, &cap);
	close(fd);
	close(ufd);

	replay_client(r, &good_session);
	capture_free(&cap);
	responder_stop(r);
}

/*
 * A client that does not wait for the answers: Set-Up-Response,
 * Request-TW-Session and Start-Sessions in one write.
 */
Test(responder_robust, pipelined_control_messages, .timeout = TEST_TIMEOUT)
{
	struct refl_config cfg;
	struct responder *r;
	struct capture cap;
	struct refl_counters base;
	struct wire_server_start ss;
	struct wire_accept_session as;
	struct wire_start_ack ack;
	uint8_t all[C2S_STOP], in[S2C_LEN];
	uint16_t uport;
	int fd, ufd;

	refl_config_default(&cfg);
	r = resp_start(&cfg, AF_INET);
	capture_load(&cap, CAP_OPEN, PORT_OPEN);
	responder_counters(r, &base);
	ufd = udp_open(AF_INET, NULL, -1, &uport);
	cr_assert_geq(ufd, 0);
	memcpy(all, cap.c2s, sizeof(all));
	put16(all + C2S_REQUEST + 12, uport);

	fd = tcp_connect(AF_INET, responder_port(r, 0));
	cr_assert_eq(write_all(fd, all, sizeof(all)), 0);
	cr_assert_eq(read_exact(fd, in, S2C_LEN, IO_MS), S2C_LEN, "answers to pipelined messages");
	cr_assert_eq(wire_decode_server_start(in + S2C_SERVER_START, WIRE_SERVER_START_LEN, &ss), 0);
	cr_assert_eq(ss.accept, 0);
	cr_assert_eq(wire_decode_accept_session(in + S2C_ACCEPT, WIRE_ACCEPT_SESSION_LEN, &as), 0);
	cr_assert_eq(as.accept, 0);
	cr_assert_neq(as.port, 0);
	cr_assert_eq(wire_decode_start_ack(in + S2C_START_ACK, WIRE_START_ACK_LEN, &ack), 0);
	cr_assert_eq(ack.accept, 0);
	COUNTER_IS(r, base, sessions, 1);
	ctl_stop(fd, &cap);
	close(fd);
	close(ufd);

	replay_client(r, &good_session);
	capture_free(&cap);
	responder_stop(r);
}

Test(responder_robust, foreign_and_early_test_packets, .timeout = TEST_TIMEOUT)
{
	struct refl_config cfg;
	struct responder *r;
	struct capture cap;
	struct refl_counters base, k;
	struct wire_accept_session as;
	struct sockaddr_storage refl;
	struct dgram d;
	const struct pcap_frame *fr;
	uint8_t req[WIRE_REQUEST_LEN];
	uint16_t uport, fport;
	size_t pos = 0;
	int fd, ufd, ffd;

	refl_config_default(&cfg);
	r = resp_start(&cfg, AF_INET);
	capture_load(&cap, CAP_OPEN, PORT_OPEN);
	fr = pcap_next_udp(&cap.pf, &pos, cap.cli_test_port, cap.refl_test_port);
	cr_assert_not_null(fr);
	responder_counters(r, &base);
	ufd = udp_open(AF_INET, NULL, -1, &uport);
	cr_assert_geq(ufd, 0);
	ffd = udp_open(AF_INET, "127.0.0.2", -1, &fport);
	cr_assert_geq(ffd, 0, "cannot bind 127.0.0.2: %s", strerror(errno));

	fd = ctl_open(r, AF_INET, &cap);
	request_for(&cap, uport, req);
	ctl_request(fd, req, &as);
	cr_assert_eq(as.accept, WIRE_ACCEPT_OK);
	addr_make(&refl, AF_INET, NULL, as.port);

	/* before Start-Sessions: dropped as early */
	cr_assert_eq(sendto(ufd, fr->payload, fr->payload_len, 0, (struct sockaddr *)&refl,
			    addr_len(&refl)), (ssize_t)fr->payload_len);
	cr_assert_eq(udp_recv(ufd, &d, NO_ANSWER_MS), 0, "a test packet before Start-Sessions was answered");
	COUNTER_IS(r, base, early, 1);

	ctl_start(fd, &cap);
	/* from 127.0.0.2, not the control peer 127.0.0.1: dropped as foreign */
	cr_assert_eq(sendto(ffd, fr->payload, fr->payload_len, 0, (struct sockaddr *)&refl,
			    addr_len(&refl)), (ssize_t)fr->payload_len);
	cr_assert_eq(udp_recv(ffd, &d, NO_ANSWER_MS), 0, "a test packet from a foreign address was answered");
	COUNTER_IS(r, base, foreign, 1);
	/* the session itself still works, from the right address */
	cr_assert_eq(sendto(ufd, fr->payload, fr->payload_len, 0, (struct sockaddr *)&refl,
			    addr_len(&refl)), (ssize_t)fr->payload_len);
	cr_assert_eq(udp_recv(ufd, &d, IO_MS), 1, "the session does not reflect any more");
	check_reflection(&d, fr->payload, fr->payload_len, 41, 0, &refl, 0);
	cr_assert_eq(udp_recv(ffd, &d, 0), 0, "the foreign sender got an answer after all");
	ctl_stop(fd, &cap);
	close(fd);
	close(ufd);
	close(ffd);
	responder_counters(r, &k);
	cr_assert_eq(k.reflected, base.reflected + 1);
	cr_assert_eq(k.rx, base.rx + 3);

	replay_client(r, &good_session);
	capture_free(&cap);
	responder_stop(r);
}

/* ---- 4. replayed twampd in the keyed modes against our client ------------ */

/*
 * twampd's side of the auth, encrypted and mixed captures, byte for byte:
 * the control messages exactly as captured (they are sealed with the
 * session keys twping chose, which our client is given), and each test
 * packet answered with the next captured reflection, unchanged.  Nothing is
 * re-encrypted by the test: what our client decrypts and authenticates is
 * what twampd sent.
 */
#define INTEROP_SECRET "twamp-interop-secret"

struct keyed_fake {
	const uint8_t *s2c;
	uint8_t refl[10][256];
	size_t refl_len[10];
	unsigned nrefl;
	int lfd, ufd;
	pthread_t th;
	/* results */
	uint8_t c2s[WIRE_SETUP_LEN + WIRE_REQUEST_LEN + WIRE_START_SESSIONS_LEN + WIRE_STOP_SESSIONS_LEN];
	unsigned rx, sent;
	size_t rx_len;
	bool eof;
	char err[256];
};

static void *keyed_main(void *arg)
{
	struct keyed_fake *f = arg;
	struct pollfd pfd = { .fd = f->lfd, .events = POLLIN };
	uint8_t *in = f->c2s;
	int cfd;

	if (poll(&pfd, 1, IO_MS) != 1 || (cfd = accept(f->lfd, NULL, NULL)) < 0) {
		snprintf(f->err, sizeof(f->err), "no control connection");
		return NULL;
	}
	set_io_timeouts(cfd);
	if (write_all(cfd, f->s2c + S2C_GREETING, WIRE_GREETING_LEN) < 0 ||
	    read_exact(cfd, in, WIRE_SETUP_LEN, IO_MS) != WIRE_SETUP_LEN ||
	    write_all(cfd, f->s2c + S2C_SERVER_START, WIRE_SERVER_START_LEN) < 0 ||
	    read_exact(cfd, in + WIRE_SETUP_LEN, WIRE_REQUEST_LEN, IO_MS) != WIRE_REQUEST_LEN ||
	    write_all(cfd, f->s2c + S2C_ACCEPT, WIRE_ACCEPT_SESSION_LEN) < 0 ||
	    read_exact(cfd, in + WIRE_SETUP_LEN + WIRE_REQUEST_LEN, WIRE_START_SESSIONS_LEN, IO_MS) !=
		    WIRE_START_SESSIONS_LEN ||
	    write_all(cfd, f->s2c + S2C_START_ACK, WIRE_START_ACK_LEN) < 0) {
		snprintf(f->err, sizeof(f->err), "control exchange broke off: %s", strerror(errno));
		close(cfd);
		return NULL;
	}
	for (int64_t deadline = mono_ms() + 5000; mono_ms() < deadline;) {
		struct pollfd p[2] = { { .fd = f->ufd, .events = POLLIN }, { .fd = cfd, .events = POLLIN } };
		struct dgram d;

		if (poll(p, 2, 20) < 0 && errno != EINTR)
			break;
		if ((p[0].revents & POLLIN) && udp_recv(f->ufd, &d, 0) == 1) {
			f->rx++;
			f->rx_len = d.len;
			if (f->sent < f->nrefl &&
			    sendto(f->ufd, f->refl[f->sent], f->refl_len[f->sent], 0, (struct sockaddr *)&d.from,
				   d.fromlen) == (ssize_t)f->refl_len[f->sent])
				f->sent++;
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t k = read_exact(cfd, in + WIRE_SETUP_LEN + WIRE_REQUEST_LEN + WIRE_START_SESSIONS_LEN,
					       WIRE_STOP_SESSIONS_LEN, IO_MS);

			f->eof = k == WIRE_STOP_SESSIONS_LEN && recv(cfd, &d.buf, 1, 0) == 0;
			break;
		}
	}
	close(cfd);
	return NULL;
}

static void replay_keyed(const char *file, uint32_t mode, const char *aes, const char *hmac,
			 const char *civ, const char *siv, size_t want_len)
{
	struct capture cap = { 0 };
	struct keyed_fake *f = calloc(1, sizeof(*f));
	struct ctlchan_keys keys;
	struct ctlchan cli, srv;
	struct wire_greeting g;
	struct wire_accept_session as;
	struct wire_request rq;
	struct sockaddr_storage a;
	socklen_t alen = sizeof(a);
	uint8_t setup[WIRE_SETUP_LEN], msg[WIRE_CONTROL_MAX_LEN], server_iv[16];
	struct client_run c;
	const struct session_info *info;
	char path[256];
	size_t pos = 0;
	const struct pcap_frame *fr;

	cr_assert_not_null(f);
	snprintf(path, sizeof(path), DATA_DIR "%s", file);
	cr_assert_eq(pcap_load(path, &cap.pf), 0, "cannot load %s", path);
	cap.cli_ctl_port = pcap_tcp_client_port(&cap.pf, PORT_OPEN);
	cr_assert_eq(pcap_tcp_stream(&cap.pf, cap.cli_ctl_port, PORT_OPEN, &cap.c2s, &cap.c2s_len), 0);
	cr_assert_eq(pcap_tcp_stream(&cap.pf, PORT_OPEN, cap.cli_ctl_port, &cap.s2c, &cap.s2c_len), 0);
	cr_assert_eq(cap.s2c_len, S2C_LEN);
	cr_assert_eq(cap.c2s_len, C2S_LEN);
	hex2bin_exact(aes, keys.aes_key, sizeof(keys.aes_key));
	hex2bin_exact(hmac, keys.hmac_key, sizeof(keys.hmac_key));
	hex2bin_exact(civ, keys.client_iv, sizeof(keys.client_iv));
	hex2bin_exact(siv, server_iv, sizeof(server_iv));

	/* where twampd reflected: from its sealed Accept-Session, opened with the keys */
	cr_assert_eq(wire_decode_greeting(cap.s2c, WIRE_GREETING_LEN, &g), 0);
	ctlchan_init(&cli, CTLCHAN_CLIENT);
	cr_assert_eq(ctlchan_client_setup(&cli, &g, mode, "probe", INTEROP_SECRET, strlen(INTEROP_SECRET),
					  &keys, setup), 0);
	memcpy(msg, cap.s2c + S2C_SERVER_START, WIRE_SERVER_START_LEN);
	cr_assert_eq(ctlchan_client_server_start(&cli, msg, WIRE_SERVER_START_LEN), 0);
	memcpy(msg, cap.s2c + S2C_ACCEPT, WIRE_ACCEPT_SESSION_LEN);
	cr_assert_eq(ctlchan_open(&cli, msg, WIRE_ACCEPT_SESSION_LEN), 0);
	cr_assert_eq(wire_decode_accept_session(msg, WIRE_ACCEPT_SESSION_LEN, &as), 0);
	ctlchan_fini(&cli);
	while ((fr = pcap_next_udp(&cap.pf, &pos, as.port, 0)) && f->nrefl < 10) {
		cr_assert_leq(fr->payload_len, sizeof(f->refl[0]));
		memcpy(f->refl[f->nrefl], fr->payload, fr->payload_len);
		f->refl_len[f->nrefl++] = fr->payload_len;
	}
	cr_assert_eq(f->nrefl, 10, "%s: %u reflections from port %u", file, f->nrefl, as.port);

	/* the scripted twampd: control on an ephemeral port, test port as captured */
	f->s2c = cap.s2c;
	f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	addr_make(&a, AF_INET, NULL, 0);
	cr_assert_eq(bind(f->lfd, (struct sockaddr *)&a, addr_len(&a)), 0);
	cr_assert_eq(listen(f->lfd, 2), 0);
	cr_assert_eq(getsockname(f->lfd, (struct sockaddr *)&a, &alen), 0);
	f->ufd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	{
		struct sockaddr_storage u;

		addr_make(&u, AF_INET, NULL, as.port);
		cr_assert_eq(bind(f->ufd, (struct sockaddr *)&u, addr_len(&u)), 0,
			     "UDP port %u (the captured reflector's) is busy: %s", as.port, strerror(errno));
	}
	cr_assert_eq(pthread_create(&f->th, NULL, keyed_main, f), 0);

	client_params(&c, SESSION_CONTROL, AF_INET, addr_port(&a));
	c.p.count = 10;
	c.p.allowed_modes = mode;
	snprintf(c.p.keyid, sizeof(c.p.keyid), "probe");
	c.p.secret = (const uint8_t *)INTEROP_SECRET;
	c.p.secret_len = strlen(INTEROP_SECRET);
	c.p.fixed_keys = &keys;
	client_run(&c);
	pthread_join(f->th, NULL);
	close(f->lfd);
	close(f->ufd);
	info = session_info(c.s);

	cr_assert_str_empty(f->err, "%s", f->err);
	cr_assert_eq(info->status, SESSION_OK, "%s: %s", session_status_name(info->status), info->error);
	cr_assert_eq(info->ctl_mode, mode);
	/* with twping's keys our Set-Up-Response is twping's, octet for octet */
	cr_assert_arr_eq(f->c2s, cap.c2s + C2S_SETUP, WIRE_SETUP_LEN, "Set-Up-Response differs from twping's");
	/* our sealed Request-TW-Session opens on a server channel keyed as twampd's was */
	ctlchan_init(&srv, CTLCHAN_SERVER);
	ctlchan_server_remember(&srv, &g);
	cr_assert_eq(ctlchan_server_setup(&srv, f->c2s, WIRE_SETUP_LEN, INTEROP_SECRET, strlen(INTEROP_SECRET)), 0);
	memcpy(msg, cap.s2c + S2C_SERVER_START, WIRE_SERVER_START_LEN);
	memset(msg + 32, 0, 16);
	cr_assert_eq(ctlchan_server_start(&srv, msg, WIRE_SERVER_START_LEN, server_iv), 0);
	memcpy(msg, f->c2s + WIRE_SETUP_LEN, WIRE_REQUEST_LEN);
	cr_assert_eq(ctlchan_open(&srv, msg, WIRE_REQUEST_LEN), 0, "our Request-TW-Session fails its HMAC");
	cr_assert_eq(wire_decode_request(msg, WIRE_REQUEST_LEN, &rq), 0);
	cr_assert_eq(rq.padding, want_len - (mode == WIRE_MODE_MIXED ? 14 : 48));
	ctlchan_fini(&srv);
	/* every captured reflection authenticated and counted */
	cr_assert_eq(f->rx, 10);
	cr_assert_eq(f->rx_len, want_len);
	cr_assert_eq(f->sent, 10);
	cr_assert_eq(c.sum.received, 10, "%u of twampd's 10 reflections accepted", c.sum.received);
	cr_assert_eq(info->malformed, 0);
	cr_assert(f->eof, "no Stop-Sessions and close");
	client_free(&c);
	capture_free(&cap);
	free(f);
}

Test(replay_twampd_keyed, authenticated, .timeout = TEST_TIMEOUT)
{
	replay_keyed("owamp-twping-twampd-auth.pcap", WIRE_MODE_AUTH, "2751fde35807dc20fc3d515e34a708e6",
		     "26dcd3a05bef2b3f5eb75313ebe388a60d2741d9b7c7d89d2ec8d97c1361a375",
		     "070c7bb74383376d3338273647362afa", "77e5fd85902e439bce523191a576d1a2", 112);
}

Test(replay_twampd_keyed, encrypted, .timeout = TEST_TIMEOUT)
{
	replay_keyed("owamp-twping-twampd-encrypted.pcap", WIRE_MODE_ENCRYPTED,
		     "73cb21494ef2d9111e35560cba931816",
		     "3a9ed7ed62b16c629a925017eedbf41d889becfcd1bab44e510baa8c716138b4",
		     "7c4dfbf540cc1221e3aad8be14afedaf", "7a08d11dddee6a8e3f776a53c770cd33", 112);
}

Test(replay_twampd_keyed, mixed, .timeout = TEST_TIMEOUT)
{
	replay_keyed("owamp-twping-twampd-mixed.pcap", WIRE_MODE_MIXED, "61f57173d072e92020c5ae5861597096",
		     "33f8d5931133d55fb11104fb5cc8d52ee790efe66eeeb4010c9bbc4ce45ab1e1",
		     "f1e4b9ed6391415f2ee7e9cf2b9fc730", "790ad191d9217246da9d2e3bb0dce078", 41);
}
