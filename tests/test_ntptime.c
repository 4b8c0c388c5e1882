/*
 * Tests for ntptime.c: NTP 32.32 conversions at the epochs and era edges,
 * rounding of the fraction, durations as seen in the interop captures, and
 * the RFC 4656 error estimate checked against a brute-force search.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "ntptime.h"

#define NTP(sec, frac) (((uint64_t)(uint32_t)(sec) << 32) | (uint32_t)(frac))
#define SEC(ntp) ((uint32_t)((ntp) >> 32))
#define FRAC(ntp) ((uint32_t)(ntp))

/* 2036-02-07T06:28:16Z: NTP era 1 begins */
#define ERA1_UNIX 2085978496LL

static uint64_t rng_state = 0x243f6a8885a308d3ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

/* libc's calendar as the reference: time_t has 64 bits (ntptime.h asserts it) */
static void utc(int64_t unix_sec, struct tm *tm)
{
	time_t t = (time_t)unix_sec;

	cr_assert_not_null(gmtime_r(&t, tm));
}

/* ------------------------------------------------------------ timestamps */

Test(ntptime, unix_epoch)
{
	cr_assert_eq(ntptime_to_ntp(0), NTP(2208988800U, 0));
	cr_assert_eq(ntptime_from_ntp(NTP(2208988800U, 0)), 0);
	cr_assert_eq(NTPTIME_UNIX_OFFSET, 2208988800ULL);
}

Test(ntptime, capture_2026)
{
	/* START_TIME of the open capture: 17200293837074543714 */
	uint64_t start = 17200293837074543714ULL;
	int64_t ns = ntptime_from_ntp(start);
	struct tm tm;
	char buf[64];

	cr_assert_eq(SEC(start), 0xeeb3b81dU);
	cr_assert_eq(ns / NS_PER_SEC, 0xeeb3b81dLL - 2208988800LL);
	cr_assert_eq(ns % NS_PER_SEC, 121753000);  /* 0x1f2b3462 * 1e9 / 2^32 = 121753000.19 */
	utc(ns / NS_PER_SEC, &tm);
	cr_assert_eq(tm.tm_year + 1900, 2026);
	cr_assert_eq(tm.tm_mon + 1, 11);
	cr_assert_eq(tm.tm_mday, 27);

	/* the seconds field of the SID: 0xeeb3b81c = 2026-11-27T08:04:44Z */
	ns = ntptime_from_ntp(NTP(0xeeb3b81cU, 0));
	cr_assert_eq(ns, 1795766684LL * NS_PER_SEC);
	ntptime_format_iso(ns, buf, sizeof(buf));
	cr_assert_str_eq(buf, "2026-11-27T08:04:44.000");

	/* and back; the low bits of the fraction are below 1 ns */
	cr_assert_lt(llabs((long long)(ntptime_to_ntp(ntptime_from_ntp(start)) - start)), 3);
}

Test(ntptime, fraction_rounding)
{
	int64_t base = 1795766684LL * NS_PER_SEC;
	uint64_t v;

	cr_assert_eq(ntptime_to_ntp(base + NS_PER_SEC / 2), NTP(0xeeb3b81cU, 0x80000000U));
	cr_assert_eq(ntptime_to_ntp(base + NS_PER_SEC / 4), NTP(0xeeb3b81cU, 0x40000000U));
	/* 1 ns = 4.294967296 units: 4 */
	cr_assert_eq(ntptime_to_ntp(base + 1), NTP(0xeeb3b81cU, 4));
	/* 999999999 ns = 4294967291.7 units: 0xfffffffc, same second */
	v = ntptime_to_ntp(base + 999999999);
	cr_assert_eq(v, NTP(0xeeb3b81cU, 0xfffffffcU));
	cr_assert_eq(ntptime_from_ntp(v), base + 999999999);
	/* the largest fraction is 1 - 2^-32 s, which is 1e9 ns after rounding */
	cr_assert_eq(ntptime_from_ntp(NTP(0xeeb3b81cU, 0xffffffffU)), base + NS_PER_SEC);
	/* fraction 0x80000000 -> exactly 500 ms */
	cr_assert_eq(ntptime_from_ntp(NTP(0xeeb3b81cU, 0x80000000U)), base + NS_PER_SEC / 2);
	/* 1 unit = 0.23 ns -> 0; 3 units = 0.698 ns -> 1 */
	cr_assert_eq(ntptime_from_ntp(NTP(0xeeb3b81cU, 1)), base);
	cr_assert_eq(ntptime_from_ntp(NTP(0xeeb3b81cU, 3)), base + 1);
}

