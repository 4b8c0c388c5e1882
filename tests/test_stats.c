/*
 * Tests for stats.c: hand-made sessions whose figures can be checked by eye,
 * then many random sessions checked against a slow reference model written
 * here from the definitions in stats.h (brute-force classification, qsort,
 * percentile by counting ranks).
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ntptime.h"
#include "stats.h"

#define MS NS_PER_MS
#define T0 (1795766684LL * NS_PER_SEC) /* 2026-11-27T08:04:44Z */
#define TIMEOUT (2 * NS_PER_SEC)
#define ERR1 0x0001 /* unsynced, 2^-32 s, as twampd sends */
#define ERRS 0x8001 /* the same, synced */

static struct stats st;

static void setup_st(uint32_t n)
{
	cr_assert_eq(stats_init(&st, n, TIMEOUT), 0);
}

static void teardown_st(void)
{
	stats_free(&st);
}

static struct stats_reflection refl(uint32_t seq, uint32_t rseq, int64_t t1, int64_t fwd,
				    int64_t proc, int64_t bck, uint16_t err)
{
	struct stats_reflection r = {
		.sender_seq = seq,
		.rseq = rseq,
		.t2 = t1 + fwd,
		.t3 = t1 + fwd + proc,
		.t4 = t1 + fwd + proc + bck,
		.err2 = err,
		.err3 = err,
		.err4 = err,
		.ttl_fwd = 255,
		.ttl_bck = 64,
	};
	return r;
}

/* Send seq at T0 + seq * 100 ms, then reflect it with the given delays. */
static enum stats_rx_result send_reflect(uint32_t seq, uint32_t rseq, int64_t fwd, int64_t proc,
					 int64_t bck, uint16_t err)
{
	int64_t t1 = T0 + (int64_t)seq * 100 * MS;
	struct stats_reflection r = refl(seq, rseq, t1, fwd, proc, bck, err);

	stats_sent(&st, seq, t1, err);
	return stats_reflected(&st, &r);
}

static struct stats_summary summarize(void)
{
	struct stats_summary s;

	cr_assert_eq(stats_summarize(&st, &s), 0);
	return s;
}

/* ---------------------------------------------------------------- by hand */

TestSuite(stats, .fini = teardown_st);

Test(stats, no_loss)
{
	/* fwd 1..10 ms, proc 1 ms, bck 2 ms for every packet */
	static const int64_t fwd[10] = { 5, 1, 9, 3, 7, 2, 10, 4, 8, 6 };
	struct stats_summary s;
	uint32_t i;

	setup_st(10);
	for (i = 0; i < 10; i++)
		cr_assert_eq(send_reflect(i, i, fwd[i] * MS, 1 * MS, 2 * MS, ERR1), STATS_RX_OK);
	s = summarize();

	cr_assert_eq(s.sent, 10);
	cr_assert_eq(s.received, 10);
	cr_assert_eq(s.lost, 0);
	cr_assert_eq(s.loss_ratio, 0.0);
	cr_assert_eq(s.dups_fwd + s.dups_bck + s.reordered + s.unknown_seq, 0);

	cr_assert(s.fwd.valid);
	cr_assert_eq(s.fwd.n, 10);
	cr_assert_eq(s.fwd.min, 1 * MS);
	cr_assert_eq(s.fwd.max, 10 * MS);
	cr_assert_eq(s.fwd.median, 5 * MS);  /* lower middle of an even count */
	cr_assert_eq(s.fwd.p90, 9 * MS);
	cr_assert_eq(s.fwd.p95, 10 * MS);
	cr_assert_eq(s.fwd.p99, 10 * MS);
	cr_assert_eq(s.fwd.pdv, 5 * MS);
	cr_assert_float_eq(s.fwd.mean, 5.5 * MS, 1e-3);

	cr_assert_eq(s.bck.min, 2 * MS);
	cr_assert_eq(s.bck.max, 2 * MS);
	cr_assert_eq(s.bck.pdv, 0);
	cr_assert_eq(s.bck.jitter, 0.0);

	cr_assert_eq(s.rtt.min, 3 * MS);
	cr_assert_eq(s.rtt.max, 12 * MS);
	cr_assert_eq(s.rtt.median, 7 * MS);

	cr_assert(s.proc_valid);
	cr_assert_eq(s.proc_min, 1 * MS);
	cr_assert_eq(s.proc_max, 1 * MS);

	cr_assert_eq(s.first_send, T0);
	cr_assert_eq(s.last_send, T0 + 900 * MS);
	cr_assert_not(s.sync);
}

Test(stats, jitter_rfc3550_in_send_order)
{
	/* fwd delays in seq order 10, 20, 10, 40 ms: |D| = 10, 10, 30 ms */
	static const int64_t fwd[4] = { 10, 20, 10, 40 };
	struct stats_reflection r[4];
	struct stats_summary s;
	double j = 0;
	int i;

	setup_st(4);
	for (i = 0; i < 4; i++) {
		int64_t t1 = T0 + i * 100 * MS;

		stats_sent(&st, i, t1, ERR1);
		r[i] = refl(i, i, t1, fwd[i] * MS, 0, 5 * MS, ERR1);
	}
	/* arrival order must not matter */
	cr_assert_eq(stats_reflected(&st, &r[3]), STATS_RX_OK);
	cr_assert_eq(stats_reflected(&st, &r[0]), STATS_RX_OK);
	cr_assert_eq(stats_reflected(&st, &r[2]), STATS_RX_OK);
	cr_assert_eq(stats_reflected(&st, &r[1]), STATS_RX_OK);
	s = summarize();

	j += (10.0 * MS - j) / 16;
	j += (10.0 * MS - j) / 16;
	j += (30.0 * MS - j) / 16;
	cr_assert_float_eq(s.fwd.jitter, j, 1e-6);
	cr_assert_float_eq(s.rtt.jitter, j, 1e-6);
	cr_assert_eq(s.bck.jitter, 0.0);
	cr_assert_eq(s.reordered, 3); /* 0, 2 and 1 all after 3 */
}

