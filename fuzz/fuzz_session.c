/*
 * fuzz_session: the client (src/workers/session.c) through its real entry
 * point: a session runs on a real worker thread against this process, which
 * plays the TWAMP server and reflector on loopback sockets with the fuzz
 * input as the server's words.  Reaches the control state machine in every
 * mode (and ctlchan and the decoders behind it) and the reply handling of
 * the test phase, TWAMP and STAMP.
 *
 * Input:
 *   flags (1): bits 0-2 kind: open, authenticated, encrypted, mixed
 *              (TWAMP-Control), light, STAMP (taken modulo 6); bit 3 raw
 *              (the server does not seal what it sends); bit 4 keep the
 *              Accept-Session port as given (else it is this process's
 *              UDP port, so that test packets reach it); bits 5-6: packets
 *              the session sends, minus one;
 *   control kinds: Server Greeting (64; Count folded to at most 64, the
 *              chosen mode added to Modes unless raw), Server-Start (48),
 *              Accept-Session (48), Start-Ack (32), as plaintext that the
 *              server seals with the keys the client chose (KeyID "probe");
 *   then reflections (u16 length + octets): each is sent when a test
 *              packet arrives, to its sender; sealed in the authenticated
 *              and encrypted modes when at least 112 octets long.
 * The session must finish (on_done) within a few seconds whatever it is
 * told, and report a status.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctlchan.h"
#include "fuzz.h"
#include "ntptime.h"
#include "session.h"
#include "worker.h"

#define FLAG_RAW 8
#define FLAG_KEEP_PORT 16
#define COUNT_FAST 64
#define IO_MS 500          /* the harness's wait for each client message */

static const char secret[] = "twamp-interop-secret";
static const uint32_t modes[4] = { WIRE_MODE_OPEN, WIRE_MODE_AUTH, WIRE_MODE_ENCRYPTED,
				   WIRE_MODE_MIXED };

static struct worker *wk;
static int lfd, ufd;           /* TCP listener, UDP "reflector" */
static uint16_t lport, uport;

struct job {
	struct session_params p;
	struct session *s;
	atomic_int state;          /* 1 started, 2 done, 3 freed */
};

static void on_done(struct session *s, void *ctx)
{
	(void)s;
	atomic_store(&((struct job *)ctx)->state, 2);
}

static void start_job(struct worker *w, void *arg)
{
	struct job *j = arg;

	j->s = session_start(w, &j->p);
	atomic_store(&j->state, j->s ? 1 : 2);
}

static void free_job(struct worker *w, void *arg)
{
	struct job *j = arg;

	(void)w;
	session_free(j->s);
	atomic_store(&j->state, 3);
}

static void wait_state(struct job *j, int st, int ms, const char *what)
{
	int64_t until = ntptime_now() + (int64_t)ms * NS_PER_MS;

	while (atomic_load(&j->state) < st) {
		if (ntptime_now() > until) {
			fprintf(stderr, "fuzz_session: %s\n", what);
			abort();
		}
		usleep(100);
	}
}

static void init(void)
{
	fz_quiet();
	lfd = fz_tcp_listen(&lport);
	ufd = fz_udp_bind(&uport);
	wk = wk_create(0, -1, 16);
	if (lfd < 0 || ufd < 0 || !wk || wk_start(wk) < 0)
		abort();
}

/* Read one client message of len octets and open it: 0, or -1 to stop. */
static int from_client(int c, struct ctlchan *s, uint8_t *msg, size_t len)
{
	if (fz_read_full(c, msg, len) < 0)
		return -1;
	return ctlchan_open(s, msg, len) < 0 ? -1 : 0;
}

/* The next server message from the input: sealed unless raw, then sent. */
static int to_client(struct fz *in, int c, struct ctlchan *s, bool raw, uint8_t *msg, size_t len)
{
	const uint8_t *p = fz_take(in, len);

	if (!p)
		return -1;
	memcpy(msg, p, len);
	if (!raw && ctlchan_seal(s, msg, len) < 0)
		return -1;
	return fz_write_full(c, msg, len);
}

/* TWAMP-Control, server side, as the input says.  0 when the test phase may begin. */
static int control(struct fz *in, int c, uint8_t flags, uint32_t mode, struct ctlchan *s,
		   struct ctlchan_test *t, bool *sealed)
{
	bool raw = flags & FLAG_RAW;
	const uint8_t *p = fz_take(in, WIRE_GREETING_LEN);
	struct wire_greeting g;
	struct wire_accept_session as;
	uint8_t msg[WIRE_CONTROL_MAX_LEN];