/* The last instant of the span stays in it: rounding up would re-encode as 1968. */
Test(ntptime, span_end_does_not_wrap)
{
	uint64_t last = NTP(0x7fffffffU, 0xffffffffU);
	int64_t ns = ntptime_from_ntp(last);

	cr_assert_gt(ns, ntptime_from_ntp(NTP(0x7fffffffU, 0)));
	cr_assert_eq(ntptime_from_ntp(ntptime_to_ntp(ns)), ns);
	cr_assert_eq(ntptime_to_ntp(ns) >> 32, 0x7fffffffU);
}

Test(ntptime, fraction_monotonic_within_second)
{
	int64_t base = 1795766684LL * NS_PER_SEC;
	uint64_t prev = ntptime_to_ntp(base);
	int64_t ns;

	/* every ns of the first and last microsecond of a second, strictly rising */
	for (ns = 1; ns < NS_PER_SEC; ns++) {
		uint64_t v;

		if (ns == 1000)
			ns = NS_PER_SEC - 1000;
		v = ntptime_to_ntp(base + ns);
		cr_assert_gt(v, prev, "ns %lld", (long long)ns);
		cr_assert_eq(SEC(v), 0xeeb3b81cU);
		prev = v;
	}
	cr_assert_eq(SEC(ntptime_to_ntp(base + NS_PER_SEC)), 0xeeb3b81dU);
}

Test(ntptime, round_trip_random_1970_2104)
{
	/* every ns value from 1970 to the end of era 1 comes back exactly */
	const int64_t hi = (0x17fffffffLL - 2208988800LL) * NS_PER_SEC;
	int i;

	for (i = 0; i < 200000; i++) {
		int64_t ns = (int64_t)(rng() % (uint64_t)hi);
		uint64_t v = ntptime_to_ntp(ns);

		cr_assert_eq(ntptime_from_ntp(v), ns, "ns %lld ntp %016llx", (long long)ns,
			     (unsigned long long)v);
	}
}

Test(ntptime, round_trip_ntp_side)
{
	/* ntp -> ns -> ntp: within the 0.5 ns of the ns resolution (2.15 units) */
	int i;

	for (i = 0; i < 200000; i++) {
		uint64_t v = rng();
		uint64_t w = ntptime_to_ntp(ntptime_from_ntp(v));
		int64_t d = (int64_t)(w - v);

		cr_assert(d >= -3 && d <= 3, "ntp %016llx back %016llx", (unsigned long long)v,
			  (unsigned long long)w);
	}
}

