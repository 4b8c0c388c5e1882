/*
 * fuzz_ctlchan: TWAMP-Control security (src/ctlchan.c) with the control
 * decoders behind it, both roles, every mode (open, authenticated,
 * encrypted, mixed), and the test-packet security of the session they set
 * up.  Keys are fixed: KeyID "probe", the shared secret of the interop
 * captures, so that decryption and the HMAC check run before parsing.
 *
 * Input, read in order (fz_take: a short input is a short conversation):
 *   flags (1): bits 0-1 mode (open, authenticated, encrypted, mixed),
 *              bit 2 raw, bit 3 server role;
 *   Server Greeting (64; a Count above 64 is folded to keep runs fast,
 *              except the captures' 2048 in raw runs; not
 *              raw: the chosen mode is added to Modes);
 *   client role: session keys (64: AES 16, HMAC 32, Client-IV 16), then the
 *              server's Server-Start (48), Accept-Session (48), Start-Ack
 *              (32), then reflected test packets (u16 length + octets);
 *   server role: raw only: Set-Up-Response (164); then client commands, one
 *              after another (each Request-TW-Session followed by the 16-octet
 *              SID the server assigns), then sender test packets (u16 length
 *              + octets).
 * Not raw, the input is plaintext that a peer channel with the same keys
 * seals first, so the fuzzer reaches the parsers behind the HMAC; then every
 * check must pass (a sealed message that does not open is a bug).  Raw, the
 * input is what the wire carries (the seeds are the owamp captures, whose
 * session keys the flags' client role supplies), which exercises the
 * Token, decryption and HMAC rejections.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctlchan.h"
#include "fuzz.h"
#include "wire.h"

#define FLAG_RAW 4
#define FLAG_SERVER 8
/* PBKDF2 rounds: the captures' 2048 (raw runs replay them), else at most 64 (speed) */
#define COUNT_CAPTURE 2048
#define COUNT_FAST 64

static const char secret[] = "twamp-interop-secret";
static const char keyid[] = "probe";
static const uint32_t modes[4] = { WIRE_MODE_OPEN, WIRE_MODE_AUTH, WIRE_MODE_ENCRYPTED,
				   WIRE_MODE_MIXED };

static void fail(const char *what, int rc)
{
	fprintf(stderr, "fuzz_ctlchan: %s (%s)\n", what, ctlchan_strerror(rc));
	abort();
}

struct conv {
	struct fz in;
	bool raw;
	uint32_t mode;
	struct wire_greeting g;
	struct ctlchan c, s;           /* client and server channel */
	struct ctlchan_test tc, ts;    /* their test-packet security */
	bool test_ready;
};

/* Both ends derive the same test keys from the SID. */
static void test_setup(struct conv *v, const uint8_t sid[16])
{
	struct ctlchan_test_keys kc, ks;
	int rc;

	if (v->test_ready || !ctlchan_test_sealed(v->mode))
		return;
	if ((rc = ctlchan_test_keys(&v->c, sid, &kc)) < 0 || (rc = ctlchan_test_keys(&v->s, sid, &ks)) < 0)
		fail("test keys", rc);
	if (memcmp(&kc, &ks, sizeof(kc)))
		fail("client and server test keys differ", 0);
	if ((rc = ctlchan_test_init(&v->tc, v->mode, &kc)) < 0 ||
	    (rc = ctlchan_test_init(&v->ts, v->mode, &ks)) < 0)
		fail("test init", rc);
	v->test_ready = true;
}

/* One test packet from the input towards kind's receiver. */
static void test_packets(struct conv *v, enum ctlchan_pkt kind)
{
	const uint8_t *p;
	size_t len;

	while ((p = fz_chunk(&v->in, &len))) {
		uint8_t *pkt = malloc(len ? len : 1);
		bool sealed = ctlchan_test_sealed(v->mode);
		struct ctlchan_test *rx = kind == CTLCHAN_PKT_SENDER ? &v->ts : &v->tc;
		struct ctlchan_test *tx = kind == CTLCHAN_PKT_SENDER ? &v->tc : &v->ts;
		size_t base = kind == CTLCHAN_PKT_SENDER ? WIRE_TEST_AUTH_SENDER_LEN : WIRE_TEST_AUTH_REFLECT_LEN;
		int rc = 0;

		if (!pkt)
			return;
		memcpy(pkt, p, len);
		if (sealed && v->test_ready) {
			if (!v->raw && len >= base && (rc = ctlchan_test_seal(tx, kind, pkt, len)) < 0)
				fail("test packet seal", rc);
			rc = ctlchan_test_open(rx, kind, pkt, len);
			if (!v->raw && len >= base && rc < 0)
				fail("a sealed test packet does not open", rc);
			if (rc == 0) {
				struct wire_test_sender s;
				struct wire_test_reflect r;

				if (kind == CTLCHAN_PKT_SENDER)
					wire_decode_test_sender_auth(pkt, len, &s);
				else
					wire_decode_test_reflect_auth(pkt, len, &r);
			}
		} else if (!sealed) {
			struct wire_test_sender s;
			struct wire_test_reflect r;

			if (kind == CTLCHAN_PKT_SENDER)
				wire_decode_test_sender(pkt, len, WIRE_TEST_OPEN, &s);
			else
				wire_decode_test_reflect(pkt, len, WIRE_TEST_OPEN, &r);
		}
		free(pkt);
	}
}