Test(stats, loss)
{
	struct stats_summary s;
	uint32_t i;

	setup_st(8);
	for (i = 0; i < 8; i++) {
		if (i % 4 == 1) /* 1 and 5 never come back */
			stats_sent(&st, i, T0 + i * 100 * MS, ERR1);
		else
			cr_assert_eq(send_reflect(i, i, MS, MS, MS, ERR1), STATS_RX_OK);
	}
	s = summarize();
	cr_assert_eq(s.sent, 8);
	cr_assert_eq(s.received, 6);
	cr_assert_eq(s.lost, 2);
	cr_assert_float_eq(s.loss_ratio, 0.25, 1e-12);
	cr_assert_eq(s.rtt.n, 6);
	cr_assert_eq(s.last_send, T0 + 700 * MS);
}

Test(stats, late_reflection_is_lost)
{
	struct stats_reflection r;
	struct stats_summary s;

	setup_st(3);
	cr_assert_eq(send_reflect(0, 0, MS, 0, MS, ERR1), STATS_RX_OK);
	/* exactly the timeout: still in time */
	cr_assert_eq(send_reflect(1, 1, TIMEOUT / 2, 0, TIMEOUT / 2, ERR1), STATS_RX_OK);
	/* one ns over */
	cr_assert_eq(send_reflect(2, 2, TIMEOUT / 2, 1, TIMEOUT / 2, ERR1), STATS_RX_LATE);
	/* the same late reflection again is a duplicate, not a fresh arrival */
	r = refl(2, 2, T0 + 200 * MS, TIMEOUT / 2, 1, MS, ERR1);
	cr_assert_eq(stats_reflected(&st, &r), STATS_RX_DUP_BCK);
	r.rseq = 7;
	cr_assert_eq(stats_reflected(&st, &r), STATS_RX_DUP_FWD);

	s = summarize();
	cr_assert_eq(s.sent, 3);
	cr_assert_eq(s.received, 2);
	cr_assert_eq(s.lost, 1);
	cr_assert_eq(s.dups_bck, 1);
	cr_assert_eq(s.dups_fwd, 1);
	cr_assert_eq(s.rtt.n, 2);
	cr_assert_eq(s.rtt.max, TIMEOUT);
}

Test(stats, dup_fwd_vs_dup_bck)
{
	struct stats_reflection r;
	struct stats_summary s;

	setup_st(2);
	cr_assert_eq(send_reflect(0, 10, MS, MS, MS, ERR1), STATS_RX_OK);
	r = refl(0, 10, T0, MS, MS, 3 * MS, ERR1);
	cr_assert_eq(stats_reflected(&st, &r), STATS_RX_DUP_BCK);  /* the same reflection, later */
	r.rseq = 11;
	cr_assert_eq(stats_reflected(&st, &r), STATS_RX_DUP_FWD);  /* reflected twice */
	cr_assert_eq(stats_reflected(&st, &r), STATS_RX_DUP_FWD);  /* still not the first */
	cr_assert_eq(send_reflect(1, 12, MS, MS, MS, ERR1), STATS_RX_OK);

	s = summarize();
	cr_assert_eq(s.received, 2);
	cr_assert_eq(s.lost, 0);
	cr_assert_eq(s.dups_bck, 1);
	cr_assert_eq(s.dups_fwd, 2);
	/* the duplicates' delays do not enter the figures */
	cr_assert_eq(s.fwd.max, MS);
}

/*
 * A stateless reflector (RFC 8762 section 4.3.1) copies our Sequence Number,
 * so both duplicates carry the same one: T2 tells them apart.
 */
Test(stats, dup_fwd_vs_dup_bck_stateless_reflector)
{
	struct stats_reflection r;
	struct stats_summary s;

	setup_st(1);
	cr_assert_eq(send_reflect(0, 0, MS, MS, MS, ERR1), STATS_RX_OK);
	r = refl(0, 0, T0, 2 * MS, MS, MS, ERR1);  /* reflected again, received later */
	cr_assert_eq(stats_reflected(&st, &r), STATS_RX_DUP_FWD);
	r = refl(0, 0, T0, MS, MS, 5 * MS, ERR1);  /* the first reflection, copied */
	cr_assert_eq(stats_reflected(&st, &r), STATS_RX_DUP_BCK);
	r = refl(0, 0, T0, MS, 2 * MS, 4 * MS, ERR1);  /* sent twice by the reflector: T3 stamped again */
	cr_assert_eq(stats_reflected(&st, &r), STATS_RX_DUP_BCK);

	s = summarize();
	cr_assert_eq(s.dups_fwd, 1);
	cr_assert_eq(s.dups_bck, 2);
	cr_assert_eq(s.fwd.max, MS);
}

Test(stats, unknown_seq)
{
	struct stats_reflection r = refl(5, 0, T0, MS, MS, MS, ERR1);
	struct stats_summary s;

	setup_st(4);
	cr_assert_eq(stats_reflected(&st, &r), STATS_RX_UNKNOWN);  /* out of range */
	r.sender_seq = 2;
	cr_assert_eq(stats_reflected(&st, &r), STATS_RX_UNKNOWN);  /* never sent */
	r.sender_seq = UINT32_MAX;
	cr_assert_eq(stats_reflected(&st, &r), STATS_RX_UNKNOWN);
	stats_sent(&st, 2, T0, ERR1);
	r.sender_seq = 2;
	cr_assert_eq(stats_reflected(&st, &r), STATS_RX_OK);
	stats_sent(&st, 4, T0, ERR1);  /* out of range: ignored */

	s = summarize();
	cr_assert_eq(s.unknown_seq, 3);
	cr_assert_eq(s.sent, 1);
	cr_assert_eq(s.received, 1);
	cr_assert_eq(s.dups_fwd + s.dups_bck, 0);
}

Test(stats, repeated_send_ignored)
{
	struct stats_summary s;

	setup_st(2);
	stats_sent(&st, 0, T0, ERR1);
	stats_sent(&st, 0, T0 + 5 * MS, ERRS);
	s = summarize();
	cr_assert_eq(s.sent, 1);
	cr_assert_eq(s.first_send, T0);
	cr_assert_eq(s.last_send, T0);
	cr_assert_eq(st.pkt[0].err1, ERR1);
}

