/*
 * cron: parse five-field cron expressions and find their next match.
 *
 * A parsed expression is five bit sets, so matching a minute is five bit
 * tests.  cron_next() never walks minute by minute: it moves to the first
 * day of the next month when the month does not match, to the next day when
 * the day does not match, and finds the hour and the minute with one
 * count-trailing-zeros each.  A year therefore costs at most 12 month steps
 * plus one step per day of the matching months.
 *
 * Expressions that can never match (the day-of-month set only names days
 * that the month set's months do not have, as in "0 0 31 2 *") are rejected
 * by cron_parse().  cron_next() still bounds its search to 400 years (one
 * full Gregorian cycle, so every possible calendar has been seen) and returns
 * INT64_MAX when nothing matched, for structs built by hand.
 *
 * The day rule is Vixie cron's: a day field whose text begins with '*' counts
 * as unrestricted (so "*" and "*\/2" both do); when either day field is
 * unrestricted a day must match both, otherwise it must match either one.
 *
 * Civil-date arithmetic is done on a proleptic Gregorian day count (day 0 =
 * 1970-01-01) so no time_t or time zone is involved: cron runs in UTC.
 */
#include "cron.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define NS_PER_MIN 60000000000LL
#define CRON_FIELD_MAX 256     /* longest field text accepted */
#define CRON_SEARCH_YEARS 400  /* the Gregorian calendar repeats every 400 years */

enum { F_MIN, F_HOUR, F_MDAY, F_MON, F_WDAY, F_COUNT };

static const char *const month_names[] = { "jan", "feb", "mar", "apr", "may", "jun",
					   "jul", "aug", "sep", "oct", "nov", "dec" };
static const char *const wday_names[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };

static const struct cron_field {
	const char *name;
	int min, max;                  /* accepted values (day-of-week: 0..7) */
	const char *const *names;      /* names[i] stands for min + i */
	int nnames;
} fields[F_COUNT] = {
	[F_MIN] = { "minute", 0, 59, NULL, 0 },
	[F_HOUR] = { "hour", 0, 23, NULL, 0 },
	[F_MDAY] = { "day-of-month", 1, 31, NULL, 0 },
	[F_MON] = { "month", 1, 12, month_names, 12 },
	[F_WDAY] = { "day-of-week", 0, 7, wday_names, 7 },
};

static const struct cron_macro {
	const char *name, *expansion;
} macros[] = {
	{ "@yearly", "0 0 1 1 *" },  { "@annually", "0 0 1 1 *" }, { "@monthly", "0 0 1 * *" },
	{ "@weekly", "0 0 * * 0" },  { "@daily", "0 0 * * *" },    { "@midnight", "0 0 * * *" },
	{ "@hourly", "0 * * * *" },
};

/* ---------------------------------------------------------------- parsing */

/* A number or (where the field has names) a three-letter name at *pp. */
static int parse_value(const char **pp, const struct cron_field *f, int *out, char *err,
		       size_t errlen)
{
	const char *p = *pp;

	if (isdigit((unsigned char)*p)) {
		long v = 0;
		int ndig = 0;

		while (isdigit((unsigned char)*p)) {
			if (++ndig > 4) {
				snprintf(err, errlen, "number too long in %s field", f->name);
				return -1;
			}
			v = v * 10 + (*p++ - '0');
		}
		if (v < f->min || v > f->max) {
			snprintf(err, errlen, "%ld is out of range %d-%d in %s field", v, f->min,
				 f->max, f->name);
			return -1;
		}
		*out = (int)v;
		*pp = p;
		return 0;
	}
	if (isalpha((unsigned char)*p)) {
		size_t n = 0;

		while (isalpha((unsigned char)p[n]))
			n++;
		for (int i = 0; i < f->nnames; i++) {
			if (n == 3 && strncasecmp(p, f->names[i], 3) == 0) {
				*out = f->min + i;
				*pp = p + n;
				return 0;
			}
		}
		if (f->nnames)
			snprintf(err, errlen, "unknown name '%.*s' in %s field", (int)(n > 20 ? 20 : n),
				 p, f->name);
		else
			snprintf(err, errlen, "names are not allowed in %s field", f->name);
		return -1;
	}
	if (*p == '\0')
		snprintf(err, errlen, "value missing in %s field", f->name);
	else if (isprint((unsigned char)*p))
		snprintf(err, errlen, "unexpected '%c' in %s field", *p, f->name);
	else
		snprintf(err, errlen, "unexpected byte 0x%02x in %s field", (unsigned char)*p,
			 f->name);
	return -1;
}

/*
 * One comma-separated list item: '*', a value or a range a-b, with an optional
 * step /n.  "a/n" means a to the field's maximum in steps of n, as in cronie.
 */