/*
 * The next server -> client message of len octets: plaintext sealed by the
 * server channel, or raw.  Opened by the client: 0, or -1 to stop.
 */
static int to_client(struct conv *v, uint8_t *msg, size_t len)
{
	const uint8_t *p = fz_take(&v->in, len);
	int rc;

	if (!p)
		return -1;
	memcpy(msg, p, len);
	if (!v->raw && (rc = ctlchan_seal(&v->s, msg, len)) < 0)
		fail("server seal", rc);
	rc = ctlchan_open(&v->c, msg, len);
	if (!v->raw && rc < 0)
		fail("a message the server sealed does not open", rc);
	return rc < 0 ? -1 : 0;
}

static void client_role(struct conv *v)
{
	const uint8_t *keys = fz_take(&v->in, sizeof(struct ctlchan_keys));
	struct ctlchan_keys k;
	struct wire_server_start ss;
	struct wire_accept_session as;
	struct wire_start_ack ack;
	uint8_t setup[WIRE_SETUP_LEN], msg[WIRE_SERVER_START_LEN];
	const uint8_t *p;
	int rc;

	if (!keys)
		return;
	memcpy(&k, keys, sizeof(k));
	rc = ctlchan_client_setup(&v->c, &v->g, v->mode, keyid, secret, strlen(secret), &k, setup);
	if (rc < 0)
		return; /* Count 0, a mode not offered (raw) */
	if (!v->raw) {
		ctlchan_server_remember(&v->s, &v->g);
		if ((rc = ctlchan_server_setup(&v->s, setup, sizeof(setup), secret, strlen(secret))) < 0)
			fail("the server refuses the client's Set-Up-Response", rc);
	}
	if (!(p = fz_take(&v->in, sizeof(msg))))
		return;
	memcpy(msg, p, sizeof(msg));
	if (!v->raw && (rc = ctlchan_server_start(&v->s, msg, sizeof(msg), p + 16)) < 0)
		fail("server start", rc);
	if (ctlchan_client_server_start(&v->c, msg, sizeof(msg)) < 0 ||
	    wire_decode_server_start(msg, sizeof(msg), &ss) < 0 || ss.accept != WIRE_ACCEPT_OK)
		return;
	if (to_client(v, msg, WIRE_ACCEPT_SESSION_LEN) < 0 ||
	    wire_decode_accept_session(msg, WIRE_ACCEPT_SESSION_LEN, &as) < 0)
		return;
	if (!v->raw && ctlchan_test_sealed(v->mode))
		test_setup(v, as.sid);
	else if (v->raw && ctlchan_test_sealed(v->mode)) {
		/* only the client's keys are known: open the server's packets with them */
		struct ctlchan_test_keys tk;

		if ((rc = ctlchan_test_keys(&v->c, as.sid, &tk)) < 0 ||
		    (rc = ctlchan_test_init(&v->tc, v->mode, &tk)) < 0)
			fail("client test keys", rc);
		v->test_ready = true;
	}
	if (to_client(v, msg, WIRE_START_ACK_LEN) < 0 ||
	    wire_decode_start_ack(msg, WIRE_START_ACK_LEN, &ack) < 0 || ack.accept != WIRE_ACCEPT_OK)
		return;
	test_packets(v, CTLCHAN_PKT_REFLECT);
}

