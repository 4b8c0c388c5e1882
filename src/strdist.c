/* strdist: edit distance for "did you mean" hints (see include/strdist.h). */
#include "strdist.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>

size_t strdist(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[STRDIST_MAX_LEN + 1];

	if (la > STRDIST_MAX_LEN || lb > STRDIST_MAX_LEN)
		return SIZE_MAX;
	/* one row of the dynamic-programming table: row[j] = distance(a[0..i), b[0..j)) */
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t sub = diag + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
			size_t best = up + 1 < row[j - 1] + 1 ? up + 1 : row[j - 1] + 1;

			row[j] = sub < best ? sub : best;
			diag = up;
		}
	}
	return row[lb];
}

const char *strdist_closest(const char *word, const char *const *cand, size_t n)
{
	size_t len = strlen(word), limit = len / 3 > 2 ? len / 3 : 2, best = SIZE_MAX;
	const char *pick = NULL;

	for (size_t i = 0; i < n; i++) {
		size_t d = strdist(word, cand[i]);

		if (d < best) {
			best = d;
			pick = cand[i];
		}
	}
	return best <= limit ? pick : NULL;
}