static int parse_item(const char *item, const struct cron_field *f, uint64_t *bits, char *err,
		      size_t errlen)
{
	const char *p = item;
	int lo, hi, step = 1;
	int span = f->max - f->min + 1;

	if (*p == '\0') {
		snprintf(err, errlen, "empty list item in %s field", f->name);
		return -1;
	}
	if (*p == '*') {
		lo = f->min;
		hi = f->max;
		p++;
	} else {
		if (parse_value(&p, f, &lo, err, errlen) < 0)
			return -1;
		hi = lo;
		if (*p == '-') {
			p++;
			if (parse_value(&p, f, &hi, err, errlen) < 0)
				return -1;
			if (hi < lo) {
				snprintf(err, errlen, "range %d-%d is backwards in %s field", lo, hi,
					 f->name);
				return -1;
			}
		} else if (*p == '/') {
			hi = f->max;
		}
	}
	if (*p == '/') {
		long v = 0;
		int ndig = 0;

		p++;
		if (!isdigit((unsigned char)*p)) {
			snprintf(err, errlen, "step missing after '/' in %s field", f->name);
			return -1;
		}
		while (isdigit((unsigned char)*p)) {
			if (++ndig > 4) {
				snprintf(err, errlen, "step too long in %s field", f->name);
				return -1;
			}
			v = v * 10 + (*p++ - '0');
		}
		if (v == 0) {
			snprintf(err, errlen, "step 0 in %s field", f->name);
			return -1;
		}
		if (v > span) {
			snprintf(err, errlen, "step %ld is larger than the %s field's range %d-%d", v,
				 f->name, f->min, f->max);
			return -1;
		}
		step = (int)v;
	}
	if (*p != '\0') {
		if (isprint((unsigned char)*p))
			snprintf(err, errlen, "unexpected '%c' in %s field", *p, f->name);
		else
			snprintf(err, errlen, "unexpected byte 0x%02x in %s field", (unsigned char)*p,
				 f->name);
		return -1;
	}
	for (int v = lo; v <= hi; v += step)
		*bits |= 1ULL << v;
	return 0;
}

static int parse_field(const char *text, size_t len, const struct cron_field *f, uint64_t *bits,
		       char *err, size_t errlen)
{
	char buf[CRON_FIELD_MAX];
	char *item, *comma;

	if (len >= sizeof(buf)) {
		snprintf(err, errlen, "%s field is too long", f->name);
		return -1;
	}
	memcpy(buf, text, len);
	buf[len] = '\0';
	*bits = 0;
	for (item = buf;; item = comma + 1) {
		comma = strchr(item, ',');
		if (comma)
			*comma = '\0';
		if (parse_item(item, f, bits, err, errlen) < 0)
			return -1;
		if (!comma)
			return 0;
	}
}

static bool is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
	static const int dim[13] = { 0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && is_leap(y) ? 29 : dim[m];
}

/* Can the day-of-month set ever fall in one of the months (Feb 29 counts)? */
static bool mday_month_feasible(const struct cron *c)
{
	static const int maxdim[13] = { 0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	for (int m = 1; m <= 12; m++) {
		uint32_t days = (uint32_t)(((uint64_t)2 << maxdim[m]) - 2); /* bits 1..maxdim */

		if ((c->months & (1u << m)) && (c->mdays & days))
			return true;
	}
	return false;
}

int cron_parse(const char *expr, struct cron *out, char *err, size_t errlen)
{
	const char *start[F_COUNT], *p = expr;
	size_t flen[F_COUNT];
	uint64_t bits[F_COUNT];
	struct cron c;
	int n = 0;

	if (errlen && err)
		err[0] = '\0';
	if (!err) /* keep the snprintf calls below simple */
		errlen = 0;
	if (!expr) {
		snprintf(err, errlen, "no expression");
		return -1;
	}
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '@') {
		size_t len = 0;

		while (p[len] && !isspace((unsigned char)p[len]))
			len++;
		for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++) {
			if (strlen(macros[i].name) == len && strncasecmp(p, macros[i].name, len) == 0) {
				const char *rest = p + len;

				while (isspace((unsigned char)*rest))
					rest++;
				if (*rest) {
					snprintf(err, errlen, "unexpected text after %s",
						 macros[i].name);
					return -1;
				}
				return cron_parse(macros[i].expansion, out, err, errlen);
			}
		}
		snprintf(err, errlen, "unknown macro '%.*s'", (int)(len > 20 ? 20 : len), p);
		return -1;
	}
	while (*p) {
		const char *s = p;

		while (*p && !isspace((unsigned char)*p))
			p++;
		if (n < F_COUNT) {
			start[n] = s;
			flen[n] = (size_t)(p - s);
		}
		n++;
		while (isspace((unsigned char)*p))
			p++;
	}
	if (n != F_COUNT) {
		if (n == 0)
			snprintf(err, errlen, "empty expression");
		else
			snprintf(err, errlen, "expected 5 fields (minute hour day-of-month month "
					      "day-of-week), got %d", n);
		return -1;
	}
	for (int i = 0; i < F_COUNT; i++)
		if (parse_field(start[i], flen[i], &fields[i], &bits[i], err, errlen) < 0)
			return -1;

	memset(&c, 0, sizeof(c));
	c.minutes = bits[F_MIN];
	c.hours = (uint32_t)bits[F_HOUR];
	c.mdays = (uint32_t)bits[F_MDAY];
	c.months = (uint16_t)bits[F_MON];
	c.wdays = (uint8_t)((bits[F_WDAY] | (bits[F_WDAY] >> 7)) & 0x7f); /* 7 is Sunday */
	c.mday_star = start[F_MDAY][0] == '*';
	c.wday_star = start[F_WDAY][0] == '*';
	if ((c.mday_star || c.wday_star) && !mday_month_feasible(&c)) {
		snprintf(err, errlen, "never matches: no day in the day-of-month field exists "
				      "in the months of the month field");
		return -1;
	}
	*out = c;
	return 0;
}

