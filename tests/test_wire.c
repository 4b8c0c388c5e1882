/*
 * Tests of wire.c: round trips with random field values, rejection of short
 * or malformed input, random bytes into every decoder (meant for ASan/UBSan),
 * and decoding of the bytes real peers (owamp twping/twampd, twampy) put on
 * the wire, taken from the captures in tests/data/interop (see NOTES.md
 * there for where every expected value comes from).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ntptime.h"
#include "util/testhex.h"
#include "util/pcap.h"
#include "wire.h"

#define DATA_DIR "tests/data/interop/"

/* 2026-01-01T00:00:00Z and 2027-01-01T00:00:00Z: the captures are from 2026. */
#define Y2026_NS (1767225600LL * NS_PER_SEC)
#define Y2027_NS (1798761600LL * NS_PER_SEC)

/* ---- helpers --------------------------------------------------------- */

#include "util/testrng.h"

/* An instant that survives ns -> NTP -> ns: 1970 .. about 2096. */
static int64_t rnd_time(struct rng *r)
{
	int64_t t;

	do {
		t = (int64_t)(rnd(r) % 4000000000000000000ULL) + 1;
	} while (ntptime_to_ntp(t) == 0); /* 2036-02-07T06:28:16Z is "now" in a request */
	return t;
}

/* A duration that fits NTP 32.32 (< 2^32 s). */
static int64_t rnd_dur(struct rng *r)
{
	return (int64_t)(rnd(r) % 4000000000000000000ULL);
}

