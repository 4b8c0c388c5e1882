/*
 * log: stderr logging with a level and per-call-site rate limits.
 */
#include "log.h"
#include "ntptime.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static _Atomic int log_level = LOGL_INFO;

void log_set_level(enum log_level level)
{
	atomic_store_explicit(&log_level, (int)level, memory_order_relaxed);
}

enum log_level log_get_level(void)
{
	return (enum log_level)atomic_load_explicit(&log_level, memory_order_relaxed);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	char line[1024];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n;

	if ((int)level > atomic_load_explicit(&log_level, memory_order_relaxed))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ twamp-client %s: ",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		     tm.tm_sec, ts.tv_nsec / 1000000, names[level]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", line);
}

int log_rl_allow(struct log_rl *rl, int64_t interval_ns, uint64_t *suppressed)
{
	int64_t now = ntptime_mono(), next;

	next = atomic_load_explicit(&rl->next, memory_order_relaxed);
	if (now < next ||
	    !atomic_compare_exchange_strong_explicit(&rl->next, &next, now + interval_ns,
						     memory_order_relaxed, memory_order_relaxed)) {
		atomic_fetch_add_explicit(&rl->suppressed, 1, memory_order_relaxed);
		return 0;
	}
	*suppressed = atomic_exchange_explicit(&rl->suppressed, 0, memory_order_relaxed);
	return 1;
}