Test(stats, reordering)
{
	static const uint32_t order[] = { 0, 2, 1, 3, 6, 4, 5, 7 };
	struct stats_reflection r[8];
	struct stats_summary s;
	uint32_t i;

	setup_st(8);
	for (i = 0; i < 8; i++) {
		stats_sent(&st, i, T0 + i * 100 * MS, ERR1);
		r[i] = refl(i, i, T0 + i * 100 * MS, MS, MS, MS, ERR1);
	}
	for (i = 0; i < 8; i++)
		cr_assert_eq(stats_reflected(&st, &r[order[i]]), STATS_RX_OK);
	/* a duplicate of an old one is a duplicate, not a reordering */
	cr_assert_eq(stats_reflected(&st, &r[0]), STATS_RX_DUP_BCK);
	s = summarize();
	cr_assert_eq(s.reordered, 3);  /* 1 after 2, 4 and 5 after 6 */
	cr_assert_eq(st.max_seq_rx, 7);
}

Test(stats, late_not_reordered)
{
	struct stats_summary s;

	setup_st(3);
	stats_sent(&st, 0, T0, ERR1);
	cr_assert_eq(send_reflect(1, 0, MS, MS, MS, ERR1), STATS_RX_OK);
	cr_assert_eq(send_reflect(2, 1, MS, MS, MS, ERR1), STATS_RX_OK);
	{
		struct stats_reflection r = refl(0, 2, T0, TIMEOUT, 0, MS, ERR1);

		cr_assert_eq(stats_reflected(&st, &r), STATS_RX_LATE);
	}
	s = summarize();
	cr_assert_eq(s.reordered, 0);
	cr_assert_eq(s.lost, 1);
	cr_assert_eq(s.first_send, T0);
	cr_assert_eq(s.last_send, T0 + 200 * MS);
}

Test(stats, ttl_min_max)
{
	static const int ttl_fwd[5] = { 250, -1, 255, 251, 300 };
	static const int ttl_bck[5] = { -1, 60, 64, 62, -1 };
	struct stats_summary s;
	uint32_t i;

	setup_st(6);
	for (i = 0; i < 5; i++) {
		struct stats_reflection r = refl(i, i, T0, MS, MS, MS, ERR1);

		r.ttl_fwd = ttl_fwd[i];
		r.ttl_bck = ttl_bck[i];
		stats_sent(&st, i, T0, ERR1);
		cr_assert_eq(stats_reflected(&st, &r), STATS_RX_OK);
	}
	/* a late packet's TTLs do not count */
	{
		struct stats_reflection r = refl(5, 5, T0, TIMEOUT, MS, MS, ERR1);

		r.ttl_fwd = 1;
		r.ttl_bck = 1;
		stats_sent(&st, 5, T0, ERR1);
		cr_assert_eq(stats_reflected(&st, &r), STATS_RX_LATE);
	}
	s = summarize();
	cr_assert_eq(s.ttl_fwd_min, 250);
	cr_assert_eq(s.ttl_fwd_max, 255);  /* 300 is no TTL: unknown */
	cr_assert_eq(s.ttl_bck_min, 60);
	cr_assert_eq(s.ttl_bck_max, 64);
}

Test(stats, ttl_unknown)
{
	struct stats_reflection r = refl(0, 0, T0, MS, MS, MS, ERR1);
	struct stats_summary s;

	setup_st(1);
	r.ttl_fwd = -1;
	r.ttl_bck = -1;
	stats_sent(&st, 0, T0, ERR1);
	cr_assert_eq(stats_reflected(&st, &r), STATS_RX_OK);
	s = summarize();
	cr_assert_eq(s.ttl_fwd_min, -1);
	cr_assert_eq(s.ttl_fwd_max, -1);
	cr_assert_eq(s.ttl_bck_min, -1);
	cr_assert_eq(s.ttl_bck_max, -1);
}

Test(stats, sync_all_s_bits)
{
	struct stats_summary s;
	uint32_t i;

	setup_st(4);
	for (i = 0; i < 4; i++)
		cr_assert_eq(send_reflect(i, i, MS, MS, MS, ERRS), STATS_RX_OK);
	s = summarize();
	cr_assert(s.sync);
}

Test(stats, sync_false_when_one_s_bit_missing)
{
	int k;

	/* k = the timestamp (T1..T4) of packet 2 that lacks the S bit */
	for (k = 1; k <= 4; k++) {
		struct stats_summary s;
		uint32_t i;

		setup_st(4);
		for (i = 0; i < 4; i++) {
			int64_t t1 = T0 + i * 100 * MS;
			struct stats_reflection r = refl(i, i, t1, MS, MS, MS, ERRS);
			uint16_t e1 = ERRS;

			if (i == 2) {
				switch (k) {
				case 1: e1 = ERR1; break;
				case 2: r.err2 = ERR1; break;
				case 3: r.err3 = ERR1; break;
				default: r.err4 = ERR1; break;
				}
			}
			stats_sent(&st, i, t1, e1);
			cr_assert_eq(stats_reflected(&st, &r), STATS_RX_OK);
		}
		s = summarize();
		cr_assert_not(s.sync, "timestamp T%d of packet 2 unsynced", k);
		stats_free(&st);
	}
}

Test(stats, sync_ignores_lost_packets)
{
	struct stats_summary s;

	setup_st(2);
	cr_assert_eq(send_reflect(0, 0, MS, MS, MS, ERRS), STATS_RX_OK);
	stats_sent(&st, 1, T0 + 100 * MS, ERR1);  /* lost; its T1 is not used */
	s = summarize();
	cr_assert(s.sync);
}

Test(stats, maxerr_as_twping_prints)
{
	struct stats_summary s;
	uint32_t i;
	char buf[32];

	setup_st(10);
	for (i = 0; i < 10; i++)
		cr_assert_eq(send_reflect(i, i, MS, MS, MS, ERR1), STATS_RX_OK);
	s = summarize();
	cr_assert_eq(s.maxerr, ldexp(4, -32));
	cr_assert_eq(s.maxerr_fwd, ldexp(2, -32));
	cr_assert_eq(s.maxerr_bck, ldexp(2, -32));
	snprintf(buf, sizeof(buf), "%g", s.maxerr);
	cr_assert_str_eq(buf, "9.31323e-10");
	snprintf(buf, sizeof(buf), "%g", s.maxerr_fwd);
	cr_assert_str_eq(buf, "4.65661e-10");
	snprintf(buf, sizeof(buf), "%.3g", s.maxerr * 1e3);
	cr_assert_str_eq(buf, "9.31e-07");  /* the "(err=9.31e-07 ms)" line */
}

