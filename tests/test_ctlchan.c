/*
 * Tests of ctlchan.c (and of the authenticated/encrypted test-packet layouts
 * in wire.c):
 *
 *  - known answers from the captures of real owamp twping/twampd in the
 *    authenticated, encrypted and mixed modes (tests/data/interop, values from
 *    NOTES.md there): every control message after Set-Up-Response is
 *    decrypted and HMAC-checked in both directions, by a server channel
 *    (client -> server) and a client channel (server -> client), and then
 *    sealed again by the other role, which must give back the captured octets
 *    exactly -- so both our client and our server produce what twping and
 *    twampd put on the wire, including the first server HMAC that also covers
 *    the encrypted block of Server-Start;
 *  - every test packet of the authenticated and encrypted captures is opened,
 *    checked (sequence 0..9, timestamps) and sealed back to the same octets;
 *  - the denied capture: our server rejects the Token twping built with the
 *    wrong secret;
 *  - round trips between a client and a server channel in every mode, and the
 *    rejections: tampered messages and HMACs, truncated tokens, wrong secrets,
 *    bad modes, calls out of order, random bytes.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "ctlchan.h"
#include "ntptime.h"
#include "util/testhex.h"
#include "util/pcap.h"
#include "wire.h"

#define DATA_DIR "tests/data/interop/"
#define SERVER_PORT 8620
#define SECRET "twamp-interop-secret"

/* 2026-01-01T00:00:00Z and 2027-01-01T00:00:00Z: the captures are from 2026. */
#define Y2026_NS (1767225600LL * NS_PER_SEC)
#define Y2027_NS (1798761600LL * NS_PER_SEC)

/* ---- helpers --------------------------------------------------------- */

#include "util/testrng.h"

/* An instant in 2000..2100 (survives ns -> NTP -> ns to within 1 ns). */
static int64_t rnd_time(struct rng *r)
{
	return 946684800LL * NS_PER_SEC + (int64_t)(rnd(r) % (3155760000ULL * NS_PER_SEC));
}

