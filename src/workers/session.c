/*
 * session: client side of one TWAMP / TWAMP Light / STAMP measurement.
 * See include/session.h for the state machine and the ownership rules.
 */
#include "session.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "crypto.h"
#include "ctlchan.h"
#include "log.h"
#include "ntptime.h"
#include "tsock.h"
#include "rng.h"
#include "worker.h"

/* datagrams read per wake-up of a test socket (see test_cb) */
#define SESSION_RX_BUDGET 256u

enum sess_state {
	ST_CONNECTING,
	ST_GREETING,
	ST_DERIVING,   /* PBKDF2 of a keyed mode runs on the offload thread */
	ST_SERVER_START,
	ST_ACCEPT,
	ST_START_ACK,
	ST_TESTING,
	ST_STOP_ACK,   /* RFC 5938: Stop-N-Sessions sent, its ack awaited (results are final) */
	ST_DONE,
};

static const char *const state_names[] = {
	"connect", "Server Greeting", "the key derivation (PBKDF2)", "Server-Start",
	"Accept-Session", "Start-Ack", "test", "Stop-N-Ack", "done",
};

struct session {
	struct worker *wk;
	struct session_params p;
	struct session_info info;
	enum sess_state state;

	struct wk_io ctl;             /* TCP control connection, fd -1 when none */
	struct wk_io test;            /* UDP test socket */
	struct wk_timer step_timer;   /* control step timeout, then end of test */
	struct wk_timer send_timer;

	uint8_t rbuf[WIRE_CONTROL_MAX_LEN];
	size_t rlen, rneed;
	uint8_t wbuf[2 * WIRE_CONTROL_MAX_LEN];
	size_t wlen;

	struct stats st;
	int64_t *late;                /* send lateness per packet */
	int64_t *tx_mono;             /* CLOCK_MONOTONIC send time per packet: lateness of replies */
	uint8_t *pkt;                 /* sender packet, padding written once */
	size_t pkt_len;
	enum wire_test_fmt fmt;
	uint32_t next_seq;
	int64_t next_due;             /* CLOCK_MONOTONIC, as every timer */
	int64_t last_send;            /* CLOCK_MONOTONIC */
	int64_t mono0, off0;          /* test start: CLOCK_MONOTONIC, and wall - monotonic then */
	uint64_t rng;
	struct ntptime_clock clk;
	bool start_failed;            /* report from the loop, not from session_start */
	bool txstamp;                 /* the test socket delivers TX timestamps */
	uint32_t tx_next_id;          /* OPT_ID of the next packet sent */
	struct {
		uint32_t id, seq;
	} txring[64];                 /* OPT_ID -> sequence number, verified on use */
	uint32_t rx_ok;               /* reflections counted in time */
	size_t pkt_cap;               /* octets allocated at pkt */
	struct ctlchan ch;            /* control connection security */
	struct wire_greeting greet;   /* kept for the Set-Up-Response after the derivation */
	struct wk_task *kdf;          /* derivation in flight (ST_DERIVING), else NULL */
	struct ctlchan_test tt;       /* test packet security (auth/encrypted) */
	bool sealed;                  /* test packets use the 48/112-octet sealed layouts */
	bool tt_ready;                /* tt initialised from the SID */
	struct wire_test_layout lay;  /* offsets once the extensions are known */
	uint16_t octets_reflect;      /* RFC 6038: what Accept-Session must return */
	uint32_t setup_mode;          /* mode and extension bits of the Set-Up-Response (greet) */
	/*
	 * Where reflections must come from (address unmapped, and port): the
	 * server's address and the port of Accept-Session; AF_UNSPEC until then.
	 * The control-mode test socket stays unconnected (it is opened before
	 * Accept-Session names the port), so test_cb checks every datagram's
	 * source itself, from what recvmsg returns, and counts the drops.
	 */
	struct sockaddr_storage peer_test;
	/*
	 * Further test sessions on this control connection ("kids"): full
	 * session objects without a control connection of their own; this one
	 * asks for them, starts and stops them, and reports done after them.
	 */
	struct session *parent;
	struct session *kids[SESSION_MAX_STREAMS - 1];
	unsigned nkids, kids_done;
	unsigned req_idx;             /* stream whose Accept-Session comes next */
	unsigned naccepted;           /* streams accepted on this control connection */
	bool refused;                 /* this stream does not run: the server refused it (info says why) */
	bool retried;                 /* reconnected once, for the streams accepted before a close */
	bool self_done;               /* our own stream has ended; waiting for kids */
	bool ending;                  /* finish() runs: kids' on_done must not re-enter */
};

static struct session *stream_of(struct session *s, unsigned i)
{
	return i == 0 ? s : s->kids[i - 1];
}

const char *session_mode_name(uint32_t mode)
{
	switch (mode) {
	case 0:
		return "none";
	case WIRE_MODE_OPEN:
		return "unauthenticated";
	case WIRE_MODE_AUTH:
		return "authenticated";
	case WIRE_MODE_ENCRYPTED:
		return "encrypted";
	case WIRE_MODE_MIXED:
		return "mixed";
	default:
		return "several";
	}
}

const char *session_security_name(const struct session_info *in, enum session_mode mode)
{
	uint32_t m = in->ctl_mode & WIRE_MODE_SECURITY;

	if (mode != SESSION_CONTROL || m == WIRE_MODE_OPEN)
		return "open";  /* the records' word for RFC 4656's unauthenticated mode */
	if (m == WIRE_MODE_AUTH || m == WIRE_MODE_ENCRYPTED || m == WIRE_MODE_MIXED)
		return session_mode_name(m);
	return NULL; /* none chosen yet */
}

/* "open,authenticated" etc. for an error message. */
static const char *mode_set_str(uint32_t modes, char *buf, size_t cap)
{
	static const uint32_t order[] = { WIRE_MODE_OPEN, WIRE_MODE_AUTH, WIRE_MODE_ENCRYPTED,
					  WIRE_MODE_MIXED };
	size_t n = 0;

	buf[0] = 0;
	for (size_t i = 0; i < 4; i++)
		if (modes & order[i])
			n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, "%s%s", n ? "," : "",
					      session_mode_name(order[i]));
	if (!n)
		snprintf(buf, cap, "none");
	if (modes & ~0xfu) {
		size_t l = strlen(buf);

		snprintf(buf + l, cap - l, " (modes 0x%x)", modes);
	}
	return buf;
}

const char *session_status_name(enum session_status st)
{
	static const char *const names[] = {
		"ok", "unreachable", "connection refused", "timeout", "mode refused",
		"access denied", "session refused", "protocol error", "connection closed",
		"local error", "aborted",
	};

	return (unsigned)st < sizeof(names) / sizeof(names[0]) ? names[st] : "unknown";
}

void session_params_default(struct session_params *p)
{
	memset(p, 0, sizeof(*p));
	p->mode = SESSION_CONTROL;
	p->count = 100;
	p->interval = 100 * NS_PER_MS;
	p->padding = SESSION_PADDING_DEFAULT;
	p->loss_timeout = 2 * NS_PER_SEC;
	p->ctl_timeout = 10 * NS_PER_SEC;
	p->seed = 1;
	p->allowed_modes = WIRE_MODE_OPEN;
	p->extensions = WIRE_MODE_DSCP_ECN | WIRE_MODE_INDIV_SESSION;
	p->nstreams = 1;
	p->kdf_count_max = SESSION_KDF_COUNT_DEFAULT;
}

static int64_t next_gap(struct session *s)
{
	double u;

	if (!s->p.exponential)
		return s->p.interval;
	u = ((double)(rng_next(&s->rng) >> 11) + 0.5) / 9007199254740992.0; /* (0,1) */
	return (int64_t)(-log(u) * (double)s->p.interval);
}