static void server_role(struct conv *v)
{
	static const struct ctlchan_keys fixed = { .aes_key = { 1, 2, 3 }, .hmac_key = { 4, 5, 6 },
						   .client_iv = { 7, 8, 9 } };
	static const uint8_t server_iv[16] = { 0xa5, 0x5a };
	struct wire_server_start ss = { .accept = WIRE_ACCEPT_OK, .start_time = 1800000000LL * 1000000000 };
	uint8_t setup[WIRE_SETUP_LEN], msg[2 * WIRE_N_HDR_LEN + 16 * WIRE_N_MAX];
	const uint8_t *p;
	int rc;

	ctlchan_server_remember(&v->s, &v->g);
	if (v->raw) {
		if (!(p = fz_take(&v->in, sizeof(setup))))
			return;
		memcpy(setup, p, sizeof(setup));
	} else if (ctlchan_client_setup(&v->c, &v->g, v->mode, keyid, secret, strlen(secret), &fixed, setup) < 0) {
		return; /* Count 0 */
	}
	rc = ctlchan_server_setup(&v->s, setup, sizeof(setup), secret, strlen(secret));
	if (!v->raw && rc < 0)
		fail("the server refuses the client's Set-Up-Response", rc);
	if (rc < 0)
		return;
	wire_encode_server_start(msg, &ss);
	if ((rc = ctlchan_server_start(&v->s, msg, WIRE_SERVER_START_LEN, server_iv)) < 0)
		fail("server start", rc);
	if (!v->raw && (rc = ctlchan_client_server_start(&v->c, msg, WIRE_SERVER_START_LEN)) < 0)
		fail("client server start", rc);

	for (;;) {
		size_t len;
		bool known;

		/* the plaintext (or raw) command; not raw, the client seals it */
		if (v->raw) {
			if (!(p = fz_take(&v->in, 16)))
				return;
			memcpy(msg, p, 16);
		} else {
			if (v->in.n == 0)
				return;
			len = wire_command_len(v->in.p[0]);
			if (len == WIRE_N_HDR_LEN) /* RFC 5938 Start-N/Stop-N: the count tells */
				len = v->in.n >= WIRE_N_HDR_LEN ? wire_n_sessions_msg_len(v->in.p, WIRE_N_MAX) : 0;
			if (!(p = fz_take(&v->in, len ? len : 32)))
				return;
			memcpy(msg, p, len ? len : 32);
			if ((rc = ctlchan_seal(&v->c, msg, len ? len : 32)) < 0)
				fail("client seal", rc);
		}
		/* what the server does: first block, command, the rest, open */
		if ((rc = ctlchan_peek(&v->s, msg, 16)) < 0)
			fail("peek", rc);
		len = wire_command_len(msg[0]);
		if (len == WIRE_N_HDR_LEN)
			len = wire_n_sessions_msg_len(msg, WIRE_N_MAX);
		known = len != 0;
		if (!known)
			return;
		if (v->raw) {
			if (!(p = fz_take(&v->in, len - 16)))
				return;
			memcpy(msg + 16, p, len - 16);
		}
		rc = ctlchan_open(&v->s, msg, len);
		if (!v->raw && rc < 0)
			fail("a command the client sealed does not open", rc);
		if (rc < 0)
			return;
		if (msg[0] == WIRE_CMD_REQUEST_TW_SESSION) {
			struct wire_request rq;
			const uint8_t *sid = fz_take(&v->in, 16);

			if (wire_decode_request(msg, len, &rq) < 0 || !sid)
				return;
			if (!v->raw)
				test_setup(v, sid);
			else if (ctlchan_test_sealed(v->mode) && !v->test_ready) {
				struct ctlchan_test_keys tk;

				if ((rc = ctlchan_test_keys(&v->s, sid, &tk)) < 0 ||
				    (rc = ctlchan_test_init(&v->ts, v->mode, &tk)) < 0)
					fail("server test keys", rc);
				v->test_ready = true;
			}
		} else if (msg[0] == WIRE_CMD_START_SESSIONS) {
			struct wire_start_sessions st;

			wire_decode_start_sessions(msg, len, &st);
		} else if (msg[0] == WIRE_CMD_START_N_SESSIONS || msg[0] == WIRE_CMD_STOP_N_SESSIONS) {
			struct wire_n_sessions m;

			if (wire_decode_n_sessions(msg, len, &m) < 0)
				fail("an N-sessions message of the right length does not decode", 0);
		} else {
			struct wire_stop_sessions st;

			wire_decode_stop_sessions(msg, len, &st);
			break;
		}
	}
	test_packets(v, CTLCHAN_PKT_SENDER);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conv v = { .in = { data, size } };
	uint8_t flags = fz_u8(&v.in, 0);
	const uint8_t *g = fz_take(&v.in, WIRE_GREETING_LEN);

	if (!g || wire_decode_greeting(g, WIRE_GREETING_LEN, &v.g) < 0)
		return 0;
	v.raw = flags & FLAG_RAW;
	v.mode = modes[flags & 3];
	if (v.g.count > COUNT_FAST && (v.g.count != COUNT_CAPTURE || !v.raw))
		v.g.count = 1 + v.g.count % COUNT_FAST;
	if (!v.raw)
		v.g.modes |= v.mode;
	ctlchan_init(&v.c, CTLCHAN_CLIENT);
	ctlchan_init(&v.s, CTLCHAN_SERVER);
	memset(&v.tc, 0, sizeof(v.tc));
	memset(&v.ts, 0, sizeof(v.ts));
	if (flags & FLAG_SERVER)
		server_role(&v);
	else
		client_role(&v);
	ctlchan_test_fini(&v.tc);
	ctlchan_test_fini(&v.ts);
	ctlchan_fini(&v.c);
	ctlchan_fini(&v.s);
	return 0;
}
