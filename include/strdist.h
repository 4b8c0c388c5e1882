/*
 * strdist: how far apart two short strings are, for "did you mean" hints
 * (a misspelt configuration key such as "Intervall").  Pure.
 */
#ifndef STRDIST_H
#define STRDIST_H

#include <stddef.h>

/*
 * Levenshtein distance (insertions, deletions, substitutions of one byte
 * each), ASCII letters compared without case.  Strings longer than
 * STRDIST_MAX_LEN count as SIZE_MAX away from everything.
 */
#define STRDIST_MAX_LEN 64
size_t strdist(const char *a, const char *b);

/*
 * The candidate nearest to word, when it is near enough to be a slip: at
 * most 2 edits, or a third of word's length for longer words; ties go to
 * the first.  NULL when none is (or n is 0).
 */
const char *strdist_closest(const char *word, const char *const *cand, size_t n);

#endif