Test(ntptime, era_rollover)
{
	int64_t edge = ERA1_UNIX * NS_PER_SEC;
	struct tm tm;
	char buf[64];
	uint64_t v;

	utc(ERA1_UNIX, &tm);
	cr_assert_eq(tm.tm_year + 1900, 2036);
	cr_assert_eq(tm.tm_mon + 1, 2);
	cr_assert_eq(tm.tm_mday, 7);
	cr_assert_eq(tm.tm_hour, 6);
	cr_assert_eq(tm.tm_min, 28);
	cr_assert_eq(tm.tm_sec, 16);

	/* the instant itself: seconds 0 of era 1 */
	cr_assert_eq(ntptime_to_ntp(edge), 0);
	cr_assert_eq(ntptime_from_ntp(0), edge);
	ntptime_format_iso(ntptime_from_ntp(0), buf, sizeof(buf));
	cr_assert_str_eq(buf, "2036-02-07T06:28:16.000");

	/* one ns and one second before: the last second of era 0 */
	v = ntptime_to_ntp(edge - 1);
	cr_assert_eq(v, NTP(0xffffffffU, 0xfffffffcU));
	cr_assert_eq(ntptime_from_ntp(v), edge - 1);
	v = ntptime_to_ntp(edge - NS_PER_SEC);
	cr_assert_eq(v, NTP(0xffffffffU, 0));
	cr_assert_eq(ntptime_from_ntp(v), edge - NS_PER_SEC);

	/* one ns, one second and a day after */
	v = ntptime_to_ntp(edge + 1);
	cr_assert_eq(v, NTP(0, 4));
	cr_assert_eq(ntptime_from_ntp(v), edge + 1);
	v = ntptime_to_ntp(edge + NS_PER_SEC);
	cr_assert_eq(v, NTP(1, 0));
	cr_assert_eq(ntptime_from_ntp(v), edge + NS_PER_SEC);
	v = ntptime_to_ntp(edge + 86400 * NS_PER_SEC + 123456789);
	cr_assert_eq(SEC(v), 86400U);
	cr_assert_eq(ntptime_from_ntp(v), edge + 86400 * NS_PER_SEC + 123456789);

	/* the rounding carry across the edge: 1 - 2^-32 s before it */
	cr_assert_eq(ntptime_from_ntp(NTP(0xffffffffU, 0xffffffffU)), edge);
}

Test(ntptime, span_limits)
{
	struct tm tm;

	/* era 0 from 0x80000000: 1968-01-20T03:14:08Z */
	cr_assert_eq(ntptime_from_ntp(NTP(0x80000000U, 0)), -61505152LL * NS_PER_SEC);
	utc(-61505152LL, &tm);
	cr_assert_eq(tm.tm_year + 1900, 1968);
	cr_assert_eq(tm.tm_mon + 1, 1);
	cr_assert_eq(tm.tm_mday, 20);
	cr_assert_eq(ntptime_to_ntp(-61505152LL * NS_PER_SEC), NTP(0x80000000U, 0));

	/* era 1 up to 0x7fffffff: 2104-02-26T09:42:23Z */
	cr_assert_eq(ntptime_from_ntp(NTP(0x7fffffffU, 0)), 4233462143LL * NS_PER_SEC);
	utc(4233462143LL, &tm);
	cr_assert_eq(tm.tm_year + 1900, 2104);
	cr_assert_eq(tm.tm_mon + 1, 2);
	cr_assert_eq(tm.tm_mday, 26);
	cr_assert_eq(ntptime_to_ntp(4233462143LL * NS_PER_SEC), NTP(0x7fffffffU, 0));
}

Test(ntptime, before_1970)
{
	uint64_t v;

	/* -1 ns: 1969-12-31T23:59:59.999999999 */
	v = ntptime_to_ntp(-1);
	cr_assert_eq(v, NTP(2208988799U, 0xfffffffcU));
	cr_assert_eq(ntptime_from_ntp(v), -1);
	/* -1.5 s */
	v = ntptime_to_ntp(-NS_PER_SEC - NS_PER_SEC / 2);
	cr_assert_eq(v, NTP(2208988798U, 0x80000000U));
	cr_assert_eq(ntptime_from_ntp(v), -NS_PER_SEC - NS_PER_SEC / 2);
	/* 1968-06-01 */
	v = ntptime_to_ntp(-50000000LL * NS_PER_SEC + 7);
	cr_assert_eq(ntptime_from_ntp(v), -50000000LL * NS_PER_SEC + 7);
}

/*
 * Past the NTP era 1 rollover (2036-02-07) and the 32-bit time_t limit
 * (2038-01-19T03:14:07Z): the timespec, the text and the NTP timestamp of
 * each instant.  On a 32-bit build without a 64-bit time_t every check from
 * 2038-01-19T03:14:08Z on fails (tv_sec wraps to 1901).
 */
