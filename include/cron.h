/*
 * cron: five-field cron expressions (minute hour day-of-month month
 * day-of-week) for the probe and config cycles, as in crontab(5): numbers,
 * ranges a-b, steps *\/n and a-b/n (and a/n = a to the field's maximum),
 * lists, names of months and days (jan, mon; three letters, any case),
 * day-of-week 0 or 7 = Sunday, and the Vixie rule for the two day fields: a
 * day field whose text begins with '*' is unrestricted; when either one is
 * unrestricted a day must match both, when both are restricted a day
 * matching either one matches.  The macros @hourly @daily @midnight @weekly
 * @monthly @yearly @annually are accepted (@reboot is not).  Times are
 * computed in UTC (the container's time zone).  Pure functions.
 */
#ifndef CRON_H
#define CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cron {
	uint64_t minutes;   /* bit m: minute m matches (0..59) */
	uint32_t hours;     /* 0..23 */
	uint32_t mdays;     /* bit d: day of month d (1..31) */
	uint16_t months;    /* bit m: month m (1..12) */
	uint8_t wdays;      /* bit d: weekday d (0 = Sunday .. 6) */
	bool mday_star, wday_star;
};

/*
 * 0, or -1 with a one-line reason naming the bad field in err (err may be
 * NULL).  Expressions that can never match ("0 0 31 2 *") are rejected.
 */
int cron_parse(const char *expr, struct cron *out, char *err, size_t errlen);
/*
 * First matching minute strictly after `after` (ns since the Unix epoch), ns.
 * INT64_MAX when nothing matches within 400 years (only for hand-built
 * structs: cron_parse() rejects such expressions).
 */
int64_t cron_next(const struct cron *c, int64_t after);
/*
 * The period between consecutive matches following `after` (for spreading
 * starts): cron_next(next) - next where next = cron_next(after).  INT64_MAX
 * when there are not two matches.
 */
int64_t cron_period(const struct cron *c, int64_t after);

/*
 * The next cycle's wall-clock time, also after the wall clock stepped: the
 * first match strictly after `after` (the wall time from which to plan: the
 * match just run, or the last moment before a step was noticed, in the new
 * clock's terms) other than `last`, the match the previous cycle ran for
 * (INT64_MIN: none).  So a backward step of an hour plans the match that
 * follows the new wall time (no hour-long stall), and a backward step of a
 * few seconds just after a cycle does not run that same match again a few
 * seconds later.  A result <= the present wall time (a match between the
 * last moment before the step and its noticing) is due at once; the matches
 * a forward step jumps over are not run (never a burst).
 */
int64_t cron_replan(const struct cron *c, int64_t after, int64_t last);

#endif
