/*
 * Tests for seqmap.c, the reflector's per-sender Sequence Numbers in stateful
 * mode: hand-made cases (each sender from 0, aging, eviction of the longest
 * idle sender), then random operations against a slow reference model (a
 * plain array searched linearly, the victim found by scanning for the oldest
 * last use).
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <string.h>

#include "ntptime.h"
#include "seqmap.h"
#include "util/testrng.h"

#define IDLE (10 * NS_PER_SEC)

static void addr4(uint8_t a[16], uint32_t v4)
{
	memset(a, 0, 10);
	a[10] = a[11] = 0xff;
	a[12] = (uint8_t)(v4 >> 24);
	a[13] = (uint8_t)(v4 >> 16);
	a[14] = (uint8_t)(v4 >> 8);
	a[15] = (uint8_t)v4;
}

Test(seqmap, each_sender_counts_from_zero)
{
	struct seqmap *m = seqmap_new(16, IDLE, 42);
	uint8_t a[16], b[16];
	struct seqmap_stats s;

	cr_assert_not_null(m);
	addr4(a, 0x0a000001);
	addr4(b, 0x0a000002);
	for (uint32_t i = 0; i < 5; i++) {
		/* interleaved: address, port and SSID each make a sender of its own */
		cr_assert_eq(seqmap_next(m, a, 5000, 0, i), i);
		cr_assert_eq(seqmap_next(m, b, 5000, 0, i), i);
		cr_assert_eq(seqmap_next(m, a, 5001, 0, i), i);
		cr_assert_eq(seqmap_next(m, a, 5000, 7, i), i);
	}
	seqmap_stats(m, &s);
	cr_assert_eq(s.used, 4);
	cr_assert_eq(s.cap, 16);
	cr_assert_eq(s.evicted, 0);
	cr_assert_eq(s.aged, 0);
	seqmap_free(m);
}

Test(seqmap, idle_sender_starts_again)
{
	struct seqmap *m = seqmap_new(4, IDLE, 1);
	uint8_t a[16];
	struct seqmap_stats s;

	addr4(a, 0xc0000201);
	cr_assert_eq(seqmap_next(m, a, 1, 2, 0), 0);
	cr_assert_eq(seqmap_next(m, a, 1, 2, IDLE), 1, "idle exactly IDLE: still the same sender");
	cr_assert_eq(seqmap_next(m, a, 1, 2, 2 * IDLE + 1), 0, "idle past IDLE: a new sender");
	cr_assert_eq(seqmap_next(m, a, 1, 2, 2 * IDLE + 2), 1);
	seqmap_stats(m, &s);
	cr_assert_eq(s.aged, 1);
	cr_assert_eq(s.used, 1);
	seqmap_free(m);
}

Test(seqmap, full_table_evicts_the_longest_idle)
{
	struct seqmap *m = seqmap_new(3, IDLE, 7);
	uint8_t a[16];
	struct seqmap_stats s;

	addr4(a, 0x7f000001);
	for (uint16_t p = 1; p <= 3; p++)
		cr_assert_eq(seqmap_next(m, a, p, 0, p), 0);
	cr_assert_eq(seqmap_next(m, a, 1, 0, 10), 1); /* port 1 used again: port 2 is the longest idle */
	cr_assert_eq(seqmap_next(m, a, 4, 0, 11), 0); /* evicts port 2 */
	seqmap_stats(m, &s);
	cr_assert_eq(s.evicted, 1);
	cr_assert_eq(s.used, 3);
	cr_assert_eq(seqmap_next(m, a, 1, 0, 12), 2, "port 1 kept its counter");
	cr_assert_eq(seqmap_next(m, a, 3, 0, 13), 1, "port 3 kept its counter");
	cr_assert_eq(seqmap_next(m, a, 2, 0, 14), 0, "port 2 was evicted: it starts again");
	/* that evicted port 4 (the longest idle now); an idle one pushed out is aged, not evicted */
	cr_assert_eq(seqmap_next(m, a, 9, 0, 14 + 2 * IDLE), 0);
	seqmap_stats(m, &s);
	cr_assert_eq(s.evicted, 2);
	cr_assert_eq(s.aged, 1);
	seqmap_free(m);
}

Test(seqmap, bad_sizes)
{
	cr_assert_null(seqmap_new(0, IDLE, 0));
	cr_assert_null(seqmap_new(1u << 30, IDLE, 0));
	seqmap_free(NULL);
}

/* ---- against a reference model ----------------------------------------- */

struct ref_entry {
	int used;
	uint8_t addr[16];
	uint16_t port, ssid;
	uint32_t seq;
	int64_t last;
};

static uint32_t ref_next(struct ref_entry *t, unsigned cap, const uint8_t *addr, uint16_t port,
			 uint16_t ssid, int64_t now, uint64_t *evicted, uint64_t *aged)
{
	unsigned victim = 0;

	for (unsigned i = 0; i < cap; i++) {
		if (t[i].used && t[i].port == port && t[i].ssid == ssid && !memcmp(t[i].addr, addr, 16)) {
			if (now - t[i].last > IDLE) {
				(*aged)++;
				t[i].seq = 0;
			}
			t[i].last = now;
			return t[i].seq++;
		}
	}
	for (unsigned i = 0; i < cap; i++) {
		if (!t[i].used) {
			victim = i;
			goto fill;
		}
		if (t[i].last < t[victim].last)
			victim = i;
	}
	if (now - t[victim].last > IDLE)
		(*aged)++;
	else
		(*evicted)++;
fill:
	t[victim].used = 1;
	memcpy(t[victim].addr, addr, 16);
	t[victim].port = port;
	t[victim].ssid = ssid;
	t[victim].seq = 1;
	t[victim].last = now;
	return 0;
}

Test(seqmap, random_against_reference)
{
	static const unsigned caps[] = { 1, 2, 7, 64 };
	struct rng r = { 20261202 };

	for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
		unsigned cap = caps[c];
		struct seqmap *m = seqmap_new(cap, IDLE, rnd(&r));
		struct ref_entry *t = calloc(cap, sizeof(*t));
		uint64_t ev = 0, ag = 0;
		int64_t now = 0;
		struct seqmap_stats s;

		cr_assert_not_null(m);
		for (int op = 0; op < 20000; op++) {
			uint8_t a[16];
			/* a key space a little larger than the table, so it fills and evicts */
			unsigned k = (unsigned)(rnd(&r) % (cap + 3));
			uint32_t got, want;

			addr4(a, 0x0a000000 + k % 5);
			/* strictly increasing times: the longest idle entry is unique */
			now += 1 + (int64_t)(rnd(&r) % (rnd(&r) % 500 ? 10 * NS_PER_MS : 3 * IDLE));
			got = seqmap_next(m, a, (uint16_t)(k / 5), (uint16_t)(k & 1), now);
			want = ref_next(t, cap, a, (uint16_t)(k / 5), (uint16_t)(k & 1), now, &ev, &ag);
			cr_assert_eq(got, want, "cap %u op %d key %u: %u, reference %u", cap, op, k, got, want);
		}
		seqmap_stats(m, &s);
		cr_assert_eq(s.evicted, ev, "cap %u: evicted %llu, reference %llu", cap,
			     (unsigned long long)s.evicted, (unsigned long long)ev);
		cr_assert_eq(s.aged, ag);
		cr_assert_gt(ev, 0, "cap %u: the table never filled", cap);
		cr_assert_gt(ag, 0, "cap %u: no sender ever aged", cap);
		free(t);
		seqmap_free(m);
	}
}