Test(ntptime, dates_after_2036_and_2038)
{
	static const struct {
		int64_t unix_sec;
		int year;
		const char *iso;
	} d[] = {
		{ 2114380800LL, 2037, "2037-01-01T00:00:00.123" },
		{ 2147483647LL, 2038, "2038-01-19T03:14:07.123" },
		{ 2147483648LL, 2038, "2038-01-19T03:14:08.123" },
		{ 2214129600LL, 2040, "2040-02-29T12:00:00.123" },
		{ 4233462143LL, 2104, "2104-02-26T09:42:23.123" }, /* the last second of the span */
	};

	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		int64_t ns = d[i].unix_sec * NS_PER_SEC + 123456789;
		struct timespec ts = ntptime_to_timespec(ns);
		uint64_t v = ntptime_to_ntp(ns);
		struct tm tm;
		char buf[64];

		cr_assert_eq((int64_t)ts.tv_sec, d[i].unix_sec, "%s: tv_sec %lld", d[i].iso,
			     (long long)ts.tv_sec);
		cr_assert_eq(ts.tv_nsec, 123456789);
		cr_assert_eq(ntptime_from_timespec(&ts), ns);
		ntptime_format_iso(ns, buf, sizeof(buf));
		cr_assert_str_eq(buf, d[i].iso);
		utc(d[i].unix_sec, &tm);
		cr_assert_eq(tm.tm_year + 1900, d[i].year);
		/* era 1: the seconds field restarted at 0 on 2036-02-07 */
		cr_assert_eq(SEC(v), (uint32_t)(d[i].unix_sec + 2208988800LL - (1LL << 32)), "%s", d[i].iso);
		cr_assert_lt(SEC(v), 0x80000000U);
		cr_assert_eq(ntptime_from_ntp(v), ns, "%s", d[i].iso);
	}
	/* the second after 2^31 - 1 is one second later, not 136 years earlier */
	cr_assert_eq(ntptime_from_ntp(ntptime_to_ntp(2147483648LL * NS_PER_SEC)) -
			     ntptime_from_ntp(ntptime_to_ntp(2147483647LL * NS_PER_SEC)),
		     NS_PER_SEC);
}

/*
 * 2106-02-07T06:28:16Z (2^32 Unix seconds, where an unsigned 32-bit time
 * ends): the internal time, its timespec and text are right; its NTP
 * timestamp lies beyond the RFC 4330 span and has the seconds field of
 * 1970-01-01, which it decodes as (the documented pivot rule, ntptime.h).
 */
Test(ntptime, year_2106)
{
	int64_t ns = (1LL << 32) * NS_PER_SEC;
	struct timespec ts = ntptime_to_timespec(ns + 5);
	char buf[64];

	cr_assert_eq((int64_t)ts.tv_sec, 1LL << 32);
	cr_assert_eq(ts.tv_nsec, 5);
	ntptime_format_iso(ns, buf, sizeof(buf));
	cr_assert_str_eq(buf, "2106-02-07T06:28:16.000");
	ntptime_format_iso(4323283199LL * NS_PER_SEC + 999000000, buf, sizeof(buf));
	cr_assert_str_eq(buf, "2106-12-31T23:59:59.999");
	cr_assert_eq(ntptime_to_ntp(ns), NTP(2208988800U, 0));
	cr_assert_eq(ntptime_to_ntp(ns), ntptime_to_ntp(0));
	cr_assert_eq(ntptime_from_ntp(ntptime_to_ntp(ns)), 0);
}

/* ------------------------------------------------------------- timespec */