Test(stats, maxerr_is_max_of_sums)
{
	struct stats_summary s;
	struct stats_reflection r;

	setup_st(3);
	/* packet 0: T1 err 1 ms-ish, rest tiny; packet 1: T4 err large */
	stats_sent(&st, 0, T0, 0x0a80);   /* 128 * 2^(10-32) */
	r = refl(0, 0, T0, MS, MS, MS, 0x0001);
	cr_assert_eq(stats_reflected(&st, &r), STATS_RX_OK);
	stats_sent(&st, 1, T0, 0x0001);
	r = refl(1, 1, T0, MS, MS, MS, 0x0001);
	r.err4 = 0x0bff;                  /* 255 * 2^(11-32) */
	cr_assert_eq(stats_reflected(&st, &r), STATS_RX_OK);
	/* a lost packet with a huge error does not count */
	stats_sent(&st, 2, T0, 0x3fff);

	s = summarize();
	cr_assert_eq(s.maxerr, ldexp(255, 11 - 32) + ldexp(3, -32));
	cr_assert_eq(s.maxerr_fwd, ldexp(128, 10 - 32) + ldexp(1, -32));
	cr_assert_eq(s.maxerr_bck, ldexp(255, 11 - 32) + ldexp(1, -32));
}

Test(stats, empty_session)
{
	struct stats_summary s;

	setup_st(10);
	s = summarize();
	cr_assert_eq(s.sent, 0);
	cr_assert_eq(s.received, 0);
	cr_assert_eq(s.lost, 0);
	cr_assert_eq(s.loss_ratio, 0.0);
	cr_assert_not(s.rtt.valid);
	cr_assert_not(s.fwd.valid);
	cr_assert_not(s.bck.valid);
	cr_assert_eq(s.rtt.n, 0);
	cr_assert_not(s.proc_valid);
	cr_assert_eq(s.ttl_fwd_min, -1);
	cr_assert_eq(s.ttl_fwd_max, -1);
	cr_assert_eq(s.ttl_bck_min, -1);
	cr_assert_eq(s.ttl_bck_max, -1);
	cr_assert_not(s.sync);
	cr_assert_lt(s.maxerr, 0);
	cr_assert_lt(s.maxerr_fwd, 0);
	cr_assert_lt(s.maxerr_bck, 0);
	cr_assert_eq(s.first_send, 0);
	cr_assert_eq(s.last_send, 0);
}

Test(stats, all_lost)
{
	struct stats_summary s;
	uint32_t i;

	setup_st(5);
	for (i = 0; i < 5; i++)
		stats_sent(&st, i, T0 + i * MS, ERRS);
	s = summarize();
	cr_assert_eq(s.sent, 5);
	cr_assert_eq(s.lost, 5);
	cr_assert_eq(s.loss_ratio, 1.0);
	cr_assert_not(s.rtt.valid);
	cr_assert_not(s.sync);
	cr_assert_eq(s.maxerr, -1);
	cr_assert_eq(s.first_send, T0);
	cr_assert_eq(s.last_send, T0 + 4 * MS);
}

Test(stats, zero_packets)
{
	struct stats_reflection r = refl(0, 0, T0, MS, MS, MS, ERR1);
	struct stats_summary s;

	setup_st(0);
	stats_sent(&st, 0, T0, ERR1);
	cr_assert_eq(stats_reflected(&st, &r), STATS_RX_UNKNOWN);
	s = summarize();
	cr_assert_eq(s.sent, 0);
	cr_assert_eq(s.unknown_seq, 1);
}

Test(stats, single_packet)
{
	struct stats_summary s;

	setup_st(1);
	cr_assert_eq(send_reflect(0, 0, 3 * MS, MS, 2 * MS, ERR1), STATS_RX_OK);
	s = summarize();
	cr_assert_eq(s.rtt.n, 1);
	cr_assert_eq(s.rtt.min, 5 * MS);
	cr_assert_eq(s.rtt.median, 5 * MS);
	cr_assert_eq(s.rtt.p99, 5 * MS);
	cr_assert_eq(s.rtt.pdv, 0);
	cr_assert_eq(s.rtt.jitter, 0.0);
	cr_assert_float_eq(s.rtt.mean, 5.0 * MS, 1e-6);
}

Test(stats, negative_forward_delay_unsynced_clocks)
{
	struct stats_summary s;

	setup_st(2);
	/* reflector clock 1 s behind: fwd -999 ms, bck +1001 ms, rtt 2 ms */
	cr_assert_eq(send_reflect(0, 0, -999 * MS, MS, 1001 * MS, ERR1), STATS_RX_OK);
	cr_assert_eq(send_reflect(1, 1, -998 * MS, MS, 1001 * MS, ERR1), STATS_RX_OK);
	s = summarize();
	cr_assert_eq(s.fwd.min, -999 * MS);
	cr_assert_eq(s.fwd.max, -998 * MS);
	cr_assert_eq(s.rtt.min, 2 * MS);
	cr_assert_eq(s.rtt.max, 3 * MS);
	cr_assert_float_eq(s.fwd.jitter, MS / 16.0, 1e-6);
}

Test(stats, percentiles_nearest_rank_100)
{
	struct stats_summary s;
	uint32_t i;

	/* fwd = 1..100 us in a scrambled send order */
	setup_st(100);
	for (i = 0; i < 100; i++)
		cr_assert_eq(send_reflect(i, i, ((i * 37) % 100 + 1) * NS_PER_US, 0, 0, ERR1),
			     STATS_RX_OK);
	s = summarize();
	cr_assert_eq(s.fwd.median, 50 * NS_PER_US);
	cr_assert_eq(s.fwd.p90, 90 * NS_PER_US);
	cr_assert_eq(s.fwd.p95, 95 * NS_PER_US);
	cr_assert_eq(s.fwd.p99, 99 * NS_PER_US);
	cr_assert_eq(s.fwd.max, 100 * NS_PER_US);
	cr_assert_eq(s.fwd.pdv, 45 * NS_PER_US);
}

