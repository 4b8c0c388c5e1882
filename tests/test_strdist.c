/* strdist: edit distances and the "did you mean" pick. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strdist.h"

Test(strdist, known_distances)
{
	cr_assert_eq(strdist("", ""), 0);
	cr_assert_eq(strdist("Interval", "Interval"), 0);
	cr_assert_eq(strdist("Intervall", "Interval"), 1);
	cr_assert_eq(strdist("interval", "Interval"), 0, "case is not a difference");
	cr_assert_eq(strdist("kitten", "sitting"), 3);
	cr_assert_eq(strdist("", "abc"), 3);
	cr_assert_eq(strdist("abc", ""), 3);
	cr_assert_eq(strdist("PacketCuont", "PacketCount"), 2);
	cr_assert_eq(strdist("flaw", "lawn"), 2);
}

Test(strdist, too_long)
{
	char big[STRDIST_MAX_LEN + 2];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	cr_assert_eq(strdist(big, "a"), SIZE_MAX);
	big[STRDIST_MAX_LEN] = 0;
	cr_assert_eq(strdist(big, big), 0);
}

/* symmetric, bounded by the longer length, zero only for equal strings, and the
 * triangle inequality: checked on random short strings over a small alphabet */
Test(strdist, random_properties)
{
	unsigned seed = 7;

	for (int k = 0; k < 2000; k++) {
		char s[3][9];

		for (int w = 0; w < 3; w++) {
			int n = rand_r(&seed) % 9;

			for (int i = 0; i < n; i++)
				s[w][i] = "abC"[rand_r(&seed) % 3];
			s[w][n] = 0;
		}
		size_t ab = strdist(s[0], s[1]), ba = strdist(s[1], s[0]);
		size_t bc = strdist(s[1], s[2]), ac = strdist(s[0], s[2]);
		size_t la = strlen(s[0]), lb = strlen(s[1]);

		cr_assert_eq(ab, ba, "%s %s", s[0], s[1]);
		cr_assert_leq(ab, la > lb ? la : lb);
		cr_assert_geq(ab, la > lb ? la - lb : lb - la);
		cr_assert_eq(ab == 0, strcasecmp(s[0], s[1]) == 0, "%s %s", s[0], s[1]);
		cr_assert_leq(ac, ab + bc, "%s %s %s", s[0], s[1], s[2]);
	}
}

Test(strdist, closest)
{
	static const char *const keys[] = { "IP", "DSCP", "Port", "Mode", "PacketCount", "Interval", "Padding" };
	size_t n = sizeof(keys) / sizeof(keys[0]);

	cr_assert_str_eq(strdist_closest("Intervall", keys, n), "Interval");
	cr_assert_str_eq(strdist_closest("packetcount", keys, n), "PacketCount");
	cr_assert_str_eq(strdist_closest("Prot", keys, n), "Port");
	cr_assert_str_eq(strdist_closest("Pading", keys, n), "Padding");
	cr_assert_null(strdist_closest("Frobnicate", keys, n), "nothing near");
	cr_assert_null(strdist_closest("x", keys, 0));
}
