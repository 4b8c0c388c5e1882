/*
 * fuzz_wire_test: the TWAMP-Test and STAMP packet decoders of src/wire.c,
 * every format: unauthenticated sender (14-octet header) and reflector (41,
 * and twampy's 38), STAMP sender and reflector (44), and the plaintext of
 * the authenticated/encrypted layouts (sender 48, reflector 112).
 *
 * Every decoder runs on an exact-size heap copy of the input.  What decodes
 * must encode and decode again to the same values.  A packet a reflector
 * would answer is turned into its reflection in place (wire_reflect_prepare
 * and its _auth twin, then the T3 stamp), and the reflection must decode
 * with the sender's sequence number, error estimate and timestamp (the
 * latter within 1 ns: wire.c's header says why not bit for bit).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "wire.h"

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_wire_test: %s\n", what);
	abort();
}

static bool same_reflect(const struct wire_test_reflect *a, const struct wire_test_reflect *b)
{
	return a->seq == b->seq && a->ts == b->ts && a->errest == b->errest && a->ssid == b->ssid &&
	       a->rx_ts == b->rx_ts && a->sender_seq == b->sender_seq &&
	       a->sender_ts == b->sender_ts && a->sender_errest == b->sender_errest &&
	       a->ttl_known == b->ttl_known && (!a->ttl_known || a->sender_ttl == b->sender_ttl);
}

static bool same_sender(const struct wire_test_sender *a, const struct wire_test_sender *b)
{
	return a->seq == b->seq && a->ts == b->ts && a->errest == b->errest && a->ssid == b->ssid;
}

static void sender(const uint8_t *buf, size_t len, enum wire_test_fmt fmt, bool auth)
{
	struct wire_test_sender m, m2;
	struct wire_test_reflect r, back;
	uint8_t out[WIRE_TEST_AUTH_REFLECT_LEN];
	uint8_t *pkt;
	size_t hl;
	int rc;

	rc = auth ? wire_decode_test_sender_auth(buf, len, &m) : wire_decode_test_sender(buf, len, fmt, &m);
	if (rc < 0)
		return;
	if (len < (auth ? WIRE_TEST_AUTH_SENDER_LEN : fmt == WIRE_TEST_STAMP ? WIRE_STAMP_LEN : WIRE_TEST_SENDER_LEN))
		fail("a short sender packet decoded");
	hl = auth ? wire_encode_test_sender_auth(out, sizeof(out), &m)
		  : wire_encode_test_sender(out, sizeof(out), fmt, &m);
	rc = auth ? wire_decode_test_sender_auth(out, hl, &m2) : wire_decode_test_sender(out, hl, fmt, &m2);
	if (!hl || rc < 0 || !same_sender(&m, &m2))
		fail("a sender packet does not survive encode/decode");

	/* the reflector's in-place path */
	pkt = malloc(len);
	if (!pkt)
		return;
	memcpy(pkt, buf, len);
	memset(&r, 0, sizeof(r));
	r.seq = 7;
	r.errest = 0x8001;
	r.ssid = fmt == WIRE_TEST_STAMP ? m.ssid : 0;
	r.rx_ts = 1800000000123456789LL;
	r.sender_ttl = 64;
	hl = auth ? wire_reflect_prepare_auth(pkt, len, &r) : wire_reflect_prepare(pkt, len, fmt, &r);
	if (hl) {
		if (auth)
			wire_reflect_stamp_auth(pkt, r.rx_ts + 1000);
		else
			wire_reflect_stamp(pkt, r.rx_ts + 1000);
		rc = auth ? wire_decode_test_reflect_auth(pkt, len, &back)
			  : wire_decode_test_reflect(pkt, len, fmt, &back);
		if (rc < 0)
			fail("a prepared reflection does not decode");
		if (back.sender_seq != m.seq || back.sender_errest != m.errest ||
		    back.sender_ts - m.ts > 1 || m.ts - back.sender_ts > 1 || back.seq != r.seq ||
		    back.rx_ts != r.rx_ts || back.ts != r.rx_ts + 1000 || back.sender_ttl != 64 ||
		    (fmt == WIRE_TEST_STAMP && !auth && back.ssid != m.ssid))
			fail("a reflection does not echo its sender packet");
	}
	free(pkt);
}

