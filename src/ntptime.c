/*
 * ntptime: conversions between the internal time type (int64 ns, Unix epoch)
 * and NTP 32.32, the TWAMP error estimate, and the kernel clock status.
 */
#include "ntptime.h"

#include <math.h>
#include <stdio.h>
#include <sys/timex.h>

uint64_t ntptime_to_ntp(int64_t ns)
{
	int64_t sec = ns / NS_PER_SEC;
	int64_t rem = ns % NS_PER_SEC;
	uint64_t frac;

	if (rem < 0) {
		rem += NS_PER_SEC;
		sec--;
	}
	/* round(rem * 2^32 / 1e9); rem < 1e9 so the product fits in 64 bits */
	frac = (((uint64_t)rem << 32) + NS_PER_SEC / 2) / NS_PER_SEC;
	if (frac >> 32) { /* rounded up to a whole second */
		frac = 0;
		sec++;
	}
	return ((uint64_t)(uint32_t)(sec + (int64_t)NTPTIME_UNIX_OFFSET) << 32) | frac;
}

int64_t ntptime_from_ntp(uint64_t ntp)
{
	uint32_t sec32 = (uint32_t)(ntp >> 32);
	uint64_t frac = ntp & 0xffffffffULL;
	int64_t sec = sec32;
	int64_t ns;

	if (!(sec32 & 0x80000000U))
		sec += 1LL << 32; /* era 1 */
	sec -= (int64_t)NTPTIME_UNIX_OFFSET;
	ns = (int64_t)((frac * NS_PER_SEC + (1ULL << 31)) >> 32);
	/*
	 * The last second of the span (0x7fffffff of era 1) must not round up
	 * into the next one: that time encodes as 0x80000000, i.e. 1968, so a
	 * timestamp echoed back would jump 136 years (found by fuzz_wire_test).
	 */
	if (sec32 == 0x7fffffffU && ns == NS_PER_SEC)
		ns = NS_PER_SEC - 1;
	return sec * NS_PER_SEC + ns;
}

uint64_t ntptime_dur_to_ntp(int64_t ns)
{
	uint64_t sec, frac;

	if (ns <= 0)
		return 0;
	sec = (uint64_t)(ns / NS_PER_SEC);
	frac = ((((uint64_t)(ns % NS_PER_SEC)) << 32) + NS_PER_SEC / 2) / NS_PER_SEC;
	if (frac >> 32) {
		frac = 0;
		sec++;
	}
	if (sec > 0xffffffffULL)
		return UINT64_MAX;
	return (sec << 32) | frac;
}

int64_t ntptime_dur_from_ntp(uint64_t ntp)
{
	uint64_t sec = ntp >> 32;
	uint64_t frac = ntp & 0xffffffffULL;

	return (int64_t)sec * NS_PER_SEC + (int64_t)((frac * NS_PER_SEC + (1ULL << 31)) >> 32);
}

uint16_t ntptime_errest_encode(bool synced, int64_t err_ns)
{
	/* err in units of 2^-32 s, rounded up so the estimate is never optimistic */
	long double units = ceill((long double)(err_ns > 0 ? err_ns : 0) * 4294967296.0L / 1e9L);
	unsigned scale = 0;
	uint64_t mult;

	if (units < 1)
		units = 1;
	while (scale < 63 && units > 255.0L) {
		units = ceill(units / 2);
		scale++;
	}
	mult = units > 255.0L ? 255 : (uint64_t)units;
	return (uint16_t)((synced ? NTPTIME_ERREST_S : 0) | (scale << 8) | mult);
}

double ntptime_errest_seconds(uint16_t errest)
{
	unsigned scale = (errest >> 8) & 0x3f;
	unsigned mult = errest & 0xff;

	return ldexp((double)mult, (int)scale - 32);
}

void ntptime_clock_status(struct ntptime_clock *out)
{
	struct timex tx = { 0 };
	int state = ntp_adjtime(&tx);

	if (state < 0) {
		out->synced = false;
		out->err_ns = NS_PER_SEC; /* unknown: say one second */
	} else {
		out->synced = state != TIME_ERROR && !(tx.status & STA_UNSYNC);
		out->err_ns = (int64_t)tx.esterror * NS_PER_US;
	}
	out->errest = ntptime_errest_encode(out->synced, out->err_ns);
}

void ntptime_format_iso(int64_t ns, char *buf, size_t len)
{
	struct timespec ts = ntptime_to_timespec(ns);
	struct tm tm;
	char tmp[32];

	/* neither fails for the years an int64_t of nanoseconds reaches; tmp is
	 * still never read unset */
	if (!gmtime_r(&ts.tv_sec, &tm) || !strftime(tmp, sizeof(tmp), "%Y-%m-%dT%H:%M:%S", &tm))
		snprintf(tmp, sizeof(tmp), "@%lld", (long long)ts.tv_sec);
	snprintf(buf, len, "%s.%03ld", tmp, ts.tv_nsec / 1000000);
}

int64_t ntptime_step_threshold(int64_t elapsed)
{
	if (elapsed < 0)
		elapsed = -elapsed;
	/* 500 ppm = elapsed / 2000; no overflow for any elapsed below 2^62 */
	return 10 * NS_PER_MS + elapsed / 2000;
}

bool ntptime_stepped(int64_t off0, int64_t off1, int64_t elapsed)
{
	int64_t d = off1 - off0;

	if (d < 0)
		d = -d;
	return d > ntptime_step_threshold(elapsed);
}
