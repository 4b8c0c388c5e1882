/*
 * ntptime: the one time type of twamp-client, and its conversions.
 *
 * Inside the program every timestamp (T1..T4, record times) is an int64_t
 * count of nanoseconds of CLOCK_REALTIME since the Unix epoch, every timer,
 * timeout and deadline an int64_t count of nanoseconds of CLOCK_MONOTONIC
 * (ntptime_mono()), and every duration an int64_t count of nanoseconds.  A
 * wall-clock step (NTP's first sync on a board without RTC, an operator)
 * thus never stalls nor bursts a timer; ntptime_stepped() tells a step from
 * NTP's slewing.  The NTP 32.32 format of RFC 5905 exists only at the wire edge
 * (wire.c calls the converters below).  The TWAMP error estimate (RFC 4656
 * section 4.1.2: S bit, Z bit, 6-bit scale, 8-bit multiplier) is encoded and
 * decoded here too, together with the kernel clock status it comes from.
 */
#ifndef NTPTIME_H
#define NTPTIME_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/*
 * Every conversion between the int64 ns and libc (clock_gettime, timespec,
 * gmtime_r) goes through time_t: it must have 64 bits, or the clocks read
 * EOVERFLOW and timespecs wrap on 2038-01-19T03:14:08Z.  32-bit glibc (armhf,
 * i386) gives a 64-bit time_t with -D_TIME_BITS=64 -D_FILE_OFFSET_BITS=64,
 * which the Makefile defines (see its FEATURE_DEFS comment for the library
 * ABIs that allow it).
 */
_Static_assert(sizeof(time_t) >= 8, "time_t must have 64 bits: build with -D_FILE_OFFSET_BITS=64 "
					"-D_TIME_BITS=64 (glibc 2.34 or later), as the Makefile does");

#define NS_PER_SEC 1000000000LL
#define NS_PER_MS 1000000LL
#define NS_PER_US 1000LL

/* Seconds between 1900-01-01 (NTP era 0) and 1970-01-01 (Unix epoch). */
#define NTPTIME_UNIX_OFFSET 2208988800ULL

static inline int64_t ntptime_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

/* CLOCK_MONOTONIC: the clock of every timer (one helper: no private copies). */
static inline int64_t ntptime_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

/*
 * CLOCK_REALTIME - CLOCK_MONOTONIC now: constant but for NTP's slewing, until
 * the wall clock is stepped.  Compare two readings with ntptime_stepped().
 */
static inline int64_t ntptime_wall_offset(void)
{
	int64_t m = ntptime_mono();

	return ntptime_now() - m;
}

/*
 * A wall-clock instant (a protocol time such as Request-TW-Session's Start
 * Time, a cron match) as a CLOCK_MONOTONIC deadline, converted once now.
 */
static inline int64_t ntptime_mono_deadline(int64_t wall)
{
	return ntptime_mono() + (wall - ntptime_now());
}

/*
 * Largest change of ntptime_wall_offset() over `elapsed` ns of CLOCK_MONOTONIC
 * that is not a step: 10 ms + 500 ppm of elapsed.  Linux slews CLOCK_MONOTONIC
 * together with CLOCK_REALTIME (adjtime(3), the NTP discipline of adjtimex(2)),
 * so their difference moves only when the wall clock is set (a step); the
 * 10 ms absorb a preemption between the two readings on a loaded board, and
 * the 500 ppm (the kernel's largest NTP frequency correction, MAXFREQ) are a
 * margin for a system whose clocks are not slewed alike.  ntpd steps beyond
 * 128 ms, chrony's makestep from its threshold on: such steps are caught in a
 * session of up to about 4 minutes (10 ms + 500 ppm of 236 s = 128 ms), and
 * any step of a second or more in one of up to half an hour.
 */
int64_t ntptime_step_threshold(int64_t elapsed);
/* true when the offset went from off0 to off1 over `elapsed` ns by a step */
bool ntptime_stepped(int64_t off0, int64_t off1, int64_t elapsed);

static inline int64_t ntptime_from_timespec(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * NS_PER_SEC + ts->tv_nsec;
}

static inline struct timespec ntptime_to_timespec(int64_t ns)
{
	struct timespec ts;

	ts.tv_sec = ns / NS_PER_SEC;
	ts.tv_nsec = ns % NS_PER_SEC;
	if (ts.tv_nsec < 0) {
		ts.tv_nsec += NS_PER_SEC;
		ts.tv_sec--;
	}
	return ts;
}

static inline double ntptime_to_sec(int64_t ns)
{
	return (double)ns / 1e9;
}

/*
 * Unix-epoch nanoseconds -> NTP 64-bit timestamp (seconds since 1900 modulo
 * 2^32 in the high word, binary fraction in the low word, rounded to nearest).
 */
uint64_t ntptime_to_ntp(int64_t ns);

/*
 * NTP 64-bit timestamp -> Unix-epoch nanoseconds.  The era is resolved as
 * RFC 4330 section 3 suggests: a seconds field with its top bit clear is taken
 * to lie in era 1 (from 2036-02-07T06:28:16Z on), one with it set in era 0.
 * So the result spans 1968-01-20T03:14:08Z .. 2104-02-26T09:42:23Z without
 * ambiguity, across the era 1 rollover of 2036 and the 32-bit time_t limit of
 * 2038.  A fixed pivot keeps the wire decoders pure (no clock read per
 * packet); RFC 5905 section 6's alternative, the era nearest the local clock,
 * is only needed from 2104 on.  Beyond the span a time comes back 2^32 s
 * (136 years) early: 2106-02-07T06:28:16Z, the 32-bit unsigned Unix limit,
 * has 1970's seconds field and decodes as 1970-01-01 (test_ntptime pins it).
 */
int64_t ntptime_from_ntp(uint64_t ntp);

/* Durations (Timeout of Request-TW-Session, LOSS_TIMEOUT): plain 32.32. */
uint64_t ntptime_dur_to_ntp(int64_t ns);
int64_t ntptime_dur_from_ntp(uint64_t ntp);

/* Error estimate, RFC 4656 section 4.1.2. */
#define NTPTIME_ERREST_S 0x8000
#define NTPTIME_ERREST_Z 0x4000

/* Smallest (scale, multiplier) whose value is at least err_ns (multiplier >= 1). */
uint16_t ntptime_errest_encode(bool synced, int64_t err_ns);
/* Error in seconds (a double: the finest step is 2^-32 s). */
double ntptime_errest_seconds(uint16_t errest);
static inline bool ntptime_errest_synced(uint16_t errest)
{
	return (errest & NTPTIME_ERREST_S) != 0;
}

/* Kernel clock discipline status, from ntp_adjtime(). */
struct ntptime_clock {
	bool synced;      /* STA_UNSYNC clear and not TIME_ERROR */
	int64_t err_ns;   /* estimated error (esterror) */
	uint16_t errest;  /* the same, encoded for test packets */
};

/* Never fails: an unreadable status is reported as unsynchronized. */
void ntptime_clock_status(struct ntptime_clock *out);

/* ISO 8601 UTC with milliseconds, e.g. 2026-11-27T08:03:11.696 */
void ntptime_format_iso(int64_t ns, char *buf, size_t len);

#endif