Test(stats, rank_permille_nearest_rank)
{
	int64_t v[1000];
	uint64_t n;

	for (int i = 0; i < 1000; i++)
		v[i] = i + 1;
	/* x[ceil(p/1000 * n) - 1] */
	cr_assert_eq(stats_rank_permille(v, 1000, 500), 500);
	cr_assert_eq(stats_rank_permille(v, 1000, 999), 999);
	cr_assert_eq(stats_rank_permille(v, 1000, 1000), 1000);
	cr_assert_eq(stats_rank_permille(v, 10, 999), 10);    /* ceil(9.99) = 10 */
	cr_assert_eq(stats_rank_permille(v, 10, 500), 5);     /* the lower middle */
	cr_assert_eq(stats_rank_permille(v, 1, 999), 1);
	cr_assert_eq(stats_rank_permille(v, 7, 0), 1);
	/* the whole-percent ranks of the summary are the same ranks */
	for (n = 1; n <= 1000; n++)
		for (unsigned pct = 1; pct <= 100; pct++) {
			uint64_t rank = (pct * n + 99) / 100;

			cr_assert_eq(stats_rank_permille(v, n, pct * 10), v[rank - 1], "n %lu p %u",
				     (unsigned long)n, pct);
		}
}

Test(stats, samples_in_time_only_in_sequence_order)
{
	int64_t rtt[6], proc[6];

	setup_st(6);
	cr_assert_eq(send_reflect(0, 0, 1 * MS, 100 * NS_PER_US, 2 * MS, ERR1), STATS_RX_OK);
	/* 1 lost, 2 late (lost), 3 duplicated */
	stats_sent(&st, 1, T0 + 100 * MS, ERR1);
	cr_assert_eq(send_reflect(2, 1, 1 * MS, 0, 3 * NS_PER_SEC, ERR1), STATS_RX_LATE);
	cr_assert_eq(send_reflect(3, 2, 2 * MS, 300 * NS_PER_US, 1 * MS, ERR1), STATS_RX_OK);
	{
		int64_t t1 = T0 + 300 * MS;
		struct stats_reflection r = refl(3, 2, t1, 2 * MS, 300 * NS_PER_US, 1 * MS, ERR1);

		cr_assert_eq(stats_reflected(&st, &r), STATS_RX_DUP_BCK);
	}
	cr_assert_eq(send_reflect(5, 3, 4 * MS, 50 * NS_PER_US, 0, ERR1), STATS_RX_OK);
	cr_assert_eq(stats_samples(&st, rtt, proc), 3);
	cr_assert_eq(rtt[0], 3 * MS);
	cr_assert_eq(proc[0], 100 * NS_PER_US);
	cr_assert_eq(rtt[1], 3 * MS);
	cr_assert_eq(proc[1], 300 * NS_PER_US);
	cr_assert_eq(rtt[2], 4 * MS);
	cr_assert_eq(proc[2], 50 * NS_PER_US);
}

Test(stats, free_twice_is_harmless)
{
	setup_st(3);
	stats_free(&st);
	stats_free(&st);
	cr_assert_null(st.pkt);
}

/* ------------------------------------------------------- random sessions */

/* xorshift64*: fixed seed, same sessions on every run and platform */
static uint64_t rng_state;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static int64_t rng_range(int64_t lo, int64_t hi) /* inclusive */
{
	return lo + (int64_t)(rng() % (uint64_t)(hi - lo + 1));
}

static bool rng_chance(unsigned int percent)
{
	return rng() % 100 < percent;
}

struct ref_event {
	struct stats_reflection r;
	enum stats_rx_result want;
};

struct ref_pkt {
	bool sent;
	int64_t t1;
	uint16_t err1;
};

/* how often each case came up over all random sessions */
static struct {
	unsigned int ok, late, dup_fwd, dup_bck, unknown, reordered, synced, empty, at_timeout;
} seen;

#define MAX_PKTS 64
#define MAX_EVENTS (MAX_PKTS * 4 + 16)

static double ref_err(uint16_t e)
{
	/* RFC 4656 4.1.2: multiplier * 2^(scale - 32), written out differently */
	double v = e & 0xff;
	int scale = (e >> 8) & 0x3f;

	while (scale-- > 0)
		v *= 2;
	return v / 4294967296.0;
}

static int ref_cmp(const void *a, const void *b)
{
	const int64_t *x = a, *y = b;

	if (*x < *y)
		return -1;
	return *x > *y;
}

/* the smallest rank k (1-based) with k/n >= p/100, by counting */
static int64_t ref_pct(const int64_t *sorted, size_t n, unsigned int p)
{
	size_t k = 1;

	while (k * 100 < p * n)
		k++;
	return sorted[k - 1];
}

static void ref_check_dist(const char *name, const struct stats_dist *d, const int64_t *seq_order,
			   size_t n)
{
	int64_t sorted[MAX_EVENTS];
	double sum = 0, j = 0;
	size_t i;

	if (n == 0) {
		cr_assert_not(d->valid, "%s valid without samples", name);
		return;
	}
	cr_assert(d->valid, "%s", name);
	cr_assert_eq(d->n, n, "%s n", name);
	for (i = 0; i < n; i++) {
		sorted[i] = seq_order[i];
		sum += (double)seq_order[i];
		if (i > 0)
			j += (fabs((double)(seq_order[i] - seq_order[i - 1])) - j) / 16;
	}
	qsort(sorted, n, sizeof(sorted[0]), ref_cmp);
	cr_assert_eq(d->min, sorted[0], "%s min", name);
	cr_assert_eq(d->max, sorted[n - 1], "%s max", name);
	cr_assert_eq(d->median, ref_pct(sorted, n, 50), "%s median", name);
	cr_assert_eq(d->p90, ref_pct(sorted, n, 90), "%s p90", name);
	cr_assert_eq(d->p95, ref_pct(sorted, n, 95), "%s p95", name);
	cr_assert_eq(d->p99, ref_pct(sorted, n, 99), "%s p99", name);
	cr_assert_eq(d->pdv, ref_pct(sorted, n, 95) - ref_pct(sorted, n, 50), "%s pdv", name);
	cr_assert(fabs(d->mean - sum / n) <= 1e-3, "%s mean %f want %f", name, d->mean, sum / n);
	cr_assert(fabs(d->jitter - j) <= 1e-3 + 1e-9 * j, "%s jitter %f want %f", name,
		  d->jitter, j);
}

static uint16_t random_err(unsigned int unsync_percent)
{
	uint16_t e = (uint16_t)(rng() & 0x3fff);

	if ((e & 0xff) == 0)
		e |= 1;
	if (!rng_chance(unsync_percent))
		e |= NTPTIME_ERREST_S;
	return e;
}