/* A copy in a heap block of exactly len octets, so ASan sees reads past len. */
static uint8_t *dup_exact(const void *p, size_t len)
{
	uint8_t *b = malloc(len ? len : 1);

	cr_assert_not_null(b);
	if (len)
		memcpy(b, p, len);
	return b;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* ---- field comparisons ----------------------------------------------- */

static void eq_greeting(const struct wire_greeting *a, const struct wire_greeting *b)
{
	cr_assert_eq(a->modes, b->modes);
	cr_assert_arr_eq(a->challenge, b->challenge, 16);
	cr_assert_arr_eq(a->salt, b->salt, 16);
	cr_assert_eq(a->count, b->count);
}

static void eq_setup(const struct wire_setup *a, const struct wire_setup *b)
{
	cr_assert_eq(a->mode, b->mode);
	cr_assert_arr_eq(a->keyid, b->keyid, 80);
	cr_assert_arr_eq(a->token, b->token, 64);
	cr_assert_arr_eq(a->client_iv, b->client_iv, 16);
}

static void eq_server_start(const struct wire_server_start *a, const struct wire_server_start *b)
{
	cr_assert_eq(a->accept, b->accept);
	cr_assert_arr_eq(a->server_iv, b->server_iv, 16);
	cr_assert_eq(a->start_time, b->start_time, "%lld != %lld", (long long)a->start_time,
		     (long long)b->start_time);
}

static void eq_request(const struct wire_request *a, const struct wire_request *b)
{
	cr_assert_eq(a->ipvn, b->ipvn);
	cr_assert_eq(a->conf_sender, b->conf_sender);
	cr_assert_eq(a->conf_receiver, b->conf_receiver);
	cr_assert_eq(a->schedule_slots, b->schedule_slots);
	cr_assert_eq(a->packets, b->packets);
	cr_assert_eq(a->sender_port, b->sender_port);
	cr_assert_eq(a->receiver_port, b->receiver_port);
	cr_assert_arr_eq(a->sender.b, b->sender.b, 16);
	cr_assert_arr_eq(a->receiver.b, b->receiver.b, 16);
	cr_assert_arr_eq(a->sid, b->sid, 16);
	cr_assert_eq(a->padding, b->padding);
	cr_assert_eq(a->start_time, b->start_time, "%lld != %lld", (long long)a->start_time,
		     (long long)b->start_time);
	cr_assert_eq(a->timeout, b->timeout, "%lld != %lld", (long long)a->timeout,
		     (long long)b->timeout);
	cr_assert_eq(a->typep, b->typep);
	cr_assert_arr_eq(a->hmac, b->hmac, 16);
}

static void eq_accept_session(const struct wire_accept_session *a,
			      const struct wire_accept_session *b)
{
	cr_assert_eq(a->accept, b->accept);
	cr_assert_eq(a->port, b->port);
	cr_assert_arr_eq(a->sid, b->sid, 16);
	cr_assert_arr_eq(a->hmac, b->hmac, 16);
}

static void eq_start_sessions(const struct wire_start_sessions *a,
			      const struct wire_start_sessions *b)
{
	cr_assert_arr_eq(a->hmac, b->hmac, 16);
}

static void eq_start_ack(const struct wire_start_ack *a, const struct wire_start_ack *b)
{
	cr_assert_eq(a->accept, b->accept);
	cr_assert_arr_eq(a->hmac, b->hmac, 16);
}

static void eq_stop_sessions(const struct wire_stop_sessions *a, const struct wire_stop_sessions *b)
{
	cr_assert_eq(a->accept, b->accept);
	cr_assert_eq(a->nsessions, b->nsessions);
	cr_assert_arr_eq(a->hmac, b->hmac, 16);
}

static void eq_sender(const struct wire_test_sender *a, const struct wire_test_sender *b)
{
	cr_assert_eq(a->seq, b->seq);
	cr_assert_eq(a->ts, b->ts);
	cr_assert_eq(a->errest, b->errest);
	cr_assert_eq(a->ssid, b->ssid);
}

static void eq_reflect(const struct wire_test_reflect *a, const struct wire_test_reflect *b)
{
	cr_assert_eq(a->seq, b->seq);
	cr_assert_eq(a->ts, b->ts);
	cr_assert_eq(a->errest, b->errest);
	cr_assert_eq(a->ssid, b->ssid);
	cr_assert_eq(a->rx_ts, b->rx_ts);
	cr_assert_eq(a->sender_seq, b->sender_seq);
	cr_assert_eq(a->sender_ts, b->sender_ts);
	cr_assert_eq(a->sender_errest, b->sender_errest);
	cr_assert_eq(a->sender_ttl, b->sender_ttl);
	cr_assert_eq(a->ttl_known, b->ttl_known);
}

/* ---- random messages --------------------------------------------------- */

static void rnd_greeting(struct rng *r, struct wire_greeting *m)
{
	m->modes = (uint32_t)rnd(r);
	rnd_bytes(r, m->challenge, 16);
	rnd_bytes(r, m->salt, 16);
	m->count = (uint32_t)rnd(r);
}

static void rnd_setup(struct rng *r, struct wire_setup *m)
{
	m->mode = (uint32_t)rnd(r);
	rnd_bytes(r, m->keyid, 80);
	rnd_bytes(r, m->token, 64);
	rnd_bytes(r, m->client_iv, 16);
}

static void rnd_server_start(struct rng *r, struct wire_server_start *m)
{
	m->accept = (uint8_t)rnd(r);
	rnd_bytes(r, m->server_iv, 16);
	m->start_time = rnd_time(r);
}

static void rnd_request(struct rng *r, struct wire_request *m)
{
	static const uint8_t ipvn[] = { 0, 4, 6 };

	m->ipvn = ipvn[rnd(r) % 3];
	m->conf_sender = (uint8_t)rnd(r);
	m->conf_receiver = (uint8_t)rnd(r);
	m->schedule_slots = (uint32_t)rnd(r);
	m->packets = (uint32_t)rnd(r);
	m->sender_port = (uint16_t)rnd(r);
	m->receiver_port = (uint16_t)rnd(r);
	rnd_bytes(r, m->sender.b, 16);
	rnd_bytes(r, m->receiver.b, 16);
	rnd_bytes(r, m->sid, 16);
	m->padding = (uint32_t)rnd(r);
	m->start_time = rnd(r) % 8 ? rnd_time(r) : 0;
	m->timeout = rnd_dur(r);
	m->typep = (uint32_t)rnd(r);
	rnd_bytes(r, m->hmac, 16);
}

static void rnd_accept_session(struct rng *r, struct wire_accept_session *m)
{
	m->accept = (uint8_t)rnd(r);
	m->port = (uint16_t)rnd(r);
	rnd_bytes(r, m->sid, 16);
	rnd_bytes(r, m->hmac, 16);
}

static void rnd_start_sessions(struct rng *r, struct wire_start_sessions *m)
{
	rnd_bytes(r, m->hmac, 16);
}

static void rnd_start_ack(struct rng *r, struct wire_start_ack *m)
{
	m->accept = (uint8_t)rnd(r);
	rnd_bytes(r, m->hmac, 16);
}

static void rnd_stop_sessions(struct rng *r, struct wire_stop_sessions *m)
{
	m->accept = (uint8_t)rnd(r);
	m->nsessions = (uint32_t)rnd(r);
	rnd_bytes(r, m->hmac, 16);
}

static void rnd_sender(struct rng *r, enum wire_test_fmt fmt, struct wire_test_sender *m)
{
	m->seq = (uint32_t)rnd(r);
	m->ts = rnd_time(r);
	m->errest = (uint16_t)rnd(r);
	m->ssid = fmt == WIRE_TEST_STAMP ? (uint16_t)rnd(r) : 0;
}

static void rnd_reflect(struct rng *r, enum wire_test_fmt fmt, struct wire_test_reflect *m)
{
	m->seq = (uint32_t)rnd(r);
	m->ts = rnd_time(r);
	m->errest = (uint16_t)rnd(r);
	m->ssid = fmt == WIRE_TEST_STAMP ? (uint16_t)rnd(r) : 0;
	m->rx_ts = rnd_time(r);
	m->sender_seq = (uint32_t)rnd(r);
	m->sender_ts = rnd_time(r);
	m->sender_errest = (uint16_t)rnd(r);
	m->sender_ttl = (uint8_t)rnd(r);
	m->ttl_known = true;
}

/* ---- control messages: fixed vectors ----------------------------------- */

Test(control, greeting_layout)
{
	struct wire_greeting m = { .modes = 0x0f, .count = 2048 }, d;
	uint8_t buf[WIRE_GREETING_LEN + 8];
	size_t i;

	for (i = 0; i < 16; i++) {
		m.challenge[i] = (uint8_t)(0x10 + i);
		m.salt[i] = (uint8_t)(0x20 + i);
	}
	memset(buf, 0xaa, sizeof(buf));
	cr_assert_eq(wire_encode_greeting(buf, &m), WIRE_GREETING_LEN);
	cr_assert(all_zero(buf, 12));
	cr_assert_eq(buf[12], 0);
	cr_assert_eq(buf[15], 0x0f);
	cr_assert_eq(buf[16], 0x10);
	cr_assert_eq(buf[47], 0x2f);
	cr_assert_eq(buf[48], 0);
	cr_assert_eq(buf[49], 0);
	cr_assert_eq(buf[50], 0x08);
	cr_assert_eq(buf[51], 0);
	cr_assert(all_zero(buf + 52, 12));
	for (i = WIRE_GREETING_LEN; i < sizeof(buf); i++)
		cr_assert_eq(buf[i], 0xaa, "encoder wrote past the message");
	cr_assert_eq(wire_decode_greeting(buf, WIRE_GREETING_LEN, &d), 0);
	eq_greeting(&d, &m);
}

Test(control, request_layout)
{
	/* The decrypted Request-TW-Session of the auth capture (NOTES.md). */
	static const char hex[] =
		"050400000000000000000000250f250f7f000001000000000000000000000000"
		"7f000001000000000000000000000000"
		"00000000000000000000000000000000"
		"00000040"
		"eeb3b82331873ffa"
		"000000020061c79b"
		"00000000"
		"0000000000000000"
		"afdecb348a22d90838b048c02b1411ad";
	uint8_t raw[WIRE_REQUEST_LEN], out[WIRE_REQUEST_LEN], *b;
	struct wire_request m;

	cr_assert_eq(hex2bin(hex, raw, sizeof(raw)), WIRE_REQUEST_LEN);
	b = dup_exact(raw, sizeof(raw));
	cr_assert_eq(wire_decode_request(b, WIRE_REQUEST_LEN, &m), 0);
	free(b);
	cr_assert_eq(m.ipvn, 4);
	cr_assert_eq(m.conf_sender, 0);
	cr_assert_eq(m.conf_receiver, 0);
	cr_assert_eq(m.schedule_slots, 0);
	cr_assert_eq(m.packets, 0);
	cr_assert_eq(m.sender_port, 9487);
	cr_assert_eq(m.receiver_port, 9487);
	cr_assert_arr_eq(m.sender.b, ((uint8_t[4]){ 127, 0, 0, 1 }), 4);
	cr_assert(all_zero(m.sender.b + 4, 12));
	cr_assert_arr_eq(m.receiver.b, ((uint8_t[4]){ 127, 0, 0, 1 }), 4);
	cr_assert(all_zero(m.sid, 16));
	cr_assert_eq(m.padding, 64);
	cr_assert_eq(m.start_time, ntptime_from_ntp(0xeeb3b82331873ffaULL));
	cr_assert_eq(m.timeout, ntptime_dur_from_ntp(0x000000020061c79bULL));
	cr_assert_eq(m.typep, 0);
	cr_assert_eq(m.hmac[0], 0xaf);
	cr_assert_eq(m.hmac[15], 0xad);
	cr_assert(m.start_time >= Y2026_NS && m.start_time < Y2027_NS);
	cr_assert(m.timeout > 2 * NS_PER_SEC && m.timeout < 2 * NS_PER_SEC + 10 * NS_PER_MS);

	cr_assert_eq(wire_encode_request(out, &m), WIRE_REQUEST_LEN);
	/* all but the timestamp/duration octets come back exactly */
	cr_assert_arr_eq(out, raw, 68);
	cr_assert_arr_eq(out + 84, raw + 84, WIRE_REQUEST_LEN - 84);
	cr_assert(llabs((long long)(get_be64(out + 68) - get_be64(raw + 68))) <= 2);
	cr_assert(llabs((long long)(get_be64(out + 76) - get_be64(raw + 76))) <= 2);
}

Test(control, request_start_time_zero)
{
	struct wire_request m = { .ipvn = 4, .start_time = 0, .timeout = 3 * NS_PER_SEC }, d;
	uint8_t buf[WIRE_REQUEST_LEN];

	wire_encode_request(buf, &m);
	cr_assert(all_zero(buf + 68, 8), "start_time 0 must be raw 0 on the wire");
	cr_assert_eq(get_be64(buf + 76), 3ULL << 32);
	cr_assert_eq(wire_decode_request(buf, sizeof(buf), &d), 0);
	cr_assert_eq(d.start_time, 0);
	cr_assert_eq(d.timeout, 3 * NS_PER_SEC);

	/* a negative timeout is no timeout at all, not a huge one */
	m.timeout = -1;
	wire_encode_request(buf, &m);
	cr_assert(all_zero(buf + 76, 8));
}

/* A real start time that rounds to raw 0 must not turn into "now" (found by fuzz_wire_control). */
Test(control, request_start_time_not_now)
{
	struct wire_request m = { .ipvn = 4 }, d;
	uint8_t buf[WIRE_REQUEST_LEN];

	buf[0] = WIRE_CMD_REQUEST_TW_SESSION;
	memset(buf + 1, 0, sizeof(buf) - 1);
	buf[1] = 4;
	buf[75] = 1; /* NTP era 1 begins, plus 2^-32 s: 2036-02-07T06:28:16Z */
	cr_assert_eq(wire_decode_request(buf, sizeof(buf), &m), 0);
	cr_assert_neq(m.start_time, 0);
	wire_encode_request(buf, &m);
	cr_assert_eq(wire_decode_request(buf, sizeof(buf), &d), 0);
	cr_assert_eq(d.start_time, m.start_time);
}

Test(control, request_fields_checked)
{
	struct wire_request m = { .ipvn = 6 }, d;
	uint8_t buf[WIRE_REQUEST_LEN];
	unsigned v;

	wire_encode_request(buf, &m);
	cr_assert_eq(buf[0], 5);
	cr_assert_eq(buf[1], 6);
	for (v = 0; v < 256; v++) {
		buf[0] = (uint8_t)v;
		cr_assert_eq(wire_decode_request(buf, sizeof(buf), &d), v == 5 ? 0 : -1,
			     "command octet %u", v);
	}
	buf[0] = 5;
	for (v = 0; v < 256; v++) {
		unsigned nib = v & 0x0f;
		int want = nib == 0 || nib == 4 || nib == 6 ? 0 : -1;

		buf[1] = (uint8_t)v;
		cr_assert_eq(wire_decode_request(buf, sizeof(buf), &d), want, "IPVN octet %u", v);
		if (!want)
			cr_assert_eq(d.ipvn, nib, "the high nibble is MBZ");
	}
	/* the encoder never puts the high nibble on the wire */
	m.ipvn = 0xf4;
	wire_encode_request(buf, &m);
	cr_assert_eq(buf[1], 4);
}

Test(control, command_octets)
{
	struct wire_start_sessions ss = { { 0 } }, dss;
	struct wire_stop_sessions st = { .accept = 0, .nsessions = 1 }, dst;
	uint8_t a[WIRE_START_SESSIONS_LEN], b[WIRE_STOP_SESSIONS_LEN];
	unsigned v;

	wire_encode_start_sessions(a, &ss);
	wire_encode_stop_sessions(b, &st);
	cr_assert_eq(a[0], WIRE_CMD_START_SESSIONS);
	cr_assert_eq(b[0], WIRE_CMD_STOP_SESSIONS);
	cr_assert_eq(b[7], 1);
	for (v = 0; v < 256; v++) {
		a[0] = (uint8_t)v;
		b[0] = (uint8_t)v;
		cr_assert_eq(wire_decode_start_sessions(a, sizeof(a), &dss), v == 2 ? 0 : -1);
		cr_assert_eq(wire_decode_stop_sessions(b, sizeof(b), &dst), v == 3 ? 0 : -1);
	}
}

Test(control, command_len)
{
	unsigned v;

	cr_assert_eq(wire_command_len(WIRE_CMD_START_SESSIONS), WIRE_START_SESSIONS_LEN);
	cr_assert_eq(wire_command_len(WIRE_CMD_STOP_SESSIONS), WIRE_STOP_SESSIONS_LEN);
	cr_assert_eq(wire_command_len(WIRE_CMD_REQUEST_TW_SESSION), WIRE_REQUEST_LEN);
	for (v = 0; v < 256; v++)
		if (v != 2 && v != 3 && v != 5 && v != 7 && v != 9) /* 7, 9: RFC 5938 */
			cr_assert_eq(wire_command_len((uint8_t)v), 0, "command %u", v);
}

Test(control, mbz_ignored_and_zeroed)
{
	struct rng r = { 11 };
	uint8_t buf[WIRE_CONTROL_MAX_LEN], again[WIRE_CONTROL_MAX_LEN];
	struct wire_server_start ss;
	struct wire_accept_session as;
	struct wire_stop_sessions st;
	struct wire_start_ack sa;
	struct wire_start_sessions sts;
	struct wire_greeting g;
	struct wire_request rq;

	/* MBZ octets full of ones decode fine, and encode back as zeros */
	rnd_bytes(&r, buf, sizeof(buf));
	cr_assert_eq(wire_decode_greeting(buf, WIRE_GREETING_LEN, &g), 0);
	memset(again, 0xff, sizeof(again));
	wire_encode_greeting(again, &g);
	cr_assert(all_zero(again, 12) && all_zero(again + 52, 12));
	cr_assert_arr_eq(again + 12, buf + 12, 40);

	cr_assert_eq(wire_decode_server_start(buf, WIRE_SERVER_START_LEN, &ss), 0);
	memset(again, 0xff, sizeof(again));
	wire_encode_server_start(again, &ss);
	cr_assert(all_zero(again, 15) && all_zero(again + 40, 8));
	cr_assert_arr_eq(again + 15, buf + 15, 17);

	cr_assert_eq(wire_decode_accept_session(buf, WIRE_ACCEPT_SESSION_LEN, &as), 0);
	memset(again, 0xff, sizeof(again));
	wire_encode_accept_session(again, &as);
	cr_assert(again[1] == 0 && all_zero(again + 24, 8));
	cr_assert_arr_eq(again + 2, buf + 2, 22); /* 20..23: RFC 6038 octets */
	cr_assert_arr_eq(again + 32, buf + 32, 16);

	cr_assert_eq(wire_decode_start_ack(buf, WIRE_START_ACK_LEN, &sa), 0);
	memset(again, 0xff, sizeof(again));
	wire_encode_start_ack(again, &sa);
	cr_assert(all_zero(again + 1, 15));

	buf[0] = 2;
	cr_assert_eq(wire_decode_start_sessions(buf, WIRE_START_SESSIONS_LEN, &sts), 0);
	memset(again, 0xff, sizeof(again));
	wire_encode_start_sessions(again, &sts);
	cr_assert(all_zero(again + 1, 15));

	buf[0] = 3;
	cr_assert_eq(wire_decode_stop_sessions(buf, WIRE_STOP_SESSIONS_LEN, &st), 0);
	memset(again, 0xff, sizeof(again));
	wire_encode_stop_sessions(again, &st);
	cr_assert(all_zero(again + 2, 2) && all_zero(again + 8, 8));
	cr_assert_arr_eq(again + 4, buf + 4, 4);

	buf[0] = 5;
	buf[1] = 0xf6;
	cr_assert_eq(wire_decode_request(buf, WIRE_REQUEST_LEN, &rq), 0);
	memset(again, 0xff, sizeof(again));
	wire_encode_request(again, &rq);
	cr_assert_eq(again[1], 6);
	cr_assert(all_zero(again + 92, 4));
	cr_assert_arr_eq(again + 88, buf + 88, 4); /* RFC 6038 octets */
	cr_assert_arr_eq(again + 2, buf + 2, 66);
}

Test(control, accept_str)
{
	cr_assert_str_eq(wire_accept_str(0), "OK");
	cr_assert_str_eq(wire_accept_str(1), "server refused (reason unspecified)");
	cr_assert_str_eq(wire_accept_str(3), "some aspect of the request is not supported");
	cr_assert_not_null(strstr(wire_accept_str(2), "internal error"));
	cr_assert_not_null(strstr(wire_accept_str(4), "permanent resource limitation"));
	cr_assert_not_null(strstr(wire_accept_str(5), "temporary resource limitation"));
	cr_assert_str_eq(wire_accept_str(6), "unknown Accept value");
	cr_assert_str_eq(wire_accept_str(255), "unknown Accept value");
	cr_assert_str_eq(wire_accept_str(0x80000000u), "unknown Accept value");
}

Test(control, typep)
{
	unsigned d;

	cr_assert_eq(wire_typep_from_dscp(34), 0x22000000u);
	cr_assert_eq(wire_typep_from_dscp(0), 0);
	cr_assert_eq(wire_typep_from_dscp(46), 0x2e000000u);
	cr_assert_eq(wire_typep_dscp(0x22000000u), 34);
	cr_assert_eq(wire_typep_dscp(0), 0);
	cr_assert_eq(wire_typep_dscp(0x40000000u), -1);
	cr_assert_eq(wire_typep_dscp(0x80000000u), -1);
	cr_assert_eq(wire_typep_dscp(0xffffffffu), -1);
	for (d = 0; d < 64; d++)
		cr_assert_eq(wire_typep_dscp(wire_typep_from_dscp((uint8_t)d)), (int)d);
}

/* ---- control messages: random round trips ------------------------------ */

/*
 * Encode m into a buffer of sentinels, check that exactly LEN octets were
 * written, decode from an exact-size copy, compare, and check that encoding
 * the decoded struct gives the same bytes again.
 */
#define ROUND_TRIP(name, LEN, rndfn, eqfn)                                       \
	do {                                                                     \
		struct wire_##name m, d;                                         \
		uint8_t buf[(LEN) + 16], again[LEN], *b;                         \
		size_t k;                                                        \
                                                                                 \
		memset(&m, 0, sizeof(m));                                        \
		memset(&d, 0x5a, sizeof(d));                                     \
		rndfn(&r, &m);                                                   \
		memset(buf, 0xa5, sizeof(buf));                                  \
		cr_assert_eq(wire_encode_##name(buf, &m), (LEN));                \
		for (k = (LEN); k < sizeof(buf); k++)                            \
			cr_assert_eq(buf[k], 0xa5, #name ": wrote past %d", LEN); \
		b = dup_exact(buf, (LEN));                                       \
		cr_assert_eq(wire_decode_##name(b, (LEN), &d), 0, #name);        \
		free(b);                                                         \
		eqfn(&d, &m);                                                    \
		cr_assert_eq(wire_encode_##name(again, &d), (LEN));              \
		cr_assert_arr_eq(again, buf, (LEN), #name ": re-encode differs"); \
		/* longer input: the message is still the first LEN octets */    \
		cr_assert_eq(wire_decode_##name(buf, sizeof(buf), &d), 0);      \
		eqfn(&d, &m);                                                    \
	} while (0)

Test(control, round_trip_random)
{
	struct rng r = { 0x7a3b1e5d };
	int i;

	for (i = 0; i < 1000; i++) {
		ROUND_TRIP(greeting, WIRE_GREETING_LEN, rnd_greeting, eq_greeting);
		ROUND_TRIP(setup, WIRE_SETUP_LEN, rnd_setup, eq_setup);
		ROUND_TRIP(server_start, WIRE_SERVER_START_LEN, rnd_server_start, eq_server_start);
		ROUND_TRIP(request, WIRE_REQUEST_LEN, rnd_request, eq_request);
		ROUND_TRIP(accept_session, WIRE_ACCEPT_SESSION_LEN, rnd_accept_session,
			   eq_accept_session);
		ROUND_TRIP(start_sessions, WIRE_START_SESSIONS_LEN, rnd_start_sessions,
			   eq_start_sessions);
		ROUND_TRIP(start_ack, WIRE_START_ACK_LEN, rnd_start_ack, eq_start_ack);
		ROUND_TRIP(stop_sessions, WIRE_STOP_SESSIONS_LEN, rnd_stop_sessions,
			   eq_stop_sessions);
	}
}

Test(control, round_trip_extremes)
{
	struct wire_request m, d;
	struct wire_server_start s, sd;
	uint8_t buf[WIRE_REQUEST_LEN];
	static const int64_t times[] = {
		1,                                 /* 1970, just after the epoch */
		-86400LL * 365 * NS_PER_SEC + 123, /* 1969: before the Unix epoch */
		0x7fffffffLL * NS_PER_SEC,         /* 2038-01-19, era 1 */
		Y2026_NS + 999999999,
		4102444800LL * NS_PER_SEC - 1,     /* 2099-12-31T23:59:59.999999999 */
	};
	size_t i;

	memset(&m, 0xff, sizeof(m));
	m.ipvn = 6;
	m.timeout = 0xffffffffLL * NS_PER_SEC; /* largest whole-second timeout */
	for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		m.start_time = times[i];
		wire_encode_request(buf, &m);
		cr_assert_eq(wire_decode_request(buf, sizeof(buf), &d), 0);
		eq_request(&d, &m);
		memset(&s, 0, sizeof(s));
		s.start_time = times[i];
		wire_encode_server_start(buf, &s);
		cr_assert_eq(wire_decode_server_start(buf, WIRE_SERVER_START_LEN, &sd), 0);
		eq_server_start(&sd, &s);
	}
}

/* ---- control messages: truncation ------------------------------------- */

/* Every length short of the message fails; the exact length succeeds. */
#define TRUNCATED(name, LEN, rndfn)                                              \
	do {                                                                     \
		struct wire_##name m, d;                                         \
		uint8_t buf[LEN], *b;                                            \
		size_t l;                                                        \
                                                                                 \
		memset(&m, 0, sizeof(m));                                        \
		rndfn(&r, &m);                                                   \
		wire_encode_##name(buf, &m);                                     \
		for (l = 0; l < (LEN); l++) {                                    \
			b = dup_exact(buf, l);                                   \
			cr_assert_eq(wire_decode_##name(b, l, &d), -1,           \
				     #name " accepted %zu octets", l);           \
			free(b);                                                 \
		}                                                                \
		b = dup_exact(buf, (LEN));                                       \
		cr_assert_eq(wire_decode_##name(b, (LEN), &d), 0, #name);        \
		free(b);                                                         \
	} while (0)

Test(control, truncated)
{
	struct rng r = { 5 };

	TRUNCATED(greeting, WIRE_GREETING_LEN, rnd_greeting);
	TRUNCATED(setup, WIRE_SETUP_LEN, rnd_setup);
	TRUNCATED(server_start, WIRE_SERVER_START_LEN, rnd_server_start);
	TRUNCATED(request, WIRE_REQUEST_LEN, rnd_request);
	TRUNCATED(accept_session, WIRE_ACCEPT_SESSION_LEN, rnd_accept_session);
	TRUNCATED(start_sessions, WIRE_START_SESSIONS_LEN, rnd_start_sessions);
	TRUNCATED(start_ack, WIRE_START_ACK_LEN, rnd_start_ack);
	TRUNCATED(stop_sessions, WIRE_STOP_SESSIONS_LEN, rnd_stop_sessions);
}

/* ---- test packets ------------------------------------------------------- */

Test(test_packet, sender_layout)
{
	struct wire_test_sender m = { .seq = 0x01020304, .errest = 0x0001, .ssid = 0xbeef }, d;
	uint8_t buf[64];

	m.ts = ntptime_from_ntp(0xeeb3b81d1f748a15ULL);
	memset(buf, 0xa5, sizeof(buf));
	cr_assert_eq(wire_encode_test_sender(buf, sizeof(buf), WIRE_TEST_OPEN, &m), 14);
	cr_assert_arr_eq(buf, ((uint8_t[]){ 1, 2, 3, 4, 0xee, 0xb3, 0xb8, 0x1d }), 8);
	cr_assert_eq(buf[12], 0);
	cr_assert_eq(buf[13], 1);
	cr_assert_eq(buf[14], 0xa5, "TWAMP sender writes 14 octets only");
	cr_assert_eq(wire_decode_test_sender(buf, 14, WIRE_TEST_OPEN, &d), 0);
	cr_assert_eq(d.ssid, 0, "no SSID in TWAMP");
	cr_assert_eq(d.ts, m.ts);

	memset(buf, 0xa5, sizeof(buf));
	cr_assert_eq(wire_encode_test_sender(buf, sizeof(buf), WIRE_TEST_STAMP, &m), 44);
	cr_assert_eq(buf[14], 0xbe);
	cr_assert_eq(buf[15], 0xef);
	cr_assert(all_zero(buf + 16, 28));
	cr_assert_eq(buf[44], 0xa5, "STAMP sender writes 44 octets only");
	cr_assert_eq(wire_decode_test_sender(buf, 44, WIRE_TEST_STAMP, &d), 0);
	eq_sender(&d, &m);
}

Test(test_packet, reflect_layout)
{
	struct wire_test_reflect m = {
		.seq = 7, .errest = 0x8001, .ssid = 0x1234, .sender_seq = 9,
		.sender_errest = 0x3fff, .sender_ttl = 255, .ttl_known = true,
	}, d;
	uint8_t buf[64];

	m.ts = Y2026_NS + 3;
	m.rx_ts = Y2026_NS + 2;
	m.sender_ts = Y2026_NS + 1;
	memset(buf, 0xa5, sizeof(buf));
	cr_assert_eq(wire_encode_test_reflect(buf, sizeof(buf), WIRE_TEST_STAMP, &m), 44);
	cr_assert_eq(buf[14], 0x12);
	cr_assert_eq(buf[15], 0x34);
	cr_assert_eq(buf[27], 9);
	cr_assert_eq(buf[36], 0x3f);
	cr_assert_eq(buf[37], 0xff);
	cr_assert_eq(buf[38], 0);
	cr_assert_eq(buf[39], 0);
	cr_assert_eq(buf[40], 255);
	cr_assert(all_zero(buf + 41, 3));
	cr_assert_eq(buf[44], 0xa5);
	cr_assert_eq(wire_decode_test_reflect(buf, 44, WIRE_TEST_STAMP, &d), 0);
	eq_reflect(&d, &m);

	m.ssid = 0;
	memset(buf, 0xa5, sizeof(buf));
	cr_assert_eq(wire_encode_test_reflect(buf, sizeof(buf), WIRE_TEST_OPEN, &m), 41);
	cr_assert_eq(buf[40], 255);
	cr_assert_eq(buf[41], 0xa5, "TWAMP reflector writes 41 octets only");
	cr_assert_eq(wire_decode_test_reflect(buf, 41, WIRE_TEST_OPEN, &d), 0);
	eq_reflect(&d, &m);

	/* TWAMP ignores octets 14..15 (MBZ) on receipt */
	buf[14] = 0xff;
	cr_assert_eq(wire_decode_test_reflect(buf, 41, WIRE_TEST_OPEN, &d), 0);
	cr_assert_eq(d.ssid, 0);

	/* 38 octets: twampy light, no TTL */
	cr_assert_eq(wire_decode_test_reflect(buf, 38, WIRE_TEST_OPEN, &d), 0);
	cr_assert(!d.ttl_known);
	cr_assert_eq(d.sender_ttl, 0);
	cr_assert_eq(d.sender_seq, 9);
	cr_assert_eq(d.sender_errest, 0x3fff);
}

Test(test_packet, round_trip_random)
{
	struct rng r = { 0x5eed };
	static const enum wire_test_fmt fmts[] = { WIRE_TEST_OPEN, WIRE_TEST_STAMP };
	int i;
	size_t f;

	for (i = 0; i < 1000; i++) {
		for (f = 0; f < 2; f++) {
			enum wire_test_fmt fmt = fmts[f];
			size_t slen = fmt == WIRE_TEST_STAMP ? 44 : 14;
			size_t rlen = fmt == WIRE_TEST_STAMP ? 44 : 41;
			size_t pad = rnd(&r) % 64, k;
			struct wire_test_sender s, sd;
			struct wire_test_reflect rf, rd;
			uint8_t buf[WIRE_STAMP_LEN + 64], again[WIRE_STAMP_LEN + 64], *b;

			rnd_sender(&r, fmt, &s);
			rnd_bytes(&r, buf, sizeof(buf));
			memcpy(again, buf, sizeof(buf));
			cr_assert_eq(wire_encode_test_sender(buf, slen + pad, fmt, &s), slen);
			cr_assert_arr_eq(buf + slen, again + slen, sizeof(buf) - slen);
			b = dup_exact(buf, slen + pad);
			cr_assert_eq(wire_decode_test_sender(b, slen + pad, fmt, &sd), 0);
			free(b);
			eq_sender(&sd, &s);
			cr_assert_eq(wire_encode_test_sender(again, sizeof(again), fmt, &sd), slen);
			cr_assert_arr_eq(again, buf, slen);

			rnd_reflect(&r, fmt, &rf);
			rnd_bytes(&r, buf, sizeof(buf));
			memcpy(again, buf, sizeof(buf));
			cr_assert_eq(wire_encode_test_reflect(buf, rlen + pad, fmt, &rf), rlen);
			for (k = rlen; k < sizeof(buf); k++)
				cr_assert_eq(buf[k], again[k], "reflector wrote past its header");
			b = dup_exact(buf, rlen + pad);
			cr_assert_eq(wire_decode_test_reflect(b, rlen + pad, fmt, &rd), 0);
			free(b);
			eq_reflect(&rd, &rf);
			cr_assert_eq(wire_encode_test_reflect(again, sizeof(again), fmt, &rd), rlen);
			cr_assert_arr_eq(again, buf, rlen);
		}
	}
}

Test(test_packet, truncated_and_small_cap)
{
	struct rng r = { 99 };
	struct wire_test_sender s, sd;
	struct wire_test_reflect rf, rd;
	uint8_t buf[WIRE_STAMP_LEN], *b;
	size_t l;

	/* TWAMP sender needs 14, STAMP sender 44 */
	rnd_sender(&r, WIRE_TEST_STAMP, &s);
	wire_encode_test_sender(buf, sizeof(buf), WIRE_TEST_STAMP, &s);
	for (l = 0; l <= WIRE_STAMP_LEN; l++) {
		b = dup_exact(buf, l);
		cr_assert_eq(wire_decode_test_sender(b, l, WIRE_TEST_OPEN, &sd), l < 14 ? -1 : 0);
		cr_assert_eq(wire_decode_test_sender(b, l, WIRE_TEST_STAMP, &sd), l < 44 ? -1 : 0);
		free(b);
	}
	/* TWAMP reflector: 38 or >= 41; STAMP: >= 44 */
	rnd_reflect(&r, WIRE_TEST_STAMP, &rf);
	wire_encode_test_reflect(buf, sizeof(buf), WIRE_TEST_STAMP, &rf);
	for (l = 0; l <= WIRE_STAMP_LEN; l++) {
		b = dup_exact(buf, l);
		cr_assert_eq(wire_decode_test_reflect(b, l, WIRE_TEST_OPEN, &rd),
			     l == 38 || l >= 41 ? 0 : -1, "TWAMP reflect len %zu", l);
		if (l == 38 || l >= 41)
			cr_assert_eq(rd.ttl_known, l >= 41);
		cr_assert_eq(wire_decode_test_reflect(b, l, WIRE_TEST_STAMP, &rd), l < 44 ? -1 : 0,
			     "STAMP reflect len %zu", l);
		free(b);
	}
	/* too small a buffer: nothing written, 0 returned */
	memset(buf, 0x77, sizeof(buf));
	cr_assert_eq(wire_encode_test_sender(buf, 13, WIRE_TEST_OPEN, &s), 0);
	cr_assert_eq(wire_encode_test_sender(buf, 43, WIRE_TEST_STAMP, &s), 0);
	cr_assert_eq(wire_encode_test_reflect(buf, 40, WIRE_TEST_OPEN, &rf), 0);
	cr_assert_eq(wire_encode_test_reflect(buf, 38, WIRE_TEST_OPEN, &rf), 0);
	cr_assert_eq(wire_encode_test_reflect(buf, 43, WIRE_TEST_STAMP, &rf), 0);
	for (l = 0; l < sizeof(buf); l++)
		cr_assert_eq(buf[l], 0x77);
	cr_assert_eq(wire_encode_test_sender(buf, 14, WIRE_TEST_OPEN, &s), 14);
	cr_assert_eq(wire_encode_test_reflect(buf, 41, WIRE_TEST_OPEN, &rf), 41);
	cr_assert_eq(wire_test_min_sender_len(WIRE_TEST_OPEN), 41);
	cr_assert_eq(wire_test_min_sender_len(WIRE_TEST_STAMP), 44);
}

/* The reflector's path: decode the sender packet, answer over the same buffer. */
Test(test_packet, reflect_in_place)
{
	static const enum wire_test_fmt fmts[] = { WIRE_TEST_OPEN, WIRE_TEST_STAMP };
	size_t f, k;

	for (f = 0; f < 2; f++) {
		enum wire_test_fmt fmt = fmts[f];
		size_t slen = fmt == WIRE_TEST_STAMP ? 44 : 14;
		size_t rlen = fmt == WIRE_TEST_STAMP ? 44 : 41;
		size_t len = 100;
		struct wire_test_sender s = { .seq = 42, .errest = 0x8005, .ssid = 0 }, sd;
		struct wire_test_reflect rf, rd;
		uint8_t pkt[100];

		if (fmt == WIRE_TEST_STAMP)
			s.ssid = 777;
		s.ts = Y2026_NS + 123456789;
		for (k = 0; k < len; k++)
			pkt[k] = (uint8_t)(k * 7 + 1);
		cr_assert_eq(wire_encode_test_sender(pkt, len, fmt, &s), slen);
		cr_assert_eq(wire_decode_test_sender(pkt, len, fmt, &sd), 0);

		rf = (struct wire_test_reflect){
			.seq = 5, .ts = s.ts + 2000, .errest = 0x0001, .ssid = sd.ssid,
			.rx_ts = s.ts + 1000, .sender_seq = sd.seq, .sender_ts = sd.ts,
			.sender_errest = sd.errest, .sender_ttl = 64, .ttl_known = true,
		};
		cr_assert_eq(wire_encode_test_reflect(pkt, len, fmt, &rf), rlen);
		for (k = rlen; k < len; k++)
			cr_assert_eq(pkt[k], (uint8_t)(k * 7 + 1), "padding octet %zu changed", k);
		cr_assert_eq(wire_decode_test_reflect(pkt, len, fmt, &rd), 0);
		eq_reflect(&rd, &rf);
		cr_assert_eq(rd.sender_seq, 42);
		cr_assert_eq(rd.sender_ts, s.ts);
		cr_assert_eq(rd.ssid, fmt == WIRE_TEST_STAMP ? 777 : 0);
	}
}

/* ---- random bytes into every decoder ----------------------------------- */

Test(fuzz, random_bytes)
{
	struct rng r = { 0xf00d };
	int i;

	for (i = 0; i < 100000; i++) {
		size_t len = rnd(&r) % 200, k;
		uint8_t tmp[200], out[WIRE_CONTROL_MAX_LEN + 64], *b;
		struct wire_greeting g, g2;
		struct wire_setup su, su2;
		struct wire_server_start ss, ss2;
		struct wire_request rq, rq2;
		struct wire_accept_session as, as2;
		struct wire_start_sessions st, st2;
		struct wire_start_ack sa, sa2;
		struct wire_stop_sessions sp, sp2;
		struct wire_test_sender ts, ts2;
		struct wire_test_reflect tr, tr2;
		enum wire_test_fmt fmt = rnd(&r) & 1 ? WIRE_TEST_STAMP : WIRE_TEST_OPEN;

		rnd_bytes(&r, tmp, len);
		/* bias some inputs toward valid command octets */
		if (len && rnd(&r) % 2) {
			static const uint8_t cmds[] = { 2, 3, 5 };

			tmp[0] = cmds[rnd(&r) % 3];
			if (len > 1 && tmp[0] == 5)
				tmp[1] = rnd(&r) % 2 ? 4 : 6;
		}
		b = dup_exact(tmp, len);

		/* whatever decodes must encode and decode to the same values */
		if (!wire_decode_greeting(b, len, &g)) {
			wire_encode_greeting(out, &g);
			cr_assert_eq(wire_decode_greeting(out, WIRE_GREETING_LEN, &g2), 0);
			eq_greeting(&g2, &g);
		}
		if (!wire_decode_setup(b, len, &su)) {
			wire_encode_setup(out, &su);
			cr_assert_eq(wire_decode_setup(out, WIRE_SETUP_LEN, &su2), 0);
			eq_setup(&su2, &su);
		}
		if (!wire_decode_server_start(b, len, &ss)) {
			wire_encode_server_start(out, &ss);
			cr_assert_eq(wire_decode_server_start(out, WIRE_SERVER_START_LEN, &ss2), 0);
			eq_server_start(&ss2, &ss);
		}
		if (!wire_decode_request(b, len, &rq)) {
			wire_encode_request(out, &rq);
			cr_assert_eq(wire_decode_request(out, WIRE_REQUEST_LEN, &rq2), 0);
			/* raw start times 1..2 round to the instant that encodes as 0 */
			if (rq.start_time && ntptime_to_ntp(rq.start_time) == 0)
				rq2.start_time = rq.start_time;
			eq_request(&rq2, &rq);
		}
		if (!wire_decode_accept_session(b, len, &as)) {
			wire_encode_accept_session(out, &as);
			cr_assert_eq(wire_decode_accept_session(out, WIRE_ACCEPT_SESSION_LEN, &as2), 0);
			eq_accept_session(&as2, &as);
		}
		if (!wire_decode_start_sessions(b, len, &st)) {
			wire_encode_start_sessions(out, &st);
			cr_assert_eq(wire_decode_start_sessions(out, WIRE_START_SESSIONS_LEN, &st2), 0);
			eq_start_sessions(&st2, &st);
		}
		if (!wire_decode_start_ack(b, len, &sa)) {
			wire_encode_start_ack(out, &sa);
			cr_assert_eq(wire_decode_start_ack(out, WIRE_START_ACK_LEN, &sa2), 0);
			eq_start_ack(&sa2, &sa);
		}
		if (!wire_decode_stop_sessions(b, len, &sp)) {
			wire_encode_stop_sessions(out, &sp);
			cr_assert_eq(wire_decode_stop_sessions(out, WIRE_STOP_SESSIONS_LEN, &sp2), 0);
			eq_stop_sessions(&sp2, &sp);
		}
		if (!wire_decode_test_sender(b, len, fmt, &ts)) {
			k = wire_encode_test_sender(out, sizeof(out), fmt, &ts);
			cr_assert_eq(wire_decode_test_sender(out, k, fmt, &ts2), 0);
			eq_sender(&ts2, &ts);
		}
		if (!wire_decode_test_reflect(b, len, fmt, &tr)) {
			k = wire_encode_test_reflect(out, sizeof(out), fmt, &tr);
			cr_assert_eq(wire_decode_test_reflect(out, k, fmt, &tr2), 0);
			if (!tr.ttl_known) /* a 38-octet reflection encodes as 41 with TTL 0 */
				tr2.ttl_known = false;
			eq_reflect(&tr2, &tr);
		}
		(void)wire_command_len(len ? b[0] : 0);
		free(b);
	}
}

/* ---- interop captures --------------------------------------------------- */

struct capture {
	const char *file;
	uint16_t ctl_port;      /* server's TCP port */
	uint32_t mode;          /* Set-Up-Response mode */
	bool clear;             /* control after Set-Up-Response in clear text */
	bool twampy;            /* twampy controller instead of twping */
	uint16_t udp_client;    /* client's UDP test port */
	uint16_t udp_reflector; /* reflector's UDP port */
	const char *sid;
	uint32_t padding;
	uint32_t typep;
	uint8_t ipvn;
	uint8_t tos;            /* of the test packets (both ways for twping) */
	const char *salt, *client_iv, *server_iv; /* hex, auth/enc/mixed */
};

static const struct capture cap_open = {
	"owamp-twping-twampd-open.pcap", 8620, 1, true, false, 9103, 18778,
	"7f000001eeb3b81c058aa86525684196", 27, 0, 4, 0, NULL, NULL, NULL,
};
static const struct capture cap_af41 = {
	"owamp-twping-twampd-open-dscp-af41-pad64.pcap", 8620, 1, true, false, 9456, 18805,
	"7f000001eeb3b834b517e77dcd89f927", 64, 0x22000000, 4, 0x88, NULL, NULL, NULL,
};
static const struct capture cap_ipv6 = {
	"owamp-twping-twampd-open-ipv6.pcap", 8621, 1, true, false, 8962, 18998,
	"00000001eeb3b83ae0a79357743bfcc9", 27, 0, 6, 0, NULL, NULL, NULL,
};
static const struct capture cap_twampy = {
	"twampy-controller-twampd-open.pcap", 862, 1, true, true, 20000, 18770,
	"7f000001eeb3b8ae1c7789a48af07ca8", 0, 0, 4, 0x88, NULL, NULL, NULL,
};
static const struct capture cap_auth = {
	"owamp-twping-twampd-auth.pcap", 8620, 2, false, false, 9487, 18831,
	"7f000001eeb3b82230cdfaca49067d89", 64, 0, 4, 0,
	"92c0bc51677692efeeab0e38a37fd618", "070c7bb74383376d3338273647362afa",
	"77e5fd85902e439bce523191a576d1a2",
};
static const struct capture cap_enc = {
	"owamp-twping-twampd-encrypted.pcap", 8620, 4, false, false, 9666, 18834,
	"7f000001eeb3b8285f6db940b34531d5", 64, 0, 4, 0,
	"ceb78e12a62cfbcdab5be6fdcaaedd4b", "7c4dfbf540cc1221e3aad8be14afedaf",
	"7a08d11dddee6a8e3f776a53c770cd33",
};
static const struct capture cap_mixed = {
	"owamp-twping-twampd-mixed.pcap", 8620, 8, false, false, 9525, 18807,
	"7f000001eeb3b82e89bd512e9c460e47", 27, 0, 4, 0,
	"777ad238fe09b914bdaf3fe3b8a377e1", "f1e4b9ed6391415f2ee7e9cf2b9fc730",
	"790ad191d9217246da9d2e3bb0dce078",
};

static void load(const char *file, struct pcap_file *pf)
{
	char path[256];

	snprintf(path, sizeof(path), DATA_DIR "%s", file);
	cr_assert_eq(pcap_load(path, pf), 0, "cannot load %s (run the tests from the repository root)",
		     path);
}

/* Both directions of the control connection. */
struct ctl_streams {
	uint8_t *c2s, *s2c;
	size_t c2s_len, s2c_len;
};

static void ctl_streams(const struct pcap_file *pf, uint16_t ctl_port, struct ctl_streams *cs)
{
	uint16_t cport = pcap_tcp_client_port(pf, ctl_port);

	cr_assert_neq(cport, 0, "no control connection to port %u", ctl_port);
	cr_assert_eq(pcap_tcp_stream(pf, cport, ctl_port, &cs->c2s, &cs->c2s_len), 0);
	cr_assert_eq(pcap_tcp_stream(pf, ctl_port, cport, &cs->s2c, &cs->s2c_len), 0);
}

static void ctl_streams_free(struct ctl_streams *cs)
{
	free(cs->c2s);
	free(cs->s2c);
}

/* Re-encoding gives the captured bytes; timestamps within 2 units of 2^-32 s. */
static void same_bytes(const uint8_t *enc, const uint8_t *raw, size_t len,
		       const size_t *ts_off, size_t nts)
{
	size_t i, j;

	for (i = 0; i < len; i++) {
		bool in_ts = false;

		for (j = 0; j < nts; j++)
			if (i >= ts_off[j] && i < ts_off[j] + 8)
				in_ts = true;
		if (!in_ts)
			cr_assert_eq(enc[i], raw[i], "octet %zu: %02x != %02x", i, enc[i], raw[i]);
	}
	for (j = 0; j < nts; j++) {
		int64_t diff = (int64_t)(get_be64(enc + ts_off[j]) - get_be64(raw + ts_off[j]));

		cr_assert(diff >= -2 && diff <= 2, "timestamp at %zu off by %lld", ts_off[j],
			  (long long)diff);
	}
}

static void check_greeting(const uint8_t *p, const struct capture *c)
{
	struct wire_greeting g;
	uint8_t enc[WIRE_GREETING_LEN], salt[16];
	uint8_t *b = dup_exact(p, WIRE_GREETING_LEN);

	cr_assert_eq(wire_decode_greeting(b, WIRE_GREETING_LEN, &g), 0);
	cr_assert_eq(g.modes, 0x0f);
	cr_assert_eq(g.count, 2048);
	cr_assert(!all_zero(g.challenge, 16));
	if (c->salt) {
		hex2bin(c->salt, salt, sizeof(salt));
		cr_assert_arr_eq(g.salt, salt, 16);
	}
	wire_encode_greeting(enc, &g);
	same_bytes(enc, b, WIRE_GREETING_LEN, NULL, 0);
	free(b);
}

static void check_setup(const uint8_t *p, const struct capture *c)
{
	struct wire_setup s;
	uint8_t enc[WIRE_SETUP_LEN], keyid[80] = "probe", iv[16];
	uint8_t *b = dup_exact(p, WIRE_SETUP_LEN);

	cr_assert_eq(wire_decode_setup(b, WIRE_SETUP_LEN, &s), 0);
	cr_assert_eq(s.mode, c->mode);
	if (c->mode == WIRE_MODE_OPEN) {
		cr_assert(all_zero(s.keyid, 80));
		cr_assert(all_zero(s.token, 64));
		cr_assert(all_zero(s.client_iv, 16));
	} else {
		cr_assert_arr_eq(s.keyid, keyid, 80, "KeyID is \"probe\", NUL padded");
		cr_assert(!all_zero(s.token, 64));
		hex2bin(c->client_iv, iv, sizeof(iv));
		cr_assert_arr_eq(s.client_iv, iv, 16);
	}
	wire_encode_setup(enc, &s);
	same_bytes(enc, b, WIRE_SETUP_LEN, NULL, 0);
	free(b);
}

/* The greeting and Set-Up-Response of every capture with a control connection. */
static void check_clear_start(const struct capture *c)
{
	struct pcap_file pf;
	struct ctl_streams cs;

	load(c->file, &pf);
	ctl_streams(&pf, c->ctl_port, &cs);
	cr_assert_eq(cs.s2c_len, 64 + 48 + 48 + 32);
	cr_assert_eq(cs.c2s_len, 164 + 112 + 32 + 32);
	check_greeting(cs.s2c, c);
	check_setup(cs.c2s, c);
	if (!c->clear) {
		/* Server-Start: MBZ, Accept and Server-IV precede the encryption */
		struct wire_server_start ss;
		uint8_t iv[16];

		cr_assert_eq(wire_decode_server_start(cs.s2c + 64, WIRE_SERVER_START_LEN, &ss), 0);
		cr_assert_eq(ss.accept, WIRE_ACCEPT_OK);
		hex2bin(c->server_iv, iv, sizeof(iv));
		cr_assert_arr_eq(ss.server_iv, iv, 16);
	}
	ctl_streams_free(&cs);
	pcap_free(&pf);
}

Test(capture, clear_text_start_auth) { check_clear_start(&cap_auth); }
Test(capture, clear_text_start_encrypted) { check_clear_start(&cap_enc); }
Test(capture, clear_text_start_mixed) { check_clear_start(&cap_mixed); }

Test(capture, auth_denied)
{
	struct capture c = cap_auth;
	struct pcap_file pf;
	struct ctl_streams cs;
	struct wire_server_start ss;

	c.file = "owamp-twping-twampd-auth-denied-wrongkey.pcap";
	c.salt = NULL;
	c.client_iv = NULL;
	load(c.file, &pf);
	cr_assert_eq(pf.nframes, 11);
	ctl_streams(&pf, c.ctl_port, &cs);
	cr_assert_eq(cs.s2c_len, 64 + 48);
	cr_assert_eq(cs.c2s_len, 164);
	check_greeting(cs.s2c, &c);
	{
		struct wire_setup s;
		uint8_t keyid[80] = "probe";

		cr_assert_eq(wire_decode_setup(cs.c2s, cs.c2s_len, &s), 0);
		cr_assert_eq(s.mode, WIRE_MODE_AUTH);
		cr_assert_arr_eq(s.keyid, keyid, 80);
	}
	cr_assert_eq(wire_decode_server_start(cs.s2c + 64, 48, &ss), 0);
	cr_assert_eq(ss.accept, WIRE_ACCEPT_FAILURE);
	cr_assert(all_zero(ss.server_iv, 16));
	cr_assert_str_eq(wire_accept_str(ss.accept), "server refused (reason unspecified)");
	ctl_streams_free(&cs);
	pcap_free(&pf);
}

/* Every control message of an open-mode capture, and its re-encoding. */
static void check_open_control(const struct capture *c, struct wire_request *req_out)
{
	static const size_t ss_ts[] = { 32 };
	static const size_t rq_ts[] = { 68, 76 };
	struct pcap_file pf;
	struct ctl_streams cs;
	struct wire_server_start ss;
	struct wire_request rq;
	struct wire_accept_session as;
	struct wire_start_sessions st;
	struct wire_start_ack sa;
	struct wire_stop_sessions sp;
	uint8_t enc[WIRE_CONTROL_MAX_LEN], sid[16], *b;
	const uint8_t *p;
	size_t off, len;
	int ncmd = 0;

	load(c->file, &pf);
	ctl_streams(&pf, c->ctl_port, &cs);
	cr_assert_eq(cs.s2c_len, 64 + 48 + 48 + 32);
	cr_assert_eq(cs.c2s_len, 164 + 112 + 32 + 32);

	/* server -> client: Greeting, Server-Start, Accept-Session, Start-Ack */
	check_greeting(cs.s2c, c);
	b = dup_exact(cs.s2c + 64, WIRE_SERVER_START_LEN);
	cr_assert_eq(wire_decode_server_start(b, WIRE_SERVER_START_LEN, &ss), 0);
	cr_assert_eq(ss.accept, WIRE_ACCEPT_OK);
	cr_assert(all_zero(ss.server_iv, 16));
	cr_assert(ss.start_time >= Y2026_NS && ss.start_time < Y2027_NS);
	wire_encode_server_start(enc, &ss);
	same_bytes(enc, b, WIRE_SERVER_START_LEN, ss_ts, 1);
	free(b);

	b = dup_exact(cs.s2c + 112, WIRE_ACCEPT_SESSION_LEN);
	cr_assert_eq(wire_decode_accept_session(b, WIRE_ACCEPT_SESSION_LEN, &as), 0);
	cr_assert_eq(as.accept, WIRE_ACCEPT_OK);
	cr_assert_eq(as.port, c->udp_reflector);
	hex2bin(c->sid, sid, sizeof(sid));
	cr_assert_arr_eq(as.sid, sid, 16);
	cr_assert(all_zero(as.hmac, 16));
	wire_encode_accept_session(enc, &as);
	same_bytes(enc, b, WIRE_ACCEPT_SESSION_LEN, NULL, 0);
	free(b);

	b = dup_exact(cs.s2c + 160, WIRE_START_ACK_LEN);
	cr_assert_eq(wire_decode_start_ack(b, WIRE_START_ACK_LEN, &sa), 0);
	cr_assert_eq(sa.accept, WIRE_ACCEPT_OK);
	wire_encode_start_ack(enc, &sa);
	same_bytes(enc, b, WIRE_START_ACK_LEN, NULL, 0);
	free(b);

	/* client -> server: Set-Up-Response, then commands found by their octet */
	check_setup(cs.c2s, c);
	for (off = WIRE_SETUP_LEN; off < cs.c2s_len; off += len, ncmd++) {
		p = cs.c2s + off;
		len = wire_command_len(p[0]);
		cr_assert_neq(len, 0, "unknown command %u at %zu", p[0], off);
		cr_assert(off + len <= cs.c2s_len);
		b = dup_exact(p, len);
		switch (p[0]) {
		case WIRE_CMD_REQUEST_TW_SESSION:
			cr_assert_eq(ncmd, 0);
			cr_assert_eq(wire_decode_request(b, len, &rq), 0);
			wire_encode_request(enc, &rq);
			same_bytes(enc, b, len, rq_ts, 2);
			break;
		case WIRE_CMD_START_SESSIONS:
			cr_assert_eq(ncmd, 1);
			cr_assert_eq(wire_decode_start_sessions(b, len, &st), 0);
			cr_assert(all_zero(st.hmac, 16));
			wire_encode_start_sessions(enc, &st);
			same_bytes(enc, b, len, NULL, 0);
			break;
		case WIRE_CMD_STOP_SESSIONS:
			cr_assert_eq(ncmd, 2);
			cr_assert_eq(wire_decode_stop_sessions(b, len, &sp), 0);
			cr_assert_eq(sp.accept, WIRE_ACCEPT_OK);
			cr_assert_eq(sp.nsessions, c->twampy ? 0 : 1);
			wire_encode_stop_sessions(enc, &sp);
			same_bytes(enc, b, len, NULL, 0);
			break;
		}
		free(b);
	}
	cr_assert_eq(ncmd, 3);

	/* Request-TW-Session values */
	cr_assert_eq(rq.ipvn, c->ipvn);
	cr_assert_eq(rq.conf_sender, 0);
	cr_assert_eq(rq.conf_receiver, 0);
	cr_assert_eq(rq.schedule_slots, 0);
	cr_assert_eq(rq.packets, 0);
	cr_assert_eq(rq.sender_port, c->udp_client);
	cr_assert(all_zero(rq.sid, 16));
	cr_assert_eq(rq.padding, c->padding);
	cr_assert_eq(rq.typep, c->typep);
	cr_assert(all_zero(rq.hmac, 16));
	if (c->twampy) {
		cr_assert_eq(rq.receiver_port, c->udp_reflector);
		cr_assert(all_zero(rq.sender.b, 16));
		cr_assert(all_zero(rq.receiver.b, 16));
		cr_assert_eq(rq.start_time, 0);
		cr_assert_eq(rq.timeout, 3 * NS_PER_SEC);
		cr_assert_eq(wire_typep_dscp(rq.typep), 0);
	} else {
		uint8_t addr[16] = { 0 };

		cr_assert_eq(rq.receiver_port, c->udp_client);
		if (c->ipvn == 4) {
			addr[0] = 127;
			addr[3] = 1;
		} else {
			addr[15] = 1;
		}
		cr_assert_arr_eq(rq.sender.b, addr, 16);
		cr_assert_arr_eq(rq.receiver.b, addr, 16);
		cr_assert(rq.start_time > ss.start_time && rq.start_time < Y2027_NS);
		cr_assert(rq.timeout > 19 * NS_PER_SEC / 10 && rq.timeout < 21 * NS_PER_SEC / 10,
			  "timeout %lld ns", (long long)rq.timeout);
		cr_assert_eq(wire_typep_dscp(rq.typep), c->typep ? 34 : 0);
	}
	if (req_out)
		*req_out = rq;
	ctl_streams_free(&cs);
	pcap_free(&pf);
}

Test(capture, control_open) { check_open_control(&cap_open, NULL); }
Test(capture, control_open_af41_pad64) { check_open_control(&cap_af41, NULL); }
Test(capture, control_open_ipv6) { check_open_control(&cap_ipv6, NULL); }
Test(capture, control_twampy_controller) { check_open_control(&cap_twampy, NULL); }

/*
 * The UDP test packets of a twping/twampd session: ten sender packets with
 * seq 0..9 and ten reflections of the same size answering them in order.
 */
static void check_test_packets(const struct capture *c, bool have_request)
{
	struct wire_request rq;
	struct pcap_file pf;
	const struct pcap_frame *sf, *rf;
	size_t spos = 0, rpos = 0;
	uint32_t i;
	int64_t prev_t1 = 0;
	size_t slen = c->twampy ? 14 : 14 + c->padding;
	size_t rlen = slen < 41 ? 41 : slen;

	if (have_request)
		check_open_control(c, &rq);
	load(c->file, &pf);
	cr_assert_eq(pcap_count_udp(&pf, c->udp_client, c->udp_reflector), 10);
	cr_assert_eq(pcap_count_udp(&pf, c->udp_reflector, c->udp_client), 10);
	for (i = 0; i < 10; i++) {
		struct wire_test_sender s;
		struct wire_test_reflect r;
		uint8_t *sb, *rb;

		sf = pcap_next_udp(&pf, &spos, c->udp_client, c->udp_reflector);
		rf = pcap_next_udp(&pf, &rpos, c->udp_reflector, c->udp_client);
		cr_assert_not_null(sf);
		cr_assert_not_null(rf);
		cr_assert(sf->index < rf->index, "reflection before its packet");
		cr_assert_eq(sf->ipver, c->ipvn);
		cr_assert_eq(sf->payload_len, slen);
		cr_assert_eq(rf->payload_len, rlen);
		cr_assert_eq(sf->tos, c->tos);
		if (!c->twampy) {
			cr_assert_eq(rf->tos, c->tos, "the reflector copies the DSCP");
			cr_assert_eq(sf->ttl, 255);
		}
		cr_assert_eq(rf->ttl, 255);

		sb = dup_exact(sf->payload, sf->payload_len);
		rb = dup_exact(rf->payload, rf->payload_len);
		cr_assert_eq(wire_decode_test_sender(sb, sf->payload_len, WIRE_TEST_OPEN, &s), 0);
		cr_assert_eq(s.seq, i);
		cr_assert_eq(s.errest, c->twampy ? 0x3fff : 0x0001);
		cr_assert_eq(s.ssid, 0);
		cr_assert(s.ts >= Y2026_NS && s.ts < Y2027_NS);
		if (i == 0 && have_request && !c->twampy)
			cr_assert(s.ts >= rq.start_time - NS_PER_SEC && s.ts < rq.start_time + NS_PER_SEC,
				  "first packet near the requested start time");
		cr_assert(s.ts > prev_t1 && (i == 0 || s.ts - prev_t1 < NS_PER_SEC));
		prev_t1 = s.ts;

		cr_assert_eq(wire_decode_test_reflect(rb, rf->payload_len, WIRE_TEST_OPEN, &r), 0);
		cr_assert_eq(r.seq, i);
		cr_assert_eq(r.sender_seq, s.seq);
		cr_assert_eq(r.sender_ts, s.ts);
		cr_assert_eq(r.sender_errest, s.errest);
		cr_assert(r.ttl_known);
		cr_assert_eq(r.sender_ttl, c->twampy ? 64 : 255);
		cr_assert_eq(r.errest, 0x0001);
		cr_assert_eq(r.ssid, 0);
		/* T1 <= T2 <= T3, all within a few seconds, all in 2026 */
		cr_assert(r.sender_ts <= r.rx_ts, "T1 %lld > T2 %lld", (long long)r.sender_ts,
			  (long long)r.rx_ts);
		cr_assert(r.rx_ts <= r.ts, "T2 > T3");
		cr_assert(r.ts - r.sender_ts < 3 * NS_PER_SEC);
		cr_assert(r.ts < Y2027_NS);
		/* the reflector's padding: the start of the sender's, copied */
		if (rlen > 41 && !c->twampy)
			cr_assert_arr_eq(rb + 41, sb + 14, rlen - 41);
		/* re-encoding gives the captured header back */
		{
			uint8_t enc[WIRE_TEST_REFLECT_LEN];
			static const size_t ts_off[] = { 4, 16, 28 };

			cr_assert_eq(wire_encode_test_reflect(enc, sizeof(enc), WIRE_TEST_OPEN, &r), 41);
			same_bytes(enc, rb, 41, ts_off, 3);
			cr_assert_arr_eq(enc + 24, rb + 24, 4);
		}
		free(sb);
		free(rb);
	}
	cr_assert_null(pcap_next_udp(&pf, &spos, c->udp_client, c->udp_reflector));
	pcap_free(&pf);
}

Test(capture, test_packets_open) { check_test_packets(&cap_open, true); }
Test(capture, test_packets_af41_pad64) { check_test_packets(&cap_af41, true); }
Test(capture, test_packets_ipv6) { check_test_packets(&cap_ipv6, true); }
Test(capture, test_packets_mixed) { check_test_packets(&cap_mixed, false); }
Test(capture, test_packets_twampy_controller) { check_test_packets(&cap_twampy, true); }

Test(capture, twampy_light)
{
	struct pcap_file pf;
	const struct pcap_frame *sf, *rf;
	size_t spos = 0, rpos = 0;
	uint32_t i;

	load("twampy-sender-responder-light.pcap", &pf);
	cr_assert_eq(pf.nframes, 20);
	for (i = 0; i < 10; i++) {
		struct wire_test_sender s;
		struct wire_test_reflect r;
		uint8_t *sb, *rb;

		sf = pcap_next_udp(&pf, &spos, 20000, 20001);
		rf = pcap_next_udp(&pf, &rpos, 20001, 20000);
		cr_assert_not_null(sf);
		cr_assert_not_null(rf);
		cr_assert_eq(sf->payload_len, 14);
		cr_assert_eq(rf->payload_len, WIRE_TEST_REFLECT_SHORT_LEN);
		cr_assert_eq(sf->tos, 0x88);
		cr_assert_eq(rf->tos, 0x88);
		sb = dup_exact(sf->payload, 14);
		rb = dup_exact(rf->payload, 38);
		cr_assert_eq(wire_decode_test_sender(sb, 14, WIRE_TEST_OPEN, &s), 0);
		cr_assert_eq(s.seq, i);
		cr_assert_eq(s.errest, 0x3fff);
		cr_assert(s.ts >= Y2026_NS && s.ts < Y2027_NS);
		cr_assert_eq(wire_decode_test_reflect(rb, 38, WIRE_TEST_OPEN, &r), 0);
		cr_assert(!r.ttl_known);
		cr_assert_eq(r.sender_ttl, 0);
		cr_assert_eq(r.seq, i);
		cr_assert_eq(r.sender_seq, i);
		cr_assert_eq(r.sender_ts, s.ts);
		cr_assert_eq(r.sender_errest, 0x3fff);
		cr_assert_eq(r.errest, 0x0001);
		cr_assert_eq(r.rx_ts, r.ts, "twampy stamps T2 = T3");
		cr_assert(r.sender_ts <= r.rx_ts && r.ts - r.sender_ts < 3 * NS_PER_SEC);
		/* not a STAMP packet, and not a sender-format STAMP packet either */
		cr_assert_eq(wire_decode_test_reflect(rb, 38, WIRE_TEST_STAMP, &r), -1);
		cr_assert_eq(wire_decode_test_sender(sb, 14, WIRE_TEST_STAMP, &s), -1);
		free(sb);
		free(rb);
	}
	pcap_free(&pf);
}

/* ---- the pcap helper itself -------------------------------------------- */

Test(pcap, frames_and_streams)
{
	static const struct {
		const char *file;
		size_t nframes;
	} files[] = {
		{ "owamp-twping-twampd-open.pcap", 37 },
		{ "owamp-twping-twampd-auth.pcap", 37 },
		{ "owamp-twping-twampd-encrypted.pcap", 37 },
		{ "owamp-twping-twampd-mixed.pcap", 37 },
		{ "owamp-twping-twampd-open-dscp-af41-pad64.pcap", 37 },
		{ "owamp-twping-twampd-open-ipv6.pcap", 37 },
		{ "owamp-twping-twampd-auth-denied-wrongkey.pcap", 11 },
		{ "twampy-controller-twampd-open.pcap", 36 },
		{ "twampy-sender-responder-light.pcap", 20 },
	};
	size_t i, j;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct pcap_file pf;

		load(files[i].file, &pf);
		cr_assert_eq(pf.linktype, 1);
		cr_assert_eq(pf.nframes, files[i].nframes, "%s", files[i].file);
		for (j = 0; j < pf.nframes; j++) {
			const struct pcap_frame *f = &pf.frames[j];

			cr_assert_eq(f->index, j);
			cr_assert(f->ipver == 4 || f->ipver == 6);
			cr_assert(f->proto == PCAP_PROTO_TCP || f->proto == PCAP_PROTO_UDP);
			cr_assert(f->ts_ns >= Y2026_NS && f->ts_ns < Y2027_NS);
			cr_assert(j == 0 || f->ts_ns >= pf.frames[j - 1].ts_ns);
		}
		pcap_free(&pf);
	}
}

Test(pcap, ipv6_fields)
{
	struct pcap_file pf;
	const struct pcap_frame *f;
	size_t pos = 0;
	uint8_t lo6[16] = { [15] = 1 };

	load("owamp-twping-twampd-open-ipv6.pcap", &pf);
	f = pcap_next_udp(&pf, &pos, 0, 18998);
	cr_assert_not_null(f);
	cr_assert_eq(f->index, 13);
	cr_assert_eq(f->ipver, 6);
	cr_assert_eq(f->sport, 8962);
	cr_assert_arr_eq(f->src, lo6, 16);
	cr_assert_arr_eq(f->dst, lo6, 16);
	cr_assert_eq(f->ttl, 255);
	cr_assert_eq(f->payload_len, 41);
	cr_assert_eq(pcap_tcp_client_port(&pf, 8621), 54160);
	cr_assert_eq(pcap_tcp_client_port(&pf, 1), 0);
	pcap_free(&pf);
}

/* Rewrite a capture as big-endian with nanoseconds; the frames must not change. */
Test(pcap, big_endian_nanosecond)
{
	struct pcap_file a, b;
	FILE *in, *out;
	char path[] = "/tmp/test_wire_pcap_XXXXXX";
	uint8_t hdr[24], rec[16], data[65536];
	int fd;
	size_t i;

	load("owamp-twping-twampd-open-dscp-af41-pad64.pcap", &a);
	in = fopen(DATA_DIR "owamp-twping-twampd-open-dscp-af41-pad64.pcap", "rb");
	cr_assert_not_null(in);
	fd = mkstemp(path);
	cr_assert(fd >= 0);
	out = fdopen(fd, "wb");
	cr_assert_not_null(out);
	cr_assert_eq(fread(hdr, 1, 24, in), 24);
	/* swap the magic (and choose the ns one) and every 16/32-bit header field */
	{
		static const uint8_t magic_ns_be[4] = { 0xa1, 0xb2, 0x3c, 0x4d };
		uint8_t sw[24];

		memcpy(sw, magic_ns_be, 4);
		sw[4] = hdr[5], sw[5] = hdr[4], sw[6] = hdr[7], sw[7] = hdr[6];
		for (i = 8; i < 24; i += 4) {
			sw[i] = hdr[i + 3];
			sw[i + 1] = hdr[i + 2];
			sw[i + 2] = hdr[i + 1];
			sw[i + 3] = hdr[i];
		}
		fwrite(sw, 1, 24, out);
	}
	while (fread(rec, 1, 16, in) == 16) {
		uint32_t f[4];
		uint8_t sw[16];
		size_t k;

		for (k = 0; k < 4; k++)
			f[k] = (uint32_t)rec[4 * k] | (uint32_t)rec[4 * k + 1] << 8 |
			       (uint32_t)rec[4 * k + 2] << 16 | (uint32_t)rec[4 * k + 3] << 24;
		f[1] *= 1000; /* microseconds -> nanoseconds */
		for (k = 0; k < 4; k++) {
			sw[4 * k] = (uint8_t)(f[k] >> 24);
			sw[4 * k + 1] = (uint8_t)(f[k] >> 16);
			sw[4 * k + 2] = (uint8_t)(f[k] >> 8);
			sw[4 * k + 3] = (uint8_t)f[k];
		}
		cr_assert(f[2] <= sizeof(data));
		cr_assert_eq(fread(data, 1, f[2], in), f[2]);
		fwrite(sw, 1, 16, out);
		fwrite(data, 1, f[2], out);
	}
	fclose(in);
	cr_assert_eq(fclose(out), 0);

	cr_assert_eq(pcap_load(path, &b), 0);
	unlink(path);
	cr_assert(b.nanosecond);
	cr_assert(!a.nanosecond);
	cr_assert_eq(b.nframes, a.nframes);
	for (i = 0; i < a.nframes; i++) {
		const struct pcap_frame *x = &a.frames[i], *y = &b.frames[i];

		cr_assert_eq(x->ts_ns, y->ts_ns);
		cr_assert_eq(x->ipver, y->ipver);
		cr_assert_arr_eq(x->src, y->src, 16);
		cr_assert_arr_eq(x->dst, y->dst, 16);
		cr_assert_eq(x->proto, y->proto);
		cr_assert_eq(x->sport, y->sport);
		cr_assert_eq(x->dport, y->dport);
		cr_assert_eq(x->tos, y->tos);
		cr_assert_eq(x->ttl, y->ttl);
		cr_assert_eq(x->payload_len, y->payload_len);
		if (x->payload_len)
			cr_assert_arr_eq(x->payload, y->payload, x->payload_len);
	}
	pcap_free(&a);
	pcap_free(&b);
}

Test(pcap, bad_files)
{
	struct pcap_file pf;
	char path[] = "/tmp/test_wire_pcap_XXXXXX";
	static const uint8_t junk[24] = { 1, 2, 3, 4 };
	int fd;

	cr_assert_eq(pcap_load(DATA_DIR "no-such-file.pcap", &pf), -1);
	fd = mkstemp(path);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	close(fd);
	cr_assert_eq(pcap_load(path, &pf), -1, "bad magic");
	unlink(path);
}

/* ---- RFC 6038 / RFC 7750 extensions ---------------------------------- */

Test(extensions, request_and_accept_fields_at_their_offsets)
{
	struct wire_request rq = { .ipvn = 4, .octets_reflect = 0xa1b2, .pad_reflect = 0x0c0d };
	struct wire_accept_session as = { .reflected_octets = 0x1234, .server_octets = 0xbeef };
	struct wire_request rq2;
	struct wire_accept_session as2;
	uint8_t buf[WIRE_REQUEST_LEN];

	wire_encode_request(buf, &rq);
	cr_assert(buf[88] == 0xa1 && buf[89] == 0xb2 && buf[90] == 0x0c && buf[91] == 0x0d);
	cr_assert(all_zero(buf + 92, 4));
	cr_assert_eq(wire_decode_request(buf, sizeof(buf), &rq2), 0);
	cr_assert_eq(rq2.octets_reflect, 0xa1b2);
	cr_assert_eq(rq2.pad_reflect, 0x0c0d);
	wire_encode_accept_session(buf, &as);
	cr_assert(buf[20] == 0x12 && buf[21] == 0x34 && buf[22] == 0xbe && buf[23] == 0xef);
	cr_assert(all_zero(buf + 24, 8));
	cr_assert_eq(wire_decode_accept_session(buf, WIRE_ACCEPT_SESSION_LEN, &as2), 0);
	cr_assert_eq(as2.reflected_octets, 0x1234);
	cr_assert_eq(as2.server_octets, 0xbeef);
}

Test(extensions, layouts)
{
	struct wire_test_layout l;

	wire_test_layout(false, 0, &l);
	cr_assert(l.snd_hdr == 14 && l.refl_hdr == 41 && l.tos_off == 0);
	wire_test_layout(false, WIRE_MODE_DSCP_ECN, &l);
	cr_assert(l.snd_hdr == 14 && l.refl_hdr == 42 && l.tos_off == 41);
	wire_test_layout(false, WIRE_MODE_SYMMETRICAL, &l);
	cr_assert(l.snd_hdr == 41 && l.refl_hdr == 41);
	wire_test_layout(false, WIRE_MODE_SYMMETRICAL | WIRE_MODE_DSCP_ECN, &l);
	cr_assert(l.snd_hdr == 42 && l.refl_hdr == 42 && l.tos_off == 41);
	wire_test_layout(true, WIRE_MODE_DSCP_ECN | WIRE_MODE_SYMMETRICAL, &l);
	cr_assert(l.snd_hdr == 48 && l.refl_hdr == 112 && l.tos_off == 81);
}

/* In place: padding to reflect moves first, then the header, then the DS octet. */
Test(extensions, reflect_prepare_open)
{
	uint8_t buf[80], orig[80];
	struct wire_test_reflect m = { .seq = 7, .ext = WIRE_MODE_REFLECT_OCTETS | WIRE_MODE_DSCP_ECN,
				       .sender_tos = 0xb9, .pad_reflect = 10, .sender_ttl = 64 };

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i + 1);
	memcpy(orig, buf, sizeof(buf));
	cr_assert_eq(wire_reflect_prepare(buf, 60, WIRE_TEST_OPEN, &m), 42u);
	cr_assert_arr_eq(buf + 24, orig, 14, "sender fields echoed");
	cr_assert_eq(buf[40], 64);
	cr_assert_eq(buf[41], 0xb9);
	cr_assert_arr_eq(buf + 42, orig + 14, 10, "first 10 octets of the sender's padding");
	cr_assert_arr_eq(buf + 60, orig + 60, 20, "nothing past len touched");

	/* 41 octets cannot carry the DS octet: refused, untouched */
	memcpy(buf, orig, sizeof(buf));
	cr_assert_eq(wire_reflect_prepare(buf, 41, WIRE_TEST_OPEN, &m), 0u);
	cr_assert_arr_eq(buf, orig, sizeof(buf));

	/* more padding asked for than fits: only what fits, never beyond len */
	m.pad_reflect = 200;
	cr_assert_eq(wire_reflect_prepare(buf, 50, WIRE_TEST_OPEN, &m), 42u);
	cr_assert_arr_eq(buf + 42, orig + 14, 8);
	cr_assert_arr_eq(buf + 50, orig + 50, 30);

	/* symmetrical: the padding is already in place */
	memcpy(buf, orig, sizeof(buf));
	m.ext = WIRE_MODE_REFLECT_OCTETS | WIRE_MODE_SYMMETRICAL | WIRE_MODE_DSCP_ECN;
	m.pad_reflect = 10;
	cr_assert_eq(wire_reflect_prepare(buf, 60, WIRE_TEST_OPEN, &m), 42u);
	cr_assert_arr_eq(buf + 42, orig + 42, 18);
}

Test(extensions, reflect_prepare_auth)
{
	uint8_t buf[160], orig[160];
	struct wire_test_reflect m = { .ext = WIRE_MODE_REFLECT_OCTETS | WIRE_MODE_DSCP_ECN,
				       .sender_tos = 0x2e, .pad_reflect = 16 };

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	memcpy(orig, buf, sizeof(buf));
	cr_assert_eq(wire_reflect_prepare_auth(buf, 140, &m), 112u);
	cr_assert_eq(buf[81], 0x2e);
	cr_assert(all_zero(buf + 82, 14));
	cr_assert_arr_eq(buf + 112, orig + 48, 16);
	cr_assert_arr_eq(buf + 128, orig + 128, 32);
	cr_assert_arr_eq(buf + 48, orig, 4, "sender sequence number echoed");
}

Test(extensions, n_sessions_messages)
{
	struct wire_n_sessions m = { .cmd = WIRE_CMD_STOP_N_ACK, .accept = 3, .n = 2 }, d;
	uint8_t buf[wire_n_sessions_len(WIRE_N_MAX) + 16];

	memset(m.sids[0], 0x11, 16);
	memset(m.sids[1], 0x22, 16);
	memset(m.hmac, 0x99, 16);
	cr_assert_eq(wire_encode_n_sessions(buf, sizeof(buf), &m), 64u);
	cr_assert(buf[0] == 10 && buf[1] == 3 && all_zero(buf + 2, 10));
	cr_assert(buf[12] == 0 && buf[15] == 2);
	cr_assert_eq(buf[16], 0x11);
	cr_assert_eq(buf[32], 0x22);
	cr_assert_eq(buf[48], 0x99);
	cr_assert_eq(wire_n_sessions_msg_len(buf, 16), 64u);
	cr_assert_eq(wire_n_sessions_msg_len(buf, 1), 0u, "more sessions than allowed");
	cr_assert_eq(wire_decode_n_sessions(buf, 64, &d), 0);
	cr_assert(d.cmd == 10 && d.accept == 3 && d.n == 2);
	cr_assert_arr_eq(d.sids, m.sids, 32);
	cr_assert_arr_eq(d.hmac, m.hmac, 16);
	cr_assert_eq(wire_decode_n_sessions(buf, 63, &d), -1);
	cr_assert_eq(wire_decode_n_sessions(buf, 80, &d), -1);
	/* the commands carry no Accept */
	m.cmd = WIRE_CMD_START_N_SESSIONS;
	wire_encode_n_sessions(buf, sizeof(buf), &m);
	cr_assert_eq(buf[1], 0);
	m.n = 0;
	cr_assert_eq(wire_encode_n_sessions(buf, sizeof(buf), &m), 0u);
	m.n = WIRE_N_MAX + 1;
	cr_assert_eq(wire_encode_n_sessions(buf, sizeof(buf), &m), 0u);
	memset(buf + 12, 0, 4);
	cr_assert_eq(wire_n_sessions_msg_len(buf, 16), 0u, "zero sessions");
	buf[0] = 6;
	cr_assert_eq(wire_decode_n_sessions(buf, 32, &d), -1);
	cr_assert_eq(wire_command_len(WIRE_CMD_START_N_SESSIONS), 16u);
	cr_assert_eq(wire_command_len(WIRE_CMD_START_N_ACK), 0u, "a server never reads an ack");
}