Test(ntptime, timespec)
{
	struct timespec ts = ntptime_to_timespec(-1);
	struct timespec back;

	cr_assert_eq(ts.tv_sec, -1);
	cr_assert_eq(ts.tv_nsec, 999999999);
	cr_assert_eq(ntptime_from_timespec(&ts), -1);
	ts = ntptime_to_timespec(1795766684LL * NS_PER_SEC + 5);
	cr_assert_eq(ts.tv_sec, 1795766684);
	cr_assert_eq(ts.tv_nsec, 5);
	back = ntptime_to_timespec(ntptime_from_timespec(&ts));
	cr_assert_eq(back.tv_sec, ts.tv_sec);
	cr_assert_eq(back.tv_nsec, ts.tv_nsec);
	cr_assert_float_eq(ntptime_to_sec(2500 * NS_PER_MS), 2.5, 1e-12);
}

Test(ntptime, now_is_plausible)
{
	int64_t a = ntptime_now();
	int64_t b = ntptime_now();

	cr_assert_gt(a, 1600000000LL * NS_PER_SEC);  /* after 2020 */
	cr_assert_geq(b - a, -NS_PER_SEC);           /* REALTIME may step, but not by much here */
}

Test(ntptime, format_iso)
{
	char buf[64];
	char small[11];

	ntptime_format_iso(1795766684LL * NS_PER_SEC + 696999999, buf, sizeof(buf));
	cr_assert_str_eq(buf, "2026-11-27T08:04:44.696");  /* truncated, not rounded */
	ntptime_format_iso(-1, buf, sizeof(buf));
	cr_assert_str_eq(buf, "1969-12-31T23:59:59.999");
	ntptime_format_iso(0, small, sizeof(small));
	cr_assert_str_eq(small, "1970-01-01");
}

/* ------------------------------------------------------------- durations */

Test(ntptime, durations)
{
	/* LOSS_TIMEOUT of the open capture; the Request-TW-Session Timeout has it too */
	cr_assert_eq(8590948205ULL, 0x00000002000f776dULL);
	cr_assert_eq(ntptime_dur_from_ntp(8590948205ULL), 2000236000LL);  /* 2000236000.17 */
	cr_assert_float_eq(ntptime_to_sec(ntptime_dur_from_ntp(8590948205ULL)), 2.0002, 5e-5);
	cr_assert_eq(ntptime_dur_to_ntp(2000236000LL), 8590948204ULL);  /* 1 ns = 4.3 units */

	cr_assert_eq(ntptime_dur_to_ntp(2 * NS_PER_SEC), NTP(2, 0));
	cr_assert_eq(ntptime_dur_from_ntp(NTP(2, 0)), 2 * NS_PER_SEC);
	cr_assert_eq(ntptime_dur_to_ntp(2000200000LL), NTP(2, 858993));  /* 2.0002 s */
	cr_assert_eq(ntptime_dur_to_ntp(NS_PER_SEC / 2), 0x80000000ULL);
	cr_assert_eq(ntptime_dur_to_ntp(1), 4);
	cr_assert_eq(ntptime_dur_to_ntp(999999999), 0xfffffffcULL);
	cr_assert_eq(ntptime_dur_from_ntp(0xffffffffULL), NS_PER_SEC);
	cr_assert_eq(ntptime_dur_to_ntp(0), 0);
	cr_assert_eq(ntptime_dur_to_ntp(-5), 0);
	cr_assert_eq(ntptime_dur_from_ntp(0), 0);
	/* the largest duration that fits, and saturation beyond it */
	cr_assert_eq(ntptime_dur_to_ntp(0xffffffffLL * NS_PER_SEC), NTP(0xffffffffU, 0));
	cr_assert_eq(ntptime_dur_to_ntp(0x100000000LL * NS_PER_SEC), UINT64_MAX);
	cr_assert_eq(ntptime_dur_to_ntp(INT64_MAX), UINT64_MAX);
	cr_assert_eq(ntptime_dur_from_ntp(UINT64_MAX), 0x100000000LL * NS_PER_SEC);
}

Test(ntptime, durations_round_trip)
{
	int i;

	for (i = 0; i < 200000; i++) {
		int64_t ns = (int64_t)(rng() % (uint64_t)(0xffffffffLL * NS_PER_SEC));

		cr_assert_eq(ntptime_dur_from_ntp(ntptime_dur_to_ntp(ns)), ns, "ns %lld",
			     (long long)ns);
	}
}