	if (!p)
		return -1;
	memcpy(msg, p, WIRE_GREETING_LEN);
	wire_decode_greeting(msg, WIRE_GREETING_LEN, &g);
	if (g.count > COUNT_FAST)
		g.count = 1 + g.count % COUNT_FAST;
	if (!raw)
		g.modes |= mode;
	wire_encode_greeting(msg, &g);
	ctlchan_server_remember(s, &g);
	if (fz_write_full(c, msg, WIRE_GREETING_LEN) < 0 || fz_read_full(c, msg, WIRE_SETUP_LEN) < 0)
		return -1;
	if (ctlchan_server_setup(s, msg, WIRE_SETUP_LEN, secret, strlen(secret)) < 0)
		return -1;
	if (!(p = fz_take(in, WIRE_SERVER_START_LEN)))
		return -1;
	memcpy(msg, p, WIRE_SERVER_START_LEN);
	if (!raw && ctlchan_server_start(s, msg, WIRE_SERVER_START_LEN, p + 16) < 0)
		return -1;
	if (fz_write_full(c, msg, WIRE_SERVER_START_LEN) < 0 ||
	    from_client(c, s, msg, WIRE_REQUEST_LEN) < 0)
		return -1;
	/* Accept-Session: pointed at our UDP socket unless told otherwise */
	if (!(p = fz_take(in, WIRE_ACCEPT_SESSION_LEN)))
		return -1;
	memcpy(msg, p, WIRE_ACCEPT_SESSION_LEN);
	if (!(flags & FLAG_KEEP_PORT)) {
		msg[2] = (uint8_t)(uport >> 8);
		msg[3] = (uint8_t)uport;
	}
	if (wire_decode_accept_session(msg, WIRE_ACCEPT_SESSION_LEN, &as) == 0 &&
	    ctlchan_test_sealed(s->mode)) {
		struct ctlchan_test_keys k;

		if (ctlchan_test_keys(s, as.sid, &k) == 0 && ctlchan_test_init(t, s->mode, &k) == 0)
			*sealed = true;
	}
	if (!raw && ctlchan_seal(s, msg, WIRE_ACCEPT_SESSION_LEN) < 0)
		return -1;
	if (fz_write_full(c, msg, WIRE_ACCEPT_SESSION_LEN) < 0 ||
	    from_client(c, s, msg, WIRE_START_SESSIONS_LEN) < 0)
		return -1;
	return to_client(in, c, s, raw, msg, WIRE_START_ACK_LEN);
}

/* Wait for a test packet, as long as the session runs (at most 200 ms). */
static bool packet_arrives(struct job *j)
{
	for (int i = 0; i < 100; i++) {
		if (fz_wait_readable(ufd, 2))
			return true;
		if (atomic_load(&j->state) >= 2)
			return false;
	}
	return false;
}

/* Answer each test packet that arrives with the next reflection of the input. */
static void reflect(struct job *j, struct fz *in, bool raw, bool sealed, struct ctlchan_test *t)
{
	const uint8_t *p;
	size_t len;

	while ((p = fz_chunk(in, &len))) {
		uint8_t pkt[WIRE_TEST_MAX_LEN + 64];
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);

		if (len > sizeof(pkt))
			len = sizeof(pkt);
		if (!packet_arrives(j) ||
		    recvfrom(ufd, pkt, sizeof(pkt), MSG_DONTWAIT, (struct sockaddr *)&from, &fl) < 0)
			return;
		memcpy(pkt, p, len);
		if (sealed && !raw && len >= WIRE_TEST_AUTH_REFLECT_LEN)
			ctlchan_test_seal(t, CTLCHAN_PKT_REFLECT, pkt, len);
		sendto(ufd, pkt, len, 0, (struct sockaddr *)&from, fl);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz in = { data, size };
	uint8_t flags = fz_u8(&in, 0);
	unsigned kind = (flags & 7) % 6;
	struct job j = { 0 };
	struct ctlchan s;
	struct ctlchan_test t = { 0 };
	bool sealed = false;
	uint8_t junk[WIRE_TEST_MAX_LEN];
	int c = -1;

	if (!wk)
		init();
	while (recv(ufd, junk, sizeof(junk), MSG_DONTWAIT) >= 0)
		; /* late packets of an earlier run */
	session_params_default(&j.p);
	j.p.mode = kind < 4 ? SESSION_CONTROL : kind == 4 ? SESSION_LIGHT : SESSION_STAMP;
	fz_loopback(&j.p.server, kind < 4 ? lport : uport);
	j.p.count = 1 + (flags >> 5 & 3);
	j.p.interval = NS_PER_MS;
	j.p.loss_timeout = 30 * NS_PER_MS;
	j.p.ctl_timeout = 300 * NS_PER_MS;
	j.p.ssid = 0x1234;
	j.p.user_timestamps = true;
	if (kind < 4) {
		j.p.allowed_modes = modes[kind];
		strcpy(j.p.keyid, "probe");
		j.p.secret = (const uint8_t *)secret;
		j.p.secret_len = strlen(secret);
	}
	j.p.on_done = on_done;
	j.p.ctx = &j;
	if (wk_submit(wk, start_job, &j) < 0)
		abort();
	ctlchan_init(&s, CTLCHAN_SERVER);
	if (kind < 4) {
		if (fz_wait_readable(lfd, 1000) && (c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
			fz_timeouts(c, IO_MS);
			if (control(&in, c, flags, modes[kind], &s, &t, &sealed) == 0)
				reflect(&j, &in, flags & FLAG_RAW, sealed, &t);
		}
	} else {
		reflect(&j, &in, true, false, &t);
	}
	if (c >= 0)
		close(c); /* the input has ended: so has the conversation */
	wait_state(&j, 2, 5000, "the session did not finish");
	if (j.s) {
		const struct session_info *info = session_info(j.s);

		if (info->status > SESSION_ERR_ABORTED || (info->status != SESSION_OK && !info->error[0])) {
			fprintf(stderr, "fuzz_session: status %d without a reason\n", info->status);
			abort();
		}
		wk_submit(wk, free_job, &j);
		wait_state(&j, 3, 5000, "session_free did not run");
	}
	ctlchan_test_fini(&t);
	ctlchan_fini(&s);
	return 0;
}
