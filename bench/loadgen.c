/*
 * loadgen: the load generator of bench/responder-capacity.
 *
 *   loadgen light   --target ADDR:PORT [--flows F] [--stamp] [common options]
 *   loadgen control --target ADDR:PORT --sessions N [--per-conn K] [--flows F] [common options]
 *   common: [--rate PPS] [--duration S] [--window W] [--size OCTETS] [--hold S]
 *
 * light: F UDP sockets (F source ports) send TWAMP Light (or --stamp: STAMP)
 * test packets to one reflector address.  control: N TWAMP-Control sessions
 * (open mode, K test sessions on each connection, default 1, at most 256
 * handshakes at a time) are set up and started; then F UDP sockets send test packets round-robin over
 * the N session ports.  Packets go out with sendmmsg in batches of 64, paced
 * to --rate packets/s (0: as fast as the window allows), with at most
 * --window packets outstanding; replies are drained with recvmmsg.  Every
 * reply is matched to its packet through the echoed sender sequence number
 * (a bitmap: duplicates are counted, not credited).
 *
 * One thread, so it runs on one CPU (taskset it away from the responder).
 * The result is printed as key=value lines for the script: sent, received,
 * lost, dup, pps (replies/s), sessions, proc_p50_us/proc_p99_us (T3 - T2 as
 * the reflector wrote them), setup_s (time to set up the sessions).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ntptime.h"
#include "tsock.h"
#include "wire.h"

#define BATCH 64
#define PKT_MAX 1500
#define SEQ_CAP (1u << 27)      /* packets per run: the bitmap is 16 MiB */
#define HIST_US 100000          /* processing-time histogram: 1 us buckets up to 100 ms */
#define HANDSHAKES 256          /* control sessions being set up at once */

enum mode { M_LIGHT, M_CONTROL };

struct opts {
	enum mode mode;
	struct sockaddr_storage target;
	unsigned flows, sessions, window, size;
	unsigned per_conn;      /* test sessions requested on each control connection */
	double rate, duration, hold;
	bool stamp;
};

static int64_t mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* ---- control sessions ------------------------------------------------ */

enum cstate { CS_IDLE, CS_CONNECT, CS_GREETING, CS_START, CS_ACCEPT, CS_ACK, CS_HELD, CS_FAILED };

struct csess {
	int fd;
	enum cstate st;
	uint8_t rbuf[WIRE_CONTROL_MAX_LEN];
	size_t rlen, need;
	uint16_t ports[16];  /* the reflector's test ports */
	unsigned nports;
};