/* ------------------------------------------------------- error estimate */

/*
 * The reference's arithmetic: err_ns * 2^32 needs up to 96 bits, and
 * unsigned __int128 exists on 64-bit targets only (armhf and i386 have none),
 * so two 64-bit words, with the few operations the search needs.
 */
struct u128 {
	uint64_t hi, lo;
};

static struct u128 u128_add(struct u128 a, uint64_t b)
{
	a.lo += b;
	a.hi += a.lo < b;
	return a;
}

static struct u128 u128_shl(struct u128 a, unsigned n) /* n < 64 */
{
	if (n) {
		a.hi = a.hi << n | a.lo >> (64 - n);
		a.lo <<= n;
	}
	return a;
}

static struct u128 u128_shr(struct u128 a, unsigned n) /* n < 64 */
{
	if (n) {
		a.lo = a.lo >> n | a.hi << (64 - n);
		a.hi >>= n;
	}
	return a;
}

static int u128_cmp(struct u128 a, struct u128 b)
{
	if (a.hi != b.hi)
		return a.hi < b.hi ? -1 : 1;
	return a.lo < b.lo ? -1 : a.lo > b.lo;
}

static bool u128_is_zero(struct u128 a)
{
	return !a.hi && !a.lo;
}

/* err_ns in units of 2^-32 s, rounded up, at least 1 */
static struct u128 units_needed(int64_t err_ns)
{
	uint64_t q, r;

	if (err_ns <= 0)
		return (struct u128){ 0, 1 };
	/* err_ns = q s + r ns: q * 2^32 + ceil(r * 2^32 / 1e9), r * 2^32 < 2^62 */
	q = (uint64_t)err_ns / NS_PER_SEC;
	r = (uint64_t)err_ns % NS_PER_SEC;
	return u128_add(u128_shl((struct u128){ 0, q }, 32), ((r << 32) + NS_PER_SEC - 1) / NS_PER_SEC);
}

/* the smallest representable value >= need, by trying every scale */
static struct u128 best_value(struct u128 need)
{
	struct u128 best = { 0, 0 };
	unsigned scale;

	for (scale = 0; scale < 64; scale++) {
		/* mult = ceil(need / 2^scale), at least 1 */
		struct u128 mult = u128_shr(need, scale), v;

		if (u128_cmp(u128_shl(mult, scale), need) < 0)
			mult = u128_add(mult, 1);
		if (u128_is_zero(mult))
			mult.lo = 1;
		if (mult.hi || mult.lo > 255)
			continue;
		v = u128_shl(mult, scale);
		if (u128_is_zero(best) || u128_cmp(v, best) < 0)
			best = v;
	}
	return best;
}

static struct u128 errest_units(uint16_t e)
{
	return u128_shl((struct u128){ 0, e & 0xff }, (e >> 8) & 0x3f);
}

Test(ntptime, u128_reference_arithmetic)
{
	/* the reference must be right before it judges: 2^64 and a 96-bit product */
	struct u128 a = u128_add((struct u128){ 0, UINT64_MAX }, 1);

	cr_assert(a.hi == 1 && a.lo == 0);
	a = u128_shl((struct u128){ 0, 0xffffffffffULL }, 40);
	cr_assert(a.hi == 0xffffULL && a.lo == 0xffffff0000000000ULL);
	cr_assert(u128_cmp(u128_shr(a, 40), (struct u128){ 0, 0xffffffffffULL }) == 0);
	/* INT64_MAX ns = 9223372036 s + 854775807 ns: 9223372036 * 2^32 + 3671234137 units (rounded up) */
	a = units_needed(INT64_MAX);
	cr_assert(a.hi == 2 && a.lo == (0x25c17d04ULL << 32) + 3671234137ULL, "%llx %llx",
		  (unsigned long long)a.hi, (unsigned long long)a.lo);
	cr_assert(u128_cmp(units_needed(1), (struct u128){ 0, 5 }) == 0);
	cr_assert(u128_cmp(best_value((struct u128){ 0, 256 }), (struct u128){ 0, 256 }) == 0);
	cr_assert(u128_cmp(best_value((struct u128){ 0, 257 }), (struct u128){ 0, 258 }) == 0);
}