static void random_session(unsigned int round)
{
	static struct ref_pkt pk[MAX_PKTS];
	static struct ref_event ev[MAX_EVENTS];
	uint32_t n = (uint32_t)rng_range(0, MAX_PKTS);
	int64_t timeout = rng_range(1, 3000) * MS;
	unsigned int loss = (unsigned int)rng_range(0, 60);
	unsigned int dup = (unsigned int)rng_range(0, 40);
	unsigned int unsync = rng_chance(50) ? 0 : (unsigned int)rng_range(0, 10);
	int64_t spread = rng_range(0, 5000) * MS;
	size_t nev = 0, i, k;
	struct stats s;
	struct stats_summary sum;
	uint32_t sent = 0, received = 0, dups_fwd = 0, dups_bck = 0, reordered = 0, unknown = 0;
	int64_t rtt[MAX_EVENTS], fwd[MAX_EVENTS], bck[MAX_EVENTS];
	size_t nrx = 0;
	bool sync = true;
	double maxerr = -1, maxerr_fwd = -1, maxerr_bck = -1;
	int ttl_fwd_min = -1, ttl_fwd_max = -1, ttl_bck_min = -1, ttl_bck_max = -1;
	int64_t first = 0, last = 0, proc_min = 0, proc_max = 0;
	/* per seq: index of the first event that was OK or LATE */
	long first_ev[MAX_PKTS];

	cr_assert_eq(stats_init(&s, n, timeout), 0);
	memset(pk, 0, sizeof(pk));

	/* sends, in random order, some twice, some never */
	for (i = 0; i < n; i++) {
		if (rng_chance(10))
			continue;
		pk[i].sent = true;
		pk[i].t1 = T0 + rng_range(-spread, spread);
		pk[i].err1 = random_err(unsync);
	}
	for (k = 0; k < 2 * (size_t)n; k++) {
		uint32_t q = k < n ? (uint32_t)k : (uint32_t)rng_range(0, n - 1);

		if (!pk[q].sent)
			continue;
		if (k < n) {
			stats_sent(&s, q, pk[q].t1, pk[q].err1);
		} else if (rng_chance(10)) {
			/* a repeat with other values must be ignored */
			stats_sent(&s, q, pk[q].t1 + 1, (uint16_t)~pk[q].err1);
		}
	}

	/* reflections */
	for (i = 0; i < n; i++) {
		uint32_t rseq = (uint32_t)rng();
		int copies;

		if (!pk[i].sent || rng_chance(loss))
			continue;
		copies = 1;
		while (copies < 4 && rng_chance(dup))
			copies++;
		for (k = 0; k < (size_t)copies; k++) {
			struct stats_reflection *r = &ev[nev++].r;
			int64_t f = rng_range(-50 * MS, timeout);
			int64_t p = rng_range(0, 10 * MS);
			int64_t b = rng_range(-50 * MS, timeout);

			/* a small chance of extremes: exactly at the timeout */
			if (rng_chance(3)) {
				f = timeout / 2;
				p = 0;
				b = timeout - timeout / 2 + rng_range(0, 1);
			}
			r->sender_seq = (uint32_t)i;
			r->rseq = rng_chance(50) ? rseq : rseq + 1 + (uint32_t)rng_range(0, 3);
			r->t2 = pk[i].t1 + f;
			r->t3 = r->t2 + p;
			if (k > 0 && rng_chance(40)) {
				/* duplicated on the way back: the first copy's fields */
				const struct stats_reflection *r0 = &ev[nev - 1 - k].r;

				r->rseq = r0->rseq;
				r->t2 = r0->t2;
				r->t3 = rng_chance(50) ? r0->t3 : r0->t3 + 1; /* re-stamped by the reflector */
			}
			r->t4 = r->t3 + b;
			r->err2 = random_err(unsync);
			r->err3 = random_err(unsync);
			r->err4 = random_err(unsync);
			r->ttl_fwd = (int)rng_range(-1, 255);
			r->ttl_bck = (int)rng_range(-1, 255);
		}
	}
	/* reflections of sequence numbers never sent or out of range */
	k = (size_t)rng_range(0, 5);
	while (k-- > 0) {
		struct stats_reflection *r = &ev[nev++].r;

		memset(r, 0, sizeof(*r));
		r->sender_seq = (uint32_t)rng_range(0, n + 3);
		if (r->sender_seq < n && pk[r->sender_seq].sent)
			r->sender_seq = n + (uint32_t)rng_range(0, 1000);
		r->t4 = T0;
		r->ttl_fwd = r->ttl_bck = -1;
	}
	/* random arrival order (Fisher-Yates) */
	for (i = nev; i > 1; i--) {
		size_t j = (size_t)rng_range(0, (int64_t)i - 1);
		struct ref_event tmp = ev[i - 1];

		ev[i - 1] = ev[j];
		ev[j] = tmp;
	}

	/* the reference classification, by scanning the history */
	for (i = 0; i < MAX_PKTS; i++)
		first_ev[i] = -1;
	for (i = 0; i < nev; i++) {
		const struct stats_reflection *r = &ev[i].r;
		uint32_t q = r->sender_seq;

		if (q >= n || !pk[q].sent) {
			ev[i].want = STATS_RX_UNKNOWN;
			unknown++;
			continue;
		}
		if (first_ev[q] >= 0) {
			const struct stats_reflection *f0 = &ev[first_ev[q]].r;

			if (f0->rseq == r->rseq && f0->t2 == r->t2) {
				ev[i].want = STATS_RX_DUP_BCK;
				dups_bck++;
			} else {
				ev[i].want = STATS_RX_DUP_FWD;
				dups_fwd++;
			}
			continue;
		}
		first_ev[q] = (long)i;
		if (r->t4 - pk[q].t1 > timeout) {
			ev[i].want = STATS_RX_LATE;
			continue;
		}
		ev[i].want = STATS_RX_OK;
		for (k = 0; k < i; k++) {
			if (ev[k].want == STATS_RX_OK && ev[k].r.sender_seq > q) {
				reordered++;
				break;
			}
		}
	}

	for (i = 0; i < nev; i++) {
		const struct stats_reflection *r = &ev[i].r;

		seen.ok += ev[i].want == STATS_RX_OK;
		seen.late += ev[i].want == STATS_RX_LATE;
		seen.dup_fwd += ev[i].want == STATS_RX_DUP_FWD;
		seen.dup_bck += ev[i].want == STATS_RX_DUP_BCK;
		seen.unknown += ev[i].want == STATS_RX_UNKNOWN;
		if (ev[i].want == STATS_RX_OK || ev[i].want == STATS_RX_LATE)
			seen.at_timeout += r->t4 - pk[r->sender_seq].t1 == timeout ||
					   r->t4 - pk[r->sender_seq].t1 == timeout + 1;
	}
	seen.reordered += reordered;
	for (i = 0; i < nev; i++)
		cr_assert_eq(stats_reflected(&s, &ev[i].r), ev[i].want, "round %u event %zu seq %u",
			     round, i, ev[i].r.sender_seq);

	/* the reference summary, packet by packet in sequence order */
	for (i = 0; i < n; i++) {
		const struct stats_reflection *r;
		double e1, e2, e3, e4;

		if (!pk[i].sent)
			continue;
		sent++;
		if (sent == 1 || pk[i].t1 < first)
			first = pk[i].t1;
		if (sent == 1 || pk[i].t1 > last)
			last = pk[i].t1;
		if (first_ev[i] < 0 || ev[first_ev[i]].want != STATS_RX_OK)
			continue;
		r = &ev[first_ev[i]].r;
		received++;
		rtt[nrx] = (r->t4 - pk[i].t1) - (r->t3 - r->t2);
		fwd[nrx] = r->t2 - pk[i].t1;
		bck[nrx] = r->t4 - r->t3;
		if (nrx == 0 || r->t3 - r->t2 < proc_min)
			proc_min = r->t3 - r->t2;
		if (nrx == 0 || r->t3 - r->t2 > proc_max)
			proc_max = r->t3 - r->t2;
		nrx++;
		if (!(pk[i].err1 & 0x8000) || !(r->err2 & 0x8000) || !(r->err3 & 0x8000) ||
		    !(r->err4 & 0x8000))
			sync = false;
		e1 = ref_err(pk[i].err1);
		e2 = ref_err(r->err2);
		e3 = ref_err(r->err3);
		e4 = ref_err(r->err4);
		maxerr = fmax(maxerr, e1 + e2 + e3 + e4);
		maxerr_fwd = fmax(maxerr_fwd, e1 + e2);
		maxerr_bck = fmax(maxerr_bck, e3 + e4);
		if (r->ttl_fwd >= 0) {
			if (ttl_fwd_min < 0 || r->ttl_fwd < ttl_fwd_min)
				ttl_fwd_min = r->ttl_fwd;
			if (r->ttl_fwd > ttl_fwd_max)
				ttl_fwd_max = r->ttl_fwd;
		}
		if (r->ttl_bck >= 0) {
			if (ttl_bck_min < 0 || r->ttl_bck < ttl_bck_min)
				ttl_bck_min = r->ttl_bck;
			if (r->ttl_bck > ttl_bck_max)
				ttl_bck_max = r->ttl_bck;
		}
	}
	if (received == 0)
		sync = false;
	seen.synced += sync;
	seen.empty += received == 0;

	cr_assert_eq(stats_summarize(&s, &sum), 0);
	cr_assert_eq(sum.sent, sent, "round %u", round);
	cr_assert_eq(sum.received, received, "round %u", round);
	cr_assert_eq(sum.lost, sent - received, "round %u", round);
	cr_assert_float_eq(sum.loss_ratio, sent ? (double)(sent - received) / sent : 0.0, 1e-12);
	cr_assert_eq(sum.dups_fwd, dups_fwd, "round %u", round);
	cr_assert_eq(sum.dups_bck, dups_bck, "round %u", round);
	cr_assert_eq(sum.reordered, reordered, "round %u", round);
	cr_assert_eq(sum.unknown_seq, unknown, "round %u", round);
	cr_assert_eq(sum.first_send, first, "round %u", round);
	cr_assert_eq(sum.last_send, last, "round %u", round);
	cr_assert_eq(sum.proc_valid, received > 0, "round %u", round);
	if (received) {
		cr_assert_eq(sum.proc_min, proc_min, "round %u", round);
		cr_assert_eq(sum.proc_max, proc_max, "round %u", round);
	}
	cr_assert_eq(sum.sync, sync, "round %u", round);
	cr_assert_float_eq(sum.maxerr, maxerr, 1e-12 + 1e-12 * fabs(maxerr));
	cr_assert_float_eq(sum.maxerr_fwd, maxerr_fwd, 1e-12 + 1e-12 * fabs(maxerr_fwd));
	cr_assert_float_eq(sum.maxerr_bck, maxerr_bck, 1e-12 + 1e-12 * fabs(maxerr_bck));
	cr_assert_eq(sum.ttl_fwd_min, ttl_fwd_min, "round %u", round);
	cr_assert_eq(sum.ttl_fwd_max, ttl_fwd_max, "round %u", round);
	cr_assert_eq(sum.ttl_bck_min, ttl_bck_min, "round %u", round);
	cr_assert_eq(sum.ttl_bck_max, ttl_bck_max, "round %u", round);
	ref_check_dist("rtt", &sum.rtt, rtt, nrx);
	ref_check_dist("fwd", &sum.fwd, fwd, nrx);
	ref_check_dist("bck", &sum.bck, bck, nrx);

	stats_free(&s);
}