static bool all_zero(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* ---- the captures ---------------------------------------------------- */

struct cap {
	const char *file;
	uint32_t mode;
	const char *k, *aes, *hmac, *civ, *siv, *sid;
	const char *test_aes, *test_hmac;   /* NULL: not in NOTES (mixed) */
	uint16_t client_udp, refl_udp;
	uint32_t padding;
};

static const struct cap cap_auth = {
	.file = "owamp-twping-twampd-auth.pcap",
	.mode = WIRE_MODE_AUTH,
	.k = "cf3af9f6c5e42039139d73b82fa35d05",
	.aes = "2751fde35807dc20fc3d515e34a708e6",
	.hmac = "26dcd3a05bef2b3f5eb75313ebe388a60d2741d9b7c7d89d2ec8d97c1361a375",
	.civ = "070c7bb74383376d3338273647362afa",
	.siv = "77e5fd85902e439bce523191a576d1a2",
	.sid = "7f000001eeb3b82230cdfaca49067d89",
	.test_aes = "c89fb69772d3be2979cfc2610b0618f8",
	.test_hmac = "6a2adb2c7f6e47ab7234b3560c4f13a49cc63ea104163e0edad29a5ef0e61985",
	.client_udp = 9487,
	.refl_udp = 18831,
	.padding = 64,
};

static const struct cap cap_enc = {
	.file = "owamp-twping-twampd-encrypted.pcap",
	.mode = WIRE_MODE_ENCRYPTED,
	.k = "eedad3b30b5f0f418e2cf06f393c5464",
	.aes = "73cb21494ef2d9111e35560cba931816",
	.hmac = "3a9ed7ed62b16c629a925017eedbf41d889becfcd1bab44e510baa8c716138b4",
	.civ = "7c4dfbf540cc1221e3aad8be14afedaf",
	.siv = "7a08d11dddee6a8e3f776a53c770cd33",
	.sid = "7f000001eeb3b8285f6db940b34531d5",
	.test_aes = "a59060e0d268a6a46900b3cd8738a248",
	.test_hmac = "96f39308c4ddb9b0027a85996253e5991b552316525c9daf64b6967952108ad6",
	.client_udp = 9666,
	.refl_udp = 18834,
	.padding = 64,
};

static const struct cap cap_mixed = {
	.file = "owamp-twping-twampd-mixed.pcap",
	.mode = WIRE_MODE_MIXED,
	.k = "0badcc17fb6aae4b6a34e51649858d0a",
	.aes = "61f57173d072e92020c5ae5861597096",
	.hmac = "33f8d5931133d55fb11104fb5cc8d52ee790efe66eeeb4010c9bbc4ce45ab1e1",
	.civ = "f1e4b9ed6391415f2ee7e9cf2b9fc730",
	.siv = "790ad191d9217246da9d2e3bb0dce078",
	.sid = "7f000001eeb3b82e89bd512e9c460e47",
	.client_udp = 9525,
	.refl_udp = 18807,
	.padding = 27,
};

/* Decrypted Request-TW-Session of the auth capture (NOTES.md). */
#define AUTH_REQUEST_PLAIN                                                  \
	"050400000000000000000000250f250f7f000001000000000000000000000000" \
	"7f000001000000000000000000000000 00000000000000000000000000000000" \
	"00000040 eeb3b82331873ffa 000000020061c79b 00000000 0000000000000000" \
	"afdecb348a22d90838b048c02b1411ad"

/* Both TCP directions of a capture's control connection. */
struct streams {
	struct pcap_file pf;
	uint16_t cport;
	uint8_t *c2s, *s2c;
	size_t c2s_len, s2c_len;
};

static void load_streams(const char *file, struct streams *st)
{
	char path[256];

	snprintf(path, sizeof(path), DATA_DIR "%s", file);
	cr_assert_eq(pcap_load(path, &st->pf), 0,
		     "cannot load %s (run the tests from the repository root)", path);
	st->cport = pcap_tcp_client_port(&st->pf, SERVER_PORT);
	cr_assert_neq(st->cport, 0);
	cr_assert_eq(pcap_tcp_stream(&st->pf, st->cport, SERVER_PORT, &st->c2s, &st->c2s_len), 0);
	cr_assert_eq(pcap_tcp_stream(&st->pf, SERVER_PORT, st->cport, &st->s2c, &st->s2c_len), 0);
}

static void free_streams(struct streams *st)
{
	free(st->c2s);
	free(st->s2c);
	pcap_free(&st->pf);
}

/* The session keys NOTES.md gives for a capture. */
static void cap_keys(const struct cap *c, struct ctlchan_keys *k)
{
	cr_assert_eq(hex2bin(c->aes, k->aes_key, 16), 16);
	cr_assert_eq(hex2bin(c->hmac, k->hmac_key, 32), 32);
	cr_assert_eq(hex2bin(c->civ, k->client_iv, 16), 16);
}

/*
 * One client -> server message of the capture at c2s + off (len octets):
 * the server channel opens a copy (peeking at the first block to learn the
 * command, as a server must), the client channel seals the plaintext again
 * and must give the captured octets.  The plaintext lands in plain.
 */
static void replay_c2s(struct ctlchan *cl, struct ctlchan *sv, const struct streams *st,
		       size_t off, size_t len, uint8_t *plain)
{
	uint8_t again[WIRE_CONTROL_MAX_LEN];
	int rc;

	cr_assert_leq(off + len, st->c2s_len, "capture stream too short");
	memcpy(plain, st->c2s + off, len);
	cr_assert_eq(ctlchan_peek(sv, plain, 16), 0);
	cr_assert_eq(wire_command_len(plain[0]), len, "command %u at offset %zu", plain[0], off);
	rc = ctlchan_open(sv, plain, len);
	cr_assert_eq(rc, 0, "client message at %zu: %s", off, ctlchan_strerror(rc));
	memcpy(again, plain, len);
	cr_assert_eq(ctlchan_seal(cl, again, len), 0);
	cr_assert_arr_eq(again, st->c2s + off, len,
			 "our client seals command %u differently from twping", plain[0]);
}

/* The same for a server -> client message. */
static void replay_s2c(struct ctlchan *cl, struct ctlchan *sv, const struct streams *st,
		       size_t off, size_t len, uint8_t *plain)
{
	uint8_t again[WIRE_CONTROL_MAX_LEN];
	int rc;

	cr_assert_leq(off + len, st->s2c_len, "capture stream too short");
	memcpy(plain, st->s2c + off, len);
	rc = ctlchan_open(cl, plain, len);
	cr_assert_eq(rc, 0, "server message at %zu: %s", off, ctlchan_strerror(rc));
	memcpy(again, plain, len);
	cr_assert_eq(ctlchan_seal(sv, again, len), 0);
	cr_assert_arr_eq(again, st->s2c + off, len, "our server seals differently from twampd");
}

/* Sender timestamps of the capture by sequence number, to match reflections. */
struct sent {
	uint8_t ts[8];
	int64_t t1;
	bool seen;
};

static void check_test_packets(const struct cap *c, const struct streams *st,
			       const struct ctlchan_test_keys *tk)
{
	struct ctlchan_test snd, rfl;
	struct sent sent[10];
	const struct pcap_frame *f;
	size_t pos = 0;
	uint32_t n = 0;

	memset(sent, 0, sizeof(sent));
	cr_assert_eq(ctlchan_test_init(&snd, c->mode, tk), 0);
	cr_assert_eq(ctlchan_test_init(&rfl, c->mode, tk), 0);

	while ((f = pcap_next_udp(&st->pf, &pos, c->client_udp, c->refl_udp))) {
		struct wire_test_sender m;
		uint8_t p[WIRE_TEST_MAX_LEN];
		int rc;

		cr_assert_eq(f->payload_len, WIRE_TEST_AUTH_SENDER_LEN + c->padding);
		memcpy(p, f->payload, f->payload_len);
		rc = ctlchan_test_open(&rfl, CTLCHAN_PKT_SENDER, p, f->payload_len);
		cr_assert_eq(rc, 0, "sender packet %u: %s", n, ctlchan_strerror(rc));
		cr_assert_eq(wire_decode_test_sender_auth(p, f->payload_len, &m), 0);
		cr_assert_eq(m.seq, n, "sender packet %u has seq %u", n, m.seq);
		cr_assert(m.ts >= Y2026_NS && m.ts < Y2027_NS, "implausible T1");
		cr_assert_eq(m.errest, 0x0001);
		cr_assert(all_zero(p + 4, 12) && all_zero(p + 26, 6), "MBZ not zero");
		cr_assert(!all_zero(p + 48, c->padding), "padding is random in twping");
		sent[n].t1 = m.ts;
		memcpy(sent[n].ts, p + 16, 8);
		sent[n].seen = true;
		/* our sender seals the same plaintext to the same octets */
		cr_assert_eq(ctlchan_test_seal(&snd, CTLCHAN_PKT_SENDER, p, f->payload_len), 0);
		cr_assert_arr_eq(p, f->payload, f->payload_len);
		cr_assert_lt(++n, 11);
	}
	cr_assert_eq(n, 10, "%u sender packets", n);

	pos = 0;
	n = 0;
	while ((f = pcap_next_udp(&st->pf, &pos, c->refl_udp, c->client_udp))) {
		struct wire_test_reflect m;
		uint8_t p[WIRE_TEST_MAX_LEN];
		int rc;

		cr_assert_eq(f->payload_len, WIRE_TEST_AUTH_REFLECT_LEN);
		memcpy(p, f->payload, f->payload_len);
		rc = ctlchan_test_open(&snd, CTLCHAN_PKT_REFLECT, p, f->payload_len);
		cr_assert_eq(rc, 0, "reflector packet %u: %s", n, ctlchan_strerror(rc));
		cr_assert_eq(wire_decode_test_reflect_auth(p, f->payload_len, &m), 0);
		cr_assert_eq(m.seq, n, "reflector packet %u has seq %u", n, m.seq);
		cr_assert_eq(m.sender_seq, n);
		cr_assert(sent[n].seen);
		cr_assert_arr_eq(p + 64, sent[n].ts, 8, "Sender Timestamp is not T1 verbatim");
		cr_assert_eq(m.sender_ts, sent[n].t1);
		cr_assert(m.rx_ts >= m.sender_ts && m.rx_ts - m.sender_ts < NS_PER_SEC, "T2 vs T1");
		cr_assert(m.ts >= m.rx_ts && m.ts - m.rx_ts < NS_PER_SEC, "T3 vs T2");
		cr_assert_eq(m.errest, 0x0001);
		cr_assert_eq(m.sender_errest, 0x0001);
		cr_assert_eq(m.sender_ttl, 255);
		cr_assert(all_zero(p + 4, 12) && all_zero(p + 26, 6) && all_zero(p + 40, 8) &&
			  all_zero(p + 52, 12) && all_zero(p + 74, 6) && all_zero(p + 81, 15),
			  "MBZ not zero");
		/* our reflector seals the same plaintext to the same octets */
		cr_assert_eq(ctlchan_test_seal(&rfl, CTLCHAN_PKT_REFLECT, p, f->payload_len), 0);
		cr_assert_arr_eq(p, f->payload, f->payload_len);
		cr_assert_lt(++n, 11);
	}
	cr_assert_eq(n, 10, "%u reflector packets", n);
	ctlchan_test_fini(&snd);
	ctlchan_test_fini(&rfl);
}

/* Mixed mode: open test packets (41 octets both ways), left alone by ctlchan_test. */
static void check_open_test_packets(const struct cap *c, const struct streams *st)
{
	struct ctlchan_test t;
	const struct pcap_frame *f;
	size_t pos = 0;
	uint32_t n = 0;

	cr_assert(!ctlchan_test_sealed(c->mode));
	cr_assert_eq(ctlchan_test_init(&t, c->mode, NULL), 0);
	while ((f = pcap_next_udp(&st->pf, &pos, c->client_udp, c->refl_udp))) {
		struct wire_test_sender m;
		uint8_t p[WIRE_TEST_MAX_LEN];

		cr_assert_eq(f->payload_len, WIRE_TEST_SENDER_LEN + c->padding);
		memcpy(p, f->payload, f->payload_len);
		cr_assert_eq(ctlchan_test_open(&t, CTLCHAN_PKT_SENDER, p, f->payload_len), 0);
		cr_assert_arr_eq(p, f->payload, f->payload_len);
		cr_assert_eq(wire_decode_test_sender(p, f->payload_len, WIRE_TEST_OPEN, &m), 0);
		cr_assert_eq(m.seq, n);
		cr_assert(m.ts >= Y2026_NS && m.ts < Y2027_NS);
		n++;
	}
	cr_assert_eq(n, 10);
	pos = 0;
	n = 0;
	while ((f = pcap_next_udp(&st->pf, &pos, c->refl_udp, c->client_udp))) {
		struct wire_test_reflect m;

		cr_assert_eq(f->payload_len, WIRE_TEST_REFLECT_LEN);
		cr_assert_eq(wire_decode_test_reflect(f->payload, f->payload_len, WIRE_TEST_OPEN, &m),
			     0);
		cr_assert_eq(m.seq, n);
		cr_assert_eq(m.sender_seq, n);
		cr_assert(m.rx_ts >= m.sender_ts && m.ts >= m.rx_ts);
		n++;
	}
	cr_assert_eq(n, 10);
	ctlchan_test_fini(&t);
}

/*
 * The whole known-answer replay of one capture: key derivation, Token,
 * every control message both ways, test-session keys, every test packet.
 */
static void replay_capture(const struct cap *c)
{
	struct streams st;
	struct ctlchan cl, sv;
	struct ctlchan_keys keys;
	struct ctlchan_test_keys tk_sv, tk_cl;
	struct wire_greeting g;
	struct wire_setup su;
	struct wire_server_start ss;
	struct wire_request rq;
	struct wire_accept_session as;
	uint8_t k[16], aes[16], hmac[32], setup[WIRE_SETUP_LEN], sid[16];
	uint8_t start[WIRE_SERVER_START_LEN], start_plain[WIRE_SERVER_START_LEN];
	uint8_t req[WIRE_REQUEST_LEN], acc[WIRE_ACCEPT_SESSION_LEN];
	uint8_t strt[WIRE_START_SESSIONS_LEN], ack[WIRE_START_ACK_LEN];
	uint8_t stop[WIRE_STOP_SESSIONS_LEN], mac[16];
	size_t c2s, s2c;
	int rc;

	load_streams(c->file, &st);
	cr_assert_eq(st.c2s_len, WIRE_SETUP_LEN + WIRE_REQUEST_LEN + WIRE_START_SESSIONS_LEN +
					 WIRE_STOP_SESSIONS_LEN);
	cr_assert_eq(st.s2c_len, WIRE_GREETING_LEN + WIRE_SERVER_START_LEN +
					 WIRE_ACCEPT_SESSION_LEN + WIRE_START_ACK_LEN);
	cap_keys(c, &keys);
	cr_assert_eq(hex2bin(c->sid, sid, 16), 16);

	/* greeting and PBKDF2 */
	cr_assert_eq(wire_decode_greeting(st.s2c, st.s2c_len, &g), 0);
	cr_assert_eq(g.modes, 0x0f);
	cr_assert_eq(g.count, 2048);
	cr_assert_eq(crypto_kdf(SECRET, strlen(SECRET), g.salt, g.count, k), 0);
	assert_hex(k, 16, c->k, "K");

	/* the Token holds the Challenge and the session keys */
	cr_assert_eq(wire_decode_setup(st.c2s, st.c2s_len, &su), 0);
	cr_assert_eq(su.mode, c->mode);
	cr_assert_str_eq((const char *)su.keyid, "probe");
	cr_assert(all_zero(su.keyid + 5, 75));
	cr_assert_eq(ctlchan_token_open(k, su.token, g.challenge, aes, hmac), 0);
	cr_assert_arr_eq(aes, keys.aes_key, 16);
	cr_assert_arr_eq(hmac, keys.hmac_key, 32);
	cr_assert_arr_eq(su.client_iv, keys.client_iv, 16);

	/* our client, given twping's keys, builds twping's Set-Up-Response */
	ctlchan_init(&cl, CTLCHAN_CLIENT);
	rc = ctlchan_client_setup(&cl, &g, c->mode, "probe", SECRET, strlen(SECRET), &keys, setup);
	cr_assert_eq(rc, 0, "%s", ctlchan_strerror(rc));
	cr_assert_arr_eq(setup, st.c2s, WIRE_SETUP_LEN, "Set-Up-Response differs from twping's");

	/* our server, remembering twampd's greeting, accepts it */
	ctlchan_init(&sv, CTLCHAN_SERVER);
	ctlchan_server_remember(&sv, &g);
	rc = ctlchan_server_setup(&sv, st.c2s, WIRE_SETUP_LEN, SECRET, strlen(SECRET));
	cr_assert_eq(rc, 0, "%s", ctlchan_strerror(rc));
	cr_assert_eq(sv.mode, c->mode);
	cr_assert_arr_eq(sv.keys.aes_key, keys.aes_key, 16);
	cr_assert_arr_eq(sv.keys.hmac_key, keys.hmac_key, 32);
	cr_assert_arr_eq(sv.keys.client_iv, keys.client_iv, 16);

	/* Server-Start: 32 octets clear, the last block starts the server stream */
	s2c = WIRE_GREETING_LEN;
	memcpy(start, st.s2c + s2c, WIRE_SERVER_START_LEN);
	cr_assert_eq(start[15], 0, "Accept");
	assert_hex(start + 16, 16, c->siv, "Server-IV");
	cr_assert(all_zero(start, 15));
	cr_assert_eq(ctlchan_client_server_start(&cl, start, sizeof(start)), 0);
	cr_assert_arr_eq(start, st.s2c + s2c, 32, "the clear part changed");
	cr_assert(all_zero(start + 40, 8), "decrypted MBZ of Server-Start not zero");
	cr_assert_eq(wire_decode_server_start(start, sizeof(start), &ss), 0);
	cr_assert(ss.start_time >= Y2026_NS && ss.start_time < Y2027_NS,
		  "decrypted Start-Time implausible");
	memcpy(start_plain, start, sizeof(start));
	{
		uint8_t siv[16], again[WIRE_SERVER_START_LEN];

		hex2bin(c->siv, siv, 16);
		memcpy(again, start_plain, sizeof(again));
		memset(again + 16, 0xee, 16); /* the call writes the Server-IV */
		cr_assert_eq(ctlchan_server_start(&sv, again, sizeof(again), siv), 0);
		cr_assert_arr_eq(again, st.s2c + s2c, WIRE_SERVER_START_LEN,
				 "our Server-Start differs from twampd's");
	}
	s2c += WIRE_SERVER_START_LEN;
	c2s = WIRE_SETUP_LEN;

	/* Request-TW-Session */
	replay_c2s(&cl, &sv, &st, c2s, WIRE_REQUEST_LEN, req);
	c2s += WIRE_REQUEST_LEN;
	cr_assert_eq(wire_decode_request(req, sizeof(req), &rq), 0);
	cr_assert_eq(rq.ipvn, 4);
	cr_assert_eq(rq.sender_port, c->client_udp);
	cr_assert_eq(rq.padding, c->padding);
	cr_assert(rq.start_time >= Y2026_NS && rq.start_time < Y2027_NS);
	cr_assert(all_zero(rq.sid, 16));
	if (c == &cap_auth)
		assert_hex(req, sizeof(req), AUTH_REQUEST_PLAIN, "decrypted Request-TW-Session");
	cr_assert_eq(crypto_hmac16(keys.hmac_key, 32, req, 96, mac), 0);
	cr_assert_arr_eq(mac, req + 96, 16, "client HMAC covers only its own message");

	/* Accept-Session: the server's first HMAC, over Server-Start's block too */
	replay_s2c(&cl, &sv, &st, s2c, WIRE_ACCEPT_SESSION_LEN, acc);
	s2c += WIRE_ACCEPT_SESSION_LEN;
	cr_assert_eq(wire_decode_accept_session(acc, sizeof(acc), &as), 0);
	cr_assert_eq(as.accept, 0);
	cr_assert_eq(as.port, c->refl_udp);
	cr_assert_arr_eq(as.sid, sid, 16, "SID");
	cr_assert(all_zero(acc + 20, 12));
	{
		uint8_t both[48];

		memcpy(both, start_plain + 32, 16);
		memcpy(both + 16, acc, 32);
		cr_assert_eq(crypto_hmac16(keys.hmac_key, 32, both, 48, mac), 0);
		cr_assert_arr_eq(mac, acc + 32, 16,
				 "owamp quirk: HMAC(ServerStart[32:48] | Accept[0:32])");
		cr_assert_eq(crypto_hmac16(keys.hmac_key, 32, acc, 32, mac), 0);
		cr_assert(!crypto_equal(mac, acc + 32, 16), "HMAC over Accept-Session alone matched");
	}

	/* Start-Sessions */
	replay_c2s(&cl, &sv, &st, c2s, WIRE_START_SESSIONS_LEN, strt);
	c2s += WIRE_START_SESSIONS_LEN;
	cr_assert_eq(strt[0], WIRE_CMD_START_SESSIONS);
	cr_assert(all_zero(strt + 1, 15));

	/* Start-Ack: covers only itself */
	replay_s2c(&cl, &sv, &st, s2c, WIRE_START_ACK_LEN, ack);
	s2c += WIRE_START_ACK_LEN;
	cr_assert(all_zero(ack, 16), "Start-Ack: Accept 0 and MBZ");
	cr_assert_eq(crypto_hmac16(keys.hmac_key, 32, ack, 16, mac), 0);
	cr_assert_arr_eq(mac, ack + 16, 16);

	/* Stop-Sessions */
	replay_c2s(&cl, &sv, &st, c2s, WIRE_STOP_SESSIONS_LEN, stop);
	c2s += WIRE_STOP_SESSIONS_LEN;
	{
		struct wire_stop_sessions m;

		cr_assert_eq(wire_decode_stop_sessions(stop, sizeof(stop), &m), 0);
		cr_assert_eq(m.accept, 0);
		cr_assert_eq(m.nsessions, 1);
	}
	cr_assert_eq(c2s, st.c2s_len);
	cr_assert_eq(s2c, st.s2c_len);

	/* test-session keys from the SID, the same on both sides */
	cr_assert_eq(ctlchan_test_keys(&sv, sid, &tk_sv), 0);
	cr_assert_eq(ctlchan_test_keys(&cl, sid, &tk_cl), 0);
	cr_assert_arr_eq(&tk_sv, &tk_cl, sizeof(tk_sv));
	if (c->test_aes) {
		assert_hex(tk_sv.aes_key, 16, c->test_aes, "test AES key");
		assert_hex(tk_sv.hmac_key, 32, c->test_hmac, "test HMAC key");
	}

	if (ctlchan_test_sealed(c->mode))
		check_test_packets(c, &st, &tk_sv);
	else
		check_open_test_packets(c, &st);

	ctlchan_fini(&cl);
	ctlchan_fini(&sv);
	free_streams(&st);
}

Test(capture, auth) { replay_capture(&cap_auth); }
Test(capture, encrypted) { replay_capture(&cap_enc); }
Test(capture, mixed) { replay_capture(&cap_mixed); }

/*
 * twping ran with the passphrase "wrong-secret": our server, holding the
 * right secret, refuses the Token; twampd's answer is Accept 1 in clear with
 * a zero Server-IV, which is what ours writes too.
 */
Test(capture, denied_wrong_key)
{
	struct streams st;
	struct ctlchan sv, cl;
	struct wire_greeting g;
	uint8_t start[WIRE_SERVER_START_LEN];
	int rc;

	load_streams("owamp-twping-twampd-auth-denied-wrongkey.pcap", &st);
	cr_assert_eq(st.c2s_len, WIRE_SETUP_LEN);
	cr_assert_eq(st.s2c_len, WIRE_GREETING_LEN + WIRE_SERVER_START_LEN);
	cr_assert_eq(wire_decode_greeting(st.s2c, st.s2c_len, &g), 0);

	ctlchan_init(&sv, CTLCHAN_SERVER);
	ctlchan_server_remember(&sv, &g);
	rc = ctlchan_server_setup(&sv, st.c2s, st.c2s_len, SECRET, strlen(SECRET));
	cr_assert_eq(rc, CTLCHAN_EDENIED, "got %d (%s)", rc, ctlchan_strerror(rc));
	cr_assert(strstr(ctlchan_strerror(rc), "secret"), "reason: %s", ctlchan_strerror(rc));
	cr_assert(!sv.keyed);
	cr_assert(all_zero(sv.keys.aes_key, 16) && all_zero(sv.keys.hmac_key, 32),
		  "keys kept after a denial");

	/* twampd's denial, rebuilt by our server */
	memcpy(start, st.s2c + WIRE_GREETING_LEN, sizeof(start));
	cr_assert_eq(start[15], WIRE_ACCEPT_FAILURE);
	memset(start + 16, 0x5a, 16);
	cr_assert_eq(ctlchan_server_start(&sv, start, sizeof(start), NULL), 0);
	cr_assert_arr_eq(start, st.s2c + WIRE_GREETING_LEN, sizeof(start));
	ctlchan_fini(&sv);

	/* the same Token with the secret twping really used is fine */
	ctlchan_init(&sv, CTLCHAN_SERVER);
	ctlchan_server_remember(&sv, &g);
	cr_assert_eq(ctlchan_server_setup(&sv, st.c2s, st.c2s_len, "wrong-secret", 12), 0);
	ctlchan_fini(&sv);

	/* a client reading the denial leaves it as is; the caller sees Accept 1 */
	ctlchan_init(&cl, CTLCHAN_CLIENT);
	{
		uint8_t setup[WIRE_SETUP_LEN];
		struct wire_server_start ss;

		cr_assert_eq(ctlchan_client_setup(&cl, &g, WIRE_MODE_AUTH, "probe", "wrong-secret",
						  12, NULL, setup), 0);
		memcpy(start, st.s2c + WIRE_GREETING_LEN, sizeof(start));
		cr_assert_eq(ctlchan_client_server_start(&cl, start, sizeof(start)), 0);
		cr_assert_arr_eq(start, st.s2c + WIRE_GREETING_LEN, sizeof(start));
		cr_assert_eq(wire_decode_server_start(start, sizeof(start), &ss), 0);
		cr_assert_eq(ss.accept, WIRE_ACCEPT_FAILURE);
	}
	ctlchan_fini(&cl);
	free_streams(&st);
}

/* Damaging any octet of a captured message is caught by the HMAC. */
Test(capture, tampered_messages_rejected)
{
	struct streams st;
	struct wire_greeting g;
	size_t pos;

	load_streams(cap_enc.file, &st);
	cr_assert_eq(wire_decode_greeting(st.s2c, st.s2c_len, &g), 0);
	/* Request-TW-Session is client octets 164..275 */
	for (pos = WIRE_SETUP_LEN; pos < WIRE_SETUP_LEN + WIRE_REQUEST_LEN; pos += 7) {
		struct ctlchan sv;
		uint8_t req[WIRE_REQUEST_LEN];
		int rc;

		ctlchan_init(&sv, CTLCHAN_SERVER);
		ctlchan_server_remember(&sv, &g);
		cr_assert_eq(ctlchan_server_setup(&sv, st.c2s, WIRE_SETUP_LEN, SECRET, strlen(SECRET)),
			     0);
		memcpy(req, st.c2s + WIRE_SETUP_LEN, sizeof(req));
		req[pos - WIRE_SETUP_LEN] ^= 0x01;
		rc = ctlchan_open(&sv, req, sizeof(req));
		cr_assert_eq(rc, CTLCHAN_EHMAC, "flip at %zu: %d", pos, rc);
		ctlchan_fini(&sv);
	}
	/* a damaged Server-Start block surfaces at the first server HMAC */
	for (pos = 32; pos < 48; pos += 5) {
		struct ctlchan cl;
		struct ctlchan_keys keys;
		uint8_t setup[WIRE_SETUP_LEN], start[48], acc[48];

		cap_keys(&cap_enc, &keys);
		ctlchan_init(&cl, CTLCHAN_CLIENT);
		cr_assert_eq(ctlchan_client_setup(&cl, &g, WIRE_MODE_ENCRYPTED, "probe", SECRET,
						  strlen(SECRET), &keys, setup), 0);
		memcpy(start, st.s2c + WIRE_GREETING_LEN, 48);
		start[pos] ^= 0x80;
		cr_assert_eq(ctlchan_client_server_start(&cl, start, 48), 0);
		memcpy(acc, st.s2c + WIRE_GREETING_LEN + 48, 48);
		cr_assert_eq(ctlchan_open(&cl, acc, 48), CTLCHAN_EHMAC);
		ctlchan_fini(&cl);
	}
	free_streams(&st);
}

/* ---- round trips between our own client and server ------------------ */

struct pair {
	struct ctlchan cl, sv;
	uint32_t mode;
	uint8_t start_plain[16];   /* last block of Server-Start, as the server wrote it */
};

/*
 * Greeting, Set-Up-Response, Server-Start between a fresh client and server.
 * Returns what ctlchan_server_setup() said; on 0 both are ready for messages.
 */
static int handshake(struct pair *p, uint32_t mode, const char *csecret, const char *ssecret)
{
	uint8_t greet[WIRE_GREETING_LEN], setup[WIRE_SETUP_LEN], start[WIRE_SERVER_START_LEN];
	struct wire_greeting g;
	struct wire_setup su;
	struct wire_server_start ss = { .accept = 0, .start_time = ntptime_now() }, got;
	int rc;

	memset(p, 0, sizeof(*p));
	p->mode = mode;
	ctlchan_init(&p->cl, CTLCHAN_CLIENT);
	ctlchan_init(&p->sv, CTLCHAN_SERVER);
	cr_assert_eq(ctlchan_server_greeting(&p->sv, 0x0f, 2048, greet), 0);
	cr_assert_eq(wire_decode_greeting(greet, sizeof(greet), &g), 0);
	cr_assert_eq(g.modes, 0x0f);
	cr_assert_eq(g.count, 2048);
	cr_assert(!all_zero(g.challenge, 16) && !all_zero(g.salt, 16));
	rc = ctlchan_client_setup(&p->cl, &g, mode, "probe", csecret, strlen(csecret), NULL, setup);
	cr_assert_eq(rc, 0, "%s", ctlchan_strerror(rc));
	cr_assert_eq(wire_decode_setup(setup, sizeof(setup), &su), 0);
	cr_assert_eq(su.mode, mode);
	if (mode == WIRE_MODE_OPEN)
		cr_assert(all_zero(setup + 4, WIRE_SETUP_LEN - 4), "open mode: zeros after Mode");
	else
		cr_assert_str_eq((const char *)su.keyid, "probe");
	rc = ctlchan_server_setup(&p->sv, setup, sizeof(setup), ssecret, strlen(ssecret));
	if (rc)
		return rc;
	cr_assert_eq(p->sv.keyed, mode != WIRE_MODE_OPEN);

	wire_encode_server_start(start, &ss);
	memcpy(p->start_plain, start + 32, 16);
	cr_assert_eq(ctlchan_server_start(&p->sv, start, sizeof(start), NULL), 0);
	if (mode == WIRE_MODE_OPEN) {
		cr_assert(all_zero(start + 16, 16), "open mode: Server-IV zero");
		cr_assert_arr_eq(start + 32, p->start_plain, 16);
	} else {
		cr_assert(!all_zero(start + 16, 16), "random Server-IV");
		cr_assert(memcmp(start + 32, p->start_plain, 16) != 0, "last block not encrypted");
	}
	cr_assert_eq(ctlchan_client_server_start(&p->cl, start, sizeof(start)), 0);
	cr_assert_eq(wire_decode_server_start(start, sizeof(start), &got), 0);
	cr_assert_eq(got.accept, 0);
	cr_assert_arr_eq(start + 32, p->start_plain, 16);
	if (mode != WIRE_MODE_OPEN) {
		cr_assert_arr_eq(&p->cl.keys, &p->sv.keys, sizeof(p->cl.keys));
		cr_assert_arr_eq(p->cl.server_iv, p->sv.server_iv, 16);
	}
	return 0;
}

static void pair_fini(struct pair *p)
{
	ctlchan_fini(&p->cl);
	ctlchan_fini(&p->sv);
}

/* Client -> server: seal, then peek + open on the server; plaintext survives. */
static void send_c2s(struct pair *p, const uint8_t *msg, size_t len)
{
	uint8_t buf[WIRE_CONTROL_MAX_LEN];
	int rc;

	memcpy(buf, msg, len);
	cr_assert_eq(ctlchan_seal(&p->cl, buf, len), 0);
	if (p->mode != WIRE_MODE_OPEN)
		cr_assert(memcmp(buf, msg, 16) != 0, "first block sent in clear");
	else
		cr_assert_arr_eq(buf, msg, len);
	cr_assert_eq(ctlchan_peek(&p->sv, buf, 16), 0);
	cr_assert_eq(buf[0], msg[0]);
	cr_assert_eq(wire_command_len(buf[0]), len);
	rc = ctlchan_open(&p->sv, buf, len);
	cr_assert_eq(rc, 0, "%s", ctlchan_strerror(rc));
	cr_assert_arr_eq(buf, msg, len - 16);
	if (p->mode == WIRE_MODE_OPEN)
		cr_assert_arr_eq(buf + len - 16, msg + len - 16, 16);
}

/* Server -> client; covered: what the HMAC field must cover (NULL: only msg). */
static void send_s2c(struct pair *p, const uint8_t *msg, size_t len, const uint8_t *extra16)
{
	uint8_t buf[WIRE_CONTROL_MAX_LEN], cover[16 + WIRE_CONTROL_MAX_LEN], mac[16];
	size_t n = 0;
	int rc;

	memcpy(buf, msg, len);
	cr_assert_eq(ctlchan_seal(&p->sv, buf, len), 0);
	rc = ctlchan_open(&p->cl, buf, len);
	cr_assert_eq(rc, 0, "%s", ctlchan_strerror(rc));
	cr_assert_arr_eq(buf, msg, len - 16);
	if (p->mode == WIRE_MODE_OPEN)
		return;
	if (extra16) {
		memcpy(cover, extra16, 16);
		n = 16;
	}
	memcpy(cover + n, msg, len - 16);
	cr_assert_eq(crypto_hmac16(p->sv.keys.hmac_key, 32, cover, n + len - 16, mac), 0);
	cr_assert_arr_eq(mac, buf + len - 16, 16, "HMAC coverage");
}

static void rnd_request(struct rng *r, uint8_t out[WIRE_REQUEST_LEN])
{
	struct wire_request m;

	memset(&m, 0, sizeof(m));
	m.ipvn = 4;
	m.sender_port = (uint16_t)rnd(r);
	m.receiver_port = (uint16_t)rnd(r);
	rnd_bytes(r, m.sender.b, 4);
	rnd_bytes(r, m.receiver.b, 4);
	m.padding = (uint32_t)(rnd(r) % 1000);
	m.start_time = rnd_time(r);
	m.timeout = 2 * NS_PER_SEC;
	m.typep = wire_typep_from_dscp((uint8_t)(rnd(r) % 64));
	wire_encode_request(out, &m);
}

/* A whole control conversation in mode: several sessions, then start/stop. */
static void conversation(uint32_t mode, uint64_t seed)
{
	struct rng r = { seed };
	struct pair p;
	int i;

	cr_assert_eq(handshake(&p, mode, "s3cret", "s3cret"), 0);
	for (i = 0; i < 3; i++) {
		uint8_t req[WIRE_REQUEST_LEN], acc[WIRE_ACCEPT_SESSION_LEN];
		struct wire_accept_session as = { .accept = 0, .port = (uint16_t)rnd(&r) };

		rnd_request(&r, req);
		send_c2s(&p, req, sizeof(req));
		rnd_bytes(&r, as.sid, 16);
		wire_encode_accept_session(acc, &as);
		/* only the server's first HMAC covers the Server-Start block */
		send_s2c(&p, acc, sizeof(acc), i == 0 ? p.start_plain : NULL);
	}
	{
		struct wire_start_sessions m = { { 0 } };
		struct wire_start_ack a = { .accept = 0 };
		struct wire_stop_sessions s = { .accept = 0, .nsessions = 3 };
		uint8_t b1[WIRE_START_SESSIONS_LEN], b2[WIRE_START_ACK_LEN], b3[WIRE_STOP_SESSIONS_LEN];

		wire_encode_start_sessions(b1, &m);
		send_c2s(&p, b1, sizeof(b1));
		wire_encode_start_ack(b2, &a);
		send_s2c(&p, b2, sizeof(b2), NULL);
		wire_encode_stop_sessions(b3, &s);
		send_c2s(&p, b3, sizeof(b3));
	}
	/* test-session keys agree on both sides */
	if (mode != WIRE_MODE_OPEN) {
		struct ctlchan_test_keys a, b;
		uint8_t sid[16];

		rnd_bytes(&r, sid, 16);
		cr_assert_eq(ctlchan_test_keys(&p.cl, sid, &a), 0);
		cr_assert_eq(ctlchan_test_keys(&p.sv, sid, &b), 0);
		cr_assert_arr_eq(&a, &b, sizeof(a));
	} else {
		struct ctlchan_test_keys a;
		uint8_t sid[16] = { 0 };

		cr_assert_eq(ctlchan_test_keys(&p.cl, sid, &a), CTLCHAN_ESTATE);
	}
	pair_fini(&p);
}

Test(roundtrip, open) { conversation(WIRE_MODE_OPEN, 1); }
Test(roundtrip, authenticated) { conversation(WIRE_MODE_AUTH, 2); }
Test(roundtrip, encrypted) { conversation(WIRE_MODE_ENCRYPTED, 4); }
Test(roundtrip, mixed) { conversation(WIRE_MODE_MIXED, 8); }

Test(roundtrip, wrong_secret_denied)
{
	static const uint32_t modes[] = { WIRE_MODE_AUTH, WIRE_MODE_ENCRYPTED, WIRE_MODE_MIXED };
	size_t i;

	for (i = 0; i < 3; i++) {
		struct pair p;
		int rc = handshake(&p, modes[i], "client-secret", "server-secret");

		cr_assert_eq(rc, CTLCHAN_EDENIED, "mode %u: %d", modes[i], rc);
		cr_assert(strstr(ctlchan_strerror(rc), "shared secret"));
		cr_assert(!p.sv.keyed);
		pair_fini(&p);
	}
	/* open mode takes no secret, so none can be wrong */
	{
		struct pair p;

		cr_assert_eq(handshake(&p, WIRE_MODE_OPEN, "a", "b"), 0);
		pair_fini(&p);
	}
}

/* Every single-bit flip anywhere in a sealed message is rejected. */
Test(roundtrip, tampered_rejected)
{
	struct rng r = { 77 };
	size_t bit;

	for (bit = 0; bit < WIRE_REQUEST_LEN * 8; bit += 13) {
		struct pair p;
		uint8_t req[WIRE_REQUEST_LEN], buf[WIRE_REQUEST_LEN];

		cr_assert_eq(handshake(&p, bit % 2 ? WIRE_MODE_AUTH : WIRE_MODE_MIXED, "k", "k"), 0);
		rnd_request(&r, req);
		memcpy(buf, req, sizeof(buf));
		cr_assert_eq(ctlchan_seal(&p.cl, buf, sizeof(buf)), 0);
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		cr_assert_eq(ctlchan_open(&p.sv, buf, sizeof(buf)), CTLCHAN_EHMAC, "bit %zu", bit);
		pair_fini(&p);
	}
	/* a forged HMAC field over the right ciphertext, and a replayed message */
	{
		struct pair p;
		uint8_t a[WIRE_START_SESSIONS_LEN], b[WIRE_START_SESSIONS_LEN];
		struct wire_start_sessions m = { { 0 } };

		cr_assert_eq(handshake(&p, WIRE_MODE_ENCRYPTED, "k", "k"), 0);
		wire_encode_start_sessions(a, &m);
		cr_assert_eq(ctlchan_seal(&p.cl, a, sizeof(a)), 0);
		memcpy(b, a, sizeof(b));
		cr_assert_eq(ctlchan_open(&p.sv, a, sizeof(a)), 0);
		/* the same ciphertext again: the chain has moved on */
		cr_assert_eq(ctlchan_open(&p.sv, b, sizeof(b)), CTLCHAN_EHMAC);
		pair_fini(&p);
	}
}

/* A message sealed with another HMAC key (a man in the middle) is rejected. */
Test(roundtrip, other_hmac_key_rejected)
{
	struct pair p;
	struct ctlchan fake;
	uint8_t acc[WIRE_ACCEPT_SESSION_LEN];
	struct wire_accept_session as = { .accept = 0, .port = 1234 };

	cr_assert_eq(handshake(&p, WIRE_MODE_ENCRYPTED, "k", "k"), 0);
	/* same AES stream as the server, other HMAC key */
	fake = p.sv;
	fake.tx = crypto_aes_new();
	fake.tx_mac = crypto_hmac_new();
	fake.rx = NULL;
	fake.rx_mac = NULL;
	cr_assert_not_null(fake.tx);
	cr_assert_not_null(fake.tx_mac);
	cr_assert_eq(crypto_aes_key(fake.tx, CRYPTO_AES_CBC, CRYPTO_ENCRYPT, p.sv.keys.aes_key,
				    p.sv.server_iv), 0);
	{
		uint8_t junk[16];

		memcpy(junk, p.start_plain, 16);
		cr_assert_eq(crypto_aes_run(fake.tx, junk, junk, 16), 0);
	}
	fake.keys.hmac_key[0] ^= 1;
	cr_assert_eq(crypto_hmac_key(fake.tx_mac, fake.keys.hmac_key, 32), 0);
	cr_assert_eq(crypto_hmac_update(fake.tx_mac, p.start_plain, 16), 0);
	wire_encode_accept_session(acc, &as);
	cr_assert_eq(ctlchan_seal(&fake, acc, sizeof(acc)), 0);
	cr_assert_eq(ctlchan_open(&p.cl, acc, sizeof(acc)), CTLCHAN_EHMAC);
	ctlchan_fini(&fake);
	pair_fini(&p);
}

/* Short or damaged Set-Up-Response tokens. */
Test(setup, truncated_and_damaged_token)
{
	uint8_t greet[WIRE_GREETING_LEN], setup[WIRE_SETUP_LEN];
	struct wire_greeting g;
	struct ctlchan cl, sv;
	size_t len;

	ctlchan_init(&cl, CTLCHAN_CLIENT);
	ctlchan_init(&sv, CTLCHAN_SERVER);
	cr_assert_eq(ctlchan_server_greeting(&sv, 0x0f, 1024, greet), 0);
	wire_decode_greeting(greet, sizeof(greet), &g);
	cr_assert_eq(ctlchan_client_setup(&cl, &g, WIRE_MODE_AUTH, "probe", "k", 1, NULL, setup), 0);

	/* cut anywhere before the end: refused for its length, nothing read past it */
	for (len = 0; len < WIRE_SETUP_LEN; len += 9) {
		uint8_t *cut = malloc(len ? len : 1);

		cr_assert_not_null(cut);
		memcpy(cut, setup, len);
		cr_assert_eq(ctlchan_server_setup(&sv, cut, len, "k", 1), CTLCHAN_ELEN);
		cr_assert(!sv.mode);
		free(cut);
	}
	/* a token whose Challenge block is damaged (e.g. a short token zero-filled) */
	{
		uint8_t bad[WIRE_SETUP_LEN];

		memcpy(bad, setup, sizeof(bad));
		memset(bad + 84, 0, 16);
		cr_assert_eq(ctlchan_server_setup(&sv, bad, sizeof(bad), "k", 1), CTLCHAN_EDENIED);
		memcpy(bad, setup, sizeof(bad));
		memset(bad + 84 + 32, 0, 32); /* keys lost, Challenge intact */
		ctlchan_fini(&sv);
		ctlchan_init(&sv, CTLCHAN_SERVER);
		ctlchan_server_remember(&sv, &g);
		cr_assert_eq(ctlchan_server_setup(&sv, bad, sizeof(bad), "k", 1), 0);
		/* ... then the keys differ and the first message fails its HMAC */
		{
			uint8_t req[WIRE_REQUEST_LEN];
			struct rng r = { 5 };

			rnd_request(&r, req);
			cr_assert_eq(ctlchan_seal(&cl, req, sizeof(req)), 0);
			cr_assert_eq(ctlchan_open(&sv, req, sizeof(req)), CTLCHAN_EHMAC);
		}
	}
	ctlchan_fini(&cl);
	ctlchan_fini(&sv);
}

Test(setup, argument_and_state_checks)
{
	uint8_t greet[WIRE_GREETING_LEN], setup[WIRE_SETUP_LEN], msg[32] = { 2 };
	struct wire_greeting g;
	struct ctlchan cl, sv;
	char longid[82];

	memset(longid, 'x', 81);
	longid[81] = 0;
	ctlchan_init(&cl, CTLCHAN_CLIENT);
	ctlchan_init(&sv, CTLCHAN_SERVER);
	/* nothing before set-up */
	cr_assert_eq(ctlchan_seal(&cl, msg, 32), CTLCHAN_ESTATE);
	cr_assert_eq(ctlchan_open(&cl, msg, 32), CTLCHAN_ESTATE);
	cr_assert_eq(ctlchan_peek(&sv, msg, 16), CTLCHAN_ESTATE);
	cr_assert_eq(ctlchan_client_server_start(&cl, msg, 32), CTLCHAN_ESTATE);
	cr_assert_eq(ctlchan_server_greeting(&sv, 0x0f, 0, greet), CTLCHAN_ECOUNT);
	cr_assert_eq(ctlchan_server_greeting(&cl, 0x0f, 1024, greet), CTLCHAN_ESTATE, "wrong role");
	cr_assert_eq(ctlchan_server_greeting(&sv, WIRE_MODE_OPEN | WIRE_MODE_ENCRYPTED, 1024, greet),
		     0);
	wire_decode_greeting(greet, sizeof(greet), &g);

	cr_assert_eq(ctlchan_client_setup(&cl, &g, 3, "probe", "k", 1, NULL, setup), CTLCHAN_EMODE);
	cr_assert_eq(ctlchan_client_setup(&cl, &g, 0, "probe", "k", 1, NULL, setup), CTLCHAN_EMODE);
	cr_assert_eq(ctlchan_client_setup(&cl, &g, WIRE_MODE_AUTH, "probe", "k", 1, NULL, setup),
		     CTLCHAN_EMODE, "not offered");
	cr_assert_eq(ctlchan_client_setup(&cl, &g, WIRE_MODE_ENCRYPTED, longid, "k", 1, NULL, setup),
		     CTLCHAN_EKEYID);
	longid[80] = 0; /* exactly 80 octets: fits, no NUL on the wire */
	cr_assert_eq(ctlchan_client_setup(&cl, &g, WIRE_MODE_ENCRYPTED, "probe", NULL, 0, NULL,
					  setup), CTLCHAN_EKEYID);
	g.count = CTLCHAN_COUNT_MAX + 1;
	cr_assert_eq(ctlchan_client_setup(&cl, &g, WIRE_MODE_ENCRYPTED, "p", "k", 1, NULL, setup),
		     CTLCHAN_ECOUNT);
	g.count = 0;
	cr_assert_eq(ctlchan_client_setup(&cl, &g, WIRE_MODE_ENCRYPTED, "p", "k", 1, NULL, setup),
		     CTLCHAN_ECOUNT);
	g.count = 1024;
	cr_assert_eq(ctlchan_client_setup(&cl, &g, WIRE_MODE_ENCRYPTED, longid, "k", 1, NULL, setup),
		     0);
	cr_assert_arr_eq(setup + 4, longid, 80);
	cr_assert_eq(ctlchan_client_setup(&cl, &g, WIRE_MODE_ENCRYPTED, "p", "k", 1, NULL, setup),
		     CTLCHAN_ESTATE, "twice");

	/* server: a mode it did not offer, a missing secret */
	setup[3] = WIRE_MODE_AUTH;
	cr_assert_eq(ctlchan_server_setup(&sv, setup, sizeof(setup), "k", 1), CTLCHAN_EMODE);
	setup[3] = 6;
	cr_assert_eq(ctlchan_server_setup(&sv, setup, sizeof(setup), "k", 1), CTLCHAN_EMODE);
	setup[3] = WIRE_MODE_ENCRYPTED;
	cr_assert_eq(ctlchan_server_setup(&sv, setup, sizeof(setup), NULL, 0), CTLCHAN_EKEYID);
	cr_assert_eq(ctlchan_server_setup(&sv, setup, sizeof(setup), "k", 1), 0);
	cr_assert_eq(ctlchan_server_setup(&sv, setup, sizeof(setup), "k", 1), CTLCHAN_ESTATE);
	/* the server stream does not exist before Server-Start */
	cr_assert_eq(ctlchan_seal(&sv, msg, 32), CTLCHAN_ESTATE);
	/* lengths */
	cr_assert_eq(ctlchan_open(&sv, msg, 16), CTLCHAN_ELEN);
	cr_assert_eq(ctlchan_open(&sv, msg, 40), CTLCHAN_ELEN);
	cr_assert_eq(ctlchan_peek(&sv, msg, 8), CTLCHAN_ELEN);
	{
		uint8_t start[WIRE_SERVER_START_LEN] = { 0 };

		cr_assert_eq(ctlchan_server_start(&sv, start, 47, NULL), CTLCHAN_ELEN);
		cr_assert_eq(ctlchan_server_start(&sv, start, 48, NULL), 0);
		cr_assert_eq(ctlchan_server_start(&sv, start, 48, NULL), CTLCHAN_ESTATE, "twice");
		cr_assert_eq(ctlchan_client_server_start(&cl, start, 47), CTLCHAN_ELEN);
	}
	/* peeking further than the message is long */
	{
		uint8_t b[64] = { 0 };

		cr_assert_eq(ctlchan_peek(&sv, b, 32), 0);
		cr_assert_eq(ctlchan_open(&sv, b, 32), CTLCHAN_ELEN);
	}
	cr_assert_str_neq(ctlchan_strerror(CTLCHAN_ECRYPTO), ctlchan_strerror(-99));
	ctlchan_fini(&cl);
	ctlchan_fini(&sv);
}

/* Random octets of random lengths into every opener: errors, never a crash. */
Test(setup, random_bytes)
{
	struct rng r = { 4242 };
	int iter;

	for (iter = 0; iter < 200; iter++) {
		struct pair p;
		struct ctlchan_test t;
		struct ctlchan_test_keys tk;
		uint8_t buf[256];
		size_t len = rnd(&r) % sizeof(buf);
		uint32_t mode = 1u << (rnd(&r) % 4);
		int rc;

		cr_assert_eq(handshake(&p, mode, "k", "k"), 0);
		rnd_bytes(&r, buf, sizeof(buf));
		rc = ctlchan_open(&p.sv, buf, len);
		if (mode == WIRE_MODE_OPEN)
			cr_assert(rc == 0 || rc == CTLCHAN_ELEN);
		else
			cr_assert(rc == CTLCHAN_EHMAC || rc == CTLCHAN_ELEN, "rc %d len %zu", rc, len);
		rnd_bytes(&r, tk.aes_key, 16);
		rnd_bytes(&r, tk.hmac_key, 32);
		cr_assert_eq(ctlchan_test_init(&t, mode, &tk), 0);
		rc = ctlchan_test_open(&t, rnd(&r) % 2 ? CTLCHAN_PKT_SENDER : CTLCHAN_PKT_REFLECT, buf,
				       len);
		if (ctlchan_test_sealed(mode))
			cr_assert(rc == CTLCHAN_EHMAC || rc == CTLCHAN_ELEN);
		else
			cr_assert_eq(rc, 0);
		ctlchan_test_fini(&t);
		pair_fini(&p);
	}
}

/* ---- test packets ---------------------------------------------------- */

Test(test_packet, auth_layouts)
{
	struct wire_test_sender s = {
		.seq = 0x01020304, .ts = Y2026_NS + 123456789, .errest = 0x8001,
	}, ds;
	struct wire_test_reflect m = {
		.seq = 0x0a0b0c0d, .ts = Y2026_NS + 3000, .errest = 0x0001,
		.rx_ts = Y2026_NS + 2000,
		.sender_seq = 0x01020304, .sender_ts = Y2026_NS + 1000, .sender_errest = 0x8001,
		.sender_ttl = 64,
	}, dm;
	uint8_t b[200];

	memset(b, 0xa5, sizeof(b));
	cr_assert_eq(wire_encode_test_sender_auth(b, 47, &s), 0);
	cr_assert_eq(wire_encode_test_sender_auth(b, sizeof(b), &s), 48);
	cr_assert_eq(b[0], 1);
	cr_assert_eq(b[3], 4);
	cr_assert(all_zero(b + 4, 12));
	cr_assert_eq(b[24], 0x80);
	cr_assert_eq(b[25], 0x01);
	cr_assert(all_zero(b + 26, 22), "MBZ and HMAC field zero");
	cr_assert_eq(b[48], 0xa5, "padding untouched");
	cr_assert_eq(wire_decode_test_sender_auth(b, 47, &ds), -1);
	cr_assert_eq(wire_decode_test_sender_auth(b, 48, &ds), 0);
	cr_assert_eq(ds.seq, s.seq);
	cr_assert(llabs((long long)(ds.ts - s.ts)) <= 1);
	cr_assert_eq(ds.errest, s.errest);
	cr_assert_eq(ds.ssid, 0);

	memset(b, 0xa5, sizeof(b));
	cr_assert_eq(wire_encode_test_reflect_auth(b, 111, &m), 0);
	cr_assert_eq(wire_encode_test_reflect_auth(b, sizeof(b), &m), 112);
	cr_assert_eq(b[48], 1);
	cr_assert_eq(b[51], 4);
	cr_assert_eq(b[72], 0x80);
	cr_assert_eq(b[80], 64);
	cr_assert(all_zero(b + 4, 12) && all_zero(b + 26, 6) && all_zero(b + 40, 8) &&
		  all_zero(b + 52, 12) && all_zero(b + 74, 6) && all_zero(b + 81, 31));
	cr_assert_eq(b[112], 0xa5);
	cr_assert_eq(wire_decode_test_reflect_auth(b, 111, &dm), -1);
	cr_assert_eq(wire_decode_test_reflect_auth(b, 112, &dm), 0);
	cr_assert_eq(dm.seq, m.seq);
	cr_assert_eq(dm.sender_seq, m.sender_seq);
	cr_assert_eq(dm.errest, m.errest);
	cr_assert_eq(dm.sender_errest, m.sender_errest);
	cr_assert_eq(dm.sender_ttl, 64);
	cr_assert(dm.ttl_known);
	cr_assert(llabs((long long)(dm.ts - m.ts)) <= 1);
	cr_assert(llabs((long long)(dm.rx_ts - m.rx_ts)) <= 1);
	cr_assert(llabs((long long)(dm.sender_ts - m.sender_ts)) <= 1);
}

/*
 * Sender packet -> (seal, open) -> reflector's in-place reflection -> (seal,
 * open) -> decoded by the sender, in both sealed modes, random fields and
 * lengths; the sealed octets are what the mode says is protected.
 */
static void packet_round_trips(uint32_t mode, uint64_t seed)
{
	struct rng r = { seed };
	struct ctlchan_test_keys tk;
	struct ctlchan_test snd, rfl;
	int iter;

	rnd_bytes(&r, tk.aes_key, 16);
	rnd_bytes(&r, tk.hmac_key, 32);
	cr_assert_eq(ctlchan_test_init(&snd, mode, &tk), 0);
	cr_assert_eq(ctlchan_test_init(&rfl, mode, &tk), 0);
	for (iter = 0; iter < 300; iter++) {
		struct wire_test_sender s = { .seq = (uint32_t)rnd(&r), .ts = rnd_time(&r),
					      .errest = (uint16_t)rnd(&r) }, ds;
		struct wire_test_reflect m = {
			.seq = (uint32_t)rnd(&r), .errest = (uint16_t)rnd(&r),
			.rx_ts = rnd_time(&r), .sender_ttl = (uint8_t)rnd(&r),
		}, dm;
		size_t len = 112 + rnd(&r) % 200;
		uint8_t pkt[400], plain[400];
		int64_t t3 = rnd_time(&r);

		rnd_bytes(&r, pkt, len);
		cr_assert_eq(wire_encode_test_sender_auth(pkt, len, &s), 48);
		memcpy(plain, pkt, len);
		cr_assert_eq(ctlchan_test_seal(&snd, CTLCHAN_PKT_SENDER, pkt, len), 0);
		if (mode == WIRE_MODE_AUTH) {
			cr_assert(memcmp(pkt, plain, 16) != 0);
			cr_assert_arr_eq(pkt + 16, plain + 16, 16, "auth: timestamp in clear");
		} else {
			cr_assert(memcmp(pkt + 16, plain + 16, 16) != 0, "encrypted: 2 blocks");
		}
		cr_assert_arr_eq(pkt + 48, plain + 48, len - 48, "padding untouched");
		cr_assert_eq(ctlchan_test_open(&rfl, CTLCHAN_PKT_SENDER, pkt, len), 0);
		cr_assert_arr_eq(pkt, plain, 32);
		cr_assert_eq(wire_decode_test_sender_auth(pkt, len, &ds), 0);
		cr_assert_eq(ds.seq, s.seq);

		/* reflect in place */
		cr_assert_eq(wire_reflect_prepare_auth(pkt, 111, &m), 0);
		cr_assert_eq(wire_reflect_prepare_auth(pkt, len, &m), 112);
		wire_reflect_stamp_auth(pkt, t3);
		cr_assert_arr_eq(pkt + 48, plain, 4, "sender seq verbatim");
		cr_assert_arr_eq(pkt + 64, plain + 16, 10, "sender ts + errest verbatim");
		memcpy(plain, pkt, len);
		cr_assert_eq(ctlchan_test_seal(&rfl, CTLCHAN_PKT_REFLECT, pkt, len), 0);
		if (mode == WIRE_MODE_AUTH)
			cr_assert_arr_eq(pkt + 16, plain + 16, 80, "auth: only block 1 encrypted");
		else
			cr_assert(memcmp(pkt + 80, plain + 80, 16) != 0, "encrypted: 6 blocks");
		cr_assert_arr_eq(pkt + 112, plain + 112, len - 112);
		cr_assert_eq(ctlchan_test_open(&snd, CTLCHAN_PKT_REFLECT, pkt, len), 0);
		cr_assert_arr_eq(pkt, plain, 96);
		cr_assert_eq(wire_decode_test_reflect_auth(pkt, len, &dm), 0);
		cr_assert_eq(dm.seq, m.seq);
		cr_assert_eq(dm.sender_seq, s.seq);
		cr_assert_eq(dm.sender_ts, ds.ts);
		cr_assert_eq(dm.sender_errest, s.errest);
		cr_assert_eq(dm.sender_ttl, m.sender_ttl);
		cr_assert(llabs((long long)(dm.ts - t3)) <= 1);
		cr_assert(llabs((long long)(dm.rx_ts - m.rx_ts)) <= 1);
	}
	ctlchan_test_fini(&snd);
	ctlchan_test_fini(&rfl);
}

Test(test_packet, round_trip_auth) { packet_round_trips(WIRE_MODE_AUTH, 21); }
Test(test_packet, round_trip_encrypted) { packet_round_trips(WIRE_MODE_ENCRYPTED, 41); }

/*
 * Which octets the HMAC protects: in authenticated mode the first block and
 * the HMAC field (owamp: timestamps are not covered, as in the captures); in
 * encrypted mode everything up to and including the HMAC field.  Padding is
 * never covered.
 */
static void packet_tamper(uint32_t mode, enum ctlchan_pkt kind)
{
	size_t base = kind == CTLCHAN_PKT_SENDER ? 48 : 112;
	size_t covered = mode == WIRE_MODE_AUTH ? 16 : base - 16;
	struct rng r = { 99 };
	struct ctlchan_test_keys tk;
	struct ctlchan_test t;
	uint8_t pkt[160], sealed[160];
	size_t bit;

	rnd_bytes(&r, tk.aes_key, 16);
	rnd_bytes(&r, tk.hmac_key, 32);
	cr_assert_eq(ctlchan_test_init(&t, mode, &tk), 0);
	rnd_bytes(&r, pkt, sizeof(pkt));
	cr_assert_eq(ctlchan_test_seal(&t, kind, pkt, sizeof(pkt)), 0);
	memcpy(sealed, pkt, sizeof(pkt));
	for (bit = 0; bit < sizeof(pkt) * 8; bit += 3) {
		size_t at = bit / 8;
		bool protected = at < covered || (at >= base - 16 && at < base);
		int rc;

		memcpy(pkt, sealed, sizeof(pkt));
		pkt[at] ^= (uint8_t)(1u << (bit % 8));
		rc = ctlchan_test_open(&t, kind, pkt, sizeof(pkt));
		cr_assert_eq(rc, protected ? CTLCHAN_EHMAC : 0, "octet %zu (mode %u, base %zu)", at,
			     mode, base);
	}
	memcpy(pkt, sealed, sizeof(pkt));
	cr_assert_eq(ctlchan_test_open(&t, kind, pkt, base - 1), CTLCHAN_ELEN);
	cr_assert_eq(ctlchan_test_seal(&t, kind, pkt, base - 1), CTLCHAN_ELEN);
	cr_assert_eq(ctlchan_test_open(&t, kind, pkt, sizeof(pkt)), 0);
	ctlchan_test_fini(&t);
}

Test(test_packet, tamper_auth_sender) { packet_tamper(WIRE_MODE_AUTH, CTLCHAN_PKT_SENDER); }
Test(test_packet, tamper_auth_reflect) { packet_tamper(WIRE_MODE_AUTH, CTLCHAN_PKT_REFLECT); }
Test(test_packet, tamper_enc_sender) { packet_tamper(WIRE_MODE_ENCRYPTED, CTLCHAN_PKT_SENDER); }
Test(test_packet, tamper_enc_reflect) { packet_tamper(WIRE_MODE_ENCRYPTED, CTLCHAN_PKT_REFLECT); }

/* Packets sealed under one session's keys do not open under another's. */
Test(test_packet, other_session_keys)
{
	struct rng r = { 7 };
	struct ctlchan_test_keys a, b;
	struct ctlchan_test ta, tb;
	uint8_t pkt[112];

	rnd_bytes(&r, a.aes_key, 16);
	rnd_bytes(&r, a.hmac_key, 32);
	b = a;
	b.hmac_key[31] ^= 1;
	cr_assert_eq(ctlchan_test_init(&ta, WIRE_MODE_AUTH, &a), 0);
	cr_assert_eq(ctlchan_test_init(&tb, WIRE_MODE_AUTH, &b), 0);
	rnd_bytes(&r, pkt, sizeof(pkt));
	cr_assert_eq(ctlchan_test_seal(&ta, CTLCHAN_PKT_SENDER, pkt, sizeof(pkt)), 0);
	cr_assert_eq(ctlchan_test_open(&tb, CTLCHAN_PKT_SENDER, pkt, sizeof(pkt)), CTLCHAN_EHMAC);
	ctlchan_test_fini(&ta);
	ctlchan_test_fini(&tb);
	cr_assert_eq(ctlchan_test_init(&ta, 5, &a), CTLCHAN_EMODE);
	cr_assert_eq(ctlchan_test_init(&ta, WIRE_MODE_ENCRYPTED, NULL), CTLCHAN_ESTATE);
	ctlchan_test_fini(&ta);
}