Test(ntptime, errest_decode)
{
	cr_assert_eq(ntptime_errest_seconds(0x0001), ldexp(1, -32));
	cr_assert_eq(ntptime_errest_seconds(0x8001), ldexp(1, -32));  /* S bit ignored */
	cr_assert_eq(ntptime_errest_seconds(0xc001), ldexp(1, -32));  /* Z bit ignored */
	cr_assert_eq(ntptime_errest_seconds(0x20ff), ldexp(255, 0));   /* scale 32: 255 s */
	cr_assert_eq(ntptime_errest_seconds(0x1880), 0.5);            /* 128 * 2^(24-32) */
	cr_assert_eq(ntptime_errest_seconds(0x3fff), ldexp(255, 31));
	cr_assert_eq(ntptime_errest_seconds(0x0000), 0.0);
	cr_assert(ntptime_errest_synced(0x8000));
	cr_assert(ntptime_errest_synced(0xffff));
	cr_assert_not(ntptime_errest_synced(0x7fff));
	cr_assert_not(ntptime_errest_synced(0x0001));
}

Test(ntptime, errest_encode_fixed)
{
	/* 0: multiplier 1, scale 0 -- what twampd sends when unsynced */
	cr_assert_eq(ntptime_errest_encode(false, 0), 0x0001);
	cr_assert_eq(ntptime_errest_encode(true, 0), 0x8001);
	cr_assert_eq(ntptime_errest_encode(false, -7), 0x0001);
	/* 1 ns = 4.29 units -> 5 */
	cr_assert_eq(ntptime_errest_encode(false, 1), 0x0005);
	/* 1 s = 2^32 units = 128 * 2^25 */
	cr_assert_eq(ntptime_errest_encode(true, NS_PER_SEC), 0x8000 | (25 << 8) | 128);
	/* 0.5 s = 128 * 2^24 */
	cr_assert_eq(ntptime_errest_encode(false, NS_PER_SEC / 2), (24 << 8) | 128);
	/* the largest int64 error (292 years) still fits: 2^32 * 2^63 / 1e9 units */
	cr_assert_eq(ntptime_errest_encode(false, INT64_MAX), (58 << 8) | 138);
	/* never the Z bit */
	cr_assert_eq(ntptime_errest_encode(true, INT64_MAX) & NTPTIME_ERREST_Z, 0);
}

static void check_encode(int64_t err_ns)
{
	uint16_t e = ntptime_errest_encode(true, err_ns);
	uint16_t f = ntptime_errest_encode(false, err_ns);
	struct u128 need = units_needed(err_ns);
	struct u128 got = errest_units(e);
	double sec = ntptime_errest_seconds(e);
	double want = err_ns > 0 ? (double)err_ns / 1e9 : 0;

	cr_assert_eq(e & 0x7fff, f, "S bit only differs, err %lld", (long long)err_ns);
	cr_assert(e & NTPTIME_ERREST_S);
	cr_assert_not(f & NTPTIME_ERREST_S);
	cr_assert_eq(e & NTPTIME_ERREST_Z, 0);
	cr_assert_geq(e & 0xff, 1, "multiplier >= 1");
	cr_assert(u128_cmp(got, need) >= 0, "err %lld ns: %#06x below it", (long long)err_ns, e);
	cr_assert(u128_cmp(got, best_value(need)) == 0, "err %lld ns: %#06x not the smallest",
		  (long long)err_ns, e);
	/* in seconds: never optimistic, and at most about twice the error */
	cr_assert_geq(sec * (1 + 1e-15), want, "err %lld ns", (long long)err_ns);
	cr_assert_leq(sec, 2 * want + ldexp(1, -32), "err %lld ns", (long long)err_ns);
}