Test(stats_random, sessions_match_reference)
{
	unsigned int round;

	rng_state = 0x9e3779b97f4a7c15ULL;
	for (round = 0; round < 2000; round++)
		random_session(round);
	/* the generator really produced every case, many times */
	cr_assert_gt(seen.ok, 1000);
	cr_assert_gt(seen.late, 1000);
	cr_assert_gt(seen.dup_fwd, 500);
	cr_assert_gt(seen.dup_bck, 500);
	cr_assert_gt(seen.unknown, 500);
	cr_assert_gt(seen.reordered, 500);
	cr_assert_gt(seen.synced, 100);
	cr_assert_gt(seen.empty, 20);
	cr_assert_gt(seen.at_timeout, 50);
	cr_log_info("random: %u ok, %u late, %u dup fwd, %u dup bck, %u unknown, %u reordered, "
		    "%u synced sessions, %u with nothing received, %u at the timeout edge",
		    seen.ok, seen.late, seen.dup_fwd, seen.dup_bck, seen.unknown, seen.reordered,
		    seen.synced, seen.empty, seen.at_timeout);
}

Test(stats_random, large_session)
{
	/* one long session: per-packet path and summary at scale */
	const uint32_t n = 100000;
	struct stats s;
	struct stats_summary sum;
	uint32_t i, lost = 0;

	rng_state = 42;
	cr_assert_eq(stats_init(&s, n, TIMEOUT), 0);
	for (i = 0; i < n; i++) {
		int64_t t1 = T0 + (int64_t)i * MS;
		struct stats_reflection r = refl(i, i, t1, rng_range(0, MS), 1000, rng_range(0, MS),
						 ERRS);

		stats_sent(&s, i, t1, ERRS);
		if (rng_chance(1)) {
			lost++;
			continue;
		}
		cr_assert_eq(stats_reflected(&s, &r), STATS_RX_OK);
	}
	cr_assert_eq(stats_summarize(&s, &sum), 0);
	cr_assert_eq(sum.lost, lost);
	cr_assert_eq(sum.rtt.n, n - lost);
	cr_assert(sum.rtt.min >= 0 && sum.rtt.max <= 2 * MS);  /* proc excluded */
	cr_assert(sum.fwd.median > MS / 2 - MS / 50 && sum.fwd.median < MS / 2 + MS / 50);
	cr_assert(sum.sync);
	stats_free(&s);
}

