/*
 * fuzz_cron: cron expressions (src/sched/cron.c), as read from the Schedule
 * and ConfigSchedule keys of the central configuration.
 *
 * Input: octet 0 picks the error buffer size, octets 1..8 a start time, the
 * rest is the expression.  Every accepted expression must give a next match
 * that lies after the start, on a whole minute, and that the expression
 * really matches (checked against gmtime, with the Vixie day rule); the
 * period to the match after it is at least a minute.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cron.h"
#include "fuzz.h"

#define NS_PER_MIN 60000000000LL
/* starts between 1970 and about 2200 */
#define START_SPAN (230LL * 366 * 24 * 3600 * 1000000000LL)

static void check_match(const struct cron *c, int64_t t)
{
	time_t secs = (time_t)(t / 1000000000LL);
	struct tm tm;
	bool mday, wday, day;

	if (t % NS_PER_MIN) {
		fprintf(stderr, "cron_next gave %lld, not a whole minute\n", (long long)t);
		abort();
	}
	gmtime_r(&secs, &tm);
	mday = c->mdays >> tm.tm_mday & 1;
	wday = c->wdays >> tm.tm_wday & 1;
	day = c->mday_star || c->wday_star ? mday && wday : mday || wday;
	if (!(c->minutes >> tm.tm_min & 1) || !(c->hours >> tm.tm_hour & 1) ||
	    !(c->months >> (tm.tm_mon + 1) & 1) || !day) {
		fprintf(stderr, "cron_next gave %lld, which the expression does not match\n",
			(long long)t);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	size_t errlen = 1 + fz_u8(&f, 0) % 128;
	const uint8_t *tb = fz_take(&f, 8);
	uint64_t raw = 0;
	int64_t start, next, period;
	char *expr, err[128];
	struct cron c;

	if (!tb)
		return 0;
	for (int i = 0; i < 8; i++)
		raw = raw << 8 | tb[i];
	start = (int64_t)(raw % (uint64_t)START_SPAN);
	expr = malloc(f.n + 1);
	if (!expr)
		return 0;
	memcpy(expr, f.p, f.n);
	expr[f.n] = 0;
	memset(err, 'x', sizeof(err));
	if (cron_parse(expr, &c, err, errlen) < 0) {
		if (!memchr(err, 0, errlen)) {
			fprintf(stderr, "cron_parse left its error message unterminated\n");
			abort();
		}
		free(expr);
		return 0;
	}
	free(expr);
	next = cron_next(&c, start);
	if (next == INT64_MAX || next <= start) {
		fprintf(stderr, "cron_next(%lld) = %lld for an accepted expression\n",
			(long long)start, (long long)next);
		abort();
	}
	check_match(&c, next);
	period = cron_period(&c, start);
	if (period < NS_PER_MIN) {
		fprintf(stderr, "cron_period = %lld\n", (long long)period);
		abort();
	}
	check_match(&c, next + period);
	return 0;
}
