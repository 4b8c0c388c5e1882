/*
 * testhex: hex strings in tests (known-answer values, capture excerpts).
 * Header-only, for Criterion tests: a malformed string fails the test.
 */
#ifndef TESTHEX_H
#define TESTHEX_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>

/* Hex digits (spaces ignored) into out, at most cap octets; returns the count. */
static inline size_t hex2bin(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;

	while (*hex && n < cap) {
		unsigned v;

		if (*hex == ' ') {
			hex++;
			continue;
		}
		cr_assert(hex[1], "odd hex string");
		cr_assert_eq(sscanf(hex, "%2x", &v), 1, "bad hex '%s'", hex);
		out[n++] = (uint8_t)v;
		hex += 2;
	}
	return n;
}

/* Exactly n octets. */
static inline void hex2bin_exact(const char *hex, uint8_t *out, size_t n)
{
	cr_assert_eq(hex2bin(hex, out, n), n, "'%s' is not %zu octets", hex, n);
}

/* got[0..len) equals the octets of hex; what names them in the message. */
static inline void assert_hex(const uint8_t *got, size_t len, const char *hex, const char *what)
{
	uint8_t want[512];
	size_t n = hex2bin(hex, want, sizeof(want));

	cr_assert_eq(n, len, "%s: expected %zu octets, compare %zu", what, n, len);
	cr_assert_arr_eq(got, want, len, "%s differs from %s", what, hex);
}

#endif