Test(ntptime, errest_encode_random)
{
	int i;
	int64_t e;

	for (e = 0; e < 2000; e++)
		check_encode(e);
	check_encode(INT64_MAX);
	for (e = 1; e > 0 && e < INT64_MAX / 3; e *= 3) {
		check_encode(e - 1);
		check_encode(e);
		check_encode(e + 1);
	}
	for (i = 0; i < 100000; i++) {
		/* log-uniform from 1 ns to about 100 days */
		int bits = (int)(rng() % 53);
		int64_t v = (int64_t)(rng() & ((1ULL << bits) - 1)) | ((int64_t)1 << bits);

		check_encode(v);
	}
}

Test(ntptime, clock_status)
{
	struct ntptime_clock c;

	memset(&c, 0xa5, sizeof(c));
	ntptime_clock_status(&c);
	cr_assert_geq(c.err_ns, 0);
	cr_assert_eq(c.errest, ntptime_errest_encode(c.synced, c.err_ns));
	cr_assert_eq(ntptime_errest_synced(c.errest), c.synced);
	cr_assert_geq(ntptime_errest_seconds(c.errest) * 1e9 * (1 + 1e-12), (double)c.err_ns);
	cr_log_info("clock: synced %d, err %lld ns, errest %#06x", c.synced, (long long)c.err_ns,
		    c.errest);
}

/* Step detection: a change of wall - monotonic beyond 10 ms + 500 ppm of elapsed. */
Test(ntptime, step_threshold)
{
	int64_t off = 1700000000LL * NS_PER_SEC;

	cr_expect_eq(ntptime_step_threshold(0), 10 * NS_PER_MS);
	cr_expect_eq(ntptime_step_threshold(10 * NS_PER_SEC), 15 * NS_PER_MS);
	cr_expect_eq(ntptime_step_threshold(-10 * NS_PER_SEC), 15 * NS_PER_MS);
	/* NTP's fastest slew, 500 ppm, over 10 s and over a day: never a step */
	cr_expect(!ntptime_stepped(off, off + 5 * NS_PER_MS, 10 * NS_PER_SEC));
	cr_expect(!ntptime_stepped(off, off - 43200 * NS_PER_MS, 86400 * NS_PER_SEC));
	cr_expect(!ntptime_stepped(off, off + 10 * NS_PER_MS, 0));
	/* a step of 11 ms in a short session, of an hour or a day either way */
	cr_expect(ntptime_stepped(off, off + 11 * NS_PER_MS, NS_PER_SEC / 10));
	cr_expect(ntptime_stepped(off, off - 3600 * NS_PER_SEC, 5 * NS_PER_SEC));
	cr_expect(ntptime_stepped(off, off + 3600 * NS_PER_SEC, 5 * NS_PER_SEC));
	cr_expect(ntptime_stepped(off, off + 86400 * NS_PER_SEC, 5 * NS_PER_SEC));
	/* ntpd's 128 ms step in a 100 s session */
	cr_expect(ntptime_stepped(off, off + 128 * NS_PER_MS, 100 * NS_PER_SEC));
}

Test(ntptime, mono_deadline_and_offset)
{
	int64_t m = ntptime_mono(), w = ntptime_now();
	int64_t d = ntptime_mono_deadline(w + 5 * NS_PER_SEC);
	int64_t off = ntptime_wall_offset();

	cr_expect(d >= m + 5 * NS_PER_SEC - 50 * NS_PER_MS && d <= m + 5 * NS_PER_SEC + 50 * NS_PER_MS,
		  "a wall target 5 s ahead is a monotonic deadline 5 s ahead");
	cr_expect(off > (w - m) - 50 * NS_PER_MS && off < (w - m) + 50 * NS_PER_MS);
	cr_expect(ntptime_mono() >= m);
}