static void reflect(const uint8_t *buf, size_t len, enum wire_test_fmt fmt, bool auth)
{
	struct wire_test_reflect m, m2;
	uint8_t out[WIRE_TEST_AUTH_REFLECT_LEN];
	size_t hl;
	int rc;

	memset(&m, 0, sizeof(m));
	memset(&m2, 0, sizeof(m2));
	rc = auth ? wire_decode_test_reflect_auth(buf, len, &m) : wire_decode_test_reflect(buf, len, fmt, &m);
	if (rc < 0)
		return;
	if (!auth && fmt == WIRE_TEST_OPEN && len == WIRE_TEST_REFLECT_SHORT_LEN) {
		if (m.ttl_known)
			fail("a 38-octet reflection claims a TTL");
		return; /* nothing encodes the short form */
	}
	hl = auth ? wire_encode_test_reflect_auth(out, sizeof(out), &m)
		  : wire_encode_test_reflect(out, sizeof(out), fmt, &m);
	rc = auth ? wire_decode_test_reflect_auth(out, hl, &m2) : wire_decode_test_reflect(out, hl, fmt, &m2);
	if (!hl || rc < 0 || !same_reflect(&m, &m2))
		fail("a reflection does not survive encode/decode");
}

/*
 * RFC 6038 / 7750 reflections: extension bits and the padding to reflect come
 * from the first octets.  The reflection keeps its length, carries the DS
 * octet where the layout says, and starts its padding with the sender's.
 */
static void extensions(const uint8_t *buf, size_t len, bool auth)
{
	struct wire_test_reflect r = { .seq = 1, .sender_ttl = 9, .sender_tos = 0xb9 };
	struct wire_test_layout l;
	uint8_t *pkt;
	size_t hl, n;

	if (len < 3)
		return;
	r.ext = (buf[0] & 1 ? WIRE_MODE_REFLECT_OCTETS : 0) | (buf[0] & 2 ? WIRE_MODE_SYMMETRICAL : 0) |
		(buf[0] & 4 ? WIRE_MODE_DSCP_ECN : 0);
	r.pad_reflect = (uint16_t)(buf[1] << 8 | buf[2]);
	wire_test_layout(auth, r.ext, &l);
	pkt = malloc(len);
	if (!pkt)
		return;
	memcpy(pkt, buf, len);
	hl = auth ? wire_reflect_prepare_auth(pkt, len, &r) : wire_reflect_prepare(pkt, len, WIRE_TEST_OPEN, &r);
	if (!hl) {
		if (len >= l.refl_hdr)
			fail("a long enough packet was not reflected");
		if (memcmp(pkt, buf, len))
			fail("a refused reflection changed the packet");
	} else {
		if (hl != l.refl_hdr || len < hl)
			fail("a reflection header of the wrong length");
		if (l.tos_off && pkt[l.tos_off] != 0xb9)
			fail("the DS octet is not where the layout says");
		n = r.ext & WIRE_MODE_REFLECT_OCTETS ? r.pad_reflect : 0;
		if (n > len - l.refl_hdr)
			n = len - l.refl_hdr;
		if (l.snd_hdr != l.refl_hdr && memcmp(pkt + l.refl_hdr, buf + l.snd_hdr, n))
			fail("the reflected padding is not the sender's");
		if (n < len - l.refl_hdr && memcmp(pkt + l.refl_hdr + n, buf + l.refl_hdr + n, len - l.refl_hdr - n))
			fail("octets past the reflected padding changed");
	}
	free(pkt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	if (size > WIRE_TEST_MAX_LEN)
		return 0;
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	for (int fmt = WIRE_TEST_OPEN; fmt <= WIRE_TEST_STAMP; fmt++) {
		sender(copy, size, (enum wire_test_fmt)fmt, false);
		reflect(copy, size, (enum wire_test_fmt)fmt, false);
	}
	sender(copy, size, WIRE_TEST_OPEN, true);
	reflect(copy, size, WIRE_TEST_OPEN, true);
	extensions(copy, size, false);
	extensions(copy, size, true);
	free(copy);
	return 0;
}