static int send_all(int fd, const uint8_t *buf, size_t len)
{
	/* a fresh connection's send buffer takes these few octets whole */
	return send(fd, buf, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

/* Send one control message and wait for the next answer, `need` octets in state `next`. */
static int csess_send(struct csess *s, const uint8_t *out, size_t len, enum cstate next, size_t need)
{
	if (send_all(s->fd, out, len) < 0)
		return -1;
	s->st = next;
	s->need = need;
	return 0;
}

/* Send one Request-TW-Session and wait for its Accept-Session. */
static int csess_step_request(struct csess *s, const struct opts *o, uint16_t sender_port)
{
	uint8_t out[WIRE_REQUEST_LEN];
	struct wire_request rq = { .ipvn = 4, .packets = 0, .sender_port = sender_port,
				   .padding = o->size > WIRE_TEST_REFLECT_LEN ? o->size - WIRE_TEST_SENDER_LEN : 27,
				   .timeout = 2 * NS_PER_SEC };

	memcpy(rq.sender.b, &((const struct sockaddr_in *)&o->target)->sin_addr, 4);
	memcpy(rq.receiver.b, &((const struct sockaddr_in *)&o->target)->sin_addr, 4);
	wire_encode_request(out, &rq);
	return csess_send(s, out, WIRE_REQUEST_LEN, CS_ACCEPT, WIRE_ACCEPT_SESSION_LEN);
}

/* Advance one session on a complete message; -1 fails it. */
static int csess_step(struct csess *s, const struct opts *o, uint16_t sender_port)
{
	uint8_t out[WIRE_SETUP_LEN];

	switch (s->st) {
	case CS_GREETING: {
		struct wire_greeting g;
		struct wire_setup su = { .mode = WIRE_MODE_OPEN };

		if (wire_decode_greeting(s->rbuf, s->rlen, &g) < 0 || !(g.modes & WIRE_MODE_OPEN))
			return -1;
		wire_encode_setup(out, &su);
		return csess_send(s, out, WIRE_SETUP_LEN, CS_START, WIRE_SERVER_START_LEN);
	}
	case CS_START: {
		struct wire_server_start ss;

		if (wire_decode_server_start(s->rbuf, s->rlen, &ss) < 0 || ss.accept != WIRE_ACCEPT_OK)
			return -1;
		return csess_step_request(s, o, sender_port);
	}
	case CS_ACCEPT: {
		struct wire_accept_session as;
		struct wire_start_sessions st = { 0 };

		if (wire_decode_accept_session(s->rbuf, s->rlen, &as) < 0) {
			return -1;
		}
		if (as.accept != WIRE_ACCEPT_OK) {
			static unsigned refused;

			if (!refused++)
				fprintf(stderr, "loadgen: session refused: %s (further refusals not shown)\n",
					wire_accept_str(as.accept));
			return -1;
		}
		s->ports[s->nports++] = as.port;
		if (s->nports < o->per_conn) {
			/* the next test session on the same connection: the same request again */
			return csess_step_request(s, o, sender_port);
		}
		wire_encode_start_sessions(out, &st);
		return csess_send(s, out, WIRE_START_SESSIONS_LEN, CS_ACK, WIRE_START_ACK_LEN);
	}
	case CS_ACK: {
		struct wire_start_ack ack;

		if (wire_decode_start_ack(s->rbuf, s->rlen, &ack) < 0 || ack.accept != WIRE_ACCEPT_OK)
			return -1;
		s->st = CS_HELD;
		return 0;
	}
	default:
		return -1;
	}
}

/* Set up nconn control connections; returns how many hold their sessions. */
static unsigned control_setup(const struct opts *o, struct csess *ss, unsigned nconn, uint16_t sender_port)
{
	int ep = epoll_create1(0);
	unsigned next = 0, busy = 0, held = 0, failed = 0;
	struct epoll_event evs[256];
	int64_t deadline = mono() + 120 * NS_PER_SEC;

	if (ep < 0)
		die("epoll_create1");
	while ((held + failed < nconn) && mono() < deadline) {
		while (busy < HANDSHAKES && next < nconn) {
			struct csess *s = &ss[next];
			struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.u32 = next };

			next++;
			s->fd = socket(o->target.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
			if (s->fd < 0) {
				fprintf(stderr, "loadgen: socket for session %u: %s\n", next, strerror(errno));
				s->st = CS_FAILED;
				failed++;
				continue;
			}
			if (connect(s->fd, (struct sockaddr *)&o->target, tsock_addr_len(&o->target)) < 0 &&
			    errno != EINPROGRESS) {
				fprintf(stderr, "loadgen: connect: %s\n", strerror(errno));
				close(s->fd);
				s->fd = -1;
				s->st = CS_FAILED;
				failed++;
				continue;
			}
			s->st = CS_CONNECT;
			epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev);
			busy++;
		}
		int n = epoll_wait(ep, evs, 256, 100);

		for (int i = 0; i < n; i++) {
			struct csess *s = &ss[evs[i].data.u32];
			int rc = 0;

			if (s->st == CS_CONNECT) {
				int err = 0;
				socklen_t el = sizeof(err);
				struct epoll_event ev = { .events = EPOLLIN, .data.u32 = evs[i].data.u32 };

				getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &el);
				if (err) {
					errno = err;
					rc = -1;
				} else {
					s->st = CS_GREETING;
					s->need = WIRE_GREETING_LEN;
					s->rlen = 0;
					epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
				}
			}
			while (rc == 0 && s->st != CS_CONNECT && s->st != CS_HELD && (evs[i].events & EPOLLIN)) {
				ssize_t r = recv(s->fd, s->rbuf + s->rlen, s->need - s->rlen, MSG_DONTWAIT);

				if (r < 0 && (errno == EAGAIN || errno == EINTR))
					break;
				if (r <= 0) {
					rc = -1;
					break;
				}
				s->rlen += (size_t)r;
				if (s->rlen < s->need)
					continue;
				rc = csess_step(s, o, sender_port);
				s->rlen = 0;
			}
			if (rc < 0 || (evs[i].events & (EPOLLERR | EPOLLHUP) && s->st != CS_HELD)) {
				close(s->fd);
				s->fd = -1;
				s->st = CS_FAILED;
				failed++;
				busy--;
			} else if (s->st == CS_HELD) {
				epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
				held++;
				busy--;
			}
		}
	}
	close(ep);
	return held;
}

