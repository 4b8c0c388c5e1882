/*
 * fuzz_reflector: the responder (src/workers/reflector.c) through its real
 * entry point: responder_start() runs a worker with a TWAMP-Control
 * listener and a TWAMP Light / STAMP port on loopback, and this process is
 * the client, speaking the fuzz input.  Reaches Set-Up-Response handling
 * (KeyID lookup, Token), the command loop in every mode, test session
 * set-up and the reflection of test packets of every format.
 *
 * Input:
 *   flags (1): bits 0-1 mode (open, authenticated, encrypted, mixed), bit 2
 *              raw (nothing is sealed; the Set-Up-Response comes from the
 *              input too);
 *   raw: Set-Up-Response (164);
 *   then operations, each an octet (taken modulo 4) and a chunk (u16 length
 *   + octets):
 *     0 a control command: the chunk's first octet picks it, the chunk is
 *       the plaintext (cut or zero-filled to the command's length), sealed
 *       unless raw; the answer to Request-TW-Session and Start-Sessions is
 *       read and opened (a Request's answer gives the test port and SID);
 *     1 a test packet to the test session's port (sealed when the mode
 *       seals test packets, not raw, and it is at least 112 octets);
 *     2 a test packet to the Light/STAMP port;
 *     3 the chunk as raw octets on the control connection.
 * The responder must answer what it accepted in a form the client can
 * open: not raw, a sealed Accept-Session, Start-Ack or reflection that
 * fails its HMAC is a bug.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctlchan.h"
#include "fuzz.h"
#include "ntptime.h"
#include "reflector.h"

#define IO_MS 300
#define FLAG_RAW 4

static const char secret[] = "twamp-interop-secret";
static const uint32_t modes[4] = { WIRE_MODE_OPEN, WIRE_MODE_AUTH, WIRE_MODE_ENCRYPTED,
				   WIRE_MODE_MIXED };
static struct responder *resp;
static uint16_t ctl_port, light_port;

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_reflector: %s\n", what);
	abort();
}

static void init(void)
{
	static struct refl_key key = { .keyid = "probe" };
	struct refl_config cfg;

	fz_quiet();
	memcpy(key.secret, secret, strlen(secret));
	key.secret_len = strlen(secret);
	refl_config_default(&cfg);
	fz_loopback(&cfg.listen[0], 0);
	cfg.nlisten = 1;
	fz_loopback(&cfg.light[0], 0);
	cfg.nlight = 1;
	cfg.ctl_timeout = NS_PER_SEC;
	cfg.refwait = NS_PER_SEC;
	cfg.greeting_count = 16;
	cfg.modes = WIRE_MODE_OPEN | WIRE_MODE_AUTH | WIRE_MODE_ENCRYPTED | WIRE_MODE_MIXED;
	cfg.keys = &key;
	cfg.nkeys = 1;
	if (!(resp = responder_start(&cfg)))
		abort();
	ctl_port = responder_port(resp, 0);
	light_port = responder_light_port(resp, 0);
}

/* Test packets the responder has dealt with, one way or another. */
static uint64_t handled(void)
{
	struct refl_counters c;

	responder_counters(resp, &c);
	return c.reflected + c.malformed + c.foreign + c.early + c.dropped_loss;
}

struct conv {
	struct fz in;
	bool raw;
	int c, u;                    /* control connection, our UDP socket */
	struct ctlchan ch;
	struct ctlchan_test t;
	bool test_ready;
	uint16_t test_port;
};

