/*
 * log: levelled, rate-limited logging to stderr.
 *
 * log_msg() is thread-safe (one fprintf per line).  LOG_RL() lets a call
 * site print at most one line per interval and counts what it suppressed, so a
 * flood of bad packets never becomes a flood of log lines.
 */
#ifndef LOG_H
#define LOG_H

#include <stdatomic.h>
#include <stdint.h>

enum log_level { LOGL_ERR = 0, LOGL_WARN, LOGL_INFO, LOGL_DEBUG };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOGL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOGL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOGL_INFO, __VA_ARGS__)
#define log_debug(...)                                   \
	do {                                             \
		if (log_get_level() >= LOGL_DEBUG)       \
			log_msg(LOGL_DEBUG, __VA_ARGS__); \
	} while (0)

struct log_rl {
	_Atomic int64_t next;        /* monotonic ns before which lines are suppressed */
	_Atomic uint64_t suppressed;
};

/* The plural ending of a count's noun: "%zu problem%s", n, log_s(n) ("1 problem", "2 problems"). */
static inline const char *log_s(uint64_t n)
{
	return n == 1 ? "" : "s";
}

/* 1 when the caller may print now (and *suppressed receives the count skipped). */
int log_rl_allow(struct log_rl *rl, int64_t interval_ns, uint64_t *suppressed);

/* At most one line per `seconds` from this call site. */
#define LOG_RL(level, seconds, fmt, ...)                                               \
	do {                                                                           \
		static struct log_rl rl_;                                             \
		uint64_t sup_;                                                         \
		if (log_get_level() >= (level) &&                                      \
		    log_rl_allow(&rl_, (int64_t)(seconds) * 1000000000LL, &sup_)) {    \
			if (sup_)                                                      \
				log_msg(level, fmt " (%llu similar suppressed)",       \
					##__VA_ARGS__, (unsigned long long)sup_);      \
			else                                                           \
				log_msg(level, fmt, ##__VA_ARGS__);                    \
		}                                                                      \
	} while (0)

#endif
