/*
 * Tests for cron.c: every field type, names, ranges, steps and lists,
 * Sunday as 0 and 7, the Vixie day rule, macros, month ends and leap years,
 * the original probe's two crontabs, invalid expressions with their
 * messages, and cron_next() against a minute-by-minute reference over
 * random expressions.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cron.h"

#define NS 1000000000LL
#define MIN (60 * NS)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

/*
 * The reference goes through libc's calendar (timegm, gmtime_r), independent
 * of cron.c's own arithmetic, over 1950..2150: that needs a 64-bit time_t,
 * which the Makefile's _TIME_BITS=64 gives 32-bit glibc too.
 */
_Static_assert(sizeof(time_t) >= 8, "the reference needs a 64-bit time_t (-D_TIME_BITS=64)");

/* UTC wall time -> ns since the epoch (through libc, independent of cron.c) */
static int64_t T(int y, int mo, int d, int h, int mi)
{
	struct tm tm = { 0 };

	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	return (int64_t)timegm(&tm) * NS;
}

static void fmt_time(int64_t ns, char *buf, size_t len)
{
	struct tm tm;
	time_t t;

	if (ns == INT64_MAX) {
		snprintf(buf, len, "never");
		return;
	}
	t = (time_t)(ns / NS - (ns % NS < 0));
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static struct cron parse_ok(const char *expr)
{
	struct cron c;
	char err[256];

	cr_assert_eq(cron_parse(expr, &c, err, sizeof(err)), 0, "'%s' rejected: %s", expr, err);
	return c;
}

static void expect_next(const char *expr, int64_t after, int64_t want)
{
	struct cron c = parse_ok(expr);
	int64_t got = cron_next(&c, after);
	char a[40], g[40], w[40];

	fmt_time(after, a, sizeof(a));
	fmt_time(got, g, sizeof(g));
	fmt_time(want, w, sizeof(w));
	cr_expect_eq(got, want, "'%s' after %s: got %s, want %s", expr, a, g, w);
}

static void expect_error(const char *expr, const char *want)
{
	struct cron c;
	char err[256] = "";

	cr_expect_eq(cron_parse(expr, &c, err, sizeof(err)), -1, "'%s' accepted", expr);
	cr_expect_not_null(strstr(err, want), "'%s': error '%s' lacks '%s'", expr, err, want);
}

/* --------------------------------------------------------------- fields */

Test(cron, minute_field)
{
	struct cron c = parse_ok("5 * * * *");

	cr_expect_eq(c.minutes, 1ULL << 5);
	cr_expect_eq(c.hours, 0xffffffu);
	cr_expect_eq(c.mdays, 0xfffffffeu);
	cr_expect_eq(c.months, 0x1ffe);
	cr_expect_eq(c.wdays, 0x7f);
	cr_expect(c.mday_star);
	cr_expect(c.wday_star);
	c = parse_ok("0,59 * * * *");
	cr_expect_eq(c.minutes, (1ULL << 0) | (1ULL << 59));
}

Test(cron, hour_field)
{
	struct cron c = parse_ok("0 0,12,23 * * *");

	cr_expect_eq(c.hours, (1u << 0) | (1u << 12) | (1u << 23));
	c = parse_ok("0 9-17 * * *");
	cr_expect_eq(c.hours, 0x3fe00u);
}

Test(cron, mday_field)
{
	struct cron c = parse_ok("0 0 1,15,31 * *");

	cr_expect_eq(c.mdays, (1u << 1) | (1u << 15) | (1u << 31));
	cr_expect_not(c.mday_star);
	cr_expect(c.wday_star);
}

Test(cron, month_field_numbers_and_names)
{
	struct cron c = parse_ok("0 0 1 1,6,12 *");

	cr_expect_eq(c.months, (1u << 1) | (1u << 6) | (1u << 12));
	c = parse_ok("0 0 1 JAN,jun,Dec *");
	cr_expect_eq(c.months, (1u << 1) | (1u << 6) | (1u << 12));
	c = parse_ok("0 0 1 mar-may *");
	cr_expect_eq(c.months, (1u << 3) | (1u << 4) | (1u << 5));
	c = parse_ok("0 0 1 feb-nov/3 *");
	cr_expect_eq(c.months, (1u << 2) | (1u << 5) | (1u << 8) | (1u << 11));
}

Test(cron, wday_field_numbers_and_names)
{
	struct cron c = parse_ok("0 0 * * mon-fri");

	cr_expect_eq(c.wdays, 0x3e);
	cr_expect_not(c.wday_star);
	c = parse_ok("0 0 * * SAT,sun");
	cr_expect_eq(c.wdays, (1u << 6) | 1u);
	c = parse_ok("0 0 * * 1-5");
	cr_expect_eq(c.wdays, 0x3e);
}

Test(cron, sunday_is_0_and_7)
{
	struct cron a = parse_ok("0 0 * * 0"), b = parse_ok("0 0 * * 7");

	cr_expect_eq(a.wdays, 1u);
	cr_expect_eq(b.wdays, 1u);
	b = parse_ok("0 0 * * 5-7");
	cr_expect_eq(b.wdays, (1u << 5) | (1u << 6) | 1u);
	b = parse_ok("0 0 * * 0-7");
	cr_expect_eq(b.wdays, 0x7f);
	/* 2026-03-08 is a Sunday */
	expect_next("0 0 * * 7", T(2026, 3, 4, 12, 0), T(2026, 3, 8, 0, 0));
	expect_next("0 0 * * 0", T(2026, 3, 4, 12, 0), T(2026, 3, 8, 0, 0));
	expect_next("0 0 * * sun", T(2026, 3, 4, 12, 0), T(2026, 3, 8, 0, 0));
}

Test(cron, ranges_steps_lists)
{
	struct cron c = parse_ok("*/15 */6 */10 */4 */2");

	cr_expect_eq(c.minutes, (1ULL << 0) | (1ULL << 15) | (1ULL << 30) | (1ULL << 45));
	cr_expect_eq(c.hours, (1u << 0) | (1u << 6) | (1u << 12) | (1u << 18));
	cr_expect_eq(c.mdays, (1u << 1) | (1u << 11) | (1u << 21) | (1u << 31));
	cr_expect_eq(c.months, (1u << 1) | (1u << 5) | (1u << 9));
	cr_expect_eq(c.wdays, (1u << 0) | (1u << 2) | (1u << 4) | (1u << 6));
	c = parse_ok("10-20/5,40,50-52 * * * *");
	cr_expect_eq(c.minutes, (1ULL << 10) | (1ULL << 15) | (1ULL << 20) | (1ULL << 40) |
					(1ULL << 50) | (1ULL << 51) | (1ULL << 52));
	c = parse_ok("5/20 * * * *"); /* a/n: from a to the maximum */
	cr_expect_eq(c.minutes, (1ULL << 5) | (1ULL << 25) | (1ULL << 45));
	c = parse_ok("*/60 * * * *");
	cr_expect_eq(c.minutes, 1ULL);
	c = parse_ok("  1   2\t3 4 5  "); /* any blanks between and around */
	cr_expect_eq(c.minutes, 1ULL << 1);
	cr_expect_eq(c.wdays, 1u << 5);
}

Test(cron, vixie_day_rule)
{
	struct cron c;

	/* both restricted: the 13th OR a Friday; 2026-01-01 is a Thursday */
	expect_next("0 0 13 * fri", T(2026, 1, 1, 0, 0), T(2026, 1, 2, 0, 0));
	expect_next("0 0 13 * fri", T(2026, 1, 9, 0, 0), T(2026, 1, 13, 0, 0));
	/* only day-of-month restricted */
	expect_next("0 0 13 * *", T(2026, 1, 1, 0, 0), T(2026, 1, 13, 0, 0));
	/* only day-of-week restricted */
	expect_next("0 0 * * fri", T(2026, 1, 3, 0, 0), T(2026, 1, 9, 0, 0));
	/* a day field starting with '*' is unrestricted: AND (days 1,11,21,31 that are Mondays) */
	c = parse_ok("0 0 */10 * mon");
	cr_expect(c.mday_star);
	expect_next("0 0 */10 * mon", T(2026, 1, 1, 0, 0), T(2026, 5, 11, 0, 0));
	/* both restricted with a never-occurring day still matches on the weekday */
	expect_next("0 0 31 2 mon", T(2026, 1, 1, 0, 0), T(2026, 2, 2, 0, 0));
}

Test(cron, macros)
{
	int64_t t = T(2026, 3, 4, 12, 30); /* a Wednesday */

	expect_next("@hourly", t, T(2026, 3, 4, 13, 0));
	expect_next("@daily", t, T(2026, 3, 5, 0, 0));
	expect_next("@midnight", t, T(2026, 3, 5, 0, 0));
	expect_next("@weekly", t, T(2026, 3, 8, 0, 0));
	expect_next("@monthly", t, T(2026, 4, 1, 0, 0));
	expect_next("@yearly", t, T(2027, 1, 1, 0, 0));
	expect_next("@annually", t, T(2027, 1, 1, 0, 0));
	expect_next("  @DAILY  ", t, T(2026, 3, 5, 0, 0));
	expect_error("@reboot", "unknown macro '@reboot'");
	expect_error("@daily 5", "unexpected text after @daily");
	expect_error("@often", "unknown macro");
}

/* ---------------------------------------------------------- calendar */

Test(cron, month_end)
{
	expect_next("0 0 31 * *", T(2026, 1, 31, 0, 0), T(2026, 3, 31, 0, 0));
	expect_next("0 0 31 * *", T(2026, 3, 31, 0, 0), T(2026, 5, 31, 0, 0));
	expect_next("0 0 30 * *", T(2026, 1, 30, 0, 0), T(2026, 3, 30, 0, 0));
	expect_next("59 23 31 12 *", T(2026, 6, 1, 0, 0), T(2026, 12, 31, 23, 59));
	expect_next("0 0 1 * *", T(2026, 12, 31, 23, 59), T(2027, 1, 1, 0, 0));
}

Test(cron, leap_years)
{
	expect_next("0 0 29 2 *", T(2026, 1, 1, 0, 0), T(2028, 2, 29, 0, 0));
	expect_next("0 0 29 2 *", T(2028, 2, 29, 0, 0), T(2032, 2, 29, 0, 0));
	expect_next("0 0 29 2 *", T(2096, 3, 1, 0, 0), T(2104, 2, 29, 0, 0)); /* 2100 is no leap year */
	expect_next("0 0 29 2 *", T(1999, 1, 1, 0, 0), T(2000, 2, 29, 0, 0)); /* 2000 is one */
	expect_next("0 0 29 feb mon", T(2026, 3, 1, 0, 0), T(2027, 2, 1, 0, 0)); /* OR */
	/* AND ('*' day-of-month): days 1 and 29 of February that are Mondays */
	expect_next("0 0 */28 2 mon", T(2026, 1, 1, 0, 0), T(2027, 2, 1, 0, 0));
	expect_next("0 0 */28 2 mon", T(2027, 2, 1, 0, 0), T(2038, 2, 1, 0, 0));
	expect_next("0 12 28-29 2 *", T(2027, 2, 28, 12, 0), T(2028, 2, 28, 12, 0));
}

Test(cron, original_crontabs)
{
	struct cron probe = parse_ok("*/5 * * * *"), conf = parse_ok("1 */12 * * *");

	expect_next("*/5 * * * *", T(2026, 3, 4, 12, 3) + 27 * NS, T(2026, 3, 4, 12, 5));
	expect_next("*/5 * * * *", T(2026, 3, 4, 12, 5), T(2026, 3, 4, 12, 10)); /* strictly after */
	expect_next("*/5 * * * *", T(2026, 3, 4, 12, 5) - 1, T(2026, 3, 4, 12, 5));
	expect_next("*/5 * * * *", T(2026, 12, 31, 23, 58), T(2027, 1, 1, 0, 0));
	cr_expect_eq(cron_period(&probe, T(2026, 3, 4, 12, 3)), 5 * MIN);
	expect_next("1 */12 * * *", T(2026, 3, 10, 5, 0), T(2026, 3, 10, 12, 1));
	expect_next("1 */12 * * *", T(2026, 3, 10, 12, 1), T(2026, 3, 11, 0, 1));
	cr_expect_eq(cron_period(&conf, T(2026, 3, 10, 5, 0)), 12 * HOUR);
}

Test(cron, period)
{
	struct cron c = parse_ok("0 9 * * mon-fri");

	/* 2026-03-06 is a Friday: next Friday 09:00, then Monday 09:00 */
	cr_expect_eq(cron_period(&c, T(2026, 3, 6, 8, 0)), 3 * DAY);
	cr_expect_eq(cron_period(&c, T(2026, 3, 4, 8, 0)), DAY);
	c = parse_ok("0,10 * * * *");
	cr_expect_eq(cron_period(&c, T(2026, 3, 4, 8, 5)), 50 * MIN);
}

Test(cron, before_epoch_and_far_future)
{
	struct cron c = parse_ok("* * * * *");

	expect_next("0 0 1 1 *", T(1969, 6, 1, 0, 0), 0);
	expect_next("0 0 1 1 *", -1, 0);
	expect_next("* * * * *", -1, 0);
	expect_next("* * * * *", -MIN - 1, -MIN);
	expect_next("30 6 15 6 *", T(1901, 1, 1, 0, 0), T(1901, 6, 15, 6, 30));
	cr_expect_eq(cron_next(&c, INT64_MAX), INT64_MAX);
	cr_expect_eq(cron_next(&c, INT64_MAX - 1), INT64_MAX);
	cr_expect_eq(cron_period(&c, INT64_MAX - 30 * NS), INT64_MAX);
	/* the last whole minute representable in int64 ns is 2262-04-11T23:47 */
	expect_next("* * * * *", T(2262, 4, 11, 23, 46), T(2262, 4, 11, 23, 47));
	cr_expect_eq(cron_next(&c, T(2262, 4, 11, 23, 47)), INT64_MAX);
}

Test(cron, hand_built_never_matches_terminates)
{
	struct cron c = parse_ok("0 0 * * *");

	c.mdays = 1u << 31;
	c.months = 1u << 2; /* 31 February */
	cr_expect_eq(cron_next(&c, T(2026, 1, 1, 0, 0)), INT64_MAX);
	cr_expect_eq(cron_period(&c, 0), INT64_MAX);
	memset(&c, 0, sizeof(c));
	cr_expect_eq(cron_next(&c, 0), INT64_MAX);
}

/* ------------------------------------------------------- bad expressions */

Test(cron, invalid_expressions)
{
	expect_error("", "empty expression");
	expect_error("   ", "empty expression");
	expect_error("* * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 4");
	expect_error("* * * * * *", "got 6");
	expect_error("* * * * * /bin/probe", "got 6");
	expect_error("60 * * * *", "60 is out of range 0-59 in minute field");
	expect_error("* 24 * * *", "24 is out of range 0-23 in hour field");
	expect_error("* * 0 * *", "0 is out of range 1-31 in day-of-month field");
	expect_error("* * 32 * *", "32 is out of range 1-31 in day-of-month field");
	expect_error("* * * 0 *", "0 is out of range 1-12 in month field");
	expect_error("* * * 13 *", "13 is out of range 1-12 in month field");
	expect_error("* * * * 8", "8 is out of range 0-7 in day-of-week field");
	expect_error("*/0 * * * *", "step 0 in minute field");
	expect_error("* 1-10/0 * * *", "step 0 in hour field");
	expect_error("*/61 * * * *", "step 61 is larger than the minute field's range 0-59");
	expect_error("*/ * * * *", "step missing after '/' in minute field");
	expect_error("5-2 * * * *", "range 5-2 is backwards in minute field");
	expect_error("* * * * fri-mon", "range 5-1 is backwards in day-of-week field");
	expect_error("1,,2 * * * *", "empty list item in minute field");
	expect_error("1, * * * *", "empty list item in minute field");
	expect_error("foo * * * *", "names are not allowed in minute field");
	expect_error("* * * foo *", "unknown name 'foo' in month field");
	expect_error("* * * * monday", "unknown name 'monday' in day-of-week field");
	expect_error("* * * * jan", "unknown name 'jan' in day-of-week field");
	expect_error("1-x * * * *", "names are not allowed in minute field");
	expect_error("1- * * * *", "value missing in minute field");
	expect_error("1x * * * *", "unexpected 'x' in minute field");
	expect_error("-1 * * * *", "unexpected '-' in minute field");
	expect_error("**/5 * * * *", "unexpected '*' in minute field");
	expect_error("100000 * * * *", "number too long in minute field");
	expect_error("0 0 31 2 *", "never matches");
	expect_error("0 0 30,31 feb *", "never matches");
	expect_error("0 0 31 4,6,9,11 *", "never matches");
	expect_error("0 0 31 2 */2", "never matches"); /* '*' day-of-week: AND */
	cr_expect_eq(cron_parse(NULL, &(struct cron){ 0 }, NULL, 0), -1);
	cr_expect_eq(cron_parse("60 * * * *", &(struct cron){ 0 }, NULL, 0), -1);
}

Test(cron, error_does_not_touch_output)
{
	struct cron c = parse_ok("1 2 3 4 5"), before = c;
	char err[8]; /* too small: truncated, still terminated */

	cr_expect_eq(cron_parse("1 2 3 4 9", &c, err, sizeof(err)), -1);
	cr_expect_eq(memcmp(&c, &before, sizeof(c)), 0);
	cr_expect_eq(strlen(err), sizeof(err) - 1);
}

/* ---------------------------------------- random vs. minute-by-minute */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static int rnd(int lo, int hi) /* inclusive */
{
	return lo + (int)(rng() % (uint64_t)(hi - lo + 1));
}

static int put_value(char *p, int field, int v)
{
	static const char *const mon[] = { "jan", "feb", "mar", "apr", "may", "jun",
					   "jul", "aug", "sep", "oct", "nov", "dec" };
	static const char *const dow[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };

	if (field == 3 && rnd(0, 3) == 0)
		return sprintf(p, "%s", mon[v - 1]);
	if (field == 4 && v < 7 && rnd(0, 3) == 0)
		return sprintf(p, "%s", dow[v]);
	return sprintf(p, "%d", v);
}

/* A random field: '*', '*\/n', a value, a range with or without step, or a list. */
static int gen_field(char *p, int field)
{
	static const int lo[] = { 0, 0, 1, 1, 0 }, hi[] = { 59, 23, 31, 12, 7 };
	int n = 0, items = 1, kind = rnd(0, 9);

	if (kind <= 2)
		return sprintf(p, "*");
	if (kind == 3)
		return sprintf(p, "*/%d", rnd(1, hi[field] - lo[field] + 1));
	if (kind == 9)
		items = rnd(2, 4);
	for (int i = 0; i < items; i++) {
		int a = rnd(lo[field], hi[field]), b = rnd(a, hi[field]);

		if (i)
			p[n++] = ',';
		switch (rnd(0, 2)) {
		case 0:
			n += put_value(p + n, field, a);
			break;
		case 1:
			n += put_value(p + n, field, a);
			p[n++] = '-';
			n += put_value(p + n, field, b);
			break;
		default:
			n += put_value(p + n, field, a);
			p[n++] = '-';
			n += put_value(p + n, field, b);
			n += sprintf(p + n, "/%d", rnd(1, hi[field] - lo[field] + 1 < 10 ?
							      hi[field] - lo[field] + 1 : 10));
			break;
		}
	}
	return n;
}

static bool ref_matches(const struct cron *c, const struct tm *tm)
{
	bool md = c->mdays >> tm->tm_mday & 1, wd = c->wdays >> tm->tm_wday & 1, day;

	day = (c->mday_star || c->wday_star) ? md && wd : md || wd;
	return (c->minutes >> tm->tm_min & 1) && (c->hours >> tm->tm_hour & 1) && day &&
	       (c->months >> (tm->tm_mon + 1) & 1);
}

/* The reference: every minute after `after`, up to `horizon` minutes. */
static int64_t ref_next(const struct cron *c, int64_t after, int64_t horizon)
{
	int64_t min = after / MIN - (after % MIN < 0 ? 1 : 0) + 1;

	for (int64_t i = 0; i < horizon; i++, min++) {
		time_t t = (time_t)(min * 60);
		struct tm tm;

		gmtime_r(&t, &tm);
		if (ref_matches(c, &tm))
			return min * MIN;
		/* stay a plain minute loop, but don't call gmtime 1440 times on a non-matching day */
		if (!((c->months >> (tm.tm_mon + 1) & 1) &&
		      ((c->mday_star || c->wday_star) ?
			       (c->mdays >> tm.tm_mday & 1) && (c->wdays >> tm.tm_wday & 1) :
			       (c->mdays >> tm.tm_mday & 1) || (c->wdays >> tm.tm_wday & 1)))) {
			int skip = 1439 - (tm.tm_hour * 60 + tm.tm_min);

			i += skip;
			min += skip;
		}
	}
	return INT64_MAX;
}

Test(cron, random_against_reference)
{
	const int64_t horizon = 2 * 366 * 1440; /* two years of minutes */
	int checked = 0, rejected = 0;

	for (int k = 0; k < 400; k++) {
		char expr[256];
		int n = 0;
		struct cron c;
		char err[256];
		int64_t after;

		for (int f = 0; f < 5; f++) {
			if (f)
				expr[n++] = ' ';
			n += gen_field(expr + n, f);
		}
		expr[n] = '\0';
		if (cron_parse(expr, &c, err, sizeof(err)) < 0) {
			/* only the never-matching day/month combination may be refused */
			cr_assert_not_null(strstr(err, "never matches"), "'%s': %s", expr, err);
			rejected++;
			continue;
		}
		/* random instants 1950..2150, at any second and nanosecond */
		after = T(1950, 1, 1, 0, 0) + (int64_t)(rng() % (uint64_t)(200LL * 365 * DAY));
		for (int step = 0; step < 3; step++) {
			int64_t want = ref_next(&c, after, horizon), got = cron_next(&c, after);
			char a[40], g[40], w[40];

			fmt_time(after, a, sizeof(a));
			fmt_time(got, g, sizeof(g));
			fmt_time(want, w, sizeof(w));
			if (want == INT64_MAX) {
				cr_assert_gt(got, after + horizon * MIN, "'%s' after %s: got %s, want > 2 years",
					     expr, a, g);
				break;
			}
			cr_assert_eq(got, want, "'%s' after %s: got %s, want %s", expr, a, g, w);
			checked++;
			after = got + (int64_t)(rng() % (uint64_t)MIN); /* inside the matched minute */
		}
	}
	cr_expect_gt(checked, 500, "only %d comparisons (%d rejected)", checked, rejected);
}

/* ------------------------------------------ re-planning after a clock step */

Test(cron, replan_first_cycle_is_the_next_match)
{
	struct cron c = parse_ok("* * * * *");
	int64_t now = T(2026, 3, 1, 10, 0) + 17 * NS;

	cr_expect_eq(cron_replan(&c, now, INT64_MIN), T(2026, 3, 1, 10, 1));
}

Test(cron, replan_backward_hour_plans_from_the_new_wall_time)
{
	struct cron c = parse_ok("* * * * *");
	/* the 10:00 cycle ran; the clock stepped back an hour at 10:00:03, noticed at 09:00:04 */
	int64_t last = T(2026, 3, 1, 10, 0), after = T(2026, 3, 1, 9, 0) + 3 * NS;

	cr_expect_eq(cron_replan(&c, after, last), T(2026, 3, 1, 9, 1),
		     "the next minute of the new time, not an hour later");
	/* a five-minute schedule: its next match after the new time */
	c = parse_ok("*/5 * * * *");
	cr_expect_eq(cron_replan(&c, after, last), T(2026, 3, 1, 9, 5));
}

Test(cron, replan_forward_steps_run_the_next_match_once)
{
	struct cron c = parse_ok("* * * * *");
	int64_t last = T(2026, 3, 1, 10, 0);

	/* ran at 10:00, stepped +1 h at 10:00:03 */
	cr_expect_eq(cron_replan(&c, T(2026, 3, 1, 11, 0) + 3 * NS, last), T(2026, 3, 1, 11, 1));
	/* +1 day */
	cr_expect_eq(cron_replan(&c, T(2026, 3, 2, 10, 0) + 3 * NS, last), T(2026, 3, 2, 10, 1));
	/* a match between the last tick before the step and its noticing is due
	 * (the caller starts it at once): not skipped */
	cr_expect_eq(cron_replan(&c, T(2026, 3, 2, 9, 59) + 59 * NS + NS / 2, last),
		     T(2026, 3, 2, 10, 0));
}

Test(cron, replan_small_backward_step_never_repeats_the_match)
{
	struct cron c = parse_ok("* * * * *");
	/* the 10:00 cycle ran; the clock stepped back 2 s at 10:00:00.5 */
	int64_t last = T(2026, 3, 1, 10, 0);
	int64_t after = T(2026, 3, 1, 9, 59) + 58 * NS + NS / 2;

	cr_expect_eq(cron_replan(&c, after, last), T(2026, 3, 1, 10, 1),
		     "10:00 again 1.5 s after it ran would be two cycles at once");
	/* without a previous cycle, 10:00 is simply the next match */
	cr_expect_eq(cron_replan(&c, after, INT64_MIN), T(2026, 3, 1, 10, 0));
	/* back 90 s: 09:59 is a match not yet run in this clock's terms */
	cr_expect_eq(cron_replan(&c, T(2026, 3, 1, 9, 58) + 31 * NS, last), T(2026, 3, 1, 9, 59));
}

Test(cron, replan_never_matching)
{
	struct cron c = parse_ok("* * * * *");

	c.minutes = 0; /* hand-built: nothing matches */
	cr_expect_eq(cron_replan(&c, T(2026, 3, 1, 10, 0), INT64_MIN), INT64_MAX);
}