/* ---- test packets ------------------------------------------------------ */

struct gen {
	int *fds;
	unsigned nfds;
	struct sockaddr_storage *dst;
	unsigned ndst;
	int ep;
	uint8_t *seen;
	uint64_t sent, rcvd, dup, bad, written_off;
	uint32_t *hist;
	uint64_t hist_n;
	enum wire_test_fmt fmt;
	size_t size;
	/* batches */
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	uint8_t bufs[BATCH][PKT_MAX];
};

static void drain(struct gen *g, int fd)
{
	for (;;) {
		int n;

		for (int i = 0; i < BATCH; i++) {
			g->iov[i].iov_base = g->bufs[i];
			g->iov[i].iov_len = PKT_MAX;
			memset(&g->msgs[i].msg_hdr, 0, sizeof(g->msgs[i].msg_hdr));
			g->msgs[i].msg_hdr.msg_iov = &g->iov[i];
			g->msgs[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(fd, g->msgs, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (int i = 0; i < n; i++) {
			struct wire_test_reflect r;

			if (wire_decode_test_reflect(g->bufs[i], g->msgs[i].msg_len, g->fmt, &r) < 0 ||
			    r.sender_seq >= g->sent) {
				g->bad++;
				continue;
			}
			if (g->seen[r.sender_seq >> 3] & (1u << (r.sender_seq & 7))) {
				g->dup++;
				continue;
			}
			g->seen[r.sender_seq >> 3] |= (uint8_t)(1u << (r.sender_seq & 7));
			g->rcvd++;
			if (r.ts >= r.rx_ts) {
				int64_t us = (r.ts - r.rx_ts) / 1000;

				g->hist[us < HIST_US ? us : HIST_US - 1]++;
				g->hist_n++;
			}
		}
		if (n < BATCH)
			return;
	}
}

static void poll_replies(struct gen *g, int timeout_ms)
{
	struct epoll_event evs[256];
	int n = epoll_wait(g->ep, evs, 256, timeout_ms);

	for (int i = 0; i < n; i++)
		drain(g, evs[i].data.fd);
}

static int send_batch(struct gen *g, unsigned count)
{
	static unsigned next_fd, next_dst;
	int fd = g->fds[next_fd++ % g->nfds];
	int n;

	for (unsigned i = 0; i < count; i++) {
		struct wire_test_sender s = { .seq = (uint32_t)(g->sent + i), .ts = ntptime_now() };
		struct sockaddr_storage *d = &g->dst[next_dst++ % g->ndst];

		memset(g->bufs[i], 0, g->size);
		wire_encode_test_sender(g->bufs[i], g->size, g->fmt, &s);
		g->iov[i].iov_base = g->bufs[i];
		g->iov[i].iov_len = g->size;
		memset(&g->msgs[i].msg_hdr, 0, sizeof(g->msgs[i].msg_hdr));
		g->msgs[i].msg_hdr.msg_iov = &g->iov[i];
		g->msgs[i].msg_hdr.msg_iovlen = 1;
		g->msgs[i].msg_hdr.msg_name = d;
		g->msgs[i].msg_hdr.msg_namelen = tsock_addr_len(d);
	}
	n = sendmmsg(fd, g->msgs, count, MSG_DONTWAIT);
	if (n > 0)
		g->sent += (uint64_t)n;
	else
		next_dst -= count;
	return n;
}

static double pct_us(const struct gen *g, double p)
{
	uint64_t want = (uint64_t)(p * (double)g->hist_n), acc = 0;

	for (int i = 0; i < HIST_US; i++) {
		acc += g->hist[i];
		if (acc > want)
			return i;
	}
	return HIST_US;
}

static void run_load(struct gen *g, const struct opts *o)
{
	int64_t t0 = mono(), end = t0 + (int64_t)(o->duration * 1e9), blocked_since = 0;
	uint64_t last_rcvd = 0;

	for (int64_t now = t0; now < end && g->sent + BATCH < SEQ_CAP; now = mono()) {
		uint64_t allowed = o->rate > 0 ? (uint64_t)((double)(now - t0) * o->rate / 1e9) : UINT64_MAX;
		uint64_t out = g->sent - g->rcvd - g->written_off;
		uint64_t n = BATCH;

		if (allowed - g->sent < n && allowed >= g->sent)
			n = allowed - g->sent;
		if (allowed < g->sent)
			n = 0;
		if (out >= o->window)
			n = 0;
		else if (o->window - out < n)
			n = o->window - out;
		if (n > 0) {
			blocked_since = 0;
			send_batch(g, (unsigned)n);
			poll_replies(g, 0);
			continue;
		}
		if (out >= o->window) {
			/* window full: after 50 ms without a reply, write the outstanding ones off */
			if (g->rcvd != last_rcvd || !blocked_since) {
				blocked_since = now;
				last_rcvd = g->rcvd;
			} else if (now - blocked_since > 50 * NS_PER_MS) {
				g->written_off = g->sent - g->rcvd;
				blocked_since = 0;
			}
		}
		poll_replies(g, 0);
	}
	{
		double secs = (double)(mono() - t0) / 1e9;
		int64_t stop = mono() + 500 * NS_PER_MS;

		while (mono() < stop)
			poll_replies(g, 10);
		printf("duration=%.3f\nsent=%llu\nreceived=%llu\nlost=%llu\ndup=%llu\nbad=%llu\n", secs,
		       (unsigned long long)g->sent, (unsigned long long)g->rcvd,
		       (unsigned long long)(g->sent - g->rcvd), (unsigned long long)g->dup,
		       (unsigned long long)g->bad);
		printf("pps=%.0f\nloss_pct=%.4f\n", (double)g->rcvd / secs,
		       g->sent ? 100.0 * (double)(g->sent - g->rcvd) / (double)g->sent : 0.0);
		printf("proc_p50_us=%.0f\nproc_p99_us=%.0f\n", pct_us(g, 0.5), pct_us(g, 0.99));
	}
}

static void usage(void)
{
	fprintf(stderr,
		"usage: loadgen light --target ADDR:PORT [--flows F] [--stamp] [options]\n"
		"       loadgen control --target ADDR:PORT --sessions N [--per-conn K] [--flows F] [options]\n"
		"options: --rate PPS (0: unlimited) --duration S --window W --size OCTETS --hold S\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "target", required_argument, NULL, 't' }, { "flows", required_argument, NULL, 'f' },
		{ "sessions", required_argument, NULL, 'n' }, { "rate", required_argument, NULL, 'r' },
		{ "duration", required_argument, NULL, 'd' }, { "window", required_argument, NULL, 'w' },
		{ "size", required_argument, NULL, 's' }, { "stamp", no_argument, NULL, 'S' },
		{ "hold", required_argument, NULL, 'H' }, { "per-conn", required_argument, NULL, 'p' },
		{ 0 },
	};
	struct opts o = { .flows = 64, .sessions = 1000, .window = 4096, .size = 0, .duration = 5,
			  .per_conn = 1 };
	struct gen *g;
	struct csess *ss = NULL;
	struct rlimit rl;
	char err[256];
	int opt;
	bool have_target = false;

	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "light"))
		o.mode = M_LIGHT;
	else if (!strcmp(argv[1], "control"))
		o.mode = M_CONTROL;
	else
		usage();
	optind = 2;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 't':
			if (tsock_resolve(optarg, AF_INET, 862, &o.target, NULL, 0, err, sizeof(err)) < 0) {
				fprintf(stderr, "loadgen: %s\n", err);
				return 2;
			}
			have_target = true;
			break;
		case 'f': o.flows = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'n': o.sessions = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'r': o.rate = strtod(optarg, NULL); break;
		case 'd': o.duration = strtod(optarg, NULL); break;
		case 'w': o.window = (unsigned)strtoul(optarg, NULL, 10); break;
		case 's': o.size = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'S': o.stamp = true; break;
		case 'H': o.hold = strtod(optarg, NULL); break;
		case 'p': o.per_conn = (unsigned)strtoul(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (!have_target || !o.flows || !o.window || (o.mode == M_CONTROL && !o.sessions) ||
	    !o.per_conn || o.per_conn > 16)
		usage();
	if (!o.size)
		o.size = o.stamp ? WIRE_STAMP_LEN : WIRE_TEST_REFLECT_LEN;
	if (o.size > PKT_MAX || o.size < (o.stamp ? WIRE_STAMP_LEN : WIRE_TEST_REFLECT_LEN)) {
		fprintf(stderr, "loadgen: --size must lie in %d..%d\n",
			o.stamp ? WIRE_STAMP_LEN : WIRE_TEST_REFLECT_LEN, PKT_MAX);
		return 2;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	g = calloc(1, sizeof(*g));
	if (!g || !(g->seen = calloc(SEQ_CAP / 8, 1)) || !(g->hist = calloc(HIST_US, sizeof(*g->hist))))
		die("calloc");
	g->fmt = o.stamp ? WIRE_TEST_STAMP : WIRE_TEST_OPEN;
	g->size = o.size;
	g->ep = epoll_create1(0);
	g->nfds = o.flows;
	g->fds = calloc(o.flows, sizeof(int));
	if (g->ep < 0 || !g->fds)
		die("setup");
	for (unsigned i = 0; i < o.flows; i++) {
		struct sockaddr_in a = { .sin_family = AF_INET };
		struct epoll_event ev = { .events = EPOLLIN };
		int buf = 4 << 20;

		a.sin_addr = ((const struct sockaddr_in *)&o.target)->sin_addr;
		g->fds[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (g->fds[i] < 0 || bind(g->fds[i], (struct sockaddr *)&a, sizeof(a)) < 0)
			die("UDP socket");
		setsockopt(g->fds[i], SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
		ev.data.fd = g->fds[i];
		epoll_ctl(g->ep, EPOLL_CTL_ADD, g->fds[i], &ev);
	}
	if (o.mode == M_LIGHT) {
		g->dst = &o.target;
		g->ndst = 1;
		printf("sessions=%u\n", o.flows);
	} else {
		struct sockaddr_storage la;
		socklen_t ll = sizeof(la);
		int64_t t0 = mono();
		unsigned held, k = 0, nconn = (o.sessions + o.per_conn - 1) / o.per_conn;

		getsockname(g->fds[0], (struct sockaddr *)&la, &ll);
		ss = calloc(nconn, sizeof(*ss));
		g->dst = calloc((size_t)nconn * o.per_conn, sizeof(*g->dst));
		if (!ss || !g->dst)
			die("calloc");
		held = control_setup(&o, ss, nconn, tsock_addr_port(&la));
		for (unsigned i = 0; i < nconn; i++) {
			if (ss[i].st != CS_HELD)
				continue;
			for (unsigned j = 0; j < ss[i].nports; j++) {
				g->dst[k] = o.target;
				tsock_addr_set_port(&g->dst[k], ss[i].ports[j]);
				k++;
			}
		}
		printf("connections=%u\nsessions=%u\nsetup_s=%.3f\n", held, k, (double)(mono() - t0) / 1e9);
		fflush(stdout);
		g->ndst = k;
		if (!k) {
			fprintf(stderr, "loadgen: no session could be set up\n");
			return 1;
		}
		if (o.hold > 0) {
			/* sessions stay open while the script measures the responder's memory */
			printf("held\n");
			fflush(stdout);
			usleep((useconds_t)(o.hold * 1e6));
		}
	}
	printf("load\n"); /* the script starts measuring the responder here */
	fflush(stdout);
	run_load(g, &o);
	return 0;
}