static void close_io(struct session *s, struct wk_io *io)
{
	if (io->fd >= 0) {
		wk_del_io(s->wk, io);
		close(io->fd);
		io->fd = -1;
	}
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/*
 * The wall clock stepped during the test when wall - monotonic (off, read
 * just now) moved from its value at the test start by more than NTP's
 * slewing can (ntptime_stepped): T1..T4 then come from two different
 * clocks, so the session's delays are not reported (its loss is: lateness is
 * judged on CLOCK_MONOTONIC).  Checked at each send, each reflection and the
 * end, so a step that is undone before the end is still seen.
 */
static void clock_check(struct session *s, int64_t mono, int64_t wall)
{
	int64_t off = wall - mono;  /* one pair, read back to back by the caller */

	if (s->info.clock_stepped || !s->mono0)
		return;
	if (!ntptime_stepped(s->off0, off, mono - s->mono0))
		return;
	s->info.clock_stepped = true;
	LOG_RL(LOGL_WARN, 10, "the wall clock stepped by %+.3f s during a test session: its delays "
	       "are not reported, its loss is", ntptime_to_sec(off - s->off0));
}

static void finish(struct session *s)
{
	uint32_t n = s->next_seq;

	s->ending = true;
	/* kids still running end with our status (a control failure, an abort) */
	for (unsigned i = 0; i < s->nkids; i++)
		if (s->kids[i]->state != ST_DONE) {
			if (s->info.status != SESSION_OK) {
				s->kids[i]->info.status = s->info.status;
				snprintf(s->kids[i]->info.error, sizeof(s->kids[i]->info.error), "%s", s->info.error);
			}
			finish(s->kids[i]);
		}
	if (s->kdf) {
		wk_offload_cancel(s->kdf);
		s->kdf = NULL;
	}
	wk_timer_cancel(s->wk, &s->step_timer);
	wk_timer_cancel(s->wk, &s->send_timer);
	close_io(s, &s->ctl);
	close_io(s, &s->test);
	s->state = ST_DONE;
	{
		int64_t mono = ntptime_mono();

		s->info.end_time = ntptime_now();
		clock_check(s, mono, s->info.end_time);
	}
	if (n > 0) {
		qsort(s->late, n, sizeof(*s->late), cmp_i64);
		s->info.late_p50 = s->late[(n + 1) / 2 - 1];
		s->info.late_p99 = s->late[(uint32_t)ceil(0.99 * n) - 1];
		s->info.late_max = s->late[n - 1];
	}
	if (s->p.on_done)
		s->p.on_done(s, s->p.ctx);
}

static void fail(struct session *s, enum session_status status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(struct session *s, enum session_status status, const char *fmt, ...)
{
	va_list ap;

	s->info.status = status;
	va_start(ap, fmt);
	vsnprintf(s->info.error, sizeof(s->info.error), fmt, ap);
	va_end(ap);
	finish(s);
}

/*
 * A failure inside session_start() is reported from the event loop, so that
 * on_done() never runs before session_start() has returned.
 */
static void fail_later(struct session *s, enum session_status status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail_later(struct session *s, enum session_status status, const char *fmt, ...)
{
	va_list ap;

	s->info.status = status;
	va_start(ap, fmt);
	vsnprintf(s->info.error, sizeof(s->info.error), fmt, ap);
	va_end(ap);
	s->start_failed = true;
	wk_timer_arm(s->wk, &s->step_timer, ntptime_mono());
}

static enum session_status errno_status(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return SESSION_ERR_REFUSED;
	case ETIMEDOUT:
		return SESSION_ERR_TIMEOUT;
	case ENETUNREACH:
	case EHOSTUNREACH:
	case EADDRNOTAVAIL:
	case ENETDOWN:
	case EHOSTDOWN:
		return SESSION_ERR_UNREACHABLE;
	case ECONNRESET:
	case EPIPE:
		return SESSION_ERR_CLOSED;
	default:
		return SESSION_ERR_LOCAL;
	}
}

static void expect(struct session *s, enum sess_state st, size_t len)
{
	s->state = st;
	s->rlen = 0;
	s->rneed = len;
	wk_timer_arm(s->wk, &s->step_timer, ntptime_mono() + s->p.ctl_timeout);
}

/* Queue a control message; the kernel takes it at once in practice. */
static int ctl_send(struct session *s, const uint8_t *msg, size_t len)
{
	ssize_t n;

	if (s->wlen + len > sizeof(s->wbuf)) {
		fail(s, SESSION_ERR_LOCAL, "control output buffer full");
		return -1;
	}
	memcpy(s->wbuf + s->wlen, msg, len);
	s->wlen += len;
	n = send(s->ctl.fd, s->wbuf, s->wlen, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0 && errno != EAGAIN) {
		int err = errno;

		fail(s, errno_status(err), "control connection: send: %s", strerror(err));
		return -1;
	}
	if (n > 0) {
		memmove(s->wbuf, s->wbuf + n, s->wlen - (size_t)n);
		s->wlen -= (size_t)n;
	}
	if (s->wlen) /* the kernel took only part: finish when it can take more */
		wk_mod_io(s->wk, &s->ctl, EPOLLIN | EPOLLOUT);
	return 0;
}

static void fill_addr(struct wire_addr *w, const struct sockaddr_storage *ss)
{
	memset(w, 0, sizeof(*w));
	if (ss->ss_family == AF_INET6)
		memcpy(w->b, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
	else
		memcpy(w->b, &((const struct sockaddr_in *)ss)->sin_addr, 4);
}

static int open_test_socket(struct session *s, const struct sockaddr_storage *local)
{
	uint16_t port;

	int flags = 0;

	if (s->p.user_timestamps)
		flags = TSOCK_USERTIME;
	else if (tsock_probe(false)->tx_sw)
		flags = TSOCK_TXSTAMP;
	s->test.fd = tsock_open(local, s->p.port_lo, s->p.port_hi, s->p.dscp, flags, &port);
	if (s->test.fd < 0)
		return -1;
	if ((s->p.ecn & 3) &&
	    tsock_set_tos(s->test.fd, local->ss_family, (s->p.dscp & 0x3f) << 2 | (s->p.ecn & 3)) < 0)
		LOG_RL(LOGL_WARN, 10, "cannot set ECN codepoint %d on the test socket: %m", s->p.ecn & 3);
	s->txstamp = flags & TSOCK_TXSTAMP;
	tsock_set_recverr(s->test.fd);
	s->info.local_test = *local;
	tsock_addr_set_port(&s->info.local_test, port);
	return wk_add_io(s->wk, &s->test, EPOLLIN | (s->txstamp ? EPOLLPRI : 0));
}

static void start_test(struct session *s);

/* The reflector's test address is known: sessions accept reflections from it only. */
static void set_remote_test(struct session *s, const struct sockaddr_storage *a)
{
	s->info.remote_test = *a;
	s->peer_test = *a;
	tsock_addr_unmap(&s->peer_test);
}

/* rx->from (unmapped in place) is the reflector's address and port. */
static bool from_reflector(const struct session *s, struct tsock_rx *rx)
{
	tsock_addr_unmap(&rx->from);
	return s->peer_test.ss_family != AF_UNSPEC && tsock_addr_equal(&rx->from, &s->peer_test) &&
	       tsock_addr_port(&rx->from) == tsock_addr_port(&s->peer_test);
}

/*
 * The test packet layout once the greeting told the mode and what the server
 * offers: the 48/112-octet layouts for authenticated and encrypted test
 * packets, then the extensions we want and the server offers.  With the
 * default padding, the sender packet is as long as the reflection's fixed
 * part plus the padding to be reflected; the packet was allocated for the
 * largest case at start.
 */
static int choose_layout(struct session *s, uint32_t mode, uint32_t offered)
{
	uint32_t ext = s->p.extensions & offered &
		       (WIRE_MODE_INDIV_SESSION | WIRE_MODE_REFLECT_OCTETS | WIRE_MODE_SYMMETRICAL |
			WIRE_MODE_DSCP_ECN);
	bool dflt = s->p.padding == SESSION_PADDING_DEFAULT;

	s->sealed = ctlchan_test_sealed(mode);
	if (!s->p.pad_reflect)
		ext &= ~WIRE_MODE_REFLECT_OCTETS;
	if (s->sealed)
		ext &= ~WIRE_MODE_SYMMETRICAL;
	wire_test_layout(s->sealed, ext, &s->lay);
	if (!dflt && (ext & WIRE_MODE_DSCP_ECN) && s->lay.snd_hdr + s->p.padding < s->lay.refl_hdr &&
	    !(ext & WIRE_MODE_SYMMETRICAL)) {
		/* too short to carry the DSCP/ECN octet back: do without it */
		ext &= ~WIRE_MODE_DSCP_ECN;
		wire_test_layout(s->sealed, ext, &s->lay);
	}
	s->info.ctl_ext = ext;
	s->info.padding = dflt ? (uint32_t)(s->lay.refl_hdr - s->lay.snd_hdr) +
					 (ext & WIRE_MODE_REFLECT_OCTETS ? s->p.pad_reflect : 0)
			       : s->p.padding;
	s->pkt_len = s->lay.snd_hdr + s->info.padding;
	s->info.packet_len = s->pkt_len;
	if (s->pkt_len > s->pkt_cap)
		return fail(s, SESSION_ERR_LOCAL, "invalid session: %zu-octet packets (at most %zu)",
			    s->pkt_len, s->pkt_cap), -1;
	/* symmetrical size: the octets up to the reflection's size are MBZ */
	memset(s->pkt + WIRE_TEST_SENDER_LEN, 0, s->lay.snd_hdr > WIRE_TEST_SENDER_LEN && !s->sealed
							  ? s->lay.snd_hdr - WIRE_TEST_SENDER_LEN : 0);
	return 0;
}

/* Set-Up-Response for the greeting kept in s; kdf_key: K, NULL in open mode. */
static void send_setup(struct session *s, const uint8_t *kdf_key)
{
	uint8_t out[WIRE_SETUP_LEN];
	uint32_t mode = s->setup_mode & WIRE_MODE_SECURITY;
	int rc = ctlchan_client_setup_derived(&s->ch, &s->greet, s->setup_mode, s->p.keyid, kdf_key,
					      s->p.fixed_keys, out);

	if (rc < 0)
		return fail(s, rc == CTLCHAN_EKEYID ? SESSION_ERR_LOCAL : SESSION_ERR_PROTOCOL,
			    "cannot set up %s mode: %s", session_mode_name(mode), ctlchan_strerror(rc));
	s->info.ctl_mode = mode;
	wk_mod_io(s->wk, &s->ctl, EPOLLIN);
	rc = ctl_send(s, out, sizeof(out));
	crypto_wipe(out, sizeof(out));
	if (rc < 0)
		return;
	expect(s, ST_SERVER_START, WIRE_SERVER_START_LEN);
}

/*
 * K = PBKDF2(secret, Salt, Count) off the loop: Count comes from the server,
 * and 2^20 iterations take a third of a second that every other session of
 * this worker would wait.  The job owns copies of what it reads.
 */
struct kdf_job {
	struct session *s;
	uint32_t count;
	int rc;
	uint8_t salt[CRYPTO_KDF_SALT_LEN];
	uint8_t key[CRYPTO_AES_KEY_LEN];
	size_t secret_len;
	uint8_t secret[];
};

static void kdf_work(void *arg)
{
	struct kdf_job *j = arg;

	j->rc = crypto_kdf(j->secret, j->secret_len, j->salt, j->count, j->key);
}

static void kdf_release(void *arg)
{
	struct kdf_job *j = arg;

	crypto_wipe(j, sizeof(*j) + j->secret_len);
	free(j);
}

static void kdf_done(struct worker *wk, void *arg)
{
	struct kdf_job *j = arg;
	struct session *s = j->s;

	(void)wk;
	s->kdf = NULL;
	if (j->rc < 0)
		return fail(s, SESSION_ERR_LOCAL, "cannot set up %s mode: the key derivation failed",
			    session_mode_name(s->setup_mode & WIRE_MODE_SECURITY));
	send_setup(s, j->key);
}

static void start_kdf(struct session *s)
{
	struct kdf_job *j = malloc(sizeof(*j) + s->p.secret_len);

	if (!j)
		return fail(s, SESSION_ERR_LOCAL, "out of memory for the key derivation");
	j->s = s;
	j->count = s->greet.count;
	memcpy(j->salt, s->greet.salt, sizeof(j->salt));
	j->secret_len = s->p.secret_len;
	memcpy(j->secret, s->p.secret, s->p.secret_len);
	s->kdf = wk_offload(s->wk, kdf_work, kdf_done, kdf_release, j);
	if (!s->kdf) {
		kdf_release(j);
		return fail(s, SESSION_ERR_LOCAL, "cannot start the key derivation (see log)");
	}
	/* the server sends nothing until our Set-Up-Response: stop reading */
	wk_mod_io(s->wk, &s->ctl, 0);
	s->state = ST_DERIVING;
	wk_timer_arm(s->wk, &s->step_timer, ntptime_mono() + s->p.ctl_timeout);
}

static void handle_greeting(struct session *s)
{
	static const uint32_t pref[] = { WIRE_MODE_ENCRYPTED, WIRE_MODE_AUTH, WIRE_MODE_MIXED,
					 WIRE_MODE_OPEN };
	struct wire_greeting g;
	uint32_t mode = 0, cap = s->p.kdf_count_max ? s->p.kdf_count_max : SESSION_KDF_COUNT_DEFAULT;

	if (wire_decode_greeting(s->rbuf, s->rlen, &g) < 0)
		return fail(s, SESSION_ERR_PROTOCOL, "malformed Server Greeting");
	if (g.modes == 0)
		return fail(s, SESSION_ERR_DENIED, "server refuses to talk to us (Server Greeting offers no mode)");
	for (size_t i = 0; i < 4 && !mode; i++)
		if (g.modes & s->p.allowed_modes & pref[i])
			mode = pref[i];
	if (!mode) {
		char a[96], b[96];

		return fail(s, SESSION_ERR_MODE, "no common mode: the server offers %s, we allow %s",
			    mode_set_str(g.modes, a, sizeof(a)), mode_set_str(s->p.allowed_modes, b, sizeof(b)));
	}
	if (choose_layout(s, mode, g.modes) < 0)
		return;
	for (unsigned i = 0; i < s->nkids; i++) {
		if (s->kids[i]->refused)
			continue;
		s->kids[i]->info.ctl_mode = mode;
		if (choose_layout(s->kids[i], mode, g.modes) < 0)
			return fail(s, SESSION_ERR_LOCAL, "test session %u: %s", i + 2, s->kids[i]->info.error);
	}
	s->greet = g;
	s->setup_mode = mode | s->info.ctl_ext;
	if (mode == WIRE_MODE_OPEN)
		return send_setup(s, NULL);
	if (!s->p.secret || !s->p.secret_len)
		return fail(s, SESSION_ERR_LOCAL, "cannot set up %s mode: %s", session_mode_name(mode),
			    ctlchan_strerror(CTLCHAN_EKEYID));
	if (g.count == 0)
		return fail(s, SESSION_ERR_PROTOCOL, "Server Greeting: Count 0 (RFC 4656: a power of 2, "
			    "at least 1024)");
	if (g.count > cap)
		return fail(s, SESSION_ERR_MODE, "Server Greeting asks for %u PBKDF2 iterations (Count), "
			    "more than our cap of %u: refused (ping --max-pbkdf2-count, Probe "
			    "MaxPBKDF2Count)", g.count, cap);
	start_kdf(s);
}

/* Request-TW-Session for stream st (s or one of its kids), on s's control connection. */
static int send_request(struct session *s, struct session *st)
{
	struct wire_request rq = { 0 };
	uint8_t out[WIRE_REQUEST_LEN];
	uint16_t port = tsock_addr_port(&st->info.local_test);
	int rc;

	rq.ipvn = s->p.server.ss_family == AF_INET6 ? 6 : 4;
	rq.sender_port = port;
	rq.receiver_port = port;  /* as twping: the reflector may pick another */
	if (!s->p.zero_addr) {
		fill_addr(&rq.sender, &st->info.local_test);
		fill_addr(&rq.receiver, &s->p.server);
	}
	rq.padding = st->info.padding;
	if (st->info.ctl_ext & WIRE_MODE_REFLECT_OCTETS) {
		do
			st->octets_reflect = (uint16_t)rng_next(&st->rng);
		while (!st->octets_reflect);
		rq.octets_reflect = st->octets_reflect;
		rq.pad_reflect = st->p.pad_reflect;
	}
	rq.start_time = ntptime_now();
	rq.timeout = st->p.loss_timeout;
	rq.typep = wire_typep_from_dscp((uint8_t)st->p.dscp);
	wire_encode_request(out, &rq);
	if ((rc = ctlchan_seal(&s->ch, out, sizeof(out))) < 0)
		return fail(s, SESSION_ERR_LOCAL, "Request-TW-Session: %s", ctlchan_strerror(rc)), -1;
	if (ctl_send(s, out, sizeof(out)) < 0)
		return -1;
	expect(s, ST_ACCEPT, WIRE_ACCEPT_SESSION_LEN);
	return 0;
}

static int send_start(struct session *s);
static void end_all(struct session *s);

/*
 * Stream st of s will not run: the server refused it, or closed the
 * connection before accepting it.  A kid ends now (its record says why); s
 * itself, which holds the control connection, stays for the others.
 */
static void stream_refuse(struct session *s, struct session *st, enum session_status status,
			  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void stream_refuse(struct session *s, struct session *st, enum session_status status,
			  const char *fmt, ...)
{
	va_list ap;

	st->refused = true;
	st->info.status = status;
	va_start(ap, fmt);
	vsnprintf(st->info.error, sizeof(st->info.error), fmt, ap);
	va_end(ap);
	if (st != s)
		finish(st);
}

/* Request the next stream not refused, from req_idx on; after the last, start the accepted ones. */
static void request_next(struct session *s)
{
	while (s->req_idx <= s->nkids && stream_of(s, s->req_idx)->refused)
		s->req_idx++;
	if (s->req_idx <= s->nkids) {
		send_request(s, stream_of(s, s->req_idx));
		return;
	}
	if (!s->naccepted) {
		char why[sizeof(s->info.error)];

		snprintf(why, sizeof(why), "%s", s->info.error);
		return fail(s, s->info.status != SESSION_OK ? s->info.status : SESSION_ERR_SESSION, "%s%s",
			    s->nkids ? "no test session accepted; the first: " : "", why);
	}
	send_start(s);
}

static void handle_server_start(struct session *s)
{
	struct wire_server_start ss;
	int rc = ctlchan_client_server_start(&s->ch, s->rbuf, s->rlen);

	if (rc < 0)
		return fail(s, SESSION_ERR_PROTOCOL, "Server-Start: %s", ctlchan_strerror(rc));
	if (wire_decode_server_start(s->rbuf, s->rlen, &ss) < 0)
		return fail(s, SESSION_ERR_PROTOCOL, "malformed Server-Start");
	if (ss.accept != WIRE_ACCEPT_OK)
		return fail(s, SESSION_ERR_DENIED, "server denied access: %s%s", wire_accept_str(ss.accept),
			    s->ch.keyed ? " (wrong KeyID or secret?)" : "");
	s->req_idx = 0;
	s->naccepted = 0;
	request_next(s);
}

/* RFC 5938: Start-N-Sessions naming every stream's SID (ack: 32 + 16 n octets). */
static int send_start(struct session *s)
{
	uint8_t out[2 * WIRE_N_HDR_LEN + 16 * SESSION_MAX_STREAMS];
	size_t len;
	int rc;

	if (s->info.ctl_ext & WIRE_MODE_INDIV_SESSION) {
		struct wire_n_sessions m = { .cmd = WIRE_CMD_START_N_SESSIONS };

		for (unsigned i = 0; i <= s->nkids; i++)
			if (!stream_of(s, i)->refused)
				memcpy(m.sids[m.n++], stream_of(s, i)->info.sid, 16);
		len = wire_encode_n_sessions(out, sizeof(out), &m);
	} else {
		struct wire_start_sessions ss = { { 0 } };

		len = wire_encode_start_sessions(out, &ss);
	}
	if ((rc = ctlchan_seal(&s->ch, out, len)) < 0)
		return fail(s, SESSION_ERR_LOCAL, "Start-Sessions: %s", ctlchan_strerror(rc)), -1;
	if (ctl_send(s, out, len) < 0)
		return -1;
	expect(s, ST_START_ACK, s->info.ctl_ext & WIRE_MODE_INDIV_SESSION ? len : WIRE_START_ACK_LEN);
	return 0;
}

static void handle_accept(struct session *s)
{
	struct wire_accept_session a;
	struct session *st = stream_of(s, s->req_idx);
	int rc = ctlchan_open(&s->ch, s->rbuf, s->rlen);

	if (rc < 0)
		return fail(s, SESSION_ERR_PROTOCOL, "Accept-Session rejected: %s", ctlchan_strerror(rc));
	if (wire_decode_accept_session(s->rbuf, s->rlen, &a) < 0)
		return fail(s, SESSION_ERR_PROTOCOL, "malformed Accept-Session");
	if (a.accept != WIRE_ACCEPT_OK) {
		/* RFC 5357 3.5: the server may refuse one session and accept the next */
		if (s->nkids)
			stream_refuse(s, st, SESSION_ERR_SESSION,
				      "server refused test session %u of %u (DSCP %d): Accept %u, %s",
				      s->req_idx + 1, 1 + s->nkids, st->p.dscp, a.accept, wire_accept_str(a.accept));
		else
			stream_refuse(s, st, SESSION_ERR_SESSION, "server refused the test session: Accept %u, %s",
				      a.accept, wire_accept_str(a.accept));
		s->req_idx++;
		return request_next(s);
	}
	if (a.port == 0)
		return fail(s, SESSION_ERR_PROTOCOL, "Accept-Session names reflector port 0");
	if ((st->info.ctl_ext & WIRE_MODE_REFLECT_OCTETS) && a.reflected_octets != st->octets_reflect)
		return fail(s, SESSION_ERR_PROTOCOL,
			    "Accept-Session returned Reflected Octets 0x%04x, we sent 0x%04x (RFC 6038)",
			    a.reflected_octets, st->octets_reflect);
	if ((st->info.ctl_ext & WIRE_MODE_REFLECT_OCTETS) && a.server_octets &&
	    st->pkt_len >= st->lay.snd_hdr + 2) {
		/* RFC 6038: the Server Octets open our padding, for the server to find */
		st->pkt[st->lay.snd_hdr] = (uint8_t)(a.server_octets >> 8);
		st->pkt[st->lay.snd_hdr + 1] = (uint8_t)a.server_octets;
	}
	memcpy(st->info.sid, a.sid, sizeof(a.sid));
	st->info.have_sid = true;
	{
		struct sockaddr_storage rt = s->p.server;

		tsock_addr_set_port(&rt, a.port);
		set_remote_test(st, &rt);
	}
	if (st->sealed) {
		struct ctlchan_test_keys k;

		rc = ctlchan_test_keys(&s->ch, a.sid, &k);
		if (rc == 0)
			rc = ctlchan_test_init(&st->tt, s->ch.mode, &k);
		crypto_wipe(&k, sizeof(k));
		if (rc < 0)
			return fail(s, SESSION_ERR_LOCAL, "test session keys: %s", ctlchan_strerror(rc));
		st->tt_ready = true;
	}
	s->naccepted++;
	s->req_idx++;
	request_next(s);
}

static void handle_start_ack(struct session *s)
{
	uint8_t accept;
	int rc = ctlchan_open(&s->ch, s->rbuf, s->rlen);

	if (rc < 0)
		return fail(s, SESSION_ERR_PROTOCOL, "Start-Ack rejected: %s", ctlchan_strerror(rc));
	if (s->info.ctl_ext & WIRE_MODE_INDIV_SESSION) {
		struct wire_n_sessions m;

		if (wire_decode_n_sessions(s->rbuf, s->rlen, &m) < 0 || m.cmd != WIRE_CMD_START_N_ACK ||
		    m.n != s->naccepted)
			return fail(s, SESSION_ERR_PROTOCOL, "malformed Start-N-Ack");
		accept = m.accept;
	} else {
		struct wire_start_ack a;

		if (wire_decode_start_ack(s->rbuf, s->rlen, &a) < 0)
			return fail(s, SESSION_ERR_PROTOCOL, "malformed Start-Ack");
		accept = a.accept;
	}
	if (accept != WIRE_ACCEPT_OK)
		return fail(s, SESSION_ERR_SESSION, "server refused to start the session: %s",
			    wire_accept_str(accept));
	for (unsigned i = 0; i < s->nkids; i++)
		if (!s->kids[i]->refused)
			start_test(s->kids[i]);
	if (!s->refused) {
		start_test(s);
		return;
	}
	/* our own stream was refused: hold the connection for the kids */
	s->state = ST_TESTING;
	wk_timer_cancel(s->wk, &s->step_timer);
	s->self_done = true;
	if (s->kids_done == s->nkids)
		end_all(s);
}

static void handle_stop_ack(struct session *s);

/*
 * Open the control connection to p.server (non-blocking; connected() goes on).
 * SESSION_OK, or the failure with its reason in err.
 */
static enum session_status ctl_connect(struct session *s, char *err, size_t errlen)
{
	const struct session_params *p = &s->p;
	int one = 1;

	s->ctl.fd = socket(p->server.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->ctl.fd < 0)
		return snprintf(err, errlen, "control socket: %s", strerror(errno)), SESSION_ERR_LOCAL;
	setsockopt(s->ctl.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (p->local.ss_family != AF_UNSPEC) {
		struct sockaddr_storage l = p->local;

		tsock_addr_set_port(&l, 0);
		if (bind(s->ctl.fd, (struct sockaddr *)&l, tsock_addr_len(&l)) < 0)
			return snprintf(err, errlen, "cannot bind to the source address: %s", strerror(errno)),
			       SESSION_ERR_LOCAL;
	}
	s->state = ST_CONNECTING;
	if (connect(s->ctl.fd, (const struct sockaddr *)&p->server, tsock_addr_len(&p->server)) < 0 &&
	    errno != EINPROGRESS) {
		int e = errno;
		char a[INET6_ADDRSTRLEN];

		snprintf(err, errlen, "cannot connect to %s port %u: %s",
			 tsock_addr_str(&p->server, a, sizeof(a)), tsock_addr_port(&p->server), strerror(e));
		return errno_status(e);
	}
	if (wk_add_io(s->wk, &s->ctl, EPOLLOUT) < 0)
		return snprintf(err, errlen, "cannot watch the control socket"), SESSION_ERR_LOCAL;
	wk_timer_arm(s->wk, &s->step_timer, ntptime_mono() + p->ctl_timeout);
	return SESSION_OK;
}

/*
 * The server closed the control connection at a Request-TW-Session after it
 * had accepted others (twampd does when it has no test port left): that
 * stream and the ones not yet asked for fail, saying so; the accepted ones
 * are asked for again, alone, on a new connection (once: their sessions on
 * the closed connection are gone).  false when this is not that case.
 */
static bool retry_accepted(struct session *s, const char *why)
{
	unsigned at = s->req_idx, total = 1 + s->nkids, kept = 0;
	char err[sizeof(s->info.error)];
	enum session_status st;

	if (s->state != ST_ACCEPT || s->retried || !s->naccepted || at > s->nkids)
		return false;
	stream_refuse(s, stream_of(s, at), SESSION_ERR_CLOSED,
		      "%s at its Request-TW-Session (test session %u of %u, DSCP %d; %u accepted before)",
		      why, at + 1, total, stream_of(s, at)->p.dscp, s->naccepted);
	for (unsigned i = at + 1; i <= s->nkids; i++)
		stream_refuse(s, stream_of(s, i), SESSION_ERR_CLOSED,
			      "not requested (test session %u of %u, DSCP %d): %s at test session %u",
			      i + 1, total, stream_of(s, i)->p.dscp, why, at + 1);
	for (unsigned i = 0; i <= s->nkids; i++) {
		struct session *k = stream_of(s, i);

		if (k->refused)
			continue;
		kept++;
		k->info.have_sid = false;
		k->peer_test.ss_family = AF_UNSPEC;
		if (k->tt_ready) {
			ctlchan_test_fini(&k->tt);
			k->tt_ready = false;
		}
	}
	log_warn("%s at test session %u of %u; asking for the %u accepted before on a new connection",
		 why, at + 1, total, kept);
	s->retried = true;
	close_io(s, &s->ctl);
	ctlchan_fini(&s->ch);
	ctlchan_init(&s->ch, CTLCHAN_CLIENT);
	s->wlen = s->rlen = 0;
	s->naccepted = 0;
	st = ctl_connect(s, err, sizeof(err));
	if (st != SESSION_OK)
		fail(s, st, "reconnecting for the accepted test sessions: %s", err);
	return true;
}

static void ctl_readable(struct session *s)
{
	for (;;) {
		uint8_t junk[256];
		uint8_t *dst = s->state == ST_TESTING ? junk : s->rbuf + s->rlen;
		size_t want = s->state == ST_TESTING ? sizeof(junk) : s->rneed - s->rlen;
		ssize_t n = recv(s->ctl.fd, dst, want, MSG_DONTWAIT);

		if (n < 0) {
			int err = errno;

			if (err == EAGAIN || err == EINTR)
				return;
			if (s->state == ST_STOP_ACK) {
				finish(s); /* the results stand */
				return;
			}
			if (s->state == ST_TESTING) {
				log_warn("control connection lost during the test: %s", strerror(err));
				close_io(s, &s->ctl);
				return;
			}
			if (retry_accepted(s, "the server reset the control connection"))
				return;
			return fail(s, errno_status(err), "control connection, waiting for %s: %s",
				    state_names[s->state], strerror(err));
		}
		if (n == 0) {
			if (s->state == ST_STOP_ACK) {
				finish(s); /* closed instead of acknowledging: the results stand */
				return;
			}
			if (s->state == ST_TESTING) {
				/* twampd closes only when told to; go on measuring */
				log_warn("server closed the control connection during the test");
				close_io(s, &s->ctl);
				return;
			}
			if (retry_accepted(s, "the server closed the control connection"))
				return;
			return fail(s, SESSION_ERR_CLOSED, "server closed the control connection while we waited for %s",
				    state_names[s->state]);
		}
		if (s->state == ST_TESTING) {
			LOG_RL(LOGL_WARN, 60, "ignoring %zd unexpected control octets during the test", n);
			continue;
		}
		s->rlen += (size_t)n;
		if (s->rlen < s->rneed)
			continue;
		switch (s->state) {
		case ST_GREETING:
			handle_greeting(s);
			break;
		case ST_SERVER_START:
			handle_server_start(s);
			break;
		case ST_ACCEPT:
			handle_accept(s);
			break;
		case ST_START_ACK:
			handle_start_ack(s);
			break;
		case ST_STOP_ACK:
			handle_stop_ack(s);
			break;
		default:
			break;
		}
		if (s->state == ST_DONE || s->state == ST_DERIVING || s->ctl.fd < 0)
			return;
	}
}

static void connected(struct session *s)
{
	int err = 0;
	socklen_t len = sizeof(err);
	struct sockaddr_storage local;

	getsockopt(s->ctl.fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err) {
		char a[INET6_ADDRSTRLEN];

		return fail(s, errno_status(err), "cannot connect to %s port %u: %s",
			    tsock_addr_str(&s->p.server, a, sizeof(a)), tsock_addr_port(&s->p.server),
			    strerror(err));
	}
	len = sizeof(local);
	memset(&local, 0, sizeof(local));
	if (getsockname(s->ctl.fd, (struct sockaddr *)&local, &len) < 0)
		return fail(s, SESSION_ERR_LOCAL, "control connection: getsockname: %s", strerror(errno));
	/* a reconnection (retry_accepted) keeps the test sockets it has */
	if (s->test.fd < 0 && open_test_socket(s, &local) < 0)
		return fail(s, SESSION_ERR_LOCAL, "cannot open the test socket (see log)");
	for (unsigned i = 0; i < s->nkids; i++)
		if (!s->kids[i]->refused && s->kids[i]->test.fd < 0 && open_test_socket(s->kids[i], &local) < 0)
			return fail(s, SESSION_ERR_LOCAL, "cannot open a test socket (see log)");
	expect(s, ST_GREETING, WIRE_GREETING_LEN);
	wk_mod_io(s->wk, &s->ctl, EPOLLIN);
}

static void ctl_cb(struct wk_io *io, uint32_t events)
{
	struct session *s = (struct session *)((char *)io - offsetof(struct session, ctl));

	if (s->state == ST_CONNECTING) {
		connected(s);
		return;
	}
	if (s->state == ST_DERIVING) {
		if (events & (EPOLLERR | EPOLLHUP))
			fail(s, SESSION_ERR_CLOSED, "control connection lost during %s",
			     state_names[s->state]);
		return;
	}
	if (events & EPOLLOUT) {
		ssize_t n = s->wlen ? send(s->ctl.fd, s->wbuf, s->wlen, MSG_NOSIGNAL | MSG_DONTWAIT) : 0;

		if (n > 0) {
			memmove(s->wbuf, s->wbuf + n, s->wlen - (size_t)n);
			s->wlen -= (size_t)n;
		}
		if (!s->wlen)
			wk_mod_io(s->wk, &s->ctl, EPOLLIN);
	}
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
		ctl_readable(s);
}

/* ---- test phase ---------------------------------------------------- */

static void send_due(struct session *s)
{
	int64_t now = ntptime_mono();

	while (s->next_seq < s->p.count && s->next_due <= now) {
		struct wire_test_sender h = { .seq = s->next_seq, .errest = s->clk.errest,
					      .ssid = s->p.ssid };
		int64_t mono = ntptime_mono(), t1 = ntptime_now();

		h.ts = t1;
		if (s->sealed) {
			wire_encode_test_sender_auth(s->pkt, s->pkt_len, &h);
			if (ctlchan_test_seal(&s->tt, CTLCHAN_PKT_SENDER, s->pkt, s->pkt_len) < 0)
				LOG_RL(LOGL_WARN, 10, "test packet %u: sealing failed", s->next_seq);
		} else {
			wire_encode_test_sender(s->pkt, s->pkt_len, s->fmt, &h);
		}
		if (tsock_send(s->test.fd, s->pkt, s->pkt_len, (struct sockaddr *)&s->info.remote_test,
			       tsock_addr_len(&s->info.remote_test)) < 0) {
			LOG_RL(LOGL_WARN, 10, "test packet %u not sent: %m", s->next_seq);
		} else if (s->txstamp) {
			uint32_t id = s->tx_next_id++;

			s->txring[id & 63].id = id;
			s->txring[id & 63].seq = s->next_seq;
		}
		stats_sent(&s->st, s->next_seq, t1, s->clk.errest);
		clock_check(s, mono, t1);
		s->late[s->next_seq] = mono - s->next_due;
		s->tx_mono[s->next_seq] = mono;
		s->last_send = mono;
		s->next_seq++;
		s->next_due += next_gap(s);
		now = mono;
	}
	if (s->next_seq < s->p.count)
		wk_timer_arm(s->wk, &s->send_timer, s->next_due);
	else
		wk_timer_arm(s->wk, &s->step_timer, s->last_send + s->p.loss_timeout);
}

static void send_timer_cb(struct wk_timer *t)
{
	send_due((struct session *)((char *)t - offsetof(struct session, send_timer)));
}

/* Kernel TX timestamps from the error queue: the real T1 of each packet. */
static void read_txstamps(struct session *s)
{
	struct tsock_rx rx;

	while (tsock_recv_errqueue(s->test.fd, &rx) == 1) {
		uint32_t seq;
		int64_t t1u;

		/* only for a datagram we sent to the reflector (msg_name: its destination) */
		if (rx.port_unreach && from_reflector(s, &rx))
			s->info.port_unreach++;
		if (!rx.txstamp || !rx.ts_kernel)
			continue;
		if (s->txring[rx.txid & 63].id != rx.txid) {
			LOG_RL(LOGL_DEBUG, 10, "TX timestamp %u arrived too late to match its packet", rx.txid);
			continue;
		}
		seq = s->txring[rx.txid & 63].seq;
		if (seq >= s->p.count)
			continue;
		t1u = s->st.pkt[seq].t1;
		if (rx.ts_kernel < t1u - TSOCK_TS_BEFORE || rx.ts_kernel > t1u + TSOCK_TS_AFTER) {
			s->info.ts_rejected++;
			LOG_RL(LOGL_WARN, 60, "rejected a kernel TX timestamp %.6f s away from the user-space time",
			       ntptime_to_sec(rx.ts_kernel - t1u));
			continue;
		}
		stats_tx_time(&s->st, seq, rx.ts_kernel);
		s->info.kernel_tx++;
		if (rx.ts_hw)
			s->info.hw_tx++;
	}
}

/* RFC 6038: the reflection starts its padding with the first pad_reflect octets of ours. */
static bool reflected_padding_ok(const struct session *s, const uint8_t *buf, size_t n)
{
	size_t want = s->p.pad_reflect;

	if (want > s->pkt_len - s->lay.snd_hdr)
		want = s->pkt_len - s->lay.snd_hdr;
	if (n < s->lay.refl_hdr || want > n - s->lay.refl_hdr)
		return false;
	return memcmp(buf + s->lay.refl_hdr, s->pkt + s->lay.snd_hdr, want) == 0;
}

static void test_cb(struct wk_io *io, uint32_t events)
{
	struct session *s = (struct session *)((char *)io - offsetof(struct session, test));
	uint8_t buf[WIRE_TEST_MAX_LEN + 1];
	struct tsock_rx rx;

	if (events & (EPOLLERR | EPOLLPRI)) {
		read_txstamps(s);
		if (s->info.port_unreach && s->p.mode != SESSION_CONTROL && s->state == ST_TESTING &&
		    s->rx_ok == 0) {
			char a[INET6_ADDRSTRLEN];

			return fail(s, SESSION_ERR_REFUSED, "nothing listening (ICMP port unreachable) at %s port %u",
				    tsock_addr_str(&s->p.server, a, sizeof(a)), tsock_addr_port(&s->p.server));
		}
	}
	/* a budget per wake-up (the socket is level-triggered: the rest comes at
	 * the next one): a flood of datagrams, foreign or not, cannot keep the
	 * worker here while the other sessions' send timers come due */
	for (unsigned budget = SESSION_RX_BUDGET; budget; budget--) {
		struct wire_test_reflect r;
		struct stats_reflection sr = { 0 };
		ssize_t n = tsock_recv(s->test.fd, buf, sizeof(buf) - 1, &rx);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return;
			/* ICMP errors surface here too; a port unreachable is counted
			 * from the error queue (read_txstamps) */
			if (errno != ECONNREFUSED)
				LOG_RL(LOGL_WARN, 10, "test socket: %m");
			continue;
		}
		if (!from_reflector(s, &rx)) {
			char a[INET6_ADDRSTRLEN];

			s->info.foreign++;
			LOG_RL(LOGL_WARN, 10, "dropped a datagram from %s port %u: not the reflector",
			       tsock_addr_str(&rx.from, a, sizeof(a)), tsock_addr_port(&rx.from));
			continue;
		}
		if (s->sealed) {
			/* authenticated/encrypted: 112-octet base, HMAC checked before anything */
			if ((size_t)n > WIRE_TEST_MAX_LEN || (size_t)n < WIRE_TEST_AUTH_REFLECT_LEN ||
			    !s->tt_ready ||
			    ctlchan_test_open(&s->tt, CTLCHAN_PKT_REFLECT, buf, (size_t)n) < 0 ||
			    wire_decode_test_reflect_auth(buf, (size_t)n, &r) < 0) {
				s->info.malformed++;
				LOG_RL(LOGL_WARN, 10,
				       "dropped a reflected packet of %zd octets: too short or bad HMAC", n);
				continue;
			}
		} else if ((size_t)n > WIRE_TEST_MAX_LEN ||
			   wire_decode_test_reflect(buf, (size_t)n, s->fmt, &r) < 0) {
			s->info.malformed++;
			LOG_RL(LOGL_WARN, 10, "dropped a malformed reflected packet of %zd octets", n);
			continue;
		}
		if (s->state != ST_TESTING)
			continue;
		sr.sender_seq = r.sender_seq;
		sr.rseq = r.seq;
		sr.t2 = r.rx_ts;
		sr.t3 = r.ts;
		if (rx.ts_kernel && (rx.ts_kernel < rx.ts_user - TSOCK_TS_AFTER ||
				     rx.ts_kernel > rx.ts_user + TSOCK_TS_BEFORE)) {
			s->info.ts_rejected++;
			LOG_RL(LOGL_WARN, 60, "rejected a kernel RX timestamp %.6f s away from the user-space time",
			       ntptime_to_sec(rx.ts_kernel - rx.ts_user));
			rx.ts_kernel = 0;
		}
		sr.t4 = tsock_rx_time(&rx);
		{
			/* both clocks back to back (not recvmsg()'s wall time: a late
			 * wake-up after it must not look like a step) */
			int64_t mono = ntptime_mono(), wall = ntptime_now();

			clock_check(s, mono, wall);
			if (r.sender_seq < s->p.count && s->tx_mono[r.sender_seq])
				sr.rtt_mono = mono - s->tx_mono[r.sender_seq];
		}
		sr.err2 = r.errest; /* T2 and T3 come from the reflector's clock */
		sr.err3 = r.errest;
		sr.err4 = s->clk.errest;
		sr.ttl_fwd = r.ttl_known ? r.sender_ttl : -1;
		sr.ttl_bck = rx.ttl;
		sr.tos_fwd = s->lay.tos_off && (size_t)n > s->lay.tos_off ? buf[s->lay.tos_off] : -1;
		sr.tos_bck = rx.tos;
		if ((s->info.ctl_ext & WIRE_MODE_REFLECT_OCTETS) && !reflected_padding_ok(s, buf, (size_t)n)) {
			s->info.reflect_mismatch++;
			LOG_RL(LOGL_WARN, 10, "reflection of packet %u returned other padding than we sent "
			       "(RFC 6038 reflect octets)", r.sender_seq);
		}
		if (rx.ts_kernel) {
			s->info.kernel_rx++;
			if (rx.ts_hw)
				s->info.hw_rx++;
		}
		switch (stats_reflected(&s->st, &sr)) {
		case STATS_RX_OK:
			/* every packet answered: no need to wait out the loss timeout */
			if (++s->rx_ok == s->p.count)
				wk_timer_arm(s->wk, &s->step_timer, ntptime_mono());
			break;
		case STATS_RX_UNKNOWN:
			LOG_RL(LOGL_WARN, 10, "dropped a reflection of sequence number %u, never sent",
			       r.sender_seq);
			break;
		default:
			break;
		}
	}
}

static void start_test(struct session *s)
{
	s->state = ST_TESTING;
	wk_timer_cancel(s->wk, &s->step_timer);
	s->next_due = ntptime_mono();
	s->info.start_time = ntptime_now();
	s->mono0 = s->next_due;
	s->off0 = s->info.start_time - s->mono0;
	send_due(s);
}

/* Every stream has ended: Stop-Sessions (Stop-N-Sessions with RFC 5938), then done. */
static void end_all(struct session *s)
{
	uint8_t out[2 * WIRE_N_HDR_LEN + 16 * SESSION_MAX_STREAMS];
	size_t len;

	if (s->ctl.fd >= 0) {
		if (s->info.ctl_ext & WIRE_MODE_INDIV_SESSION) {
			struct wire_n_sessions m = { .cmd = WIRE_CMD_STOP_N_SESSIONS };

			for (unsigned i = 0; i <= s->nkids; i++)
				if (!stream_of(s, i)->refused)
					memcpy(m.sids[m.n++], stream_of(s, i)->info.sid, 16);
			len = wire_encode_n_sessions(out, sizeof(out), &m);
		} else {
			struct wire_stop_sessions st = { .accept = 0, .nsessions = s->naccepted };

			len = wire_encode_stop_sessions(out, &st);
		}
		if (ctlchan_seal(&s->ch, out, len) < 0) {
			log_warn("Stop-Sessions could not be sealed");
		} else if (s->info.ctl_ext & WIRE_MODE_INDIV_SESSION) {
			/* RFC 5938: the server acknowledges; wait for it, briefly */
			if (ctl_send(s, out, len) < 0)
				return;
			expect(s, ST_STOP_ACK, len);
			wk_timer_arm(s->wk, &s->step_timer,
				     ntptime_mono() + (s->p.ctl_timeout < NS_PER_SEC ? s->p.ctl_timeout : NS_PER_SEC));
			return;
		} else if (send(s->ctl.fd, out, len, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)len) {
			log_warn("Stop-Sessions not sent: %m");
		}
	}
	finish(s);
}

static void handle_stop_ack(struct session *s)
{
	struct wire_n_sessions m;

	if (ctlchan_open(&s->ch, s->rbuf, s->rlen) < 0 || wire_decode_n_sessions(s->rbuf, s->rlen, &m) < 0 ||
	    m.cmd != WIRE_CMD_STOP_N_ACK)
		LOG_RL(LOGL_WARN, 10, "malformed Stop-N-Ack (the results stand)");
	else if (m.accept != WIRE_ACCEPT_OK)
		LOG_RL(LOGL_WARN, 10, "the server refused Stop-N-Sessions: %s (the results stand)",
		       wire_accept_str(m.accept));
	finish(s);
}

/* A kid's on_done: the parent ends once its own stream and every kid have. */
static void kid_done(struct session *kid, void *ctx)
{
	struct session *s = ctx;

	(void)kid;
	s->kids_done++;
	if (!s->ending && s->self_done && s->kids_done == s->nkids)
		end_all(s);
}

static void step_timer_cb(struct wk_timer *t)
{
	struct session *s = (struct session *)((char *)t - offsetof(struct session, step_timer));

	if (s->start_failed) {
		finish(s);
		return;
	}
	if (s->state == ST_TESTING) {
		/*
		 * Read what the socket already holds: a busy loop (more ready sockets
		 * than one epoll call returns) may reach this timer first, and a
		 * reflection that came in time (kernel T4) is not lost.
		 */
		if (s->test.fd >= 0)
			test_cb(&s->test, EPOLLIN | EPOLLPRI);
		if (s->state == ST_DONE)
			return; /* test_cb ended it (nothing listening) */
		if (s->parent) {
			finish(s);  /* a kid: its parent holds the control connection */
			return;
		}
		s->self_done = true;
		if (s->kids_done == s->nkids)
			end_all(s);
		return;
	}
	if (s->state == ST_STOP_ACK) {
		LOG_RL(LOGL_WARN, 10, "no Stop-N-Ack from the server (the results stand)");
		finish(s);
		return;
	}
	fail(s, SESSION_ERR_TIMEOUT, "timed out waiting for %s (%.1f s)", state_names[s->state],
	     ntptime_to_sec(s->p.ctl_timeout));
}

static uint32_t default_padding(const struct session_params *p)
{
	if (p->mode == SESSION_STAMP)
		return 0;
	return WIRE_TEST_REFLECT_LEN - WIRE_TEST_SENDER_LEN; /* 27: as large as the reflection */
}

/* A session with its buffers; NULL on allocation failure.  *bad: invalid parameters (reported later). */
static struct session *session_new(struct worker *wk, const struct session_params *p, bool *bad)
{
	struct session *s = calloc(1, sizeof(*s));
	size_t hdr;

	*bad = false;

	if (!s)
		return NULL;
	s->wk = wk;
	s->p = *p;
	s->ctl.fd = -1;
	s->ctl.cb = ctl_cb;
	s->test.fd = -1;
	s->test.cb = test_cb;
	wk_timer_init(&s->step_timer, step_timer_cb);
	wk_timer_init(&s->send_timer, send_timer_cb);
	s->rng = p->seed;
	ctlchan_init(&s->ch, CTLCHAN_CLIENT);
	s->fmt = p->mode == SESSION_STAMP ? WIRE_TEST_STAMP : WIRE_TEST_OPEN;
	wire_test_layout(false, 0, &s->lay);
	s->info.padding = p->padding == SESSION_PADDING_DEFAULT ? default_padding(p) : p->padding;
	hdr = s->fmt == WIRE_TEST_STAMP ? WIRE_STAMP_LEN : WIRE_TEST_SENDER_LEN;
	s->pkt_len = hdr + s->info.padding;
	s->info.packet_len = s->pkt_len;
	ntptime_clock_status(&s->clk);
	if (s->pkt_len > WIRE_TEST_MAX_LEN || p->count == 0 || p->nstreams > SESSION_MAX_STREAMS) {
		*bad = true;
		return s;
	}
	s->pkt_cap = s->pkt_len;
	if (p->mode == SESSION_CONTROL && (p->allowed_modes & (WIRE_MODE_AUTH | WIRE_MODE_ENCRYPTED))) {
		/* room for the sealed layout, should the greeting choose it */
		size_t sealed = WIRE_TEST_AUTH_SENDER_LEN +
				(p->padding == SESSION_PADDING_DEFAULT
					 ? WIRE_TEST_AUTH_REFLECT_LEN - WIRE_TEST_AUTH_SENDER_LEN
					 : p->padding);

		if (sealed > s->pkt_cap && sealed <= WIRE_TEST_MAX_LEN)
			s->pkt_cap = sealed;
	}
	if (p->mode == SESSION_CONTROL && (p->extensions || p->pad_reflect)) {
		/* room for the extensions' layouts: 28 MBZ octets, reflected padding */
		size_t ext = s->pkt_cap + WIRE_TEST_REFLECT_LEN - WIRE_TEST_SENDER_LEN + 1 + p->pad_reflect;

		s->pkt_cap = ext < WIRE_TEST_MAX_LEN ? ext : WIRE_TEST_MAX_LEN;
	}
	s->pkt = calloc(1, s->pkt_cap);
	s->late = calloc(p->count, sizeof(*s->late));
	s->tx_mono = calloc(p->count, sizeof(*s->tx_mono));
	if (!s->pkt || !s->late || !s->tx_mono || stats_init(&s->st, p->count, p->loss_timeout) < 0) {
		session_free(s);
		return NULL;
	}
	s->st.tos_tx = (p->dscp & 0x3f) << 2 | (p->ecn & 3);
	/* TWAMP's Type-P asks the reflector to answer with our DSCP; light/STAMP do not */
	s->st.tos_bck_expected = p->mode == SESSION_CONTROL ? (p->dscp & 0x3f) << 2 : -1;
	for (size_t i = hdr; i < s->pkt_cap; i++) {
		uint8_t b = (uint8_t)rng_next(&s->rng);

		s->pkt[i] = b ? b : 0x5a; /* random, non-zero, as twping */
	}
	return s;
}

struct session *session_start(struct worker *wk, const struct session_params *p)
{
	bool bad;
	struct session *s = session_new(wk, p, &bad);

	if (!s)
		return NULL;
	if (bad) {
		fail_later(s, SESSION_ERR_LOCAL, "invalid session: %u packets of %zu octets (at most %d), "
			   "%u test sessions (at most %d)", p->count, s->pkt_len, WIRE_TEST_MAX_LEN,
			   p->nstreams, SESSION_MAX_STREAMS);
		return s;
	}
	if (p->mode == SESSION_CONTROL) {
		/* the further test sessions of this control connection */
		for (unsigned i = 1; i < p->nstreams; i++) {
			struct session_params kp = *p;
			struct session *k;

			kp.dscp = p->stream_dscp[i];
			kp.nstreams = 1;
			kp.seed = p->seed + i;
			kp.on_done = kid_done;
			kp.ctx = s;
			k = session_new(wk, &kp, &bad);
			if (!k) {
				session_free(s);
				return NULL;
			}
			k->parent = s;
			k->state = ST_START_ACK; /* waits for its parent's Start-Ack */
			s->kids[s->nkids++] = k;
		}
	}

	if (p->mode != SESSION_CONTROL) {
		struct sockaddr_storage local = p->local;

		if (local.ss_family == AF_UNSPEC)
			local.ss_family = p->server.ss_family;
		if (open_test_socket(s, &local) < 0) {
			fail_later(s, SESSION_ERR_LOCAL, "cannot open the test socket (see log)");
			return s;
		}
		set_remote_test(s, &p->server);
		/*
		 * No control connection tells us our source address: a connected
		 * socket does, and it also keeps datagrams of other peers out.
		 */
		if (connect(s->test.fd, (const struct sockaddr *)&p->server, tsock_addr_len(&p->server)) < 0) {
			int err = errno;
			char a[INET6_ADDRSTRLEN];

			fail_later(s, errno_status(err), "cannot reach %s port %u: %s",
				   tsock_addr_str(&p->server, a, sizeof(a)), tsock_addr_port(&p->server),
				   strerror(err));
			return s;
		} else {
			socklen_t len = sizeof(s->info.local_test);

			getsockname(s->test.fd, (struct sockaddr *)&s->info.local_test, &len);
		}
		start_test(s);
		return s;
	}

	{
		char err[sizeof(s->info.error)];
		enum session_status st = ctl_connect(s, err, sizeof(err));

		if (st != SESSION_OK)
			fail_later(s, st, "%s", err);
	}
	return s;
}

void session_free(struct session *s)
{
	if (!s)
		return;
	for (unsigned i = 0; i < s->nkids; i++)
		session_free(s->kids[i]);
	if (s->state != ST_DONE) {
		if (s->kdf)
			wk_offload_cancel(s->kdf);
		wk_timer_cancel(s->wk, &s->step_timer);
		wk_timer_cancel(s->wk, &s->send_timer);
		close_io(s, &s->ctl);
		close_io(s, &s->test);
	}
	ctlchan_test_fini(&s->tt);
	ctlchan_fini(&s->ch);
	stats_free(&s->st);
	free(s->late);
	free(s->tx_mono);
	free(s->pkt);
	free(s);
}

void session_abort(struct session *s)
{
	if (s->state == ST_DONE || s->start_failed)
		return;
	fail_later(s, SESSION_ERR_ABORTED, "aborted: the probe is shutting down");
}

bool session_done(const struct session *s)
{
	return s->state == ST_DONE;
}

const struct session_info *session_info(const struct session *s)
{
	return &s->info;
}

const struct stats *session_stats(const struct session *s)
{
	return &s->st;
}

int session_summarize(const struct session *s, struct stats_summary *out)
{
	if (stats_summarize(&s->st, out) < 0)
		return -1;
	if (s->info.clock_stepped)
		stats_summary_clock_stepped(out);
	return 0;
}

const struct session_params *session_params(const struct session *s)
{
	return &s->p;
}

unsigned session_nstreams(const struct session *s)
{
	return 1 + s->nkids;
}

const struct session *session_stream(const struct session *s, unsigned i)
{
	return i == 0 ? s : i <= s->nkids ? s->kids[i - 1] : NULL;
}