/* ------------------------------------------------------- civil calendar */

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/*
 * Days since 1970-01-01 of y-m-d.  Counting years from March puts the leap
 * day last, so a year's day number is a fixed function of the month; eras
 * of 400 years (146097 days) carry the century rules.
 */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	if (m <= 2)
		y--;
	era = floor_div(y, 400);
	yoe = y - era * 400;                                        /* 0..399 */
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;      /* 0..365 */
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;                /* 0..146096 */
	return era * 146097 + doe - 719468;                         /* 0000-03-01 .. 1970-01-01 */
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = floor_div(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int weekday(int64_t z) /* 0 = Sunday; 1970-01-01 was a Thursday */
{
	return (int)(((z % 7) + 7 + 4) % 7);
}

/* ---------------------------------------------------------------- search */

static bool day_matches(const struct cron *c, int mday, int wday)
{
	bool md = c->mdays & (1u << mday);
	bool wd = c->wdays & (1u << wday);

	if (c->mday_star || c->wday_star)
		return md && wd;
	return md || wd;
}

int64_t cron_next(const struct cron *c, int64_t after)
{
	int64_t minute, day, y, ylimit;
	int m, d, h, mi;

	if ((c->minutes & ((1ULL << 60) - 1)) == 0 || (c->hours & 0xffffff) == 0 ||
	    (c->months & 0x1ffe) == 0 || (c->mdays & 0xfffffffe) == 0 || (c->wdays & 0x7f) == 0)
		return INT64_MAX;
	if (after > INT64_MAX - NS_PER_MIN)
		return INT64_MAX;
	minute = floor_div(after, NS_PER_MIN) + 1; /* strictly after */
	day = floor_div(minute, 1440);
	h = (int)((minute - day * 1440) / 60);
	mi = (int)((minute - day * 1440) % 60);
	civil_from_days(day, &y, &m, &d);
	ylimit = y + CRON_SEARCH_YEARS;

	while (y <= ylimit) {
		uint32_t hb;
		uint64_t mb;

		if (!(c->months & (1u << m)) || d > days_in_month(y, m)) {
			if (++m > 12) {
				m = 1;
				y++;
			}
			d = 1;
			h = mi = 0;
			continue;
		}
		day = days_from_civil(y, m, d);
		if (!day_matches(c, d, weekday(day))) {
			d++;
			h = mi = 0;
			continue;
		}
		hb = c->hours & 0xffffff & (~0u << h);
		if (!hb) {
			d++;
			h = mi = 0;
			continue;
		}
		if (__builtin_ctz(hb) != h) {
			h = __builtin_ctz(hb);
			mi = 0;
		}
		mb = c->minutes & ((1ULL << 60) - 1) & (~0ULL << mi);
		if (!mb) {
			mi = 0;
			if (++h > 23) {
				h = 0;
				d++;
			}
			continue;
		}
		mi = __builtin_ctzll(mb);
		minute = (day * 24 + h) * 60 + mi;
		if (minute > INT64_MAX / NS_PER_MIN)
			return INT64_MAX;
		return minute * NS_PER_MIN;
	}
	return INT64_MAX;
}

int64_t cron_period(const struct cron *c, int64_t after)
{
	int64_t a = cron_next(c, after), b;

	if (a == INT64_MAX)
		return INT64_MAX;
	b = cron_next(c, a);
	if (b == INT64_MAX)
		return INT64_MAX;
	return b - a;
}

int64_t cron_replan(const struct cron *c, int64_t after, int64_t last)
{
	int64_t m = cron_next(c, after);

	if (m == last && m != INT64_MAX)
		m = cron_next(c, m);  /* a small backward step: that match has run */
	return m;
}