/* The responder has closed the control connection (EOF, nothing left to read). */
static bool closed(int c)
{
	char b;

	return recv(c, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

/* Send a test packet to port, wait for the responder to deal with it, read the reflection. */
static void test_packet(struct conv *v, uint16_t port, const uint8_t *p, size_t len, bool session)
{
	uint8_t pkt[WIRE_TEST_MAX_LEN + 64];
	struct sockaddr_storage to;
	uint64_t before = handled();
	int64_t until = ntptime_now() + 50 * NS_PER_MS;
	bool sealed = session && v->test_ready;
	ssize_t n;

	if (!port)
		return;
	if (session && closed(v->c)) {
		v->test_port = 0; /* its test sessions went with the connection */
		return;
	}
	if (len > sizeof(pkt))
		len = sizeof(pkt);
	memcpy(pkt, p, len);
	if (sealed && !v->raw && len >= WIRE_TEST_AUTH_REFLECT_LEN)
		ctlchan_test_seal(&v->t, CTLCHAN_PKT_SENDER, pkt, len);
	fz_loopback(&to, port);
	if (sendto(v->u, pkt, len, 0, (struct sockaddr *)&to, sizeof(struct sockaddr_in)) < 0)
		return;
	while (handled() == before && ntptime_now() < until)
		usleep(50);
	while ((n = recv(v->u, pkt, sizeof(pkt), MSG_DONTWAIT)) >= 0) {
		struct wire_test_reflect r;

		if (sealed && (size_t)n >= WIRE_TEST_AUTH_REFLECT_LEN) {
			if (ctlchan_test_open(&v->t, CTLCHAN_PKT_REFLECT, pkt, (size_t)n) < 0) {
				if (!v->raw)
					fail("a reflection does not open");
				continue;
			}
			wire_decode_test_reflect_auth(pkt, (size_t)n, &r);
		} else if (wire_decode_test_reflect(pkt, (size_t)n, WIRE_TEST_OPEN, &r) < 0 &&
			   wire_decode_test_reflect(pkt, (size_t)n, WIRE_TEST_STAMP, &r) < 0) {
			fail("a reflection that decodes in no format");
		}
	}
}

/* Read and open the responder's answer of len octets: 0, or -1 when the connection ended. */
static int answer(struct conv *v, uint8_t *msg, size_t len)
{
	int rc;

	if (fz_read_full(v->c, msg, len) < 0)
		return -1;
	rc = ctlchan_open(&v->ch, msg, len);
	if (rc < 0 && !v->raw)
		fail("an answer of the responder does not open");
	return rc < 0 ? -1 : 0;
}

static int command(struct conv *v, const uint8_t *p, size_t len)
{
	uint8_t msg[2 * WIRE_N_HDR_LEN + 16 * WIRE_N_MAX] = { 0 };
	uint8_t cmd = len ? p[0] : 0;
	size_t need = wire_command_len(cmd);

	if (need == WIRE_N_HDR_LEN) /* RFC 5938 Start-N/Stop-N: the count tells the length */
		need = len >= WIRE_N_HDR_LEN ? wire_n_sessions_msg_len(p, WIRE_N_MAX) : 0;
	if (!need)
		need = 32;
	memcpy(msg, p, len < need ? len : need);
	if (!v->raw && ctlchan_seal(&v->ch, msg, need) < 0)
		fail("seal");
	if (fz_write_full(v->c, msg, need) < 0)
		return -1;
	if (cmd == WIRE_CMD_REQUEST_TW_SESSION) {
		struct wire_accept_session as;

		if (answer(v, msg, WIRE_ACCEPT_SESSION_LEN) < 0)
			return -1;
		if (wire_decode_accept_session(msg, WIRE_ACCEPT_SESSION_LEN, &as) == 0 &&
		    as.accept == WIRE_ACCEPT_OK) {
			v->test_port = as.port;
			if (ctlchan_test_sealed(v->ch.mode) && !v->test_ready) {
				struct ctlchan_test_keys k;

				if (ctlchan_test_keys(&v->ch, as.sid, &k) < 0 ||
				    ctlchan_test_init(&v->t, v->ch.mode, &k) < 0)
					fail("test keys");
				v->test_ready = true;
			}
		}
	} else if (cmd == WIRE_CMD_START_SESSIONS) {
		if (answer(v, msg, WIRE_START_ACK_LEN) < 0)
			return -1;
	} else if ((cmd == WIRE_CMD_START_N_SESSIONS || cmd == WIRE_CMD_STOP_N_SESSIONS) &&
		   (v->ch.ext & WIRE_MODE_INDIV_SESSION)) {
		/* the ack is as long as the command */
		if (answer(v, msg, need) < 0)
			return -1;
	}
	return 0;
}

static void converse(struct conv *v, uint32_t mode)
{
	static const struct ctlchan_keys keys = { .aes_key = { 9, 8, 7 }, .hmac_key = { 6, 5 },
						  .client_iv = { 4, 3, 2, 1 } };
	uint8_t msg[WIRE_CONTROL_MAX_LEN];
	struct wire_greeting g;
	struct wire_server_start ss;
	const uint8_t *p;
	size_t len;

	if (fz_read_full(v->c, msg, WIRE_GREETING_LEN) < 0 ||
	    wire_decode_greeting(msg, WIRE_GREETING_LEN, &g) < 0)
		fail("no Server Greeting");
	if (v->raw) {
		/* our channel takes the mode the input asks for (its keys match only by chance) */
		uint8_t ours[WIRE_SETUP_LEN];
		struct wire_setup su;

		if (!(p = fz_take(&v->in, WIRE_SETUP_LEN)))
			return;
		memcpy(msg, p, WIRE_SETUP_LEN);
		wire_decode_setup(msg, WIRE_SETUP_LEN, &su);
		/* one security bit plus offered extension bits (RFC 5938, 6038, 7750) */
		if (!ctlchan_mode_valid(su.mode & WIRE_MODE_SECURITY) || (su.mode & ~g.modes) ||
		    ctlchan_client_setup(&v->ch, &g, su.mode, "probe", secret, strlen(secret), &keys, ours) < 0)
			ctlchan_init(&v->ch, CTLCHAN_CLIENT);
	} else if (ctlchan_client_setup(&v->ch, &g, mode, "probe", secret, strlen(secret), &keys, msg) < 0) {
		fail("client setup");
	}
	if (fz_write_full(v->c, msg, WIRE_SETUP_LEN) < 0 || fz_read_full(v->c, msg, WIRE_SERVER_START_LEN) < 0)
		return;
	if (ctlchan_client_server_start(&v->ch, msg, WIRE_SERVER_START_LEN) < 0 ||
	    wire_decode_server_start(msg, WIRE_SERVER_START_LEN, &ss) < 0)
		fail("Server-Start");
	if (ss.accept != WIRE_ACCEPT_OK) {
		if (!v->raw)
			fail("the responder denied the right key");
		return;
	}
	for (;;) {
		uint8_t op = fz_u8(&v->in, 0);

		if (!(p = fz_chunk(&v->in, &len)))
			return;
		switch (op % 4) {
		case 0:
			if (command(v, p, len) < 0)
				return;
			break;
		case 1:
			test_packet(v, v->test_port, p, len, true);
			break;
		case 2:
			test_packet(v, light_port, p, len, false);
			break;
		default:
			if (fz_write_full(v->c, p, len) < 0)
				return;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conv v = { .in = { data, size } };
	uint8_t flags = fz_u8(&v.in, 0);
	struct sockaddr_storage ss;
	uint16_t uport;

	if (!resp)
		init();
	v.raw = flags & FLAG_RAW;
	ctlchan_init(&v.ch, CTLCHAN_CLIENT);
	v.c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	v.u = fz_udp_bind(&uport);
	fz_loopback(&ss, ctl_port);
	if (v.c < 0 || v.u < 0 || connect(v.c, (struct sockaddr *)&ss, sizeof(struct sockaddr_in)) < 0)
		abort();
	fz_timeouts(v.c, IO_MS);
	converse(&v, modes[flags & 3]);
	close(v.c);
	close(v.u);
	if (v.test_ready)
		ctlchan_test_fini(&v.t);
	ctlchan_fini(&v.ch);
	return 0;
}