/* ------------------------------------------- twping's buckets (stats_hist) */

/*
 * The session of the twping -M capture in tests/data/interop/twping-M-open.txt
 * (owamp 5.2.3, open mode, 10 packets): delays in ns chosen to fall into its
 * buckets at 0.1 ms, round trip 1:4 3:1 4:2 6:2 14:1, forward 1:4 3:1 4:2 5:1
 * 6:1 14:1, backward 1:10.  twping printed MEDIAN 0.0003, PDV 0.0011 for them.
 */
static const int64_t capture_fwd[10] = { 50000, 50000, 50000, 50000, 250000,
					 350000, 350000, 495000, 550000, 1310000 };
static const int64_t capture_bck[10] = { 5000, 5000, 5000, 5000, 5000,
					 5000, 5000, 10000, 5000, 5000 };

static void capture_session(uint32_t lose_from)
{
	setup_st(10);
	for (uint32_t i = 0; i < 10; i++) {
		if (i >= lose_from) {
			stats_sent(&st, i, T0 + (int64_t)i * 100 * MS, ERR1);
			continue;
		}
		cr_assert_eq(send_reflect(i, i, capture_fwd[i], 3000, capture_bck[i], ERR1), STATS_RX_OK);
	}
}

Test(stats, hist_twping_capture)
{
	static const struct stats_bucket want[] = {
		{ 1, { 4, 4, 10 } }, { 3, { 1, 1, 0 } }, { 4, { 2, 2, 0 } },
		{ 5, { 0, 1, 0 } },  { 6, { 2, 1, 0 } }, { 14, { 1, 1, 0 } },
	};
	struct stats_hist h;

	capture_session(10);
	cr_assert_eq(stats_hist(&st, 0.0001, &h), 0);
	cr_assert_eq(h.nb, 6);
	for (uint32_t i = 0; i < h.nb; i++) {
		cr_assert_eq(h.b[i].index, want[i].index, "row %u", i);
		for (int t = 0; t < 3; t++)
			cr_assert_eq(h.b[i].n[t], want[i].n[t], "row %u column %d", i, t);
	}
	/* MEDIAN 0.0003, PDV 0.0014 - 0.0003 = 0.0011; MEDIAN_BCK 0.0001, PDV_BCK 0 */
	cr_assert(h.median_valid[STATS_RTT] && h.p95_valid[STATS_RTT]);
	cr_assert_eq(h.median[STATS_RTT], 3);
	cr_assert_eq(h.p95[STATS_RTT], 14);
	cr_assert_eq(h.median[STATS_FWD], 3);
	cr_assert_eq(h.p95[STATS_FWD], 14);
	cr_assert_eq(h.median[STATS_BCK], 1);
	cr_assert_eq(h.p95[STATS_BCK], 1);
	cr_assert_float_eq(h.median[STATS_RTT] * 0.0001, 0.0003, 1e-12);
	cr_assert_float_eq(h.p95[STATS_RTT] * 0.0001 - h.median[STATS_RTT] * 0.0001, 0.0011, 1e-12);
	cr_assert_eq(h.ttl[255][0], 10);
	cr_assert_eq(h.ttl[64][1], 10);
	stats_hist_free(&h);
}

/* Lost packets count as infinitely late: the ranks are taken over SENT. */
Test(stats, hist_lost_count_as_infinite)
{
	struct stats_hist h;

	/* 7 back of 10: the median is the 5th smallest (bucket 3), P95 (the 10th) is infinite */
	capture_session(7);
	cr_assert_eq(stats_hist(&st, 0.0001, &h), 0);
	cr_assert(h.median_valid[STATS_RTT]);
	cr_assert_eq(h.median[STATS_RTT], 3);
	cr_assert_not(h.p95_valid[STATS_RTT]);
	stats_hist_free(&h);
	teardown_st();

	/* 4 back of 10: no median either */
	capture_session(4);
	cr_assert_eq(stats_hist(&st, 0.0001, &h), 0);
	cr_assert_not(h.median_valid[STATS_RTT]);
	cr_assert_not(h.median_valid[STATS_BCK]);
	cr_assert_eq(h.nb, 1);
	cr_assert_eq(h.b[0].n[STATS_RTT], 4);
	stats_hist_free(&h);
}

Test(stats, hist_bucket_rounding)
{
	/* away from zero, an exact multiple stays in its bucket, as twping's ceil/floor */
	cr_assert_eq(stats_bucket_index(300000, 0.0001), 3);
	cr_assert_eq(stats_bucket_index(300001, 0.0001), 4);
	cr_assert_eq(stats_bucket_index(1, 0.0001), 1);
	cr_assert_eq(stats_bucket_index(0, 0.0001), 0);
	cr_assert_eq(stats_bucket_index(-1, 0.0001), -1);
	cr_assert_eq(stats_bucket_index(-250000, 0.0001), -3);
	cr_assert_eq(stats_bucket_index(1500000, 0.001), 2);
	/* a clock years off stays in range */
	cr_assert(stats_bucket_index(INT64_MAX, 1e-9) > 0);
	cr_assert(stats_bucket_index(INT64_MIN, 1e-9) < 0);
}
